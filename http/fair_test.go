package http_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
)

// A tenant whose receivers stall cannot hold the workers that the others'
// deliveries need: app B has ten webhooks to a receiver that never answers
// and sends a burst into many conversations, and app A's deliveries to a
// fast receiver still arrive within milliseconds. The test logs A's
// latencies beside the stall (go test ./http -run TestStallingTenant -v).
func TestStallingTenantDoesNotDelayOthers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, a *api) {
		stalling, fast := newReceiver(t), newReceiver(t)
		stalling.script(func(*hit) reply { return reply{Hang: true} })
		b := a.cbwAs(t, "stalling")
		// Retried at once, many times, so that B keeps asking for workers
		// for the whole test, however slow the machine.
		retries := make([]float64, 20)
		for i := range retries {
			retries[i] = 0.05
		}
		stall := withKey(withKey(hookBody(stalling.URL, "message.sent"), "timeout_seconds", 5),
			"retry_schedule", retries)
		const stallHooks, conversations = 10, 30
		for range stallHooks {
			b.verifiedWebhook(t, stall)
		}
		a.verifiedWebhook(t, hookBody(fast.URL, "message.sent"))
		conv := a.newConversation(t, "alice", "bob")

		for i := range conversations {
			c := b.newConversation(t, "carol", fmt.Sprint("dave", i))
			b.sendText(t, c, "carol", "stall")
		}
		// B holds every worker it may before A sends anything.
		eventually(t, func() bool { return stalling.count(nil) >= 64 }, "B's attempts to reach its receiver (got %d)",
			func() int { return stalling.count(nil) })
		time.Sleep(100 * time.Millisecond)

		const messages = 50
		var latencies []time.Duration
		for i := range messages {
			start := time.Now()
			a.sendText(t, conv, "alice", fmt.Sprint("m", i))
			deadline := start.Add(30 * time.Second)
			for fast.count(nil) <= i && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if fast.count(nil) <= i {
				t.Fatalf("A's message %d was not delivered within 30 s", i)
			}
			latencies = append(latencies, fast.all()[i].At.Sub(start))
		}
		slices.Sort(latencies)
		p50, p99 := latencies[messages/2], latencies[(messages*99+99)/100-1]
		t.Logf("A's delivery latency beside a stalling B: p50 %s, p99 %s, max %s; B's attempts in flight: %d",
			p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond),
			latencies[messages-1].Round(100*time.Microsecond), stalling.count(func(h *hit) bool { return h.Status == 0 }))
		// Milliseconds, as logged; the bound leaves room for the race
		// detector on a busy machine, and is well under B's 5 s stalls,
		// which A waited for when B could hold every worker.
		if p99 > 2*time.Second {
			t.Errorf("A's p99 delivery latency is %s beside a stalling tenant", p99)
		}
	})
}

// The operator sets the longest attempt timeout a webhook may ask for; a
// webhook asking for more is refused, and told the limit.
func TestMaxAttemptTimeout(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			a := startAPI(t, e.Open(t), func(s *heraldhttp.Server) { s.Engine.MaxAttemptTimeout = 10 * time.Second })
			rc := newReceiver(t)
			body := hookBody(rc.URL, "message.sent")
			m := a.do("POST", "/webhooks", withKey(body, "timeout_seconds", 10.5)).
				wantError(t, 422, "invalid_property", "timeout_seconds")
			if msg := m["message"].(string); !strings.Contains(msg, "to 10 seconds, this server's limit") {
				t.Errorf("message %q does not name the limit", msg)
			}
			if limit := m["data"].(map[string]any)["limit"]; limit != 10.0 {
				t.Errorf("data.limit = %v, want 10", limit)
			}
			wh := a.createWebhook(t, withKey(body, "timeout_seconds", 10))
			wantJSON(t, "timeout_seconds at the limit", wh["timeout_seconds"], 10)
			// Without one, the default, which the limit does not cut here.
			wh = a.createWebhook(t, withKey(body, "timeout_seconds", nil))
			wantJSON(t, "default timeout_seconds", wh["timeout_seconds"], 5)
		})
	}
}
