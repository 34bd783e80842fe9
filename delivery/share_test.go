package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/stdwebhooks"
)

// The scheduler's rules, one decision at a time.
func TestSchedulerRules(t *testing.T) {
	woken := 0
	s := newScheduler(32, 8, 4, func() { woken++ }) // half is 16, the reserve 2
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
	if got := take("a", "a1", 30); got != 24 {
		t.Fatalf("a webhook alone took %d workers, want three quarters of them, 24, past its cap of 4", got)
	}
	if got := take("a", "a2", 10); got != 4 {
		t.Fatalf("the app's other webhook took %d workers, want its cap of 4, past the app's cap of 8", got)
	}
	if got := take("a", "a1", 1); got != 0 {
		t.Fatalf("a1, no longer alone and past its cap, took a worker")
	}
	limit, caps := s.claimCaps()
	if limit != 4 || caps.App != 2 || caps.Apps["a"] != 2 || caps.Webhook != 4 ||
		caps.Webhooks["a1"] != 0 || caps.Webhooks["a2"] != 0 {
		t.Fatalf("claim caps with 4 workers free: limit %d, %+v", limit, caps)
	}
	// The reserve: with 2 workers free, an app with 2 in flight may not
	// take one; with 1, only an app with nothing in flight may.
	if got := take("b", "b1", 4); got != 2 {
		t.Fatalf("app b took %d of the 4 workers free, want 2", got)
	}
	if got := take("c", "c1", 4); got != 1 {
		t.Fatalf("app c took %d of the 2 workers free, want 1", got)
	}
	if got := take("e", "e1", 1); got != 1 {
		t.Fatalf("app e, with nothing in flight, did not get the last worker")
	}
	if limit, _ := s.claimCaps(); limit != 0 {
		t.Fatalf("claim limit %d with every worker taken", limit)
	}
	s.mu.Lock()
	s.give("a", "a2")
	s.give("a", "a2")
	s.mu.Unlock()
	if woken != 1 {
		t.Fatalf("two workers came back after deliveries were refused: %d wake-ups, want 1", woken)
	}
	// Their 2 workers are the reserve: a, with 26 in flight, may not take
	// one back.
	if got := take("a", "a2", 1); got != 0 {
		t.Fatalf("app a, with 26 in flight, took one of the 2 workers of the reserve")
	}
	s.mu.Lock()
	for app, n := range map[string]int{"a": 26, "b": 2, "c": 1, "e": 1} {
		if s.apps[app] != n {
			t.Errorf("app %s has %d in flight, want %d", app, s.apps[app], n)
		}
	}
	if s.free != 2 {
		t.Errorf("%d workers free, want 2", s.free)
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
	hold func(r *http.Request, app, webhook string)

	mu       sync.Mutex
	inFlight map[string]int
	peak     map[string]int
	bodies   map[string][]string
}

func newFairReceiver(t *testing.T, hold func(r *http.Request, app, webhook string)) *fairReceiver {
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
			rc.hold(r, app, webhook)
		}
		rc.mu.Lock()
		for _, c := range counters {
			rc.inFlight[c]--
		}
		// An attempt its sender gave up on (timed out) is not a delivery.
		if r.Context().Err() == nil {
			rc.bodies[webhook] = append(rc.bodies[webhook], string(body))
		}
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// received returns how many distinct deliveries came in all.
func (rc *fairReceiver) received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, bodies := range rc.bodies {
		seen := map[string]bool{}
		for _, b := range bodies {
			if !seen[b] {
				seen[b] = true
				n++
			}
		}
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

// fairHook is a webhook of an app to a fairReceiver, taking one event type.
type fairHook struct{ app, id, event string }

// createFairHooks creates the webhooks, and their apps unless they exist.
func createFairHooks(t *testing.T, s herald.Store, rc *fairReceiver, hooks ...fairHook) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	err := s.Update(ctx, func(tx herald.Tx) error {
		for _, h := range hooks {
			if _, err := tx.App(ctx, h.app); herald.IsNotFound(err) {
				err = tx.CreateApp(ctx, &herald.App{ID: h.app, Name: h.app, CreatedAt: now})
				if err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			w := &herald.Webhook{ID: h.id, AppID: h.app, Format: "conv", Version: "1.0",
				TargetURL: rc.URL + "/" + h.app + "/" + h.id, Events: []string{h.event}, Secret: "s",
				SigningKey: stdwebhooks.NewSecret(), Status: herald.WebhookActive,
				RetrySchedule: []time.Duration{time.Second}, Timeout: 30 * time.Second, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// appendFairEvents appends n events of a type to an app, into its
// conversations in turn, ten per transaction.
func appendFairEvents(t *testing.T, s herald.Store, app, typ string, n, conversations int) {
	t.Helper()
	ctx := context.Background()
	for first := 0; first < n; first += 10 {
		err := s.Update(ctx, func(tx herald.Tx) error {
			for i := first; i < min(first+10, n); i++ {
				conv := fmt.Sprintf("%s-%s-c%d", app, typ, i%conversations)
				data, _ := json.Marshal(map[string]any{"conversation": map[string]any{"id": conv}})
				e := &herald.Event{ID: fmt.Sprintf("%s-%s-e%d", app, typ, i), AppID: app, Type: typ,
					CreatedAt: time.Now(), Data: data}
				if err := tx.AppendEvent(ctx, e); err != nil {
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

// fairWant returns what each webhook must receive of the events logged.
func fairWant(t *testing.T, s herald.Store, hooks ...fairHook) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var logged []*herald.Event
	err := s.View(ctx, func(q herald.Queries) (err error) {
		logged, err = q.EventsSince(ctx, 0, 1<<20)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, e := range logged {
		d, err := e.DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			if h.app == e.AppID && h.event == e.Type {
				want[h.id] = append(want[h.id], fmt.Sprintf("%s %d", orderingKey(d), e.Seq))
			}
		}
	}
	return want
}

// fairSetup creates apps and their webhooks (app → webhook ids) to rc, and
// messages of each app into its conversations in turn. It returns what each
// webhook must receive.
func fairSetup(t *testing.T, s herald.Store, rc *fairReceiver, apps map[string][]string, events, conversations map[string]int) map[string][]string {
	t.Helper()
	var hooks []fairHook
	for app, ids := range apps {
		for _, id := range ids {
			hooks = append(hooks, fairHook{app, id, "message.sent"})
		}
	}
	createFairHooks(t, s, rc, hooks...)
	for app := range apps {
		appendFairEvents(t, s, app, "message.sent", events[app], conversations[app])
	}
	return fairWant(t, s, hooks...)
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
	// The receivers listen on loopback.
	e.AllowTargets = egress.Loopback
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

// A webhook alone may pass its cap: here one that stalls holds half of the
// workers, one per conversation. Then its app's other webhook still gets its own
// cap's worth, and beside it, other apps get theirs: however many of their
// deliveries are due, an app holds no more than its cap, a webhook no more
// than its own. Every delivery arrives once, in order per conversation.
func TestCapsBoundAttemptsInFlight(t *testing.T) {
	for _, st := range fairStores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			release := make(chan struct{})
			var once sync.Once
			rc := newFairReceiver(t, func(r *http.Request, _, webhook string) {
				if webhook != "h1" {
					time.Sleep(20 * time.Millisecond)
					return
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			hooks := []fairHook{{"h", "h1", "message.sent"}, {"h", "h2", "message.read"},
				{"x", "x1", "message.sent"}, {"x", "x2", "message.sent"}, {"x", "x3", "message.sent"},
				{"y", "y1", "message.sent"}}
			createFairHooks(t, s, rc, hooks...)
			appendFairEvents(t, s, "h", "message.sent", 40, 8)
			e := startFair(t, s, &Engine{Workers: 16, AppWorkers: 4, WebhookWorkers: 2})
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			waitFor(t, "h1 to hold half of the workers", 60*time.Second, func() bool { return rc.peakOf("webhook h1") >= 8 })

			appendFairEvents(t, s, "h", "message.read", 30, 10)
			e.Notify()
			waitFor(t, "h2's deliveries beside its stalling sibling", 60*time.Second, func() bool {
				return rc.received() >= 30
			})

			appendFairEvents(t, s, "x", "message.sent", 60, 20)
			appendFairEvents(t, s, "y", "message.sent", 40, 8)
			e.Notify()
			waitFor(t, "x's and y's deliveries", 120*time.Second, func() bool { return rc.received() >= 30+3*60+40 })
			if peak := rc.peakOf("webhook h1"); peak != 8 {
				t.Errorf("h1 had %d attempts in flight at once, want one per conversation, 8", peak)
			}
			once.Do(func() { close(release) })
			want := fairWant(t, s, hooks...)
			waitFor(t, "every delivery", 120*time.Second, func() bool { return rc.received() >= total(want) })
			rc.checkEvery(t, want)
			for counter, limit := range map[string]int{"webhook h2": 2, "app x": 4, "webhook x1": 2, "webhook x2": 2,
				"webhook x3": 2, "app y": 2, "all": 16} {
				peak := rc.peakOf(counter)
				if peak > limit {
					t.Errorf("%s had %d attempts in flight at once, more than its cap of %d", counter, peak, limit)
				}
				// The caps were reached: the bounds held under load.
				if peak < limit && counter != "all" {
					t.Errorf("%s had at most %d attempts in flight: the test did not load it to its cap of %d",
						counter, peak, limit)
				}
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
			rc := newFairReceiver(t, func(r *http.Request, app, _ string) {
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
			// They hold every worker but the last, the reserve.
			waitFor(t, "the stalling apps to hold their workers", 60*time.Second, func() bool {
				return rc.peakOf("all") >= 7
			})
			time.Sleep(200 * time.Millisecond)
			if s1, s2 := rc.peakOf("app s1"), rc.peakOf("app s2"); s1+s2 != 7 {
				t.Fatalf("the stalling apps hold %d and %d workers, want 7 of the 8 between them", s1, s2)
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

			e := &Engine{Store: s, Node: "n", sched: newScheduler(8, 4, 4, nil)}
			// Another webhook in flight, so that x1's cap binds.
			e.sched.mu.Lock()
			e.sched.take("y", "y1")
			e.sched.mu.Unlock()
			var kept, claimed []*herald.Delivery
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
				kept, claimed, _, _, err = e.claim(ctx, racingTx{tx, race}, time.Now(), time.Now().Add(time.Second))
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
			var returned []*herald.Delivery
			for _, d := range claimed {
				if !slices.Contains(kept, d) {
					returned = append(returned, d)
				}
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
			rc := newFairReceiver(t, func(*http.Request, string, string) { time.Sleep(5 * time.Millisecond) })
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
	rc := newFairReceiver(t, func(r *http.Request, _, _ string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fairSetup(t, s, rc, map[string][]string{"x": {"x1"}}, map[string]int{"x": 1}, map[string]int{"x": 1})
	// fairSetup's webhooks ask for 30 s.
	start := time.Now()
	startFair(t, s, &Engine{MaxAttemptTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	var d *herald.Delivery
	// Well before the webhook's own 30 s.
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
