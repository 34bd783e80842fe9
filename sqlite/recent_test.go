package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

var eventNumber int

// appendEvents appends n events, made by herald.NewEvent, in one update and
// returns them with their sequence numbers.
func appendEvents(t *testing.T, s *sqlite.Store, n int) []*herald.Event {
	t.Helper()
	ctx := context.Background()
	var events []*herald.Event
	err := s.Update(ctx, func(tx herald.Tx) error {
		events = events[:0]
		for range n {
			eventNumber++
			e, err := herald.NewEvent(fmt.Sprint("e-", eventNumber), "app", herald.EventMessageSent,
				time.Now(), nil, &herald.EventData{UserID: "u"})
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func wantRecent(t *testing.T, s *sqlite.Store, after int64, limit int, want []*herald.Event) {
	t.Helper()
	got, ok := s.RecentEventsSince(after, limit)
	if !ok {
		t.Fatalf("events after %d: not held, want %d of them", after, len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("events after %d: got %d, want %d", after, len(got), len(want))
	}
	for i := range want {
		// The very events the updates appended, data and all.
		if got[i] != want[i] {
			t.Fatalf("events after %d: #%d is seq %d (%p), want seq %d (%p)", after, i, got[i].Seq, got[i], want[i].Seq, want[i])
		}
	}
}

// The store hands the fan-out the events its writer committed, as they were
// made, and says so when it does not hold them all.
func TestRecentEvents(t *testing.T) {
	s, path := open(t)
	if _, ok := s.RecentEventsSince(0, 10); ok {
		t.Fatal("a store that committed nothing claims to hold the events after 0")
	}
	first := appendEvents(t, s, 3)
	second := appendEvents(t, s, 2)
	all := append(append([]*herald.Event{}, first...), second...)
	wantRecent(t, s, 0, 10, all)
	wantRecent(t, s, first[0].Seq, 10, all[1:])
	wantRecent(t, s, first[0].Seq, 2, all[1:3])
	wantRecent(t, s, second[1].Seq, 10, nil)

	// Another process appends to the same file: its events are not held,
	// and neither, once this store commits again, is anything before them.
	other, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	theirs := appendEvents(t, other, 1)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	ours := appendEvents(t, s, 1)
	if ours[0].Seq != theirs[0].Seq+1 {
		t.Fatalf("seqs %d then %d", theirs[0].Seq, ours[0].Seq)
	}
	if got, ok := s.RecentEventsSince(second[1].Seq, 10); ok {
		t.Fatalf("events after %d: held (%d of them) across another process's event", second[1].Seq, len(got))
	}
	wantRecent(t, s, theirs[0].Seq, 10, ours)

	// Memory is bounded: the oldest events go, and with them the claim to
	// hold what follows them.
	var kept []*herald.Event
	for len(kept) <= 2*sqlite.RecentKept {
		kept = append(kept, appendEvents(t, s, 100)...)
	}
	if _, ok := s.RecentEventsSince(theirs[0].Seq, 10); ok {
		t.Fatal("every event still held after more than twice the bound")
	}
	last := kept[len(kept)-1].Seq
	wantRecent(t, s, last-sqlite.RecentKept, sqlite.RecentKept, kept[len(kept)-sqlite.RecentKept:])
}
