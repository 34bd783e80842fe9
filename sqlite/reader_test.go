package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
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
	s := openReaders(t, readers)
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

// Close waits for the read transaction in flight, which ends as it would
// have; a read after Close is refused rather than left waiting.
func TestCloseWaitsForReadsAndRefusesNewOnes(t *testing.T) {
	s := openReaders(t, 2)
	ctx := context.Background()
	inside, release := make(chan struct{}), make(chan struct{})
	read := make(chan error, 1)
	go func() {
		read <- s.View(ctx, func(q herald.Queries) error {
			close(inside)
			<-release
			_, err := q.Apps(ctx)
			return err
		})
	}()
	<-inside
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a read transaction in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-read; err != nil {
		t.Fatalf("the read in flight when Close began: %v", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting 10 s after the last read ended")
	}
	if err := s.View(ctx, func(herald.Queries) error { return nil }); !errors.Is(err, sqlite.ErrClosed) {
		t.Fatalf("View after Close: %v, want ErrClosed", err)
	}
	s.Close() // again, as deferred cleanups do: nothing more to close
}

// A read waiting for a connection gives up when its context ends; a read
// that fails, or whose context ends while it runs, leaves its connection
// fit for the next.
func TestReadConnectionsOutliveTheirReads(t *testing.T) {
	s := openReaders(t, 1)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, "a") }); err != nil {
		t.Fatal(err)
	}

	held, release := make(chan struct{}), make(chan struct{})
	go s.View(ctx, func(herald.Queries) error { close(held); <-release; return nil })
	<-held
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.View(waiting, func(herald.Queries) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read waiting for the only connection, held by another: %v, want its deadline", err)
	}
	close(release)

	failed := errors.New("the read's own error")
	if err := s.View(ctx, func(q herald.Queries) error { q.Apps(ctx); return failed }); err != failed {
		t.Fatalf("View returned %v, want the error of its function", err)
	}
	ending, end := context.WithCancel(ctx)
	err := s.View(ending, func(q herald.Queries) error {
		end()
		_, err := q.Apps(ending)
		return err
	})
	if err == nil {
		t.Log("the read finished before its context's end reached it")
	}
	for i := range 3 {
		var n int
		err := s.View(ctx, func(q herald.Queries) error {
			apps, err := q.Apps(ctx)
			n = len(apps)
			return err
		})
		if err != nil || n == 0 {
			t.Fatalf("read %d after the others: %d apps, %v", i, n, err)
		}
	}
}

// A read whose function panics gives its connection up: the next read, on
// a pool of one, gets one that works.
func TestReadThatPanicsLeavesThePoolUsable(t *testing.T) {
	s := openReaders(t, 1)
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach View's caller")
			}
		}()
		s.View(ctx, func(q herald.Queries) error {
			q.Apps(ctx)
			panic("in a read")
		})
	}()
	done := make(chan error, 1)
	go func() { done <- s.View(ctx, func(q herald.Queries) error { _, err := q.Apps(ctx); return err }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the read after the panic: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read after the panic still waits for a connection after 10 s")
	}
}

// openReaders opens a store whose read pool has n connections, closed
// with the test.
func openReaders(t *testing.T, n int) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{Readers: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
