// Package delivery is Herald's webhook delivery engine. It turns the event
// log into deliveries (one per event and subscribed webhook, bodies rendered
// once), and sends them: claimed in batches under a lease, sent by a fixed
// pool of workers over pooled keep-alive connections, completed in batches,
// retried on a schedule, in event order per conversation, and never lost: a
// delivery is only ever marked done after its receiver answered 2xx.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/metrics"
)

// Format is a wire format: how an event is rendered for a webhook and which
// headers carry its own signature. Each format lives in a package of its own.
type Format interface {
	// EventTypes lists the event types a webhook of this format and
	// payload version may take.
	EventTypes(version string) []string
	// EventType names an event of the log as this format does in the
	// payload version (and as webhooks of that version subscribe to it);
	// "" for events the format never delivers in it.
	EventType(e *herald.Event, version string) string
	// Versions lists the payload versions; the first is the default.
	Versions() []string
	// Render renders an event, its data decoded (d is only read), for a
	// webhook; ok is false for events the format does not deliver. The body depends only on the event and the
	// webhook's Version and Config, so that an event is rendered once for
	// all the webhooks that share them.
	Render(e *herald.Event, d *herald.EventData, w *herald.Webhook) (body []byte, ok bool, err error)
	// SetHeaders sets the format's headers for an attempt, made at the
	// given time, of a delivery.
	SetHeaders(h http.Header, w *herald.Webhook, d *herald.Delivery, at time.Time)
}

// A Job is periodic work that one node runs each period.
type Job struct {
	// Name identifies the job among the nodes (see herald.Queries.ClaimJob).
	Name string
	// Every is the period.
	Every time.Duration
	// Run does the work; what it returns is logged.
	Run func(ctx context.Context) error
}

// DefaultRetrySchedule is Layer's: about 28 minutes of retries.
var DefaultRetrySchedule = []time.Duration{10 * time.Second, 30 * time.Second, 120 * time.Second,
	300 * time.Second, 1200 * time.Second}

// DefaultWorkers is the default number of concurrent attempts.
const DefaultWorkers = 256

// DefaultTimeout bounds one attempt.
const DefaultTimeout = 5 * time.Second

// DefaultMaxAttemptTimeout is the longest timeout a webhook may ask for.
const DefaultMaxAttemptTimeout = 30 * time.Second

// Quota defaults (see the Engine fields of the same names).
const (
	DefaultMaxWebhooks         = 100
	DefaultMinRetryDelay       = time.Second
	DefaultMinTimeout          = time.Second
	DefaultMaxQueuedDeliveries = 100_000
	DefaultInactiveRetention   = 30 * 24 * time.Hour
)

// orDefault is v, or def when v is zero; a negative v stands for no limit.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Engine delivers an app's events to its webhooks.
type Engine struct {
	Store   herald.Store
	Formats map[string]Format
	// Client sends the deliveries, the verifications and the health
	// checks. When nil, the engine makes a pooled keep-alive client that
	// connects only to the addresses the egress guard permits (public
	// ones, and those of AllowTargets), follows no redirect and bounds the
	// response headers. A Client set here is used as is: the guard is then
	// the caller's to apply.
	Client *http.Client
	Logger *slog.Logger
	// Metrics counts the attempts' outcomes and latencies; nil counts
	// nothing.
	Metrics *metrics.Metrics
	// AllowTargets exempts address ranges from the egress guard: receivers
	// there may be registered by address and contacted through the
	// default Client although they are loopback, private or otherwise
	// internal. Nil or empty: none is.
	AllowTargets []netip.Prefix
	// MaxProbes bounds the verification and health-check requests in
	// flight at once (default DefaultMaxProbes), and MaxProbesPerApp those
	// of one app (default DefaultMaxProbesPerApp); the others wait their
	// turn, holding no connection.
	MaxProbes       int
	MaxProbesPerApp int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Workers is the number of concurrent attempts (default
	// DefaultWorkers).
	Workers int
	// Once half of the workers are busy, an app with AppWorkers attempts
	// in flight on this node (default a quarter of Workers) gets no more
	// while another app has attempts in flight, and a webhook with
	// WebhookWorkers (default half of AppWorkers) none while another
	// webhook has, nor, alone, once three quarters are busy: a tenant
	// whose receivers stall cannot hold every worker (see scheduler).
	AppWorkers     int
	WebhookWorkers int
	// MaxAttemptTimeout is the longest timeout_seconds a webhook may set
	// (default DefaultMaxAttemptTimeout); it bounds every attempt, and the
	// leases outlast it.
	MaxAttemptTimeout time.Duration
	// PollInterval is the backstop for wake-ups (default 1 s).
	PollInterval time.Duration
	// MaxRetryAfter bounds a receiver's Retry-After (default 1 h).
	MaxRetryAfter time.Duration
	// HealthInterval, HealthWarnAfter and HealthDisableAfter drive the
	// checks of health-checked receivers (see HealthChecked); Callbell's
	// durations by default.
	HealthInterval     time.Duration
	HealthWarnAfter    time.Duration
	HealthDisableAfter time.Duration
	// Node names this engine among those sharing the store; a new random
	// name when empty.
	Node string
	// Heartbeat is how often the node says it is alive (default 1 s), and
	// NodeTimeout how long it may stay silent before the deliveries it
	// leased go to the other nodes (default 10 s).
	Heartbeat   time.Duration
	NodeTimeout time.Duration
	// Retention is how long delivered deliveries, their attempts and
	// events are kept (default 30 days; negative: forever), checked every
	// RetentionInterval (default 10 min).
	Retention         time.Duration
	RetentionInterval time.Duration
	// Jobs are periodic work of other parts of Herald that the nodes share
	// as they share retention: each period, one node runs each job, from
	// the maintenance loop.
	Jobs []Job

	// MaxWebhooks bounds the webhooks of an app (default
	// DefaultMaxWebhooks; negative: no bound).
	MaxWebhooks int
	// MinRetryDelay and MinTimeout are the shortest retry delay and
	// attempt timeout a webhook may ask for (default 1 s each; negative:
	// no floor), so that one event does not become a burst of requests.
	// They also apply to what webhooks registered before them asked for,
	// and to a receiver's Retry-After.
	MinRetryDelay time.Duration
	MinTimeout    time.Duration
	// MaxQueuedDeliveries bounds the unfinished deliveries of a webhook
	// that a replay adds to (default DefaultMaxQueuedDeliveries; negative:
	// no bound).
	MaxQueuedDeliveries int
	// InactiveRetention is how long a webhook may stay inactive, and
	// unchanged, before its unfinished deliveries are removed (default
	// DefaultInactiveRetention; negative: kept until it is activated).
	InactiveRetention time.Duration

	// transport is the default Client's: deliveries go straight through
	// it (see send).
	transport    *http.Transport
	fanWake      chan struct{}
	dispatchWake chan struct{}
	jobs         chan *job
	// results carries the outcomes of a job's attempts: its delivery's,
	// then those of the held deliveries its worker sent after it (see
	// worker).
	results chan []*result
	// handoffs carries the deliveries the fan-out created leased to this
	// node, to the dispatcher.
	handoffs chan []*job
	// appendedUpTo is the last event this node committed that needs
	// nothing more of the fan-out loop: fanOutAppended turned it into
	// deliveries for every webhook, or there were none (see
	// advanceAppended).
	appendedUpTo atomic.Int64
	// jobsDue is when each periodic job is next worth claiming (see
	// claimJob); the maintenance loop's alone.
	jobsDue map[string]time.Time
	// held hints at the queues whose head's worker may send held
	// deliveries after it (see sendQueue).
	held heldHints
	// sched decides which deliveries get the workers.
	sched     *scheduler
	stop      chan struct{}
	wg        sync.WaitGroup
	workersWG sync.WaitGroup
	// probes runs the verifications and health checks; made at first use,
	// since webhooks may be verified before Start.
	probes     *probeQueue
	probesOnce sync.Once
	purging    sync.WaitGroup
	// replaying holds, per webhook id, the turn of the replays of that
	// webhook: a channel of one slot.
	replaying sync.Map
	// retaining is set while this node runs the retention job.
	retaining atomic.Bool
	started   bool
	stopOnce  sync.Once
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Notify tells the engine that events were committed or webhooks changed.
// It never blocks.
func (e *Engine) Notify() {
	if e.started {
		signal(e.fanWake)
	}
}

// Start releases the leases a previous run left behind (on a store that is
// not shared), re-runs pending verifications and starts delivering. On a
// SharedStore, any number of engines, one per node, share the work.
func (e *Engine) Start(ctx context.Context) error {
	if e.Workers <= 0 {
		e.Workers = DefaultWorkers
	}
	if e.AppWorkers <= 0 {
		e.AppWorkers = max(e.Workers/4, 1)
	}
	e.AppWorkers = min(e.AppWorkers, e.Workers)
	if e.WebhookWorkers <= 0 {
		e.WebhookWorkers = max(e.AppWorkers/2, 1)
	}
	e.WebhookWorkers = min(e.WebhookWorkers, e.AppWorkers)
	if e.MaxAttemptTimeout <= 0 {
		e.MaxAttemptTimeout = DefaultMaxAttemptTimeout
	}
	if e.PollInterval <= 0 {
		e.PollInterval = time.Second
	}
	if e.MaxRetryAfter <= 0 {
		e.MaxRetryAfter = time.Hour
	}
	if e.HealthInterval <= 0 {
		e.HealthInterval = DefaultHealthInterval
	}
	if e.HealthWarnAfter <= 0 {
		e.HealthWarnAfter = DefaultHealthWarnAfter
	}
	if e.HealthDisableAfter <= 0 {
		e.HealthDisableAfter = DefaultHealthDisableAfter
	}
	if e.Node == "" {
		e.Node = uuid.NewString()
	}
	if e.Heartbeat <= 0 {
		e.Heartbeat = DefaultHeartbeat
	}
	if e.NodeTimeout <= 0 {
		e.NodeTimeout = DefaultNodeTimeout
	}
	if e.Retention == 0 {
		e.Retention = DefaultRetention
	}
	if e.RetentionInterval <= 0 {
		e.RetentionInterval = DefaultRetentionInterval
	}
	if e.Logger == nil {
		e.Logger = slog.Default()
	}
	if e.Client == nil {
		e.defaultClient()
	}
	if _, shared := e.Store.(herald.SharedStore); !shared {
		// What other processes write to the store makes what the node
		// keeps in memory of the held deliveries stale.
		if fw, ok := e.Store.(herald.ForeignWrites); ok {
			e.held.foreign = fw
		}
		// The only node of its store: every lease is a leftover of a crash.
		if err := e.Store.Update(ctx, func(tx herald.Tx) error { return tx.ReleaseLeases(ctx, e.now()) }); err != nil {
			return err
		}
	}
	// Heard from before it claims anything, so that no other node takes
	// this one's first leases for those of a dead node.
	if err := e.Store.Update(ctx, func(tx herald.Tx) error { return tx.Heartbeat(ctx, e.Node, e.now()) }); err != nil {
		return err
	}
	e.fanWake = make(chan struct{}, 1)
	e.dispatchWake = make(chan struct{}, 1)
	e.jobs = make(chan *job, e.Workers)
	e.results = make(chan []*result, e.Workers)
	e.handoffs = make(chan []*job, 16)
	e.sched = newScheduler(e.Workers, e.AppWorkers, e.WebhookWorkers, func() { signal(e.dispatchWake) })
	e.stop = make(chan struct{})
	e.started = true
	for range e.Workers {
		e.workersWG.Add(1)
		go e.worker()
	}
	if h, ok := e.Store.(herald.AppendHooks); ok {
		h.OnAppend(e.fanOutAppended)
	}
	e.wg.Add(4)
	go e.fanOutLoop()
	go e.dispatchLoop()
	go e.healthLoop()
	go e.maintenanceLoop()
	e.watch()

	var pending []*herald.Webhook
	err := e.Store.View(ctx, func(q herald.Queries) error {
		ws, err := q.Webhooks(ctx, "")
		for _, w := range ws {
			if w.Status == herald.WebhookUnverified {
				pending = append(pending, w)
			}
		}
		return err
	})
	for _, w := range pending {
		e.Verify(w)
	}
	signal(e.fanWake)
	return err
}

// Stop stops claiming, lets the attempts in flight finish and records their
// outcome, then returns. Deliveries not yet attempted stay queued. Calling
// it again waits the same way.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started {
		return nil
	}
	e.stopOnce.Do(func() { close(e.stop) })
	// Verifications not started yet run at the next start (the webhooks
	// are still unverified), health checks at the next period.
	e.probeQueue().stop()
	done := make(chan struct{})
	go func() {
		e.probeQueue().wait()
		e.purging.Wait()
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// defaultClient makes the pooled keep-alive client used when Client is nil.
func (e *Engine) defaultClient() {
	e.transport = egress.NewTransport(e.AllowTargets)
	e.transport.MaxIdleConnsPerHost = e.Workers
	e.Client = &http.Client{Transport: e.transport,
		// A redirect would send the signed body to a URL nobody
		// registered: report it as the answer instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var errStopped = errors.New("delivery: engine stopped")

// maxAttemptTimeout is MaxAttemptTimeout, or its default before Start.
func (e *Engine) maxAttemptTimeout() time.Duration {
	if e.MaxAttemptTimeout <= 0 {
		return DefaultMaxAttemptTimeout
	}
	return e.MaxAttemptTimeout
}

// timeout bounds one request to a webhook's receiver: its own timeout, as
// far as the server allows (a webhook may have asked for more, or less,
// under earlier limits).
func (e *Engine) timeout(w *herald.Webhook) time.Duration {
	t := w.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	// The ceiling wins: it sizes the leases.
	return min(max(t, orDefault(e.MinTimeout, DefaultMinTimeout)), e.maxAttemptTimeout())
}

// leaseDuration outlasts the longest attempt; a crashed node's deliveries
// become claimable again once it ends.
func (e *Engine) leaseDuration() time.Duration { return e.maxAttemptTimeout() + 30*time.Second }
