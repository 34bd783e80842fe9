package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/heraldhq/herald"
)

// inbox drives a conversation's messages as the messaging service does, and
// checks what each user's inbox says of them.
type inbox struct {
	t    *testing.T
	s    herald.Store
	conv *herald.Conversation
	n    int
}

func newInbox(t *testing.T, s herald.Store, id string, participants ...string) *inbox {
	t.Helper()
	in := &inbox{t: t, s: s, conv: &herald.Conversation{ID: id, AppID: "app", Participants: participants, CreatedAt: at(0)}}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if !appExistsIn(ctx, tx, "app") {
			if err := createApp(ctx, tx, "app"); err != nil {
				return err
			}
		}
		return tx.CreateConversation(ctx, in.conv, "")
	})
	return in
}

func appExistsIn(ctx context.Context, q herald.Queries, id string) bool {
	_, err := q.App(ctx, id)
	return err == nil
}

// send sends a message from sender ("" for a named sender) at minute min,
// and returns its id.
func (in *inbox) send(sender string, min int) string {
	in.t.Helper()
	in.n++
	id := fmt.Sprintf("%s-m%d", in.conv.ID, in.n)
	update(in.t, in.s, func(ctx context.Context, tx herald.Tx) error {
		c, err := tx.NextMessagePosition(ctx, "app", in.conv.ID)
		if err != nil {
			return err
		}
		status := map[string]string{}
		for _, p := range c.Participants {
			status[p] = herald.StatusSent
		}
		s := herald.Sender{Name: "bot"}
		if sender != "" {
			status[sender] = herald.StatusRead
			s = herald.Sender{UserID: sender}
		}
		return tx.CreateMessage(ctx, &herald.Message{ID: id, AppID: "app", ConversationID: c.ID, Position: c.LastPosition,
			Sender: s, Parts: []herald.Part{{MimeType: "text/plain", Body: id}}, SentAt: at(min), RecipientStatus: status})
	})
	return id
}

func (in *inbox) change(id string, f func(m *herald.Message)) {
	in.t.Helper()
	update(in.t, in.s, func(ctx context.Context, tx herald.Tx) error {
		m, err := tx.Message(ctx, "app", id)
		if err != nil {
			return err
		}
		f(m)
		return tx.UpdateMessage(ctx, m)
	})
}

func (in *inbox) receipt(id, user, status string) {
	in.change(id, func(m *herald.Message) { m.RecipientStatus[user] = status })
}

func (in *inbox) delete(id string, min int) {
	in.change(id, func(m *herald.Message) { t := at(min); m.DeletedAt = &t })
}

func (in *inbox) hide(id, user string) {
	in.t.Helper()
	update(in.t, in.s, func(ctx context.Context, tx herald.Tx) error { return tx.HideMessage(ctx, "app", id, user, at(50)) })
}

func (in *inbox) setParticipants(min int, participants ...string) {
	in.t.Helper()
	update(in.t, in.s, func(ctx context.Context, tx herald.Tx) error {
		c, err := tx.Conversation(ctx, "app", in.conv.ID)
		if err != nil {
			return err
		}
		c.Participants = participants
		c.ChangedAt = at(min)
		return tx.UpdateConversation(ctx, c, "")
	})
}

func (in *inbox) view(user string) *herald.UserConversation {
	in.t.Helper()
	var uc *herald.UserConversation
	view(in.t, in.s, func(ctx context.Context, q herald.Queries) (err error) {
		uc, err = q.UserConversation(ctx, "app", user, in.conv.ID)
		return err
	})
	return uc
}

// want checks a user's unread count and last message ("" for none).
func (in *inbox) want(user string, unread int, last string) {
	in.t.Helper()
	uc := in.view(user)
	got := ""
	if uc.LastMessage != nil {
		got = uc.LastMessage.ID
	}
	if uc.UnreadMessageCount != unread || got != last {
		in.t.Fatalf("%s in %s: unread %d, last message %q; want %d, %q", user, in.conv.ID, uc.UnreadMessageCount, got, unread, last)
	}
	if uc.UserID != user || uc.Conversation == nil || uc.ID != in.conv.ID {
		in.t.Fatalf("%s in %s: read as %+v", user, in.conv.ID, uc)
	}
}

// The inbox follows sends, receipts, deletions for everyone and for one
// user's devices, and participants leaving and coming back.
// Positions are taken one or several at a time, in a live conversation
// only, and a transaction rolled back gives back what it took.
func testMessagePositions(t *testing.T, s herald.Store) {
	in := newInbox(t, s, "c-positions", "alice", "bob")
	var got []int64
	take := func(n int) error {
		return s.Update(context.Background(), func(tx herald.Tx) error {
			var c *herald.Conversation
			var err error
			if n == 1 {
				c, err = tx.NextMessagePosition(context.Background(), "app", in.conv.ID)
			} else {
				c, err = tx.NextMessagePositions(context.Background(), "app", in.conv.ID, n)
			}
			if err == nil {
				got = append(got, c.LastPosition)
			}
			return err
		})
	}
	for _, n := range []int{1, 3, 1, 5} {
		if err := take(n); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != "[1 4 5 10]" {
		t.Fatalf("last positions %v, want [1 4 5 10]", got)
	}
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		if _, err := tx.NextMessagePositions(context.Background(), "app", in.conv.ID, 4); err != nil {
			return err
		}
		return herald.Errorf(herald.EInvalidRequest, "refused")
	})
	if e, ok := herald.AsError(err); !ok || e.ID != herald.EInvalidRequest {
		t.Fatalf("rolled back with %v", err)
	}
	if err := take(2); err != nil || got[len(got)-1] != 12 {
		t.Fatalf("after a rollback: last position %v, %v; want 12", got[len(got)-1], err)
	}
	err = s.Update(context.Background(), func(tx herald.Tx) error {
		_, err := tx.NextMessagePositions(context.Background(), "app", "no-such-conversation", 2)
		return err
	})
	if !herald.IsNotFound(err) {
		t.Fatalf("positions of a missing conversation: %v, want not_found", err)
	}
}

func testInboxCounts(t *testing.T, s herald.Store) {
	in := newInbox(t, s, "c1", "alice", "bob", "carol")
	in.want("alice", 0, "")
	if uc := in.view("bob"); !uc.ActiveAt.Equal(at(0)) || !uc.JoinedAt.Equal(at(0)) || uc.ReceivedAt(&herald.Message{SentAt: at(3)}) != at(3) {
		t.Fatalf("new conversation: %+v", uc)
	}
	m1 := in.send("alice", 1)
	m2 := in.send("bob", 2)
	m3 := in.send("", 3)
	in.want("alice", 2, m3)
	in.want("bob", 2, m3)
	in.want("carol", 3, m3)
	if uc := in.view("carol"); !uc.ActiveAt.Equal(at(3)) || uc.LastMessage.Position != 3 {
		t.Fatalf("after three messages: active at %v, last position %d", uc.ActiveAt, uc.LastMessage.Position)
	}

	// Receipts: delivery changes nothing, read counts once.
	in.receipt(m1, "carol", herald.StatusDelivered)
	in.want("carol", 3, m3)
	in.receipt(m1, "carol", herald.StatusRead)
	in.want("carol", 2, m3)
	in.receipt(m2, "carol", herald.StatusRead)
	in.want("carol", 1, m3)

	// Deleted from bob's devices: one unread less for bob alone, and his
	// last message is the one before.
	in.hide(m3, "bob")
	in.want("bob", 1, m2)
	in.want("alice", 2, m3)
	in.hide(m3, "bob") // again: nothing changes
	in.want("bob", 1, m2)

	// Deleted for everyone: it counts for nobody, and the last message of
	// those who had it goes back one.
	in.delete(m3, 4)
	in.want("alice", 1, m2)
	in.want("bob", 1, m2)
	in.want("carol", 0, m2)
	if uc := in.view("alice"); !uc.ActiveAt.Equal(at(2)) {
		t.Fatalf("after the last message was deleted, active at %v, want %v", uc.ActiveAt, at(2))
	}
	// A read receipt on a message hidden from one's devices changes
	// nothing for them; deleting all down to none leaves the creation.
	in.hide(m1, "bob")
	in.want("bob", 0, m2)
	in.receipt(m1, "bob", herald.StatusRead)
	in.want("bob", 0, m2)
	in.delete(m2, 5)
	in.want("bob", 0, "")
	in.want("alice", 0, m1)
	if uc := in.view("bob"); !uc.ActiveAt.Equal(at(0)) {
		t.Fatalf("with no message left, active at %v, want the creation", uc.ActiveAt)
	}

	// Carol leaves with an unread message; what happens meanwhile is not
	// hers, but a deletion of what counted for her still counts.
	m4 := in.send("alice", 6)
	in.want("carol", 1, m4)
	in.setParticipants(7, "alice", "bob")
	if found(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.UserConversation(ctx, "app", "carol", "c1")
		return err
	}) {
		t.Fatal("a former participant still sees the conversation")
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for user, want := range map[string]bool{"carol": true, "alice": false, "zed": false} {
			former, err := q.FormerParticipant(ctx, "app", user, "c1")
			if err != nil {
				return err
			}
			if former != want {
				t.Errorf("FormerParticipant(%s) = %v, want %v", user, former, want)
			}
		}
		return nil
	})
	m5 := in.send("bob", 8)
	in.want("alice", 1, m5)
	// Back, with what she had unread still unread, and the newest message
	// as her last, received as she joined.
	in.setParticipants(9, "alice", "bob", "carol")
	in.want("carol", 1, m5)
	uc := in.view("carol")
	if !uc.JoinedAt.Equal(at(9)) || !uc.ReceivedAt(uc.LastMessage).Equal(at(9)) {
		t.Fatalf("re-added: joined %v, received the last message %v; want %v", uc.JoinedAt, uc.ReceivedAt(uc.LastMessage), at(9))
	}
	in.delete(m4, 10)
	in.want("carol", 0, m5)
	in.want("alice", 1, m5)

	// A newcomer sees the history, none of it unread.
	in.setParticipants(11, "alice", "bob", "carol", "dave")
	in.want("dave", 0, m5)
	m6 := in.send("dave", 12)
	in.want("dave", 0, m6)
	in.want("carol", 1, m6)

	// A deleted conversation is in nobody's inbox.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		c, err := tx.Conversation(ctx, "app", "c1")
		if err != nil {
			return err
		}
		d := at(13)
		c.DeletedAt = &d
		return tx.UpdateConversation(ctx, c, "")
	})
	wantNotFound(t, "a deleted conversation's inbox", s.View(context.Background(), func(q herald.Queries) error {
		_, err := q.UserConversation(context.Background(), "app", "alice", "c1")
		return err
	}))
}

// A user's conversations list in creation order or by last message, and
// page alike under both; counts and badges follow.
func testInboxListing(t *testing.T, s herald.Store) {
	// Created in id order: a, b, c, d. Messages make the order by last
	// message c, a, d (no message: its creation, after the others'), b.
	var convs []*inbox
	for i, id := range []string{"conv-a", "conv-b", "conv-c", "conv-d"} {
		in := newInbox(t, s, id, "u", "v")
		in.conv.CreatedAt = at(i)
		convs = append(convs, in)
	}
	// conv-d was created at minute 0 by newInbox; its creation is its
	// activity.
	convs[1].send("v", 1)
	convs[0].send("v", 3)
	convs[2].send("u", 5)
	convs[2].send("v", 6)
	newInbox(t, s, "conv-e", "v") // not u's

	list := func(sort string, p herald.Page) []string {
		t.Helper()
		var ids []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			ucs, err := q.UserConversations(ctx, "app", "u", sort, p)
			for _, uc := range ucs {
				ids = append(ids, uc.ID)
			}
			return err
		})
		return ids
	}
	walk := func(sort string, size int) []string {
		t.Helper()
		var all []string
		p := herald.Page{Limit: size}
		for {
			page := list(sort, p)
			all = append(all, page...)
			if len(page) < size {
				return all
			}
			p.Before = page[len(page)-1]
		}
	}
	for _, c := range []struct {
		sort string
		want []string
	}{
		{herald.SortCreatedAt, []string{"conv-d", "conv-c", "conv-b", "conv-a"}},
		{herald.SortLastMessage, []string{"conv-c", "conv-a", "conv-b", "conv-d"}},
	} {
		for _, size := range []int{1, 2, 3, 10} {
			same(t, fmt.Sprintf("%s listing, %d a page", c.sort, size), walk(c.sort, size), c.want)
		}
	}
	// Rows of the listing carry what a single read does.
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		ucs, err := q.UserConversations(ctx, "app", "u", herald.SortLastMessage, herald.Page{Limit: 10})
		if err != nil {
			return err
		}
		for _, uc := range ucs {
			one, err := q.UserConversation(ctx, "app", "u", uc.ID)
			if err != nil {
				return err
			}
			same(t, "listed and read alone", uc, one)
		}
		if ucs[0].UnreadMessageCount != 1 || ucs[0].LastMessage == nil || ucs[0].LastMessage.Position != 2 {
			t.Fatalf("conv-c as u sees it: %+v", ucs[0])
		}
		// A from_id that is not one of u's conversations.
		_, err = q.UserConversations(ctx, "app", "u", herald.SortLastMessage, herald.Page{Before: "conv-e", Limit: 10})
		wantNotFound(t, "paging from another user's conversation", err)
		n, err := q.CountUserConversations(ctx, "app", "u")
		if err != nil || n != 4 {
			t.Fatalf("u has %d conversations (%v), want 4", n, err)
		}
		if n, err = q.CountConversations(ctx, "app"); err != nil || n != 5 {
			t.Fatalf("the app has %d conversations (%v), want 5", n, err)
		}
		return nil
	})

	// Badges: u has unread messages in conv-a, conv-b and conv-c.
	badge := func(user string) herald.Badge {
		t.Helper()
		var b *herald.Badge
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			b, err = q.Badge(ctx, "app", user)
			return err
		})
		return *b
	}
	same(t, "u's badge", badge("u"), herald.Badge{UnreadConversationCount: 3, UnreadMessageCount: 3})
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.SetExternalUnreadCount(ctx, "app", "u", 13) })
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.SetExternalUnreadCount(ctx, "app", "u", 7) })
	same(t, "u's badge with an external count", badge("u"), herald.Badge{ExternalUnreadCount: 7, UnreadConversationCount: 3, UnreadMessageCount: 3})
	same(t, "a stranger's badge", badge("nobody"), herald.Badge{})
	convs[2].receipt("conv-c-m2", "u", herald.StatusRead)
	same(t, "u's badge after a read", badge("u"), herald.Badge{ExternalUnreadCount: 7, UnreadConversationCount: 2, UnreadMessageCount: 2})
}

// Message counts leave out what is deleted, and for a viewer what they
// deleted from their devices; UnreadMessages finds what a user has not
// read, below a position, newest first.
func testInboxMessages(t *testing.T, s herald.Store) {
	in := newInbox(t, s, "c", "u", "v")
	var ids []string
	for i := range 6 {
		ids = append(ids, in.send("v", i))
	}
	in.send("u", 7)
	in.receipt(ids[1], "u", herald.StatusRead)
	in.receipt(ids[2], "u", herald.StatusDelivered)
	in.hide(ids[3], "u")
	in.delete(ids[4], 8)
	count := func(viewer string) int {
		t.Helper()
		var n int
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			n, err = q.CountMessages(ctx, "app", "c", viewer)
			return err
		})
		return n
	}
	if got := count(""); got != 6 {
		t.Fatalf("%d messages, want 6", got)
	}
	if got := count("u"); got != 5 {
		t.Fatalf("%d messages for u, want 5", got)
	}
	unread := func(before int64, limit int) []string {
		t.Helper()
		var got []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			ms, err := q.UnreadMessages(ctx, "app", "c", "u", before, limit)
			for _, m := range ms {
				got = append(got, m.ID)
			}
			return err
		})
		return got
	}
	same(t, "u's unread messages", unread(100, 10), []string{ids[5], ids[2], ids[0]})
	same(t, "u's unread messages, two", unread(100, 2), []string{ids[5], ids[2]})
	same(t, "u's unread messages below position 3", unread(3, 10), []string{ids[0]})
	in.want("u", 3, "c-m7")
}

// InboxMigration checks that the migration adding users' inboxes (SQLite's
// version 13, PostgreSQL's 14) counts what was unread before it: db is a
// database at version 12, and open opens it as a store, migrating it.
func InboxMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	exec := execer(t, db)
	exec(`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`)
	exec(`INSERT INTO conversations (id, app_id, participants, created_at, last_position) VALUES
		('c', 'app', '["u","v","w"]', $1, 4), ('gone', 'app', '["u"]', $1, 0)`, at(0).UnixMicro())
	exec(`UPDATE conversations SET deleted_at = 1 WHERE id = 'gone'`)
	exec(`INSERT INTO conversation_participants (app_id, user_id, conversation_id) VALUES
		('app', 'u', 'c'), ('app', 'v', 'c'), ('app', 'w', 'c')`)
	for i, m := range []struct{ status, deleted string }{
		{`{"u":"read","v":"sent","w":"delivered"}`, ""},
		{`{"u":"read","v":"read","w":"sent"}`, ""},
		{`{"u":"sent","v":"read","w":"sent"}`, ""},
		{`{"u":"sent","v":"read","w":"sent"}`, "deleted"},
	} {
		var deleted any
		if m.deleted != "" {
			deleted = at(9).UnixMicro()
		}
		exec(`INSERT INTO messages (id, app_id, conversation_id, position, sender_user_id, parts, sent_at, recipient_status, deleted_at)
			VALUES ($1, 'app', 'c', $2, 'x', '[]', $3, $4, $5)`, fmt.Sprint("m", i+1), i+1, at(i+1).UnixMicro(), m.status, deleted)
	}
	exec(`INSERT INTO message_hidden (message_id, user_id, hidden_at) VALUES ('m3', 'w', 0)`)
	db.Close()

	in := &inbox{t: t, s: open(t), conv: &herald.Conversation{ID: "c"}}
	in.want("u", 1, "m3")
	in.want("v", 1, "m3")
	in.want("w", 2, "m2")
	if uc := in.view("w"); !uc.ActiveAt.Equal(at(2)) || !uc.JoinedAt.Equal(at(0)) {
		t.Fatalf("w after the migration: active at %v, joined %v", uc.ActiveAt, uc.JoinedAt)
	}
	// And the inbox goes on from there.
	in.receipt("m1", "w", herald.StatusRead)
	in.want("w", 1, "m2")
}
