// Package enginetest opens each storage engine for the tests that run once
// per engine, above the store (the API, the messaging service), so that
// they all run on the same engines, opened the same way.
package enginetest

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// Engine is a storage engine a test runs on.
type Engine struct {
	Name string
	// Open returns a new, empty store of the engine; the test closes it.
	// PostgreSQL's skips the test without a server (pgtest.URL).
	Open func(t testing.TB) herald.Store
}

// Engines lists the engines every test above the store runs on.
var Engines = []Engine{
	{"sqlite", func(t testing.TB) herald.Store {
		s, err := sqlite.Open(context.Background(), SQLitePath(t), sqlite.Options{Keyring: storetest.Keyring})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t testing.TB) herald.Store {
		s, err := postgres.Open(context.Background(), PostgresURL(t), postgres.Options{MaxConns: 8, Keyring: storetest.Keyring})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// PostgresURL returns the URL of a new PostgreSQL database of the test's
// own, already migrated (see pgtest.TemplateURL); it skips the test (fails
// it under CI) when no server is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return pgtest.TemplateURL(t, func(ctx context.Context, url string) error {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return err
		}
		defer db.Close()
		return postgres.Migrate(ctx, db)
	})
}

// sqliteTemplate is an SQLite database migrated once per process, whose
// files each test copies: under the race detector, migrating takes SQLite
// most of a second, copying a few milliseconds.
var sqliteTemplate struct {
	once  sync.Once
	files map[string][]byte // by suffix of the database's path
	err   error
}

// SQLitePath returns the path of a new SQLite database, in a directory of
// the test's own, already migrated; Open opens it with sqlite.Open.
func SQLitePath(t testing.TB) string {
	t.Helper()
	sqliteTemplate.once.Do(func() { sqliteTemplate.files, sqliteTemplate.err = makeSQLiteTemplate() })
	if sqliteTemplate.err != nil {
		t.Fatalf("making the template database: %v", sqliteTemplate.err)
	}
	path := filepath.Join(t.TempDir(), "herald.db")
	for suffix, b := range sqliteTemplate.files {
		if err := os.WriteFile(path+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// makeSQLiteTemplate migrates a database, closes it and reads its files:
// the database and, should closing have left one, its write-ahead log.
// The shared-memory index is rebuilt by whoever opens the copy.
func makeSQLiteTemplate() (map[string][]byte, error) {
	dir, err := os.MkdirTemp("", "herald-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "herald.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{Keyring: storetest.Keyring})
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return nil, err
		}
		files[suffix] = b
	}
	return files, nil
}
