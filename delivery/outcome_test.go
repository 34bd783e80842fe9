package delivery

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func newResult(attempts, status int, errText string, schedule ...time.Duration) *result {
	return &result{
		job: job{
			d: &herald.Delivery{ID: "d1", Status: herald.DeliveryPending, Attempts: attempts},
			w: &herald.Webhook{ID: "w1", RetrySchedule: schedule},
		},
		a:          &herald.Attempt{StatusCode: status, Error: errText},
		retryAfter: -1,
	}
}

func TestOutcome(t *testing.T) {
	e := &Engine{MaxRetryAfter: time.Hour}
	now := time.Unix(1_700_000_000, 0)
	schedule := []time.Duration{10 * time.Second, 30 * time.Second}

	t.Run("2xx delivers", func(t *testing.T) {
		r := newResult(0, 204, "", schedule...)
		if reason := e.outcome(r, now); reason != "" {
			t.Fatalf("deactivated: %s", reason)
		}
		if r.d.Status != herald.DeliveryDelivered || r.d.DeliveredAt == nil || r.d.Attempts != 1 {
			t.Fatalf("delivery %+v", r.d)
		}
	})
	t.Run("failures retry on the schedule with jitter", func(t *testing.T) {
		for attempt, base := range schedule {
			r := newResult(attempt, 500, "", schedule...)
			if reason := e.outcome(r, now); reason != "" {
				t.Fatalf("deactivated after attempt %d: %s", attempt+1, reason)
			}
			delay := r.d.NextAttemptAt.Sub(now)
			if r.d.Status != herald.DeliveryPending || delay < base*8/10 || delay > base*12/10 {
				t.Fatalf("attempt %d: status %s, retry in %s, want %s ±20%%", attempt+1, r.d.Status, delay, base)
			}
		}
	})
	t.Run("exhaustion fails the delivery and deactivates", func(t *testing.T) {
		r := newResult(len(schedule), 0, "connection refused", schedule...)
		reason := e.outcome(r, now)
		if r.d.Status != herald.DeliveryFailed || !strings.Contains(reason, "failed 3 times") || !strings.Contains(reason, "connection refused") {
			t.Fatalf("status %s, reason %q", r.d.Status, reason)
		}
	})
	t.Run("410 deactivates at once", func(t *testing.T) {
		r := newResult(0, 410, "", schedule...)
		reason := e.outcome(r, now)
		if r.d.Status != herald.DeliveryFailed || !strings.Contains(reason, "410") {
			t.Fatalf("status %s, reason %q", r.d.Status, reason)
		}
	})
	t.Run("Retry-After replaces the schedule, within a bound", func(t *testing.T) {
		r := newResult(0, 429, "", schedule...)
		r.retryAfter = 3 * time.Second
		e.outcome(r, now)
		if got := r.d.NextAttemptAt.Sub(now); got != 3*time.Second {
			t.Fatalf("retry in %s, want 3s", got)
		}
		r = newResult(0, 503, "", schedule...)
		r.retryAfter = 48 * time.Hour
		e.outcome(r, now)
		if got := r.d.NextAttemptAt.Sub(now); got != time.Hour {
			t.Fatalf("retry in %s, want the 1h bound", got)
		}
	})
}

// The floors hold for what a webhook registered before them asks for, and
// for a receiver's Retry-After: no retry comes sooner than MinRetryDelay,
// no attempt is cut shorter than MinTimeout.
func TestRetryFloors(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name         string
		e            *Engine
		floor        time.Duration
		timeout      time.Duration
		wantTimeout  time.Duration
		retryAfter   time.Duration
		scheduleBase time.Duration
	}{
		{"default floors", &Engine{MaxRetryAfter: time.Hour}, time.Second, time.Millisecond, time.Second, 0, time.Millisecond},
		{"raised floors", &Engine{MaxRetryAfter: time.Hour, MinRetryDelay: time.Minute, MinTimeout: 10 * time.Second},
			time.Minute, 5 * time.Second, 10 * time.Second, 30 * time.Second, 10 * time.Second},
		{"no floors", &Engine{MaxRetryAfter: time.Hour, MinRetryDelay: -1, MinTimeout: -1}, 0, time.Millisecond,
			time.Millisecond, 0, time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newResult(0, 500, "", c.scheduleBase)
			c.e.outcome(r, now)
			if got := r.d.NextAttemptAt.Sub(now); got < c.floor || got > max(c.floor, c.scheduleBase*12/10) {
				t.Fatalf("a retry on a schedule of %s comes after %s, want at least %s", c.scheduleBase, got, c.floor)
			}
			r = newResult(0, 503, "", c.scheduleBase)
			r.retryAfter = c.retryAfter
			c.e.outcome(r, now)
			if got := r.d.NextAttemptAt.Sub(now); got != max(c.floor, c.retryAfter) {
				t.Fatalf("Retry-After %s: retry after %s, want %s", c.retryAfter, got, max(c.floor, c.retryAfter))
			}
			if got := c.e.timeout(&herald.Webhook{Timeout: c.timeout}); got != c.wantTimeout {
				t.Fatalf("a timeout of %s is %s, want %s", c.timeout, got, c.wantTimeout)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", -1}, {"7", 7 * time.Second}, {"-3", -1}, {"soon", -1},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(c.in, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestOrderingKey(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{`{"message":{"conversation_id":"c1"},"conversation":{"id":"c1"}}`, "c1"},
		{`{"conversation":{"id":"c2"}}`, "c2"},
		{`{"message":{"conversation_id":"c3"}}`, "c3"},
		{`{"identity":{"user_id":"u"}}`, ""},
	} {
		d, err := (&herald.Event{Data: []byte(c.data)}).DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		if got := orderingKey(d); got != c.want {
			t.Errorf("orderingKey(%s) = %q, want %q", c.data, got, c.want)
		}
	}
}
