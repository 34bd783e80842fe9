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

// DefaultTokenConcurrency is the default Server.TokenConcurrency: more
// than a client within the rate limit needs (300 requests a second of
// 200 ms each are 60 at once), few enough that one token holding its
// requests open leaves most connections to the others.
const DefaultTokenConcurrency = 64

// tokenLimits give each token a bucket of requests, RateLimit per second
// and as many at once, and a bound on its requests in progress. They are
// keyed by the token's SHA-256, so that the map keeps no token, and exist
// only for tokens that authenticated, so that invalid tokens cannot grow
// it: it holds at most one entry per token issued, and drops those left
// idle.
type tokenLimits struct {
	limit       rate.Limit // 0: no rate limit
	burst       int
	concurrency int // 0: no bound

	mu        sync.Mutex
	tokens    map[[sha256.Size]byte]*tokenState
	lastSweep time.Time
}

type tokenState struct {
	bucket     *rate.Limiter
	inProgress int
	seen       time.Time
}

// sweepInterval is how often idle entries are dropped.
const sweepInterval = time.Minute

func newTokenLimits(perSecond float64, concurrency int) *tokenLimits {
	l := &tokenLimits{concurrency: max(concurrency, 0), tokens: map[[sha256.Size]byte]*tokenState{}}
	if perSecond > 0 {
		l.limit, l.burst = rate.Limit(perSecond), max(1, int(perSecond))
	}
	return l
}

// refusal says why a request was refused, and how long until the token
// may send another.
type refusal struct {
	overRate bool // over the rate, else too many in progress
	wait     time.Duration
}

// acquire counts a request of the token in, or refuses it. The caller
// calls release once the request is done.
func (l *tokenLimits) acquire(token string, now time.Time) (release func(), refused *refusal) {
	key := sha256.Sum256([]byte(token))
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepInterval {
		l.sweep(now)
	}
	s := l.tokens[key]
	if s == nil {
		s = &tokenState{}
		if l.limit > 0 {
			s.bucket = rate.NewLimiter(l.limit, l.burst)
		}
		l.tokens[key] = s
	}
	s.seen = now
	if l.concurrency > 0 && s.inProgress >= l.concurrency {
		// A request in progress ends within the body and write timeouts;
		// a second is a fair guess at when one has.
		return nil, &refusal{wait: time.Second}
	}
	if s.bucket != nil && !s.bucket.AllowN(now, 1) {
		missing := 1 - s.bucket.TokensAt(now)
		return nil, &refusal{overRate: true, wait: time.Duration(missing / float64(l.limit) * float64(time.Second))}
	}
	s.inProgress++
	return func() {
		l.mu.Lock()
		s.inProgress--
		l.mu.Unlock()
	}, nil
}

// sweep drops the entries with no request in progress that have been
// idle long enough for their bucket to fill up again: a new entry would be
// the same.
func (l *tokenLimits) sweep(now time.Time) {
	var refill time.Duration
	if l.limit > 0 {
		refill = time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	}
	for k, s := range l.tokens {
		if s.inProgress == 0 && now.Sub(s.seen) > refill {
			delete(l.tokens, k)
		}
	}
	l.lastSweep = now
}
