package http_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// Tests of the limits that keep one app from growing the database or the
// delivery queue without bound: webhooks per app, retry and timeout floors,
// replays, and the deliveries of deleted and long-inactive webhooks (the
// content quota is in content_quota_test.go).

// forEachEngineConfigured runs f as a subtest per storage engine, on an API
// configured by opts.
func forEachEngineConfigured(t *testing.T, f func(t *testing.T, a *api), opts ...apiOption) {
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			f(t, startAPI(t, e.Open(t), opts...))
		})
	}
}

// webhookIDs lists the local ids of the webhooks of a listing.
func webhookIDs(t *testing.T, r *response) []string {
	t.Helper()
	var list []map[string]any
	r.JSON(t, &list)
	ids := []string{}
	for _, w := range list {
		ids = append(ids, localID(w["id"]))
	}
	return ids
}

// An app has at most 100 webhooks by default (the probe registered 1,000
// in 2.6 s); the listing comes a page at a time, newest first.
func TestWebhookLimit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		target := closedURL(t)
		var ids []string
		for i := range 100 {
			wh := a.createWebhook(t, hookBody(fmt.Sprintf("%s/hook/%d", target, i), "message.sent"))
			ids = append(ids, localID(wh["id"]))
		}
		e := a.do("POST", "/webhooks", hookBody(target+"/one-more", "message.sent")).
			wantError(t, 422, "quota_exceeded", "")
		if data, _ := e["data"].(map[string]any); data["limit"] != 100.0 || !strings.Contains(e["message"].(string), "100") {
			t.Fatalf("refusal %v: want the limit of 100 named", e)
		}
		// Callbell's webhook is one of them.
		a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": target, "subscriptions": []string{"message_created"}}).
			wantError(t, 422, "quota_exceeded", "")

		// A listing of up to 100 is one page, as before; the newest first.
		newest := slices.Clone(ids)
		slices.Reverse(newest)
		res := a.do("GET", "/webhooks", nil).must(t, 200)
		wantJSON(t, "listing", webhookIDs(t, res), newest)
		next := res.Header.Get("Link")
		if !strings.HasSuffix(next, `>; rel="next"`) {
			t.Fatalf("a full page has Link %q", next)
		}
		res = a.do("GET", strings.TrimSuffix(strings.TrimPrefix(next, "<"), `>; rel="next"`), nil).must(t, 200)
		if got := webhookIDs(t, res); len(got) != 0 || res.Header.Get("Link") != "" {
			t.Fatalf("the page after the last: %v, Link %q", got, res.Header.Get("Link"))
		}
		var paged []string
		path := "/webhooks?page_size=30"
		for range 10 {
			res := a.do("GET", path, nil).must(t, 200)
			paged = append(paged, webhookIDs(t, res)...)
			link := res.Header.Get("Link")
			if link == "" {
				break
			}
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
		wantJSON(t, "pages of 30", paged, newest)
		// from_id as a Layer id.
		wantJSON(t, "page after a Layer id", webhookIDs(t, a.do("GET", "/webhooks?page_size=2&from_id="+
			url.QueryEscape("layer:///apps/"+a.AppID+"/webhooks/"+newest[0]), nil).must(t, 200)), newest[1:3])
		a.do("GET", "/webhooks?page_size=0", nil).wantError(t, 422, "invalid_property", "page_size")

		// Another app has its own 100.
		appB, tokenB := a.newApp("b")
		b := &api{t: t, URL: a.URL, AppID: appB, Token: tokenB}
		b.createWebhook(t, hookBody(target, "message.sent"))

		// Deleting makes room, for as many as were deleted, however many
		// ask at once.
		for _, id := range ids[:3] {
			a.do("DELETE", "/webhooks/"+id, nil).must(t, 204)
		}
		var created atomic.Int32
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := a.in(t).do("POST", "/webhooks", hookBody(fmt.Sprintf("%s/again/%d", target, i), "message.sent"))
				switch res.Status {
				case 201:
					created.Add(1)
				case 422:
				default:
					t.Errorf("status %d: %s", res.Status, res.Body)
				}
			}()
		}
		wg.Wait()
		if n := created.Load(); n != 3 {
			t.Fatalf("%d webhooks created after 3 were deleted, want 3", n)
		}
		if n := len(webhookIDs(t, a.do("GET", "/webhooks?page_size=500", nil).must(t, 200))); n != 100 {
			t.Fatalf("the app has %d webhooks, want 100", n)
		}
	})
}

// With the server's floors (1 s by default), a webhook can no longer turn
// one event into a burst of requests: the probe's 20 retries 1 ms apart,
// with a 1 ms timeout, are refused, naming the property and the floor.
func TestWebhookRetryFloors(t *testing.T) {
	t.Parallel()
	defaults := func(s *heraldhttp.Server) { s.Engine.MinRetryDelay, s.Engine.MinTimeout = 0, 0 }
	forEachEngineConfigured(t, func(t *testing.T, a *api) {
		target := closedURL(t)
		burst := make([]float64, 20)
		for i := range burst {
			burst[i] = 0.001
		}
		ok := withKey(withKey(hookBody(target, "message.sent"), "retry_schedule", []float64{1, 2}), "timeout_seconds", 1)
		for _, c := range []struct {
			name, property string
			body           map[string]any
		}{
			{"the probe's burst", "retry_schedule[0]", withKey(ok, "retry_schedule", burst)},
			{"one short delay", "retry_schedule[1]", withKey(ok, "retry_schedule", []float64{1, 0.5})},
			{"a 1 ms timeout", "timeout_seconds", withKey(ok, "timeout_seconds", 0.001)},
			{"a timeout just short", "timeout_seconds", withKey(ok, "timeout_seconds", 0.999)},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := a.in(t).do("POST", "/webhooks", c.body).wantError(t, 422, "invalid_property", c.property)
				if data, _ := e["data"].(map[string]any); data["minimum"] != 1.0 {
					t.Fatalf("refusal %v: want the floor of 1 s in data.minimum", e)
				}
			})
		}
		if n := len(webhookIDs(t, a.do("GET", "/webhooks", nil).must(t, 200))); n != 0 {
			t.Fatalf("refused registrations registered %d webhooks", n)
		}
		// The floors themselves, and the defaults, are fine.
		a.createWebhook(t, ok)
		a.createWebhook(t, withKey(withKey(ok, "retry_schedule", nil), "timeout_seconds", nil))
	}, defaults)
}

// replay replays the webhook's events since a time and returns the answer.
func (a *api) replay(t *testing.T, id string, since time.Time) map[string]any {
	t.Helper()
	return a.in(t).do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": since}).must(t, 202).Map(t)
}

// Replays never queue an event again for a webhook that has it queued
// already: the probe's three replays queued the whole window each time,
// here the first queues it and the others find it queued, however many run
// at once; each event then reaches the receiver once.
func TestReplayQueuesEachEventOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		id := localID(a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))["id"])
		conv := a.newConversation(t, "alice", "bob")
		since := time.Now()
		for i := range 22 {
			a.sendText(t, conv, "alice", fmt.Sprint("message ", i))
		}
		rc.waitAccepted(t, 22)
		a.waitDeliveries(t, id, "delivered", 22)
		// Inactive, the webhook keeps what is queued for it.
		a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200)

		var queued, already atomic.Int32
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := a.replay(t, id, since)
				q, al := res["queued"].(float64), res["already_queued"].(float64)
				if q+al != 22 {
					t.Errorf("replay %v: want 22 events, queued or already queued", res)
				}
				queued.Add(int32(q))
				already.Add(int32(al))
			}()
		}
		wg.Wait()
		if queued.Load() != 22 || already.Load() != 4*22 {
			t.Fatalf("5 concurrent replays queued %d and found %d queued, want 22 and 88", queued.Load(), already.Load())
		}
		for range 2 {
			wantJSON(t, "replay again", a.replay(t, id, since), map[string]any{"queued": 0, "already_queued": 22})
		}
		a.waitDeliveries(t, id, "pending", 22)
		// Events recorded while inactive wait for the webhook: queued too.
		for i := range 3 {
			a.sendText(t, conv, "bob", fmt.Sprint("while inactive ", i))
		}
		a.waitDeliveries(t, id, "pending", 25)
		wantJSON(t, "replay with new events", a.replay(t, id, since), map[string]any{"queued": 0, "already_queued": 25})

		a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
		hits := rc.waitAccepted(t, 47)[22:]
		seen := map[string]bool{}
		for _, h := range hits {
			if seen[h.eventID()] {
				t.Fatalf("event %s (%s) arrived twice after the replays", h.eventID(), h.text())
			}
			seen[h.eventID()] = true
		}
		rc.quiet(t, 47, 200*time.Millisecond)
	})
}

// A replay adds to a webhook's queue up to a bound (100,000 by default):
// the probe's replays into a deactivated webhook grew the database without
// end. Past it, a replay queues what fits and says where to resume, or is
// refused when nothing fits.
func TestReplayQueueBound(t *testing.T) {
	t.Parallel()
	bound := func(s *heraldhttp.Server) { s.Engine.MaxQueuedDeliveries = 10 }
	forEachEngineConfigured(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		id := localID(a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))["id"])
		conv := a.newConversation(t, "alice", "bob")
		since := time.Now()
		for i := range 15 {
			a.sendText(t, conv, "alice", fmt.Sprint("message ", i))
		}
		rc.waitAccepted(t, 15)
		a.waitDeliveries(t, id, "delivered", 15)
		a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200)

		res := a.replay(t, id, since)
		wantJSON(t, "replay up to the bound", without(res, "resume_since"), map[string]any{"queued": 10, "already_queued": 0})
		var sentEvents []map[string]any
		for _, e := range a.events() {
			if e["type"] == "message.sent" {
				sentEvents = append(sentEvents, e)
			}
		}
		resume, err := time.Parse(time.RFC3339Nano, res["resume_since"].(string))
		if err != nil {
			t.Fatalf("resume_since %v: %v", res["resume_since"], err)
		}
		if len(sentEvents) != 15 || herald.FormatTime(resume) != sentEvents[10]["created_at"] {
			t.Fatalf("resume_since %v, want the time of the 11th message's event, %v", res["resume_since"], sentEvents[10]["created_at"])
		}
		e := a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": since}).wantError(t, 422, "quota_exceeded", "")
		if data, _ := e["data"].(map[string]any); data["limit"] != 10.0 {
			t.Fatalf("refusal %v: want the bound of 10 in data.limit", e)
		}
		a.waitDeliveries(t, id, "pending", 10)

		// Once the queue has gone, the rest of the window can follow.
		a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
		rc.waitAccepted(t, 25)
		a.waitDeliveries(t, id, "pending", 0)
		wantJSON(t, "replay of the rest", a.replay(t, id, resume), map[string]any{"queued": 5, "already_queued": 0})
		var texts []string
		for _, h := range rc.waitAccepted(t, 30)[25:] {
			texts = append(texts, h.text())
		}
		wantJSON(t, "the rest", texts, []string{"message 10", "message 11", "message 12", "message 13", "message 14"})
		rc.quiet(t, 30, 200*time.Millisecond)
	}, bound)
}

// A webhook inactive for longer than InactiveRetention (30 days by
// default) loses its undelivered deliveries to the maintenance job, which
// says so in its status reason; the probe's inactive webhooks kept theirs
// forever. A webhook inactive for less keeps them.
func TestLongInactiveWebhookDeliveriesRemoved(t *testing.T) {
	t.Parallel()
	var offsets sync.Map // *api's engine → *atomic.Int64, the clock's advance
	clock := func(s *heraldhttp.Server) {
		ahead := &atomic.Int64{}
		offsets.Store(s.Engine, ahead)
		s.Engine.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		s.Engine.Heartbeat, s.Engine.RetentionInterval, s.Engine.Retention = 50*time.Millisecond, 100*time.Millisecond, -1
	}
	forEachEngineConfigured(t, func(t *testing.T, a *api) {
		v, _ := offsets.Load(a.Engine)
		ahead := v.(*atomic.Int64)
		rcOld, rcRecent := newReceiver(t), newReceiver(t)
		old := localID(a.verifiedWebhook(t, hookBody(rcOld.URL, "message.sent"))["id"])
		recent := localID(a.verifiedWebhook(t, hookBody(rcRecent.URL, "message.sent"))["id"])
		a.do("POST", "/webhooks/"+old+"/deactivate", nil).must(t, 200)
		conv, other := a.newConversation(t, "alice", "bob"), a.newConversation(t, "carol", "dave")
		for i := range 4 {
			a.sendText(t, conv, "alice", fmt.Sprint("message ", i))
		}
		a.sendText(t, other, "carol", "elsewhere")
		rcRecent.waitAccepted(t, 5)
		a.waitDeliveries(t, old, "pending", 5)

		// A month later, the other webhook is deactivated too.
		ahead.Store(int64(30*24*time.Hour + time.Hour))
		a.do("POST", "/webhooks/"+recent+"/deactivate", nil).must(t, 200)
		a.sendText(t, conv, "bob", "a month later")
		a.waitDeliveries(t, recent, "pending", 1)

		eventually(t, func() bool { return len(a.deliveries(t, old, "")) == 0 },
			"the long-inactive webhook's deliveries to be removed (%d left)", func() int { return len(a.deliveries(t, old, "")) })
		wh := a.webhook(t, old)
		reason, _ := wh["status_reason"].(string)
		if wh["status"] != "inactive" || !strings.HasPrefix(reason, "Deactivated by User ") ||
			!strings.Contains(reason, "undelivered deliveries were removed") || !strings.Contains(reason, "30 days") {
			t.Fatalf("long-inactive webhook %v: want it inactive, its reason saying what was removed", wh)
		}
		if n := len(a.deliveries(t, recent, "pending")); n != 1 {
			t.Fatalf("the recently deactivated webhook has %d pending deliveries, want 1", n)
		}
		// The removal runs again: the reason says so once.
		a.sendText(t, conv, "alice", "later still")
		// Turned into deliveries for both webhooks at once.
		a.waitDeliveries(t, recent, "pending", 2)
		eventually(t, func() bool { return len(a.deliveries(t, old, "")) == 0 }, "the new delivery to be removed too")
		if r := a.webhook(t, old)["status_reason"].(string); strings.Count(r, "undelivered deliveries were removed") != 1 {
			t.Fatalf("status reason %q", r)
		}

		// Activated, the webhook gets what comes next, and nothing older.
		a.do("POST", "/webhooks/"+old+"/activate", nil).must(t, 200)
		a.waitWebhook(t, old, "active")
		a.sendText(t, conv, "bob", "welcome back")
		if h := rcOld.waitAccepted(t, 1); h[0].text() != "welcome back" {
			t.Fatalf("the reactivated webhook got %q first", h[0].text())
		}
		rcOld.quiet(t, 1, 200*time.Millisecond)
	}, clock)
}

// largeBacklog is the deliveries of the webhook TestDeleteWebhookWithLargeBacklog
// deletes.
var largeBacklog = 40_000

// Deleting a webhook with a large backlog answers at once and removes the
// backlog in batches, so that other apps' writes go on: in one transaction,
// 40,000 deliveries held SQLite's writer, and every write, for 2 s. Not in
// parallel with other tests: its bulk would slow theirs, and theirs its.
func TestDeleteWebhookWithLargeBacklog(t *testing.T) {
	backlog := largeBacklog
	forEachEngine(t, func(t *testing.T, a *api) {
		id := localID(a.createWebhook(t, hookBody(closedURL(t), "message.sent"))["id"])
		a.waitWebhook(t, id, "inactive")
		ctx := context.Background()
		at := time.Now()
		for i := 0; i < backlog; i += 2000 {
			var ds []*herald.Delivery
			for j := i; j < i+2000; j++ {
				ds = append(ds, &herald.Delivery{ID: uuid.Must(uuid.NewV7()).String(), AppID: a.AppID, WebhookID: id,
					EventID: uuid.NewString(), EventSeq: int64(j + 1), EventType: "message.sent",
					OrderingKey: fmt.Sprint("conv-", j%100), Body: []byte(strings.Repeat("x", 300)),
					Status: herald.DeliveryPending, NextAttemptAt: at, CreatedAt: at})
			}
			if err := a.Store.Update(ctx, func(tx herald.Tx) error { return tx.CreateDeliveries(ctx, ds) }); err != nil {
				t.Fatal(err)
			}
		}

		// Another app writes throughout.
		appB, tokenB := a.newApp("b")
		b := &api{t: t, URL: a.URL, AppID: appB, Token: tokenB}
		stop := make(chan struct{})
		var slowest atomic.Int64
		writes := make(chan int)
		go func() {
			n := 0
			defer func() { writes <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				res := b.in(t).do("POST", "/conversations", map[string]any{"participants": []string{"x", "y"}, "distinct": false})
				if res.Status != 201 {
					t.Errorf("a write during the deletion: %d %s", res.Status, res.Body)
					return
				}
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				n++
			}
		}()

		start := time.Now()
		a.do("DELETE", "/webhooks/"+id, nil).must(t, 204)
		if d := time.Since(start); d > time.Second {
			t.Errorf("DELETE took %s", d)
		}
		a.do("GET", "/webhooks/"+id, nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/webhooks/"+id+"/deliveries", nil).wantError(t, 404, "not_found", "")
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var left []*herald.Delivery
			var deleted []*herald.Webhook
			err := a.Store.View(ctx, func(q herald.Queries) (err error) {
				if left, err = q.Deliveries(ctx, id, "", herald.Page{Limit: 1}); err != nil {
					return err
				}
				deleted, err = q.DeletedWebhooks(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(left) == 0 && len(deleted) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the deleted webhook's %d deliveries are not removed after 2 minutes", backlog)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(start)
		close(stop)
		n := <-writes
		t.Logf("%d deliveries removed in %s; meanwhile %d writes of another app, the slowest %s",
			backlog, took, n, time.Duration(slowest.Load()))
		// In one transaction, a write waited for the whole deletion; in
		// batches, for one batch. A loaded machine (the race detector, other
		// tests) makes batches, and the checkpoints beside them, slower, so
		// the bound is generous: far from the whole deletion.
		if d := time.Duration(slowest.Load()); d > max(time.Second, took*3/4) {
			t.Fatalf("a write of another app waited %s during the deletion, which took %s", d, took)
		}
	})
}
