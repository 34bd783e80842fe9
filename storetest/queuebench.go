package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// benchQueue: one conversation's deliveries as a busy receiver takes them.
// Each op is what the store does for n of them: they are created, the
// first leased and the others held behind it; the worker holding the first
// reads those held behind it and sends them in turn; all n outcomes are
// recorded at once, which releases the next delivery of the queue. Each
// op's deliveries extend the same queue, as many as it records.
func benchQueue(b *testing.B, s herald.Store, n int) {
	const key = "hot"
	src := &benchDeliveries{b: b, key: func(int) string { return key }}
	// A head, and one op's worth behind it.
	first := src.next(n)
	benchUpdate(b, s, func(tx herald.Tx) error { return tx.CreateDeliveries(context.Background(), first) })
	head := first[0]
	b.ResetTimer()
	for range b.N {
		ds := src.next(n)
		benchUpdate(b, s, func(tx herald.Tx) error { return tx.CreateDeliveries(context.Background(), ds) })
		var held []*herald.Delivery
		if err := s.View(context.Background(), func(q herald.Queries) (err error) {
			held, err = q.HeldDeliveries(context.Background(), "w", key, head.EventSeq, n-1)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if len(held) != n-1 {
			b.Fatalf("%d held behind the head, want %d", len(held), n-1)
		}
		run := append([]*herald.Delivery{head}, held...)
		cs := make([]herald.Completion, n)
		attempts := make([]herald.Attempt, n)
		for i, d := range run {
			cs[i] = benchDelivered(d, &attempts[i])
		}
		var leased []*herald.Delivery
		benchUpdate(b, s, func(tx herald.Tx) (err error) {
			leased, _, err = tx.CompleteDeliveries(context.Background(), cs,
				herald.Lease{Node: "node", Now: at(1), Until: at(2), Limit: 1})
			return err
		})
		if len(leased) != 1 {
			b.Fatalf("the queue's next delivery was not leased: %d", len(leased))
		}
		head = leased[0]
	}
}
