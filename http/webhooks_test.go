package http_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald"
)

// Integration tests of webhook delivery: the management API, verification,
// event selection, headers and signatures, retries, ordering, the delivery
// log, resending and replaying, and isolation between apps. Each test drives
// a real engine against loopback receivers (receiver_test.go).

var layerEventTypes = []string{"message.sent", "message.delivered", "message.read", "message.deleted",
	"conversation.created", "conversation.updated.participants", "conversation.updated.metadata", "conversation.deleted"}

var webhookKeys = []string{"id", "url", "format", "version", "target_url", "events", "status", "created_at", "config",
	"retry_schedule", "timeout_seconds"}

var deliveryKeys = []string{"id", "event_id", "event_type", "status", "attempts", "next_attempt_at",
	"last_status_code", "last_error", "created_at", "delivered_at"}

var attemptKeys = []string{"started_at", "duration_ms", "status_code", "response_headers", "response_body", "error"}

const testSecret = "s3cret"

// hookBody is a registration for target with short retries, so that tests
// see retries and exhaustion in well under a second.
func hookBody(target string, events ...string) map[string]any {
	return map[string]any{"version": "1.0", "target_url": target, "events": events, "secret": testSecret,
		"config": map[string]any{"name": "test hook"}, "retry_schedule": []float64{0.05, 0.1, 0.2}, "timeout_seconds": 2}
}

// with returns a copy of m with the given key set (or removed, for nil).
func withKey(m map[string]any, key string, v any) map[string]any {
	out := without(m, key)
	if v != nil {
		out[key] = v
	}
	return out
}

// createWebhook registers a webhook and returns the creation response.
func (a *api) createWebhook(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	return a.do("POST", "/webhooks", body).must(t, 201).Map(t)
}

// verifiedWebhook registers a webhook, waits until it is verified and returns
// the creation response (the one with signing_secret).
func (a *api) verifiedWebhook(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	wh := a.createWebhook(t, body)
	a.waitWebhook(t, localID(wh["id"]), "active")
	return wh
}

func (a *api) webhook(t *testing.T, id string) map[string]any {
	t.Helper()
	return a.do("GET", "/webhooks/"+id, nil).must(t, 200).Map(t)
}

// waitWebhook waits until the webhook has the status and returns it.
func (a *api) waitWebhook(t *testing.T, id, status string) map[string]any {
	t.Helper()
	var wh map[string]any
	eventually(t, func() bool {
		wh = a.webhook(t, id)
		return wh["status"] == status
	}, "webhook %s to become %s", id, status)
	return wh
}

// deliveries lists a webhook's deliveries of a status ("" for all).
func (a *api) deliveries(t *testing.T, id, status string) []map[string]any {
	t.Helper()
	path := "/webhooks/" + id + "/deliveries?page_size=500"
	if status != "" {
		path += "&status=" + status
	}
	var list []map[string]any
	a.do("GET", path, nil).must(t, 200).JSON(t, &list)
	return list
}

// waitDeliveries waits until the webhook has exactly n deliveries of the
// status and returns them.
func (a *api) waitDeliveries(t *testing.T, id, status string, n int) []map[string]any {
	t.Helper()
	var list []map[string]any
	eventually(t, func() bool {
		list = a.deliveries(t, id, status)
		return len(list) == n
	}, "webhook %s to have %d %q deliveries (has %d)", id, n, status, func() int { return len(list) })
	return list
}

func (a *api) delivery(t *testing.T, webhookID, id string) map[string]any {
	t.Helper()
	return a.do("GET", "/webhooks/"+webhookID+"/deliveries/"+id, nil).must(t, 200).Map(t)
}

// sign is Layer's signature, computed here independently of the layer package.
func layerSignature(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// checkHeaders checks a delivery's headers against its webhook (as created:
// with signing_secret) and its body: Layer's headers and signature, and a
// Standard Webhooks signature that the reference library accepts.
func checkHeaders(t *testing.T, h *hit, wh map[string]any, secret string) {
	t.Helper()
	version := wh["version"].(string)
	var p struct {
		Event struct{ Type string }
	}
	if err := json.Unmarshal(h.Body, &p); err != nil {
		t.Fatalf("delivery body: %v: %s", err, h.Body)
	}
	for name, want := range map[string]string{
		"layer-webhook-event-type": p.Event.Type,
		"layer-webhook-signature":  layerSignature(secret, h.Body),
		"layer-webhook-id":         localID(wh["id"]),
		"user-agent":               "layer-webhooks/" + version,
		"content-type":             "application/vnd.layer.webhooks+json; version=" + version,
	} {
		if got := h.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Fatalf("header %s: %q, want %q; body %s", name, got, want, h.Body)
		}
	}
	if _, err := uuid.Parse(h.requestID()); err != nil {
		t.Fatalf("layer-webhook-request-id %q is not a UUID", h.requestID())
	}
	swh, err := standardwebhooks.NewWebhook(wh["signing_secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if err := swh.Verify(h.Body, h.Header); err != nil {
		t.Fatalf("Standard Webhooks verification: %v; headers %v", err, h.Header)
	}
	// And a signature with another secret must not verify: the check above
	// is not vacuous.
	other, _ := standardwebhooks.NewWebhook("whsec_" + "c2VjcmV0c2VjcmV0c2VjcmV0")
	if other.Verify(h.Body, h.Header) == nil {
		t.Fatal("the Standard Webhooks signature verifies with any secret")
	}
}

// The management API: create, read (bare and Layer ids), list, deactivate,
// activate, delete, with Layer's webhook object.
func TestWebhookManagement(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		body := hookBody(rc.URL+"/hooks?src=herald", "message.sent", "conversation.created")
		body["version"] = "2.0"
		body["timeout_seconds"] = 2.5
		created := a.createWebhook(t, body)
		wantKeys(t, "created webhook", created, append(webhookKeys, "signing_secret")...)
		id := wantUUID(t, created["id"], "layer:///apps/"+a.AppID+"/webhooks/")
		if s, _ := created["signing_secret"].(string); !strings.HasPrefix(s, "whsec_") || len(s) < len("whsec_")+20 {
			t.Fatalf("signing_secret %q", created["signing_secret"])
		}
		a.wantNow(t, created["created_at"])
		wantJSON(t, "created webhook", without(created, "signing_secret", "created_at"), map[string]any{
			"id":              "layer:///apps/" + a.AppID + "/webhooks/" + id,
			"url":             a.URL + "/apps/" + a.AppID + "/webhooks/" + id,
			"format":          "layer",
			"version":         "2.0",
			"target_url":      rc.URL + "/hooks?src=herald",
			"events":          []string{"message.sent", "conversation.created"},
			"status":          "unverified",
			"config":          map[string]any{"name": "test hook"},
			"retry_schedule":  []float64{0.05, 0.1, 0.2},
			"timeout_seconds": 2.5,
		})

		// Defaults: Layer's retry schedule, a 5 s timeout, version 1.0.
		dflt := a.createWebhook(t, withKey(withKey(withKey(hookBody(rc.URL, "message.read"), "retry_schedule", nil), "timeout_seconds", nil), "version", nil))
		wantJSON(t, "default retry_schedule", dflt["retry_schedule"], []float64{10, 30, 120, 300, 1200})
		wantJSON(t, "default timeout_seconds", dflt["timeout_seconds"], 5)
		wantJSON(t, "default version", dflt["version"], "1.0")
		if dflt["signing_secret"] == created["signing_secret"] {
			t.Fatal("two webhooks share a signing secret")
		}
		dfltID := localID(dflt["id"])

		// Verified: the same object, active, and never the signing secret again.
		want := withKey(without(created, "signing_secret"), "status", "active")
		got := a.waitWebhook(t, id, "active")
		wantJSON(t, "webhook", got, want)
		wantJSON(t, "webhook by Layer id", a.webhook(t, esc(created["id"].(string))), want)
		wantJSON(t, "webhook by url", a.do("GET", created["url"].(string), nil).must(t, 200).Map(t), want)
		a.waitWebhook(t, dfltID, "active")
		var list []map[string]any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 2 {
			t.Fatalf("list: %v", list)
		}
		for _, w := range list {
			wantKeys(t, "listed webhook", w, webhookKeys...)
			if w["id"] == created["id"] {
				wantJSON(t, "listed webhook", w, want)
			} else if w["id"] != dflt["id"] {
				t.Fatalf("listed webhook %v", w["id"])
			}
		}

		// Deactivate: inactive, with Layer's reason.
		res := a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200).Map(t)
		want = withKey(withKey(want, "status", "inactive"), "status_reason", "Deactivated by User")
		wantJSON(t, "deactivated webhook", res, want)
		wantJSON(t, "deactivated webhook", a.webhook(t, id), want)

		// Activate: unverified, then verified again (a second challenge).
		before := rc.challengeCount()
		res = a.do("POST", "/webhooks/"+esc(created["id"].(string))+"/activate", nil).must(t, 200).Map(t)
		wantJSON(t, "activated webhook", res, withKey(without(want, "status_reason"), "status", "unverified"))
		wantJSON(t, "reactivated webhook", a.waitWebhook(t, id, "active"), withKey(without(want, "status_reason"), "status", "active"))
		if rc.challengeCount() != before+1 {
			t.Fatalf("activation sent %d challenges, want 1", rc.challengeCount()-before)
		}

		// Delete.
		res2 := a.do("DELETE", "/webhooks/"+id, nil).must(t, 204)
		if len(res2.Body) != 0 {
			t.Fatalf("204 with body %q", res2.Body)
		}
		for _, r := range []struct{ method, path string }{
			{"GET", "/webhooks/" + id}, {"DELETE", "/webhooks/" + id}, {"POST", "/webhooks/" + id + "/activate"},
			{"POST", "/webhooks/" + id + "/deactivate"}, {"GET", "/webhooks/" + id + "/deliveries"},
			{"GET", "/webhooks/" + uuid.NewString()},
		} {
			a.do(r.method, r.path, nil).wantError(t, 404, "not_found", "")
		}
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 1 || list[0]["id"] != dflt["id"] {
			t.Fatalf("list after delete: %v", list)
		}
	})
}

// Invalid registrations are refused with 422 naming the property, and
// register nothing.
func TestWebhookValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ok := hookBody("https://example.com/hook", "message.sent")
		many := make([]float64, 21)
		for i := range many {
			many[i] = 1
		}
		for _, c := range []struct {
			name         string
			body         map[string]any
			id, property string
		}{
			{"unknown event", withKey(ok, "events", []string{"message.sent", "message.exploded"}), "invalid_property", "events[1]"},
			{"Herald-only event", withKey(ok, "events", []string{"announcement.sent"}), "invalid_property", "events[0]"},
			{"per-user deletion", withKey(ok, "events", []string{"message.deleted_for_user"}), "invalid_property", "events[0]"},
			{"no events", withKey(ok, "events", []string{}), "invalid_property", "events"},
			{"events missing", withKey(ok, "events", nil), "missing_property", "events"},
			{"events not a list", withKey(ok, "events", "message.sent"), "invalid_property", "events"},
			{"secret missing", withKey(ok, "secret", nil), "missing_property", "secret"},
			{"secret empty", withKey(ok, "secret", ""), "missing_property", "secret"},
			{"target_url missing", withKey(ok, "target_url", nil), "missing_property", "target_url"},
			{"ftp target_url", withKey(ok, "target_url", "ftp://example.com/hook"), "invalid_property", "target_url"},
			{"relative target_url", withKey(ok, "target_url", "/hook"), "invalid_property", "target_url"},
			{"target_url without host", withKey(ok, "target_url", "http:///hook"), "invalid_property", "target_url"},
			{"target_url not a URL", withKey(ok, "target_url", "not a url"), "invalid_property", "target_url"},
			{"target_url with credentials", withKey(ok, "target_url", "https://u:p@example.com/"), "invalid_property", "target_url"},
			{"version 4.0", withKey(ok, "version", "4.0"), "invalid_property", "version"},
			{"config not an object", withKey(ok, "config", []any{1}), "invalid_property", "config"},
			{"negative retry delay", withKey(ok, "retry_schedule", []float64{0.05, -1}), "invalid_property", "retry_schedule[1]"},
			{"zero retry delay", withKey(ok, "retry_schedule", []float64{0}), "invalid_property", "retry_schedule[0]"},
			{"retry delay over a day", withKey(ok, "retry_schedule", []float64{86401}), "invalid_property", "retry_schedule[0]"},
			{"too many retries", withKey(ok, "retry_schedule", many), "invalid_property", "retry_schedule"},
			{"retry_schedule not a list", withKey(ok, "retry_schedule", "fast"), "invalid_property", "retry_schedule"},
			{"negative timeout", withKey(ok, "timeout_seconds", -1), "invalid_property", "timeout_seconds"},
			{"timeout over the server's limit", withKey(ok, "timeout_seconds", 30.5), "invalid_property", "timeout_seconds"},
			{"timeout not a number", withKey(ok, "timeout_seconds", "5"), "invalid_property", "timeout_seconds"},
		} {
			t.Run(c.name, func(t *testing.T) {
				a.in(t).do("POST", "/webhooks", c.body).wantError(t, 422, c.id, c.property)
			})
		}
		var list []any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if list == nil || len(list) != 0 {
			t.Fatalf("refused registrations registered webhooks: %v", list)
		}
		// The limits themselves are fine.
		a.createWebhook(t, withKey(withKey(ok, "retry_schedule", many[:20]), "timeout_seconds", 30))
		a.createWebhook(t, withKey(ok, "target_url", "http://127.0.0.1:1/hook"))
	})
}

// Verification: a GET with a random challenge that must be echoed with a
// 2xx; anything else leaves the webhook inactive with the reason, and no
// event flows to a webhook until it is verified.
func TestWebhookVerification(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")

		// Echoed: active, each webhook with its own challenge.
		good := newReceiver(t)
		a.verifiedWebhook(t, hookBody(good.URL, "message.sent"))
		a.verifiedWebhook(t, hookBody(good.URL, "message.read"))
		good.mu.Lock()
		challenges := slices.Clone(good.challenges)
		good.mu.Unlock()
		if len(challenges) != 2 || len(challenges[0]) < 16 || challenges[0] == challenges[1] {
			t.Fatalf("challenges %q: want two different random values", challenges)
		}

		for _, c := range []struct {
			name   string
			verify func(string) (int, string)
			reason string
		}{
			{"wrong echo", func(string) (int, string) { return 200, "hello" }, "verification_challenge"},
			{"empty answer", func(string) (int, string) { return 204, "" }, "verification_challenge"},
			{"error status", func(c string) (int, string) { return 404, c }, "404"},
			{"redirect", func(c string) (int, string) { return 302, c }, "302"},
		} {
			t.Run(c.name, func(t *testing.T) {
				a := a.in(t)
				rc := newReceiver(t)
				rc.scriptVerify(c.verify)
				wh := a.createWebhook(t, hookBody(rc.URL, "message.sent"))
				id := localID(wh["id"])
				got := a.waitWebhook(t, id, "inactive")
				if r, _ := got["status_reason"].(string); !strings.Contains(r, c.reason) {
					t.Fatalf("status_reason %q does not mention %q", r, c.reason)
				}

				// Events wait for the webhook...
				a.sendText(t, conv, "alice", "while "+c.name)
				d := a.waitDeliveries(t, id, "pending", 1)[0]
				if d["attempts"] != 0.0 {
					t.Fatalf("delivery of an inactive webhook: %v", d)
				}
				rc.quiet(t, 0, 250*time.Millisecond)

				// ...and flow once it is verified.
				rc.scriptVerify(nil)
				a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
				got = a.waitWebhook(t, id, "active")
				if _, ok := got["status_reason"]; ok {
					t.Fatalf("active webhook with status_reason: %v", got)
				}
				h := rc.waitAccepted(t, 1)[0]
				if h.text() != "while "+c.name {
					t.Fatalf("delivered %s", h.Body)
				}
				checkHeaders(t, h, wh, testSecret)
				if rc.challengeCount() != 2 {
					t.Fatalf("%d challenges, want 2", rc.challengeCount())
				}
			})
		}

		t.Run("unreachable", func(t *testing.T) {
			a := a.in(t)
			wh := a.createWebhook(t, hookBody(closedURL(t), "message.sent"))
			got := a.waitWebhook(t, localID(wh["id"]), "inactive")
			if r, _ := got["status_reason"].(string); !strings.Contains(r, "Verification failed") {
				t.Fatalf("status_reason %q", r)
			}
		})

		// Unverified: events wait while the challenge is unanswered.
		t.Run("slow verification", func(t *testing.T) {
			a := a.in(t)
			rc := newReceiver(t)
			release := make(chan struct{})
			rc.scriptVerify(func(c string) (int, string) {
				select {
				case <-release:
				case <-rc.done:
				}
				return 200, c
			})
			wh := a.createWebhook(t, hookBody(rc.URL, "message.sent"))
			id := localID(wh["id"])
			eventually(t, func() bool { return rc.challengeCount() == 1 }, "the challenge")
			a.sendText(t, conv, "bob", "early")
			a.waitDeliveries(t, id, "pending", 1)
			rc.quiet(t, 0, 250*time.Millisecond)
			if s := a.webhook(t, id)["status"]; s != "unverified" {
				t.Fatalf("status %v while the challenge is unanswered", s)
			}
			close(release)
			a.waitWebhook(t, id, "active")
			if h := rc.waitAccepted(t, 1)[0]; h.text() != "early" {
				t.Fatalf("delivered %s", h.Body)
			}
		})
	})
}

// A deactivated webhook gets nothing; its events wait and flow, in order,
// when it is activated again.
func TestWebhookDeactivatedEventsWait(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "zero") // before the webhook: never sent
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		a.sendText(t, conv, "alice", "one")
		rc.waitAccepted(t, 1)

		a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200)
		for _, s := range []string{"two", "three", "four"} {
			a.sendText(t, conv, "alice", s)
		}
		a.waitDeliveries(t, id, "pending", 3)
		rc.quiet(t, 1, 300*time.Millisecond)

		a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
		hits := rc.waitAccepted(t, 4)
		var texts []string
		for _, h := range hits {
			texts = append(texts, h.text())
			checkHeaders(t, h, wh, testSecret)
		}
		wantJSON(t, "delivered in order", texts, []string{"one", "two", "three", "four"})
		a.waitDeliveries(t, id, "delivered", 4)
		rc.quiet(t, 4, 100*time.Millisecond)
	})
}

// A webhook gets exactly the event types it subscribed to: no message.sent
// for announcements, message.deleted for global deletion only.
func TestWebhookEventSelection(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		every, onlySent := newReceiver(t), newReceiver(t)
		whAll := a.verifiedWebhook(t, hookBody(every.URL, layerEventTypes...))
		sentBody := hookBody(onlySent.URL, "message.sent")
		sentBody["version"] = "2.0"
		whSent := a.verifiedWebhook(t, sentBody)

		mark := a.eventMark()
		conv := a.newConversation(t, "alice", "bob")
		m1 := localID(a.sendText(t, conv, "alice", "one")["id"])
		a.do("POST", "/users/bob/messages/"+m1+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		a.do("POST", "/users/bob/messages/"+m1+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		a.do("PATCH", "/conversations/"+conv, []any{patch("add", "participants", "carol")}).must(t, 204)
		a.do("PATCH", "/conversations/"+conv, []any{patch("set", "metadata.title", "Plans")}).must(t, 204)
		a.announce(t, "maintenance tonight", "alice", "bob")
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)
		a.do("DELETE", "/users/bob/messages/"+m1+"?mode=my_devices", nil).must(t, 204)
		m2 := localID(a.sendText(t, conv, "bob", "two")["id"])
		a.do("DELETE", "/messages/"+m1, nil).must(t, 204)
		a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)

		evs := a.wantEvents(t, mark, "conversation.created", "message.sent", "message.delivered", "message.read",
			"conversation.updated.participants", "conversation.updated.metadata", "announcement.sent",
			"identity.created", "message.deleted_for_user", "message.sent", "message.deleted", "conversation.deleted")
		var wantIDs, wantTypes, sentIDs []string
		for _, e := range evs {
			typ := e["type"].(string)
			if slices.Contains(layerEventTypes, typ) {
				wantIDs, wantTypes = append(wantIDs, e["id"].(string)), append(wantTypes, typ)
			}
			if typ == "message.sent" {
				sentIDs = append(sentIDs, e["id"].(string))
			}
		}

		// Everything about one conversation: all of it arrives, in order.
		hits := every.waitAccepted(t, len(wantTypes))
		var gotIDs, gotTypes []string
		for _, h := range hits {
			checkHeaders(t, h, whAll, testSecret)
			gotIDs, gotTypes = append(gotIDs, h.eventID()), append(gotTypes, h.eventType())
		}
		wantJSON(t, "event types delivered", gotTypes, wantTypes)
		wantJSON(t, "events delivered", gotIDs, wantIDs)
		if p := hits[len(hits)-2].payload(t); obj(t, p["message"])["id"] != "layer:///messages/"+m1 {
			t.Fatalf("message.deleted is about %v, want m1", p["message"])
		}
		hits = onlySent.waitAccepted(t, 2)
		var sent []string
		for _, h := range hits {
			checkHeaders(t, h, whSent, testSecret)
			sent = append(sent, h.messageID())
			if h.eventType() != "message.sent" {
				t.Fatalf("a message.sent webhook got %s", h.eventType())
			}
		}
		wantJSON(t, "messages sent", sent, []string{"layer:///messages/" + m1, "layer:///messages/" + m2})

		// The delivery logs are complete (the last event is delivered, and
		// events become deliveries in order): nothing else was queued.
		for _, c := range []struct {
			wh   map[string]any
			want []string
		}{{whAll, wantIDs}, {whSent, sentIDs}} {
			var logged []string
			for _, d := range a.deliveries(t, localID(c.wh["id"]), "") {
				logged = append(logged, d["event_id"].(string))
			}
			wantJSON(t, "logged events", slices.Sorted(slices.Values(logged)), slices.Sorted(slices.Values(c.want)))
		}
		every.quiet(t, len(wantTypes), 100*time.Millisecond)
		onlySent.quiet(t, 2, 0)
	})
}

// Every attempt of a delivery carries the same body, request id and
// signatures; failures are retried on the webhook's schedule.
func TestWebhookRetriesSendTheSameRequest(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		var n atomic.Int32
		rc.script(func(h *hit) reply {
			switch n.Add(1) {
			case 1:
				return reply{Status: 500, Body: "boom", Header: map[string]string{"X-Receiver": "sad"}}
			case 2:
				return reply{Status: 302, Header: map[string]string{"Location": "http://example.com/"}}
			}
			return reply{Status: 200, Body: "ok"}
		})
		body := hookBody(rc.URL, "message.sent")
		body["version"], body["secret"] = "2.0", "an0ther secret"
		wh := a.verifiedWebhook(t, body)
		id := localID(wh["id"])
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "hello")

		hits := rc.waitAccepted(t, 1)
		all := rc.all()
		if len(all) != 3 {
			t.Fatalf("%d attempts, want 3", len(all))
		}
		for i, h := range all {
			checkHeaders(t, h, wh, "an0ther secret")
			if !bytes.Equal(h.Body, all[0].Body) {
				t.Fatalf("attempt %d sent another body:\n%s\n%s", i, h.Body, all[0].Body)
			}
			for _, name := range []string{"layer-webhook-request-id", "webhook-id"} {
				if h.Header.Get(name) != all[0].Header.Get(name) {
					t.Fatalf("attempt %d: %s %q, first attempt %q", i, name, h.Header.Get(name), all[0].Header.Get(name))
				}
			}
		}
		// Retries after 0.05 s and 0.1 s, ±20%.
		for i, min := range []time.Duration{40 * time.Millisecond, 80 * time.Millisecond} {
			if gap := all[i+1].At.Sub(all[i].At); gap < min || gap > 3*time.Second {
				t.Fatalf("retry %d came %v after the attempt before, want at least %v", i+1, gap, min)
			}
		}

		// The log has it all.
		ds := a.waitDeliveries(t, id, "delivered", 1)
		d := ds[0]
		wantKeys(t, "delivery", d, deliveryKeys...)
		if d["attempts"] != 3.0 || d["last_status_code"] != 200.0 || d["next_attempt_at"] != nil || d["event_type"] != "message.sent" ||
			d["event_id"] != hits[0].eventID() || d["id"] != hits[0].requestID() {
			t.Fatalf("delivery %v", d)
		}
		a.wantNow(t, d["created_at"])
		a.wantNow(t, d["delivered_at"])
		full := a.delivery(t, id, d["id"].(string))
		wantKeys(t, "delivery", full, append(deliveryKeys, "payload", "attempt_log")...)
		wantJSON(t, "payload", full["payload"], hits[0].payload(t))
		log := arr(t, full["attempt_log"])
		if len(log) != 3 {
			t.Fatalf("attempt_log %v", log)
		}
		var last time.Time
		for i, want := range []struct {
			status int
			body   string
		}{{500, "boom"}, {302, ""}, {200, "ok"}} {
			at := obj(t, log[i])
			wantKeys(t, "attempt", at, attemptKeys...)
			if at["status_code"] != float64(want.status) || at["response_body"] != want.body || at["error"] != "" {
				t.Fatalf("attempt %d: %v", i, at)
			}
			if ms, _ := at["duration_ms"].(float64); ms < 0 || ms > 3000 {
				t.Fatalf("attempt %d: duration_ms %v", i, at["duration_ms"])
			}
			started := a.wantNow(t, at["started_at"])
			if started.Before(last) {
				t.Fatalf("attempt %d started before the one before it", i)
			}
			last = started
		}
		if h := obj(t, obj(t, log[0])["response_headers"]); canon(t, h["X-Receiver"]) != `["sad"]` {
			t.Fatalf("attempt 0 response_headers %v", h)
		}
	})
}

// An attempt that gets no answer within the webhook's timeout fails and is
// retried.
func TestWebhookAttemptTimeout(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		var n atomic.Int32
		rc.script(func(h *hit) reply { return reply{Hang: n.Add(1) == 1} })
		// Verified with the default timeout, which the verification probe
		// takes too: 0.2 s from the start failed it on a loaded machine.
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		if wh = a.do("PATCH", "/webhooks/"+id, map[string]any{"timeout_seconds": 0.2}).must(t, 200).Map(t); wh["status"] != "active" {
			t.Fatalf("after shortening its timeout, the webhook is %v", wh["status"])
		}
		a.sendText(t, a.newConversation(t, "alice", "bob"), "alice", "slow")

		rc.waitAccepted(t, 1)
		all := rc.all()
		if len(all) != 2 {
			t.Fatalf("%d attempts, want 2", len(all))
		}
		if gap := all[1].At.Sub(all[0].At); gap < 200*time.Millisecond {
			t.Fatalf("the retry came %v after the hanging attempt: sooner than the timeout", gap)
		}
		d := a.waitDeliveries(t, id, "delivered", 1)[0]
		log := arr(t, a.delivery(t, id, d["id"].(string))["attempt_log"])
		first := obj(t, log[0])
		if first["status_code"] != 0.0 || !strings.Contains(fmt.Sprint(first["error"]), "no response within") {
			t.Fatalf("timed-out attempt: %v", first)
		}
		if ms := first["duration_ms"].(float64); ms < 190 || ms > 2000 {
			t.Fatalf("timed-out attempt took %v ms, want about 200", ms)
		}
	})
}

// Retry-After on 429 and 503 replaces the schedule's delay, within a bound.
func TestWebhookRetryAfter(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")

		// Honoured: a 1 s wait instead of the schedule's 0.05 s.
		rc := newReceiver(t)
		var n atomic.Int32
		rc.script(func(h *hit) reply {
			if n.Add(1) == 1 {
				return reply{Status: 429, Header: map[string]string{"Retry-After": "1"}}
			}
			return reply{}
		})
		a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))

		// Bounded: a day's wait is cut to the engine's bound (an hour).
		slow := newReceiver(t)
		slow.script(func(h *hit) reply { return reply{Status: 503, Header: map[string]string{"Retry-After": "86400"}} })
		whSlow := a.verifiedWebhook(t, hookBody(slow.URL, "message.sent"))

		a.sendText(t, conv, "alice", "later please")
		slow.waitHits(t, 1)
		var d map[string]any
		eventually(t, func() bool {
			d = a.deliveries(t, localID(whSlow["id"]), "pending")[0]
			return d["attempts"] == 1.0
		}, "the 503 to be recorded")
		next, err := time.Parse(herald.TimeFormat, d["next_attempt_at"].(string))
		if err != nil || d["last_status_code"] != 503.0 {
			t.Fatalf("delivery %v", d)
		}
		if wait := time.Until(next); wait < 55*time.Minute || wait > 61*time.Minute {
			t.Fatalf("Retry-After: 86400 scheduled the retry %v from now, want the 1 h bound", wait)
		}

		rc.waitAccepted(t, 1)
		all := rc.all()
		if len(all) != 2 || all[0].Status != 429 {
			t.Fatalf("%d attempts, want a 429 and its retry", len(all))
		}
		if gap := all[1].At.Sub(all[0].At); gap < 950*time.Millisecond || gap > 3*time.Second {
			t.Fatalf("the retry came %v after a 429 with Retry-After: 1", gap)
		}
		slow.quiet(t, 1, 0)
	})
}

// 410 Gone deactivates the webhook at once; its deliveries are kept and flow
// when it is activated again.
func TestWebhookGoneDeactivates(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		var gone atomic.Bool
		gone.Store(true)
		rc.script(func(h *hit) reply {
			if gone.Load() {
				return reply{Status: 410}
			}
			return reply{}
		})
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "one")

		got := a.waitWebhook(t, id, "inactive")
		if r, _ := got["status_reason"].(string); !strings.Contains(r, "410") {
			t.Fatalf("status_reason %q does not mention 410", r)
		}
		d := a.waitDeliveries(t, id, "failed", 1)[0]
		if d["attempts"] != 1.0 || d["last_status_code"] != 410.0 {
			t.Fatalf("delivery %v: want one attempt, no retry", d)
		}
		a.sendText(t, conv, "alice", "two")
		a.waitDeliveries(t, id, "pending", 1)
		rc.quiet(t, 1, 300*time.Millisecond)

		gone.Store(false)
		a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
		a.waitWebhook(t, id, "active")
		hits := rc.waitAccepted(t, 2)
		wantJSON(t, "delivered", []string{hits[0].text(), hits[1].text()}, []string{"one", "two"})
		if first := rc.all()[0]; hits[0].requestID() != first.requestID() || !bytes.Equal(hits[0].Body, first.Body) {
			t.Fatal("the kept delivery came with another request id or body")
		}
		a.waitDeliveries(t, id, "delivered", 2)
	})
}

// A delivery that exhausts its retries deactivates the webhook with the
// reason; the failed delivery and the ones queued after it are kept, listed,
// and flow again once the webhook is activated and verified.
func TestWebhookExhaustedRetries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		var failing atomic.Bool
		failing.Store(true)
		rc.script(func(h *hit) reply {
			if failing.Load() {
				return reply{Status: 500, Body: "down"}
			}
			return reply{}
		})
		body := hookBody(rc.URL, "message.sent")
		body["retry_schedule"] = []float64{0.05, 0.05}
		wh := a.verifiedWebhook(t, body)
		id := localID(wh["id"])
		convA, convB := a.newConversation(t, "alice", "bob"), a.newConversation(t, "carol", "dave")
		a.sendText(t, convA, "alice", "a1")

		got := a.waitWebhook(t, id, "inactive")
		reason, _ := got["status_reason"].(string)
		if !strings.Contains(reason, "3 times") || !strings.Contains(reason, "HTTP 500") {
			t.Fatalf("status_reason %q: want the attempts and the last answer", reason)
		}
		failed := a.waitDeliveries(t, id, "failed", 1)[0]
		if failed["attempts"] != 3.0 || failed["last_status_code"] != 500.0 || failed["next_attempt_at"] != nil || failed["delivered_at"] != nil {
			t.Fatalf("failed delivery %v", failed)
		}
		if !strings.Contains(reason, failed["id"].(string)) {
			t.Fatalf("status_reason %q does not name the delivery %s", reason, failed["id"])
		}
		all := rc.all()
		if len(all) != 3 {
			t.Fatalf("%d attempts, want 1 + 2 retries", len(all))
		}
		for _, h := range all {
			checkHeaders(t, h, wh, testSecret)
		}

		// Inactive: new events are kept, not sent.
		a.sendText(t, convA, "bob", "a2")
		a.sendText(t, convB, "carol", "b1")
		a.waitDeliveries(t, id, "pending", 2)
		rc.quiet(t, 3, 300*time.Millisecond)
		if len(a.deliveries(t, id, "")) != 3 || len(a.deliveries(t, id, "delivered")) != 0 {
			t.Fatalf("deliveries %v", a.deliveries(t, id, ""))
		}

		failing.Store(false)
		before := rc.challengeCount()
		a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
		hits := rc.waitAccepted(t, 3)
		if rc.challengeCount() != before+1 {
			t.Fatal("activation did not verify again")
		}
		order := map[string]int{}
		for i, h := range hits {
			order[h.text()] = i
		}
		if len(order) != 3 || order["a1"] > order["a2"] {
			t.Fatalf("delivered %v: want a1, a2 (in that order) and b1", order)
		}
		if hits[order["a1"]].requestID() != failed["id"] {
			t.Fatal("the failed delivery came back with another request id")
		}
		a.waitDeliveries(t, id, "delivered", 3)
		if fs := a.deliveries(t, id, "failed"); len(fs) != 0 {
			t.Fatalf("failed deliveries after activation: %v", fs)
		}
		if s := a.webhook(t, id)["status"]; s != "active" {
			t.Fatalf("status %v", s)
		}
	})
}

// A delivery being retried holds back the later deliveries of its
// conversation only: other conversations keep flowing.
func TestWebhookOrderingPerConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		convA, convB := a.newConversation(t, "alice", "bob"), a.newConversation(t, "carol", "dave")
		idA, idB := "layer:///conversations/"+convA, "layer:///conversations/"+convB
		isB := func(h *hit) bool { return h.conversation() == idB && h.Status >= 200 && h.Status < 300 }
		var failures atomic.Int32
		// A's deliveries fail until all of B's arrived (and at least twice).
		rc.script(func(h *hit) reply {
			if h.conversation() == idA && (rc.count(isB) < 3 || failures.Load() < 2) {
				failures.Add(1)
				return reply{Status: 503}
			}
			return reply{}
		})
		body := hookBody(rc.URL, "message.sent")
		body["retry_schedule"] = []float64{0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2}
		wh := a.verifiedWebhook(t, body)
		id := localID(wh["id"])
		for _, s := range []string{"a1", "a2", "a3"} {
			a.sendText(t, convA, "alice", s)
		}
		for _, s := range []string{"b1", "b2", "b3"} {
			a.sendText(t, convB, "carol", s)
		}
		rc.waitAccepted(t, 6)

		var seqA, seqB, okA []string
		for _, h := range rc.all() {
			switch h.conversation() {
			case idA:
				seqA = append(seqA, h.text())
				if h.Status < 300 {
					okA = append(okA, h.text())
				}
			case idB:
				seqB = append(seqB, h.text())
			}
		}
		// A: a1 until it succeeds, nothing of A meanwhile; then a2, a3.
		n := int(failures.Load())
		if n < 2 {
			t.Fatalf("a1 failed %d times", n)
		}
		wantA := append(slices.Repeat([]string{"a1"}, n), "a1", "a2", "a3")
		wantJSON(t, "A's attempts", seqA, wantA)
		wantJSON(t, "A's deliveries", okA, []string{"a1", "a2", "a3"})
		wantJSON(t, "B's deliveries", seqB, []string{"b1", "b2", "b3"})
		// B flowed while A's first delivery was being retried: the script
		// lets a1 through only once all of B was accepted, so had B waited
		// for A, a1 would have exhausted its retries instead.
		for _, h := range rc.all() {
			checkHeaders(t, h, wh, testSecret)
		}
		a.waitDeliveries(t, id, "delivered", 6)
		if s := a.webhook(t, id)["status"]; s != "active" {
			t.Fatalf("status %v", s)
		}
	})
}

// Busy conversations whose receiver is slow and fails now and then: the
// deliveries queued behind each other go out one after the other on each
// 2xx, a failed one holds back the rest of its conversation until its
// retry succeeds, and the first 2xx of each message come in the order the
// messages were sent, every one of them.
func TestWebhookOrderingInBusyConversationsWithFailures(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		convs := []string{a.newConversation(t, "alice", "bob"), a.newConversation(t, "alice", "carol")}
		// m4, m13, m22, … fail once; m7, m20, m33, … twice.
		failures := func(text string) int {
			var i int
			fmt.Sscanf(text, "m%d", &i)
			switch {
			case i%13 == 7:
				return 2
			case i%9 == 4:
				return 1
			}
			return 0
		}
		rc.script(func(h *hit) reply {
			// Slow enough that the messages sent meanwhile queue up.
			time.Sleep(2 * time.Millisecond)
			if rc.count(func(x *hit) bool { return x.text() == h.text() }) <= failures(h.text()) {
				return reply{Status: 500}
			}
			return reply{}
		})
		body := hookBody(rc.URL, "message.sent")
		body["retry_schedule"] = []float64{0.02, 0.05, 0.1, 0.2, 0.4, 0.8}
		wh := a.verifiedWebhook(t, body)
		const messages = 60
		want := map[string][]string{}
		wantAttempts := 0
		for i := range messages {
			conv := convs[i%len(convs)]
			text := fmt.Sprintf("m%d", i)
			a.sendText(t, conv, "alice", text)
			want["layer:///conversations/"+conv] = append(want["layer:///conversations/"+conv], text)
			wantAttempts += 1 + failures(text)
		}
		rc.waitAccepted(t, messages)

		got := map[string][]string{}
		seen := map[string]bool{}
		for _, h := range rc.accepted() {
			if !seen[h.text()] {
				seen[h.text()] = true
				got[h.conversation()] = append(got[h.conversation()], h.text())
			}
		}
		for conv, texts := range want {
			wantJSON(t, "first 2xx of "+conv, got[conv], texts)
		}
		if n := rc.count(nil); n != wantAttempts {
			t.Errorf("%d attempts, want %d: one per message and one per failure", n, wantAttempts)
		}
		a.waitDeliveries(t, localID(wh["id"]), "delivered", messages)
	})
}

// The delivery log: listing by status, one delivery with its payload and
// attempts, response bodies cut at 16 KiB.
func TestWebhookDeliveryLog(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		big := strings.Repeat("x", 20000)
		var hang atomic.Bool
		rc.script(func(h *hit) reply {
			switch {
			case h.text() == "big" && rc.count(func(x *hit) bool { return x.text() == "big" }) == 1:
				return reply{Status: 500, Body: big}
			case h.text() == "stuck":
				return reply{Status: 500, Body: "not now"}
			case h.text() == "held" && hang.Load():
				return reply{Hang: true}
			}
			return reply{Status: 200, Body: `{"ok":true}`, Header: map[string]string{"Content-Type": "application/json"}}
		})
		body := hookBody(rc.URL, "message.sent")
		body["retry_schedule"] = []float64{0.05, 60}
		wh := a.verifiedWebhook(t, body)
		id := localID(wh["id"])
		conv := a.newConversation(t, "alice", "bob")
		other := a.newConversation(t, "carol", "dave")
		a.sendText(t, conv, "alice", "big")
		a.sendText(t, other, "carol", "stuck")

		// "big" is delivered on its second attempt; "stuck" fails its first
		// two and waits a minute for its third.
		rc.waitAccepted(t, 1)
		delivered := a.waitDeliveries(t, id, "delivered", 1)[0]
		var pending map[string]any
		eventually(t, func() bool {
			ps := a.deliveries(t, id, "pending")
			if len(ps) == 1 && ps[0]["attempts"] == 2.0 {
				pending = ps[0]
			}
			return pending != nil
		}, "two attempts of the stuck delivery")
		wantKeys(t, "pending delivery", pending, deliveryKeys...)
		if pending["last_status_code"] != 500.0 || pending["delivered_at"] != nil {
			t.Fatalf("pending delivery %v", pending)
		}
		next, err := time.Parse(herald.TimeFormat, fmt.Sprint(pending["next_attempt_at"]))
		if wait := time.Until(next); err != nil || wait < 40*time.Second || wait > 73*time.Second {
			t.Fatalf("next_attempt_at %v: want about a minute from now", pending["next_attempt_at"])
		}
		wantJSON(t, "failed", a.deliveries(t, id, "failed"), []any{})
		list := a.deliveries(t, id, "")
		if len(list) != 2 {
			t.Fatalf("log %v", list)
		}
		// Newest first.
		wantJSON(t, "log order", []any{list[0]["id"], list[1]["id"]}, []any{pending["id"], delivered["id"]})
		a.do("GET", "/webhooks/"+id+"/deliveries?status=lost", nil).wantError(t, 422, "invalid_property", "status")

		// Paging.
		res := a.do("GET", "/webhooks/"+id+"/deliveries?page_size=1", nil).must(t, 200)
		var page []map[string]any
		res.JSON(t, &page)
		if len(page) != 1 || page[0]["id"] != pending["id"] || !strings.Contains(res.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("first page %v, Link %q", page, res.Header.Get("Link"))
		}
		a.do("GET", "/webhooks/"+id+"/deliveries?page_size=1&from_id="+pending["id"].(string), nil).must(t, 200).JSON(t, &page)
		if len(page) != 1 || page[0]["id"] != delivered["id"] {
			t.Fatalf("second page %v", page)
		}

		// One delivery: payload and attempts, the response body cut.
		full := a.delivery(t, id, delivered["id"].(string))
		wantKeys(t, "delivery", full, append(deliveryKeys, "payload", "attempt_log")...)
		wantJSON(t, "delivery", without(full, "payload", "attempt_log"), delivered)
		var bigHit *hit
		for _, h := range rc.all() {
			if h.text() == "big" {
				bigHit = h
			}
		}
		wantJSON(t, "payload", full["payload"], bigHit.payload(t))
		log := arr(t, full["attempt_log"])
		if len(log) != 2 {
			t.Fatalf("attempt_log %v", log)
		}
		if b := obj(t, log[0])["response_body"].(string); b != big[:16<<10] {
			t.Fatalf("response_body of %d bytes, want the first 16 KiB", len(b))
		}
		if second := obj(t, log[1]); second["response_body"] != `{"ok":true}` || second["status_code"] != 200.0 ||
			canon(t, obj(t, second["response_headers"])["Content-Type"]) != `["application/json"]` {
			t.Fatalf("second attempt %v", second)
		}

		// An attempt in flight is pending, with no attempt logged yet.
		hang.Store(true)
		a.sendText(t, conv, "bob", "held")
		rc.waitHits(t, 5)
		held := a.waitDeliveries(t, id, "pending", 2)[0]
		wantJSON(t, "attempts in flight", a.delivery(t, id, held["id"].(string))["attempt_log"], nil)

		// Another webhook's deliveries are not this one's.
		rc2 := newReceiver(t)
		wh2 := a.verifiedWebhook(t, hookBody(rc2.URL, "message.sent"))
		a.do("GET", "/webhooks/"+localID(wh2["id"])+"/deliveries/"+delivered["id"].(string), nil).wantError(t, 404, "not_found", "")
		a.do("POST", "/webhooks/"+localID(wh2["id"])+"/deliveries/"+delivered["id"].(string)+"/resend", nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/webhooks/"+id+"/deliveries/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
	})
}

// Resend queues a delivery again: the same request id and body arrive.
func TestWebhookResend(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "again")
		first := rc.waitAccepted(t, 1)[0]
		d := a.waitDeliveries(t, id, "delivered", 1)[0]

		res := a.do("POST", "/webhooks/"+id+"/deliveries/"+d["id"].(string)+"/resend", nil).must(t, 202).Map(t)
		wantKeys(t, "resent delivery", res, deliveryKeys...)
		if res["id"] != d["id"] || res["status"] != "pending" || res["delivered_at"] != nil {
			t.Fatalf("resend answered %v", res)
		}
		second := rc.waitAccepted(t, 2)[1]
		if !bytes.Equal(second.Body, first.Body) || second.requestID() != first.requestID() ||
			second.Header.Get("webhook-id") != first.Header.Get("webhook-id") {
			t.Fatalf("resent request differs:\n%v %s\n%v %s", first.Header, first.Body, second.Header, second.Body)
		}
		checkHeaders(t, second, wh, testSecret)
		a.waitDeliveries(t, id, "delivered", 1)
		full := a.delivery(t, id, d["id"].(string))
		if n := len(arr(t, full["attempt_log"])); n != 2 {
			t.Fatalf("%d attempts logged, want 2", n)
		}

		// A queued delivery is not queued twice.
		a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200)
		a.sendText(t, conv, "alice", "queued")
		p := a.waitDeliveries(t, id, "pending", 1)[0]
		a.do("POST", "/webhooks/"+id+"/deliveries/"+p["id"].(string)+"/resend", nil).wantError(t, 409, "conflict", "")
		a.do("POST", "/webhooks/"+id+"/deliveries/"+uuid.NewString()+"/resend", nil).wantError(t, 404, "not_found", "")
		rc.quiet(t, 2, 100*time.Millisecond)
	})
}

// Replay queues the events of a window again, as new deliveries: the same
// events (by event.id) arrive again, and only those.
func TestWebhookReplay(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "before")
		since := time.Now()
		a.newConversation(t, "carol", "dave") // not subscribed: not replayed
		a.sendText(t, conv, "alice", "in 1")
		a.sendText(t, conv, "bob", "in 2")
		until := time.Now()
		a.sendText(t, conv, "alice", "after")
		orig := rc.waitAccepted(t, 4)
		// Received is not yet recorded: until it is, a delivery is still
		// queued, and a replay does not queue its event again.
		a.waitDeliveries(t, id, "delivered", 4)

		res := a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": since, "until": until}).must(t, 202).Map(t)
		wantJSON(t, "replay", res, map[string]any{"queued": 2, "already_queued": 0})
		hits := rc.waitAccepted(t, 6)[4:]
		for i, h := range hits {
			checkHeaders(t, h, wh, testSecret)
			if h.eventID() != orig[i+1].eventID() || h.text() != orig[i+1].text() {
				t.Fatalf("replayed %s (%s), want %s (%s)", h.eventID(), h.text(), orig[i+1].eventID(), orig[i+1].text())
			}
		}
		a.waitDeliveries(t, id, "delivered", 6)

		// Until defaults to now.
		res = a.do("POST", "/webhooks/"+esc(wh["id"].(string))+"/replay", map[string]any{"since": until}).must(t, 202).Map(t)
		wantJSON(t, "replay to now", res, map[string]any{"queued": 1, "already_queued": 0})
		if h := rc.waitAccepted(t, 7)[6]; h.eventID() != orig[3].eventID() {
			t.Fatalf("replayed %s", h.Body)
		}
		rc.quiet(t, 7, 100*time.Millisecond)

		a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"until": until}).wantError(t, 422, "missing_property", "since")
		a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": until, "until": since}).wantError(t, 422, "invalid_property", "until")
		a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": "yesterday"}).wantError(t, 422, "invalid_property", "since")
		a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": 5}).wantError(t, 422, "invalid_property", "since")
		a.do("POST", "/webhooks/"+id+"/replay", map[string]any{"since": since, "until": "soon"}).wantError(t, 422, "invalid_property", "until")
		a.do("POST", "/webhooks/"+uuid.NewString()+"/replay", map[string]any{"since": since}).wantError(t, 404, "not_found", "")
	})
}

// Another app's token can neither see nor change a webhook, and an app's
// events reach its own webhooks only.
func TestWebhookAppIsolation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rcA, rcB := newReceiver(t), newReceiver(t)
		whA := a.verifiedWebhook(t, hookBody(rcA.URL, "message.sent"))
		idA := localID(whA["id"])
		appB, tokenB := a.newApp("b")
		b := &api{t: t, URL: a.URL, AppID: appB, Token: tokenB}
		whB := b.verifiedWebhook(t, hookBody(rcB.URL, "message.sent"))

		convA := a.newConversation(t, "alice", "bob")
		a.sendText(t, convA, "alice", "for A")
		dA := a.waitDeliveries(t, idA, "delivered", 1)[0]["id"].(string)

		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/webhooks/" + idA, nil},
			{"GET", "/webhooks/" + esc(whA["id"].(string)), nil},
			{"POST", "/webhooks/" + idA + "/activate", nil},
			{"POST", "/webhooks/" + idA + "/deactivate", nil},
			{"DELETE", "/webhooks/" + idA, nil},
			{"GET", "/webhooks/" + idA + "/deliveries", nil},
			{"GET", "/webhooks/" + idA + "/deliveries/" + dA, nil},
			{"POST", "/webhooks/" + idA + "/deliveries/" + dA + "/resend", nil},
			{"POST", "/webhooks/" + idA + "/replay", map[string]any{"since": time.Now().Add(-time.Hour)}},
			{"GET", "/webhooks/" + localID(whB["id"]) + "/deliveries/" + dA, nil},
		} {
			// B's token on B's paths with A's ids, and on A's paths.
			b.do(r.method, r.path, r.body).wantError(t, 404, "not_found", "")
			b.do(r.method, a.URL+"/apps/"+a.AppID+r.path, r.body).wantError(t, 404, "not_found", "")
		}
		b.do("GET", a.URL+"/apps/"+a.AppID+"/webhooks", nil).wantError(t, 404, "not_found", "")
		b.do("POST", a.URL+"/apps/"+a.AppID+"/webhooks", hookBody(rcB.URL, "message.sent")).wantError(t, 404, "not_found", "")
		var listB []map[string]any
		b.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &listB)
		if len(listB) != 1 || listB[0]["id"] != whB["id"] {
			t.Fatalf("B's webhooks: %v", listB)
		}
		if strings.Contains(canon(t, listB), idA) {
			t.Fatal("B's listing shows A's webhook")
		}

		// A's webhook is untouched; B's events go to B only.
		if w := a.webhook(t, idA); w["status"] != "active" {
			t.Fatalf("A's webhook %v", w)
		}
		convB := b.newConversation(t, "alice", "bob")
		b.sendText(t, convB, "alice", "for B")
		a.sendText(t, convA, "alice", "for A again")
		hitsA, hitsB := rcA.waitAccepted(t, 2), rcB.waitAccepted(t, 1)
		wantJSON(t, "A got", []string{hitsA[0].text(), hitsA[1].text()}, []string{"for A", "for A again"})
		wantJSON(t, "B got", hitsB[0].text(), "for B")
		if len(a.deliveries(t, idA, "")) != 2 || len(rcA.all()) != 2 || len(b.deliveries(t, localID(whB["id"]), "")) != 1 {
			t.Fatal("an app's events reached another app's webhook")
		}
		if rcA.all()[0].Header.Get("layer-webhook-request-id") != dA {
			t.Fatal("A's delivery was sent again")
		}
		rcB.quiet(t, 1, 100*time.Millisecond)
	})
}
