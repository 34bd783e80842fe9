package http

import (
	"crypto/sha256"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultRateLimit is the default Server.RateLimit: Callbell's documented
// limit, whose API answers 429 above 300 requests per second.
const DefaultRateLimit = 300

// rateLimiter gives each token a bucket of requests: RateLimit requests
// per second, and as many at once. Buckets are keyed by the token's
// SHA-256, so that the map keeps no token, and exist only for tokens that
// authenticated, so that invalid tokens cannot grow it: it holds at most
// one bucket per token issued, and drops those left idle.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[[sha256.Size]byte]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

// sweepInterval is how often idle buckets are dropped.
const sweepInterval = time.Minute

func newRateLimiter(perSecond float64) *rateLimiter {
	return &rateLimiter{limit: rate.Limit(perSecond), burst: max(1, int(perSecond)),
		buckets: map[[sha256.Size]byte]*bucket{}}
}

// allow takes a request from the token's bucket, or says how long until
// the bucket has one.
func (l *rateLimiter) allow(token string, now time.Time) (bool, time.Duration) {
	key := sha256.Sum256([]byte(token))
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepInterval {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	if b.limiter.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.limiter.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// sweep drops the buckets idle long enough to have filled up again: a new
// bucket would be the same.
func (l *rateLimiter) sweep(now time.Time) {
	refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.seen) > refill {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}
