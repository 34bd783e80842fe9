package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Counting an attempt or a request allocates nothing once its series
// exist: the instrumented paths stay as they were.
func TestCountingAllocatesNothing(t *testing.T) {
	m := New()
	a := Attempt{WebhookID: "w", Format: "layer", Version: "3.0", StatusCode: 204, Duration: time.Millisecond, Outcome: Delivered}
	m.Attempted(a)
	m.Served("GET /apps/{app}/conversations", 200, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { m.Attempted(a) }); n != 0 {
		t.Errorf("an attempt allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.Served("GET /apps/{app}/conversations", 200, time.Millisecond) }); n != 0 {
		t.Errorf("a request allocates %v times", n)
	}
	if got := testutil.ToFloat64(m.deliveries.WithLabelValues("layer-3.0", Delivered)); got != 102 {
		t.Errorf("%v deliveries counted, want 102", got)
	}
}

// A failing streak counts the failures since the last delivered attempt,
// and ends with it.
func TestFailingStreak(t *testing.T) {
	m := New()
	fail := Attempt{WebhookID: "w", Format: "layer", Version: "3.0", StatusCode: 500, Outcome: Retry}
	for range 3 {
		m.Attempted(fail)
	}
	if got := testutil.CollectAndCount(streakCollector{m}); got != 1 {
		t.Fatalf("%d streaks, want 1", got)
	}
	if n := m.streaks["w"].Load(); n != 3 {
		t.Errorf("streak %d, want 3", n)
	}
	ok := fail
	ok.StatusCode, ok.Outcome = 200, Delivered
	m.Attempted(ok)
	if got := testutil.CollectAndCount(streakCollector{m}); got != 0 {
		t.Errorf("%d streaks after a delivered attempt, want none", got)
	}
}

func BenchmarkAttempted(b *testing.B) {
	m := New()
	a := Attempt{WebhookID: "w", Format: "layer", Version: "3.0", StatusCode: 204, Duration: time.Millisecond, Outcome: Delivered}
	b.ReportAllocs()
	for b.Loop() {
		m.Attempted(a)
	}
}

func BenchmarkServed(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Served("POST /apps/{app}/conversations/{conv}/messages", 201, time.Millisecond)
	}
}
