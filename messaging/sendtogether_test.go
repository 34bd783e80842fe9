package messaging_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/messaging"
)

// Messages sent at once to one conversation (on PostgreSQL, several to a
// transaction) each get a position of their own, without gaps, and an event
// of their own naming their request, in the order of their positions; a
// refused one fails alone, with its own error.
func TestConcurrentSendsToOneConversation(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		c, _, err := u.s.CreateConversation(u.ctx, u.app, nil, messaging.ConversationInput{Participants: []string{"alice", "bob"}})
		u.ok(err)
		const senders, each = 32, 8
		type sent struct {
			request string
			m       *herald.Message
			err     error
		}
		results := make([][]sent, senders)
		var wg sync.WaitGroup
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					request := fmt.Sprintf("req-%d-%d", g, i)
					sender := []string{"alice", "bob"}[i%2]
					if g%8 == 3 && i == 4 {
						sender = "mallory" // not a participant
					}
					body := request
					m, _, err := u.s.SendMessage(herald.WithRequestID(u.ctx, request), u.app, c.ID, messaging.MessageInput{
						Sender: herald.Sender{UserID: sender},
						Parts:  []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}, "")
					results[g] = append(results[g], sent{request, m, err})
				}
			}()
		}
		wg.Wait()

		requestOf := map[string]string{}
		for g, rs := range results {
			for i, r := range rs {
				if g%8 == 3 && i == 4 {
					u.refused(r.err, herald.EInvalidProperty, "sender.user_id")
					continue
				}
				u.ok(r.err)
				requestOf[r.m.ID] = r.request
			}
		}
		var events []*herald.Event
		u.ok(u.s.Store.View(u.ctx, func(q herald.Queries) (err error) {
			events, err = q.EventsSince(u.ctx, 0, 10_000)
			return err
		}))
		var positions []int64
		for _, e := range events {
			if e.Type != herald.EventMessageSent {
				continue
			}
			data, err := e.DecodeData()
			u.ok(err)
			m := data.Message
			if want := requestOf[m.ID]; e.RequestID != want || want == "" {
				u.Fatalf("message %s's event names request %q, want %q", m.ID, e.RequestID, want)
			}
			if body := m.Parts[0].Body; body != requestOf[m.ID] {
				u.Fatalf("message %s has body %q, sent by %q", m.ID, body, requestOf[m.ID])
			}
			if data.Conversation.LastPosition != m.Position {
				u.Fatalf("message %s at position %d: its event's conversation is at %d", m.ID, m.Position, data.Conversation.LastPosition)
			}
			positions = append(positions, m.Position)
		}
		if len(positions) != len(requestOf) {
			u.Fatalf("%d message.sent events for %d messages", len(positions), len(requestOf))
		}
		for i, p := range positions {
			if p != int64(i+1) {
				u.Fatalf("positions in event order: %v, want 1 to %d", positions, len(positions))
			}
		}
	})
}

// aliceAndBob makes an app with a conversation of alice and bob, and a
// message of alice's to send there.
func aliceAndBob(tb testing.TB, s *messaging.Service) (*herald.App, *herald.Conversation, messaging.MessageInput) {
	tb.Helper()
	ctx := context.Background()
	app, _, err := s.CreateApp(ctx, "alice and bob")
	if err != nil {
		tb.Fatal(err)
	}
	c, _, err := s.CreateConversation(ctx, app.ID, nil, messaging.ConversationInput{Participants: []string{"alice", "bob"}})
	if err != nil {
		tb.Fatal(err)
	}
	body := "hello"
	return app, c, messaging.MessageInput{Sender: herald.Sender{UserID: "alice"},
		Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}
}

// BenchmarkSendsToOneConversation sends messages into one conversation
// from many goroutines at once (16 per core), as a busy group chat's
// clients do: on PostgreSQL, the messages that come while a transaction of
// the conversation runs go together in its next.
func BenchmarkSendsToOneConversation(b *testing.B) {
	for _, e := range enginetest.Engines {
		b.Run(e.Name, func(b *testing.B) {
			store := e.Open(b)
			b.Cleanup(func() { store.Close() })
			s := &messaging.Service{Store: store}
			ctx := context.Background()
			app, c, in := aliceAndBob(b, s)
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := s.SendMessage(ctx, app.ID, c.ID, in, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// panickyStore is a store that says it is shared, so that sends to one
// conversation go through the queue of sends together, and whose next
// Update panics when asked to.
type panickyStore struct {
	herald.Store
	panicNext atomic.Bool
}

func (s *panickyStore) Update(ctx context.Context, fn func(herald.Tx) error) error {
	if s.panicNext.CompareAndSwap(true, false) {
		panic("the store broke")
	}
	return s.Store.Update(ctx, fn)
}

func (s *panickyStore) Watch(func(herald.Change)) {}

// A send that panics fails with an error, and the conversation's next sends
// are not left waiting behind it.
func TestSendThatPanicsLeavesItsConversationUsable(t *testing.T) {
	store := &panickyStore{Store: enginetest.Engines[0].Open(t)}
	t.Cleanup(func() { store.Store.Close() })
	s := &messaging.Service{Store: store}
	ctx := context.Background()
	app, c, in := aliceAndBob(t, s)
	store.panicNext.Store(true)
	if _, _, err := s.SendMessage(ctx, app.ID, c.ID, in, ""); err == nil {
		t.Fatal("the send whose transaction panicked succeeded")
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.SendMessage(ctx, app.ID, c.ID, in, "")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the next send to the conversation still waits")
	}
}
