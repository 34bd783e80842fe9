package sqlite

import (
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlstore"
)

// dialect is SQLite's SQL. Its single writer serializes every write
// transaction, so no read needs a lock.
var dialect = &sqlstore.Dialect{
	JSONArray:         "json_each(?)",
	Blob:              "BLOB",
	JSONObject:        "json_each(?)",
	IsUniqueViolation: isUniqueViolation,
	CostlyReturning:   true,
	HeldIndex:         true,
	// A leased delivery's next attempt moves to the end of its lease, so
	// that what is in flight drops out of the due index, and comes back by
	// itself if its worker dies.
	ClaimDeliveries: `UPDATE deliveries SET lease_until = ?1, next_attempt_at = ?1, lease_owner = ?4
		WHERE id IN (
			SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= ?2 AND w.status = 'active'
			ORDER BY d.next_attempt_at
			LIMIT ?3)
		RETURNING `,
}

// storageError marks SQLite's "database or disk is full" (SQLITE_FULL, also
// what a full disk gives) as herald.ErrStorageFull.
func storageError(err error) error {
	var e *msqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", herald.ErrStorageFull, err)
	}
	return err
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate in a
// unique index (not a primary key).
func isUniqueViolation(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
