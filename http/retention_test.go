package http_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// seedHistory writes n events, each delivered to the webhook with an
// attempt, as they would be after days of traffic: all at the given time.
func seedHistory(t *testing.T, s herald.Store, appID, webhookID string, n int, at time.Time) {
	t.Helper()
	ctx := context.Background()
	const batch = 500
	for start := 0; start < n; start += batch {
		err := s.Update(ctx, func(tx herald.Tx) error {
			var ds []*herald.Delivery
			for i := start; i < min(start+batch, n); i++ {
				e := &herald.Event{ID: fmt.Sprintf("old-event-%06d", i), AppID: appID, Type: herald.EventMessageSent,
					CreatedAt: at, Data: []byte(`{}`)}
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
				ds = append(ds, &herald.Delivery{ID: fmt.Sprintf("old-delivery-%06d", i), AppID: appID,
					WebhookID: webhookID, EventID: e.ID, EventType: "message.sent", Body: []byte(`{}`),
					Status: herald.DeliveryPending, NextAttemptAt: at, CreatedAt: at})
			}
			if err := tx.CreateDeliveries(ctx, ds); err != nil {
				return err
			}
			for _, d := range ds {
				d.Status, d.Attempts, d.DeliveredAt, d.LastStatusCode = herald.DeliveryDelivered, 1, &at, 204
				if _, _, err := tx.CompleteDeliveries(ctx, []herald.Completion{{Delivery: d, Attempt: &herald.Attempt{DeliveryID: d.ID, StartedAt: at, StatusCode: 204}}}, herald.Lease{}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A retention run removes weeks-old deliveries, attempts and events in
// small transactions while messages keep coming and being delivered: no
// error, nothing new removed, every new event delivered, and no transaction
// of the run long enough to hold the others up.
func TestRetentionWhileDelivering(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, map[string]any{"target_url": rc.URL, "events": []string{"message.sent"},
			"version": "2.0", "secret": "s"})
		conv := a.newConversation(t, "alice", "bob")
		const old = 3000
		seedHistory(t, a.Store, a.AppID, localID(wh["id"]), old, time.Now().AddDate(0, 0, -40))
		// The webhook has turned every old event into deliveries already.
		ctx := context.Background()
		if err := a.Store.Update(ctx, func(tx herald.Tx) error {
			last, err := tx.LastEventSeq(ctx)
			if err != nil {
				return err
			}
			w, err := tx.Webhook(ctx, a.AppID, localID(wh["id"]))
			if err != nil {
				return err
			}
			_, err = tx.AdvanceWebhookCursor(ctx, w.ID, w.Cursor, last)
			return err
		}); err != nil {
			t.Fatal(err)
		}

		// Messages stream in while retention runs.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var sent []string
		var slowest time.Duration
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					text := fmt.Sprintf("c%d #%d", c, i)
					a.sendText(t, conv, "alice", text)
					mu.Lock()
					sent = append(sent, text)
					slowest = max(slowest, time.Since(start))
					mu.Unlock()
				}
			}()
		}
		stats, err := a.Engine.RunRetention(ctx)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("retention: %v", err)
		}
		if stats.Deliveries != old || stats.Events != old {
			t.Errorf("retention removed %d deliveries and %d events, want %d of each", stats.Deliveries, stats.Events, old)
		}
		// Nothing old is left, nothing new is gone.
		err = a.Store.View(ctx, func(q herald.Queries) error {
			for _, id := range []string{"old-delivery-000000", fmt.Sprintf("old-delivery-%06d", old-1)} {
				if _, err := q.Delivery(ctx, a.AppID, id); !herald.IsNotFound(err) {
					t.Errorf("delivery %s after retention: %v, want not found", id, err)
				}
				if as, err := q.Attempts(ctx, id); err != nil || len(as) != 0 {
					t.Errorf("attempts of %s after retention: %d, %v", id, len(as), err)
				}
			}
			events, err := q.Events(ctx, a.AppID, 0, 100000)
			for _, e := range events {
				if e.Type == herald.EventMessageSent && e.CreatedAt.Before(time.Now().AddDate(0, 0, -1)) {
					t.Errorf("old event %s survived retention", e.ID)
					break
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		want := len(sent)
		mu.Unlock()
		delivered := func() int {
			return rc.count(func(h *hit) bool { return h.eventType() == "message.sent" && h.text() != "" })
		}
		eventually(t, func() bool { return delivered() >= want }, "%d of %d messages delivered", delivered(), want)
		if stats.LongestTransaction > 2*time.Second {
			t.Errorf("the longest retention transaction took %s", stats.LongestTransaction)
		}
		t.Logf("removed %d deliveries and %d events in %d transactions, the longest %s; %d messages sent meanwhile, slowest %s",
			stats.Deliveries, stats.Events, stats.Transactions, stats.LongestTransaction, want, slowest)
	})
}
