package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
)

// Bounds of the backlog query that a scrape runs: its result serves the
// scrapes of the next DefaultQueueCacheFor (several Prometheus servers, or
// one with a short interval, cost one query), and it counts at most
// QueueScanLimit deliveries, a few hundred milliseconds of reading at
// worst; ten times the default bound of one webhook's queue.
const (
	DefaultQueueCacheFor = 5 * time.Second
	QueueScanLimit       = 1_000_000
	queueTimeout         = 10 * time.Second
)

var (
	queueDepthDesc = prometheus.NewDesc("herald_webhook_queue_depth",
		"Pending deliveries of a webhook: due, waiting for a retry, held behind an earlier one of their conversation, or being attempted.",
		[]string{"webhook"}, nil)
	oldestDesc = prometheus.NewDesc("herald_webhook_oldest_pending_age_seconds",
		"Age of a webhook's oldest pending delivery, from its creation when its event was recorded.",
		[]string{"webhook"}, nil)
	truncatedDesc = prometheus.NewDesc("herald_webhook_queue_scan_truncated",
		"1 when the backlog query reached its bound (queue depths and ages are then those of the deliveries it read), else 0.",
		nil, nil)
)

// WatchStore has the store's commits counted, if it reports them, and its
// webhooks' backlogs read at scrape time.
func (m *Metrics) WatchStore(s herald.Store) {
	if o, ok := s.(herald.CommitObserver); ok {
		o.ObserveCommits(m.Committed)
	}
	m.Registry.MustRegister(&queueCollector{m: m, store: s})
}

// queueCollector reads the backlogs when scraped, never on a hot path.
type queueCollector struct {
	m     *Metrics
	store herald.Store
	mu    sync.Mutex
	// The last read, and when it was made.
	queues    []herald.WebhookQueue
	truncated bool
	readAt    time.Time
	err       error
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- oldestDesc
	ch <- truncatedDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.readAt.IsZero() || now.Sub(c.readAt) >= c.m.QueueCacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
		c.err = c.store.View(ctx, func(q herald.Queries) (err error) {
			c.queues, c.truncated, err = q.WebhookQueues(ctx, QueueScanLimit)
			return err
		})
		cancel()
		c.readAt = now
	}
	if c.err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, c.err)
		return
	}
	truncated := 0.0
	if c.truncated {
		truncated = 1
	}
	ch <- prometheus.MustNewConstMetric(truncatedDesc, prometheus.GaugeValue, truncated)
	for _, q := range c.queues {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(q.Pending), q.WebhookID)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, max(now.Sub(q.OldestCreatedAt).Seconds(), 0), q.WebhookID)
	}
}
