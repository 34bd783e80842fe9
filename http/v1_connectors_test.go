package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/connector/sender"
	"github.com/heraldhq/herald/connector/whatsapp"
)

// Loopback servers that speak Meta's Graph API (the Cloud API's messages
// endpoint) and Telegram's Bot API, checking the credentials as the real
// ones do, recording what they accepted, and answering as they answer.

const (
	graphVersion   = "/v23.0"
	waPhoneID      = "106540352242922"
	waAccessToken  = "EAAGtest-access-token"
	waAppSecret    = "meta-app-secret"
	waVerifyToken  = "herald-verify"
	tgBotToken     = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	tgSecretToken  = "tg-secret_1"
	waRefusedTo    = "33699999999" // the Graph API refuses messages to it
	waBusyTo       = "33688888888" // its first send is answered 503
	waOrderTo      = "33677777777" // so is this one's
	waCustomer     = "33612345678"
	waCustomerName = "Ann Smith"
)

type providerRequest struct {
	Path string
	Body map[string]any
}

type fakeProvider struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	got      []providerRequest
	attempts map[string]int
	next     int
	// hold, when set, keeps every request waiting until it is closed or
	// the request abandoned.
	hold chan struct{}
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{t: t, attempts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeProvider) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	b, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil {
		f.answer(w, 400, map[string]any{"error": map[string]any{"message": "bad request", "code": 100}})
		return
	}
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case strings.HasPrefix(r.URL.Path, graphVersion+"/"):
		f.serveGraph(w, r, body)
	case strings.HasPrefix(r.URL.Path, "/bot"):
		f.serveBot(w, r, body)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeProvider) record(path string, body map[string]any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, providerRequest{Path: path, Body: body})
	f.next++
	return f.next
}

// serveGraph answers POST /<version>/<phone_number_id>/messages as the
// Cloud API does: the message's wamid, or Graph's error object.
func (f *fakeProvider) serveGraph(w http.ResponseWriter, r *http.Request, body map[string]any) {
	if r.Header.Get("Authorization") != "Bearer "+waAccessToken {
		f.answer(w, 401, map[string]any{"error": map[string]any{"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}})
		return
	}
	if r.URL.Path != graphVersion+"/"+waPhoneID+"/messages" || body["messaging_product"] != "whatsapp" {
		f.answer(w, 400, map[string]any{"error": map[string]any{"message": "Unsupported post request.", "code": 100}})
		return
	}
	to, _ := body["to"].(string)
	f.mu.Lock()
	f.attempts[to]++
	n := f.attempts[to]
	f.mu.Unlock()
	switch {
	case to == waRefusedTo:
		f.record(r.URL.Path, body)
		f.answer(w, 400, map[string]any{"error": map[string]any{"message": "(#131026) Message undeliverable", "type": "OAuthException",
			"code": 131026, "error_data": map[string]any{"messaging_product": "whatsapp", "details": "Receiver is incapable of receiving this message"},
			"fbtrace_id": "AbCdEf"}})
		return
	case (to == waBusyTo || to == waOrderTo) && n == 1:
		f.answer(w, 503, map[string]any{"error": map[string]any{"message": "Service temporarily unavailable", "code": 2}})
		return
	}
	id := f.record(r.URL.Path, body)
	f.answer(w, 200, map[string]any{"messaging_product": "whatsapp", "contacts": []any{map[string]any{"input": to, "wa_id": to}},
		"messages": []any{map[string]any{"id": fmt.Sprintf("wamid.HBgL%d", id)}}})
}

// serveBot answers the Bot API's methods at /bot<token>/<method>.
func (f *fakeProvider) serveBot(w http.ResponseWriter, r *http.Request, body map[string]any) {
	token, method, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if token != tgBotToken {
		f.answer(w, 401, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	id := f.record(method, body)
	if method == "setWebhook" {
		f.answer(w, 200, map[string]any{"ok": true, "result": true, "description": "Webhook was set"})
		return
	}
	if body["chat_id"] == "-1" {
		f.answer(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})
		return
	}
	f.answer(w, 200, map[string]any{"ok": true, "result": map[string]any{"message_id": 1000 + id, "date": time.Now().Unix(),
		"chat": map[string]any{"id": body["chat_id"], "type": "private"}}})
}

func (f *fakeProvider) requests() []providerRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]providerRequest(nil), f.got...)
}

// waitRequests waits until n requests were accepted.
func (f *fakeProvider) waitRequests(t *testing.T, n int) []providerRequest {
	t.Helper()
	eventually(t, func() bool { return len(f.requests()) >= n }, "%d provider requests (got %d)", n, func() int { return len(f.requests()) })
	return f.requests()
}

// startConnectorSender starts the sender of the API's connectors, polling
// often, with short retries.
func startConnectorSender(t *testing.T, a *api, node string) *sender.Sender {
	t.Helper()
	s := &sender.Sender{Store: a.Store, Service: a.Service, AllowTargets: loopback, PollInterval: 20 * time.Millisecond,
		MinRetryDelay: 20 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, AttemptTimeout: 2 * time.Second, Node: node}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// waNotification is a Cloud API webhook notification of messages or
// statuses ("value" of a "messages" change).
func waNotification(value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]any{"display_phone_number": "15550783881", "phone_number_id": waPhoneID}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": value}}}}})
	return b
}

func waTextFrom(from, name, wamid, text string) []byte {
	return waNotification(map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": from, "user_id": "FR." + from}},
		"messages": []any{map[string]any{"from": from, "id": wamid, "timestamp": "1749416383", "type": "text",
			"text": map[string]any{"body": text}}}})
}

// postWhatsApp posts a notification as Meta does, signed with secret.
func (a *api) postWhatsApp(t *testing.T, channel string, body []byte, secret string) *response {
	t.Helper()
	return a.do("POST", "//v1/connectors/whatsapp/"+channel, body, "X-Hub-Signature-256", whatsapp.Sign(secret, body))
}

func (a *api) connectWhatsApp(t *testing.T, channel string, f *fakeProvider) {
	t.Helper()
	a.v1(t, "PUT", "/channels/"+channel+"/connector", map[string]any{"provider": "whatsapp_cloud", "phone_number_id": waPhoneID,
		"access_token": waAccessToken, "app_secret": waAppSecret, "verify_token": waVerifyToken, "api_url": f.srv.URL + graphVersion}).must(t, 200)
}

// waitChannelStatus waits until a channel message has a status, and
// returns it as GET /v1/messages/:uuid/status renders it.
func (a *api) waitChannelStatus(t *testing.T, id, status string) map[string]any {
	t.Helper()
	var m map[string]any
	eventually(t, func() bool {
		m = obj(t, a.v1(t, "GET", "/messages/status/"+id, nil).must(t, 200).Map(t)["message"])
		return m["status"] == status
	}, "message %s to be %s", id, status)
	return m
}

func connectorEvents(t *testing.T, rc *receiver, event string) []map[string]any {
	var out []map[string]any
	for _, h := range rc.accepted() {
		var p map[string]any
		if json.Unmarshal(h.Body, &p) == nil && p["event"] == event {
			out = append(out, obj(t, p["payload"]))
		}
	}
	return out
}

// A WhatsApp number connected with the Cloud API: Meta's verification
// handshake, signed notifications of messages (once, however often Meta
// redelivers them) reaching Callbell-format and Layer-format receivers,
// replies sent through the Graph API with the provider's id, statuses
// Meta reports, a refusal, and a retry after a 503.
func TestV1ConnectorWhatsApp(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		f := newFakeProvider(t)
		cbRC, layerRC := newReceiver(t), newReceiver(t)
		a.cbSubscribe(t, cbRC.URL, nil, "message_created", "message_status_updated")
		a.verifiedWebhook(t, hookBody(layerRC.URL, "message.sent"))
		channel := a.cbChannel(t, "15550783881")

		// Configuration: checked field by field; secrets never shown.
		base := map[string]any{"provider": "whatsapp_cloud", "phone_number_id": waPhoneID, "access_token": waAccessToken,
			"app_secret": waAppSecret, "verify_token": waVerifyToken, "api_url": f.srv.URL + graphVersion}
		for _, c := range []struct {
			body     map[string]any
			id, prop string
		}{
			{withKey(base, "provider", "telegram"), "invalid_property", "provider"},
			{withKey(base, "provider", "fax"), "invalid_property", "provider"},
			{withKey(base, "phone_number_id", nil), "missing_property", "phone_number_id"},
			{withKey(base, "phone_number_id", "+1 555"), "invalid_property", "phone_number_id"},
			{withKey(base, "access_token", nil), "missing_property", "access_token"},
			{withKey(base, "app_secret", nil), "missing_property", "app_secret"},
			{withKey(base, "verify_token", "two words"), "invalid_property", "verify_token"},
			{withKey(base, "api_url", "ftp://graph"), "invalid_property", "api_url"},
			{withKey(base, "bot_token", tgBotToken), "invalid_property", "bot_token"},
		} {
			a.v1(t, "PUT", "/channels/"+channel+"/connector", c.body).wantError(t, 422, c.id, c.prop)
		}
		a.v1(t, "GET", "/channels/"+channel+"/connector", nil).wantError(t, 404, "not_found", "")
		a.connectWhatsApp(t, channel, f)
		got := a.v1(t, "GET", "/channels/"+channel+"/connector", nil).must(t, 200)
		for _, secret := range []string{waAccessToken, waAppSecret, waVerifyToken} {
			if strings.Contains(string(got.Body), secret) {
				t.Fatalf("GET shows a secret: %s", got.Body)
			}
		}
		conn := obj(t, got.Map(t)["connector"])
		wantJSON(t, "connector", []any{conn["provider"], conn["phone_number_id"], conn["webhook_url"]},
			[]any{"whatsapp_cloud", waPhoneID, a.URL + "/v1/connectors/whatsapp/" + channel})

		// Meta's verification request.
		verify := func(token string) *response {
			q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {token}, "hub.challenge": {"1158201444"}}
			return a.do("GET", "//v1/connectors/whatsapp/"+channel+"?"+q.Encode(), nil, "Authorization", "")
		}
		if r := verify(waVerifyToken).must(t, 200); string(r.Body) != "1158201444" {
			t.Fatalf("challenge answered %q", r.Body)
		}
		verify("wrong").must(t, 403)

		// A message from a customer; a notification not signed with the
		// app secret is refused and records nothing.
		hello := waTextFrom(waCustomer, waCustomerName, "wamid.IN1", "Hello, is my order ready?")
		a.postWhatsApp(t, channel, hello, "another secret").must(t, 403)
		a.do("POST", "//v1/connectors/whatsapp/"+channel, hello).must(t, 403)
		a.postWhatsApp(t, channel, []byte(`{"object":"whatsapp_business_account","entry":[`), waAppSecret).must(t, 400)
		a.postWhatsApp(t, "0123456789abcdef0123456789abcdef", hello, waAppSecret).must(t, 404)
		for range 3 { // Meta redelivers what it thinks was not received
			a.postWhatsApp(t, channel, hello, waAppSecret).must(t, 200)
		}
		created := cbRC.waitAccepted(t, 1)
		layerRC.waitAccepted(t, 1)
		time.Sleep(150 * time.Millisecond)
		if n := len(connectorEvents(t, cbRC, "message_created")); n != 1 {
			t.Fatalf("%d message_created for one message delivered three times", n)
		}
		var p map[string]any
		json.Unmarshal(created[0].Body, &p)
		msg := obj(t, p["payload"])
		contact := obj(t, msg["contact"])
		wantJSON(t, "received", []any{msg["text"], msg["status"], msg["from"], contact["name"], contact["phoneNumber"]},
			[]any{"Hello, is my order ready?", "received", waCustomer, waCustomerName, waCustomer})
		lh := layerRC.accepted()[0]
		if lh.text() != "Hello, is my order ready?" {
			t.Fatalf("Layer receiver got %q", lh.text())
		}
		inbound := localID(lh.messageID())

		// The reply goes through the Graph API, answering the customer's
		// message; the wamid becomes the message's external id.
		startConnectorSender(t, a, "node-1")
		reply := a.cbSend(t, map[string]any{"to": waCustomer, "content": map[string]any{"text": "Yes, it is!"}, "reply_to": inbound})
		req := f.waitRequests(t, 1)[0]
		wantJSON(t, "Graph request", req.Body, map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual",
			"to": waCustomer, "type": "text", "text": map[string]any{"body": "Yes, it is!", "preview_url": false},
			"context": map[string]any{"message_id": "wamid.IN1"}})
		sent := a.waitChannelStatus(t, reply, "sent")
		wamid := "wamid.HBgL1"

		// Meta reports delivery and reading; a late "sent" moves nothing
		// back, and a status of an unknown message is acknowledged.
		status := func(id, s string) []byte {
			return waNotification(map[string]any{"statuses": []any{map[string]any{"id": id, "status": s, "timestamp": "1749416400",
				"recipient_id": waCustomer, "conversation": map[string]any{"id": "c1", "origin": map[string]any{"type": "service"}}}}})
		}
		a.postWhatsApp(t, channel, status(wamid, "delivered"), waAppSecret).must(t, 200)
		a.postWhatsApp(t, channel, status(wamid, "read"), waAppSecret).must(t, 200)
		a.postWhatsApp(t, channel, status(wamid, "sent"), waAppSecret).must(t, 200)
		a.postWhatsApp(t, channel, status("wamid.unknown", "read"), waAppSecret).must(t, 200)
		final := a.waitChannelStatus(t, reply, "read")
		if sent["uuid"] != final["uuid"] {
			t.Fatalf("status of %v, then of %v", sent["uuid"], final["uuid"])
		}
		eventually(t, func() bool { return len(connectorEvents(t, cbRC, "message_status_updated")) >= 3 }, "three message_status_updated")
		var statuses []any
		for _, e := range connectorEvents(t, cbRC, "message_status_updated") {
			statuses = append(statuses, e["status"])
		}
		wantJSON(t, "message_status_updated statuses", statuses, []any{"sent", "delivered", "read"})

		// A refusal fails the message with Meta's error; a 503 is retried.
		for _, to := range []string{waRefusedTo, waBusyTo} {
			a.postWhatsApp(t, channel, waTextFrom(to, "Someone", "wamid.FROM"+to, "Hi"), waAppSecret).must(t, 200)
		}
		refused := a.cbSendText(t, waRefusedTo, "Hello")
		busy := a.cbSend(t, map[string]any{"to": waBusyTo, "type": "image",
			"content": map[string]any{"url": "https://example.com/menu.png", "text": "Our menu"}})
		failed := a.waitChannelStatus(t, refused, "failed")
		a.waitChannelStatus(t, busy, "sent")
		var raw []byte
		a.Store.View(context.Background(), func(q herald.Queries) error {
			m, err := q.Message(context.Background(), a.AppID, herald.ParseUUID(failed["uuid"].(string)))
			if err == nil {
				raw = m.Channel.StatusPayload
			}
			return err
		})
		if !strings.Contains(string(raw), "131026") {
			t.Fatalf("failed message's payload %s, want Meta's error", raw)
		}
		var image map[string]any
		for _, r := range f.requests() {
			if r.Body["to"] == waBusyTo {
				image = r.Body
			}
		}
		wantJSON(t, "image request", image["image"], map[string]any{"link": "https://example.com/menu.png", "caption": "Our menu"})

		// Meta reports that a sent message failed after all, with its
		// errors; the customer answers the reply, which the answer names.
		var busyWamid string
		a.Store.View(context.Background(), func(q herald.Queries) error {
			m, err := q.Message(context.Background(), a.AppID, herald.ParseUUID(busy))
			if err == nil {
				busyWamid = m.Channel.ExternalID
			}
			return err
		})
		if !strings.HasPrefix(busyWamid, "wamid.") {
			t.Fatalf("the sent message's external id is %q", busyWamid)
		}
		failure := waNotification(map[string]any{"statuses": []any{map[string]any{"id": busyWamid, "status": "failed",
			"timestamp": "1749416500", "recipient_id": waBusyTo, "errors": []any{map[string]any{"code": 131047,
				"title": "Re-engagement message", "error_data": map[string]any{"details": "More than 24 hours have passed"}}}}}})
		a.postWhatsApp(t, channel, failure, waAppSecret).must(t, 200)
		a.waitChannelStatus(t, busy, "failed")
		answer := waNotification(map[string]any{
			"contacts": []any{map[string]any{"profile": map[string]any{"name": waCustomerName}, "wa_id": waCustomer}},
			"messages": []any{map[string]any{"from": waCustomer, "id": "wamid.IN2", "timestamp": "1749416600", "type": "text",
				"text": map[string]any{"body": "Thanks!"}, "context": map[string]any{"from": "15550783881", "id": wamid}}}})
		a.postWhatsApp(t, channel, answer, waAppSecret).must(t, 200)
		a.Store.View(context.Background(), func(q herald.Queries) error {
			ctx := context.Background()
			busyMsg, err := q.Message(ctx, a.AppID, herald.ParseUUID(busy))
			if err != nil {
				return err
			}
			if p := string(busyMsg.Channel.StatusPayload); !strings.Contains(p, "131047") {
				t.Errorf("failed status payload %s, want Meta's errors", p)
			}
			id, err := q.MessageByExternalID(ctx, a.AppID, channel, "wamid.IN2")
			if err != nil {
				return err
			}
			m, err := q.Message(ctx, a.AppID, id)
			if err != nil {
				return err
			}
			if m.Channel.ReplyTo == nil || herald.CompactUUID(m.Channel.ReplyTo.ID) != reply {
				t.Errorf("the answer replies to %+v, want %s", m.Channel.ReplyTo, reply)
			}
			return nil
		})

		// A contact's messages arrive in order, the second waiting for the
		// first's retry.
		a.postWhatsApp(t, channel, waTextFrom(waOrderTo, "Otto", "wamid.FROMorder", "Hi"), waAppSecret).must(t, 200)
		first := a.cbSendText(t, waOrderTo, "first")
		second := a.cbSendText(t, waOrderTo, "second")
		a.waitChannelStatus(t, second, "sent")
		a.waitChannelStatus(t, first, "sent")
		var order []any
		for _, r := range f.requests() {
			if r.Body["to"] == waOrderTo {
				order = append(order, r.Body["text"].(map[string]any)["body"])
			}
		}
		wantJSON(t, "order of arrival", order, []any{"first", "second"})
	})
}

// A Telegram bot: setWebhook when connected, updates checked by their
// secret token, the chat id as the contact's address, replies through
// sendMessage answering the contact's message.
func TestV1ConnectorTelegram(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		f := newFakeProvider(t)
		cbRC := newReceiver(t)
		a.cbSubscribe(t, cbRC.URL, nil, "message_created")
		ch := obj(t, a.v1(t, "POST", "/channels", map[string]any{"type": "telegram", "identifier": "herald_test_bot"}).must(t, 201).Map(t)["channel"])
		channel := ch["uuid"].(string)
		base := map[string]any{"provider": "telegram", "bot_token": tgBotToken, "secret_token": tgSecretToken, "api_url": f.srv.URL}
		a.v1(t, "PUT", "/channels/"+channel+"/connector", withKey(base, "secret_token", "with space")).wantError(t, 422, "invalid_property", "secret_token")
		a.v1(t, "PUT", "/channels/"+channel+"/connector", withKey(base, "bot_token", "12:short")).wantError(t, 422, "invalid_property", "bot_token")
		a.v1(t, "PUT", "/channels/"+channel+"/connector", withKey(base, "bot_token", "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")).
			wantError(t, 422, "invalid_property", "bot_token") // the fake Bot API refuses other tokens
		a.v1(t, "PUT", "/channels/"+channel+"/connector", base).must(t, 200)
		set := f.waitRequests(t, 1)
		wantJSON(t, "setWebhook", set[len(set)-1], providerRequest{Path: "setWebhook", Body: map[string]any{
			"url": a.URL + "/v1/connectors/telegram/" + channel, "secret_token": tgSecretToken, "allowed_updates": []any{"message"}}})

		update := func(id int, text string) []byte {
			b, _ := json.Marshal(map[string]any{"update_id": 10000 + id, "message": map[string]any{"message_id": id,
				"from": map[string]any{"id": 4242, "is_bot": false, "first_name": "Ada", "last_name": "Lovelace"},
				"chat": map[string]any{"id": 4242, "type": "private", "first_name": "Ada", "last_name": "Lovelace"},
				"date": 1749416383, "text": text}})
			return b
		}
		post := func(body []byte, secret string) *response {
			return a.do("POST", "//v1/connectors/telegram/"+channel, body, "X-Telegram-Bot-Api-Secret-Token", secret)
		}
		post(update(7, "Hi bot"), "wrong").must(t, 403)
		post([]byte(`{"update_id": 1, "message": {"message_id": 0}}`), tgSecretToken).must(t, 400)
		post(update(7, "Hi bot"), tgSecretToken).must(t, 200)
		post(update(7, "Hi bot"), tgSecretToken).must(t, 200)
		h := cbRC.waitAccepted(t, 1)[0]
		var p map[string]any
		json.Unmarshal(h.Body, &p)
		msg := obj(t, p["payload"])
		contact := obj(t, msg["contact"])
		wantJSON(t, "received", []any{msg["text"], contact["name"], contact["phoneNumber"]}, []any{"Hi bot", "Ada Lovelace", "4242"})

		inbound, err := a.Service.MessageIDByExternalID(context.Background(), a.AppID, channel, "4242:7")
		if err != nil {
			t.Fatal(err)
		}
		startConnectorSender(t, a, "node-1")
		reply := a.v1(t, "POST", "/messages/send", map[string]any{"to": "4242", "channel_uuid": channel, "type": "text",
			"content": map[string]any{"text": "Hello Ada"}, "reply_to": inbound}).must(t, 201)
		id := obj(t, reply.Map(t)["message"])["uuid"].(string)
		req := f.waitRequests(t, 2)[1]
		wantJSON(t, "sendMessage", req, providerRequest{Path: "sendMessage", Body: map[string]any{"chat_id": "4242", "text": "Hello Ada",
			"reply_parameters": map[string]any{"message_id": float64(7), "allow_sending_without_reply": true}}})
		a.waitChannelStatus(t, id, "sent")
		time.Sleep(100 * time.Millisecond)
		received := 0
		for _, m := range connectorEvents(t, cbRC, "message_created") {
			if m["status"] == "received" {
				received++
			}
		}
		if received != 1 {
			t.Fatalf("%d message_created received for one update delivered twice", received)
		}
		a.v1(t, "DELETE", "/channels/"+channel+"/connector", nil).must(t, 204)
		a.v1(t, "DELETE", "/channels/"+channel+"/connector", nil).wantError(t, 404, "not_found", "")
		post(update(8, "Still there?"), tgSecretToken).must(t, 404)
		var types []string
		for _, e := range a.events() {
			if typ, _ := e["type"].(string); strings.HasPrefix(typ, "connector.") {
				types = append(types, typ)
			}
		}
		wantJSON(t, "connector events", types, []string{"connector.updated", "connector.deleted"})
	})
}

// A node that dies while the provider holds its request loses nothing:
// the message stays queued, and the node's next start sends it again (at
// least once).
func TestV1ConnectorRestartMidSend(t *testing.T) {
	t.Parallel()
	for _, e := range reopenable {
		t.Run(e.name, func(t *testing.T) {
			open := e.location(t)
			a := startAPI(t, open(t))
			f := newFakeProvider(t)
			channel := a.cbChannel(t, "15550783881")
			a.connectWhatsApp(t, channel, f)
			a.postWhatsApp(t, channel, waTextFrom(waCustomer, waCustomerName, "wamid.IN1", "Hello"), waAppSecret).must(t, 200)
			hold := make(chan struct{})
			f.mu.Lock()
			f.hold = hold
			f.mu.Unlock()
			s := startConnectorSender(t, a, "node-1")
			id := a.cbSendText(t, waCustomer, "Your order shipped")
			// The request reached the provider, which holds it: the node
			// dies now, its store closed under it.
			eventually(t, func() bool { return countLeased(a) == 1 }, "the send to be leased")
			time.Sleep(50 * time.Millisecond)
			appID, token := a.AppID, a.Token
			a.stop()
			close(hold)
			s.Stop(context.Background())

			b := startAPI(t, open(t))
			b.AppID, b.Token = appID, token
			startConnectorSender(t, b, "node-1")
			b.waitChannelStatus(t, id, "sent")
			n := 0
			for _, r := range f.requests() {
				if text, _ := r.Body["text"].(map[string]any); text["body"] == "Your order shipped" {
					n++
				}
			}
			// The held request was answered after the node died, which
			// never recorded it: the restarted node sent it again.
			if n != 2 {
				t.Fatalf("the provider got the message %d times, want 2", n)
			}
		})
	}
}

func countLeased(a *api) int {
	n := 0
	a.Store.View(context.Background(), func(q herald.Queries) error {
		jobs, err := q.ConnectorJobs(context.Background(), a.AppID, herald.PushPending, 10)
		for _, j := range jobs {
			if j.LeaseOwner != "" {
				n++
			}
		}
		return err
	})
	return n
}

// The sender goes through the egress guard: a provider on an internal
// address is refused at once, and the message fails saying why.
func TestV1ConnectorEgressGuard(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		f := newFakeProvider(t)
		channel := a.cbChannel(t, "15550783881")
		a.connectWhatsApp(t, channel, f)
		a.postWhatsApp(t, channel, waTextFrom(waCustomer, waCustomerName, "wamid.IN1", "Hello"), waAppSecret).must(t, 200)
		s := &sender.Sender{Store: a.Store, Service: a.Service, PollInterval: 20 * time.Millisecond, MinRetryDelay: 20 * time.Millisecond}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(context.Background()) })
		id := a.cbSendText(t, waCustomer, "Hello")
		a.waitChannelStatus(t, id, "failed")
		if n := len(f.requests()); n != 0 {
			t.Fatalf("the provider on loopback got %d requests", n)
		}
		var payload string
		a.Store.View(context.Background(), func(q herald.Queries) error {
			m, err := q.Message(context.Background(), a.AppID, herald.ParseUUID(id))
			if err == nil {
				payload = string(m.Channel.StatusPayload)
			}
			return err
		})
		if !strings.Contains(payload, "does not connect") {
			t.Fatalf("status payload %s, want the egress guard's refusal", payload)
		}
	})
}
