package herald

import (
	"context"
	"time"
)

// DeliveryFilter narrows a webhook's delivery log. Empty fields do not
// filter.
type DeliveryFilter struct {
	// Status is pending, delivered or failed.
	Status string
	// EventType is the type the delivery was sent as.
	EventType string
	// Conversation is the bare id of a conversation: the deliveries of
	// the events about it and its messages.
	Conversation string
	// Since and Until bound when the deliveries were created: [Since,
	// Until).
	Since, Until *time.Time
}

// WebhookAdminQueries are the reads and writes behind the operators' view
// of webhooks: changing a webhook's settings, and searching its log.
type WebhookAdminQueries interface {
	// UpdateWebhookSettings saves what a webhook's owner may change after
	// registering it: version, target URL, events, config, retry schedule
	// and timeout, with the status, status reason and update time that
	// the change brings. Keys are UpdateWebhookKeys's, the cursor and the
	// health times the engine's.
	UpdateWebhookSettings(ctx context.Context, w *Webhook) error
	// FilteredDeliveries lists a page of a webhook's deliveries that
	// match the filter, newest first.
	FilteredDeliveries(ctx context.Context, webhookID string, f DeliveryFilter, p Page) ([]*Delivery, error)
}
