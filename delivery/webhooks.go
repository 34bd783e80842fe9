package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/stdwebhooks"
)

// WebhookInput registers a webhook.
type WebhookInput struct {
	Version   string          `json:"version"`
	TargetURL string          `json:"target_url"`
	Events    []string        `json:"events"`
	Secret    string          `json:"secret"`
	Config    json.RawMessage `json:"config"`
	// RetrySchedule is the delay before each retry, in seconds; Layer's
	// schedule when absent.
	RetrySchedule []float64 `json:"retry_schedule"`
	// TimeoutSeconds bounds one attempt; 5 s when absent.
	TimeoutSeconds float64 `json:"timeout_seconds"`
	// AsymmetricSignature gives the webhook an ed25519 key: each delivery
	// is signed with it too (Standard Webhooks' v1a), which receivers
	// verify with its public key alone.
	AsymmetricSignature bool `json:"asymmetric_signature"`
}

// Limits of a webhook's settings.
const (
	maxRetries = 20
	maxDelay   = 24 * time.Hour
	maxTimeout = 60 * time.Second
)

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (e *Engine) checkWebhook(format string, in *WebhookInput) (Format, error) {
	f := e.Formats[format]
	if f == nil {
		return nil, herald.Errorf(herald.EInvalidRequest, "Unknown webhook format %q.", format)
	}
	if in.Version == "" {
		in.Version = f.Versions()[0]
	}
	if !slices.Contains(f.Versions(), in.Version) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "version", "version must be one of %s, not %q.",
			strings.Join(f.Versions(), ", "), in.Version)
	}
	if in.TargetURL == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "target_url", "target_url is required.")
	}
	if err := e.checkReceiverURL("target_url", in.TargetURL); err != nil {
		return nil, err
	}
	if in.Events == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "events", "events is required: the event types to deliver.")
	}
	if len(in.Events) == 0 {
		return nil, herald.PropertyError(herald.EInvalidProperty, "events", "events must name at least one event type.")
	}
	for i, ev := range in.Events {
		if !slices.Contains(f.EventTypes(), ev) {
			return nil, herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("events[%d]", i),
				"events[%d] %q is not an event type; the types are %s.", i, ev, strings.Join(f.EventTypes(), ", "))
		}
	}
	if in.Secret == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "secret", "secret is required: it keys the payload signature.")
	}
	if c := bytes.TrimSpace(in.Config); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		if c[0] != '{' || !json.Valid(c) {
			return nil, herald.PropertyError(herald.EInvalidProperty, "config", "config must be a JSON object.")
		}
		var buf bytes.Buffer
		json.Compact(&buf, c)
		in.Config = buf.Bytes()
	} else {
		in.Config = nil
	}
	if len(in.RetrySchedule) > maxRetries {
		return nil, herald.PropertyError(herald.EInvalidProperty, "retry_schedule", "retry_schedule has at most %d delays.", maxRetries)
	}
	for i, s := range in.RetrySchedule {
		if s <= 0 || seconds(s) > maxDelay {
			return nil, herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("retry_schedule[%d]", i),
				"retry_schedule[%d] must be a number of seconds above 0 and at most %d.", i, int(maxDelay.Seconds()))
		}
	}
	if in.TimeoutSeconds < 0 || seconds(in.TimeoutSeconds) > maxTimeout {
		return nil, herald.PropertyError(herald.EInvalidProperty, "timeout_seconds",
			"timeout_seconds must be at most %d seconds (0 or absent: the default, %d).", int(maxTimeout.Seconds()), int(DefaultTimeout.Seconds()))
	}
	return f, nil
}

// MaxReceiverURL bounds the length of a receiver's URL, in bytes.
const MaxReceiverURL = 2048

// checkReceiverURL accepts the absolute http(s) URL of a receiver, without
// credentials (they would be sent with every delivery), whose host is a
// name or an address the egress guard permits. A name is checked when a
// request connects (what it resolves to may change); an address can be
// refused at once.
func (e *Engine) checkReceiverURL(property, raw string) error {
	if len(raw) > MaxReceiverURL {
		err := herald.PropertyError(herald.EInvalidProperty, property,
			"%s is %d bytes long; a receiver's URL is at most %d bytes.", property, len(raw), MaxReceiverURL)
		err.Data["size"], err.Data["limit"] = len(raw), MaxReceiverURL
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return herald.PropertyError(herald.EInvalidProperty, property,
			"%s must be an absolute http:// or https:// URL without credentials, not %q.", property, raw)
	}
	if p := u.Port(); p != "" {
		// url.Parse checks that a port is digits, not that it is one.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return herald.PropertyError(herald.EInvalidProperty, property,
				"%s has the port %s; a port is a number from 1 to 65535.", property, p)
		}
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !egress.Permitted(ip, e.AllowTargets) {
			return herald.PropertyError(herald.EInvalidProperty, property,
				"%s points at %s, a loopback, private, link-local, multicast or otherwise reserved address; "+
					"Herald sends webhooks to public addresses only.", property, host)
		}
	} else if egress.NumericHost(host) {
		return herald.PropertyError(herald.EInvalidProperty, property,
			"%s has the host %s, an IPv4 address in a shorthand that programs read differently; "+
				"write it as four decimal numbers, such as 203.0.113.7.", property, host)
	}
	return nil
}

// CreateWebhook registers a webhook, unverified, and starts its
// verification. It receives the events recorded from now on.
func (e *Engine) CreateWebhook(ctx context.Context, appID, format string, in WebhookInput) (*herald.Webhook, error) {
	if _, err := e.checkWebhook(format, &in); err != nil {
		return nil, err
	}
	now := e.now().UTC().Truncate(time.Microsecond)
	w := &herald.Webhook{ID: uuid.NewString(), AppID: appID, Format: format, Version: in.Version,
		TargetURL: in.TargetURL, Events: in.Events, Secret: in.Secret, SigningKey: stdwebhooks.NewSecret(),
		Config: in.Config, Status: herald.WebhookUnverified, RetrySchedule: DefaultRetrySchedule,
		Timeout: DefaultTimeout, CreatedAt: now, UpdatedAt: now}
	if in.RetrySchedule != nil {
		w.RetrySchedule = make([]time.Duration, len(in.RetrySchedule))
		for i, s := range in.RetrySchedule {
			w.RetrySchedule[i] = seconds(s)
		}
	}
	if in.TimeoutSeconds > 0 {
		w.Timeout = seconds(in.TimeoutSeconds)
	}
	if in.AsymmetricSignature {
		w.AsymmetricKey, _ = stdwebhooks.NewKeyPair()
	}
	err := e.Store.Update(ctx, func(tx herald.Tx) error {
		seq, err := tx.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		w.Cursor = seq
		return tx.CreateWebhook(ctx, w)
	})
	if err != nil {
		return nil, err
	}
	e.Verify(w)
	return w, nil
}

// Webhook returns one of an app's webhooks.
func (e *Engine) Webhook(ctx context.Context, appID, id string) (w *herald.Webhook, err error) {
	err = e.Store.View(ctx, func(q herald.Queries) error {
		w, err = q.Webhook(ctx, appID, id)
		return err
	})
	return w, err
}

// Webhooks lists an app's webhooks.
func (e *Engine) Webhooks(ctx context.Context, appID string) (ws []*herald.Webhook, err error) {
	err = e.Store.View(ctx, func(q herald.Queries) error {
		ws, err = q.Webhooks(ctx, appID)
		return err
	})
	return ws, err
}

// setStatus changes a webhook's status in one transaction.
func (e *Engine) setStatus(ctx context.Context, appID, id, status, reason string) (w *herald.Webhook, err error) {
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		w, err = tx.Webhook(ctx, appID, id)
		if err != nil {
			return err
		}
		w.Status, w.StatusReason, w.UpdatedAt = status, reason, e.now().UTC().Truncate(time.Microsecond)
		return tx.UpdateWebhook(ctx, w)
	})
	return w, err
}

// Activate verifies the webhook again; once verified it is active and its
// kept deliveries flow, failed ones included.
func (e *Engine) Activate(ctx context.Context, appID, id string) (*herald.Webhook, error) {
	w, err := e.setStatus(ctx, appID, id, herald.WebhookUnverified, "")
	if err != nil {
		return nil, err
	}
	e.Verify(w)
	return w, nil
}

// Deactivate pauses a webhook; its events wait for it.
func (e *Engine) Deactivate(ctx context.Context, appID, id string) (*herald.Webhook, error) {
	return e.setStatus(ctx, appID, id, herald.WebhookInactive, "Deactivated by User")
}

// DeleteWebhook removes a webhook and its deliveries.
func (e *Engine) DeleteWebhook(ctx context.Context, appID, id string) error {
	return e.Store.Update(ctx, func(tx herald.Tx) error { return tx.DeleteWebhook(ctx, appID, id) })
}

// Deliveries lists a webhook's deliveries, newest first.
func (e *Engine) Deliveries(ctx context.Context, appID, webhookID, status string, p herald.Page) (ds []*herald.Delivery, err error) {
	switch status {
	case "", herald.DeliveryPending, herald.DeliveryDelivered, herald.DeliveryFailed:
	default:
		return nil, herald.PropertyError(herald.EInvalidProperty, "status", "status must be pending, delivered or failed, not %q.", status)
	}
	err = e.Store.View(ctx, func(q herald.Queries) error {
		if _, err := q.Webhook(ctx, appID, webhookID); err != nil {
			return err
		}
		ds, err = q.Deliveries(ctx, webhookID, status, p)
		return err
	})
	return ds, err
}

// Delivery returns a delivery of a webhook with its attempts.
func (e *Engine) Delivery(ctx context.Context, appID, webhookID, id string) (d *herald.Delivery, as []*herald.Attempt, err error) {
	err = e.Store.View(ctx, func(q herald.Queries) error {
		d, err = q.Delivery(ctx, appID, id)
		if err == nil && d.WebhookID != webhookID {
			err = herald.NotFound("delivery", id)
		}
		if err != nil {
			return err
		}
		as, err = q.Attempts(ctx, id)
		return err
	})
	return d, as, err
}

// Resend queues a delivery again, with the same body and request id.
func (e *Engine) Resend(ctx context.Context, appID, webhookID, id string) (d *herald.Delivery, err error) {
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		d, err = tx.Delivery(ctx, appID, id)
		if err == nil && d.WebhookID != webhookID {
			err = herald.NotFound("delivery", id)
		}
		if err != nil {
			return err
		}
		if d.Status == herald.DeliveryPending {
			return herald.Errorf(herald.EConflict, "Delivery %s is already queued.", id)
		}
		now := e.now()
		if err := tx.ResendDelivery(ctx, d, now); err != nil {
			return err
		}
		d.Status, d.Attempts, d.NextAttemptAt, d.DeliveredAt = herald.DeliveryPending, 0, now, nil
		return nil
	})
	if err == nil {
		signal(e.dispatchWake)
	}
	return d, err
}

// maxReplay bounds the events one replay queues.
const maxReplay = 100_000

// Replay queues the webhook's events of [since, until) again, as new
// deliveries, and returns how many.
func (e *Engine) Replay(ctx context.Context, appID, webhookID string, since, until time.Time) (int, error) {
	if !until.After(since) {
		return 0, herald.PropertyError(herald.EInvalidProperty, "until", "until must be later than since.")
	}
	w, err := e.Webhook(ctx, appID, webhookID)
	if err != nil {
		return 0, err
	}
	f := e.Formats[w.Format]
	total := 0
	var after int64
	for total < maxReplay {
		var events []*herald.Event
		err := e.Store.View(ctx, func(q herald.Queries) (err error) {
			events, err = q.EventsBetween(ctx, appID, since, until, after, fanOutBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		if len(events) == 0 {
			break
		}
		after = events[len(events)-1].Seq
		now := e.now()
		var ds []*herald.Delivery
		for _, ev := range events {
			typ := f.EventType(ev)
			if typ == "" || !w.Subscribed(typ) {
				continue
			}
			d, err := ev.DecodeData()
			if err != nil {
				continue
			}
			body, ok, err := f.Render(ev, d, w)
			if err != nil || !ok {
				continue
			}
			ds = append(ds, &herald.Delivery{ID: uuid.Must(uuid.NewV7()).String(), AppID: appID, WebhookID: w.ID,
				EventID: ev.ID, EventSeq: ev.Seq, EventType: typ, OrderingKey: orderingKey(d), Body: body,
				Status: herald.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
		}
		if err := e.Store.Update(ctx, func(tx herald.Tx) error {
			if _, err := tx.Webhook(ctx, appID, webhookID); err != nil {
				return err
			}
			return tx.CreateDeliveries(ctx, ds)
		}); err != nil {
			return total, err
		}
		total += len(ds)
	}
	signal(e.dispatchWake)
	return total, nil
}
