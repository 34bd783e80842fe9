package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// As many read transactions as the pool has connections, each running a
// query no transaction ran before, all finish: preparing it for the ones to
// come must not wait for a connection they all hold.
func TestConcurrentViewsPrepareNewQueries(t *testing.T) {
	const readers = 2
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	var inside sync.WaitGroup
	inside.Add(readers)
	done := make(chan error, readers)
	for i := range readers {
		go func() {
			done <- s.View(ctx, func(q herald.Queries) error {
				// Every connection of the pool is held from here.
				inside.Done()
				inside.Wait()
				if i == 0 {
					_, err := q.Webhooks(ctx, "")
					return err
				}
				_, err := q.Apps(ctx)
				return err
			})
		}()
	}
	for range readers {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("read transactions still waiting after 10 s: each holds a connection and waits for another to prepare its query")
		}
	}
	// Prepared for the transactions to come, they still run.
	for range 3 {
		if err := s.View(ctx, func(q herald.Queries) error { _, err := q.Webhooks(ctx, ""); return err }); err != nil {
			t.Fatal(err)
		}
	}
}

// Close waits for the statements the read pool was preparing in the
// background: none of them opens a connection to a closed store's files,
// which would leave them behind after Close.
func TestCloseLeavesNoPreparationBehind(t *testing.T) {
	for range 20 {
		s, _ := open(t)
		appExists(t, s, "a") // a query the pool prepares for the next reads
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "prepareOnPool") {
			t.Fatalf("a statement is still being prepared after Close:\n%s", stacks)
		}
	}
}
