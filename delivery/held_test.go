package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/stdwebhooks"
)

type foreignCount uint64

func (c *foreignCount) ForeignWrites() uint64 { return uint64(*c) }

func heldDelivery(webhook, key string, seq int64) *herald.Delivery {
	return &herald.Delivery{ID: fmt.Sprint("d", seq), WebhookID: webhook, OrderingKey: key, EventSeq: seq,
		Status: herald.DeliveryPending, Held: true}
}

func seqs(ds []*herald.Delivery) []int64 {
	var s []int64
	for _, d := range ds {
		s = append(s, d.EventSeq)
	}
	return s
}

// knownQueue makes the queue of d known, as a worker's read that found its
// end does.
func knownQueue(t *testing.T, h *heldHints, d *herald.Delivery) {
	t.Helper()
	h.add(d)
	gen, maybe := h.get(d)
	if !maybe {
		t.Fatal("no hint after add")
	}
	h.drop(d, gen)
	if _, maybe := h.get(d); maybe {
		t.Fatal("a known queue with nothing kept still hints")
	}
}

func TestHeldHintsKnownQueues(t *testing.T) {
	var count foreignCount
	h := &heldHints{foreign: &count}
	head := heldDelivery("w", "k", 1)
	knownQueue(t, h, head)

	// Created held in a known queue, out of order here: kept in event
	// order.
	for _, seq := range []int64{2, 4, 3} {
		h.add(heldDelivery("w", "k", seq))
	}
	if _, maybe := h.get(head); !maybe {
		t.Fatal("a known queue with deliveries kept does not hint")
	}
	got, known := h.taken(head, 1, 2)
	if !known || fmt.Sprint(seqs(got)) != "[2 3]" {
		t.Fatalf("taken after 1 = %v, %v; want [2 3], true", seqs(got), known)
	}
	got, known = h.taken(head, 3, 64)
	if !known || fmt.Sprint(seqs(got)) != "[4]" {
		t.Fatalf("taken after 3 = %v, %v; want [4], true", seqs(got), known)
	}
	if h.kept != 1 {
		t.Fatalf("kept = %d, want 1", h.kept)
	}
	// Released rather than created held: a hint, nothing kept.
	released := heldDelivery("w", "k", 5)
	released.Held = false
	h.add(released)
	if got, _ := h.taken(head, 4, 64); len(got) != 0 {
		t.Fatalf("taken after 4 = %v, want none", seqs(got))
	}
	if h.kept != 0 {
		t.Fatalf("kept = %d, want 0", h.kept)
	}
}

// A hint that comes between the read and its drop may be of a delivery
// the read missed: the queue stays unknown.
func TestHeldHintsDropAfterNewerHint(t *testing.T) {
	var count foreignCount
	h := &heldHints{foreign: &count}
	d := heldDelivery("w", "k", 1)
	h.add(d)
	gen, _ := h.get(d)
	h.add(heldDelivery("w", "k", 2))
	h.drop(d, gen)
	if _, known := h.taken(d, 1, 64); known {
		t.Fatal("queue known though a hint came after the read")
	}
	if _, maybe := h.get(d); !maybe {
		t.Fatal("the newer hint was lost")
	}
}

// Without ForeignWrites (a shared store), no queue is ever known: a read
// that finds a queue's end forgets it, as before.
func TestHeldHintsUntrusted(t *testing.T) {
	h := &heldHints{}
	d := heldDelivery("w", "k", 1)
	h.add(d)
	gen, _ := h.get(d)
	h.drop(d, gen)
	if _, maybe := h.get(d); maybe {
		t.Fatal("queue still hinted after its end was found")
	}
	h.add(heldDelivery("w", "k", 2))
	if _, known := h.taken(d, 1, 64); known {
		t.Fatal("queue known on an untrusted store")
	}
	if h.kept != 0 {
		t.Fatalf("kept = %d, want 0", h.kept)
	}
}

// Whatever may have changed a queue's deliveries otherwise than the
// fan-out and the workers makes it unknown: another process's writes,
// changes to its webhook's deliveries, a failed attempt.
func TestHeldHintsUnknownAgain(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(h *heldHints, count *foreignCount)
	}{
		{"another process wrote", func(h *heldHints, count *foreignCount) { *count++ }},
		{"webhook's deliveries changed", func(h *heldHints, _ *foreignCount) { h.forget("w") }},
		{"attempt failed", func(h *heldHints, _ *foreignCount) { h.reread(heldDelivery("w", "k", 2)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var count foreignCount
			h := &heldHints{foreign: &count}
			head, other := heldDelivery("w", "k", 1), heldDelivery("v", "k", 1)
			knownQueue(t, h, head)
			knownQueue(t, h, other)
			h.add(heldDelivery("w", "k", 2))
			h.add(heldDelivery("v", "k", 2))
			c.do(h, &count)
			if _, known := h.taken(head, 1, 64); known {
				t.Fatal("queue still known")
			}
			if _, maybe := h.get(head); !maybe {
				t.Fatal("queue no longer hinted: its held deliveries would not be read")
			}
			_, known := h.taken(other, 1, 64)
			if want := c.name == "another process wrote"; known == want {
				t.Fatalf("the other webhook's queue known = %v, want %v", known, !want)
			}
			// Known again after the next read that finds its end.
			gen, _ := h.get(head)
			h.drop(head, gen)
			h.add(heldDelivery("w", "k", 3))
			if got, known := h.taken(head, 2, 64); !known || fmt.Sprint(seqs(got)) != "[3]" {
				t.Fatalf("taken after 2 = %v, %v; want [3], true", seqs(got), known)
			}
		})
	}
}

// Memory keeps a bounded number of deliveries: a queue that would pass
// its bound, or the whole bound, is unknown again and read from the store.
func TestHeldHintsBounds(t *testing.T) {
	var count foreignCount
	h := &heldHints{foreign: &count}
	head := heldDelivery("w", "k", 0)
	knownQueue(t, h, head)
	for seq := int64(1); seq <= maxKeptPerQueue+1; seq++ {
		h.add(heldDelivery("w", "k", seq))
	}
	if _, known := h.taken(head, 0, 64); known {
		t.Fatal("queue known past its bound")
	}
	if h.kept != 0 {
		t.Fatalf("kept = %d, want 0", h.kept)
	}

	h = &heldHints{foreign: &count}
	queues := maxKeptDeliveries/maxKeptPerQueue + 1
	for q := range queues {
		knownQueue(t, h, heldDelivery("w", fmt.Sprint(q), 0))
		for seq := int64(1); seq <= maxKeptPerQueue; seq++ {
			h.add(heldDelivery("w", fmt.Sprint(q), seq))
		}
	}
	if h.kept > maxKeptDeliveries {
		t.Fatalf("kept = %d, past %d", h.kept, maxKeptDeliveries)
	}
	if _, known := h.taken(heldDelivery("w", fmt.Sprint(queues-1), 0), 0, 64); known {
		t.Fatal("the queue past the bound is known")
	}
	if got, known := h.taken(heldDelivery("w", "0", 0), 0, 64); !known || len(got) != 64 {
		t.Fatalf("the first queue: %d kept, known %v", len(got), known)
	}

	// Known queues with nothing held are forgotten past maxKnownQueues.
	h = &heldHints{foreign: &count}
	for q := range maxKnownQueues + 2 {
		knownQueue(t, h, heldDelivery("w", fmt.Sprint(q), 0))
	}
	if len(h.m) > maxKnownQueues+1 {
		t.Fatalf("%d queues kept, past %d", len(h.m), maxKnownQueues)
	}
}

// followFixture is a webhook of a SQLite store whose receiver, on
// 127.0.0.1, records the "n" of each body it is sent, and an engine that
// sends its queues as a started one would (not started: the tests play the
// fan-out and the dispatcher). late, once set, makes the engine's clock
// say that a worker's time is up.
type followFixture struct {
	e     *Engine
	store *sqlite.Store
	w     *herald.Webhook
	start time.Time
	late  atomic.Bool
	// lateAfter, when set, sets late once that many were received.
	lateAfter int

	mu       sync.Mutex
	received []int
}

func newFollowFixture(t *testing.T) *followFixture {
	f := &followFixture{store: openStore(t), start: time.Now()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ N int }
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.received = append(f.received, body.N)
		if len(f.received) == f.lateAfter {
			f.late.Store(true)
		}
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	f.e = &Engine{Store: f.store, Node: "n", AllowTargets: egress.Loopback,
		Formats: map[string]Format{herald.FormatLayer: layer.Format{}},
		Now: func() time.Time {
			if f.late.Load() {
				return f.start.Add(time.Hour)
			}
			return f.start
		}}
	f.e.defaultClient()
	t.Cleanup(f.e.transport.CloseIdleConnections)
	f.e.held.foreign = f.store
	f.w = &herald.Webhook{ID: "w", AppID: "app", Format: herald.FormatLayer, Version: "2.0",
		TargetURL: srv.URL + "/hook", Events: []string{herald.EventMessageSent}, Secret: "secret",
		SigningKey: stdwebhooks.NewSecret(), Status: herald.WebhookActive, RetrySchedule: []time.Duration{time.Minute},
		Timeout: 10 * time.Second, CreatedAt: f.start, UpdatedAt: f.start}
	ctx := context.Background()
	err := f.store.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateApp(ctx, &herald.App{ID: "app", Name: "app", CreatedAt: f.start}); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, f.w)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// create writes the deliveries of events from..to in the queue, and hints
// those created held, as the fan-out does.
func (f *followFixture) create(t *testing.T, from, to int) []*herald.Delivery {
	t.Helper()
	var ds []*herald.Delivery
	for n := from; n <= to; n++ {
		ds = append(ds, &herald.Delivery{ID: fmt.Sprint("d", n), AppID: "app", WebhookID: "w", EventID: fmt.Sprint("e", n),
			EventSeq: int64(n), EventType: herald.EventMessageSent, OrderingKey: "k",
			Body: []byte(fmt.Sprintf(`{"n":%d}`, n)), Status: herald.DeliveryPending, NextAttemptAt: f.start, CreatedAt: f.start})
	}
	ctx := context.Background()
	if err := f.store.Update(ctx, func(tx herald.Tx) error { return tx.CreateDeliveries(ctx, ds) }); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Held {
			f.e.held.add(d)
		}
	}
	return ds
}

// record records the outcomes of a worker's attempts as delivered, as the
// dispatcher does, and returns what that released and leased.
func (f *followFixture) record(t *testing.T, rs []*result) []*herald.Delivery {
	t.Helper()
	ctx := context.Background()
	var leased []*herald.Delivery
	err := f.store.Update(ctx, func(tx herald.Tx) (err error) {
		cs := make([]herald.Completion, len(rs))
		for i, r := range rs {
			delivered := f.start
			r.d.Status, r.d.Attempts, r.d.DeliveredAt = herald.DeliveryDelivered, 1, &delivered
			r.d.LastStatusCode = r.a.StatusCode
			cs[i] = herald.Completion{Delivery: r.d, Attempt: r.a}
		}
		leased, _, err = tx.CompleteDeliveries(ctx, cs, herald.Lease{Node: "n", Now: f.start, Until: f.start.Add(time.Minute), Limit: 1})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return leased
}

func (f *followFixture) got() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.received)
}

// A worker that stops before the end of the deliveries it read behind its
// queue's head (its time was up) leaves the rest held in the store: those
// the fan-out creates in the queue afterwards go out after them, never
// before, when the next head's worker follows it.
func TestFollowersKeepOrderAfterStoppingMidRead(t *testing.T) {
	f := newFollowFixture(t)
	f.lateAfter = 3
	first := f.create(t, 1, 6)
	// The head and the first two held behind it: the read found the end
	// of the queue, and the worker's time was up before the rest.
	rs := f.e.sendQueue(&job{d: first[0], w: f.w})
	if len(rs) != 3 {
		t.Fatalf("the first worker sent %d deliveries, want 3", len(rs))
	}
	// Then the fan-out creates one more, held, in the queue.
	if more := f.create(t, 7, 7); !more[0].Held {
		t.Fatal("the last delivery was not created held")
	}
	leased := f.record(t, rs)
	if len(leased) != 1 || leased[0].ID != "d4" {
		t.Fatalf("released %v, want d4", leased)
	}
	f.late.Store(false)
	f.e.sendQueue(&job{d: leased[0], w: f.w})
	if got := f.got(); got != "[1 2 3 4 5 6 7]" {
		t.Fatalf("received %s, want [1 2 3 4 5 6 7]", got)
	}
}

// A delivery resent while its queue has one in flight and others held
// behind it goes alone: the held ones wait for the queue's head.
func TestResentDeliveryDoesNotLeadItsQueue(t *testing.T) {
	f := newFollowFixture(t)
	ctx := context.Background()
	first := f.create(t, 1, 1)
	f.record(t, f.e.sendQueue(&job{d: first[0], w: f.w}))
	// The queue's head in flight, two held behind it.
	f.create(t, 2, 4)
	resent, err := f.e.Resend(ctx, "app", "w", "d1")
	if err != nil {
		t.Fatal(err)
	}
	rs := f.e.sendQueue(&job{d: resent, w: f.w})
	if got := f.got(); len(rs) != 1 || got != "[1 1]" {
		t.Fatalf("the resent delivery's worker sent %d, received %s; want it alone, [1 1]", len(rs), got)
	}
}
