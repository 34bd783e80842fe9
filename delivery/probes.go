package delivery

import (
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// Bounds of the probes: the verification GETs of Layer-format webhooks and
// the health checks of Callbell-format ones. A tenant starts a verification
// with every webhook it creates or activates, as fast as it likes; each
// holds a connection for as long as the receiver lets it.
const (
	// DefaultMaxProbes bounds the probes in flight at once.
	DefaultMaxProbes = 16
	// DefaultMaxProbesPerApp bounds those of one app, so that one app
	// cannot take every turn.
	DefaultMaxProbesPerApp = 4
	// MaxProbeTimeout bounds one probe, whatever the webhook's timeout.
	MaxProbeTimeout = 10 * time.Second
)

// probeQueue runs probes: at most limit at once and perApp of one app, the
// apps with waiting probes taking turns. A waiting probe is a closure, not a
// goroutine or a connection. A probe submitted under the key of one still
// waiting replaces it, so that a webhook activated a hundred times in a row
// is verified once, as it is now.
type probeQueue struct {
	limit, perApp int

	mu      sync.Mutex
	running int
	byApp   map[string]int       // probes running, per app
	waiting map[string]*appQueue // probes waiting, per app
	turns   []string             // apps with waiting probes, the next first
	stopped bool
	wg      sync.WaitGroup // running probes
}

type appQueue struct {
	keys  []string
	probe map[string]*queuedProbe
}

type queuedProbe struct {
	run func()
	// drop, if not nil, is called instead of run when the probe is
	// replaced or the queue stops before it ran.
	drop func()
}

func (e *Engine) probeQueue() *probeQueue {
	e.probesOnce.Do(func() {
		limit, perApp := e.MaxProbes, e.MaxProbesPerApp
		if limit <= 0 {
			limit = DefaultMaxProbes
		}
		if perApp <= 0 {
			perApp = DefaultMaxProbesPerApp
		}
		e.probes = &probeQueue{limit: limit, perApp: min(perApp, limit), byApp: map[string]int{},
			waiting: map[string]*appQueue{}}
	})
	return e.probes
}

// submit queues a probe of an app's, and starts what may start.
func (q *probeQueue) submit(app, key string, run, drop func()) {
	p := &queuedProbe{run: run, drop: drop}
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		if drop != nil {
			drop()
		}
		return
	}
	aq := q.waiting[app]
	if aq == nil {
		aq = &appQueue{probe: map[string]*queuedProbe{}}
		q.waiting[app] = aq
		q.turns = append(q.turns, app)
	}
	replaced := aq.probe[key]
	if replaced == nil {
		aq.keys = append(aq.keys, key)
	}
	aq.probe[key] = p
	q.startLocked()
	q.mu.Unlock()
	if replaced != nil && replaced.drop != nil {
		replaced.drop()
	}
}

// startLocked starts waiting probes while there is room: each time, the
// first app in turn below its own bound, which then goes to the back.
func (q *probeQueue) startLocked() {
	for q.running < q.limit {
		i := 0
		for i < len(q.turns) && q.byApp[q.turns[i]] >= q.perApp {
			i++
		}
		if i == len(q.turns) {
			return
		}
		app := q.turns[i]
		q.turns = append(q.turns[:i], q.turns[i+1:]...)
		aq := q.waiting[app]
		key := aq.keys[0]
		aq.keys = aq.keys[1:]
		p := aq.probe[key]
		delete(aq.probe, key)
		if len(aq.keys) > 0 {
			q.turns = append(q.turns, app)
		} else {
			delete(q.waiting, app)
		}
		q.running++
		q.byApp[app]++
		q.wg.Add(1)
		go q.run(app, p)
	}
}

func (q *probeQueue) run(app string, p *queuedProbe) {
	defer q.wg.Done()
	defer func() {
		q.mu.Lock()
		q.running--
		if q.byApp[app]--; q.byApp[app] == 0 {
			delete(q.byApp, app)
		}
		q.startLocked()
		q.mu.Unlock()
	}()
	p.run()
}

// stop drops the waiting probes and refuses new ones; those running go on
// (see wait).
func (q *probeQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	var dropped []*queuedProbe
	for _, aq := range q.waiting {
		for _, p := range aq.probe {
			dropped = append(dropped, p)
		}
	}
	q.waiting, q.turns = map[string]*appQueue{}, nil
	q.mu.Unlock()
	for _, p := range dropped {
		if p.drop != nil {
			p.drop()
		}
	}
}

// wait waits for the running probes.
func (q *probeQueue) wait() { q.wg.Wait() }

// probeTimeout bounds a probe of w.
func probeTimeout(w *herald.Webhook) time.Duration {
	if w.Timeout <= 0 {
		return min(DefaultTimeout, MaxProbeTimeout)
	}
	return min(w.Timeout, MaxProbeTimeout)
}

// signProbe signs a probe's request as a delivery is signed, with the
// webhook's Standard Webhooks key over an empty body and an id of its own,
// so that a receiver can tell Herald's probes from anyone's requests.
func (e *Engine) signProbe(req *http.Request, w *herald.Webhook) {
	s, err := signer(w.SigningKey)
	if err != nil {
		// Every webhook's key is made by stdwebhooks.NewSecret: it
		// decodes. Its deliveries would fail the same way, and say so.
		return
	}
	s.SetHeaders(req.Header, uuid.NewString(), e.now(), nil)
}
