package sqlstore

import (
	"context"

	"github.com/heraldhq/herald"
)

func (q *Queries) UpdateWebhookSettings(ctx context.Context, w *herald.Webhook) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET version = ?, target_url = ?, events = ?, config = ?,
		retry_schedule = ?, timeout_ms = ?, status = ?, status_reason = ?, updated_at = ?
		WHERE id = ? AND app_id = ? AND status != `+webhookDeleted,
		w.Version, w.TargetURL, mustJSON(w.Events), nullJSON(w.Config), scheduleJSON(w.RetrySchedule),
		w.Timeout.Milliseconds(), w.Status, w.StatusReason, micros(w.UpdatedAt), w.ID, w.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("webhook", w.ID)
	}
	return nil
}

func (q *Queries) FilteredDeliveries(ctx context.Context, webhookID string, f herald.DeliveryFilter, p herald.Page) ([]*herald.Delivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE webhook_id = ?`
	args := []any{webhookID}
	for _, c := range []struct {
		column, value string
	}{{"status", f.Status}, {"event_type", f.EventType}, {"ordering_key", f.Conversation}} {
		if c.value != "" {
			query += ` AND ` + c.column + ` = ?`
			args = append(args, c.value)
		}
	}
	if f.Since != nil {
		query += ` AND created_at >= ?`
		args = append(args, micros(*f.Since))
	}
	if f.Until != nil {
		query += ` AND created_at < ?`
		args = append(args, micros(*f.Until))
	}
	if p.Before != "" {
		query += ` AND id < ?`
		args = append(args, p.Before)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, p.Limit)
	return collect(scanDelivery)(q.db.QueryContext(ctx, query, args...))
}
