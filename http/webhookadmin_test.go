package http_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/callbell"
)

// PATCH changes the settings given and keeps the others; a new target URL
// is verified before anything is sent to it; a paused webhook stays
// paused; wrong values are refused by name and change nothing.
func TestPatchWebhook(t *testing.T) {
	forEachEngine(t, func(t *testing.T, a *api) {
		first, second := newReceiver(t), newReceiver(t)
		wh := a.verifiedWebhook(t, hookBody(first.URL, "message.sent"))
		id := localID(wh["id"])

		got := a.do("PATCH", "/webhooks/"+id, map[string]any{"events": []string{"message.sent", "conversation.created"},
			"retry_schedule": []float64{1, 2}, "timeout_seconds": 3, "config": map[string]any{"env": "prod"}}).must(t, 200).Map(t)
		if jsonOf(t, got["events"]) != `["message.sent","conversation.created"]` || jsonOf(t, got["retry_schedule"]) != `[1,2]` ||
			got["timeout_seconds"] != 3.0 || jsonOf(t, got["config"]) != `{"env":"prod"}` ||
			got["target_url"] != first.URL || got["status"] != "active" || got["version"] != "1.0" {
			t.Fatalf("after PATCH: %v", got)
		}
		if _, shown := got["signing_secret"]; shown {
			t.Fatal("PATCH shows the signing secret")
		}
		if read := a.webhook(t, id); jsonOf(t, read) != jsonOf(t, got) {
			t.Fatalf("read back %v, PATCH answered %v", read, got)
		}
		// The new events are delivered.
		a.newConversation(t, "alice")
		if h := first.waitAccepted(t, 1)[0]; h.eventType() != "conversation.created" {
			t.Fatalf("delivered %s", h.eventType())
		}

		// A new target: verified first, then the only one delivered to.
		got = a.do("PATCH", "/webhooks/"+id, map[string]any{"target_url": second.URL, "secret": "n3w", "config": nil}).must(t, 200).Map(t)
		if got["status"] != "unverified" || got["target_url"] != second.URL || jsonOf(t, got["config"]) != `{}` {
			t.Fatalf("after a new target_url: %v", got)
		}
		a.waitWebhook(t, id, "active")
		if second.challengeCount() != 1 {
			t.Fatalf("the new target got %d challenges", second.challengeCount())
		}
		a.newConversation(t, "bob")
		h := second.waitAccepted(t, 1)[0]
		if sig := h.Header.Get("layer-webhook-signature"); sig != layerSignature("n3w", h.Body) {
			t.Fatalf("signed with the old secret: %s", sig)
		}
		if n := len(first.accepted()); n != 1 {
			t.Fatalf("the old target got %d deliveries, want 1", n)
		}

		// Paused: it stays paused whatever changes.
		a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200)
		got = a.do("PATCH", "/webhooks/"+id, map[string]any{"target_url": first.URL}).must(t, 200).Map(t)
		if got["status"] != "inactive" {
			t.Fatalf("a paused webhook became %v", got["status"])
		}

		before := jsonOf(t, a.webhook(t, id))
		for _, c := range []struct {
			body     any
			property string
		}{
			{map[string]any{"target": "https://example.com"}, "target"},
			{map[string]any{"events": []string{"message.sent", "nope"}}, "events[1]"},
			{map[string]any{"events": []string{}}, "events"},
			{map[string]any{"target_url": "ftp://example.com"}, "target_url"},
			{map[string]any{"retry_schedule": []float64{-1}}, "retry_schedule[0]"},
			{map[string]any{"timeout_seconds": 3600}, "timeout_seconds"},
			{map[string]any{"version": "9.9"}, "version"},
			{map[string]any{"secret": ""}, "secret"},
			{map[string]any{"target_url": nil}, "target_url"},
		} {
			errID := "invalid_property"
			if c.property == "secret" {
				errID = "missing_property"
			}
			a.do("PATCH", "/webhooks/"+id, c.body).wantError(t, 422, errID, c.property)
		}
		if after := jsonOf(t, a.webhook(t, id)); after != before {
			t.Fatalf("refused PATCHes changed the webhook:\n%s\n%s", before, after)
		}
		a.do("PATCH", "/webhooks/00000000-0000-0000-0000-000000000000", map[string]any{"secret": "x"}).wantError(t, 404, "not_found", "")
	})
}

// The test ping sends a signed webhook.test event now, whatever the
// webhook's status, and answers with the receiver's answer; it leaves no
// delivery in the log.
func TestWebhookTestPing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		rc.script(func(h *hit) reply {
			return reply{Status: 418, Header: map[string]string{"X-Receiver": "teapot"}, Body: strings.Repeat("x", 5000)}
		})
		a.do("POST", "/webhooks/"+id+"/deactivate", nil).must(t, 200)
		res := a.do("POST", "/webhooks/"+id+"/test", nil).must(t, 200).Map(t)
		if res["delivered"] != false || res["status_code"] != 418.0 || res["event_type"] != "webhook.test" ||
			len(res["response_body"].(string)) != 2048 || res["error"] != "" {
			t.Fatalf("test of a failing receiver: %v", res)
		}
		if h, _ := res["response_headers"].(map[string]any); jsonOf(t, h["X-Receiver"]) != `["teapot"]` {
			t.Fatalf("response headers %v", res["response_headers"])
		}
		hits := rc.waitHits(t, 1)
		h := hits[0]
		p := h.payload(t)
		ev := p["event"].(map[string]any)
		if ev["type"] != "webhook.test" || ev["id"] != res["id"] || p["webhook"].(map[string]any)["id"] != wh["id"] ||
			jsonOf(t, p["config"]) != `{"name":"test hook"}` {
			t.Fatalf("test payload %s", h.Body)
		}
		if jsonOf(t, res["payload"]) != jsonOf(t, p) {
			t.Fatalf("answered payload %v, sent %s", res["payload"], h.Body)
		}
		if h.eventType() != "webhook.test" || h.Header.Get("layer-webhook-signature") != layerSignature(testSecret, h.Body) {
			t.Fatalf("test headers %v", h.Header)
		}
		swh, err := standardwebhooks.NewWebhook(wh["signing_secret"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if err := swh.Verify(h.Body, h.Header); err != nil {
			t.Fatalf("Standard Webhooks verification of the test: %v", err)
		}
		if sent := res["request_headers"].(map[string]any); jsonOf(t, sent["Webhook-Signature"]) != jsonOf(t, h.Header["Webhook-Signature"]) {
			t.Fatalf("answered request headers %v, sent %v", sent, h.Header)
		}
		rc.script(nil)
		res = a.do("POST", "/webhooks/"+id+"/test", nil).must(t, 200).Map(t)
		if res["delivered"] != true || res["status_code"] != 204.0 {
			t.Fatalf("test of a working receiver: %v", res)
		}
		if list := a.deliveries(t, id, ""); len(list) != 0 {
			t.Fatalf("tests left deliveries: %v", list)
		}
		if st := a.webhook(t, id)["status"]; st != "inactive" {
			t.Fatalf("a test changed the status to %v", st)
		}
		a.do("POST", "/webhooks/00000000-0000-0000-0000-000000000000/test", nil).wantError(t, 404, "not_found", "")
	})
}

// The delivery log filters by status, event type, conversation and time
// window, and its next page keeps the filters.
func TestDeliveryFilters(t *testing.T) {
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent", "conversation.created"))
		id := localID(wh["id"])
		one := a.newConversation(t, "alice")
		a.sendText(t, one, "alice", "hi")
		rc.waitAccepted(t, 2)
		// Deliveries are created at the engine's clock, the real one.
		time.Sleep(5 * time.Millisecond)
		middle := time.Now().UTC().Format(time.RFC3339Nano)
		time.Sleep(5 * time.Millisecond)
		two := a.newConversation(t, "bob")
		a.sendText(t, two, "bob", "yo")
		a.sendText(t, two, "bob", "yo again")
		a.waitDeliveries(t, id, "delivered", 5)
		list := func(query string) []string {
			t.Helper()
			var out []map[string]any
			a.do("GET", "/webhooks/"+id+"/deliveries?"+query, nil).must(t, 200).JSON(t, &out)
			var types []string
			for _, d := range out {
				types = append(types, d["event_type"].(string))
			}
			return types
		}
		for query, want := range map[string]string{
			"":                                "message.sent message.sent conversation.created message.sent conversation.created",
			"event_type=conversation.created": "conversation.created conversation.created",
			"conversation=" + two:             "message.sent message.sent conversation.created",
			"conversation=layer:///conversations/" + one: "message.sent conversation.created",
			"since=" + url.QueryEscape(middle):           "message.sent message.sent conversation.created",
			"until=" + url.QueryEscape(middle):           "message.sent conversation.created",
			"status=failed":                              "",
			"status=delivered&event_type=message.sent&conversation=" + two + "&since=" + url.QueryEscape(middle): "message.sent message.sent",
		} {
			if got := strings.Join(list(query), " "); got != want {
				t.Fatalf("deliveries?%s: %s, want %s", query, got, want)
			}
		}
		r := a.do("GET", "/webhooks/"+id+"/deliveries?event_type=message.sent&page_size=2", nil).must(t, 200)
		next := r.Header.Get("Link")
		if !strings.Contains(next, "event_type=message.sent") {
			t.Fatalf("next page link %q drops the filter", next)
		}
		a.do("GET", "/webhooks/"+id+"/deliveries?since=yesterday", nil).wantError(t, 422, "invalid_property", "since")
		a.do("GET", "/webhooks/"+id+"/deliveries?since="+url.QueryEscape(middle)+"&until="+url.QueryEscape(middle), nil).
			wantError(t, 422, "invalid_property", "until")
		a.do("GET", "/webhooks/"+id+"/deliveries?status=lost", nil).wantError(t, 422, "invalid_property", "status")
	})
}

// A Callbell-format subscription's test is Callbell's envelope with a
// type of its own, signed as Callbell signs; its settings are changed by
// subscribing again, not by PATCH.
func TestWebhookTestPingCallbell(t *testing.T) {
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		sub := a.cbwSubscribe(t, 201, rc.URL, "message_created")
		var list []map[string]any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 1 || list[0]["format"] != "callbell" {
			t.Fatalf("webhooks %v", list)
		}
		id := localID(list[0]["id"])
		res := a.do("POST", "/webhooks/"+id+"/test", nil).must(t, 200).Map(t)
		if res["delivered"] != true || res["event_type"] != "webhook_test" {
			t.Fatalf("test of a Callbell subscription: %v", res)
		}
		h := rc.waitHits(t, 1)[0]
		p := h.payload(t)
		if p["event"] != "webhook_test" || p["payload"].(map[string]any)["webhookId"] != id {
			t.Fatalf("Callbell test payload %s", h.Body)
		}
		if err := callbell.Verify(sub["secret"].(string), h.Header.Get(callbell.SignatureHeader), h.Body, time.Now(), callbell.DefaultTolerance); err != nil {
			t.Fatalf("the test's %s: %v", callbell.SignatureHeader, err)
		}
		a.do("PATCH", "/webhooks/"+id, map[string]any{"timeout_seconds": 2}).wantError(t, 400, "invalid_request", "")
	})
}
