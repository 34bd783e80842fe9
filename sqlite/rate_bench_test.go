package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// rateInterval is 200 commits a second, the bench's steady-rate case.
const rateInterval = 5 * time.Millisecond

func BenchmarkSendAtRate(b *testing.B) {
	storetest.BenchSendAtRate(b, func(b *testing.B) herald.Store {
		return openBench(b, sqlite.Options{})
	}, rateInterval)
}

// BenchmarkCommitAtRate is the floor under BenchmarkSendAtRate: the same
// driver and journal, no Herald, one insert per transaction every 5 ms, into
// a table alone (one page changed per commit) and into a table of 24
// indexes on random keys (25 pages, about what a message changes in
// Herald's schema with its event and its delivery). The difference between
// the two is what each page a commit changes costs at a low rate: it is
// written to the log with two system calls, checksummed, and copied back
// by a checkpoint later.
func BenchmarkCommitAtRate(b *testing.B) {
	for _, indexes := range []int{0, 24} {
		b.Run(fmt.Sprintf("pages=%d", indexes+1), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "floor.db")
			db, err := sql.Open("sqlite", "file:"+path+
				"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(1)
			if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL, k TEXT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			for i := range indexes {
				if _, err := db.Exec(fmt.Sprintf(`CREATE INDEX t_%d ON t (substr(k, %d))`, i, i+1)); err != nil {
					b.Fatal(err)
				}
			}
			insert, err := db.Prepare(`INSERT INTO t (body, k) VALUES (?, hex(randomblob(24)))`)
			if err != nil {
				b.Fatal(err)
			}
			const body = `{"parts":[{"body":"Hello, world","mime_type":"text/plain"}],"sender":{"user_id":"alice"}}`
			// Enough rows that the random keys land on pages of their own.
			if _, err := db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
				INSERT INTO t (body, k) SELECT ?, hex(randomblob(24)) FROM n`, body); err != nil {
				b.Fatal(err)
			}
			storetest.AtRate(b, rateInterval, func() {
				if _, err := insert.Exec(body); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
