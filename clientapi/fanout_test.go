package clientapi

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/sqlite"
)

// BenchmarkFanOutMessageSent measures what a message sent into a
// conversation of ten participants, each with a socket open, costs the
// fan-out: the reads and renderings of its change packets for every
// socket, writes aside.
func BenchmarkFanOutMessageSent(b *testing.B) {
	ctx := context.Background()
	fx := newFanoutFixture(b)
	store, svc, a, users, sockets, c := fx.store, fx.svc, fx.api, fx.users, fx.sockets, fx.conv
	app := fx.app
	var last int64
	err := store.View(ctx, func(q herald.Queries) (err error) {
		last, err = q.LastEventSeq(ctx)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		body := fmt.Sprintf("message %d", i)
		if _, _, err := svc.SendMessage(ctx, app, c.ID, messaging.MessageInput{Sender: herald.Sender{UserID: users[i%len(users)]},
			Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}, ""); err != nil {
			b.Fatal(err)
		}
		var events []*herald.Event
		err := store.View(ctx, func(q herald.Queries) (err error) {
			events, err = q.EventsSince(ctx, last, 10)
			return err
		})
		if err != nil || len(events) != 1 {
			b.Fatalf("events after a send: %d, %v", len(events), err)
		}
		e := events[0]
		last = e.Seq
		d, err := e.DecodeData()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		f := newFanout(a.hub, e, d, sockets)
		for _, s := range sockets {
			ps, err := f.packets(s)
			if err != nil || len(ps) != 2 {
				b.Fatalf("%s: %d packets, %v", s.sess.UserID, len(ps), err)
			}
		}
	}
}

// fanoutFixture is a conversation of ten participants with an identity
// each, and a socket of each on a hub of its own.
type fanoutFixture struct {
	store   *sqlite.Store
	svc     *messaging.Service
	api     *API
	app     string
	users   []string
	sockets []*socket
	conv    *herald.Conversation
}

func newFanoutFixture(tb testing.TB) *fanoutFixture {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	svc := &messaging.Service{Store: store, Blobs: blob.Dir{Root: tb.TempDir()}}
	a := &API{}
	srv, err := heraldhttp.New(ctx, svc, "http://127.0.0.1:1", &layerapi.API{}, a)
	if err != nil {
		tb.Fatal(err)
	}
	srv.Handler()
	tb.Cleanup(func() { a.Close() })
	app, _, err := svc.CreateApp(ctx, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	fx := &fanoutFixture{store: store, svc: svc, api: a, app: app.ID}
	for i := range 10 {
		u := fmt.Sprintf("user-%d", i)
		name := fmt.Sprintf("User %d", i)
		if _, _, err := svc.PutIdentity(ctx, app.ID, u, messaging.IdentityInput{DisplayName: &name}, messaging.IdentityReplace); err != nil {
			tb.Fatal(err)
		}
		fx.users = append(fx.users, u)
		s := &socket{hub: a.hub, sess: &herald.Session{AppID: app.ID, UserID: u}, version: layerapi.V20, ctx: ctx, cancel: func() {}}
		// On the hub, which no socket of the API started: nothing routes
		// to them but the tests.
		a.hub.register(s)
		fx.sockets = append(fx.sockets, s)
	}
	distinct := false
	if fx.conv, _, err = svc.CreateConversation(ctx, app.ID, nil, messaging.ConversationInput{Participants: fx.users, Distinct: &distinct}); err != nil {
		tb.Fatal(err)
	}
	return fx
}

func (fx *fanoutFixture) lastSeq(t *testing.T) (last int64) {
	t.Helper()
	ctx := context.Background()
	if err := fx.store.View(ctx, func(q herald.Queries) (err error) { last, err = q.LastEventSeq(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	return last
}

func (fx *fanoutFixture) eventsSince(t *testing.T, seq int64) (events []*herald.Event) {
	t.Helper()
	ctx := context.Background()
	if err := fx.store.View(ctx, func(q herald.Queries) (err error) { events, err = q.EventsSince(ctx, seq, 10); return err }); err != nil {
		t.Fatal(err)
	}
	return events
}

// send sends a text message from sender.
func (fx *fanoutFixture) send(t *testing.T, conv, sender, text string) *herald.Message {
	t.Helper()
	m, _, err := fx.svc.SendMessage(context.Background(), fx.app, conv, messaging.MessageInput{Sender: herald.Sender{UserID: sender},
		Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &text}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The bodies the fan-out assembles from pieces marshalled once are byte for
// byte what encoding/json writes for the same change (escapes included),
// and name the objects by the ids and urls they render with.
func TestFanOutBodiesAreWhatEncodingJSONWrites(t *testing.T) {
	ctx := context.Background()
	fx := newFanoutFixture(t)
	odd := `<b>Zoë & "Ann"</b>` + "\u2028"
	if _, _, err := fx.svc.PutIdentity(ctx, fx.app, fx.users[1], messaging.IdentityInput{DisplayName: &odd}, messaging.IdentityReplace); err != nil {
		t.Fatal(err)
	}
	last := fx.lastSeq(t)
	for i, text := range []string{"hello", odd, "<script>alert('&')</script>"} {
		fx.send(t, fx.conv.ID, fx.users[i], text)
	}
	events := fx.eventsSince(t, last)
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	for _, e := range events {
		d, err := e.DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		m := d.Message
		f := newFanout(fx.api.hub, e, d, fx.sockets)
		for _, s := range fx.sockets {
			ps, err := f.packets(s)
			if err != nil || len(ps) != 2 {
				t.Fatalf("%s: %d packets, %v", s.sess.UserID, len(ps), err)
			}
			var got []string
			for _, p := range ps {
				b := p.body.(changeJSON)
				got = append(got, string(b.head)+string(b.tail))
			}
			// What the user's conversation is now: no later message.
			var uc *herald.UserConversation
			err = fx.store.View(ctx, func(q herald.Queries) error {
				ucs, err := q.UserConversationsOf(ctx, fx.app, fx.conv.ID, []string{s.sess.UserID})
				if len(ucs) == 1 {
					uc = ucs[0]
				}
				return err
			})
			if err != nil || uc == nil {
				t.Fatalf("%s's conversation: %v", s.sess.UserID, err)
			}
			cv := layerapi.NewClientView(fx.api.srv, ctx, fx.app, s.version, "")
			if err := cv.LoadConversations(uc); err != nil {
				t.Fatal(err)
			}
			msg, err := json.Marshal(cv.UserMessage(uc, m))
			if err != nil {
				t.Fatal(err)
			}
			conv, err := json.Marshal(cv.Conversation(uc))
			if err != nil {
				t.Fatal(err)
			}
			var mref, cref objectRef
			if err := json.Unmarshal(msg, &mref); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(conv, &cref); err != nil {
				t.Fatal(err)
			}
			mref.Type, cref.Type = "Message", "Conversation"
			create, _ := json.Marshal(changeBody{Operation: "create", Object: mref, Data: json.RawMessage(msg)})
			unread := uc.UnreadMessageCount
			update, _ := json.Marshal(changeBody{Operation: "update", Object: cref, Data: []any{
				patchOp{Operation: "set", Property: "last_message", ID: mref.ID, Value: json.RawMessage(msg)},
				setOp{Operation: "set", Property: "unread_message_count", Value: unread}}})
			if e.Seq != events[len(events)-1].Seq {
				// Earlier messages' unread counts were lower; only the
				// newest is compared whole.
				if got[0] != string(create) {
					t.Fatalf("%s's create:\n got %s\nwant %s", s.sess.UserID, got[0], create)
				}
				continue
			}
			if uc.LastMessage.ID != m.ID {
				t.Fatalf("last message %s, want %s", uc.LastMessage.ID, m.ID)
			}
			if got[0] != string(create) || got[1] != string(update) {
				t.Fatalf("%s's packets:\n got %s\n     %s\nwant %s\n     %s", s.sess.UserID, got[0], got[1], create, update)
			}
		}
	}
}

// A message's packets show its conversation as the message left it, from
// what its event carries, whatever came after: a participant who has read
// it since still sees it counted unread, and then the receipt's own
// packets take the count down, in order.
func TestFanOutShowsTheConversationAsTheMessageLeftIt(t *testing.T) {
	ctx := context.Background()
	fx := newFanoutFixture(t)
	last := fx.lastSeq(t)
	m := fx.send(t, fx.conv.ID, fx.users[0], "hello")
	if err := fx.svc.PostReceipt(ctx, fx.app, fx.users[1], m.ID, "read"); err != nil {
		t.Fatal(err)
	}
	events := fx.eventsSince(t, last)
	if len(events) < 2 || events[0].Type != herald.EventMessageSent || events[1].Type != herald.EventMessageRead {
		t.Fatalf("events %v", events)
	}
	unreadOf := func(e *herald.Event, s *socket) (counts []float64) {
		t.Helper()
		d, err := e.DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		ps, err := newFanout(fx.api.hub, e, d, fx.sockets).packets(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			b := p.body.(changeJSON)
			var c struct {
				Object objectRef
				Data   json.RawMessage
			}
			if err := json.Unmarshal(append(append([]byte{}, b.head...), b.tail...), &c); err != nil {
				t.Fatal(err)
			}
			var ops []setOp
			if c.Object.Type == "Conversation" && json.Unmarshal(c.Data, &ops) == nil {
				for _, op := range ops {
					if op.Property == "unread_message_count" {
						counts = append(counts, op.Value.(float64))
					}
				}
			}
		}
		return counts
	}
	reader := fx.sockets[1]
	if got := unreadOf(events[0], reader); len(got) != 1 || got[0] != 1 {
		t.Fatalf("the reader's unread count in the message's packets: %v, want [1]", got)
	}
	if got := unreadOf(events[1], reader); len(got) != 1 || got[0] != 0 {
		t.Fatalf("the reader's unread count in the receipt's packets: %v, want [0]", got)
	}
}

// A message's event carries the inboxes it left its participants only when
// one of them has a socket open on the node: no one else would read them.
func TestOnlyMessagesToSocketsCarryInboxes(t *testing.T) {
	ctx := context.Background()
	fx := newFanoutFixture(t)
	distinct := false
	offline, _, err := fx.svc.CreateConversation(ctx, fx.app, nil, messaging.ConversationInput{Participants: []string{"x-1", "x-2"}, Distinct: &distinct})
	if err != nil {
		t.Fatal(err)
	}
	mixed, _, err := fx.svc.CreateConversation(ctx, fx.app, nil, messaging.ConversationInput{Participants: []string{"x-1", fx.users[3]}, Distinct: &distinct})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conv  *herald.Conversation
		carry bool
	}{{offline, false}, {mixed, true}, {fx.conv, true}} {
		last := fx.lastSeq(t)
		fx.send(t, c.conv.ID, c.conv.Participants[0], "hello")
		events := fx.eventsSince(t, last)
		if len(events) != 1 {
			t.Fatalf("%d events", len(events))
		}
		d, err := events[0].DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		if carried := len(d.Inboxes) == len(c.conv.Participants); carried != c.carry || len(d.Inboxes) != 0 && !carried {
			t.Fatalf("a message to %v carries inboxes %+v", c.conv.Participants, d.Inboxes)
		}
	}
}
