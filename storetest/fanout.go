package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/heraldhq/herald"
)

// The fan-out's batched reads say, for many users at once, what
// UserConversation and MessageHidden say for each: for a few users and for
// more than any statement names one by one.
func testFanOutReads(t *testing.T, s herald.Store) {
	var crowd []string
	for i := range 20 {
		crowd = append(crowd, fmt.Sprintf("user-%02d", i))
	}
	in := newInbox(t, s, "c1", append([]string{"alice", "bob", "carol"}, crowd...)...)
	m1 := in.send("alice", 1)
	m2 := in.send("bob", 2)
	in.hide(m2, "carol")
	in.hide(m2, "user-03")
	in.receipt(m1, "user-05", herald.StatusRead)
	in.setParticipants(3, append([]string{"alice", "bob"}, crowd...)...) // carol leaves

	for _, users := range [][]string{
		{"alice", "bob", "carol", "nobody"},
		append([]string{"alice", "bob", "carol", "nobody"}, crowd...),
	} {
		var got []*herald.UserConversation
		var hidden []string
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			if got, err = q.UserConversationsOf(ctx, "app", "c1", users); err != nil {
				return err
			}
			hidden, err = q.MessageHiddenFrom(ctx, "app", m2, users)
			return err
		})
		want := map[string]*herald.UserConversation{}
		for _, u := range users {
			if u == "carol" || u == "nobody" {
				continue
			}
			want[u] = in.view(u)
		}
		if len(got) != len(want) {
			t.Fatalf("%d users: %d user conversations, want %d", len(users), len(got), len(want))
		}
		for _, uc := range got {
			w := want[uc.UserID]
			if w == nil {
				t.Fatalf("%d users: %s is no participant, yet has %+v", len(users), uc.UserID, uc)
			}
			if uc.ID != "c1" || !slices.Equal(uc.Participants, w.Participants) || uc.UnreadMessageCount != w.UnreadMessageCount ||
				!uc.JoinedAt.Equal(w.JoinedAt) || !uc.ActiveAt.Equal(w.ActiveAt) || uc.LastMessage == nil ||
				uc.LastMessage.ID != w.LastMessage.ID || uc.LastMessage.Parts[0].Body != w.LastMessage.Parts[0].Body {
				t.Fatalf("%d users: %s sees %+v (last %+v), want %+v (last %+v)", len(users), uc.UserID, uc, uc.LastMessage, w, w.LastMessage)
			}
			if uc.Conversation != got[0].Conversation {
				t.Fatalf("%d users: each user conversation has its own conversation", len(users))
			}
		}
		slices.Sort(hidden)
		wantHidden := []string{"carol"}
		if len(users) > 4 {
			wantHidden = append(wantHidden, "user-03")
		}
		if !slices.Equal(hidden, wantHidden) {
			t.Fatalf("%d users: %s hidden from %v, want %v", len(users), m2, hidden, wantHidden)
		}
	}
	// user-03's last message is the one before the hidden one; the others
	// share theirs.
	var got []*herald.UserConversation
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.UserConversationsOf(ctx, "app", "c1", []string{"alice", "bob", "user-03"})
		return err
	})
	last := map[string]*herald.Message{}
	for _, uc := range got {
		last[uc.UserID] = uc.LastMessage
	}
	if last["alice"] == nil || last["alice"] != last["bob"] || last["user-03"] == nil || last["user-03"].ID != m1 {
		t.Fatalf("last messages: %+v", last)
	}

	// A conversation without messages has no last message; a deleted one
	// has no users.
	in2 := newInbox(t, s, "c2", "alice", "bob")
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.UserConversationsOf(ctx, "app", "c2", []string{"alice", "bob"})
		return err
	})
	if len(got) != 2 || got[0].LastMessage != nil || got[1].LastMessage != nil || got[0].UnreadMessageCount != 0 {
		t.Fatalf("a new conversation: %+v", got)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		c, err := tx.Conversation(ctx, "app", in2.conv.ID)
		if err != nil {
			return err
		}
		at := at(9)
		c.DeletedAt = &at
		return tx.UpdateConversation(ctx, c, "")
	})
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.UserConversationsOf(ctx, "app", "c2", []string{"alice", "bob"})
		if err == nil && len(got) == 0 {
			got, err = q.UserConversationsOf(ctx, "app", "unknown", []string{"alice"})
		}
		return err
	})
	if len(got) != 0 {
		t.Fatalf("a deleted or unknown conversation has user conversations: %+v", got)
	}
}

// MessageInboxes gives, in the transaction that creates a message, what
// UserConversationsOf and MessageHiddenFrom read once it committed: the
// unread counts and joining times the message left the participants, and
// whom it is hidden from. A store that cannot tell at no cost says so,
// with nothing.
func testMessageInboxes(t *testing.T, s herald.Store) {
	in := newInbox(t, s, "c3", "ann", "bob", "carol", "dan")
	in.send("bob", 1)
	in.send("carol", 2)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.AddBlocks(ctx, "app", "dan", []string{"ann"}, at(3))
	})
	var entries []herald.InboxEntry
	var hiddenFrom []string
	var ok bool
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		c, err := tx.NextMessagePosition(ctx, "app", "c3")
		if err != nil {
			return err
		}
		m := &herald.Message{ID: "c3-ann", AppID: "app", ConversationID: c.ID, Position: c.LastPosition,
			Sender: herald.Sender{UserID: "ann"}, Parts: []herald.Part{{MimeType: "text/plain", Body: "hi"}}, SentAt: at(4),
			RecipientStatus: map[string]string{"ann": herald.StatusRead, "bob": herald.StatusSent, "carol": herald.StatusSent, "dan": herald.StatusSent}}
		if err := tx.CreateMessage(ctx, m); err != nil {
			return err
		}
		if err := tx.HideFromBlocks(ctx, m); err != nil {
			return err
		}
		entries, hiddenFrom, ok, err = tx.MessageInboxes(ctx, m)
		return err
	})
	if !ok {
		if entries != nil || hiddenFrom != nil {
			t.Fatalf("no inboxes to tell, yet %+v, hidden from %v", entries, hiddenFrom)
		}
		t.Skip("this store does not tell a message's inboxes at no cost")
	}
	users := []string{"ann", "bob", "carol", "dan"}
	var want []*herald.UserConversation
	var wantHidden []string
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		if want, err = q.UserConversationsOf(ctx, "app", "c3", users); err != nil {
			return err
		}
		wantHidden, err = q.MessageHiddenFrom(ctx, "app", "c3-ann", users)
		return err
	})
	if len(entries) != len(want) {
		t.Fatalf("%d inbox entries, want %d: %+v", len(entries), len(want), entries)
	}
	got := map[string]herald.InboxEntry{}
	for _, e := range entries {
		got[e.UserID] = e
	}
	for _, w := range want {
		e, found := got[w.UserID]
		if !found || e.UnreadMessageCount != w.UnreadMessageCount || !e.JoinedAt.Equal(w.JoinedAt) {
			t.Fatalf("%s's entry %+v, want unread %d, joined %v", w.UserID, e, w.UnreadMessageCount, w.JoinedAt)
		}
	}
	// Each has the other two's messages unread; dan has not ann's, which
	// is hidden from him.
	if got["bob"].UnreadMessageCount != 2 || got["ann"].UnreadMessageCount != 2 || got["dan"].UnreadMessageCount != 2 {
		t.Fatalf("unread counts: %+v", entries)
	}
	slices.Sort(hiddenFrom)
	if !slices.Equal(hiddenFrom, []string{"dan"}) || !slices.Equal(hiddenFrom, wantHidden) {
		t.Fatalf("hidden from %v, want [dan] (read: %v)", hiddenFrom, wantHidden)
	}
}

// AcquaintedWith names, of many viewers at once, those whom Acquainted
// says know a user: following them, or sharing a live conversation with
// them; for a few viewers and for more than any statement names one by
// one.
func testAcquaintedWith(t *testing.T, s herald.Store) {
	var crowd []string
	for i := range 20 {
		crowd = append(crowd, fmt.Sprintf("user-%02d", i))
	}
	in := newInbox(t, s, "k1", "ann", "bob", "carol", "user-07")
	in.setParticipants(1, "ann", "bob", "user-07") // carol leaves
	newInbox(t, s, "k2", "ann", "dan")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if _, err := tx.AddFollows(ctx, "app", "eve", []string{"ann"}, at(0)); err != nil {
			return err
		}
		if _, err := tx.AddFollows(ctx, "app", "ann", []string{"gus"}, at(0)); err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, "app", "k2")
		if err != nil {
			return err
		}
		deleted := at(1)
		c.DeletedAt = &deleted
		return tx.UpdateConversation(ctx, c, "")
	})
	few := []string{"bob", "carol", "dan", "eve", "fay", "gus"}
	for _, viewers := range [][]string{few, append(append([]string{}, few...), crowd...)} {
		var got []string
		want := []string{}
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			if got, err = q.AcquaintedWith(ctx, "app", "ann", viewers); err != nil {
				return err
			}
			for _, v := range viewers {
				one, err := q.Acquainted(ctx, "app", v, []string{"ann"})
				if err != nil {
					return err
				}
				if len(one) > 0 {
					want = append(want, v)
				}
			}
			return nil
		})
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || !slices.Contains(got, "bob") || !slices.Contains(got, "eve") || slices.Contains(got, "gus") {
			t.Fatalf("%d viewers: acquainted with ann %v, want %v (bob in k1, eve following; not carol, who left, dan, whose conversation is deleted, gus, whom ann follows)",
				len(viewers), got, want)
		}
		if len(viewers) > len(few) && !slices.Contains(got, "user-07") {
			t.Fatalf("%d viewers: user-07, in k1, not acquainted with ann: %v", len(viewers), got)
		}
	}
}
