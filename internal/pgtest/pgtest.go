// Package pgtest gives tests a fresh, empty PostgreSQL schema of their own
// on the server named by HERALD_TEST_POSTGRES (scripts/test starts one).
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvVar names the server's URL.
const EnvVar = "HERALD_TEST_POSTGRES"

var counter atomic.Int64

// Available reports whether a server is configured. Without one, tests on
// PostgreSQL skip, except under CI, where they fail: there, a missing
// server is a broken setup, not a reason to test less.
func Available(t testing.TB) bool {
	t.Helper()
	if os.Getenv(EnvVar) != "" {
		return true
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: the PostgreSQL tests cannot run (scripts/test starts a server)", EnvVar)
	}
	return false
}

// URL returns the URL of a new empty schema, dropped when the test ends; it
// skips the test (fails it under CI) when no server is configured.
func URL(t testing.TB) string {
	t.Helper()
	if !Available(t) {
		t.Skipf("%s is not set; skipping the PostgreSQL engine (scripts/test starts a server)", EnvVar)
	}
	base := os.Getenv(EnvVar)
	schema := fmt.Sprintf("t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, counter.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("creating a test schema on %s: %v", EnvVar, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query()
	v.Set("search_path", schema)
	u.RawQuery = v.Encode()
	return u.String()
}
