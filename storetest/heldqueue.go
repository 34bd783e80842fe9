package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// testHeldDeliveriesFollowTheirHead covers a queue sent at the receiver's
// speed: the worker holding its head reads what is held behind it, in event
// order, sends it, and records every outcome at once, in more completions
// than one statement takes; the release comes after the last of them.
func testHeldDeliveriesFollowTheirHead(t *testing.T, s herald.Store) {
	var a []*herald.Delivery
	for i := range 100 {
		a = append(a, newDelivery(i+1, "w", "a"))
	}
	b1, b2 := newDelivery(201, "w", "b"), newDelivery(202, "w", "b")
	c1, c2 := newDelivery(301, "w2", "a"), newDelivery(302, "w2", "a")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w"), newWebhook("app", "w2")}, append(a, b1, b2, c1, c2))
	claimed := claim(t, s, "n", at(1), at(60), 10)
	sameSet(t, "claimed", ids(claimed), ids([]*herald.Delivery{a[0], b1, c1}))

	held := func(webhook, key string, after int64, limit int) []string {
		t.Helper()
		var ds []*herald.Delivery
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			ds, err = q.HeldDeliveries(ctx, webhook, key, after, limit)
			return err
		})
		for _, d := range ds {
			if !d.Held || d.Status != herald.DeliveryPending || d.LeaseUntil != nil || string(d.Body) == "" {
				t.Fatalf("held delivery read as %+v", d)
			}
		}
		return ids(ds)
	}
	sameList(t, "held behind a1", held("w", "a", a[0].EventSeq, 3), ids(a[1:4]))
	sameList(t, "held behind a5", held("w", "a", a[4].EventSeq, 2), ids(a[5:7]))
	sameList(t, "held behind b1", held("w", "b", b1.EventSeq, 10), ids([]*herald.Delivery{b2}))
	sameList(t, "held behind the last", held("w", "a", a[99].EventSeq, 10), nil)

	complete := func(ds []*herald.Delivery, retryLast bool, lease herald.Lease) (leased []*herald.Delivery, released int) {
		t.Helper()
		var cs []herald.Completion
		for i, d := range ds {
			d.Attempts, d.LastStatusCode = 1, 200
			d.Status, d.DeliveredAt = herald.DeliveryDelivered, ptr(at(2))
			if retryLast && i == len(ds)-1 {
				d.LastStatusCode, d.Status, d.DeliveredAt, d.NextAttemptAt = 500, herald.DeliveryPending, nil, at(3)
			}
			cs = append(cs, herald.Completion{Delivery: d, Attempt: &herald.Attempt{DeliveryID: d.ID, StartedAt: at(2),
				StatusCode: d.LastStatusCode}})
		}
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			leased, released, err = tx.CompleteDeliveries(ctx, cs, lease)
			return err
		})
		return leased, released
	}
	// a1 and the 69 held behind it, sent one after the other: the next one
	// released is a71, not a delivery of the first chunk's queue that a
	// later chunk records.
	leased, released := complete(a[:70], false, herald.Lease{Node: "n", Now: at(2), Until: at(60), Limit: 10})
	if released != 1 || len(leased) != 1 || leased[0].ID != a[70].ID || leased[0].Held {
		t.Fatalf("after a1–a70, released %d and leased %v, want a71", released, ids(leased))
	}
	for _, d := range a[:70] {
		if got := readDelivery(t, s, d.ID); got.Status != herald.DeliveryDelivered || got.Held || got.LeaseUntil != nil {
			t.Fatalf("%s after its completion: %+v", d.ID, got)
		}
	}
	// a71 to a80, the last of them to be retried: it becomes the queue's
	// head, free, and nothing is released behind it.
	leased, released = complete(a[70:80], true, herald.Lease{Node: "n", Now: at(2), Until: at(60), Limit: 10})
	if released != 0 || len(leased) != 0 {
		t.Fatalf("a retried delivery released %d, leased %v", released, ids(leased))
	}
	if got := readDelivery(t, s, a[79].ID); got.Held || got.Status != herald.DeliveryPending || got.LeaseUntil != nil {
		t.Fatalf("the delivery to retry is %+v, want pending and free", got)
	}
	sameList(t, "held behind a80", held("w", "a", a[79].EventSeq, 3), ids(a[80:83]))
	sameSet(t, "due at the retry", ids(claim(t, s, "n", at(3).Add(time.Second), at(60), 10)), ids([]*herald.Delivery{a[79]}))
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
}
