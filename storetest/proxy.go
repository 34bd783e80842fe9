package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// A conversation deleted from a user's devices hides its messages from
// them and leaves their listings, counts and badge until the next message,
// which they see alone; the others are unaffected; the deletion rolls back
// with its update.
func testConversationDeletedForUser(t *testing.T, s herald.Store) {
	in := newInbox(t, s, "c1", "alice", "bob")
	first := in.send("alice", 1)
	in.send("alice", 2)
	in.want("bob", 2, "c1-m2")

	listed := func(user string) []string {
		var ids []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			ucs, err := q.UserConversations(ctx, "app", user, herald.SortLastMessage, herald.Page{Limit: 10})
			for _, uc := range ucs {
				ids = append(ids, uc.ID)
			}
			n, cerr := q.CountUserConversations(ctx, "app", user)
			if err == nil && cerr == nil && n != len(ids) {
				t.Fatalf("%s: count %d, listed %v", user, n, ids)
			}
			return err
		})
		return ids
	}

	deleteFor := func(user string) error {
		ctx := context.Background()
		return s.Update(ctx, func(tx herald.Tx) error {
			return tx.DeleteConversationForUser(ctx, "app", "c1", user, at(3))
		})
	}
	// Rolled back with the update that failed.
	ctx := context.Background()
	_ = s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.DeleteConversationForUser(ctx, "app", "c1", "bob", at(3)); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	same(t, "bob's listing after a rollback", listed("bob"), []string{"c1"})

	if err := deleteFor("bob"); err != nil {
		t.Fatal(err)
	}
	same(t, "bob's listing", listed("bob"), []string(nil))
	same(t, "alice's listing", listed("alice"), []string{"c1"})
	if found(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.UserConversation(ctx, "app", "bob", "c1")
		return err
	}) {
		t.Fatal("bob still reads c1")
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		hidden, err := q.MessageHidden(ctx, "app", first, "bob")
		if err != nil || !hidden {
			t.Fatalf("bob's first message hidden %v, %v", hidden, err)
		}
		b, err := q.Badge(ctx, "app", "bob")
		if err == nil && (b.UnreadMessageCount != 0 || b.UnreadConversationCount != 0) {
			t.Fatalf("bob's badge %+v", b)
		}
		ms, err := q.Messages(ctx, "app", "c1", "bob", herald.Page{Limit: 10})
		if err == nil && len(ms) != 0 {
			t.Fatalf("bob's messages: %d", len(ms))
		}
		return err
	})
	in.want("alice", 0, "c1-m2")

	// The next message brings the conversation back, from that message.
	in.send("alice", 4)
	same(t, "bob's listing after a message", listed("bob"), []string{"c1"})
	in.want("bob", 1, "c1-m3")

	// Only a user with a place in the conversation.
	wantNotFound(t, "a stranger's deletion", deleteFor("carol"))
}

func testAnnouncementDeletedForUser(t *testing.T, s herald.Store) {
	a := &herald.Announcement{ID: "a1", AppID: "app", Sender: herald.Sender{Name: "Team"},
		Parts: []herald.Part{{MimeType: "text/plain", Body: "hi"}}, SentAt: at(1),
		RecipientStatus: map[string]string{"bob": herald.StatusSent, "carol": herald.StatusSent}}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		return tx.CreateAnnouncement(ctx, a)
	})
	var gone, again bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if gone, err = tx.DeleteAnnouncementForUser(ctx, "app", "a1", "bob"); err != nil {
			return err
		}
		again, err = tx.DeleteAnnouncementForUser(ctx, "app", "a1", "bob")
		return err
	})
	if !gone || again {
		t.Fatalf("deleted %v, then %v; want true, false", gone, again)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.Announcement(ctx, "app", "a1", "bob")
		wantNotFound(t, "bob's deleted announcement", err)
		as, err := q.Announcements(ctx, "app", "bob", herald.Page{Limit: 10})
		if err == nil && len(as) != 0 {
			t.Fatalf("bob's announcements: %d", len(as))
		}
		_, err = q.Announcement(ctx, "app", "a1", "carol")
		return err
	})
}

// Push tokens: one per user and device, replaced whole, listed most
// recently registered first, deleted once.
func testPushTokens(t *testing.T, s herald.Store) {
	tok := func(user, device, token string, min int) *herald.PushToken {
		return &herald.PushToken{AppID: "app", UserID: user, DeviceID: device, Type: herald.PushAPNS, Token: token,
			APNSBundleID: "com.example", IOSVersion: "9.0", CreatedAt: at(min), UpdatedAt: at(min)}
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, pt := range []*herald.PushToken{tok("alice", "d1", "t1", 1), tok("alice", "d2", "t2", 2), tok("bob", "d1", "t3", 3)} {
			if err := tx.PutPushToken(ctx, pt); err != nil {
				return err
			}
		}
		return nil
	})
	// d1 registered again: a new token, fields cleared, its creation kept.
	replaced := &herald.PushToken{AppID: "app", UserID: "alice", DeviceID: "d1", Type: herald.PushFCM, Token: "t4",
		GCMSenderID: "42", CreatedAt: at(1), UpdatedAt: at(5)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutPushToken(ctx, replaced) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.PushToken(ctx, "app", "alice", "d1")
		if err != nil {
			return err
		}
		same(t, "replaced token", got, replaced)
		ts, err := q.PushTokens(ctx, "app", "alice")
		if err != nil {
			return err
		}
		var devices []string
		for _, pt := range ts {
			devices = append(devices, pt.DeviceID)
		}
		same(t, "alice's devices", devices, []string{"d1", "d2"})
		_, err = q.PushToken(ctx, "app", "carol", "d1")
		wantNotFound(t, "carol's token", err)
		return nil
	})
	var first, second bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if first, err = tx.DeletePushToken(ctx, "app", "alice", "d1"); err != nil {
			return err
		}
		second, err = tx.DeletePushToken(ctx, "app", "alice", "d1")
		return err
	})
	if !first || second {
		t.Fatalf("deleted %v, then %v; want true, false", first, second)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		pt, err := q.PushToken(ctx, "app", "bob", "d1")
		if err == nil && (pt.Token != "t3" || !pt.UpdatedAt.Equal(at(3).Truncate(time.Microsecond))) {
			t.Fatalf("bob's token: %+v", pt)
		}
		return err
	})
}
