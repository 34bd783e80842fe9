// Package enginetest opens each storage engine for the tests that run once
// per engine, above the store (the API, the messaging service), so that
// they all run on the same engines, opened the same way.
package enginetest

import (
	"context"
	"path/filepath"
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
	Open func(t *testing.T) herald.Store
}

// Engines lists the engines every test above the store runs on.
var Engines = []Engine{
	{"sqlite", func(t *testing.T) herald.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{Keyring: storetest.Keyring})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t *testing.T) herald.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{MaxConns: 8, Keyring: storetest.Keyring})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}
