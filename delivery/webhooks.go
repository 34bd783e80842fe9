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
)

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// secondsText says a duration in seconds: "30 seconds", "1.5 seconds".
func secondsText(d time.Duration) string {
	if d == time.Second {
		return "1 second"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " seconds"
}

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
	// Checked against the version's own names: a webhook receives events
	// under the names of its version (Layer's 3.0 has names of its own).
	types := f.EventTypes(in.Version)
	for i, ev := range in.Events {
		if !slices.Contains(types, ev) {
			of := ""
			if len(f.Versions()) > 1 {
				of = " of payload version " + in.Version
			}
			return nil, herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("events[%d]", i),
				"events[%d] %q is not an event type%s; the types are %s.", i, ev, of, strings.Join(types, ", "))
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
	minDelay := orDefault(e.MinRetryDelay, DefaultMinRetryDelay)
	for i, s := range in.RetrySchedule {
		if s <= 0 || seconds(s) < minDelay || seconds(s) > maxDelay {
			err := herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("retry_schedule[%d]", i),
				"retry_schedule[%d] must be a number of seconds above 0 and at most %d.", i, int(maxDelay.Seconds()))
			if minDelay > 0 {
				err.Message = fmt.Sprintf("retry_schedule[%d] must be a number of seconds from %g (this server's shortest retry delay) to %d.",
					i, minDelay.Seconds(), int(maxDelay.Seconds()))
				err.Data["minimum"] = minDelay.Seconds()
			}
			return nil, err
		}
	}
	minTimeout, limit := orDefault(e.MinTimeout, DefaultMinTimeout), e.maxAttemptTimeout()
	if in.TimeoutSeconds < 0 || seconds(in.TimeoutSeconds) > limit || (in.TimeoutSeconds > 0 && seconds(in.TimeoutSeconds) < minTimeout) {
		err := herald.PropertyError(herald.EInvalidProperty, "timeout_seconds",
			"timeout_seconds must be at most %s, this server's limit (0 or absent: the default, %s).",
			secondsText(limit), secondsText(min(DefaultTimeout, limit)))
		err.Data["limit"] = limit.Seconds()
		if minTimeout > 0 {
			err.Message = fmt.Sprintf("timeout_seconds must be from %s (this server's shortest timeout) to %s, this server's limit (0 or absent: the default, %s).",
				secondsText(minTimeout), secondsText(limit), secondsText(min(DefaultTimeout, limit)))
			err.Data["minimum"] = minTimeout.Seconds()
		}
		return nil, err
	}
	return f, nil
}

// retryDelay is the delay before a retry, given the one asked for: never
// under MinRetryDelay, whatever a webhook registered before the floor, or
// its receiver's Retry-After, asks for.
func (e *Engine) retryDelay(asked time.Duration) time.Duration {
	return max(asked, orDefault(e.MinRetryDelay, DefaultMinRetryDelay))
}

// checkWebhookQuota refuses one more webhook to an app that has
// MaxWebhooks.
func (e *Engine) checkWebhookQuota(ctx context.Context, tx herald.Tx, appID string) error {
	limit := orDefault(e.MaxWebhooks, DefaultMaxWebhooks)
	if limit < 0 {
		return nil
	}
	n, err := tx.CountWebhooks(ctx, appID)
	if err != nil || n < limit {
		return err
	}
	return &herald.Error{ID: herald.EQuotaExceeded,
		Message: fmt.Sprintf("This app has %d webhooks, and may have at most %d; delete one to register another.", n, limit),
		Data:    map[string]any{"limit": limit, "webhooks": n}}
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
	w := &herald.Webhook{ID: uuid.Must(uuid.NewV7()).String(), AppID: appID, Format: format, Version: in.Version,
		TargetURL: in.TargetURL, Events: in.Events, Secret: in.Secret, SigningKey: stdwebhooks.NewSecret(),
		Config: in.Config, Status: herald.WebhookUnverified, RetrySchedule: DefaultRetrySchedule,
		Timeout: min(DefaultTimeout, e.maxAttemptTimeout()), CreatedAt: now, UpdatedAt: now}
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
		if err := e.checkWebhookQuota(ctx, tx, appID); err != nil {
			return err
		}
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

// Webhooks lists a page of an app's webhooks, newest first.
func (e *Engine) Webhooks(ctx context.Context, appID string, p herald.Page) (ws []*herald.Webhook, err error) {
	err = e.Store.View(ctx, func(q herald.Queries) error {
		ws, err = q.ListWebhooks(ctx, appID, p)
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

// DeleteWebhook removes a webhook: it is gone at once, and its deliveries
// go after it, a batch per transaction (see purgeWebhook).
func (e *Engine) DeleteWebhook(ctx context.Context, appID, id string) error {
	if err := e.Store.Update(ctx, func(tx herald.Tx) error { return tx.MarkWebhookDeleted(ctx, appID, id) }); err != nil {
		return err
	}
	e.replaying.Delete(id)
	e.Metrics.ForgetWebhook(id)
	e.purgeSoon(appID, id)
	return nil
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
		if _, err := q.Webhook(ctx, appID, webhookID); err != nil {
			return err
		}
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
		if _, err := tx.Webhook(ctx, appID, webhookID); err != nil {
			return err
		}
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
		e.held.forget(webhookID)
		signal(e.dispatchWake)
	}
	return d, err
}

// maxReplay bounds the events one replay queues.
const maxReplay = 100_000

// ReplayResult reports what a replay queued.
type ReplayResult struct {
	// Queued counts the events queued again; AlreadyQueued those left
	// out because they were on their way to the webhook already: an
	// unfinished delivery of theirs was queued, or the webhook was yet to
	// receive them for the first time.
	Queued, AlreadyQueued int
	// ResumeSince, when set, says the replay stopped early, at the first
	// event of its window it did not queue: it queued maxReplay events, or
	// the webhook's unfinished deliveries reached MaxQueuedDeliveries.
	ResumeSince *time.Time
}

// Replay queues the webhook's events of [since, until) again, as new
// deliveries, except those already on their way to it: of concurrent or
// repeated replays of one window, each event is queued once, until it is
// delivered (or has failed).
func (e *Engine) Replay(ctx context.Context, appID, webhookID string, since, until time.Time) (ReplayResult, error) {
	var res ReplayResult
	if !until.After(since) {
		return res, herald.PropertyError(herald.EInvalidProperty, "until", "until must be later than since.")
	}
	w, err := e.Webhook(ctx, appID, webhookID)
	if err != nil {
		return res, err
	}
	f := e.Formats[w.Format]
	release, err := e.replayTurn(ctx, w.ID)
	if err != nil {
		return res, err
	}
	defer release()
	queueLimit := orDefault(e.MaxQueuedDeliveries, DefaultMaxQueuedDeliveries)
	// Counting a webhook's backlog costs a read of each delivery in it (30
	// ms for 100,000 on SQLite), and a replay writes a few hundred at a
	// time: it counts once, then adds what it queues, the replays of the
	// webhook taking turns on this node. Where other nodes replay too, it
	// counts at each write, which blocks no other webhook's.
	_, shared := e.Store.(herald.SharedStore)
	counted := -1
	var after int64
	for res.ResumeSince == nil {
		var events []*herald.Event
		err := e.Store.View(ctx, func(q herald.Queries) (err error) {
			events, err = q.EventsBetween(ctx, appID, since, until, after, fanOutBatch)
			return err
		})
		if err != nil {
			return res, err
		}
		if len(events) == 0 {
			break
		}
		after = events[len(events)-1].Seq
		now := e.now()
		var ds []*herald.Delivery
		createdAt := make(map[int64]time.Time, len(events))
		for _, ev := range events {
			typ := f.EventType(ev, w.Version)
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
				EventID: ev.ID, EventSeq: ev.Seq, EventType: typ, RequestID: ev.RequestID, OrderingKey: orderingKey(d), Body: body,
				Status: herald.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
			createdAt[ev.Seq] = ev.CreatedAt
		}
		if len(ds) == 0 {
			continue
		}
		var fresh []*herald.Delivery
		already, unfinished, full := 0, counted, false
		var resume *time.Time
		err = e.Store.Update(ctx, func(tx herald.Tx) error {
			fresh, already, unfinished, full, resume = nil, 0, counted, false, nil
			// Read, and on a shared store locked, first: the replays of
			// the webhook on other nodes take their turns from here,
			// each seeing what the one before it queued.
			current, err := tx.Webhook(ctx, appID, webhookID)
			if err != nil {
				return err
			}
			keys := make([]herald.QueuedEvent, 0, len(ds))
			for _, d := range ds {
				// The events past the cursor are the fan-out's to turn
				// into deliveries: queued here too, they would go twice.
				if d.EventSeq <= current.Cursor {
					keys = append(keys, herald.QueuedEvent{Seq: d.EventSeq, OrderingKey: d.OrderingKey})
				}
			}
			waiting, err := tx.QueuedEvents(ctx, w.ID, keys)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if d.EventSeq > current.Cursor || waiting[d.EventSeq] {
					already++
				} else {
					fresh = append(fresh, d)
				}
			}
			room := maxReplay - res.Queued
			if queueLimit > 0 && len(fresh) > 0 {
				if unfinished < 0 || shared {
					if unfinished, err = tx.CountUnfinishedDeliveries(ctx, w.ID, queueLimit); err != nil {
						return err
					}
				}
				if queueLimit-unfinished < room {
					room, full = max(queueLimit-unfinished, 0), true
				}
			}
			if len(fresh) > room {
				at := createdAt[fresh[room].EventSeq]
				resume, fresh = &at, fresh[:room]
			} else {
				full = false
			}
			return tx.CreateDeliveries(ctx, fresh)
		})
		if err != nil {
			return res, err
		}
		// Created held behind deliveries of this node's queues, maybe.
		e.held.forget(w.ID)
		res.Queued += len(fresh)
		res.AlreadyQueued += already
		res.ResumeSince = resume
		if unfinished >= 0 {
			counted = unfinished + len(fresh)
		}
		if full && res.Queued == 0 {
			return res, &herald.Error{ID: herald.EQuotaExceeded,
				Message: fmt.Sprintf("Webhook %s has %d or more deliveries waiting, the most a replay may queue up to; replay once they have gone out, or been removed.",
					webhookID, queueLimit),
				Data: map[string]any{"limit": queueLimit}}
		}
	}
	if res.Queued > 0 {
		signal(e.dispatchWake)
	}
	return res, nil
}

// replayTurn waits for the webhook's turn to replay on this node, and
// returns the function that ends it.
func (e *Engine) replayTurn(ctx context.Context, webhookID string) (release func(), err error) {
	v, _ := e.replaying.LoadOrStore(webhookID, make(chan struct{}, 1))
	turn := v.(chan struct{})
	select {
	case turn <- struct{}{}:
		return func() { <-turn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
