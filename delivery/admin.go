package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// WebhookPatch changes a webhook's settings: the fields given, the others
// kept. Events nil, Config absent and RetrySchedule nil are unchanged;
// Config null removes the config, RetrySchedule [] means no retries.
type WebhookPatch struct {
	Version        *string         `json:"version"`
	TargetURL      *string         `json:"target_url"`
	Events         []string        `json:"events"`
	Secret         *string         `json:"secret"`
	Config         json.RawMessage `json:"config"`
	RetrySchedule  []float64       `json:"retry_schedule"`
	TimeoutSeconds *float64        `json:"timeout_seconds"`
}

// UpdateWebhook changes a webhook's settings, checked as at registration.
// A new target URL of a webhook that is not paused is verified as a new
// webhook's is: unverified until the receiver echoes the challenge, its
// deliveries waiting meanwhile. A paused webhook stays paused (activate
// verifies it). Deliveries already queued keep the body they were rendered
// with; new ones follow the new version, events and config.
func (e *Engine) UpdateWebhook(ctx context.Context, appID, id string, p WebhookPatch) (w *herald.Webhook, err error) {
	var verify bool
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		verify = false
		if w, err = tx.Webhook(ctx, appID, id); err != nil {
			return err
		}
		if w.Format != herald.FormatLayer {
			return herald.Errorf(herald.EInvalidRequest,
				"Webhook %s is the app's Callbell-format subscription; change it with POST /v1/webhooks/subscribe.", id)
		}
		in := WebhookInput{Version: w.Version, TargetURL: w.TargetURL, Events: w.Events, Secret: w.Secret,
			Config: w.Config, TimeoutSeconds: w.Timeout.Seconds(), RetrySchedule: make([]float64, len(w.RetrySchedule))}
		for i, d := range w.RetrySchedule {
			in.RetrySchedule[i] = d.Seconds()
		}
		if p.Version != nil {
			in.Version = *p.Version
			if in.Version == "" {
				return herald.PropertyError(herald.EInvalidProperty, "version", "version may be changed, not removed.")
			}
		}
		if p.TargetURL != nil {
			in.TargetURL = *p.TargetURL
		}
		if p.Events != nil {
			in.Events = p.Events
		}
		if p.Secret != nil {
			in.Secret = *p.Secret
		}
		if p.Config != nil {
			in.Config = p.Config
		}
		if p.RetrySchedule != nil {
			in.RetrySchedule = p.RetrySchedule
		}
		if p.TimeoutSeconds != nil {
			in.TimeoutSeconds = *p.TimeoutSeconds
		}
		if _, err := e.checkWebhook(w.Format, &in); err != nil {
			return err
		}
		now := e.now().UTC().Truncate(time.Microsecond)
		if in.TargetURL != w.TargetURL && w.Status != herald.WebhookInactive {
			w.Status, w.StatusReason, verify = herald.WebhookUnverified, "", true
		}
		w.Version, w.TargetURL, w.Events, w.Config, w.UpdatedAt = in.Version, in.TargetURL, in.Events, in.Config, now
		w.RetrySchedule = make([]time.Duration, len(in.RetrySchedule))
		for i, s := range in.RetrySchedule {
			w.RetrySchedule[i] = seconds(s)
		}
		w.Timeout = min(DefaultTimeout, e.maxAttemptTimeout())
		if in.TimeoutSeconds > 0 {
			w.Timeout = seconds(in.TimeoutSeconds)
		}
		if err := tx.UpdateWebhookSettings(ctx, w); err != nil {
			return err
		}
		if in.Secret != w.Secret {
			w.Secret = in.Secret
			return tx.UpdateWebhookKeys(ctx, w)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if verify {
		e.Verify(w)
	}
	return w, nil
}

// FilteredDeliveries lists a webhook's deliveries that match the filter,
// newest first.
func (e *Engine) FilteredDeliveries(ctx context.Context, appID, webhookID string, f herald.DeliveryFilter, p herald.Page) (ds []*herald.Delivery, err error) {
	switch f.Status {
	case "", herald.DeliveryPending, herald.DeliveryDelivered, herald.DeliveryFailed:
	default:
		return nil, herald.PropertyError(herald.EInvalidProperty, "status", "status must be pending, delivered or failed, not %q.", f.Status)
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "until", "until must be later than since.")
	}
	err = e.Store.View(ctx, func(q herald.Queries) error {
		if _, err := q.Webhook(ctx, appID, webhookID); err != nil {
			return err
		}
		ds, err = q.FilteredDeliveries(ctx, webhookID, f, p)
		return err
	})
	return ds, err
}

// Test event types, one per format, named as the format names its events.
// No source defines a test event: Layer's webhooks had none (only the
// verification challenge), Callbell's docs list none. Svix and Convoy send
// a "ping"-like event of their own; these follow each format's naming.
const (
	TestEventLayer    = "webhook.test"
	TestEventCallbell = "webhook_test"
)

// TestResult is the outcome of a test event sent to a webhook.
type TestResult struct {
	// ID is the test's delivery id, in the headers that carry one.
	ID        string
	EventType string
	// Body and RequestHeaders are what was sent, signatures included.
	Body           []byte
	RequestHeaders http.Header
	// Delivered says the receiver answered 2xx.
	Delivered bool
	Attempt   *herald.Attempt
}

// TestWebhook sends a signed test event to a webhook's receiver now,
// whatever the webhook's status, and reports the answer. Nothing is
// recorded: the test is not a delivery, and its outcome changes neither the
// webhook's status nor its log.
func (e *Engine) TestWebhook(ctx context.Context, appID, id string) (*TestResult, error) {
	w, err := e.Webhook(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	f := e.Formats[w.Format]
	if f == nil {
		return nil, herald.Errorf(herald.EInvalidRequest, "Webhook %s has the format %q, which this server does not send.", id, w.Format)
	}
	if e.Client == nil {
		// An engine that never started, in a command beside the server.
		e.defaultClient()
	}
	now := e.now().UTC()
	d := &herald.Delivery{ID: uuid.Must(uuid.NewV7()).String(), AppID: appID, WebhookID: w.ID, CreatedAt: now}
	d.EventID = d.ID
	d.EventType, d.Body = testPayload(w, d.ID, now)
	r := e.attempt(&job{d: d, w: w})
	out := &TestResult{ID: d.ID, EventType: d.EventType, Body: d.Body, Attempt: r.a, Delivered: answered2xx(r),
		RequestHeaders: http.Header{}}
	// The headers as the attempt set them: the same inputs sign alike.
	f.SetHeaders(out.RequestHeaders, w, d, r.a.StartedAt)
	setSignatures(out.RequestHeaders, w, d, r.a.StartedAt)
	return out, nil
}

// testPayload renders the test event in the webhook's format: Layer's
// envelope (event, then the webhook as the object, then config) or
// Callbell's (event, payload), so that a receiver's parser reads it as it
// reads the others and can tell it apart by its type.
func testPayload(w *herald.Webhook, id string, at time.Time) (eventType string, body []byte) {
	if w.Format == herald.FormatCallbell {
		b, _ := json.Marshal(map[string]any{"event": TestEventCallbell, "payload": map[string]any{
			"webhookId": w.ID, "url": w.TargetURL, "events": slices.Clone(w.Events),
			"createdAt": at.Format("2006-01-02T15:04:05.000Z07:00")}})
		return TestEventCallbell, b
	}
	type event struct {
		CreatedAt string `json:"created_at"`
		Type      string `json:"type"`
		ID        string `json:"id"`
	}
	type webhook struct {
		ID        string   `json:"id"`
		TargetURL string   `json:"target_url"`
		Events    []string `json:"events"`
	}
	b, _ := json.Marshal(struct {
		Event   event           `json:"event"`
		Webhook webhook         `json:"webhook"`
		Config  json.RawMessage `json:"config,omitempty"`
	}{event{herald.FormatTime(at), TestEventLayer, id},
		webhook{"layer:///apps/" + w.AppID + "/webhooks/" + w.ID, w.TargetURL, w.Events}, w.Config})
	return TestEventLayer, b
}
