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
	LimitsByValue:     true,
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
	// The apps and webhooks capped at 0 are skipped as the due index is
	// read, so that their backlog does not fill the claim's LIMIT. Of the
	// LIMIT earliest others, each webhook's earliest up to its cap are
	// kept, then of those each app's earliest up to its own; the rest are
	// left for a later claim.
	ClaimDeliveriesCapped: `UPDATE deliveries SET lease_until = ?1, next_attempt_at = ?1, lease_owner = ?4
		WHERE id IN (
			SELECT a.id FROM (
				SELECT w.id, w.app_id,
					ROW_NUMBER() OVER (PARTITION BY w.app_id ORDER BY w.next_attempt_at, w.id) AS app_rank
				FROM (
					SELECT d.id, d.app_id, d.next_attempt_at,
						ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS webhook_rank,
						COALESCE((SELECT value FROM json_each(?6) WHERE key = d.webhook_id), ?8) AS webhook_cap
					FROM (SELECT d.id, d.app_id, d.webhook_id, d.next_attempt_at FROM deliveries d
						JOIN webhooks w ON w.id = d.webhook_id
						WHERE d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= ?2 AND w.status = 'active'
						AND d.app_id NOT IN (SELECT key FROM json_each(?5) WHERE value <= 0)
						AND d.webhook_id NOT IN (SELECT key FROM json_each(?6) WHERE value <= 0)
						ORDER BY d.next_attempt_at
						LIMIT ?3) AS d) AS w
				WHERE w.webhook_rank <= w.webhook_cap) AS a
			WHERE a.app_rank <= COALESCE((SELECT value FROM json_each(?5) WHERE key = a.app_id), ?7))
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
