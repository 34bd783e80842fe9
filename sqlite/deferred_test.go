package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// An update that may wait commits with the next one, in one transaction,
// or alone once its bound has passed.
func TestUpdateWithinWaitsForTheNextCommit(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	before := s.Stats()
	deferred := make(chan error, 1)
	go func() {
		deferred <- s.UpdateWithin(ctx, time.Minute, func(tx herald.Tx) error { return createApp(ctx, tx, "later") })
	}()
	// Until another update comes, nothing commits it.
	select {
	case err := <-deferred:
		t.Fatalf("the deferred update committed alone, well before its bound: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if appExists(t, s, "later") || s.Stats() != before {
		t.Fatal("the deferred update committed before any other")
	}
	if err := s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, "now") }); err != nil {
		t.Fatal(err)
	}
	if err := <-deferred; err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if after.Commits-before.Commits != 1 || after.Updates-before.Updates != 2 {
		t.Fatalf("%d commits for %d updates, want one for both", after.Commits-before.Commits, after.Updates-before.Updates)
	}
	if !appExists(t, s, "later") || !appExists(t, s, "now") {
		t.Fatal("an update of the shared commit is missing")
	}

	// Alone, it commits once its bound has passed.
	start := time.Now()
	if err := s.UpdateWithin(ctx, 30*time.Millisecond, func(tx herald.Tx) error { return createApp(ctx, tx, "alone") }); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond || !appExists(t, s, "alone") {
		t.Fatalf("committed after %s, exists %v", waited, appExists(t, s, "alone"))
	}
}

// The append hook runs in the transaction that appends events, once they
// are numbered: what it writes commits with them, and its failure rolls
// back only its own writes.
func TestAppendHookJoinsTheTransaction(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	var seen []int64
	committed := 0
	fail := false
	s.OnAppend(func(ctx context.Context, tx herald.Tx, events []*herald.Event) (func(), error) {
		for _, e := range events {
			if e.Seq == 0 {
				return nil, errors.New("an event without its number")
			}
			seen = append(seen, e.Seq)
		}
		if err := createApp(ctx, tx, fmt.Sprintf("hooked-%d", events[0].Seq)); err != nil {
			return nil, err
		}
		if fail {
			return nil, errors.New("refused")
		}
		return func() { committed++ }, nil
	})
	appendOne := func(app string) {
		t.Helper()
		err := s.Update(ctx, func(tx herald.Tx) error {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
			e, err := herald.NewEvent(app+"-event", app, herald.EventMessageSent, time.Now(), nil, &herald.EventData{})
			if err != nil {
				return err
			}
			return tx.AppendEvent(ctx, e)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendOne("a")
	if len(seen) != 1 || committed != 1 || !appExists(t, s, fmt.Sprintf("hooked-%d", seen[0])) {
		t.Fatalf("seen %v, committed %d", seen, committed)
	}
	fail = true
	appendOne("b")
	if len(seen) != 2 || committed != 1 {
		t.Fatalf("after a failing hook: seen %v, committed %d", seen, committed)
	}
	if !appExists(t, s, "b") || appExists(t, s, fmt.Sprintf("hooked-%d", seen[1])) {
		t.Fatal("a failing hook must roll back its own writes, and only those")
	}
	// A transaction that appends nothing does not call it.
	if err := s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, "c") }); err != nil || len(seen) != 2 {
		t.Fatalf("%v; seen %v", err, seen)
	}
}
