package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// Connectors' secrets are sealed in the database file.
func TestConnectorSecretsAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	storetest.ConnectorSecretsAtRest(t, func(t *testing.T, k *keyring.Keyring) (herald.Store, error) {
		return sqlite.Open(context.Background(), path, sqlite.Options{Keyring: k})
	}, func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
