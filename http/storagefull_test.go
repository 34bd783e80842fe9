package http_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	msqlite "modernc.org/sqlite"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

// pageLimits maps SQLite database files to the max_page_count their
// connections get, for tests that need a database that fills up.
var pageLimits sync.Map

// The driver's connection hook is a global that every connection reads:
// set before any test runs, since the tests open databases in parallel.
func init() {
	msqlite.RegisterConnectionHook(func(conn msqlite.ExecQuerierContext, dsn string) error {
		var limit string
		pageLimits.Range(func(path, pages any) bool {
			if strings.Contains(dsn, path.(string)) {
				limit = pages.(string)
				return false
			}
			return true
		})
		if limit == "" {
			return nil
		}
		_, err := conn.ExecContext(context.Background(), "PRAGMA max_page_count = "+limit, nil)
		return err
	})
}

// fullStores are stores that run out of space: SQLite with a database
// limited to a few pages more than its schema takes (max_page_count: the
// same SQLITE_FULL as a full disk), and PostgreSQL with a trigger that
// fails new conversations with disk_full (SQLSTATE 53100), as PostgreSQL
// does when it cannot extend a table's file.
var fullStores = []struct {
	name string
	open func(t *testing.T) herald.Store
}{
	{"sqlite", func(t *testing.T) herald.Store {
		path := enginetest.SQLitePath(t)
		// The schema takes fewer than 120 pages of 4 KiB; the conversations
		// written fill the rest.
		pageLimits.Store(path, "160")
		t.Cleanup(func() { pageLimits.Delete(path) })
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t *testing.T) herald.Store {
		url := enginetest.PostgresURL(t)
		s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100';
			END $$`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CREATE TRIGGER disk_full BEFORE INSERT ON conversations
			FOR EACH ROW EXECUTE FUNCTION disk_full()`); err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// syncBuffer is a log destination the server's goroutines may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// When the storage is full, writes get 507 insufficient_storage rather than
// 500, write nothing, and the cause is logged once, not once per request
// (probe 6.6); reads go on.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	for _, e := range fullStores {
		t.Run(e.name, func(t *testing.T) {
			log := &syncBuffer{}
			a := startAPI(t, e.open(t), func(s *heraldhttp.Server) { s.Logger = slog.New(slog.NewTextHandler(log, nil)) })
			conversation := func() *response {
				return a.do("POST", "/conversations", map[string]any{"distinct": false,
					"participants": []string{uuid.NewString(), uuid.NewString()},
					"metadata":     map[string]any{"note": strings.Repeat("x", 500)}})
			}
			var res *response
			created := 0
			for res = conversation(); res.Status == 201; res = conversation() {
				if created++; created > 2000 {
					t.Fatal("the storage never filled")
				}
			}
			e := res.wantError(t, 507, "insufficient_storage", "")
			if !strings.Contains(e["message"].(string), "storage is full") {
				t.Fatalf("message %q", e["message"])
			}
			// A write that did not fit may leave room for a smaller one (a
			// conversation whose writes share a commit with fewer others,
			// pages the background work freed): once full, each write is
			// either refused whole or done whole, never half, never a 500.
			events, refused := len(a.events()), 0
			for range 20 {
				switch res := conversation(); res.Status {
				case 201:
					created++
					events++
				default:
					res.wantError(t, 507, "insufficient_storage", "")
					refused++
				}
			}
			if refused < 10 {
				t.Fatalf("%d of 20 writes refused once the storage was full", refused)
			}
			if n := len(a.events()); n != events {
				t.Fatalf("%d events after refused writes, want %d", n, events)
			}
			var list []any
			a.do("GET", "/conversations", nil).must(t, 200).JSON(t, &list)
			if len(list) != min(created, 100) {
				t.Fatalf("%d conversations listed, want %d", len(list), min(created, 100))
			}
			a.doAs("", "GET", "//health", nil).must(t, 200)
			if n := strings.Count(log.String(), `msg="the storage is full`); n != 1 {
				t.Fatalf("the full storage was logged %d times, want once:\n%s", n, log)
			}
			if strings.Contains(log.String(), "request failed") {
				t.Fatalf("a refused write was logged as a failure:\n%s", log)
			}
			t.Logf("%d conversations before the storage was full; log:\n%s", created, log)
		})
	}
}
