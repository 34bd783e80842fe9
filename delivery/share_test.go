package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/stdwebhooks"
)

// The scheduler's rules, one decision at a time.
func TestSchedulerRules(t *testing.T) {
	s := newScheduler(32, 8, 4) // a reserve of 2
	take := func(app, webhook string, n int) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		took := 0
		for range n {
			if s.take(app, webhook) {
				took++
			}
		}
		return took
	}
	if got := take("a", "a1", 10); got != 4 {
		t.Fatalf("webhook a1 took %d workers, want its cap of 4", got)
	}
	if got := take("a", "a2", 10); got != 4 {
		t.Fatalf("webhook a2 took %d workers, want 4: app a's cap of 8 is reached with them", got)
	}
	if got := take("a", "a3", 1); got != 0 {
		t.Fatalf("app a took a worker past its cap of 8")
	}
	// 24 free: b, c and d take 21 of them, down to 3.
	for _, app := range []string{"b", "c"} {
		take(app, app+"1", 4)
		take(app, app+"2", 4)
	}
	if got := take("d", "d1", 4) + take("d", "d2", 1); got != 5 {
		t.Fatalf("app d took %d workers, want 5", got)
	}
	limit, caps := s.claimCaps()
	if limit != 3 || caps.App != 2 || caps.Apps["a"] != 0 || caps.Apps["b"] != 0 || caps.Apps["d"] != 1 ||
		caps.Webhook != 4 || caps.Webhooks["a1"] != 0 || caps.Webhooks["d2"] != 3 {
		t.Fatalf("claim caps with 3 workers free: limit %d, %+v", limit, caps)
	}
	// The reserve: with 3 free, d takes one more; with 1 free, an app with
	// 1 in flight may not take it, and one with nothing in flight may.
	if got := take("d", "d2", 1); got != 1 {
		t.Fatalf("app d with 5 in flight and 3 workers free took %d, want 1", got)
	}
	take("e", "e1", 1)
	if got := take("e", "e1", 1); got != 0 {
		t.Fatalf("app e, with 1 in flight, took the last worker")
	}
	if got := take("f", "f1", 1); got != 1 {
		t.Fatalf("app f, with nothing in flight, did not get the last worker")
	}
	if limit, _ := s.claimCaps(); limit != 0 {
		t.Fatalf("claim limit %d with every worker taken", limit)
	}
	s.mu.Lock()
	waited := s.give("a", "a1")
	s.mu.Unlock()
	if !waited {
		t.Fatalf("a worker of an app at its cap came back, and nothing was told to claim")
	}
	s.mu.Lock()
	for app, n := range map[string]int{"a": 7, "b": 8, "c": 8, "d": 6, "e": 1, "f": 1} {
		if s.apps[app] != n {
			t.Errorf("app %s has %d in flight, want %d", app, s.apps[app], n)
		}
	}
	if s.free != 1 {
		t.Errorf("%d workers free, want 1", s.free)
	}
	s.mu.Unlock()
}

// convFormat renders a message.sent event as its conversation and sequence
// number, and orders deliveries by conversation as Layer's format does.
type convFormat struct{ testFormat }

func (convFormat) Render(e *herald.Event, d *herald.EventData, _ *herald.Webhook) ([]byte, bool, error) {
	return fmt.Appendf(nil, "%s %d", orderingKey(d), e.Seq), true, nil
}

// fairStores are the engines the scheduler's tests run on.
var fairStores = []struct {
	name string
	open func(t *testing.T) herald.Store
}{
	{"sqlite", func(t *testing.T) herald.Store { return openStore(t) }},
	{"postgres", func(t *testing.T) herald.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// fairReceiver receives the deliveries to webhooks whose URL path is
// /APP/WEBHOOK, counts the requests in flight per webhook, per app and in
// all, and keeps each webhook's bodies in the order they came.
type fairReceiver struct {
	*httptest.Server
	// hold, when set, keeps a request of an app waiting before the answer.
	hold func(r *http.Request, app string)

	mu       sync.Mutex
	inFlight map[string]int
	peak     map[string]int
	bodies   map[string][]string
}

func newFairReceiver(t *testing.T, hold func(r *http.Request, app string)) *fairReceiver {
	rc := &fairReceiver{hold: hold, inFlight: map[string]int{}, peak: map[string]int{}, bodies: map[string][]string{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		app, webhook, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		counters := []string{"webhook " + webhook, "app " + app, "all"}
		rc.mu.Lock()
		for _, c := range counters {
			rc.inFlight[c]++
			rc.peak[c] = max(rc.peak[c], rc.inFlight[c])
		}
		rc.mu.Unlock()
		if rc.hold != nil {
			rc.hold(r, app)
		}
		rc.mu.Lock()
		for _, c := range counters {
			rc.inFlight[c]--
		}
		rc.bodies[webhook] = append(rc.bodies[webhook], string(body))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// received returns how many deliveries came in all.
func (rc *fairReceiver) received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, b := range rc.bodies {
		n += len(b)
	}
	return n
}

// peakOf returns the most requests that were in flight at once for a
// counter ("webhook W", "app A", "all").
func (rc *fairReceiver) peakOf(counter string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.peak[counter]
}

// checkEvery checks that each webhook got each of its events once, and
// those of a conversation in event order.
func (rc *fairReceiver) checkEvery(t *testing.T, want map[string][]string) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for webhook, events := range want {
		got := rc.bodies[webhook]
		seen := map[string]bool{}
		last := map[string]int{}
		for _, b := range got {
			if seen[b] {
				t.Errorf("webhook %s got %q twice", webhook, b)
			}
			seen[b] = true
			var conv string
			var seq int
			fmt.Sscanf(b, "%s %d", &conv, &seq)
			if seq < last[conv] {
				t.Errorf("webhook %s got event %d of %s after event %d", webhook, seq, conv, last[conv])
			}
			last[conv] = seq
		}
		for _, e := range events {
			if !seen[e] {
				t.Errorf("webhook %s never got %q", webhook, e)
			}
		}
		if len(got) != len(events) {
			t.Errorf("webhook %s got %d deliveries, want %d", webhook, len(got), len(events))
		}
	}
}

// fairSetup creates apps and their webhooks (app → webhook ids) to rc, and
// events: per app, messages into conversations in turn. It returns what
// each webhook must receive.
func fairSetup(t *testing.T, s herald.Store, rc *fairReceiver, apps map[string][]string, events, conversations map[string]int) map[string][]string {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	want := map[string][]string{}
	err := s.Update(ctx, func(tx herald.Tx) error {
		clear(want)
		for app, webhooks := range apps {
			if err := tx.CreateApp(ctx, &herald.App{ID: app, Name: app, CreatedAt: now}); err != nil {
				return err
			}
			for _, id := range webhooks {
				w := &herald.Webhook{ID: id, AppID: app, Format: "conv", Version: "1.0",
					TargetURL: rc.URL + "/" + app + "/" + id, Events: []string{"message.sent"}, Secret: "s",
					SigningKey: stdwebhooks.NewSecret(), Status: herald.WebhookActive,
					RetrySchedule: []time.Duration{time.Second}, Timeout: 10 * time.Second, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Events in batches, interleaving the apps, as traffic would come.
	for i := 0; ; i++ {
		more := false
		err := s.Update(ctx, func(tx herald.Tx) error {
			more = false
			for app := range apps {
				for j := range 10 {
					n := i*10 + j
					if n >= events[app] {
						break
					}
					more = true
					conv := fmt.Sprintf("%s-c%d", app, n%conversations[app])
					data, _ := json.Marshal(map[string]any{"conversation": map[string]any{"id": conv}})
					e := &herald.Event{ID: fmt.Sprintf("%s-e%d", app, n), AppID: app, Type: "message.sent",
						CreatedAt: now, Data: data}
					if err := tx.AppendEvent(ctx, e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	var logged []*herald.Event
	err = s.View(ctx, func(q herald.Queries) (err error) {
		logged, err = q.EventsSince(ctx, 0, 1<<20)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range logged {
		d, err := e.DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range apps[e.AppID] {
			want[w] = append(want[w], fmt.Sprintf("%s %d", orderingKey(d), e.Seq))
		}
	}
	return want
}

func total(want map[string][]string) int {
	n := 0
	for _, events := range want {
		n += len(events)
	}
	return n
}

func startFair(t *testing.T, s herald.Store, e *Engine) *Engine {
	t.Helper()
	e.Store = s
	e.Formats = map[string]Format{"conv": convFormat{}}
	e.PollInterval = 50 * time.Millisecond
	e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// However many deliveries are due, an app never has more attempts in flight
// than its cap, nor a webhook more than its own; every delivery arrives
// once, in order per conversation.
func TestCapsBoundAttemptsInFlight(t *testing.T) {
	for _, st := range fairStores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			rc := newFairReceiver(t, func(*http.Request, string) { time.Sleep(20 * time.Millisecond) })
			want := fairSetup(t, s, rc, map[string][]string{"x": {"x1", "x2", "x3"}, "y": {"y1"}},
				map[string]int{"x": 120, "y": 40}, map[string]int{"x": 24, "y": 8})
			startFair(t, s, &Engine{Workers: 12, AppWorkers: 6, WebhookWorkers: 4})
			waitFor(t, "every delivery", 120*time.Second, func() bool { return rc.received() >= total(want) })
			rc.checkEvery(t, want)
			for counter, limit := range map[string]int{"app x": 6, "webhook x1": 4, "webhook x2": 4, "webhook x3": 4,
				"app y": 4, "all": 12} {
				if peak := rc.peakOf(counter); peak > limit {
					t.Errorf("%s had %d attempts in flight at once, more than its cap of %d", counter, peak, limit)
				}
			}
			// The caps were reached: the bounds above held under load.
			if peak := rc.peakOf("app x"); peak < 6 {
				t.Errorf("app x had at most %d attempts in flight: the test did not load it to its cap", peak)
			}
		})
	}
}

// However many tenants stall, up to their caps, a tenant with nothing in
// flight finds a worker: the last one is kept for it.
func TestReserveGoesToAnAppWithNothingInFlight(t *testing.T) {
	for _, st := range fairStores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			release := make(chan struct{})
			var once sync.Once
			rc := newFairReceiver(t, func(r *http.Request, app string) {
				if app != "newcomer" {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
			})
			want := fairSetup(t, s, rc, map[string][]string{"s1": {"s1a"}, "s2": {"s2a"}, "newcomer": {"n1"}},
				map[string]int{"s1": 20, "s2": 20}, map[string]int{"s1": 20, "s2": 20})
			e := startFair(t, s, &Engine{Workers: 8, AppWorkers: 4, WebhookWorkers: 4})
			// Before the engine stops, which waits for the attempts.
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			// s1 holds its 4; s2 3, the last worker being the reserve.
			waitFor(t, "the stalling apps to hold their workers", 60*time.Second, func() bool {
				return rc.peakOf("all") >= 7
			})
			time.Sleep(200 * time.Millisecond)
			if s1, s2 := rc.peakOf("app s1"), rc.peakOf("app s2"); s1 != 4 || s2 != 3 {
				t.Fatalf("the stalling apps hold %d and %d workers, want 4 and 3", s1, s2)
			}
			ctx := context.Background()
			err := s.Update(ctx, func(tx herald.Tx) error {
				return tx.AppendEvent(ctx, &herald.Event{ID: "newcomer-e0", AppID: "newcomer", Type: "message.sent",
					CreatedAt: time.Now(), Data: json.RawMessage(`{"conversation":{"id":"newcomer-c0"}}`)})
			})
			if err != nil {
				t.Fatal(err)
			}
			e.Notify()
			start := time.Now()
			waitFor(t, "the newcomer's delivery beside the stalling apps", 5*time.Second, func() bool {
				return rc.received() == 1
			})
			t.Logf("the newcomer's delivery took %s", time.Since(start).Round(time.Millisecond))
			once.Do(func() { close(release) })
			var seq int64
			s.View(ctx, func(q herald.Queries) (err error) {
				seq, err = q.LastEventSeq(ctx)
				return err
			})
			want["n1"] = []string{fmt.Sprintf("newcomer-c0 %d", seq)}
			waitFor(t, "every delivery", 120*time.Second, func() bool { return rc.received() >= total(want) })
			rc.checkEvery(t, want)
			if peak := rc.peakOf("all"); peak > 8 {
				t.Errorf("%d attempts in flight at once with 8 workers", peak)
			}
		})
	}
}

// racingTx takes workers, as the fan-out would meanwhile, right after a
// claim read its caps and claimed.
type racingTx struct {
	herald.Tx
	race func()
}

func (r racingTx) ClaimDeliveries(ctx context.Context, node string, now, leaseUntil time.Time, limit int, caps herald.ClaimCaps) ([]*herald.Delivery, error) {
	ds, err := r.Tx.ClaimDeliveries(ctx, node, now, leaseUntil, limit, caps)
	r.race()
	return ds, err
}

// A claimed delivery whose webhook took workers elsewhere since the claim
// read its caps is returned to the store in the claim's transaction, not
// sent nor held in memory; it goes out later, in order, once.
func TestClaimReturnsWhatItMayNotSend(t *testing.T) {
	for _, st := range fairStores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			rc := newFairReceiver(t, nil)
			// Five conversations of two events: five queue heads due.
			want := fairSetup(t, s, rc, map[string][]string{"x": {"x1"}}, map[string]int{"x": 10}, map[string]int{"x": 5})
			ctx := context.Background()
			// Deliveries as the fan-out makes them, none leased.
			planner := &Engine{Store: s, Formats: map[string]Format{"conv": convFormat{}}, Node: "n"}
			var plan *fanOutPlan
			err := s.View(ctx, func(q herald.Queries) error {
				ws, err := q.Webhooks(ctx, "")
				if err == nil {
					plan, err = planner.planFanOut(q, ws, false)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ctx, func(tx herald.Tx) error { return plan.write(ctx, tx) }); err != nil {
				t.Fatal(err)
			}

			e := &Engine{Store: s, Node: "n", sched: newScheduler(8, 4, 4)}
			var kept, returned []*herald.Delivery
			err = s.Update(ctx, func(tx herald.Tx) (err error) {
				e.sched.giveAll(kept)
				race := func() {
					e.sched.mu.Lock()
					defer e.sched.mu.Unlock()
					for range 3 {
						e.sched.take("x", "x1")
					}
				}
				// Leased for a second: the kept one goes out again after.
				kept, returned, _, _, err = e.claim(ctx, racingTx{tx, race}, time.Now(), time.Now().Add(time.Second))
				if err != nil {
					// The race's workers are taken again by the next run.
					e.sched.giveAll([]*herald.Delivery{{AppID: "x", WebhookID: "x1"}, {AppID: "x", WebhookID: "x1"},
						{AppID: "x", WebhookID: "x1"}})
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(kept) != 1 || len(returned) != 3 {
				t.Fatalf("the claim kept %d deliveries and returned %d; want 1 kept (x1's cap of 4 less the 3 taken meanwhile) and 3 returned",
					len(kept), len(returned))
			}
			for _, d := range returned {
				var got *herald.Delivery
				s.View(ctx, func(q herald.Queries) (err error) {
					got, err = q.Delivery(ctx, "x", d.ID)
					return err
				})
				if got.LeaseOwner != "" || got.LeaseUntil != nil || got.Status != herald.DeliveryPending ||
					got.NextAttemptAt.After(time.Now()) {
					t.Fatalf("returned delivery %s: owner %q until %v, status %s, next attempt %v", got.ID, got.LeaseOwner,
						got.LeaseUntil, got.Status, got.NextAttemptAt)
				}
			}
			startFair(t, s, &Engine{Workers: 8, AppWorkers: 4, WebhookWorkers: 4})
			waitFor(t, "every delivery", 120*time.Second, func() bool { return rc.received() >= total(want) })
			rc.checkEvery(t, want)
		})
	}
}

// Stopped while attempts are in flight and deliveries wait behind the caps,
// then started again, the engine delivers every event once, in order.
func TestStopAndRestartWithinCapsLoseNothing(t *testing.T) {
	for _, st := range fairStores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			rc := newFairReceiver(t, func(*http.Request, string) { time.Sleep(5 * time.Millisecond) })
			want := fairSetup(t, s, rc, map[string][]string{"x": {"x1", "x2"}, "y": {"y1", "y2"}},
				map[string]int{"x": 100, "y": 100}, map[string]int{"x": 10, "y": 10})
			engine := func() *Engine {
				return &Engine{Workers: 8, AppWorkers: 4, WebhookWorkers: 2, NodeTimeout: time.Second,
					Heartbeat: 100 * time.Millisecond}
			}
			first := startFair(t, s, engine())
			waitFor(t, "a third of the deliveries", 120*time.Second, func() bool { return rc.received() >= total(want)/3 })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := first.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			stoppedAt := rc.received()
			if stoppedAt >= total(want) {
				t.Fatalf("everything was delivered before the engine stopped")
			}
			startFair(t, s, engine())
			waitFor(t, "every delivery", 120*time.Second, func() bool { return rc.received() >= total(want) })
			time.Sleep(100 * time.Millisecond)
			rc.checkEvery(t, want)
		})
	}
}

// A webhook whose timeout was allowed under an earlier limit gets no more
// than the server's limit now: the leases are sized by it.
func TestAttemptTimeoutIsBoundedByTheServer(t *testing.T) {
	s := openStore(t)
	release := make(chan struct{})
	defer close(release)
	rc := newFairReceiver(t, func(r *http.Request, _ string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fairSetup(t, s, rc, map[string][]string{"x": {"x1"}}, map[string]int{"x": 1}, map[string]int{"x": 1})
	// fairSetup's webhooks ask for 10 s.
	start := time.Now()
	startFair(t, s, &Engine{MaxAttemptTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	var d *herald.Delivery
	// Well before the webhook's own 10 s.
	waitFor(t, "the attempt to time out", 8*time.Second, func() bool {
		var ds []*herald.Delivery
		s.View(ctx, func(q herald.Queries) (err error) {
			ds, err = q.Deliveries(ctx, "x1", "", herald.Page{Limit: 1})
			return err
		})
		if len(ds) == 1 && ds[0].Attempts > 0 {
			d = ds[0]
		}
		return d != nil
	})
	if d.LastError != "no response within 300ms" {
		t.Fatalf("after %s, the attempt's error: %q; want no response within 300ms", time.Since(start).Round(time.Millisecond), d.LastError)
	}
}
