package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func heartbeat(t *testing.T, s herald.Store, node string, now time.Time) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.Heartbeat(ctx, node, now) })
}

func recoverLeases(t *testing.T, s herald.Store, now, deadBefore time.Time) int {
	t.Helper()
	var n int
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		n, err = tx.RecoverLeases(ctx, now, deadBefore)
		return err
	})
	return n
}

// The deliveries leased by a node not heard from since deadBefore, or never
// heard from, go back to the others; those of a live node stay with it.
func testRecoverLeasesOfSilentNodes(t *testing.T, s herald.Store) {
	var ds []*herald.Delivery
	for i := range 6 {
		ds = append(ds, newDelivery(i+1, "w", ""))
	}
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, ds)
	heartbeat(t, s, "dead", at(1))
	heartbeat(t, s, "alive", at(1))
	leased := map[string][]*herald.Delivery{}
	for _, node := range []string{"dead", "silent", "alive"} {
		if leased[node] = claim(t, s, node, at(2), at(100), 2); len(leased[node]) != 2 {
			t.Fatalf("%s claimed %d deliveries, want 2", node, len(leased[node]))
		}
	}
	heartbeat(t, s, "alive", at(10))

	if n := recoverLeases(t, s, at(12), at(5)); n != 4 {
		t.Fatalf("recovered %d deliveries, want 4", n)
	}
	heartbeat(t, s, "other", at(12))
	wantClaim(t, s, "the recovered deliveries", "other", at(12), at(100),
		append(leased["dead"], leased["silent"]...)...)
	for _, d := range leased["alive"] {
		if got := readDelivery(t, s, d.ID); got.LeaseUntil == nil {
			t.Fatalf("delivery %s of the live node lost its lease", d.ID)
		}
	}

	// A node that recovery forgot is one never heard from, whatever the
	// deadBefore of a later recovery.
	late := newDelivery(7, "w", "")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateDeliveries(ctx, []*herald.Delivery{late})
	})
	wantClaim(t, s, "the dead node's new claim", "dead", at(13), at(100), late)
	if n := recoverLeases(t, s, at(14), at(0)); n != 1 {
		t.Fatalf("recovered %d deliveries of the forgotten node, want 1", n)
	}
	wantClaim(t, s, "after the second recovery", "last", at(14), at(100), late)
}

func claimJob(t *testing.T, s herald.Store, name string, now, next time.Time) bool {
	t.Helper()
	var won bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		won, err = tx.ClaimJob(ctx, name, now, next)
		return err
	})
	return won
}

// A periodic job is won once per period; losing does not move its next run.
func testClaimJob(t *testing.T, s herald.Store) {
	for _, c := range []struct {
		what      string
		name      string
		now, next int
		win       bool
	}{
		{"the first claim", "retention", 0, 10, true},
		{"before the next run", "retention", 5, 15, false},
		{"another job", "recovery", 5, 6, true},
		{"at the next run", "retention", 10, 20, true},
		{"the same period again", "retention", 10, 20, false},
		{"just before the next run", "retention", 19, 30, false},
		{"late", "retention", 25, 35, true},
		{"the other job at its next run", "recovery", 6, 7, true},
	} {
		if got := claimJob(t, s, c.name, at(c.now), at(c.next)); got != c.win {
			t.Fatalf("%s (%s at %d, next %d): won=%v, want %v", c.what, c.name, c.now, c.next, got, c.win)
		}
	}
}

// Of the nodes claiming a job at once, exactly one wins, on the first claim
// as on later ones.
func testConcurrentClaimJobHasOneWinner(t *testing.T, s herald.Store) {
	const nodes = 8
	for _, now := range []int{0, 10} {
		var wg sync.WaitGroup
		won := make([]bool, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				err := s.Update(ctx, func(tx herald.Tx) (err error) {
					won[i], err = tx.ClaimJob(ctx, "job", at(now), at(now+10))
					return err
				})
				if err != nil {
					t.Errorf("node %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		winners := 0
		for _, w := range won {
			if w {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("at %d: %d nodes won the job, want 1", now, winners)
		}
	}
}

// Retention removes delivered deliveries, with their attempts, in batches;
// the unfinished and the recent stay.
func testPruneDeliveries(t *testing.T, s herald.Store) {
	var ds []*herald.Delivery
	for i := range 10 {
		ds = append(ds, newDelivery(i+1, "w", ""))
	}
	seed(t, s, []*herald.Webhook{newWebhook("app", "w")}, ds)
	old := ds[:5]
	for i, d := range old {
		complete(t, s, d, herald.DeliveryDelivered, at(i+1), at(i+1))
	}
	complete(t, s, ds[5], herald.DeliveryDelivered, at(10), at(10)) // not before the cut
	complete(t, s, ds[6], herald.DeliveryDelivered, at(50), at(50))
	// ds[7] was never attempted.
	complete(t, s, ds[8], herald.DeliveryFailed, at(2), at(2))
	complete(t, s, ds[9], herald.DeliveryPending, at(3), at(60))
	kept := ds[5:]

	exists := func(d *herald.Delivery) bool {
		return found(t, s, func(ctx context.Context, q herald.Queries) error {
			_, err := q.Delivery(ctx, "app", d.ID)
			return err
		})
	}
	attempts := func(d *herald.Delivery) int {
		var n int
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			as, err := q.Attempts(ctx, d.ID)
			n = len(as)
			return err
		})
		return n
	}
	left := len(old)
	for _, want := range []int{2, 2, 1, 0} {
		var n int
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			n, err = tx.PruneDeliveries(ctx, at(10), 2)
			return err
		})
		if n != want {
			t.Fatalf("pruned %d deliveries, want %d", n, want)
		}
		left -= n
		still := 0
		for _, d := range old {
			if exists(d) {
				still++
				if attempts(d) != 1 {
					t.Fatalf("delivery %s is kept without its attempt", d.ID)
				}
			} else if a := attempts(d); a != 0 {
				t.Fatalf("pruned delivery %s left %d attempts", d.ID, a)
			}
		}
		if still != left {
			t.Fatalf("%d old deliveries left, want %d", still, left)
		}
		for _, d := range kept {
			if !exists(d) {
				t.Fatalf("delivery of event %d (%s) was pruned", d.EventSeq, d.Status)
			}
		}
	}
	for _, d := range kept {
		want := 1
		if d == ds[7] {
			want = 0
		}
		if got := attempts(d); got != want {
			t.Fatalf("delivery of event %d has %d attempts, want %d", d.EventSeq, got, want)
		}
	}
}

// Retention removes old events in batches, but none that a webhook has yet
// to turn into deliveries.
func testPruneEvents(t *testing.T, s herald.Store) {
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return createApp(ctx, tx, "app") })
	var events []*herald.Event
	for i, minute := range []int{1, 2, 3, 4, 5, 6, 50} {
		e := &herald.Event{ID: fmt.Sprint("e", i+1), AppID: "app", Type: herald.EventMessageSent,
			CreatedAt: at(minute), Data: json.RawMessage(`{}`)}
		update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.AppendEvent(ctx, e) })
		events = append(events, e)
	}
	seq := func(n int) int64 { return events[n-1].Seq }
	behind, ahead := newWebhook("app", "behind"), newWebhook("app", "ahead")
	behind.Cursor, ahead.Cursor = seq(2), seq(4)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.CreateWebhook(ctx, behind); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, ahead)
	})

	prune := func(limit int, want int, left ...string) {
		t.Helper()
		var n int
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			n, err = tx.PruneEvents(ctx, at(10), limit)
			return err
		})
		if n != want {
			t.Fatalf("pruned %d events, want %d", n, want)
		}
		var got []string
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			es, err := q.Events(ctx, "app", 0, 100)
			for _, e := range es {
				got = append(got, e.ID)
			}
			return err
		})
		if jsonOf(t, got) != jsonOf(t, left) {
			t.Fatalf("events left: %v, want %v", got, left)
		}
	}
	prune(100, 2, "e3", "e4", "e5", "e6", "e7")

	var moved bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		moved, err = tx.AdvanceWebhookCursor(ctx, behind.ID, seq(2), seq(6))
		return err
	})
	if !moved {
		t.Fatal("the cursor did not move")
	}
	prune(1, 1, "e4", "e5", "e6", "e7")
	prune(100, 1, "e5", "e6", "e7")
	prune(100, 0, "e5", "e6", "e7")

	// Without webhooks, nothing waits for the old events.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.DeleteWebhook(ctx, "app", behind.ID); err != nil {
			return err
		}
		return tx.DeleteWebhook(ctx, "app", ahead.ID)
	})
	prune(100, 2, "e7")
	prune(100, 0, "e7")
}

// Deliveries with the same PayloadID share one stored body, the first
// one's, across calls; it stays while any of them does, and goes with the
// last (a body created again under its id is then stored anew).
func testDeliveriesShareBodies(t *testing.T, s herald.Store) {
	shared := func(d *herald.Delivery, payload, body string) *herald.Delivery {
		d.PayloadID, d.Body = payload, []byte(body)
		return d
	}
	d1 := shared(newDelivery(1, "w1", ""), "p", `{"shared":1}`)
	d2 := shared(newDelivery(2, "w2", ""), "p", `{"shared":1}`)
	own := newDelivery(3, "w1", "")
	seed(t, s, []*herald.Webhook{newWebhook("app", "w1"), newWebhook("app", "w2")},
		[]*herald.Delivery{d1, d2, own})
	// Created in another update, and given another body: it gets the
	// stored one.
	d4 := shared(newDelivery(4, "w1", ""), "p", `{"other":4}`)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateDeliveries(ctx, []*herald.Delivery{d4})
	})
	if own.PayloadID != own.ID {
		t.Fatalf("a delivery created without a payload id got %q, want its own id", own.PayloadID)
	}
	body := func(d *herald.Delivery) string {
		var got *herald.Delivery
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.Delivery(ctx, "app", d.ID)
			return err
		})
		if got.PayloadID != d.PayloadID {
			t.Fatalf("delivery %s has payload %q, want %q", d.ID, got.PayloadID, d.PayloadID)
		}
		return string(got.Body)
	}
	for d, want := range map[*herald.Delivery]string{d1: `{"shared":1}`, d2: `{"shared":1}`, own: `{"n":3}`,
		d4: `{"shared":1}`} {
		if got := body(d); got != want {
			t.Fatalf("delivery of event %d reads body %s, want %s", d.EventSeq, got, want)
		}
	}
	for _, d := range claim(t, s, "n1", at(0), at(10), 10) {
		if want := map[string]string{d1.ID: `{"shared":1}`, d2.ID: `{"shared":1}`, own.ID: `{"n":3}`,
			d4.ID: `{"shared":1}`}[d.ID]; string(d.Body) != want {
			t.Fatalf("claimed delivery of event %d has body %s, want %s", d.EventSeq, d.Body, want)
		}
	}

	// Pruned and deleted one by one: the body stays with the last one.
	complete(t, s, d1, herald.DeliveryDelivered, at(1), at(1))
	complete(t, s, d4, herald.DeliveryDelivered, at(2), at(2))
	complete(t, s, own, herald.DeliveryDelivered, at(3), at(3))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		n, err := tx.PruneDeliveries(ctx, at(5), 10)
		if n != 3 {
			t.Fatalf("pruned %d deliveries, want 3", n)
		}
		return err
	})
	if got := body(d2); got != `{"shared":1}` {
		t.Fatalf("the last delivery of a shared body reads %s after the others went", got)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteWebhook(ctx, "app", "w2") })

	// Nothing refers to "p" any more: it was removed, and is stored anew.
	d5 := shared(newDelivery(5, "w1", ""), "p", `{"anew":5}`)
	again := newDelivery(3, "w1", "")
	again.ID = deliveryID(6)
	again.PayloadID, again.Body = own.ID, []byte(`{"anew":6}`)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateDeliveries(ctx, []*herald.Delivery{d5, again})
	})
	if got := body(d5); got != `{"anew":5}` {
		t.Fatalf("a body whose deliveries were all deleted was kept: a new one under its id reads %s", got)
	}
	if got := body(again); got != `{"anew":6}` {
		t.Fatalf("a body whose deliveries were all pruned was kept: a new one under its id reads %s", got)
	}
}
