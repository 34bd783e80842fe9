package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

// SetSchemaVersionForTest records a migration of the given version, as a
// newer Herald would have.
func SetSchemaVersionForTest(path string, version int64) error {
	db, err := sql.Open("sqlite", dsn(path, nil, ""))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, version)
	return err
}

// MigrateForTest brings a new database at path to schema version, and no
// further, as an older Herald would have left it.
func MigrateForTest(path string, version int64) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, nil, ""))
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err == nil {
		err = upTo(db, goose.DialectSQLite3, sub, version)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func upTo(db *sql.DB, dialect goose.Dialect, fsys fs.FS, version int64) error {
	p, err := goose.NewProvider(dialect, db, fsys)
	if err != nil {
		return err
	}
	_, err = p.UpTo(context.Background(), version)
	return err
}

// QueuedForTest returns the queue of updates waiting for the writer.
func (s *Store) QueuedForTest() chan *writeRequest { return s.requests }

// RecentKept is how many of the newest events the store keeps in memory at
// least.
const RecentKept = recentKept

// WithCheckpointPacingForTest returns o with the given checkpoint pacing
// (see defaultPacing).
func WithCheckpointPacingForTest(o Options, interval time.Duration, restartFrames, maxFrames int) Options {
	o.pacing = &checkpointPacing{interval: interval, restartFrames: restartFrames, maxFrames: maxFrames}
	return o
}
