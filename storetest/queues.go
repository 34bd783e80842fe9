package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// The backlog of each webhook with pending deliveries: how many, the
// oldest's creation; delivered and failed ones are no backlog, and the
// bound on the deliveries read is reported when reached.
func testWebhookQueues(t *testing.T, s herald.Store) {
	pending := func(i int, webhook, key string, created int) *herald.Delivery {
		d := newDelivery(i, webhook, key)
		d.CreatedAt = at(created)
		return d
	}
	done := func(i int, webhook, status string) *herald.Delivery {
		d := pending(i, webhook, "", 0)
		d.Status = status
		return d
	}
	seed(t, s, []*herald.Webhook{newWebhook("app", "w1"), newWebhook("app", "w2"), newWebhook("app", "w3")},
		[]*herald.Delivery{
			done(1, "w1", herald.DeliveryDelivered),
			pending(2, "w1", "conv", 3), pending(3, "w1", "conv", 4), // the second held behind the first
			pending(4, "w1", "", 2),
			done(5, "w2", herald.DeliveryFailed), pending(6, "w2", "", 7),
			done(7, "w3", herald.DeliveryDelivered), done(8, "w3", herald.DeliveryFailed),
		})
	read := func(limit int) ([]herald.WebhookQueue, bool) {
		t.Helper()
		var qs []herald.WebhookQueue
		var truncated bool
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			qs, truncated, err = q.WebhookQueues(ctx, limit)
			return err
		})
		return qs, truncated
	}
	qs, truncated := read(100)
	if truncated || len(qs) != 2 {
		t.Fatalf("queues %+v, truncated %v; want w1 and w2, whole", qs, truncated)
	}
	want := []herald.WebhookQueue{{WebhookID: "w1", Pending: 3, OldestCreatedAt: at(2)}, {WebhookID: "w2", Pending: 1, OldestCreatedAt: at(7)}}
	for i, w := range want {
		if q := qs[i]; q.WebhookID != w.WebhookID || q.Pending != w.Pending || !q.OldestCreatedAt.Equal(w.OldestCreatedAt) {
			t.Errorf("queue %d: %+v, want %+v", i, q, w)
		}
	}
	qs, truncated = read(2)
	total := 0
	for _, q := range qs {
		total += q.Pending
	}
	if !truncated || total != 2 {
		t.Errorf("bounded to 2: queues %+v (%d deliveries), truncated %v; want 2 deliveries, truncated", qs, total, truncated)
	}
}

// The id of the request that recorded an event stays with it, and with its
// deliveries, however they are read back.
func testRequestIDs(t *testing.T, s herald.Store) {
	withID, err := herald.NewEvent("e1", "app", herald.EventMessageSent, at(0), nil, &herald.EventData{})
	if err != nil {
		t.Fatal(err)
	}
	withID.RequestID = "req-1"
	without, err := herald.NewEvent("e2", "app", herald.EventMessageSent, at(0), nil, &herald.EventData{})
	if err != nil {
		t.Fatal(err)
	}
	d := newDelivery(1, "w", "")
	d.RequestID = "req-1"
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, []*herald.Delivery{d, newDelivery(2, "w", "")})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.AppendEvent(ctx, withID); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, without)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		events, err := q.EventsSince(ctx, 0, 10)
		if err != nil {
			return err
		}
		if len(events) != 2 || events[0].RequestID != "req-1" || events[1].RequestID != "" {
			t.Errorf("events read back: %+v", events)
		}
		got, err := q.Delivery(ctx, "app", deliveryID(1))
		if err != nil {
			return err
		}
		if got.RequestID != "req-1" {
			t.Errorf("delivery read back with request id %q, want req-1", got.RequestID)
		}
		return nil
	})
	claimed := claim(t, s, "n", at(1), at(2), 10)
	ids := map[string]string{}
	for _, c := range claimed {
		ids[c.ID] = c.RequestID
	}
	if len(ids) != 2 || ids[deliveryID(1)] != "req-1" || ids[deliveryID(2)] != "" {
		t.Errorf("claimed deliveries' request ids: %v", ids)
	}
}
