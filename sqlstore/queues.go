package sqlstore

import (
	"context"

	"github.com/heraldhq/herald"
)

func (q *Queries) WebhookQueues(ctx context.Context, limit int) ([]herald.WebhookQueue, bool, error) {
	// The IN term repeats the condition of the partial index
	// deliveries_order, so that SQLite reads the index (the undelivered
	// deliveries) rather than the whole table and its delivered history.
	rows, err := q.db.QueryContext(ctx, `SELECT webhook_id, COUNT(*), MIN(created_at)
		FROM (SELECT webhook_id, created_at FROM deliveries
			WHERE status IN ('pending', 'failed') AND status = 'pending' LIMIT ?) AS p
		GROUP BY webhook_id ORDER BY webhook_id`, limit)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var queues []herald.WebhookQueue
	read := 0
	for rows.Next() {
		var w herald.WebhookQueue
		var oldest int64
		if err := rows.Scan(&w.WebhookID, &w.Pending, &oldest); err != nil {
			return nil, false, err
		}
		w.OldestCreatedAt = fromMicros(oldest)
		read += w.Pending
		queues = append(queues, w)
	}
	return queues, read >= limit, rows.Err()
}
