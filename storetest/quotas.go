package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// An app's webhooks are counted and listed a page at a time, newest first;
// another app's, and those marked deleted, are not among them.
func testCountAndListWebhooks(t *testing.T, s herald.Store) {
	var ws []*herald.Webhook
	for i := range 5 {
		ws = append(ws, newWebhook("app", fmt.Sprintf("01900000-0000-7000-8000-00000000000%d", i)))
	}
	other := newWebhook("other", "01900000-0000-7000-8000-000000000009")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, w := range append(slices.Clone(ws), other) {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return tx.MarkWebhookDeleted(ctx, "app", ws[2].ID)
	})
	count := func(app string) int {
		t.Helper()
		var n int
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			n, err = q.CountWebhooks(ctx, app)
			return err
		})
		return n
	}
	if n := count("app"); n != 4 {
		t.Fatalf("app has %d webhooks, want 4", n)
	}
	if n := count("nobody"); n != 0 {
		t.Fatalf("an app without webhooks has %d", n)
	}
	list := func(p herald.Page) []string {
		t.Helper()
		var got []*herald.Webhook
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.ListWebhooks(ctx, "app", p)
			return err
		})
		var ids []string
		for _, w := range got {
			ids = append(ids, w.ID)
		}
		return ids
	}
	same(t, "first page", list(herald.Page{Limit: 2}), []string{ws[4].ID, ws[3].ID})
	same(t, "second page", list(herald.Page{Before: ws[3].ID, Limit: 2}), []string{ws[1].ID, ws[0].ID})
	same(t, "last page", list(herald.Page{Before: ws[0].ID, Limit: 2}), []string(nil))
	same(t, "whole list", list(herald.Page{Limit: 10}), []string{ws[4].ID, ws[3].ID, ws[1].ID, ws[0].ID})
	var got *herald.Webhook
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		ps, err := q.ListWebhooks(ctx, "app", herald.Page{Limit: 1})
		if len(ps) == 1 {
			got = ps[0]
		}
		return err
	})
	same(t, "listed webhook", got, ws[4])

	// Concurrent counts of one app, each followed by a creation if the
	// count is under a limit, never take the app past it.
	const limit = 6
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWebhook("app", fmt.Sprintf("01900000-0000-7000-8000-0000000001%02d", i))
			err := s.Update(context.Background(), func(tx herald.Tx) error {
				n, err := tx.CountWebhooks(context.Background(), "app")
				// Room for the others to count meanwhile, unless they wait.
				time.Sleep(20 * time.Millisecond)
				if err != nil || n >= limit {
					return err
				}
				return tx.CreateWebhook(context.Background(), w)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := count("app"); n != limit {
		t.Fatalf("concurrent creations under a limit of %d left %d webhooks", limit, n)
	}
}

// A webhook marked deleted is gone for every read and write of webhooks at
// once; its deliveries go in batches, with their attempts and their share
// of their bodies, then the webhook itself.
func testMarkWebhookDeleted(t *testing.T, s herald.Store) {
	doomed, kept := newWebhook("app", "doomed"), newWebhook("app", "kept")
	var ds []*herald.Delivery
	for i := range 7 {
		ds = append(ds, newDelivery(i+1, "doomed", "conv"))
	}
	// The body of the first is shared with a delivery of the kept webhook.
	ds[0].PayloadID = "shared"
	sharer := newDelivery(8, "kept", "")
	sharer.PayloadID, sharer.Body = "shared", ds[0].Body
	seed(t, s, []*herald.Webhook{doomed, kept}, append(slices.Clone(ds), sharer))
	complete(t, s, ds[0], herald.DeliveryPending, at(1), at(2))
	complete(t, s, ds[0], herald.DeliveryDelivered, at(2), at(2))

	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.MarkWebhookDeleted(ctx, "app", "doomed") })
	var (
		listed, byID, deleted []*herald.Webhook
		page                  []*herald.Webhook
		n                     int
	)
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		wantNotFound(t, "reading a webhook marked deleted", func() error { _, err := q.Webhook(ctx, "app", "doomed"); return err }())
		if listed, err = q.Webhooks(ctx, ""); err != nil {
			return err
		}
		if page, err = q.ListWebhooks(ctx, "app", herald.Page{Limit: 10}); err != nil {
			return err
		}
		if byID, err = q.WebhooksByID(ctx, []string{"doomed", "kept"}); err != nil {
			return err
		}
		if n, err = q.CountWebhooks(ctx, "app"); err != nil {
			return err
		}
		deleted, err = q.DeletedWebhooks(ctx)
		return err
	})
	for what, ws := range map[string][]*herald.Webhook{"Webhooks": listed, "ListWebhooks": page, "WebhooksByID": byID} {
		if len(ws) != 1 || ws[0].ID != "kept" {
			t.Fatalf("%s after the mark: %v, want the kept webhook only", what, ids2(ws))
		}
	}
	if n != 1 {
		t.Fatalf("CountWebhooks after the mark: %d, want 1", n)
	}
	if len(deleted) != 1 || deleted[0].ID != "doomed" || deleted[0].AppID != "app" {
		t.Fatalf("DeletedWebhooks: %v, want the doomed webhook", ids2(deleted))
	}
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.UpdateWebhook(context.Background(), doomed)
	})
	wantNotFound(t, "updating a webhook marked deleted", err)
	err = s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.MarkWebhookDeleted(context.Background(), "app", "doomed")
	})
	wantNotFound(t, "marking a webhook deleted twice", err)
	err = s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.MarkWebhookDeleted(context.Background(), "other", "kept")
	})
	wantNotFound(t, "marking another app's webhook deleted", err)
	var moved bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		moved, err = tx.AdvanceWebhookCursor(ctx, "doomed", 0, 5)
		return err
	})
	if moved {
		t.Fatal("the cursor of a webhook marked deleted moved: the fan-out would give it deliveries")
	}
	if got := claim(t, s, "n1", at(10), at(20), 10); len(got) != 1 || got[0].ID != sharer.ID {
		t.Fatalf("claimed %v, want only the kept webhook's delivery", ids(got))
	}

	exists := func(id string) bool {
		return found(t, s, func(ctx context.Context, q herald.Queries) error {
			_, err := q.Delivery(ctx, "app", id)
			return err
		})
	}
	for _, want := range []int{3, 3, 1, 0} {
		var n int
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			n, err = tx.DeleteWebhookDeliveries(ctx, "doomed", 3)
			return err
		})
		if n != want {
			t.Fatalf("removed %d deliveries, want %d", n, want)
		}
	}
	for _, d := range ds {
		if exists(d.ID) {
			t.Fatalf("delivery %s of the deleted webhook is left", d.ID)
		}
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		as, err := q.Attempts(ctx, ds[0].ID)
		if len(as) != 0 {
			t.Fatalf("the attempts of a removed delivery are left: %d", len(as))
		}
		return err
	})
	if got := readDelivery(t, s, sharer.ID); string(got.Body) != string(ds[0].Body) {
		t.Fatalf("a body shared with a kept delivery went with the deleted webhook's: %q", got.Body)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteWebhook(ctx, "app", "doomed") })
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		deleted, err = q.DeletedWebhooks(ctx)
		return err
	})
	if len(deleted) != 0 {
		t.Fatalf("DeletedWebhooks after the removal: %v", ids2(deleted))
	}
}

func ids2(ws []*herald.Webhook) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

// QueuedEvents finds the events a webhook has an unfinished delivery of,
// held or not, and no others; CountUnfinishedDeliveries counts them up to a
// limit.
func testQueuedEvents(t *testing.T, s herald.Store) {
	var ds []*herald.Delivery
	// 100 events in conversation a: the first free, the others held
	// behind it; more than one statement's worth.
	for i := 1; i <= 100; i++ {
		ds = append(ds, newDelivery(i, "w1", "a"))
	}
	delivered, failed, pending := newDelivery(101, "w1", "b"), newDelivery(102, "w1", "c"), newDelivery(103, "w1", "")
	other := newDelivery(104, "w2", "a")
	ds = append(ds, delivered, failed, pending, other)
	seed(t, s, []*herald.Webhook{newWebhook("app", "w1"), newWebhook("app", "w2")}, ds)
	complete(t, s, delivered, herald.DeliveryDelivered, at(1), at(1))
	complete(t, s, failed, herald.DeliveryFailed, at(1), at(1))

	var events []herald.QueuedEvent
	want := map[int64]bool{}
	for i := 1; i <= 100; i++ {
		events = append(events, herald.QueuedEvent{Seq: int64(i), OrderingKey: "a"})
		want[int64(i)] = true
	}
	events = append(events, herald.QueuedEvent{Seq: 101, OrderingKey: "b"}, herald.QueuedEvent{Seq: 102, OrderingKey: "c"},
		herald.QueuedEvent{Seq: 103, OrderingKey: ""}, herald.QueuedEvent{Seq: 104, OrderingKey: "a"},
		herald.QueuedEvent{Seq: 105, OrderingKey: "a"})
	want[102], want[103] = true, true
	var got map[int64]bool
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.QueuedEvents(ctx, "w1", events)
		return err
	})
	same(t, "queued events", got, want)

	for limit, want := range map[int]int{10: 10, 102: 102, 1000: 102} {
		var n int
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			n, err = q.CountUnfinishedDeliveries(ctx, "w1", limit)
			return err
		})
		if n != want {
			t.Fatalf("CountUnfinishedDeliveries up to %d: %d, want %d", limit, n, want)
		}
	}
}

// DropUnfinishedDeliveries removes a webhook's unfinished deliveries in
// batches, each queue's latest first, and none that a node holds, that
// is finished, or that is another webhook's: a queue that keeps a held
// delivery keeps the one before it.
func testDropUnfinishedDeliveries(t *testing.T, s herald.Store) {
	var ds []*herald.Delivery
	for i := 1; i <= 4; i++ {
		ds = append(ds, newDelivery(i, "w1", "a"))
	}
	for i := 5; i <= 7; i++ {
		ds = append(ds, newDelivery(i, "w1", "b"))
	}
	failed, delivered, loose, other := newDelivery(8, "w1", "c"), newDelivery(9, "w1", "d"), newDelivery(10, "w1", ""),
		newDelivery(11, "w2", "a")
	ds = append(ds, failed, delivered, loose, other)
	// The head of queue a is in flight.
	until := at(60)
	ds[0].LeaseOwner, ds[0].LeaseUntil = "n1", &until
	seed(t, s, []*herald.Webhook{newWebhook("app", "w1"), newWebhook("app", "w2")}, ds)
	complete(t, s, failed, herald.DeliveryPending, at(1), at(1))
	complete(t, s, failed, herald.DeliveryFailed, at(2), at(2))
	complete(t, s, delivered, herald.DeliveryDelivered, at(1), at(1))

	exists := func(d *herald.Delivery) bool {
		return found(t, s, func(ctx context.Context, q herald.Queries) error {
			_, err := q.Delivery(ctx, "app", d.ID)
			return err
		})
	}
	// heldAlone reports a queue of w1 left with a held delivery and no free
	// one: nothing would ever release it.
	heldAlone := func() string {
		for _, key := range []string{"a", "b"} {
			free, held := 0, 0
			for _, d := range ds {
				if d.WebhookID != "w1" || d.OrderingKey != key || !exists(d) {
					continue
				}
				if readDelivery(t, s, d.ID).Held {
					held++
				} else {
					free++
				}
			}
			if held > 0 && free == 0 {
				return key
			}
		}
		return ""
	}
	for _, want := range []int{3, 3, 2, 0} {
		var n int
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			n, err = tx.DropUnfinishedDeliveries(ctx, "w1", 3)
			return err
		})
		if n != want {
			t.Fatalf("dropped %d deliveries, want %d", n, want)
		}
		if key := heldAlone(); key != "" {
			t.Fatalf("queue %s is left with held deliveries and none to release them", key)
		}
	}
	for _, d := range ds {
		wantKept := d == ds[0] || d == delivered || d == other
		if exists(d) != wantKept {
			t.Fatalf("delivery of event %d: kept %v, want %v", d.EventSeq, exists(d), wantKept)
		}
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		as, err := q.Attempts(ctx, failed.ID)
		if len(as) != 0 {
			t.Fatalf("the attempts of a dropped delivery are left: %d", len(as))
		}
		return err
	})
}

// ContentUsage sums an app's uploaded content, and its declarations not
// uploaded yet made since a given time; and, like CountWebhooks, holds
// concurrent checks of one app to their turns.
func testContentUsage(t *testing.T, s herald.Store) {
	content := func(app, id string, size int64, minute int) *herald.Content {
		return &herald.Content{ID: id, AppID: app, ConversationID: "conv", MimeType: "image/png", Size: size,
			CreatedAt: at(minute)}
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, app := range []string{"app", "other"} {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
		}
		for _, c := range []*herald.Content{content("app", "up1", 100, 0), content("app", "up2", 20, 1),
			content("app", "old", 4000, 2), content("app", "new", 300, 10), content("other", "x", 50000, 10)} {
			if err := tx.CreateContent(ctx, c); err != nil {
				return err
			}
		}
		for _, id := range []string{"up1", "up2"} {
			if err := tx.MarkContentUploaded(ctx, "app", id, "blob-"+id, at(11)); err != nil {
				return err
			}
		}
		return nil
	})
	usage := func(since time.Time) (int64, int64) {
		t.Helper()
		var up, pending int64
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			up, pending, err = q.ContentUsage(ctx, "app", since)
			return err
		})
		return up, pending
	}
	if up, pending := usage(at(0)); up != 120 || pending != 4300 {
		t.Fatalf("usage since the start: %d uploaded, %d pending; want 120, 4300", up, pending)
	}
	if up, pending := usage(at(5)); up != 120 || pending != 300 {
		t.Fatalf("usage since minute 5: %d uploaded, %d pending; want 120, 300", up, pending)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.MarkContentUploaded(ctx, "app", "new", "blob-new", at(12))
	})
	if up, pending := usage(at(5)); up != 420 || pending != 0 {
		t.Fatalf("after an upload: %d uploaded, %d pending; want 420, 0", up, pending)
	}
	// A second upload of the same content is refused, and counts nothing.
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.MarkContentUploaded(context.Background(), "app", "new", "blob-again", at(13))
	})
	if _, ok := herald.AsError(err); !ok {
		t.Fatalf("a second upload: %v, want it refused", err)
	}
	if up, _ := usage(at(5)); up != 420 {
		t.Fatalf("after a refused upload: %d uploaded, want 420", up)
	}

	// Concurrent declarations, each made if it fits under a bound, never
	// take the app past it.
	const bound = 420 + 5*10
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := content("app", fmt.Sprint("race-", i), 10, 20)
			err := s.Update(context.Background(), func(tx herald.Tx) error {
				up, pending, err := tx.ContentUsage(context.Background(), "app", at(15))
				time.Sleep(20 * time.Millisecond)
				if err != nil || up+pending+c.Size > bound {
					return err
				}
				return tx.CreateContent(context.Background(), c)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if up, pending := usage(at(15)); up+pending != bound {
		t.Fatalf("concurrent declarations under a bound of %d left %d uploaded and %d pending", bound, up, pending)
	}
}
