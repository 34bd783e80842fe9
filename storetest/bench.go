package storetest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
)

// Bench measures an engine's delivery hot paths: enqueueing, claiming and
// completing deliveries, each alone and then in turn. open returns a fresh,
// empty, migrated store and registers its Close with b.Cleanup; every run
// of a sub-benchmark gets its own, so that no run inherits another's rows.
//
// Besides ns/op, each sub-benchmark reports ns/delivery, the cost of one
// delivery whatever the batch, to compare batch sizes.
func Bench(b *testing.B, open func(b *testing.B) herald.Store) {
	for _, c := range []struct {
		name    string
		run     func(b *testing.B, s herald.Store, n int)
		batches []int
	}{
		{"Enqueue", benchEnqueue, []int{1, 64}},
		{"Claim", benchClaim, []int{1, 64}},
		{"Complete", benchComplete, []int{1, 64}},
		{"Cycle", benchCycle, []int{64}},
		{"Queue", benchQueue, []int{64}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for _, n := range c.batches {
				b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
					s := open(b)
					benchUpdate(b, s, func(tx herald.Tx) error {
						ctx := context.Background()
						if err := createApp(ctx, tx, "app"); err != nil {
							return err
						}
						return tx.CreateWebhook(ctx, newWebhook("app", "w"))
					})
					b.ReportAllocs()
					c.run(b, s, n)
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
				})
			}
		})
	}
}

// benchEnqueue: each op creates n deliveries, their ordering keys spread over
// many conversations, most of them behind an unfinished delivery of theirs,
// as events pile up for a busy receiver.
func benchEnqueue(b *testing.B, s herald.Store, n int) {
	src := &benchDeliveries{b: b, key: conversationKey}
	b.ResetTimer()
	for range b.N {
		ds := src.next(n)
		benchUpdate(b, s, func(tx herald.Tx) error { return tx.CreateDeliveries(context.Background(), ds) })
	}
}

// benchClaim: each op claims n due deliveries of a backlog of a fixed size.
// A claim moves a delivery's next attempt to the end of its lease, after
// which the delivery is due again like a fresh one; so each round of claims
// leases until the next round begins, and the same backlog serves any b.N
// with nothing made between ops and the table the same size throughout.
func benchClaim(b *testing.B, s herald.Store, n int) {
	const backlog = benchChunk // a multiple of every batch, so no claim comes up short
	// No ordering keys: a held delivery is not claimable.
	src := &benchDeliveries{b: b, key: func(int) string { return "" }}
	for range backlog / 512 {
		ds := src.next(512)
		benchUpdate(b, s, func(tx herald.Tx) error { return tx.CreateDeliveries(context.Background(), ds) })
	}
	round, claimed := 0, 0
	b.ResetTimer()
	for range b.N {
		if claimed == backlog {
			round, claimed = round+1, 0
		}
		now, leaseUntil := at(10*(round+1)), at(10*(round+2))
		var got []*herald.Delivery
		benchUpdate(b, s, func(tx herald.Tx) (err error) {
			got, err = tx.ClaimDeliveries(context.Background(), "node", now, leaseUntil, n, herald.ClaimCaps{})
			return err
		})
		if len(got) != n {
			b.Fatalf("claimed %d deliveries, want %d", len(got), n)
		}
		claimed += n
	}
}

// benchComplete: each op records n successful attempts. The deliveries are
// made and claimed a chunk at a time with the timer stopped; those completed
// in the previous chunk are pruned first, as retention would, so that the
// tables hold about one chunk whatever b.N.
func benchComplete(b *testing.B, s herald.Store, n int) {
	// Unique ordering keys keep every delivery claimable, and have each
	// completion look for a held successor to release, as it does for the
	// events of a conversation.
	src := &benchDeliveries{b: b, key: func(seq int) string { return fmt.Sprint("conv-", seq) }}
	left := b.N * n
	var ready []herald.Completion
	refill := func() {
		b.StopTimer()
		defer b.StartTimer()
		benchUpdate(b, s, func(tx herald.Tx) error {
			_, err := tx.PruneDeliveries(context.Background(), at(12), benchChunk)
			return err
		})
		ds := src.next(min(left, benchChunk))
		var claimed []*herald.Delivery
		benchUpdate(b, s, func(tx herald.Tx) (err error) {
			ctx := context.Background()
			if err := tx.CreateDeliveries(ctx, ds); err != nil {
				return err
			}
			claimed, err = tx.ClaimDeliveries(ctx, "node", at(10), at(100), len(ds), herald.ClaimCaps{})
			return err
		})
		if len(claimed) != len(ds) {
			b.Fatalf("claimed %d deliveries, want %d", len(claimed), len(ds))
		}
		ready = make([]herald.Completion, len(claimed))
		for i, d := range claimed {
			ready[i] = benchDelivered(d, new(herald.Attempt))
		}
	}
	var last string
	b.ResetTimer()
	for range b.N {
		if len(ready) == 0 {
			refill()
		}
		cs := ready[:n:n]
		ready, left = ready[n:], left-n
		benchUpdate(b, s, func(tx herald.Tx) error { return completeAll(context.Background(), tx, cs) })
		last = cs[n-1].Delivery.ID
	}
	b.StopTimer()
	var got *herald.Delivery
	err := s.View(context.Background(), func(q herald.Queries) (err error) {
		got, err = q.Delivery(context.Background(), "app", last)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if got.Status != herald.DeliveryDelivered || got.Attempts != 1 || got.DeliveredAt == nil ||
		got.LastStatusCode != 200 || got.LeaseUntil != nil {
		b.Fatalf("completed delivery reads back as %+v", got)
	}
}

// benchCycle: each op enqueues n deliveries, claims them and completes them,
// three updates as a node makes them, with the ordering keys of many
// conversations: the engine's steady state for a receiver that keeps up.
func benchCycle(b *testing.B, s herald.Store, n int) {
	src := &benchDeliveries{b: b, key: conversationKey}
	attempts, cs := make([]herald.Attempt, n), make([]herald.Completion, n)
	b.ResetTimer()
	for range b.N {
		ds := src.next(n)
		benchUpdate(b, s, func(tx herald.Tx) error { return tx.CreateDeliveries(context.Background(), ds) })
		var got []*herald.Delivery
		benchUpdate(b, s, func(tx herald.Tx) (err error) {
			got, err = tx.ClaimDeliveries(context.Background(), "node", at(10), at(100), n, herald.ClaimCaps{})
			return err
		})
		// Fewer would mean that a batch's deliveries held one another: their
		// conversations must differ.
		if len(got) != n {
			b.Fatalf("claimed %d deliveries, want %d", len(got), n)
		}
		for i, d := range got {
			cs[i] = benchDelivered(d, &attempts[i])
		}
		benchUpdate(b, s, func(tx herald.Tx) error { return completeAll(context.Background(), tx, cs) })
	}
}

func benchUpdate(b *testing.B, s herald.Store, fn func(tx herald.Tx) error) {
	b.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		b.Fatal(err)
	}
}

// benchChunk is how many deliveries are made at a time with the timer
// stopped; a multiple of every batch size.
const benchChunk = 4096

// benchSeq numbers every benchmark delivery, so that no id comes twice.
var benchSeq atomic.Int64

// conversationKey spreads deliveries over a thousand conversations.
func conversationKey(seq int) string { return fmt.Sprint("conv-", seq%1000) }

// benchBody is about the size of a rendered message event.
var benchBody = []byte(`{"event":{"type":"message.sent","created_at":"2025-03-04T05:06:07Z"},"message":{"id":"layer:///messages/` +
	`0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","conversation":{"id":"layer:///conversations/0190a1b2-c3d4-7e5f-8a9b-` +
	`0c1d2e3f4a5c"},"sender":{"user_id":"alice"},"parts":[{"mime_type":"text/plain","body":"` +
	strings.Repeat("lorem ipsum ", 70) + `"}]}}`)

// benchDeliveries hands out fresh pending deliveries, due from the start.
// It makes them a chunk at a time with the timer stopped, so that an op
// measures the store rather than the making of its arguments.
type benchDeliveries struct {
	b   *testing.B
	key func(seq int) string
	buf []*herald.Delivery
}

func (src *benchDeliveries) next(n int) []*herald.Delivery {
	if len(src.buf) < n {
		src.b.StopTimer()
		src.buf = make([]*herald.Delivery, max(n, benchChunk))
		for i := range src.buf {
			seq := int(benchSeq.Add(1))
			d := newDelivery(seq, "w", src.key(seq))
			d.Body = benchBody
			src.buf[i] = d
		}
		src.b.StartTimer()
	}
	ds := src.buf[:n:n]
	src.buf = src.buf[n:]
	return ds
}

var (
	benchDone    = at(11)
	benchHeaders = http.Header{"Content-Type": {"application/json"}, "Date": {"Tue, 04 Mar 2025 05:17:07 GMT"}}
	benchReply   = []byte(`{"ok":true}`)
)

// benchDelivered makes claimed delivery d delivered, and a its attempt, with
// a response a receiver might give.
func benchDelivered(d *herald.Delivery, a *herald.Attempt) herald.Completion {
	d.Status, d.Attempts, d.NextAttemptAt, d.LastStatusCode = herald.DeliveryDelivered, 1, benchDone, 200
	d.DeliveredAt = &benchDone
	*a = herald.Attempt{DeliveryID: d.ID, StartedAt: benchDone.Add(-40 * time.Millisecond), Duration: 40 * time.Millisecond,
		StatusCode: 200, ResponseHeaders: benchHeaders, ResponseBody: benchReply}
	return herald.Completion{Delivery: d, Attempt: a}
}

// BenchWebhookReads measures the reads of webhooks on the delivery path
// (every webhook per fan-out pass, those of the deliveries claimed per
// dispatcher turn), 10 webhooks with every key, with their secrets in
// plaintext (a nil keyring) and sealed: open returns a fresh, empty,
// migrated store sealing with k.
func BenchWebhookReads(b *testing.B, open func(b *testing.B, k *keyring.Keyring) herald.Store) {
	for _, c := range []struct {
		name string
		keys *keyring.Keyring
	}{{"plaintext", nil}, {"sealed", Keyring}} {
		b.Run(c.name, func(b *testing.B) {
			s := open(b, c.keys)
			var ids []string
			benchUpdate(b, s, func(tx herald.Tx) error {
				ctx := context.Background()
				if err := createApp(ctx, tx, "app"); err != nil {
					return err
				}
				for i := range 10 {
					w := keyedWebhook(fmt.Sprint("w", i))
					ids = append(ids, w.ID)
					if err := tx.CreateWebhook(ctx, w); err != nil {
						return err
					}
				}
				return nil
			})
			for _, read := range []struct {
				name string
				fn   func(ctx context.Context, q herald.Queries) ([]*herald.Webhook, error)
			}{
				{"Webhooks", func(ctx context.Context, q herald.Queries) ([]*herald.Webhook, error) { return q.Webhooks(ctx, "") }},
				{"WebhooksByID", func(ctx context.Context, q herald.Queries) ([]*herald.Webhook, error) {
					return q.WebhooksByID(ctx, ids)
				}},
			} {
				b.Run(read.name, func(b *testing.B) {
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						err := s.View(ctx, func(q herald.Queries) error {
							ws, err := read.fn(ctx, q)
							if err == nil && len(ws) != 10 {
								b.Fatalf("read %d webhooks", len(ws))
							}
							return err
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
