// Package pgtest gives tests a fresh, empty PostgreSQL schema of their own
// on the server named by HERALD_TEST_POSTGRES (scripts/test starts one).
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
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

// template holds, per process, the database that TemplateURL copies: a
// test process has no end to drop it at, so each process makes its own
// and the next ones drop those left for longer than staleTemplate.
var template struct {
	once sync.Once
	name string
	// strategy is how CREATE DATABASE copies it.
	strategy string
	err      error
}

// staleTemplate is the age after which a template database is taken for
// one whose process has ended: no test process runs that long (go test's
// default timeout is 10 minutes, scripts/test's 15).
const staleTemplate = time.Hour

const templatePrefix = "herald_template_"

// TemplateURL returns the URL of a new database of its own, dropped when
// the test ends, holding what migrate put into an empty database. migrate
// runs once per process, on a template database that each test's database
// is a copy of: copying takes PostgreSQL a few tens of milliseconds where
// migrating takes hundreds, and a database of its own spares the test the
// waits on locks that the databases' tests would otherwise share (advisory
// locks, such as the one migrations take, are per database). migrate must
// be the same function on every call.
func TemplateURL(t testing.TB, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	if !Available(t) {
		t.Skipf("%s is not set; skipping the PostgreSQL engine (scripts/test starts a server)", EnvVar)
	}
	base := os.Getenv(EnvVar)
	template.once.Do(func() { template.name, template.strategy, template.err = makeTemplate(base, migrate) })
	if template.err != nil {
		t.Fatalf("making the template database on %s: %v", EnvVar, template.err)
	}
	name := fmt.Sprintf("t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, counter.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + template.name + template.strategy); err != nil {
		t.Fatalf("creating a test database on %s: %v", EnvVar, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		// FORCE: a connection the test leaves open is no reason to leave
		// its database behind.
		admin.ExecContext(context.Background(), `DROP DATABASE `+name+` WITH (FORCE)`)
	})
	u, err := databaseURL(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// makeTemplate creates and migrates this process's template database,
// drops the stale ones of earlier processes, and chooses the strategy of
// the copies.
func makeTemplate(base string, migrate func(ctx context.Context, url string) error) (name, strategy string, err error) {
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", "", err
	}
	defer admin.Close()
	dropStaleTemplates(ctx, admin)
	// PostgreSQL 15 copies a database through its write-ahead log by
	// default, every page of the catalogs logged: copying the files
	// after a checkpoint (FILE_COPY, the only way before 15) takes a
	// fraction of the time on the tests' small databases.
	var version int
	if err := admin.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return "", "", err
	}
	if version >= 150000 {
		strategy = ` STRATEGY FILE_COPY`
	}
	name = fmt.Sprintf("%s%d_%d", templatePrefix, time.Now().Unix(), os.Getpid())
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", "", err
	}
	u, err := databaseURL(base, name)
	if err == nil {
		err = migrate(ctx, u)
	}
	if err != nil {
		admin.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`)
		return "", "", err
	}
	return name, strategy, nil
}

// dropStaleTemplates drops the template databases older than
// staleTemplate, which named their time of creation.
func dropStaleTemplates(ctx context.Context, admin *sql.DB) {
	rows, err := admin.QueryContext(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, templatePrefix)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		created, _, _ := strings.Cut(strings.TrimPrefix(name, templatePrefix), "_")
		if sec, err := strconv.ParseInt(created, 10, 64); err == nil && time.Since(time.Unix(sec, 0)) > staleTemplate {
			stale = append(stale, name)
		}
	}
	rows.Close()
	for _, name := range stale {
		// Without FORCE: a template in use is not stale after all.
		admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name)
	}
}

// databaseURL is base with its database replaced by name.
func databaseURL(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}
