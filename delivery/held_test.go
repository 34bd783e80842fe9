package delivery

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald"
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
		{"attempt failed", func(h *heldHints, _ *foreignCount) { h.failed(heldDelivery("w", "k", 2)) }},
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
