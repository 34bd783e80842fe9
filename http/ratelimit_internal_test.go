package http

import (
	"strconv"
	"testing"
	"time"
)

// Buckets idle long enough to have filled up again are dropped: the memory
// the limiter keeps follows the tokens in use, not every token ever seen.
func TestRateLimiterDropsIdleBuckets(t *testing.T) {
	l := newRateLimiter(10)
	now := time.Now()
	for i := range 1000 {
		if ok, _ := l.allow("token-"+strconv.Itoa(i), now); !ok {
			t.Fatalf("token %d refused on its first request", i)
		}
	}
	if len(l.buckets) != 1000 {
		t.Fatalf("%d buckets, want 1000", len(l.buckets))
	}
	// Within the sweep interval nothing is dropped; after it, every bucket
	// idle for longer than a refill (one second here) is.
	l.allow("token-0", now.Add(30*time.Second))
	if len(l.buckets) != 1000 {
		t.Fatalf("%d buckets before the sweep interval, want 1000", len(l.buckets))
	}
	l.allow("token-1", now.Add(sweepInterval+time.Second))
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after the sweep, want 1: token-1's, new again", len(l.buckets))
	}
}

// The wait for the next request is what the bucket lacks at the rate.
func TestRateLimiterWait(t *testing.T) {
	l := newRateLimiter(4) // burst 4, a request every 250 ms
	now := time.Now()
	for range 4 {
		l.allow("t", now)
	}
	ok, wait := l.allow("t", now)
	if ok || wait < 240*time.Millisecond || wait > 250*time.Millisecond {
		t.Fatalf("fifth request: %v, wait %s; want refused, about 250 ms", ok, wait)
	}
	if ok, _ := l.allow("t", now.Add(250*time.Millisecond)); !ok {
		t.Fatal("refused 250 ms later")
	}
}
