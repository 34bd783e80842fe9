package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/stdwebhooks"
)

// SubscribeInput is Callbell's webhook subscription: one webhook per app,
// created or updated in place.
type SubscribeInput struct {
	URL           string   `json:"url"`
	Subscriptions []string `json:"subscriptions"`
	// Config holds the format's options, such as the reply context field
	// name ({"context_field": "mesageContext"}).
	Config json.RawMessage `json:"config"`
	// AsymmetricSignature, when the webhook is created, gives it an
	// ed25519 key (see WebhookInput); afterwards, keys change only by a
	// rotation.
	AsymmetricSignature *bool `json:"asymmetric_signature"`
}

// subscription returns the app's webhook of the given format, nil if none.
func subscription(ctx context.Context, q herald.Queries, appID, format string) (*herald.Webhook, error) {
	ws, err := q.Webhooks(ctx, appID)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if w.Format == format {
			return w, nil
		}
	}
	return nil, nil
}

// Subscription returns the app's only webhook of a format that allows one
// per app (Callbell's), or not_found.
func (e *Engine) Subscription(ctx context.Context, appID, format string) (w *herald.Webhook, err error) {
	err = e.Store.View(ctx, func(q herald.Queries) error {
		w, err = subscription(ctx, q, appID, format)
		if err == nil && w == nil {
			err = herald.Errorf(herald.ENotFound, "This app has no webhook; subscribe with POST /v1/webhooks/subscribe.")
		}
		return err
	})
	return w, err
}

// Subscribe creates the app's webhook of the format, or updates the one it
// has: its URL, its events and its options. The webhook is enabled at once
// (Callbell does not verify receivers) and, if it was disabled, its failed
// deliveries are queued again. created reports whether it is new.
func (e *Engine) Subscribe(ctx context.Context, appID, format string, in SubscribeInput) (w *herald.Webhook, created bool, err error) {
	f := e.Formats[format]
	if f == nil {
		return nil, false, herald.Errorf(herald.EInvalidRequest, "Unknown webhook format %q.", format)
	}
	if strings.TrimSpace(in.URL) == "" {
		return nil, false, herald.PropertyError(herald.EMissingProperty, "url", "url is required: the URL that receives the events, with http:// or https://.")
	}
	if err := e.checkReceiverURL("url", in.URL); err != nil {
		return nil, false, err
	}
	if in.Subscriptions == nil {
		return nil, false, herald.PropertyError(herald.EMissingProperty, "subscriptions", "subscriptions is required: the events to receive, such as [\"message_created\"].")
	}
	if len(in.Subscriptions) == 0 {
		return nil, false, herald.PropertyError(herald.EInvalidProperty, "subscriptions", "subscriptions must name at least one event.")
	}
	var events []string
	// A subscription's webhook is always of the format's default version.
	types := f.EventTypes(f.Versions()[0])
	for i, ev := range in.Subscriptions {
		if !slices.Contains(types, ev) {
			return nil, false, herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("subscriptions[%d]", i),
				"subscriptions[%d] %q is not an event; the events are %s.", i, ev, strings.Join(types, ", "))
		}
		if !slices.Contains(events, ev) {
			events = append(events, ev)
		}
	}
	config := bytes.TrimSpace(in.Config)
	if len(config) == 0 || bytes.Equal(config, []byte("null")) {
		config = nil
	} else if c, ok := f.(interface{ CheckConfig(json.RawMessage) error }); ok {
		if err := c.CheckConfig(config); err != nil {
			if _, ok := herald.AsError(err); ok {
				return nil, false, err
			}
			return nil, false, herald.PropertyError(herald.EInvalidProperty, "config", "config: %v.", err)
		}
		var buf bytes.Buffer
		json.Compact(&buf, config)
		config = buf.Bytes()
	}
	now := e.now().UTC().Truncate(time.Microsecond)
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		w, err = subscription(ctx, tx, appID, format)
		if err != nil {
			return err
		}
		if w == nil {
			if err := e.checkWebhookQuota(ctx, tx, appID); err != nil {
				return err
			}
			seq, err := tx.LastEventSeq(ctx)
			if err != nil {
				return err
			}
			secret := stdwebhooks.NewSecret()
			w = &herald.Webhook{ID: uuid.Must(uuid.NewV7()).String(), AppID: appID, Format: format, Version: f.Versions()[0],
				TargetURL: in.URL, Events: events, Secret: secret, SigningKey: secret, Config: config,
				Status: herald.WebhookActive, RetrySchedule: DefaultRetrySchedule, Timeout: min(DefaultTimeout, e.maxAttemptTimeout()),
				Cursor: seq, CreatedAt: now, UpdatedAt: now}
			if in.AsymmetricSignature != nil && *in.AsymmetricSignature {
				w.AsymmetricKey, _ = stdwebhooks.NewKeyPair()
			}
			created = true
			return tx.CreateWebhook(ctx, w)
		}
		if in.AsymmetricSignature != nil && *in.AsymmetricSignature != (w.AsymmetricKey != "") {
			return herald.PropertyError(herald.EInvalidProperty, "asymmetric_signature",
				"asymmetric_signature can change only with the keys: rotate them with POST /v1/webhooks/rotate_secret.")
		}
		wasActive := w.Status == herald.WebhookActive
		w.TargetURL, w.Events, w.Config, w.UpdatedAt = in.URL, events, config, now
		w.Status, w.StatusReason, w.HealthFailingSince = herald.WebhookActive, "", nil
		if !wasActive {
			if err := tx.RequeueDeliveries(ctx, w.ID, now); err != nil {
				return err
			}
		}
		return tx.UpdateWebhook(ctx, w)
	})
	if err != nil {
		return nil, false, err
	}
	e.held.forget(w.ID)
	e.Notify()
	if e.started {
		signal(e.dispatchWake)
	}
	return w, created, nil
}

// Unsubscribe deletes the app's webhook of the format, with its deliveries
// (as DeleteWebhook does).
func (e *Engine) Unsubscribe(ctx context.Context, appID, format string) error {
	var w *herald.Webhook
	err := e.Store.Update(ctx, func(tx herald.Tx) (err error) {
		w, err = subscription(ctx, tx, appID, format)
		if err != nil {
			return err
		}
		if w == nil {
			return herald.Errorf(herald.ENotFound, "This app has no webhook to unsubscribe.")
		}
		return tx.MarkWebhookDeleted(ctx, appID, w.ID)
	})
	if err != nil {
		return err
	}
	e.purgeSoon(appID, w.ID)
	return nil
}

// Event log outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"
)

// MaxEventLogPage bounds the entries of one page of the event log.
const MaxEventLogPage = 100

// EventLog returns a page (from 1) of the event log of the app's webhook of
// the format: its attempted deliveries, newest first, with their last
// response; outcome keeps the successes or the failures, events keeps the
// given event types. It also returns the number of pages.
func (e *Engine) EventLog(ctx context.Context, appID, format, outcome string, events []string, page, items int) (log []*herald.WebhookEvent, pages int, err error) {
	var f herald.WebhookEventFilter
	switch outcome {
	case "":
	case OutcomeSuccess, OutcomeFailed:
		ok := outcome == OutcomeSuccess
		f.Success = &ok
	default:
		return nil, 0, herald.PropertyError(herald.EInvalidProperty, "status", "status must be success or failed, not %q.", outcome)
	}
	if page < 1 {
		return nil, 0, herald.PropertyError(herald.EInvalidProperty, "page", "page must be a number from 1.")
	}
	if items < 1 || items > MaxEventLogPage {
		return nil, 0, herald.PropertyError(herald.EInvalidProperty, "items", "items must be a number from 1 to %d.", MaxEventLogPage)
	}
	if fm := e.Formats[format]; fm != nil {
		types := fm.EventTypes(fm.Versions()[0])
		for i, ev := range events {
			if !slices.Contains(types, ev) {
				return nil, 0, herald.PropertyError(herald.EInvalidProperty, "subscriptions",
					"subscriptions[%d] %q is not an event; the events are %s.", i, ev, strings.Join(types, ", "))
			}
		}
	}
	f.EventTypes = events
	err = e.Store.View(ctx, func(q herald.Queries) error {
		w, err := subscription(ctx, q, appID, format)
		if err != nil {
			return err
		}
		if w == nil {
			return herald.Errorf(herald.ENotFound, "This app has no webhook; subscribe with POST /v1/webhooks/subscribe.")
		}
		var total int
		log, total, err = q.WebhookEvents(ctx, w.ID, f, herald.PageOffset(page, items), items)
		pages = max(1, (total+items-1)/items)
		return err
	})
	return log, pages, err
}
