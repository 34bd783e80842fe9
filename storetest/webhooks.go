package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func testUpdateWebhookSavesEverything(t *testing.T, s herald.Store) {
	w := &herald.Webhook{ID: "w1", AppID: "app", Format: herald.FormatCallbell, Version: "v1",
		TargetURL: "https://example.com/a", Events: []string{"message_created"}, Secret: "s", SigningKey: "whsec_k",
		Config: json.RawMessage(`{"a":1}`), Status: herald.WebhookUnverified,
		RetrySchedule: []time.Duration{time.Second, time.Minute}, Timeout: 10 * time.Second, Cursor: 7,
		CreatedAt: at(0), UpdatedAt: at(0)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.CreateWebhook(ctx, w) })
	read := func() *herald.Webhook {
		t.Helper()
		var got *herald.Webhook
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			var err error
			if got, err = q.Webhook(ctx, "app", "w1"); err != nil {
				return err
			}
			all, err := q.Webhooks(ctx, "")
			if err != nil {
				return err
			}
			same(t, "listed webhook", all, []*herald.Webhook{got})
			byID, err := q.WebhooksByID(ctx, []string{"w1", "missing"})
			if err != nil {
				return err
			}
			same(t, "webhook read by id", byID, []*herald.Webhook{got})
			return nil
		})
		return got
	}
	got := read()
	if got.HealthCheckedAt != nil || got.HealthFailingSince != nil {
		t.Fatalf("new webhook has health times: %v, %v", got.HealthCheckedAt, got.HealthFailingSince)
	}
	same(t, "created webhook", got, w)

	checked, failing := at(10), at(5)
	w.TargetURL, w.Events, w.Config = "https://example.com/b", []string{"message_created", "contact_created"}, nil
	w.Status, w.StatusReason = herald.WebhookInactive, "failing health checks"
	w.HealthCheckedAt, w.HealthFailingSince, w.UpdatedAt = &checked, &failing, at(10)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		changed := *w
		// Not saved by UpdateWebhook: these have their own ways.
		changed.Secret, changed.Cursor, changed.Format = "other", 99, herald.FormatLayer
		return tx.UpdateWebhook(ctx, &changed)
	})
	got = read()
	if got.HealthCheckedAt == nil || !got.HealthCheckedAt.Equal(checked) ||
		got.HealthFailingSince == nil || !got.HealthFailingSince.Equal(failing) {
		t.Fatalf("health times = %v, %v", got.HealthCheckedAt, got.HealthFailingSince)
	}
	if got.Config != nil {
		t.Fatalf("config = %s, want none", got.Config)
	}
	same(t, "updated webhook", got, w)

	checked2 := at(11)
	w.Config = json.RawMessage(`{"b":[true]}`)
	w.HealthCheckedAt, w.HealthFailingSince = &checked2, nil
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateWebhook(ctx, w) })
	got = read()
	if got.HealthFailingSince != nil || string(got.Config) != `{"b":[true]}` {
		t.Fatalf("webhook = %+v", got)
	}
	same(t, "recovered webhook", got, w)

	err := s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.UpdateWebhook(context.Background(), &herald.Webhook{ID: "w1", AppID: "other"})
	})
	wantNotFound(t, "updating another app's webhook", err)
}

func deliveryID(i int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012d", i) }

func testWebhookEvents(t *testing.T, s herald.Store) {
	webhook := func(id string) *herald.Webhook {
		return &herald.Webhook{ID: id, AppID: "app", Format: herald.FormatCallbell, Version: "v1",
			TargetURL: "https://example.com/" + id, Events: []string{"message_created"}, Status: herald.WebhookActive,
			Timeout: time.Second, CreatedAt: at(0), UpdatedAt: at(0)}
	}
	delivery := func(i int, webhookID, typ string) *herald.Delivery {
		return &herald.Delivery{ID: deliveryID(i), AppID: "app", WebhookID: webhookID, EventID: fmt.Sprint("e", i),
			EventSeq: int64(i), EventType: typ, Body: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Status: herald.DeliveryPending, NextAttemptAt: at(i), CreatedAt: at(i)}
	}
	ds := []*herald.Delivery{
		delivery(1, "w1", "message_created"),
		delivery(2, "w1", "message_created"), // never attempted
		delivery(3, "w1", "contact_created"),
		delivery(4, "w1", "message_created"),
		delivery(5, "w2", "message_created"), // another webhook's
		delivery(6, "w1", "message_status_updated"),
		delivery(7, "w1", "message_created"), // attempted, then resent: not attempted since
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, w := range []*herald.Webhook{webhook("w1"), webhook("w2")} {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return tx.CreateDeliveries(ctx, ds)
	})
	// attempt records attempt n of a delivery, ending in status.
	last := map[string]*herald.Attempt{}
	attempt := func(d *herald.Delivery, n, code int, status string) {
		t.Helper()
		a := &herald.Attempt{DeliveryID: d.ID, StartedAt: at(10*n + int(d.EventSeq)), Duration: 1500 * time.Microsecond,
			StatusCode: code, ResponseHeaders: http.Header{"X-Attempt": {fmt.Sprint(n)}},
			ResponseBody: []byte(fmt.Sprintf("attempt %d of %s", n, d.ID))}
		if code == 0 {
			a.Error, a.ResponseHeaders, a.ResponseBody = "connection refused", nil, nil
		}
		d.Attempts, d.Status, d.LastStatusCode, d.LastError = n, status, code, a.Error
		if status == herald.DeliveryDelivered {
			delivered := a.StartedAt
			d.DeliveredAt = &delivered
		}
		update(t, s, func(ctx context.Context, tx herald.Tx) error {
			return completeAll(ctx, tx, []herald.Completion{{Delivery: d, Attempt: a}})
		})
		last[d.ID] = a
	}
	attempt(ds[0], 1, 500, herald.DeliveryPending)
	attempt(ds[0], 2, 200, herald.DeliveryDelivered)
	attempt(ds[2], 1, 0, herald.DeliveryPending)
	attempt(ds[3], 1, 503, herald.DeliveryPending)
	attempt(ds[3], 2, 502, herald.DeliveryPending)
	attempt(ds[3], 3, 500, herald.DeliveryFailed)
	attempt(ds[4], 1, 200, herald.DeliveryDelivered)
	attempt(ds[5], 1, 204, herald.DeliveryDelivered)
	attempt(ds[6], 1, 500, herald.DeliveryFailed)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.ResendDelivery(ctx, ds[6], at(50)) })
	// Every attempt is kept, in order, whichever was the last.
	history := map[int][]int{1: {500, 200}, 2: nil, 4: {503, 502, 500}, 7: {500}}
	for i, codes := range history {
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			as, err := q.Attempts(ctx, deliveryID(i))
			var got []int
			for n, a := range as {
				got = append(got, a.StatusCode)
				if a.DeliveryID != deliveryID(i) || !a.StartedAt.Equal(at(10*(n+1)+i)) {
					t.Fatalf("attempt %d of delivery %d: %+v", n+1, i, a)
				}
			}
			if !reflect.DeepEqual(got, codes) {
				t.Fatalf("attempts of delivery %d: status codes %v, want %v", i, got, codes)
			}
			return err
		})
	}

	yes, no := true, false
	cases := []struct {
		name          string
		f             herald.WebhookEventFilter
		offset, limit int
		want          []int
		total         int
	}{
		{"all", herald.WebhookEventFilter{}, 0, 10, []int{6, 4, 3, 1}, 4},
		{"first page", herald.WebhookEventFilter{}, 0, 2, []int{6, 4}, 4},
		{"second page", herald.WebhookEventFilter{}, 2, 2, []int{3, 1}, 4},
		{"past the end", herald.WebhookEventFilter{}, 4, 2, nil, 4},
		{"successes: answered 200", herald.WebhookEventFilter{Success: &yes}, 0, 10, []int{1}, 1},
		{"failures and a delivered 204", herald.WebhookEventFilter{Success: &no}, 0, 10, []int{6, 4, 3}, 3},
		{"one type", herald.WebhookEventFilter{EventTypes: []string{"message_created"}}, 0, 10, []int{4, 1}, 2},
		{"two types", herald.WebhookEventFilter{EventTypes: []string{"contact_created", "message_status_updated"}},
			0, 10, []int{6, 3}, 2},
		{"type and failure", herald.WebhookEventFilter{Success: &no, EventTypes: []string{"message_created"}},
			0, 10, []int{4}, 1},
		{"type and success paged", herald.WebhookEventFilter{Success: &yes, EventTypes: []string{"message_created"}},
			1, 10, nil, 1},
		{"unknown type", herald.WebhookEventFilter{EventTypes: []string{"nope"}}, 0, 10, nil, 0},
	}
	for _, c := range cases {
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			got, total, err := q.WebhookEvents(ctx, "w1", c.f, c.offset, c.limit)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.Delivery.ID)
			}
			var want []string
			for _, i := range c.want {
				want = append(want, deliveryID(i))
			}
			if !reflect.DeepEqual(ids, want) || total != c.total {
				t.Fatalf("%s: got %v (total %d), want %v (total %d)", c.name, ids, total, want, c.total)
			}
			for _, e := range got {
				d := ds[e.Delivery.EventSeq-1]
				same(t, c.name+": delivery", e.Delivery, d)
				if e.Attempt == nil {
					t.Fatalf("%s: delivery %s has no attempt", c.name, d.ID)
				}
				a := last[d.ID]
				if e.Attempt.DeliveryID != d.ID || !e.Attempt.StartedAt.Equal(a.StartedAt) {
					t.Fatalf("%s: delivery %s has attempt %+v, want the last one %+v", c.name, d.ID, e.Attempt, a)
				}
				same(t, c.name+": attempt", e.Attempt, a)
			}
			return nil
		})
	}
	// The attempt of delivery 1 is its second, with what came back.
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, _, err := q.WebhookEvents(ctx, "w1", herald.WebhookEventFilter{Success: &yes}, 0, 1)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Attempt.StatusCode != 200 || got[0].Attempt.ResponseHeaders.Get("X-Attempt") != "2" ||
			string(got[0].Attempt.ResponseBody) != "attempt 2 of "+deliveryID(1) ||
			got[0].Attempt.Duration != 1500*time.Microsecond {
			t.Fatalf("event = %+v", got)
		}
		other, total, err := q.WebhookEvents(ctx, "w2", herald.WebhookEventFilter{}, 0, 10)
		if err != nil {
			return err
		}
		if len(other) != 1 || total != 1 || other[0].Delivery.ID != deliveryID(5) {
			t.Fatalf("w2 events = %+v (total %d)", other, total)
		}
		return nil
	})
}

// RequeueDeliveries: activating a webhook again sends its backlog at
// once: failed deliveries, and pending ones waiting for a retry, are due
// now with their attempts counted from zero; the others are untouched.
func testRequeueDeliveries(t *testing.T, s herald.Store) {
	mk := func(i int) *herald.Delivery {
		return &herald.Delivery{ID: deliveryID(i), AppID: "app", WebhookID: "w", EventID: fmt.Sprint("e", i),
			EventSeq: int64(i), EventType: "message.sent", OrderingKey: fmt.Sprint("c", i), Body: []byte(`{}`),
			Status: herald.DeliveryPending, NextAttemptAt: at(1), CreatedAt: at(1)}
	}
	failed, retrying, due, delivered := mk(1), mk(2), mk(3), mk(4)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		w := &herald.Webhook{ID: "w", AppID: "app", Format: herald.FormatLayer, Version: "2.0", TargetURL: "https://example.com",
			Events: []string{"message.sent"}, Status: herald.WebhookInactive, Timeout: time.Second, CreatedAt: at(0), UpdatedAt: at(0)}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		if err := tx.CreateDeliveries(ctx, []*herald.Delivery{failed, retrying, due, delivered}); err != nil {
			return err
		}
		complete := func(d *herald.Delivery, status string, attempts int, next time.Time) error {
			d.Status, d.Attempts, d.NextAttemptAt = status, attempts, next
			return completeAll(ctx, tx, []herald.Completion{{Delivery: d, Attempt: &herald.Attempt{DeliveryID: d.ID, StartedAt: at(2), StatusCode: 500}}})
		}
		if err := complete(failed, herald.DeliveryFailed, 6, at(2)); err != nil {
			return err
		}
		if err := complete(retrying, herald.DeliveryPending, 3, at(30)); err != nil {
			return err
		}
		if err := complete(due, herald.DeliveryPending, 1, at(5)); err != nil {
			return err
		}
		return complete(delivered, herald.DeliveryDelivered, 1, at(2))
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.RequeueDeliveries(ctx, "w", at(10)) })
	want := map[*herald.Delivery]struct {
		status   string
		attempts int
		next     time.Time
	}{
		failed:    {herald.DeliveryPending, 0, at(10)},
		retrying:  {herald.DeliveryPending, 0, at(10)},
		due:       {herald.DeliveryPending, 1, at(5)},
		delivered: {herald.DeliveryDelivered, 1, at(2)},
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for d, w := range want {
			got, err := q.Delivery(ctx, "app", d.ID)
			if err != nil {
				return err
			}
			if got.Status != w.status || got.Attempts != w.attempts || !got.NextAttemptAt.Equal(w.next) {
				t.Errorf("delivery %s: %s, %d attempts, next %s; want %s, %d, %s", d.ID, got.Status, got.Attempts,
					got.NextAttemptAt.Format(time.RFC3339), w.status, w.attempts, w.next.Format(time.RFC3339))
			}
		}
		return nil
	})
}

// newWebhook is an active webhook of an app.
func newWebhook(appID, id string) *herald.Webhook {
	return &herald.Webhook{ID: id, AppID: appID, Format: herald.FormatLayer, Version: "2.0",
		TargetURL: "https://example.com/" + id, Events: []string{herald.EventMessageSent}, Secret: "secret-" + id,
		SigningKey: "whsec_" + id, Status: herald.WebhookActive, RetrySchedule: []time.Duration{time.Minute},
		Timeout: 10 * time.Second, CreatedAt: at(0), UpdatedAt: at(0)}
}

// newDelivery is the delivery of event i to a webhook of app "app", pending
// and due from the start.
func newDelivery(i int, webhookID, orderingKey string) *herald.Delivery {
	return &herald.Delivery{ID: deliveryID(i), AppID: "app", WebhookID: webhookID, EventID: fmt.Sprint("e", i),
		EventSeq: int64(i), EventType: herald.EventMessageSent, OrderingKey: orderingKey,
		Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), Status: herald.DeliveryPending, NextAttemptAt: at(0),
		CreatedAt: at(0)}
}

// seed creates app "app", its webhooks, and deliveries in event order.
func seed(t *testing.T, s herald.Store, ws []*herald.Webhook, ds []*herald.Delivery) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, w := range ws {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return tx.CreateDeliveries(ctx, ds)
	})
}

// claim leases deliveries to node in an update of its own, as a node does.
func claim(t *testing.T, s herald.Store, node string, now, leaseUntil time.Time, limit int) []*herald.Delivery {
	t.Helper()
	var got []*herald.Delivery
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		got, err = tx.ClaimDeliveries(ctx, node, now, leaseUntil, limit, herald.ClaimCaps{})
		return err
	})
	if len(got) > limit {
		t.Fatalf("%s claimed %d deliveries, more than the limit %d", node, len(got), limit)
	}
	return got
}

// wantClaim claims deliveries and checks which came.
func wantClaim(t *testing.T, s herald.Store, what, node string, now, leaseUntil time.Time, want ...*herald.Delivery) {
	t.Helper()
	sameSet(t, what, ids(claim(t, s, node, now, leaseUntil, 100)), ids(want))
}

func ids(ds []*herald.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// complete records an attempt of d made at when, ending in status; a retry
// is due at next.
func complete(t *testing.T, s herald.Store, d *herald.Delivery, status string, when, next time.Time) {
	t.Helper()
	d.Status, d.Attempts, d.NextAttemptAt, d.DeliveredAt = status, d.Attempts+1, next, nil
	a := &herald.Attempt{DeliveryID: d.ID, StartedAt: when, Duration: time.Millisecond, StatusCode: 500}
	if status == herald.DeliveryDelivered {
		d.DeliveredAt, a.StatusCode = &when, 200
	}
	d.LastStatusCode = a.StatusCode
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return completeAll(ctx, tx, []herald.Completion{{Delivery: d, Attempt: a}})
	})
}

func readDelivery(t *testing.T, s herald.Store, id string) *herald.Delivery {
	t.Helper()
	var d *herald.Delivery
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		d, err = q.Delivery(ctx, "app", id)
		return err
	})
	return d
}

// Only due deliveries are claimed: pending, not held, not leased, their
// next attempt come, of an active webhook; at most limit at a time.
func testClaimTakesOnlyDueDeliveries(t *testing.T, s herald.Store) {
	inactive, unverified := newWebhook("app", "inactive"), newWebhook("app", "unverified")
	inactive.Status, unverified.Status = herald.WebhookInactive, herald.WebhookUnverified
	due := []*herald.Delivery{newDelivery(1, "w", ""), newDelivery(2, "w", ""), newDelivery(3, "w", ""),
		newDelivery(4, "w", "conv")}
	held := newDelivery(5, "w", "conv")
	later := newDelivery(6, "w", "")
	later.NextAttemptAt = at(30)
	delivered, failed := newDelivery(7, "w", ""), newDelivery(8, "w", "")
	asleep, unheard := newDelivery(9, "inactive", ""), newDelivery(10, "unverified", "")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w"), inactive, unverified},
		append(due, held, later, delivered, failed, asleep, unheard))
	complete(t, s, delivered, herald.DeliveryDelivered, at(1), at(1))
	complete(t, s, failed, herald.DeliveryFailed, at(1), at(1))

	var claimed []string
	for range len(due) + 1 {
		got := claim(t, s, "n1", at(10), at(100), 2)
		if len(got) == 0 {
			break
		}
		for _, d := range got {
			if d.LeaseUntil == nil || !d.LeaseUntil.Equal(at(100)) {
				t.Fatalf("claimed delivery %s is leased until %v, want %v", d.ID, d.LeaseUntil, at(100))
			}
			var orig *herald.Delivery
			for _, o := range due {
				if o.ID == d.ID {
					orig = o
				}
			}
			if orig == nil {
				t.Fatalf("claimed %s, which is not due", d.ID)
			}
			// Where the next attempt stands while leased is the engine's
			// business.
			want := *orig
			want.LeaseUntil, want.NextAttemptAt, want.LeaseOwner = d.LeaseUntil, d.NextAttemptAt, "n1"
			same(t, "claimed delivery", d, &want)
		}
		claimed = append(claimed, ids(got)...)
	}
	sameSet(t, "claimed in batches of 2", claimed, ids(due))
	wantClaim(t, s, "claimed again while leased", "n2", at(10), at(100))

	inactive.Status, inactive.UpdatedAt = herald.WebhookActive, at(11)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateWebhook(ctx, inactive) })
	wantClaim(t, s, "the backlog of an activated webhook", "n1", at(11), at(100), asleep)
	wantClaim(t, s, "before the next attempt", "n1", at(29), at(100))
	wantClaim(t, s, "at the next attempt", "n1", at(30), at(100), later)
	for _, d := range []*herald.Delivery{held, delivered, failed, unheard} {
		if got := readDelivery(t, s, d.ID); got.LeaseUntil != nil {
			t.Fatalf("delivery %s was leased", d.ID)
		}
	}
}

// A lease keeps a delivery from every other claim until it ends, or until
// the attempt is recorded.
func testLeaseHoldsUntilItEnds(t *testing.T, s herald.Store) {
	d1, d2 := newDelivery(1, "w", ""), newDelivery(2, "w", "")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, []*herald.Delivery{d1, d2})
	wantClaim(t, s, "first claim", "n1", at(10), at(20), d1, d2)
	if got := readDelivery(t, s, d1.ID); got.LeaseUntil == nil || !got.LeaseUntil.Equal(at(20)) {
		t.Fatalf("leased delivery reads as leased until %v, want %v", got.LeaseUntil, at(20))
	}
	wantClaim(t, s, "during the lease", "n2", at(19), at(40))
	// A lease that ended is that of a node that died with it.
	wantClaim(t, s, "when the lease ends", "n2", at(20), at(40), d1, d2)

	complete(t, s, d1, herald.DeliveryPending, at(21), at(50))
	got := readDelivery(t, s, d1.ID)
	if got.LeaseUntil != nil || got.Status != herald.DeliveryPending || got.Attempts != 1 ||
		!got.NextAttemptAt.Equal(at(50)) {
		t.Fatalf("after a failed attempt: %+v", got)
	}
	wantClaim(t, s, "after d2's lease, before d1's retry", "n3", at(45), at(100), d2)
	wantClaim(t, s, "before d1's retry", "n3", at(49), at(100))
	wantClaim(t, s, "at d1's retry", "n3", at(50), at(100), d1)
}

// Nodes claiming at once never get the same delivery, and between them get
// every one.
func testConcurrentClaimsNeverShare(t *testing.T, s herald.Store) {
	const n, claimers = 150, 4
	var ds []*herald.Delivery
	for i := range n {
		ds = append(ds, newDelivery(i+1, "w", ""))
	}
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, ds)
	var mu sync.Mutex
	owner := map[string]string{}
	var total atomic.Int64
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for g := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			node, limit := fmt.Sprint("node-", g), 1+g%3
			// An empty claim may only mean that the others hold what is
			// left, so claiming goes on until everything is taken.
			for total.Load() < n && time.Now().Before(deadline) {
				var got []*herald.Delivery
				err := s.Update(ctx, func(tx herald.Tx) (err error) {
					got, err = tx.ClaimDeliveries(ctx, node, at(10), at(100), limit, herald.ClaimCaps{})
					return err
				})
				if err != nil {
					t.Errorf("%s: %v", node, err)
					return
				}
				if len(got) > limit {
					t.Errorf("%s claimed %d deliveries, more than %d", node, len(got), limit)
				}
				mu.Lock()
				for _, d := range got {
					if other, taken := owner[d.ID]; taken {
						t.Errorf("delivery %s went to %s and %s", d.ID, other, node)
					}
					owner[d.ID] = node
				}
				mu.Unlock()
				total.Add(int64(len(got)))
				if len(got) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(owner) != n || total.Load() != n {
		t.Fatalf("%d deliveries claimed (%d distinct) of %d", total.Load(), len(owner), n)
	}
	wantClaim(t, s, "once all are leased", "n", at(10), at(100))
}

// A delivery waits behind the unfinished ones of its webhook and ordering
// key, created with it or before; delivering one releases the next, in event
// order.
func testOrderingKeyHoldsDeliveries(t *testing.T, s herald.Store) {
	// Ids run against event order, so that only the event order can give
	// the queue's.
	queued := func(seq int) *herald.Delivery {
		d := newDelivery(seq, "w", "k")
		d.ID = deliveryID(100 - seq)
		return d
	}
	a1, a2, a3 := queued(1), queued(2), queued(3)
	otherKey, free, otherWebhook := newDelivery(4, "w", "other"), newDelivery(5, "w", ""), newDelivery(6, "w2", "k")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w"), newWebhook("app", "w2")},
		[]*herald.Delivery{a1, a2, a3, otherKey, free, otherWebhook})
	a4, free2 := queued(7), newDelivery(8, "w", "")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateDeliveries(ctx, []*herald.Delivery{a4, free2})
	})
	for _, d := range []*herald.Delivery{a1, a2, a3, otherKey, free, otherWebhook, a4, free2} {
		want := d == a2 || d == a3 || d == a4
		if got := readDelivery(t, s, d.ID); got.Held != want {
			t.Fatalf("delivery of event %d: held=%v, want %v", d.EventSeq, got.Held, want)
		}
	}
	wantClaim(t, s, "the heads of the queues", "n", at(10), at(100), a1, otherKey, free, otherWebhook, free2)

	// A failed delivery still holds its queue: it may be sent again.
	complete(t, s, a1, herald.DeliveryFailed, at(11), at(11))
	wantClaim(t, s, "behind a failed delivery", "n", at(12), at(100))
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.ResendDelivery(ctx, a1, at(13)) })
	a1.Status, a1.Attempts = herald.DeliveryPending, 0
	wantClaim(t, s, "the resent delivery", "n", at(13), at(100), a1)

	for i, next := range []*herald.Delivery{a2, a3, a4, nil} {
		prev := []*herald.Delivery{a1, a2, a3, a4}[i]
		complete(t, s, prev, herald.DeliveryDelivered, at(14+i), at(14+i))
		var want []*herald.Delivery
		if next != nil {
			want = append(want, next)
		}
		wantClaim(t, s, fmt.Sprintf("after event %d was delivered", prev.EventSeq), "n", at(14+i), at(100), want...)
	}
}

// Deliveries created in a queue while another transaction finishes the
// queue's last one are neither stranded (held, with nothing ahead of them
// left to release them) nor sent beside another of their queue: a fan-out
// and nodes that claim and deliver, racing on a few queues, deliver
// everything, one delivery of a queue at a time.
func testQueuesSurviveRacingCreatesAndCompletions(t *testing.T, s herald.Store) {
	const n, queues, nodes = 300, 3, 3
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, nil)
	ctx := context.Background()
	var mu sync.Mutex
	inFlight := map[string]string{} // queue → the delivery of it being sent
	var delivered atomic.Int64
	deadline := time.Now().Add(60 * time.Second)
	// Once every delivery is made, a second without one delivered means
	// the rest are stranded.
	var produced atomic.Bool
	var progress atomic.Int64 // when one was last delivered, in ns
	progress.Store(time.Now().UnixNano())
	stalled := func() bool {
		return produced.Load() && time.Since(time.Unix(0, progress.Load())) > time.Second
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// The fan-out: one delivery per update, in event order.
		defer wg.Done()
		defer produced.Store(true)
		for i := range n {
			d := newDelivery(i+1, "w", fmt.Sprint("q", i%queues))
			if err := s.Update(ctx, func(tx herald.Tx) error {
				return tx.CreateDeliveries(ctx, []*herald.Delivery{d})
			}); err != nil {
				t.Errorf("creating delivery %d: %v", i+1, err)
				return
			}
		}
	}()
	for g := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprint("node-", g)
			for delivered.Load() < n && time.Now().Before(deadline) && !stalled() && !t.Failed() {
				var got []*herald.Delivery
				if err := s.Update(ctx, func(tx herald.Tx) (err error) {
					got, err = tx.ClaimDeliveries(ctx, node, at(10), at(100), 2, herald.ClaimCaps{})
					return err
				}); err != nil {
					t.Errorf("%s: claiming: %v", node, err)
					return
				}
				if len(got) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				cs := make([]herald.Completion, len(got))
				mu.Lock()
				for i, d := range got {
					if other, busy := inFlight[d.OrderingKey]; busy {
						t.Errorf("queue %s: delivery %s claimed while %s is being sent", d.OrderingKey, d.ID, other)
					}
					inFlight[d.OrderingKey] = d.ID
					d.Status, d.Attempts, d.LastStatusCode, d.DeliveredAt = herald.DeliveryDelivered, 1, 200, &benchDone
					cs[i] = herald.Completion{Delivery: d, Attempt: &herald.Attempt{DeliveryID: d.ID, StartedAt: at(10),
						Duration: time.Millisecond, StatusCode: 200}}
				}
				// Out of flight before the completion commits: once it
				// has, the next delivery of the queue may be claimed.
				for _, d := range got {
					delete(inFlight, d.OrderingKey)
				}
				mu.Unlock()
				if err := s.Update(ctx, func(tx herald.Tx) error { return completeAll(ctx, tx, cs) }); err != nil {
					t.Errorf("%s: completing: %v", node, err)
					return
				}
				delivered.Add(int64(len(got)))
				progress.Store(time.Now().UnixNano())
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := delivered.Load(); got != n {
		var stranded []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			ds, err := q.Deliveries(ctx, "w", herald.DeliveryPending, herald.Page{Limit: 10})
			for _, d := range ds {
				stranded = append(stranded, fmt.Sprintf("%s (queue %s, held %v)", d.ID, d.OrderingKey, d.Held))
			}
			return err
		})
		t.Fatalf("%d of %d deliveries were delivered; left pending: %v", got, n, stranded)
	}
}

// One CompleteDeliveries call records many outcomes, as the engine batches
// them: each delivery's own, the next held delivery of each queue freed, an
// attempt each with its id, and nothing for a delivery deleted meanwhile.
func testCompleteManyDeliveriesAtOnce(t *testing.T, s herald.Store) {
	a1, a2, a3 := newDelivery(1, "w", "a"), newDelivery(2, "w", "a"), newDelivery(3, "w", "a")
	b1, b2 := newDelivery(4, "w", "b"), newDelivery(5, "w", "b")
	c1, c2 := newDelivery(6, "w2", "a"), newDelivery(7, "w2", "a")
	ds := []*herald.Delivery{a1, a2, a3, b1, b2, c1, c2}
	// More free deliveries than one statement takes.
	var free []*herald.Delivery
	for i := range 150 {
		free = append(free, newDelivery(100+i, "w", ""))
	}
	seed(t, s, []*herald.Webhook{newWebhook("app", "w"), newWebhook("app", "w2")}, append(ds, free...))
	claimed := claim(t, s, "n", at(200), at(300), 1000)
	sameSet(t, "claimed", ids(claimed), ids(append([]*herald.Delivery{a1, b1, c1}, free...)))

	var cs []herald.Completion
	outcome := func(d *herald.Delivery, status string, code int) {
		d.Status, d.Attempts, d.LastStatusCode, d.NextAttemptAt = status, 1, code, at(201)
		if status == herald.DeliveryDelivered {
			delivered := at(201)
			d.DeliveredAt = &delivered
		}
		cs = append(cs, herald.Completion{Delivery: d, Attempt: &herald.Attempt{DeliveryID: d.ID, StartedAt: at(201),
			Duration: time.Millisecond, StatusCode: code, ResponseBody: []byte(d.ID)}})
	}
	outcome(a1, herald.DeliveryDelivered, 200)
	// Among the others, so that what follows it is matched with its own
	// attempt all the same.
	gone := newDelivery(999, "w", "a")
	outcome(gone, herald.DeliveryDelivered, 200)
	outcome(b1, herald.DeliveryPending, 500) // to be retried: b2 stays held
	outcome(c1, herald.DeliveryDelivered, 204)
	for _, d := range free {
		outcome(d, herald.DeliveryDelivered, 200)
	}
	var released int
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		_, released, err = tx.CompleteDeliveries(ctx, cs, herald.Lease{})
		return err
	})
	if released != 2 {
		t.Fatalf("released %d held deliveries, want 2", released)
	}

	for _, c := range cs {
		var as []*herald.Attempt
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			as, err = q.Attempts(ctx, c.Delivery.ID)
			return err
		})
		if c.Delivery == gone {
			if len(as) != 0 {
				t.Fatalf("a delivery that does not exist has attempts %+v", as)
			}
			continue
		}
		got := readDelivery(t, s, c.Delivery.ID)
		if got.Status != c.Delivery.Status || got.Attempts != 1 || got.LastStatusCode != c.Delivery.LastStatusCode ||
			got.LeaseUntil != nil || (got.Status == herald.DeliveryDelivered) != (got.DeliveredAt != nil) {
			t.Fatalf("delivery %s after completion: %+v, want %+v", got.ID, got, c.Delivery)
		}
		if len(as) != 1 || string(as[0].ResponseBody) != c.Delivery.ID {
			t.Fatalf("attempts of %s: %+v, want its own one", c.Delivery.ID, as)
		}
		same(t, "attempt of "+c.Delivery.ID, as[0], c.Attempt)
	}
	for _, d := range []*herald.Delivery{a2, a3, b2, c2} {
		want := d == a3 || d == b2
		if got := readDelivery(t, s, d.ID); got.Held != want {
			t.Fatalf("delivery of event %d: held=%v, want %v", d.EventSeq, got.Held, want)
		}
	}
	wantClaim(t, s, "the next of each queue delivered", "n", at(202), at(300), a2, c2, b1)
}

// The deliveries that completions release may be leased at once to the
// node that completed them, up to the limit it offers: pending ones, due,
// of an active webhook; the others are released as without a lease, for a
// claim to take when they are due.
func testCompletionsLeaseWhatTheyRelease(t *testing.T, s herald.Store) {
	var heads, nexts []*herald.Delivery
	var ds []*herald.Delivery
	for i, key := range []string{"a", "b", "c", "d", "e"} {
		head, next := newDelivery(2*i+1, "w", key), newDelivery(2*i+2, "w", key)
		heads, nexts = append(heads, head), append(nexts, next)
		ds = append(ds, head, next)
	}
	// Queue d's next delivery waits for a retry; queue e's webhook is off.
	nexts[3].NextAttemptAt = at(500)
	heads[4].WebhookID, nexts[4].WebhookID = "off", "off"
	paused := newWebhook("app", "off")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w"), paused}, ds)
	claimed := claim(t, s, "n1", at(10), at(100), 100)
	sameSet(t, "claimed", ids(claimed), ids(heads))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		paused.Status, paused.StatusReason = herald.WebhookInactive, "paused"
		return tx.UpdateWebhook(ctx, paused)
	})

	cs := deliveredAt(heads, at(12))
	// Two workers free: queues a and b get theirs; c's waits for a claim.
	var leased []*herald.Delivery
	var released int
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		leased, released, err = tx.CompleteDeliveries(ctx, cs[:3], herald.Lease{Node: "n2", Now: at(12), Until: at(1000), Limit: 2})
		return err
	})
	if released != 3 {
		t.Fatalf("released %d held deliveries, want 3", released)
	}
	sameSet(t, "leased", ids(leased), ids(nexts[:2]))
	for _, d := range leased {
		if d.LeaseOwner != "n2" || d.LeaseUntil == nil || !d.LeaseUntil.Equal(at(1000)) || d.Held || len(d.Body) == 0 {
			t.Fatalf("leased delivery %s: owner %q until %v, held %v, body %q", d.ID, d.LeaseOwner, d.LeaseUntil, d.Held, d.Body)
		}
		if got := readDelivery(t, s, d.ID); got.LeaseOwner != "n2" || got.LeaseUntil == nil || !got.LeaseUntil.Equal(at(1000)) {
			t.Fatalf("stored delivery %s: owner %q until %v, want n2's lease until %v", got.ID, got.LeaseOwner, got.LeaseUntil, at(1000))
		}
	}
	// Enough workers for all, but d's next attempt is later and e's webhook
	// is inactive: released, not leased.
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		leased, released, err = tx.CompleteDeliveries(ctx, cs[3:], herald.Lease{Node: "n2", Now: at(13), Until: at(1000), Limit: 10})
		return err
	})
	if released != 2 || len(leased) != 0 {
		t.Fatalf("released %d, leased %v; want 2 released, none leased", released, ids(leased))
	}
	for _, d := range nexts[2:] {
		if got := readDelivery(t, s, d.ID); got.Held || got.LeaseUntil != nil || got.LeaseOwner != "" {
			t.Fatalf("delivery %s: held %v, owner %q until %v; want released, not leased", got.ID, got.Held, got.LeaseOwner, got.LeaseUntil)
		}
	}
	wantClaim(t, s, "what was released without a lease", "n3", at(14), at(1000), nexts[2])
	wantClaim(t, s, "once d's retry is due", "n3", at(500), at(600), nexts[3])
}

// A node may create the deliveries it is about to send already leased to
// itself: claimed as ClaimDeliveries would, except those held, which wait
// for their queue as any other.
func testDeliveriesCreatedLeased(t *testing.T, s herald.Store) {
	lease := at(60)
	leased := func(d *herald.Delivery) *herald.Delivery {
		l := lease
		d.LeaseOwner, d.LeaseUntil = "n1", &l
		return d
	}
	head, behind, free, plain := leased(newDelivery(1, "w", "k")), leased(newDelivery(2, "w", "k")),
		leased(newDelivery(3, "w", "")), newDelivery(4, "w", "")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, []*herald.Delivery{head, behind, free, plain})
	if behind.LeaseOwner != "" || behind.LeaseUntil != nil || !behind.Held {
		t.Fatalf("the held delivery kept its lease: owner %q until %v, held %v", behind.LeaseOwner, behind.LeaseUntil, behind.Held)
	}
	for _, d := range []*herald.Delivery{head, free} {
		got := readDelivery(t, s, d.ID)
		if got.LeaseOwner != "n1" || got.LeaseUntil == nil || !got.LeaseUntil.Equal(lease) || got.Held {
			t.Fatalf("delivery %s: owner %q, leased until %v, held %v; want n1's lease until %v", d.ID, got.LeaseOwner,
				got.LeaseUntil, got.Held, lease)
		}
	}
	if got := readDelivery(t, s, behind.ID); got.LeaseUntil != nil || got.LeaseOwner != "" || !got.Held {
		t.Fatalf("held delivery %s: owner %q, leased until %v, held %v", got.ID, got.LeaseOwner, got.LeaseUntil, got.Held)
	}
	wantClaim(t, s, "while the leases last", "n2", at(10), at(100), plain)
	// The node's work is claimable by the others once it is declared dead.
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.Heartbeat(ctx, "n2", at(11)) })
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		_, err := tx.RecoverLeases(ctx, at(12), at(11))
		return err
	})
	wantClaim(t, s, "after n1 was declared dead", "n2", at(12), at(100), head, free)
	complete(t, s, head, herald.DeliveryDelivered, at(13), at(13))
	wantClaim(t, s, "the next of the queue", "n2", at(13), at(100), behind)
}

// ReleaseLeases gives back at once what a node held when it stopped.
func testReleaseLeases(t *testing.T, s herald.Store) {
	d1, d2, d3, later := newDelivery(1, "w", ""), newDelivery(2, "w", ""), newDelivery(3, "w", ""), newDelivery(4, "w", "")
	later.NextAttemptAt = at(100)
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, []*herald.Delivery{d1, d2, d3, later})
	leased := append(claim(t, s, "n1", at(10), at(60), 2), claim(t, s, "n2", at(10), at(60), 10)...)
	sameSet(t, "leased", ids(leased), ids([]*herald.Delivery{d1, d2, d3}))
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.ReleaseLeases(ctx, at(11)) })
	for _, d := range leased {
		if got := readDelivery(t, s, d.ID); got.LeaseUntil != nil {
			t.Fatalf("delivery %s is still leased until %v", d.ID, got.LeaseUntil)
		}
	}
	wantClaim(t, s, "after the release", "n3", at(11), at(60), d1, d2, d3)
}

// completeAll records completions, whatever they release.
func completeAll(ctx context.Context, tx herald.Tx, cs []herald.Completion) error {
	_, _, err := tx.CompleteDeliveries(ctx, cs, herald.Lease{})
	return err
}

// appDelivery is the delivery of event i to an app's webhook, due at
// minute due.
func appDelivery(i int, appID, webhookID string, due int) *herald.Delivery {
	d := newDelivery(i, webhookID, "")
	d.AppID, d.NextAttemptAt = appID, at(due)
	return d
}

// A claim within caps takes, of each webhook, its earliest due deliveries
// up to its cap, then of each app its earliest up to its own; an app or a
// webhook capped at 0 is passed over, however early its deliveries.
func testClaimWithinCaps(t *testing.T, s herald.Store) {
	// Apps a (webhooks a1 and a2) and b (webhook b1); a's deliveries are
	// due before b's, a1's before a2's.
	var a1, a2, b1 []*herald.Delivery
	for i := range 4 {
		a1 = append(a1, appDelivery(1+i, "a", "a1", i))
		a2 = append(a2, appDelivery(11+i, "a", "a2", 4+i))
		b1 = append(b1, appDelivery(21+i, "b", "b1", 8+i))
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, app := range []string{"a", "b"} {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
		}
		for _, w := range []*herald.Webhook{newWebhook("a", "a1"), newWebhook("a", "a2"), newWebhook("b", "b1")} {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return tx.CreateDeliveries(ctx, append(append(append([]*herald.Delivery{}, a1...), a2...), b1...))
	})
	claimCapped := func(what string, now, limit int, caps herald.ClaimCaps, want ...*herald.Delivery) {
		t.Helper()
		var got []*herald.Delivery
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			got, err = tx.ClaimDeliveries(ctx, "n", at(now), at(1000), limit, caps)
			return err
		})
		sameSet(t, what, ids(got), ids(want))
		for _, d := range got {
			if d.LeaseOwner != "n" || d.LeaseUntil == nil || !d.LeaseUntil.Equal(at(1000)) {
				t.Fatalf("%s: delivery %s is leased by %q until %v", what, d.ID, d.LeaseOwner, d.LeaseUntil)
			}
		}
	}
	// a1's three earliest fit a's cap of 3; a2's none; b1 its webhook cap.
	claimCapped("within caps", 100, 100, herald.ClaimCaps{App: 3, Webhook: 3}, a1[0], a1[1], a1[2], b1[0], b1[1], b1[2])
	// a1's last is due first, but its webhook may take no more.
	claimCapped("past a capped webhook", 100, 2, herald.ClaimCaps{Webhooks: map[string]int{"a1": 0}}, a2[0], a2[1])
	claimCapped("within the caps named", 100, 100, herald.ClaimCaps{App: 3, Webhook: 3,
		Apps: map[string]int{"a": 1, "b": 0}}, a1[3])
	// b's last comes after a's, whose backlog a cap of 0 passes over
	// however small the limit.
	claimCapped("past a capped app", 100, 1, herald.ClaimCaps{Apps: map[string]int{"a": 0}}, b1[3])
	claimCapped("within a webhook's own cap", 100, 100, herald.ClaimCaps{Webhook: 5,
		Webhooks: map[string]int{"a2": 1}}, a2[2])
	claimCapped("not yet due", 6, 100, herald.ClaimCaps{App: 10, Webhook: 10})
	claimCapped("the rest", 100, 100, herald.ClaimCaps{App: 10, Webhook: 10}, a2[3])
}

// ReturnDeliveries makes what a node claimed and will not send claimable
// again at once, by any node, and leaves alone what another node leased.
func testReturnDeliveries(t *testing.T, s herald.Store) {
	d1, d2, d3, d4 := newDelivery(1, "w", "k"), newDelivery(2, "w", "k"), newDelivery(3, "w", ""), newDelivery(4, "w", "")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, []*herald.Delivery{d1, d2, d3, d4})
	sameSet(t, "claimed by n1", ids(claim(t, s, "n1", at(10), at(100), 2)), ids([]*herald.Delivery{d1, d3}))
	wantClaim(t, s, "claimed by n2", "n2", at(10), at(100), d4)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		// d4 is n2's: n1 cannot give it back.
		return tx.ReturnDeliveries(ctx, "n1", []string{d1.ID, d3.ID, d4.ID, deliveryID(99)}, at(11))
	})
	for _, d := range []*herald.Delivery{d1, d3} {
		got := readDelivery(t, s, d.ID)
		if got.LeaseOwner != "" || got.LeaseUntil != nil || got.Status != herald.DeliveryPending || got.Held ||
			!got.NextAttemptAt.Equal(at(11)) || got.Attempts != 0 {
			t.Fatalf("returned delivery %s: %+v", d.ID, got)
		}
	}
	if got := readDelivery(t, s, d4.ID); got.LeaseOwner != "n2" || got.LeaseUntil == nil {
		t.Fatalf("n2's delivery lost its lease: owner %q until %v", got.LeaseOwner, got.LeaseUntil)
	}
	// Still first of its queue: d2 stays behind it.
	wantClaim(t, s, "before they are due again", "n3", at(10), at(100))
	wantClaim(t, s, "what was returned", "n3", at(11), at(100), d1, d3)
	complete(t, s, d1, herald.DeliveryDelivered, at(12), at(12))
	wantClaim(t, s, "the next of the queue", "n3", at(12), at(100), d2)
}

// A completion leases what it releases only within the bounds per webhook
// that its lease sets, when it sets them: none for a webhook it does not
// name.
func testCompletionsLeaseWithinWebhookBounds(t *testing.T, s herald.Store) {
	var heads, nexts []*herald.Delivery
	for i, wk := range []struct{ webhook, key string }{{"w", "a"}, {"w", "b"}, {"w", "c"}, {"w2", "a"}, {"w3", "a"}} {
		head, next := newDelivery(2*i+1, wk.webhook, wk.key), newDelivery(2*i+2, wk.webhook, wk.key)
		heads, nexts = append(heads, head), append(nexts, next)
	}
	seed(t, s, []*herald.Webhook{newWebhook("app", "w"), newWebhook("app", "w2"), newWebhook("app", "w3")},
		append(append([]*herald.Delivery{}, heads...), nexts...))
	sameSet(t, "claimed", ids(claim(t, s, "n", at(10), at(100), 100)), ids(heads))
	cs := deliveredAt(heads, at(12))
	var leased []*herald.Delivery
	var released int
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		leased, released, err = tx.CompleteDeliveries(ctx, cs, herald.Lease{Node: "n", Now: at(12), Until: at(1000),
			Limit: 10, Webhooks: map[string]int{"w": 2, "w2": 0}})
		return err
	})
	if released != 5 {
		t.Fatalf("released %d held deliveries, want 5", released)
	}
	sameSet(t, "leased", ids(leased), ids(nexts[:2]))
	wantClaim(t, s, "what was released without a lease", "n2", at(13), at(1000), nexts[2:]...)
}

// deliveredAt marks deliveries delivered at a time, on their first attempt,
// and returns their completions.
func deliveredAt(ds []*herald.Delivery, when time.Time) []herald.Completion {
	var cs []herald.Completion
	for _, d := range ds {
		delivered := when
		d.Status, d.Attempts, d.LastStatusCode, d.DeliveredAt = herald.DeliveryDelivered, 1, 200, &delivered
		cs = append(cs, herald.Completion{Delivery: d, Attempt: &herald.Attempt{DeliveryID: d.ID, StartedAt: when,
			StatusCode: 200}})
	}
	return cs
}
