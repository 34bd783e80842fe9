package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// A user's record: not_found until made, then what was put, per app.
func testUserRecords(t *testing.T, s herald.Store) {
	revoked := at(3)
	want := &herald.User{AppID: "app-1", UserID: "ann", Suspended: true, SessionsRevokedAt: &revoked, UpdatedAt: at(4)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if _, err := tx.User(ctx, "app-1", "ann"); !herald.IsNotFound(err) {
			t.Fatalf("before any put: err = %v, want not_found", err)
		}
		return tx.PutUser(ctx, want)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.User(ctx, "app-1", "ann")
		if err != nil {
			return err
		}
		same(t, "user", got, want)
		_, err = q.User(ctx, "app-2", "ann")
		wantNotFound(t, "another app's user", err)
		return nil
	})
	// Putting again replaces every field, the revocation cleared included.
	again := &herald.User{AppID: "app-1", UserID: "ann", UpdatedAt: at(5)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutUser(ctx, again) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.User(ctx, "app-1", "ann")
		if err != nil {
			return err
		}
		same(t, "user replaced", got, again)
		return nil
	})
}

// Block lists: added once each, in blocking order, removed, per owner and
// app; BlockedAmong sees the owner's; HideFromBlocks hides a message from
// the participants in either direction.
func testBlockLists(t *testing.T, s herald.Store) {
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.AddBlocks(ctx, "app-1", "ann", []string{"bob", "cy"}, at(1)); err != nil {
			return err
		}
		// bob is blocked already: he keeps his place.
		if err := tx.AddBlocks(ctx, "app-1", "ann", []string{"dee", "bob"}, at(2)); err != nil {
			return err
		}
		if err := tx.AddBlocks(ctx, "app-1", "bob", []string{"ann"}, at(2)); err != nil {
			return err
		}
		if err := tx.AddBlocks(ctx, "app-2", "ann", []string{"eve"}, at(2)); err != nil {
			return err
		}
		return tx.AddBlocks(ctx, "app-1", "ann", nil, at(3))
	})
	blocks := func(app, owner string) []string {
		var got []string
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.Blocks(ctx, app, owner)
			if err != nil {
				return err
			}
			n, err := q.CountBlocks(ctx, app, owner)
			if err == nil && n != len(got) {
				t.Fatalf("CountBlocks(%s, %s) = %d, Blocks has %d", app, owner, n, len(got))
			}
			return err
		})
		return got
	}
	same(t, "ann's blocks", blocks("app-1", "ann"), []string{"bob", "cy", "dee"})
	same(t, "bob's blocks", blocks("app-1", "bob"), []string{"ann"})
	same(t, "ann's blocks in app-2", blocks("app-2", "ann"), []string{"eve"})
	if got := blocks("app-1", "nobody"); len(got) != 0 {
		t.Fatalf("a user who blocks nobody: %v", got)
	}

	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.BlockedAmong(ctx, "app-1", "ann", []string{"eve", "dee", "bob", "ann"})
		if err != nil {
			return err
		}
		sameSet(t, "BlockedAmong", got, []string{"bob", "dee"})
		got, err = q.BlockedAmong(ctx, "app-1", "ann", nil)
		if err != nil {
			return err
		}
		sameSet(t, "BlockedAmong no one", got, nil)
		return nil
	})

	// A conversation of ann, bob, cy and fay, and one of ann and fay: in
	// the first, ann and bob block each other and ann blocks cy.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for id, ps := range map[string][]string{"conv-1": {"ann", "bob", "cy", "fay"}, "conv-2": {"ann", "fay"}} {
			c := &herald.Conversation{ID: id, AppID: "app-1", Participants: ps, CreatedAt: at(0)}
			if err := tx.CreateConversation(ctx, c, ""); err != nil {
				return err
			}
		}
		return nil
	})
	// hidden sends a message from user in conv and returns whom it is
	// hidden from, of fay, ann, bob and cy.
	n := 0
	hidden := func(conv, user string) []string {
		t.Helper()
		n++
		msg := fmt.Sprintf("msg-%d", n)
		update(t, s, func(ctx context.Context, tx herald.Tx) error {
			m := &herald.Message{ID: msg, AppID: "app-1", ConversationID: conv, Position: int64(n),
				Sender: herald.Sender{UserID: user}, Parts: []herald.Part{{MimeType: "text/plain", Body: "hi"}},
				SentAt: at(n), RecipientStatus: map[string]string{user: herald.StatusRead}}
			if err := tx.CreateMessage(ctx, m); err != nil {
				return err
			}
			return tx.HideFromBlocks(ctx, m)
		})
		var out []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			for _, u := range []string{"ann", "bob", "cy", "fay"} {
				h, err := q.MessageHidden(ctx, "app-1", msg, u)
				if err != nil {
					return err
				}
				if h {
					out = append(out, u)
				}
			}
			return nil
		})
		return out
	}
	sameSet(t, "ann in conv-1", hidden("conv-1", "ann"), []string{"bob", "cy"})
	sameSet(t, "bob in conv-1", hidden("conv-1", "bob"), []string{"ann"})
	sameSet(t, "cy in conv-1", hidden("conv-1", "cy"), []string{"ann"})
	sameSet(t, "fay in conv-1", hidden("conv-1", "fay"), nil)
	sameSet(t, "ann in conv-2", hidden("conv-2", "ann"), nil)

	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.RemoveBlocks(ctx, "app-1", "ann", []string{"bob", "zed"})
	})
	same(t, "ann's blocks after removal", blocks("app-1", "ann"), []string{"cy", "dee"})
	sameSet(t, "bob in conv-1 after ann unblocked him", hidden("conv-1", "bob"), []string{"ann"})
	sameSet(t, "ann in conv-1 after she unblocked bob", hidden("conv-1", "ann"), []string{"bob", "cy"})
	// Blocking again puts him last.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.AddBlocks(ctx, "app-1", "ann", []string{"bob"}, at(9))
	})
	same(t, "ann's blocks after blocking again", blocks("app-1", "ann"), []string{"cy", "dee", "bob"})
}

// Follows: added once, listed latest first in pages that resume after a
// followed user, checked, removed, per follower and app.
func testFollows(t *testing.T, s herald.Store) {
	var added [][]string
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		added = nil
		for i, batch := range [][]string{{"b", "c"}, {"d", "b", "e"}, {"c"}} {
			a, err := tx.AddFollows(ctx, "app-1", "ann", batch, at(i))
			if err != nil {
				return err
			}
			added = append(added, a)
		}
		_, err := tx.AddFollows(ctx, "app-2", "ann", []string{"z"}, at(0))
		return err
	})
	same(t, "added", added, [][]string{{"b", "c"}, {"d", "e"}, nil})
	// At(1): d and e, newest first and by id among equals; then b and c.
	all := []string{"e", "d", "c", "b"}
	page := func(after string, limit int) []string {
		var got []string
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.Following(ctx, "app-1", "ann", after, limit)
			return err
		})
		return got
	}
	same(t, "all", page("", 10), all)
	same(t, "first page", page("", 2), all[:2])
	same(t, "after d", page("d", 2), all[2:])
	same(t, "after e", page("e", 1), all[1:2])
	if got := page("b", 10); len(got) != 0 {
		t.Fatalf("after the last: %v", got)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.Following(ctx, "app-1", "ann", "z", 10)
		wantNotFound(t, "after a user not followed", err)
		n, err := q.CountFollowing(ctx, "app-1", "ann")
		if err != nil {
			return err
		}
		if n != 4 {
			t.Fatalf("CountFollowing = %d, want 4", n)
		}
		for _, c := range []struct {
			app, follower, followed string
			want                    bool
		}{{"app-1", "ann", "d", true}, {"app-1", "d", "ann", false}, {"app-1", "ann", "z", false}, {"app-2", "ann", "z", true}} {
			got, err := q.IsFollowing(ctx, c.app, c.follower, c.followed)
			if err != nil {
				return err
			}
			if got != c.want {
				t.Fatalf("IsFollowing(%s, %s, %s) = %v", c.app, c.follower, c.followed, got)
			}
		}
		return nil
	})
	var removed, again bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if removed, err = tx.RemoveFollow(ctx, "app-1", "ann", "d"); err != nil {
			return err
		}
		again, err = tx.RemoveFollow(ctx, "app-1", "ann", "d")
		return err
	})
	if !removed || again {
		t.Fatalf("RemoveFollow: first %v, second %v", removed, again)
	}
	same(t, "after unfollowing d", page("", 10), []string{"e", "c", "b"})
}

// Session TTLs: none until set, then the last set, per app.
func testSessionTTL(t *testing.T, s herald.Store) {
	ttl := func(app string) time.Duration {
		var d time.Duration
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			d, err = q.SessionTTL(ctx, app)
			return err
		})
		return d
	}
	if d := ttl("app-1"); d != 0 {
		t.Fatalf("unset: %v", d)
	}
	for i, d := range []time.Duration{time.Hour, 30 * time.Second} {
		update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.SetSessionTTL(ctx, "app-1", d, at(i)) })
		if got := ttl("app-1"); got != d {
			t.Fatalf("after setting %v: %v", d, got)
		}
	}
	if d := ttl("app-2"); d != 0 {
		t.Fatalf("another app: %v", d)
	}
}

// A failed update leaves no block, follow, user or TTL behind.
func testUserWritesRollBack(t *testing.T, s herald.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.AddBlocks(ctx, "app-1", "ann", []string{"bob"}, at(0)); err != nil {
			return err
		}
		if _, err := tx.AddFollows(ctx, "app-1", "ann", []string{"bob"}, at(0)); err != nil {
			return err
		}
		if err := tx.PutUser(ctx, &herald.User{AppID: "app-1", UserID: "ann", UpdatedAt: at(0)}); err != nil {
			return err
		}
		if err := tx.SetSessionTTL(ctx, "app-1", time.Minute, at(0)); err != nil {
			return err
		}
		return fmt.Errorf("refused")
	})
	if err == nil {
		t.Fatal("the update did not fail")
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		if b, err := q.Blocks(ctx, "app-1", "ann"); err != nil || len(b) != 0 {
			t.Fatalf("blocks: %v, %v", b, err)
		}
		if f, err := q.IsFollowing(ctx, "app-1", "ann", "bob"); err != nil || f {
			t.Fatalf("follow: %v, %v", f, err)
		}
		_, err := q.User(ctx, "app-1", "ann")
		wantNotFound(t, "user", err)
		if d, err := q.SessionTTL(ctx, "app-1"); err != nil || d != 0 {
			t.Fatalf("ttl: %v, %v", d, err)
		}
		return nil
	})
}
