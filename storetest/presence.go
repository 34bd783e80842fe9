package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// Presence records round-trip and are replaced whole; sockets count per
// node, age with their node's last word, and a dead node's are forgotten,
// naming the users left with none; acquaintances are the users followed
// and those sharing a live conversation.
func testPresence(t *testing.T, s herald.Store) {
	newInbox(t, s, "c1", "ann", "bob")
	seen := at(3)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.PutPresence(ctx, &herald.Presence{AppID: "app", UserID: "ann", Status: herald.PresenceBusy, Online: true, LastSeenAt: &seen}); err != nil {
			return err
		}
		if err := tx.PutPresence(ctx, &herald.Presence{AppID: "app", UserID: "bob", Status: herald.PresenceAway}); err != nil {
			return err
		}
		return tx.PutPresence(ctx, &herald.Presence{AppID: "app", UserID: "bob", Status: herald.PresenceInvisible, Online: true})
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		ps, err := q.Presences(ctx, "app", []string{"ann", "bob", "cat"})
		if err != nil {
			return err
		}
		if len(ps) != 2 || ps["ann"].Status != herald.PresenceBusy || !ps["ann"].Online || !ps["ann"].LastSeenAt.Equal(seen) {
			t.Fatalf("presences %+v, ann %+v", ps, ps["ann"])
		}
		if b := ps["bob"]; b.Status != herald.PresenceInvisible || !b.Online || b.LastSeenAt != nil || b.Shown() != herald.PresenceOffline {
			t.Fatalf("bob %+v", b)
		}
		return nil
	})

	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, w := range []struct {
			node, user string
			n          int
			at         time.Time
		}{{"n1", "ann", 2, at(0)}, {"n2", "ann", 1, at(0)}, {"n1", "bob", 1, at(0)}, {"n2", "cat", 1, at(0)}, {"n2", "cat", 0, at(0)}} {
			if err := tx.SetSockets(ctx, w.node, "app", w.user, w.n, w.at); err != nil {
				return err
			}
		}
		return tx.TouchSockets(ctx, "n2", at(5))
	})
	connected := func(since time.Time) (users []string) {
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			users, err = q.ConnectedUsers(ctx, "app", []string{"cat", "bob", "ann"}, since)
			return err
		})
		return users
	}
	if got := connected(at(0)); !slices.Equal(got, []string{"bob", "ann"}) {
		t.Fatalf("connected since 0: %v", got)
	}
	if got := connected(at(1)); !slices.Equal(got, []string{"ann"}) {
		t.Fatalf("connected since 1 (only n2 alive): %v", got)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		gone, err := tx.ForgetDeadSockets(ctx, at(1))
		if err != nil {
			return err
		}
		if len(gone) != 1 || !slices.Equal(gone["app"], []string{"bob"}) {
			t.Fatalf("users left without sockets: %v", gone)
		}
		return nil
	})
	if got := connected(at(-10)); !slices.Equal(got, []string{"ann"}) {
		t.Fatalf("connected after forgetting n1: %v", got)
	}

	newInbox(t, s, "c2", "ann", "dan")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if _, err := tx.AddFollows(ctx, "app", "ann", []string{"eve"}, at(0)); err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, "app", "c2")
		if err != nil {
			return err
		}
		deleted := at(1)
		c.DeletedAt = &deleted
		return tx.UpdateConversation(ctx, c, "")
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Acquainted(ctx, "app", "ann", []string{"bob", "dan", "eve", "fay"})
		if err != nil {
			return err
		}
		if !slices.Equal(got, []string{"bob", "eve"}) {
			t.Fatalf("ann's acquaintances %v, want bob (c1) and eve (followed); not dan, whose conversation is deleted", got)
		}
		return nil
	})
}
