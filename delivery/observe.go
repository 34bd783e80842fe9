package delivery

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/metrics"
)

// observe counts an attempt whose outcome was applied, and logs it: at
// debug level when delivered (a busy node delivers thousands a second),
// info when it is retried, warn when the webhook is deactivated. The line
// names the API request that caused the event, if one did.
func (e *Engine) observe(r *result) {
	d, a := r.d, r.a
	outcome := metrics.Retry
	level := slog.LevelInfo
	switch {
	case d.Status == herald.DeliveryDelivered:
		outcome, level = metrics.Delivered, slog.LevelDebug
	case a.StatusCode == http.StatusGone:
		outcome, level = metrics.Gone, slog.LevelWarn
	case d.Status == herald.DeliveryFailed:
		outcome, level = metrics.Exhausted, slog.LevelWarn
	}
	e.Metrics.Attempted(metrics.Attempt{WebhookID: r.w.ID, Format: r.w.Format, Version: r.w.Version,
		StatusCode: a.StatusCode, Duration: a.Duration, Outcome: outcome})
	ctx := context.Background()
	if !e.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("webhook", d.WebhookID), slog.String("app", d.AppID),
		slog.String("delivery", d.ID), slog.String("event", d.EventID), slog.String("event_type", d.EventType),
		slog.Int("attempt", d.Attempts), slog.String("outcome", outcome), slog.Int("status", a.StatusCode),
		slog.Float64("duration_ms", float64(a.Duration.Microseconds())/1000)}
	if a.Error != "" {
		attrs = append(attrs, slog.String("error", a.Error))
	}
	if outcome == metrics.Retry {
		attrs = append(attrs, slog.Time("next_attempt_at", d.NextAttemptAt))
	}
	if d.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", d.RequestID))
	}
	e.Logger.LogAttrs(ctx, level, "delivery attempt", attrs...)
}
