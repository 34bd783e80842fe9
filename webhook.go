package herald

import (
	"encoding/json"
	"net/http"
	"time"
)

// Webhook statuses, Layer's: a webhook receives events only while active.
const (
	WebhookUnverified = "unverified"
	WebhookActive     = "active"
	WebhookInactive   = "inactive"
)

// Webhook formats: the wire format a receiver expects.
const (
	FormatLayer    = "layer"
	FormatCallbell = "callbell"
)

// Webhook is a subscription of a receiver to an app's events.
type Webhook struct {
	ID        string
	AppID     string
	Format    string
	Version   string
	TargetURL string
	// Events lists the event types delivered; others are skipped.
	Events []string
	// Secret keys the format's own signature (Layer's HMAC-SHA1).
	Secret string
	// SigningKey keys the Standard Webhooks signature ("whsec_…").
	SigningKey string
	// AsymmetricKey, when set, is an ed25519 secret key ("whsk_…") that
	// signs each delivery a second time (Standard Webhooks' v1a), so that
	// receivers verify with its public key and hold no secret.
	AsymmetricKey string
	// A rotation replaces SigningKey and AsymmetricKey (and, for a
	// Callbell webhook, Secret, which is its SigningKey) and keeps the
	// replaced ones, which sign every delivery beside the new ones until
	// PreviousKeysUntil: receivers switch keys with no delivery failing.
	// They are never used afterwards (see InGrace), and then dropped.
	PreviousSigningKey    string
	PreviousAsymmetricKey string
	PreviousKeysUntil     *time.Time
	// Config is echoed in every payload, as Layer did.
	Config       json.RawMessage
	Status       string
	StatusReason string
	// RetrySchedule is the delay before each retry; its length is the
	// number of retries.
	RetrySchedule []time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Cursor is the sequence number of the last event turned into this
	// webhook's deliveries (or skipped).
	Cursor int64
	// HealthCheckedAt is when the receiver last answered a health check
	// (Callbell's connection check) or was last checked;
	// HealthFailingSince is when its current run of failed checks began,
	// nil while it answers.
	HealthCheckedAt    *time.Time
	HealthFailingSince *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// InGrace reports whether the keys a rotation replaced still sign at t.
func (w *Webhook) InGrace(t time.Time) bool {
	return w.PreviousKeysUntil != nil && t.Before(*w.PreviousKeysUntil)
}

// Subscribed reports whether w takes events of type typ.
func (w *Webhook) Subscribed(typ string) bool {
	for _, e := range w.Events {
		if e == typ {
			return true
		}
	}
	return false
}

// Delivery statuses.
const (
	// DeliveryPending waits for its next attempt (the first or a retry).
	DeliveryPending = "pending"
	// DeliveryDelivered got a 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryFailed exhausted its retries; it is kept, and queued again
	// when its webhook is activated.
	DeliveryFailed = "failed"
)

// Delivery is one event on its way to one webhook, with the body rendered
// once: every attempt sends the same bytes.
type Delivery struct {
	ID        string
	AppID     string
	WebhookID string
	EventID   string
	EventSeq  int64
	EventType string
	// RequestID is the event's: the API request that caused the delivery.
	RequestID string
	// OrderingKey groups the deliveries that must arrive in event order
	// (those about one conversation); empty when there is no constraint.
	OrderingKey string
	// Held is set while an earlier delivery with the same webhook and
	// ordering key is unfinished (pending or failed).
	Held bool
	Body []byte
	// PayloadID names the stored Body. The deliveries of one event to
	// webhooks that render it alike share one; CreateDeliveries gives a
	// delivery without one a body of its own.
	PayloadID     string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	// LeaseUntil is set while a worker holds the delivery, and LeaseOwner
	// names the node of that worker.
	LeaseUntil     *time.Time
	LeaseOwner     string
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	DeliveredAt    *time.Time
}

// Attempt is the record of one HTTP request of a delivery.
type Attempt struct {
	DeliveryID string
	StartedAt  time.Time
	Duration   time.Duration
	// StatusCode is 0 when no response came.
	StatusCode      int
	ResponseHeaders http.Header
	// ResponseBody holds at most the first MaxAttemptBody bytes.
	ResponseBody []byte
	Error        string
}

// Completion is an attempt of a delivery, and the delivery as the attempt
// left it: its LastStatusCode and LastError are the attempt's StatusCode and
// Error, which the store keeps with the delivery as those of its last
// attempt.
type Completion struct {
	Delivery *Delivery
	Attempt  *Attempt
}

// A Lease offers free workers of a node to the deliveries that
// CompleteDeliveries releases, so that the next delivery of a queue is
// handed over in the commit that finishes the one before it, without a
// claim. The zero Lease offers none.
type Lease struct {
	Node string
	// Now is when the lease starts: a released delivery whose next attempt
	// is later is not leased.
	Now time.Time
	// Until is when the lease ends, as for ClaimDeliveries.
	Until time.Time
	// Limit bounds the deliveries leased.
	Limit int
	// Webhooks, when not nil, also bounds the deliveries leased per
	// webhook (by id): none for a webhook it does not name. A node that
	// shares its workers among apps and webhooks offers each only the
	// workers it may take.
	Webhooks map[string]int
}

// ClaimCaps bounds what one claim takes per app and per webhook, so that a
// node that shares its workers among apps and webhooks claims no more of
// one than it may send. The zero ClaimCaps bounds nothing.
type ClaimCaps struct {
	// App and Webhook bound the deliveries of any one app, and of any one
	// webhook, that a claim takes; 0 bounds nothing.
	App, Webhook int
	// Apps and Webhooks bound instead those of the apps and webhooks they
	// name (by id), to what those have left; 0 leaves them out of the
	// claim.
	Apps, Webhooks map[string]int
}

// IsZero reports whether c bounds nothing.
func (c ClaimCaps) IsZero() bool {
	return c.App == 0 && c.Webhook == 0 && len(c.Apps) == 0 && len(c.Webhooks) == 0
}

// MaxAttemptBody bounds the response body kept with an attempt.
const MaxAttemptBody = 16 << 10

// WebhookEvent is one entry of a webhook's event log: a delivery that was
// attempted, with its last attempt.
type WebhookEvent struct {
	Delivery *Delivery
	Attempt  *Attempt
}

// WebhookEventFilter selects entries of a webhook's event log.
type WebhookEventFilter struct {
	// Success, when set, keeps the entries whose last attempt was
	// answered 200 (true) or the others (false): Callbell's success,
	// "true if status code was 200" (webhooks_api/events.md), which a
	// delivered 204 is not.
	Success *bool
	// EventTypes, when not empty, keeps the entries of these event types.
	EventTypes []string
}
