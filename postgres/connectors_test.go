package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// Connectors' secrets are sealed in the database.
func TestConnectorSecretsAtRest(t *testing.T) {
	url := pgtest.URL(t)
	storetest.ConnectorSecretsAtRest(t, func(t *testing.T, k *keyring.Keyring) (herald.Store, error) {
		return postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4, Keyring: k})
	}, func(t *testing.T) *sql.DB {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
