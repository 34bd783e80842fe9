package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// httpOps runs the operations through a running server's management API,
// authenticated by one of the app's tokens.
type httpOps struct {
	base, token string
	client      *http.Client
}

func newHTTPOps(server, token string) *httpOps {
	// A test event waits for its receiver, up to the server's longest
	// attempt timeout.
	return &httpOps{base: strings.TrimRight(server, "/"), token: token, client: &http.Client{Timeout: 2 * time.Minute}}
}

func (o *httpOps) Close() error { return nil }

// do sends a request to path under the app and decodes the answer into out
// (nil: none is read).
func (o *httpOps) do(ctx context.Context, method, app, path string, query url.Values, body, out any) error {
	u := o.base + "/apps/" + url.PathEscape(app) + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("reaching the server at %s: %w", o.base, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	if res.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(b, &e) != nil || e.Message == "" {
			return fmt.Errorf("%s %s: the server answered %s", method, req.URL.Path, res.Status)
		}
		if res.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("%s (%s): check --token (env HERALD_TOKEN) and --app (env HERALD_APP)", strings.TrimSuffix(e.Message, "."), e.ID)
		}
		return fmt.Errorf("%s (%s)", strings.TrimSuffix(e.Message, "."), e.ID)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the server's answer is not what this herald expects (%v); is it the same version?", method, req.URL.Path, err)
	}
	return nil
}

// dataOnly is the error of an operation the API has no route for.
func dataOnly(what string) error {
	return fmt.Errorf("%s works on the data directory only (--data DIR, or --db URL for PostgreSQL): the API has no route for it", what)
}

func (o *httpOps) CreateApp(context.Context, string, string) (*createdApp, error) {
	return nil, dataOnly("herald apps create")
}
func (o *httpOps) Apps(context.Context) ([]*appView, error) { return nil, dataOnly("herald apps list") }
func (o *httpOps) App(context.Context, string) (*appView, error) {
	return nil, dataOnly("herald apps show")
}

func (o *httpOps) Tokens(ctx context.Context, app string) ([]*tokenView, error) {
	var list []*tokenView
	if err := o.do(ctx, "GET", app, "/tokens", nil, nil, &list); err != nil {
		return nil, err
	}
	for _, t := range list {
		t.ID, t.AppID = bareID(t.ID), app
	}
	return list, nil
}

func (o *httpOps) CreateToken(ctx context.Context, app, name string) (*tokenView, error) {
	var t tokenView
	if err := o.do(ctx, "POST", app, "/tokens", nil, map[string]string{"name": name}, &t); err != nil {
		return nil, err
	}
	t.ID, t.AppID = bareID(t.ID), app
	return &t, nil
}

func (o *httpOps) RevokeToken(ctx context.Context, app, id string) (*tokenView, error) {
	id = bareID(id)
	// The API answers 204: the token is read first, to show what went.
	list, err := o.Tokens(ctx, app)
	if err != nil {
		return nil, err
	}
	var revoked *tokenView
	for _, t := range list {
		if t.ID == id {
			revoked = t
		}
	}
	if err := o.do(ctx, "DELETE", app, "/tokens/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return nil, err
	}
	if revoked == nil {
		revoked = &tokenView{ID: id, AppID: app}
	}
	return revoked, nil
}

func webhookFromAPI(w *webhookView) *webhookView {
	w.ID = bareID(w.ID)
	return w
}

func (o *httpOps) Webhooks(ctx context.Context, app string) ([]*webhookView, error) {
	var out []*webhookView
	q := url.Values{"page_size": {"500"}}
	for {
		var page []*webhookView
		if err := o.do(ctx, "GET", app, "/webhooks", q, nil, &page); err != nil {
			return nil, err
		}
		for _, w := range page {
			out = append(out, webhookFromAPI(w))
		}
		if len(page) < 500 {
			return out, nil
		}
		q.Set("from_id", page[len(page)-1].ID)
	}
}

func (o *httpOps) webhookCall(ctx context.Context, method, app, path string, body any) (*webhookView, error) {
	var w webhookView
	if err := o.do(ctx, method, app, path, nil, body, &w); err != nil {
		return nil, err
	}
	return webhookFromAPI(&w), nil
}

func webhookPath(id string) string { return "/webhooks/" + url.PathEscape(bareID(id)) }

func (o *httpOps) Webhook(ctx context.Context, app, id string) (*webhookView, error) {
	return o.webhookCall(ctx, "GET", app, webhookPath(id), nil)
}

func (o *httpOps) CreateWebhook(ctx context.Context, app string, in map[string]any) (*webhookView, error) {
	w, err := o.webhookCall(ctx, "POST", app, "/webhooks", in)
	if err != nil {
		return nil, err
	}
	settled, err := o.settled(ctx, app, w)
	if err != nil {
		return nil, err
	}
	settled.SigningSecret = w.SigningSecret
	return settled, nil
}

// settled waits for the verification the server runs, as the data
// directory's commands do theirs, so that both show its outcome.
func (o *httpOps) settled(ctx context.Context, app string, w *webhookView) (*webhookView, error) {
	deadline := time.Now().Add(verificationWait)
	for w.Status == "unverified" && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		var err error
		if w, err = o.Webhook(ctx, app, w.ID); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (o *httpOps) UpdateWebhook(ctx context.Context, app, id string, patch map[string]any) (*webhookView, error) {
	w, err := o.webhookCall(ctx, "PATCH", app, webhookPath(id), patch)
	if err != nil {
		return nil, err
	}
	return o.settled(ctx, app, w)
}

func (o *httpOps) TestWebhook(ctx context.Context, app, id string) (*testView, error) {
	var t testView
	if err := o.do(ctx, "POST", app, webhookPath(id)+"/test", nil, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (o *httpOps) RotateWebhookSecret(ctx context.Context, app, id string, in map[string]any) (*webhookView, error) {
	return o.webhookCall(ctx, "POST", app, webhookPath(id)+"/rotate_secret", in)
}

func (o *httpOps) ActivateWebhook(ctx context.Context, app, id string) (*webhookView, error) {
	w, err := o.webhookCall(ctx, "POST", app, webhookPath(id)+"/activate", nil)
	if err != nil {
		return nil, err
	}
	return o.settled(ctx, app, w)
}

func (o *httpOps) DeactivateWebhook(ctx context.Context, app, id string) (*webhookView, error) {
	return o.webhookCall(ctx, "POST", app, webhookPath(id)+"/deactivate", nil)
}

func (o *httpOps) DeleteWebhook(ctx context.Context, app, id string) error {
	return o.do(ctx, "DELETE", app, webhookPath(id), nil, nil, nil)
}

func (o *httpOps) Deliveries(ctx context.Context, app, webhook string, dq deliveryQuery) ([]*deliveryView, error) {
	q := url.Values{"page_size": {strconv.Itoa(dq.Limit)}}
	for name, v := range map[string]string{"status": dq.Status, "event_type": dq.EventType, "conversation": bareID(dq.Conversation)} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if dq.Since != nil {
		q.Set("since", dq.Since.UTC().Format(time.RFC3339Nano))
	}
	if dq.Until != nil {
		q.Set("until", dq.Until.UTC().Format(time.RFC3339Nano))
	}
	var list []*deliveryView
	if err := o.do(ctx, "GET", app, webhookPath(webhook)+"/deliveries", q, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}

func deliveryPath(webhook, id string) string {
	return webhookPath(webhook) + "/deliveries/" + url.PathEscape(bareID(id))
}

func (o *httpOps) Delivery(ctx context.Context, app, webhook, id string) (*deliveryView, error) {
	var d deliveryView
	if err := o.do(ctx, "GET", app, deliveryPath(webhook, id), nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (o *httpOps) Resend(ctx context.Context, app, webhook, id string) (*deliveryView, error) {
	var d deliveryView
	if err := o.do(ctx, "POST", app, deliveryPath(webhook, id)+"/resend", nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (o *httpOps) Replay(ctx context.Context, app, webhook string, since, until time.Time) (*replayView, error) {
	var r replayView
	body := map[string]string{"since": since.UTC().Format(time.RFC3339Nano), "until": until.UTC().Format(time.RFC3339Nano)}
	if err := o.do(ctx, "POST", app, webhookPath(webhook)+"/replay", nil, body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (o *httpOps) Events(ctx context.Context, app, after string, limit int) ([]*eventView, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", bareID(after))
	}
	var list []*eventView
	if err := o.do(ctx, "GET", app, "/events", q, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}
