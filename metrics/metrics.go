// Package metrics holds Herald's Prometheus metrics: one registry per
// server, so that several servers in one process (the tests) keep their
// counts apart. The instrumented packages hold resolved counters and
// histograms, so that what they do per request or per attempt is an atomic
// add: no label lookup, no allocation.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Outcomes of a delivery attempt, as the deliveries counter labels them.
const (
	Delivered = "delivered" // the receiver answered 2xx
	Retry     = "retry"     // failed; another attempt is scheduled
	Exhausted = "exhausted" // failed with no attempt left: the webhook is deactivated
	Gone      = "gone"      // the receiver answered 410 Gone: the webhook is deactivated
)

var outcomes = [...]string{Delivered, Retry, Exhausted, Gone}

// Answer classes of an attempt, as the latency histogram labels them.
var answers = [...]string{"2xx", "3xx", "4xx", "5xx", "error"}

// Metrics is a server's registry and the metrics Herald keeps in it.
type Metrics struct {
	Registry *prometheus.Registry
	// QueueCacheFor is how long a read of the webhooks' backlogs serves
	// the scrapes (DefaultQueueCacheFor); set it before the first scrape.
	QueueCacheFor time.Duration

	deliveries     *prometheus.CounterVec
	attemptSeconds *prometheus.HistogramVec
	formatsMu      sync.RWMutex
	formats        map[formatKey]*formatMetrics

	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	routesMu       sync.RWMutex
	routes         map[string]*routeMetrics

	commitSeconds prometheus.Histogram
	commitUpdates prometheus.Histogram

	pushSends      *prometheus.CounterVec
	connectorSends *prometheus.CounterVec

	sockets atomic.Pointer[func() int]
	// streaks are the consecutive failed attempts of each webhook that
	// has some, as this node saw them (see Attempted).
	streaksMu sync.RWMutex
	streaks   map[string]*atomic.Int64
}

type formatKey struct{ format, version string }

type formatMetrics struct {
	outcomes [len(outcomes)]prometheus.Counter
	seconds  [len(answers)]prometheus.Observer
}

type routeMetrics struct {
	seconds prometheus.Observer
	// codes holds the counters of the status codes seen on the route:
	// 100 to 599, resolved at first use.
	codes [500]atomic.Pointer[prometheus.Counter]
}

// Buckets of the attempt latency: receivers answer in milliseconds, or time
// out after seconds (30 s at most, DefaultMaxAttemptTimeout).
var attemptBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New returns a registry holding Herald's metrics and the Go runtime's and
// the process's.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), QueueCacheFor: DefaultQueueCacheFor, formats: map[formatKey]*formatMetrics{},
		routes: map[string]*routeMetrics{}, streaks: map[string]*atomic.Int64{}}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_webhook_deliveries_total",
		Help: "Delivery attempts by outcome (delivered, retry, exhausted, gone) and webhook format (format-version).",
	}, []string{"format", "outcome"})
	m.attemptSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "herald_webhook_attempt_duration_seconds",
		Help:    "Time from sending a delivery attempt to its receiver's answer, by webhook format and answer (2xx..5xx, error: no answer).",
		Buckets: attemptBuckets,
	}, []string{"format", "answer"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_http_requests_total",
		Help: "API requests by route (the pattern that served them) and status code.",
	}, []string{"route", "code"})
	m.requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "herald_http_request_duration_seconds",
		Help:    "Time from a request's headers to the end of its handler, by route; WebSocket routes count the socket's life.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_store_commit_duration_seconds",
		Help:    "Time of a write transaction of the store, from its start to the end of its commit.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	m.commitUpdates = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_store_commit_updates",
		Help:    "Updates committed together in one transaction (SQLite's group commit; always 1 on PostgreSQL).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
	m.pushSends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_push_sends_total",
		Help: "Push notification sends to APNs and FCM by outcome (sent, retry, failed).",
	}, []string{"outcome"})
	m.connectorSends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_connector_sends_total",
		Help: "Messages sent through channel connectors (WhatsApp, Telegram) by outcome (sent, retry, failed).",
	}, []string{"outcome"})
	m.Registry.MustRegister(m.deliveries, m.attemptSeconds, m.requests, m.requestSeconds, m.commitSeconds,
		m.commitUpdates, m.pushSends, m.connectorSends,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_clientapi_sockets_open",
			Help: "Client API WebSocket sessions open on this node.",
		}, func() float64 {
			if f := m.sockets.Load(); f != nil {
				return float64((*f)())
			}
			return 0
		}),
		streakCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	// A failed backlog query leaves the other metrics served.
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, ErrorHandling: promhttp.ContinueOnError})
}

// Attempt is a delivery attempt as the engine finished it, for Attempted.
type Attempt struct {
	WebhookID, Format, Version string
	// StatusCode is 0 when no answer came.
	StatusCode int
	Duration   time.Duration
	// Outcome is one of Delivered, Retry, Exhausted, Gone.
	Outcome string
}

// Attempted counts an attempt; a nil m counts nothing.
func (m *Metrics) Attempted(a Attempt) {
	if m == nil {
		return
	}
	f := m.format(a.Format, a.Version)
	answer := len(answers) - 1
	if a.StatusCode >= 200 && a.StatusCode <= 599 {
		answer = a.StatusCode/100 - 2
	}
	f.seconds[answer].Observe(a.Duration.Seconds())
	for i, o := range outcomes {
		if o == a.Outcome {
			f.outcomes[i].Inc()
			break
		}
	}
	// Only failing webhooks have an entry: a delivered attempt of a
	// healthy one costs a read-locked lookup.
	m.streaksMu.RLock()
	s := m.streaks[a.WebhookID]
	m.streaksMu.RUnlock()
	if a.Outcome == Delivered {
		if s != nil {
			m.ForgetWebhook(a.WebhookID)
		}
		return
	}
	if s == nil {
		m.streaksMu.Lock()
		if s = m.streaks[a.WebhookID]; s == nil {
			s = new(atomic.Int64)
			m.streaks[a.WebhookID] = s
		}
		m.streaksMu.Unlock()
	}
	s.Add(1)
}

// ForgetWebhook drops what is kept of a deleted webhook.
func (m *Metrics) ForgetWebhook(id string) {
	if m != nil {
		m.streaksMu.Lock()
		delete(m.streaks, id)
		m.streaksMu.Unlock()
	}
}

func (m *Metrics) format(format, version string) *formatMetrics {
	k := formatKey{format, version}
	m.formatsMu.RLock()
	f := m.formats[k]
	m.formatsMu.RUnlock()
	if f != nil {
		return f
	}
	m.formatsMu.Lock()
	defer m.formatsMu.Unlock()
	if f = m.formats[k]; f != nil {
		return f
	}
	label := format
	if version != "" {
		label += "-" + version
	}
	f = &formatMetrics{}
	for i, o := range outcomes {
		f.outcomes[i] = m.deliveries.WithLabelValues(label, o)
	}
	for i, a := range answers {
		f.seconds[i] = m.attemptSeconds.WithLabelValues(label, a)
	}
	m.formats[k] = f
	return f
}

// Served counts a request that a route pattern served with a status; a
// nil m counts nothing.
func (m *Metrics) Served(pattern string, status int, took time.Duration) {
	if m == nil {
		return
	}
	r := m.route(pattern)
	r.seconds.Observe(took.Seconds())
	if status < 100 || status > 599 {
		status = 500
	}
	slot := &r.codes[status-100]
	c := slot.Load()
	if c == nil {
		counter := m.requests.WithLabelValues(pattern, strconv.Itoa(status))
		slot.CompareAndSwap(nil, &counter)
		c = slot.Load()
	}
	(*c).Inc()
}

func (m *Metrics) route(pattern string) *routeMetrics {
	m.routesMu.RLock()
	r := m.routes[pattern]
	m.routesMu.RUnlock()
	if r != nil {
		return r
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	if r = m.routes[pattern]; r == nil {
		r = &routeMetrics{seconds: m.requestSeconds.WithLabelValues(pattern)}
		m.routes[pattern] = r
	}
	return r
}

// Committed counts a write transaction of the store that committed
// updates together and took the given time; a nil m counts nothing.
func (m *Metrics) Committed(took time.Duration, updates int) {
	if m == nil {
		return
	}
	m.commitSeconds.Observe(took.Seconds())
	m.commitUpdates.Observe(float64(updates))
}

// Outcomes of a push or connector send.
const (
	Sent   = "sent"
	Failed = "failed" // no attempt left, or refused for good
)

// PushSent counts a push notification send by outcome (Sent, Retry,
// Failed); a nil m counts nothing.
func (m *Metrics) PushSent(outcome string) {
	if m != nil {
		m.pushSends.WithLabelValues(outcome).Inc()
	}
}

// ConnectorSent counts a connector send as PushSent does a push.
func (m *Metrics) ConnectorSent(outcome string) {
	if m != nil {
		m.connectorSends.WithLabelValues(outcome).Inc()
	}
}

// CountSockets has the open sockets gauge read f at each scrape.
func (m *Metrics) CountSockets(f func() int) {
	if m != nil {
		m.sockets.Store(&f)
	}
}

var streakDesc = prometheus.NewDesc("herald_webhook_failing_streak",
	"Consecutive failed delivery attempts of a webhook on this node, up to now; absent once an attempt is delivered.",
	[]string{"webhook"}, nil)

// streakCollector exports the failing streaks at scrape time: a webhook
// that recovers, or is deleted, leaves no series behind.
type streakCollector struct{ m *Metrics }

func (c streakCollector) Describe(ch chan<- *prometheus.Desc) { ch <- streakDesc }

func (c streakCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.streaksMu.RLock()
	defer c.m.streaksMu.RUnlock()
	for id, n := range c.m.streaks {
		ch <- prometheus.MustNewConstMetric(streakDesc, prometheus.GaugeValue, float64(n.Load()), id)
	}
}
