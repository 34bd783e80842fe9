package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/egress"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/urls"
)

// localOps runs the operations on the data directory or database, with the
// services the server uses. Network work a server would do in the
// background (a new receiver's verification) is done before the command
// returns; deliveries it queues are sent by the server running on the same
// data, at its next poll.
type localOps struct {
	svc    *messaging.Service
	engine *delivery.Engine
	close  func() error
}

func newLocalOps(ctx context.Context, svc *messaging.Service, closeStore func() error, baseURL, allowTargets string) (*localOps, error) {
	allow, err := parseAllowTargets(allowTargets)
	if err != nil {
		closeStore()
		return nil, err
	}
	key, err := svc.SigningKey(ctx)
	if err != nil {
		closeStore()
		return nil, err
	}
	u := &urls.Builder{Base: strings.TrimRight(baseURL, "/"), Key: key}
	// The client the engine makes when it starts, which it is not here:
	// guarded, following no redirect.
	client := &http.Client{Transport: egress.NewTransport(allow),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	engine := &delivery.Engine{Store: svc.Store, AllowTargets: allow, Client: client, Formats: map[string]delivery.Format{
		herald.FormatLayer:    layer.Format{URLs: u},
		herald.FormatCallbell: callbell.Format{URLs: u},
	}}
	return &localOps{svc: svc, engine: engine, close: closeStore}, nil
}

func (o *localOps) Close() error { return o.close() }

func (o *localOps) CreateApp(ctx context.Context, name, tokenName string) (*createdApp, error) {
	app, token, secret, err := o.svc.CreateAppWithToken(ctx, name, tokenName)
	if err != nil {
		return nil, err
	}
	return &createdApp{AppID: app.ID, Name: app.Name, Token: secret, TokenID: token.ID, TokenName: token.Name}, nil
}

func appOf(a *herald.App) *appView {
	return &appView{ID: a.ID, Name: a.Name, CreatedAt: herald.FormatTime(a.CreatedAt)}
}

func (o *localOps) Apps(ctx context.Context) ([]*appView, error) {
	apps, err := o.svc.Apps(ctx)
	out := make([]*appView, 0, len(apps))
	for _, a := range apps {
		out = append(out, appOf(a))
	}
	return out, err
}

func (o *localOps) App(ctx context.Context, id string) (*appView, error) {
	var app *herald.App
	err := o.svc.Store.View(ctx, func(q herald.Queries) (err error) {
		app, err = q.App(ctx, bareID(id))
		return err
	})
	if err != nil {
		return nil, err
	}
	return appOf(app), nil
}

func tokenOf(t *herald.Token) *tokenView {
	out := &tokenView{ID: t.ID, AppID: t.AppID, Name: t.Name, Prefix: t.Prefix, CreatedAt: herald.FormatTime(t.CreatedAt)}
	if t.LastUsedAt != nil {
		at := herald.FormatTime(*t.LastUsedAt)
		out.LastUsedAt = &at
	}
	return out
}

func (o *localOps) Tokens(ctx context.Context, app string) ([]*tokenView, error) {
	list, err := o.svc.Tokens(ctx, app)
	out := make([]*tokenView, 0, len(list))
	for _, t := range list {
		out = append(out, tokenOf(t))
	}
	return out, err
}

func (o *localOps) CreateToken(ctx context.Context, app, name string) (*tokenView, error) {
	t, secret, err := o.svc.CreateToken(ctx, app, name)
	if err != nil {
		return nil, err
	}
	out := tokenOf(t)
	out.Token = secret
	return out, nil
}

func (o *localOps) RevokeToken(ctx context.Context, app, id string) (*tokenView, error) {
	id = bareID(id)
	if app != "" {
		// Another app's token is not found, as over the API.
		list, err := o.svc.Tokens(ctx, app)
		if err != nil {
			return nil, err
		}
		found := false
		for _, t := range list {
			found = found || t.ID == id
		}
		if !found {
			return nil, herald.NotFound("token", id)
		}
	}
	t, err := o.svc.RevokeTokenByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return tokenOf(t), nil
}

func webhookOf(w *herald.Webhook) *webhookView {
	out := &webhookView{ID: w.ID, Format: w.Format, Version: w.Version, TargetURL: w.TargetURL, Events: w.Events,
		Status: w.Status, StatusReason: w.StatusReason, CreatedAt: herald.FormatTime(w.CreatedAt),
		Config: w.Config, RetrySchedule: make([]float64, len(w.RetrySchedule)), TimeoutSeconds: w.Timeout.Seconds(),
		SigningPublicKey: delivery.PublicKey(w.AsymmetricKey)}
	if len(out.Config) == 0 {
		out.Config = json.RawMessage(`{}`)
	}
	for i, d := range w.RetrySchedule {
		out.RetrySchedule[i] = d.Seconds()
	}
	return out
}

// Webhooks lists every webhook of the app, newest first.
func (o *localOps) Webhooks(ctx context.Context, app string) ([]*webhookView, error) {
	var out []*webhookView
	p := herald.Page{Limit: 500}
	for {
		ws, err := o.engine.Webhooks(ctx, app, p)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			out = append(out, webhookOf(w))
		}
		if len(ws) < p.Limit {
			return out, nil
		}
		p.Before = ws[len(ws)-1].ID
	}
}

func (o *localOps) Webhook(ctx context.Context, app, id string) (*webhookView, error) {
	w, err := o.engine.Webhook(ctx, app, bareID(id))
	if err != nil {
		return nil, err
	}
	return webhookOf(w), nil
}

// decodeStrictly reads what a command built into the input of an operation,
// as the API decodes a request body.
func decodeStrictly(in map[string]any, v any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (o *localOps) CreateWebhook(ctx context.Context, app string, in map[string]any) (*webhookView, error) {
	var input delivery.WebhookInput
	if err := decodeStrictly(in, &input); err != nil {
		return nil, err
	}
	w, err := o.engine.CreateWebhook(ctx, app, herald.FormatLayer, input)
	if err != nil {
		return nil, err
	}
	out, err := o.settled(ctx, w)
	if err != nil {
		return nil, err
	}
	out.SigningSecret = w.SigningKey
	return out, nil
}

// settled waits for the verification this process started, which would
// end with it, and returns the webhook as it left it.
func (o *localOps) settled(ctx context.Context, w *herald.Webhook) (*webhookView, error) {
	deadline := time.Now().Add(verificationWait)
	for {
		current, err := o.engine.Webhook(ctx, w.AppID, w.ID)
		if err != nil {
			return nil, err
		}
		if current.Status != herald.WebhookUnverified || time.Now().After(deadline) {
			return webhookOf(current), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (o *localOps) UpdateWebhook(ctx context.Context, app, id string, patch map[string]any) (*webhookView, error) {
	var in delivery.WebhookPatch
	if err := decodeStrictly(patch, &in); err != nil {
		return nil, err
	}
	if c, ok := patch["config"]; ok && c == nil {
		in.Config = json.RawMessage("null")
	}
	w, err := o.engine.UpdateWebhook(ctx, app, bareID(id), in)
	if err != nil {
		return nil, err
	}
	return o.settled(ctx, w)
}

func (o *localOps) TestWebhook(ctx context.Context, app, id string) (*testView, error) {
	res, err := o.engine.TestWebhook(ctx, app, bareID(id))
	if err != nil {
		return nil, err
	}
	out := heraldhttp.RenderWebhookTest(res)
	return &out, nil
}

// verificationWait bounds the wait for a receiver's verification: the
// longest attempt, and some.
const verificationWait = delivery.DefaultMaxAttemptTimeout + 5*time.Second

func (o *localOps) RotateWebhookSecret(ctx context.Context, app, id string, in map[string]any) (*webhookView, error) {
	var input delivery.RotateInput
	if err := decodeStrictly(in, &input); err != nil {
		return nil, err
	}
	w, err := o.engine.RotateKeys(ctx, app, bareID(id), input)
	if err != nil {
		return nil, err
	}
	out := webhookOf(w)
	out.SigningSecret = w.SigningKey
	return out, nil
}

func (o *localOps) ActivateWebhook(ctx context.Context, app, id string) (*webhookView, error) {
	w, err := o.engine.Activate(ctx, app, bareID(id))
	if err != nil {
		return nil, err
	}
	return o.settled(ctx, w)
}

func (o *localOps) DeactivateWebhook(ctx context.Context, app, id string) (*webhookView, error) {
	w, err := o.engine.Deactivate(ctx, app, bareID(id))
	if err != nil {
		return nil, err
	}
	return webhookOf(w), nil
}

func (o *localOps) DeleteWebhook(ctx context.Context, app, id string) error {
	// The deliveries go after it, removed by the server's engine.
	return o.svc.Store.Update(ctx, func(tx herald.Tx) error { return tx.MarkWebhookDeleted(ctx, app, bareID(id)) })
}

func timeText(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := herald.FormatTime(*t)
	return &s
}

func deliveryOf(d *herald.Delivery) *deliveryView {
	out := heraldhttp.RenderDelivery(d)
	return &out
}

func (o *localOps) Deliveries(ctx context.Context, app, webhook string, q deliveryQuery) ([]*deliveryView, error) {
	f := herald.DeliveryFilter{Status: q.Status, EventType: q.EventType, Conversation: bareID(q.Conversation), Since: q.Since, Until: q.Until}
	ds, err := o.engine.FilteredDeliveries(ctx, app, bareID(webhook), f, herald.Page{Limit: q.Limit})
	out := make([]*deliveryView, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryOf(d))
	}
	return out, err
}

func (o *localOps) Delivery(ctx context.Context, app, webhook, id string) (*deliveryView, error) {
	d, attempts, err := o.engine.Delivery(ctx, app, bareID(webhook), bareID(id))
	if err != nil {
		return nil, err
	}
	out := heraldhttp.RenderDeliveryLog(d, attempts)
	return &out, nil
}

func (o *localOps) Resend(ctx context.Context, app, webhook, id string) (*deliveryView, error) {
	d, err := o.engine.Resend(ctx, app, bareID(webhook), bareID(id))
	if err != nil {
		return nil, err
	}
	return deliveryOf(d), nil
}

func (o *localOps) Replay(ctx context.Context, app, webhook string, since, until time.Time) (*replayView, error) {
	res, err := o.engine.Replay(ctx, app, bareID(webhook), since, until)
	if err != nil {
		return nil, err
	}
	out := &replayView{Queued: res.Queued, AlreadyQueued: res.AlreadyQueued}
	if res.ResumeSince != nil {
		out.ResumeSince = res.ResumeSince.UTC().Format(time.RFC3339Nano)
	}
	return out, nil
}

func (o *localOps) Events(ctx context.Context, app, after string, limit int) ([]*eventView, error) {
	events, err := o.svc.Events(ctx, app, bareID(after), limit)
	out := make([]*eventView, 0, len(events))
	for _, e := range events {
		actor, _ := json.Marshal(e.Actor)
		out = append(out, &eventView{ID: e.ID, Type: e.Type, CreatedAt: herald.FormatTime(e.CreatedAt), Actor: actor, Data: e.Data})
	}
	return out, err
}

// parseAllowTargets reads --allow-targets as serve does, naming the flag.
func parseAllowTargets(v string) ([]netip.Prefix, error) {
	allow, err := egress.ParseAllowList(v)
	if err != nil {
		return nil, fmt.Errorf("--allow-targets: %w", err)
	}
	return allow, nil
}
