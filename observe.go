package herald

import (
	"context"
	"time"
)

// CommitObserver is implemented by an engine that reports its write
// transactions, for metrics: f is called after each commit with the time
// from the transaction's start to the end of its commit and the number of
// updates (Store.Update calls) it committed together.
type CommitObserver interface {
	ObserveCommits(f func(took time.Duration, updates int))
}

// WebhookQueue is the backlog of a webhook: its pending deliveries (due,
// waiting for a retry, held behind another or being attempted).
type WebhookQueue struct {
	WebhookID string
	Pending   int
	// OldestCreatedAt is when the oldest of them was created.
	OldestCreatedAt time.Time
}

// QueueQueries read the backlogs of the webhooks, for metrics.
type QueueQueries interface {
	// WebhookQueues returns the backlog of each webhook that has one,
	// counting at most limit pending deliveries in all, so that a scrape
	// costs a bounded read however far the receivers fell behind;
	// truncated reports that the limit was reached, the counts and ages
	// then being those of the deliveries read.
	WebhookQueues(ctx context.Context, limit int) (queues []WebhookQueue, truncated bool, err error)
}
