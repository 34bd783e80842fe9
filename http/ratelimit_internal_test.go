package http

import (
	"strconv"
	"testing"
	"time"
)

// Entries idle long enough for their bucket to have filled up again are
// dropped: the memory the limits keep follows the tokens in use, not every
// token ever seen. Those with a request in progress stay.
func TestTokenLimitsDropIdleTokens(t *testing.T) {
	l := newTokenLimits(10, 0)
	now := time.Now()
	var held func()
	for i := range 1000 {
		release, refused := l.acquire("token-"+strconv.Itoa(i), now)
		if refused != nil {
			t.Fatalf("token %d refused on its first request", i)
		}
		if i == 999 {
			held = release
		} else {
			release()
		}
	}
	if len(l.tokens) != 1000 {
		t.Fatalf("%d entries, want 1000", len(l.tokens))
	}
	// Within the sweep interval nothing is dropped; after it, every entry
	// idle for longer than a refill (one second here) is, unless a request
	// of its token is still in progress.
	release, _ := l.acquire("token-0", now.Add(30*time.Second))
	release()
	if len(l.tokens) != 1000 {
		t.Fatalf("%d entries before the sweep interval, want 1000", len(l.tokens))
	}
	l.acquire("token-1", now.Add(sweepInterval+time.Second))
	if len(l.tokens) != 2 {
		t.Fatalf("%d entries after the sweep, want 2: token-999's, in progress, and token-1's, new again", len(l.tokens))
	}
	held()
}

// The wait for the next request is what the bucket lacks at the rate.
func TestTokenLimitsWait(t *testing.T) {
	l := newTokenLimits(4, 0) // burst 4, a request every 250 ms
	now := time.Now()
	for range 4 {
		l.acquire("t", now)
	}
	_, refused := l.acquire("t", now)
	if refused == nil || !refused.overRate || refused.wait < 240*time.Millisecond || refused.wait > 250*time.Millisecond {
		t.Fatalf("fifth request: %+v; want refused, about 250 ms", refused)
	}
	if _, refused := l.acquire("t", now.Add(250*time.Millisecond)); refused != nil {
		t.Fatal("refused 250 ms later")
	}
}

// A token has at most its concurrency in progress; each release lets one
// more in.
func TestTokenLimitsConcurrency(t *testing.T) {
	l := newTokenLimits(0, 2)
	now := time.Now()
	r1, _ := l.acquire("t", now)
	if _, refused := l.acquire("t", now); refused != nil {
		t.Fatal("second request refused")
	}
	if _, refused := l.acquire("t", now); refused == nil || refused.overRate {
		t.Fatalf("third request in progress: %+v, want refused", refused)
	}
	if _, refused := l.acquire("u", now); refused != nil {
		t.Fatal("another token refused")
	}
	r1()
	if _, refused := l.acquire("t", now); refused != nil {
		t.Fatal("refused after a release")
	}
}
