package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// A message's parts are saved whole, ids and update times included, on a
// live message only; a message written earlier in the same update (a
// deferred insert, on PostgreSQL) is there to change.
func testMessageParts(t *testing.T, s herald.Store) {
	updated := at(3)
	m := &herald.Message{ID: "m1", AppID: "app", ConversationID: "conv", Position: 1,
		Sender: herald.Sender{UserID: "alice"}, SentAt: at(1), RecipientStatus: map[string]string{"alice": "read"},
		// A part from before parts had ids, and one with its own.
		Parts: []herald.Part{{MimeType: herald.MimeText, Body: "old"}, {ID: "0b7c4a3e-55f4-4d4b-9d49-2b4f0f3e6a10", MimeType: herald.MimeText, Body: "new"}}}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.CreateConversation(ctx, &herald.Conversation{ID: "conv", AppID: "app", Participants: []string{"alice"},
			CreatedAt: at(0), LastPosition: 2}, ""); err != nil {
			return err
		}
		if err := tx.CreateMessage(ctx, m); err != nil {
			return err
		}
		m.Parts = append(m.Parts, herald.Part{ID: "5f0e7f1a-9a8b-4c61-8e1a-3c0a9d2e4b77", MimeType: "image/png",
			Content: &herald.ContentRef{ID: "c1", Size: 9}, UpdatedAt: &updated})
		if err := tx.UpdateMessageParts(ctx, m); err != nil {
			return err
		}
		return tx.CreateMessage(ctx, &herald.Message{ID: "m2", AppID: "app", ConversationID: "conv", Position: 2,
			Sender: herald.Sender{Name: "bot"}, SentAt: at(2), RecipientStatus: map[string]string{"alice": "sent"},
			Parts: []herald.Part{{ID: "e1d7c2b0-2f0c-4c9a-9b8e-0c7d1f2a3b4c", MimeType: herald.MimeText, Body: "two"}}})
	})
	read := func(id string) *herald.Message {
		t.Helper()
		var got *herald.Message
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.Message(ctx, "app", id)
			return err
		})
		return got
	}
	same(t, "message with a part added in its update", read("m1"), m)

	// Only the parts change: not the other message, not the statuses.
	m.Parts = []herald.Part{{ID: "0", MimeType: herald.MimeText, Body: "old, named"}, m.Parts[2]}
	m.RecipientStatus = map[string]string{"alice": "delivered"}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateMessageParts(ctx, m) })
	m.RecipientStatus = map[string]string{"alice": "read"}
	same(t, "message with its parts replaced", read("m1"), m)
	if got := read("m2"); len(got.Parts) != 1 || got.Parts[0].Body != "two" {
		t.Fatalf("the other message's parts changed: %+v", got.Parts)
	}
	var list []*herald.Message
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		list, err = q.Messages(ctx, "app", "conv", "", herald.Page{Limit: 10})
		return err
	})
	if len(list) != 2 {
		t.Fatalf("listed %d messages, want 2", len(list))
	}
	same(t, "listed message with its parts replaced", list[1], m)

	ctx := context.Background()
	for _, c := range []struct {
		what string
		m    *herald.Message
	}{
		{"a missing message", &herald.Message{ID: "nope", AppID: "app", Parts: m.Parts}},
		{"another app's message", &herald.Message{ID: "m1", AppID: "other", Parts: m.Parts}},
	} {
		err := s.Update(ctx, func(tx herald.Tx) error { return tx.UpdateMessageParts(ctx, c.m) })
		wantNotFound(t, c.what, err)
	}
	deleted := read("m2")
	deletedAt := at(4)
	deleted.DeletedAt = &deletedAt
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateMessage(ctx, deleted) })
	deleted.Parts = m.Parts
	wantNotFound(t, "a deleted message", s.Update(ctx, func(tx herald.Tx) error { return tx.UpdateMessageParts(ctx, deleted) }))
	same(t, "message after refused updates of others", read("m1"), m)
}

func scheduledMessage(app, id, conv string, sendAt time.Time) *herald.ScheduledMessage {
	return &herald.ScheduledMessage{ID: id, AppID: app, ConversationID: conv, Sender: herald.Sender{UserID: "alice"},
		Parts:        []herald.Part{{ID: "9c1f5a52-7f57-4d0e-8a7b-4d1c0e2f3a5b", MimeType: herald.MimeText, Body: id}},
		Notification: json.RawMessage(`{"text":"hi","sound":"chime.aiff"}`),
		CreatedAt:    at(0), SendAt: sendAt, DelaySeconds: 8.2, TypingSeconds: 3.8}
}

// Scheduled messages are kept whole, listed when due, earliest first, in
// every app, and removed once: the removal is what makes one sender of
// each.
func testScheduledMessages(t *testing.T, s herald.Store) {
	next := func() (time.Time, bool) {
		t.Helper()
		var when time.Time
		var ok bool
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			when, ok, err = q.NextScheduledMessage(ctx)
			return err
		})
		return when, ok
	}
	due := func(now time.Time, limit int) []string {
		t.Helper()
		var ids []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			list, err := q.DueScheduledMessages(ctx, now, limit)
			for _, m := range list {
				ids = append(ids, m.AppID+"/"+m.ID)
			}
			return err
		})
		return ids
	}
	if _, ok := next(); ok {
		t.Fatal("an empty store has a next scheduled message")
	}
	if got := due(at(100), 10); len(got) != 0 {
		t.Fatalf("an empty store has due messages %v", got)
	}

	a1 := scheduledMessage("a", "m1", "c1", at(5))
	a2 := scheduledMessage("a", "m2", "c2", at(3))
	a3 := scheduledMessage("a", "m3", "c1", at(5))
	b1 := scheduledMessage("b", "m4", "c9", at(4))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, m := range []*herald.ScheduledMessage{a1, a2, a3, b1} {
			if err := tx.CreateScheduledMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	// A failed update schedules nothing.
	ctx := context.Background()
	failed := errors.New("refused")
	if err := s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateScheduledMessage(ctx, scheduledMessage("a", "m5", "c1", at(1))); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("update: %v, want the function's error", err)
	}

	var got *herald.ScheduledMessage
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.ScheduledMessage(ctx, "a", "m1")
		return err
	})
	same(t, "scheduled message read back", got, a1)
	if got.AppID != "a" {
		t.Fatalf("scheduled message of app %q, want a", got.AppID)
	}
	for _, c := range []struct{ app, id string }{{"b", "m1"}, {"a", "m5"}, {"a", "nope"}} {
		err := s.View(ctx, func(q herald.Queries) error {
			_, err := q.ScheduledMessage(ctx, c.app, c.id)
			return err
		})
		wantNotFound(t, "scheduled message "+c.app+"/"+c.id, err)
	}

	if when, ok := next(); !ok || !when.Equal(at(3)) {
		t.Fatalf("next scheduled message at %v (%v), want %v", when, ok, at(3))
	}
	for _, c := range []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{at(2), 10, nil},
		{at(3), 10, []string{"a/m2"}},
		{at(4), 10, []string{"a/m2", "b/m4"}},
		// Due at the same time: in id order.
		{at(9), 10, []string{"a/m2", "b/m4", "a/m1", "a/m3"}},
		{at(9), 3, []string{"a/m2", "b/m4", "a/m1"}},
	} {
		if got := due(c.now, c.limit); jsonOf(t, got) != jsonOf(t, c.want) {
			t.Fatalf("due at %v, up to %d: %v, want %v", c.now, c.limit, got, c.want)
		}
	}

	// Removed once; not by another app.
	wantNotFound(t, "another app's removal", s.Update(ctx, func(tx herald.Tx) error { return tx.DeleteScheduledMessage(ctx, "b", "m2") }))
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteScheduledMessage(ctx, "a", "m2") })
	wantNotFound(t, "a second removal", s.Update(ctx, func(tx herald.Tx) error { return tx.DeleteScheduledMessage(ctx, "a", "m2") }))
	if got := due(at(9), 10); jsonOf(t, got) != jsonOf(t, []string{"b/m4", "a/m1", "a/m3"}) {
		t.Fatalf("due after a removal: %v", got)
	}
	if when, ok := next(); !ok || !when.Equal(at(4)) {
		t.Fatalf("next scheduled message after a removal at %v (%v), want %v", when, ok, at(4))
	}
	// A removal rolled back keeps the message.
	if err := s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.DeleteScheduledMessage(ctx, "b", "m4"); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("update: %v, want the function's error", err)
	}
	if when, _ := next(); !when.Equal(at(4)) {
		t.Fatalf("a rolled-back removal moved the next scheduled message to %v", when)
	}
}

// Of the nodes removing one scheduled message at once, one succeeds: the
// others find it gone, and do not send it again.
func testConcurrentScheduledRemovalsHaveOneWinner(t *testing.T, s herald.Store) {
	const nodes = 8
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateScheduledMessage(ctx, scheduledMessage("a", "m1", "c1", at(1)))
	})
	var wg sync.WaitGroup
	removed := make([]bool, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			err := s.Update(ctx, func(tx herald.Tx) error {
				err := tx.DeleteScheduledMessage(ctx, "a", "m1")
				removed[i] = err == nil
				if herald.IsNotFound(err) {
					return nil
				}
				return err
			})
			if err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	winners := 0
	for _, r := range removed {
		if r {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d nodes removed the scheduled message, want 1", winners)
	}
}
