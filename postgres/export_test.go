package postgres

import (
	"context"
	"database/sql"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// MigrateForTest brings the new database at url to schema version, and no
// further, as an older Herald would have left it.
func MigrateForTest(url string, version int64) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err == nil {
		var p *goose.Provider
		if p, err = goose.NewProvider(goose.DialectPostgres, db, sub); err == nil {
			_, err = p.UpTo(context.Background(), version)
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Channel is the channel on which s notifies the other nodes.
func (s *Store) Channel() string { return s.n.channel }
