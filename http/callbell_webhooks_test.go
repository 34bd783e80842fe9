package http_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/callbell"
	heraldhttp "github.com/heraldhq/herald/http"
)

// Integration tests of Callbell's webhook API (/v1/webhooks): subscribing,
// updating in place, unsubscribing, event selection, the events log, and
// the periodic health check of receivers that disables a webhook whose
// receiver does not answer, without losing its deliveries.

// cbwCreatedAt is the layout of a subscription's createdAt.
var cbwCreatedAt = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0000$`)

// cbwHealth sets health checks fast enough for tests: a check every 50 ms,
// a warning after 250 ms without an answer, disabled after 1 s.
const (
	cbwHealthInterval = 50 * time.Millisecond
	cbwWarnAfter      = 250 * time.Millisecond
	cbwDisableAfter   = time.Second
)

func cbwFastHealth(srv *heraldhttp.Server) {
	srv.Engine.HealthInterval = cbwHealthInterval
	srv.Engine.HealthWarnAfter = cbwWarnAfter
	srv.Engine.HealthDisableAfter = cbwDisableAfter
}

// cbwForEachEngine is forEachEngine with options for the API.
func cbwForEachEngine(t *testing.T, opts []apiOption, f func(t *testing.T, a *api)) {
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			f(t, startAPI(t, e.Open(t), opts...))
		})
	}
}

// cbwAs is a's API as another app of the same server.
func (a *api) cbwAs(t *testing.T, name string) *api {
	id, token := a.newApp(name)
	b := a.in(t)
	b.AppID, b.Token = id, token
	return b
}

// cbwSubscribe posts a subscription and checks the status.
func (a *api) cbwSubscribe(t *testing.T, status int, url string, events ...string) map[string]any {
	t.Helper()
	return a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": url, "subscriptions": events}).must(t, status).Map(t)
}

// cbwWebhook returns the app's subscription as GET /v1/webhooks shows it.
func (a *api) cbwWebhook(t *testing.T) map[string]any {
	t.Helper()
	res := a.do("GET", "//v1/webhooks", nil).must(t, 200).Map(t)
	wantKeys(t, "GET /v1/webhooks", res, "webhook")
	return obj(t, res["webhook"])
}

// cbwWaitWebhook polls GET /v1/webhooks until cond holds and returns the
// webhook then.
func (a *api) cbwWaitWebhook(t *testing.T, what string, cond func(wh map[string]any) bool) map[string]any {
	t.Helper()
	var wh map[string]any
	eventually(t, func() bool {
		wh = a.cbwWebhook(t)
		return cond(wh)
	}, "the webhook to be %s", what)
	return wh
}

// cbwEventName is the Callbell event of a delivery.
func cbwEventName(h *hit) string {
	var p struct {
		Event string `json:"event"`
	}
	json.Unmarshal(h.Body, &p)
	return p.Event
}

func cbwEventNames(hits []*hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, cbwEventName(h))
	}
	return out
}

// cbwLog reads a page of the events log.
func (a *api) cbwLog(t *testing.T, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	res := a.do("GET", "//v1/webhooks/events"+query, nil).must(t, 200).Map(t)
	wantKeys(t, "events log", res, "webhook_events", "meta")
	var out []map[string]any
	for _, e := range arr(t, res["webhook_events"]) {
		e := obj(t, e)
		wantKeys(t, "events log entry", e, "event", "response", "payload", "success", "createdAt")
		wantKeys(t, "events log response", obj(t, e["response"]), "body", "code", "headers")
		out = append(out, e)
	}
	return out, obj(t, res["meta"])
}

func TestCallbellSubscribeLifecycle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		first, second := newReceiver(t), newReceiver(t)
		a.do("GET", "//v1/webhooks", nil).wantError(t, 404, "not_found", "")

		res := a.cbwSubscribe(t, 201, first.URL, "message_created", "contact_created", "message_created")
		wantKeys(t, "subscribe response", res, "webhook", "secret")
		secret, _ := res["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < 20 {
			t.Fatalf("secret %q", secret)
		}
		wh := obj(t, res["webhook"])
		wantKeys(t, "webhook", wh, "url", "subscriptions", "createdAt", "enabled")
		wantJSON(t, "created webhook", without(wh, "createdAt"), map[string]any{
			"url": first.URL, "subscriptions": []string{"message_created", "contact_created"}, "enabled": true})
		createdAt, _ := wh["createdAt"].(string)
		if !cbwCreatedAt.MatchString(createdAt) {
			t.Fatalf("createdAt %q is not YYYY-MM-DD HH:MM:SS +0000", createdAt)
		}
		if ts, err := time.Parse("2006-01-02 15:04:05 -0700", createdAt); err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -2*time.Second {
			t.Fatalf("createdAt %q is not now (%v)", createdAt, err)
		}
		wantJSON(t, "GET /v1/webhooks", a.cbwWebhook(t), wh)

		// Subscribing again updates the webhook in place.
		res = a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": second.URL,
			"subscriptions": []string{"contact_updated"}, "config": map[string]any{"context_field": "both"}}).must(t, 200).Map(t)
		wantKeys(t, "re-subscribe response", res, "webhook")
		updated := obj(t, res["webhook"])
		wantJSON(t, "updated webhook", updated, map[string]any{"url": second.URL, "subscriptions": []string{"contact_updated"},
			"createdAt": createdAt, "enabled": true, "config": map[string]any{"context_field": "both"}})
		wantJSON(t, "GET /v1/webhooks after re-subscribing", a.cbwWebhook(t), updated)
		var list []map[string]any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 1 {
			t.Fatalf("the app has %d webhooks after subscribing twice, want 1: %v", len(list), list)
		}
		if list[0]["target_url"] != second.URL || canon(t, list[0]["events"]) != `["contact_updated"]` || list[0]["status"] != "active" {
			t.Fatalf("the app's webhook: %v", list[0])
		}
		if f, ok := list[0]["format"]; ok && f != "callbell" {
			t.Fatalf("the app's webhook has format %v, want callbell", f)
		}

		// Refusals name their property and change nothing.
		for _, tc := range []struct {
			body     any
			id, prop string
		}{
			{map[string]any{"subscriptions": []string{"contact_created"}}, "missing_property", "url"},
			{map[string]any{"url": " ", "subscriptions": []string{"contact_created"}}, "missing_property", "url"},
			{map[string]any{"url": "ftp://example.com/hook", "subscriptions": []string{"contact_created"}}, "invalid_property", "url"},
			{map[string]any{"url": "/hook", "subscriptions": []string{"contact_created"}}, "invalid_property", "url"},
			{map[string]any{"url": "https://user:pw@example.com/hook", "subscriptions": []string{"contact_created"}}, "invalid_property", "url"},
			{map[string]any{"url": first.URL}, "missing_property", "subscriptions"},
			{map[string]any{"url": first.URL, "subscriptions": []string{}}, "invalid_property", "subscriptions"},
			{map[string]any{"url": first.URL, "subscriptions": []string{"contact_created", "contact_exploded"}}, "invalid_property", "subscriptions[1]"},
			{map[string]any{"url": first.URL, "subscriptions": []string{"message.sent"}}, "invalid_property", "subscriptions[0]"},
			{map[string]any{"url": first.URL, "subscriptions": "contact_created"}, "invalid_property", "subscriptions"},
		} {
			a.do("POST", "//v1/webhooks/subscribe", tc.body).wantError(t, 422, tc.id, tc.prop)
		}
		a.do("POST", "//v1/webhooks/subscribe", `{"url": "`+first.URL+`",`).wantError(t, 400, "invalid_request", "")
		a.do("POST", "//v1/webhooks/subscribe", "").wantError(t, 400, "invalid_request", "")
		wantJSON(t, "webhook after refused subscriptions", a.cbwWebhook(t), updated)

		// Unsubscribe: gone, and gone again.
		wantJSON(t, "unsubscribe", a.do("DELETE", "//v1/webhooks/unsubscribe", nil).must(t, 200).Map(t), map[string]any{"status": "webhook was destroyed"})
		a.do("GET", "//v1/webhooks", nil).wantError(t, 404, "not_found", "")
		a.do("GET", "//v1/webhooks/events", nil).wantError(t, 404, "not_found", "")
		a.do("DELETE", "//v1/webhooks/unsubscribe", nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 0 {
			t.Fatalf("the app still has webhooks after unsubscribing: %v", list)
		}

		// Subscribing afresh creates a new webhook, with a new secret.
		res = a.cbwSubscribe(t, 201, first.URL, "contact_created")
		if res["secret"] == secret {
			t.Fatal("a new subscription reuses the deleted webhook's secret")
		}
		a.doAs("", "DELETE", "//v1/webhooks/unsubscribe", nil).wantError(t, 401, "authentication_required", "")
		a.cbwWebhook(t)
	})
}

// A subscription's config is validated as callbell.CheckConfig does, each
// refusal naming its property; a refused config changes nothing and the
// webhook goes on delivering.
func TestCallbellSubscribeConfigRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		subscribe := func(config any) *response {
			return a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": rc.URL,
				"subscriptions": []string{"message_created"}, "config": config})
		}
		subscribe(map[string]any{"context_field": "mesageContext"}).must(t, 201)
		before := a.cbwWebhook(t)
		for _, tc := range []struct {
			config any
			prop   string
		}{
			{"both", "config"},
			{[]string{"messageContext"}, "config"},
			{map[string]any{"context_field": "contextMessage"}, "config.context_field"},
			{map[string]any{"context_field": 1}, "config.context_field"},
			{map[string]any{"other": "x"}, "config.other"},
		} {
			res := subscribe(tc.config)
			if res.Status != 422 {
				t.Errorf("subscribe with config %s: status %d, want 422 invalid_property %q. The config is not validated: "+
					"delivery.Engine.Subscribe (delivery/subscribe.go:92) validates it only if the format has a CheckConfig method, "+
					"and callbell.Format has none (callbell.CheckConfig is a package-level function); body: %s",
					canon(t, tc.config), res.Status, tc.prop, res.Body)
				continue
			}
			e := res.Map(t)
			if e["id"] != "invalid_property" || obj(t, e["data"])["property"] != tc.prop {
				t.Errorf("subscribe with config %s: error %v, want invalid_property naming %q", canon(t, tc.config), e, tc.prop)
			}
		}
		if got := a.cbwWebhook(t); canon(t, got) != canon(t, before) {
			t.Errorf("refused subscriptions changed the webhook:\n got %s\n was %s", canon(t, got), canon(t, before))
		}

		// The webhook still delivers.
		a.v1tDo("POST", "/messages/send", a.withTemplate(t, v1tSendBody())).must(t, 201)
		deadline := time.Now().Add(2 * time.Second)
		for len(rc.all()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if len(rc.all()) == 0 {
			t.Errorf("no message_created delivered within %v: the webhook's stored config %s cannot be rendered "+
				"(callbell.render refuses it), so the engine's fan-out logs an error and skips every event of the webhook",
				2*time.Second, canon(t, a.cbwWebhook(t)["config"]))
		} else if name := cbwEventName(rc.all()[0]); name != "message_created" {
			t.Errorf("delivered %s, want message_created", name)
		}
	})
}

func TestCallbellSubscribedEventsOnly(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		secret := a.cbwSubscribe(t, 201, rc.URL, "contact_created")["secret"].(string)

		// A send creates a contact (contact_created, conversation_opened)
		// and a message (message_created): only contact_created comes.
		m := obj(t, a.v1tDo("POST", "/messages/send", a.withTemplate(t, v1tSendBody())).must(t, 201).Map(t)["message"])
		hits := rc.waitHits(t, 1)
		rc.quiet(t, 1, 300*time.Millisecond)
		h := hits[0]
		if cbwEventName(h) != "contact_created" {
			t.Fatalf("delivered %s, want contact_created only", h.Body)
		}
		p := obj(t, h.payload(t)["payload"])
		if p["phoneNumber"] != "33611111111" || p["source"] != "whatsapp" {
			t.Fatalf("contact_created payload: %v", p)
		}
		if err := callbell.Verify(secret, h.Header.Get(callbell.SignatureHeader), h.Body, time.Now(), callbell.DefaultTolerance); err != nil {
			t.Fatalf("the delivery's %s does not verify with the subscription's secret: %v", callbell.SignatureHeader, err)
		}
		if ct := h.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}

		// Re-subscribing to message_created only: a second message comes,
		// a new contact's contact_created does not.
		a.cbwSubscribe(t, 200, rc.URL, "message_created", "message_status_updated")
		a.v1tDo("POST", "/messages/send", a.withTemplate(t, withKey(v1tSendBody(), "content", map[string]any{"text": "second"}))).must(t, 201)
		a.v1tDo("POST", "/messages/send", a.withTemplate(t, withKey(v1tSendBody(), "to", "+33 6 99 99 99 99"))).must(t, 201)
		a.v1tDo("POST", "/messages/"+m["uuid"].(string)+"/status", map[string]any{"status": "sent"}).must(t, 200)
		hits = rc.waitHits(t, 4)
		rc.quiet(t, 4, 300*time.Millisecond)
		names := cbwEventNames(hits[1:])
		slices.Sort(names)
		if want := []string{"message_created", "message_created", "message_status_updated"}; !slices.Equal(names, want) {
			t.Fatalf("delivered %v after re-subscribing, want %v", names, want)
		}
		for _, h := range hits[1:] {
			if err := callbell.Verify(secret, h.Header.Get(callbell.SignatureHeader), h.Body, time.Now(), callbell.DefaultTolerance); err != nil {
				t.Fatalf("re-subscribing changed the signing secret: %v", err)
			}
		}
	})
}

func TestCallbellEventsLog(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		// No webhook, no log.
		a.do("GET", "//v1/webhooks/events", nil).wantError(t, 404, "not_found", "")

		// The receiver refuses conversation_opened and takes the rest.
		rc := newReceiver(t)
		rc.script(func(h *hit) reply {
			if cbwEventName(h) == "conversation_opened" {
				return reply{Status: 500, Body: "boom", Header: map[string]string{"X-Why": "scripted"}}
			}
			return reply{Status: 200, Body: `{"status":"ok"}`, Header: map[string]string{"Content-Type": "application/json"}}
		})
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		a.cbwSubscribe(t, 201, rc.URL, "contact_created", "conversation_opened", "contact_updated")
		log, meta := a.cbwLog(t, "")
		v1tMeta(t, "empty log", meta, 1, 1)
		if len(log) != 0 {
			t.Fatalf("a new webhook's log: %v", log)
		}

		// Three contacts: each a contact_created (accepted) then a
		// conversation_opened (refused with 500).
		var contacts []string
		for i := range 3 {
			c := a.v1tContact(t, map[string]any{"identifier": fmt.Sprintf("3370000000%d", i), "source": "whatsapp", "name": fmt.Sprint("C", i)})
			contacts = append(contacts, c["uuid"].(string))
		}
		rc.waitHits(t, 6)
		eventually(t, func() bool {
			log, _ := a.cbwLog(t, "?items=100")
			return len(log) == 6
		}, "6 entries in the events log")
		rc.quiet(t, 6, 0)

		all, meta := a.cbwLog(t, "")
		v1tMeta(t, "log", meta, 1, 1)
		byEvent := map[string][]string{}
		for _, e := range all {
			name := e["event"].(string)
			p := obj(t, e["payload"])
			about := p["uuid"]
			if c, ok := p["contact"].(map[string]any); ok {
				about = c["uuid"]
			}
			byEvent[name] = append(byEvent[name], fmt.Sprint(about))
			resp := obj(t, e["response"])
			v1tTime(t, "log createdAt", e["createdAt"])
			switch name {
			case "contact_created":
				if e["success"] != true || resp["code"] != 200.0 || resp["body"] != `{"status":"ok"}` {
					t.Fatalf("accepted entry: %v", e)
				}
				if obj(t, resp["headers"])["Content-Type"] != "application/json" {
					t.Fatalf("accepted entry's headers: %v", resp["headers"])
				}
			case "conversation_opened":
				if e["success"] != false || resp["code"] != 500.0 || resp["body"] != "boom" {
					t.Fatalf("refused entry: %v", e)
				}
				if obj(t, resp["headers"])["X-Why"] != "scripted" {
					t.Fatalf("refused entry's headers: %v", resp["headers"])
				}
				// The payload is the inner object: the conversation, with
				// its contact.
				if obj(t, p["contact"])["uuid"] == nil || p["source"] != "whatsapp" {
					t.Fatalf("conversation_opened payload: %v", p)
				}
			default:
				t.Fatalf("unexpected entry %v", e)
			}
		}
		// Every contact has one entry of each event.
		want := slices.Sorted(slices.Values(contacts))
		for _, name := range []string{"contact_created", "conversation_opened"} {
			if got := slices.Sorted(slices.Values(byEvent[name])); !slices.Equal(got, want) {
				t.Fatalf("%s entries are about %v, want one about each of %v", name, got, want)
			}
		}

		// Filters.
		check := func(query string, n int, f func(e map[string]any) bool) {
			t.Helper()
			log, meta := a.cbwLog(t, query)
			v1tMeta(t, query, meta, 1, 1)
			if len(log) != n {
				t.Fatalf("%s lists %d entries, want %d", query, len(log), n)
			}
			for _, e := range log {
				if !f(e) {
					t.Fatalf("%s lists %v", query, e)
				}
			}
		}
		check("?status=failed", 3, func(e map[string]any) bool { return e["success"] == false && e["event"] == "conversation_opened" })
		check("?status=success", 3, func(e map[string]any) bool { return e["success"] == true && e["event"] == "contact_created" })
		check("?subscriptions=contact_created", 3, func(e map[string]any) bool { return e["event"] == "contact_created" })
		check("?subscriptions=conversation_opened,contact_created", 6, func(e map[string]any) bool { return true })
		check("?subscriptions=contact_updated", 0, nil)
		check("?status=success&subscriptions=conversation_opened", 0, nil)
		check("?status=failed&subscriptions=conversation_opened&items=3", 3, func(e map[string]any) bool { return e["success"] == false })

		// Pages, newest first, covering the log once.
		p1, meta := a.cbwLog(t, "?items=4")
		v1tMeta(t, "items=4", meta, 1, 2)
		p2, meta := a.cbwLog(t, "?items=4&page=2")
		v1tMeta(t, "items=4&page=2", meta, 2, 2)
		p3, meta := a.cbwLog(t, "?items=4&page=3")
		v1tMeta(t, "items=4&page=3", meta, 3, 2)
		if len(p1) != 4 || len(p2) != 2 || len(p3) != 0 {
			t.Fatalf("pages of 4 hold %d, %d, %d entries, want 4, 2, 0", len(p1), len(p2), len(p3))
		}
		wantJSON(t, "pages of 4", append(p1, p2...), all)
		f1, meta := a.cbwLog(t, "?status=failed&items=2")
		v1tMeta(t, "status=failed&items=2", meta, 1, 2)
		if len(f1) != 2 {
			t.Fatalf("status=failed&items=2 lists %d", len(f1))
		}
		// The newest entry is the last contact's conversation_opened or
		// contact_created; either way it is about the last contact.
		if got := canon(t, obj(t, all[0]["payload"])); !strings.Contains(got, contacts[2]) {
			t.Fatalf("the log's first entry is not about the newest contact: %s", got)
		}

		// Refusals.
		a.do("GET", "//v1/webhooks/events?status=pending", nil).wantError(t, 422, "invalid_property", "status")
		a.do("GET", "//v1/webhooks/events?items=0", nil).wantError(t, 422, "invalid_property", "items")
		a.do("GET", "//v1/webhooks/events?items=101", nil).wantError(t, 422, "invalid_property", "items")
		a.do("GET", "//v1/webhooks/events?items=x", nil).wantError(t, 422, "invalid_property", "items")
		a.do("GET", "//v1/webhooks/events?page=0", nil).wantError(t, 422, "invalid_property", "page")
		a.do("GET", "//v1/webhooks/events?subscriptions=contact_exploded", nil).wantError(t, 422, "invalid_property", "subscriptions")
		if log, _ := a.cbwLog(t, "?items=100"); len(log) != 6 {
			t.Fatalf("the log has %d entries, want 6", len(log))
		}

		// Another app has no webhook.
		a.cbwAs(t, "other").do("GET", "//v1/webhooks/events", nil).wantError(t, 404, "not_found", "")
	})
}

func TestCallbellHealthCheck(t *testing.T) {
	t.Parallel()
	cbwForEachEngine(t, []apiOption{cbwFastHealth}, func(t *testing.T, a *api) {
		answers := func(status int) *receiver {
			rc := newReceiver(t)
			rc.scriptVerify(func(string) (int, string) { return status, "" })
			return rc
		}
		// One app per receiver, since an app has one Callbell webhook.
		type hook struct {
			name string
			url  string
			rc   *receiver // nil for the closed one
			app  *api
			up   bool
		}
		up, postOnly, signed, failing := answers(200), answers(405), answers(401), answers(503)
		hooks := []*hook{
			{name: "up (200)", url: up.URL, rc: up, up: true},
			{name: "POST only (405)", url: postOnly.URL, rc: postOnly, up: true},
			{name: "checks signatures (401)", url: signed.URL, rc: signed, up: true},
			{name: "failing (503)", url: failing.URL, rc: failing},
			{name: "closed", url: closedURL(t)},
		}
		start := time.Now()
		for i, h := range hooks {
			h.app = a.cbwAs(t, fmt.Sprint("health", i))
			h.app.cbwSubscribe(t, 201, h.url, "contact_created")
		}

		// The receivers that do not answer are first reported, then
		// disabled; those that answer stay as they were.
		for _, h := range hooks {
			if h.up {
				continue
			}
			warned := h.app.cbwWaitWebhook(t, h.name+" warned", func(wh map[string]any) bool {
				return wh["statusReason"] != nil || wh["enabled"] != true
			})
			if d := time.Since(start); warned["enabled"] != true {
				t.Fatalf("%s: disabled without a warning first (after %v): %v", h.name, d, warned)
			}
			if d := time.Since(start); d < cbwWarnAfter {
				t.Fatalf("%s: warned after %v, before HealthWarnAfter %v", h.name, d, cbwWarnAfter)
			}
			reason, _ := warned["statusReason"].(string)
			if !strings.Contains(reason, "not answered") {
				t.Fatalf("%s: statusReason %q does not say the receiver does not answer", h.name, reason)
			}
			if h.rc != nil && !strings.Contains(reason, "503") {
				t.Fatalf("%s: statusReason %q does not name the answer", h.name, reason)
			}
		}
		for _, h := range hooks {
			if h.up {
				continue
			}
			disabled := h.app.cbwWaitWebhook(t, h.name+" disabled", func(wh map[string]any) bool { return wh["enabled"] == false })
			if d := time.Since(start); d < cbwDisableAfter {
				t.Fatalf("%s: disabled after %v, before HealthDisableAfter %v", h.name, d, cbwDisableAfter)
			}
			if reason, _ := disabled["statusReason"].(string); !strings.Contains(reason, "not answered") {
				t.Fatalf("%s: a disabled webhook's statusReason %q", h.name, reason)
			}
			if disabled["url"] != h.url {
				t.Fatalf("%s: disabling changed the url: %v", h.name, disabled)
			}
		}
		if time.Since(start) < cbwDisableAfter+2*cbwHealthInterval {
			time.Sleep(cbwDisableAfter + 2*cbwHealthInterval - time.Since(start))
		}
		for _, h := range hooks {
			if !h.up {
				continue
			}
			wh := h.app.cbwWebhook(t)
			if wh["enabled"] != true || wh["statusReason"] != nil {
				t.Fatalf("%s: a receiver that answers the check is reported: %v", h.name, wh)
			}
			if n := h.rc.challengeCount(); n < 2 {
				t.Fatalf("%s: checked %d times in %v", h.name, n, time.Since(start))
			}
		}

		// Re-subscribing enables the webhook again, without the report.
		failing.scriptVerify(func(string) (int, string) { return 200, `{"status":"ok"}` })
		for _, h := range hooks {
			if h.up {
				continue
			}
			url := h.url
			if h.rc == nil {
				url = up.URL
			}
			res := h.app.cbwSubscribe(t, 200, url, "contact_created")
			wh := obj(t, res["webhook"])
			if wh["enabled"] != true || wh["statusReason"] != nil || wh["url"] != url {
				t.Fatalf("%s: re-subscribing gives %v", h.name, wh)
			}
			wantJSON(t, h.name+" after re-subscribing", h.app.cbwWebhook(t), wh)
		}
		// ...and, now that they answer, they stay enabled.
		time.Sleep(cbwWarnAfter + 2*cbwHealthInterval)
		for _, h := range hooks {
			if wh := h.app.cbwWebhook(t); wh["enabled"] != true || wh["statusReason"] != nil {
				t.Fatalf("%s: after re-subscribing to a receiver that answers: %v", h.name, wh)
			}
		}
	})
}

func TestCallbellDisabledWebhookKeepsDeliveries(t *testing.T) {
	t.Parallel()
	cbwForEachEngine(t, []apiOption{cbwFastHealth}, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		// Callbell's success is an answer of 200 (webhooks_api/events.md).
		rc.script(func(*hit) reply { return reply{Status: 200} })
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		a.cbwSubscribe(t, 201, closedURL(t), "contact_created", "message_created")
		var list []map[string]any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 1 {
			t.Fatalf("webhooks: %v", list)
		}
		id := localID(list[0]["id"])
		a.cbwWaitWebhook(t, "disabled", func(wh map[string]any) bool { return wh["enabled"] == false })

		// Events while it is disabled wait for it.
		a.v1tDo("POST", "/messages/send", a.withTemplate(t, withKey(v1tSendBody(), "content", map[string]any{"text": "while disabled"}))).must(t, 201)
		a.waitDeliveries(t, id, "pending", 2)
		time.Sleep(200 * time.Millisecond)
		if ds := a.deliveries(t, id, ""); len(ds) != 2 || ds[0]["attempts"] != 0.0 || ds[1]["attempts"] != 0.0 {
			t.Fatalf("a disabled webhook's deliveries were attempted: %v", ds)
		}
		if log, _ := a.cbwLog(t, ""); len(log) != 0 {
			t.Fatalf("a disabled webhook's log: %v", log)
		}

		// Re-subscribed to a receiver that answers, it delivers them, in
		// order.
		a.cbwSubscribe(t, 200, rc.URL, "contact_created", "message_created")
		hits := rc.waitAccepted(t, 2)
		rc.quiet(t, 2, 300*time.Millisecond)
		if names := cbwEventNames(hits); !slices.Equal(names, []string{"contact_created", "message_created"}) {
			t.Fatalf("delivered %v after re-subscribing, want contact_created then message_created", names)
		}
		if p := obj(t, hits[1].payload(t)["payload"]); p["text"] != "while disabled" {
			t.Fatalf("message_created payload: %v", p)
		}
		a.waitDeliveries(t, id, "delivered", 2)
		if log, _ := a.cbwLog(t, "?status=success"); len(log) != 2 {
			t.Fatalf("the log lists %d successes, want 2", len(log))
		}
		if wh := a.cbwWebhook(t); wh["enabled"] != true || wh["statusReason"] != nil {
			t.Fatalf("the re-subscribed webhook: %v", wh)
		}
	})
}
