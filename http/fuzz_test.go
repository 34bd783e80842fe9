package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/callbellapi"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/egress"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

// The fuzz targets of the request decoders send arbitrary bodies to every
// route that takes one, through the whole server (decoding, the service's
// rules, the store): the answer is never a 5xx, a refusal has the error
// shape and writes nothing, and an acceptance is JSON.

// fuzzRoute is a route that takes a JSON body, with its path's ids filled
// in, and bodies it takes or refuses, for the seed corpus.
type fuzzRoute struct {
	method, path string
	seeds        []string
}

// fuzzServer is a server over a real store, its delivery engine not
// started: nothing is delivered, and webhook verifications go nowhere.
type fuzzServer struct {
	handler http.Handler
	store   herald.Store
	token   string
}

// refuseAll is the engine's transport under fuzzing: a fuzzed target URL
// must not reach any network.
type refuseAll struct{}

func (refuseAll) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzzing: no request leaves the process")
}

func newFuzzServer(tb testing.TB, store herald.Store) (*fuzzServer, map[string]string) {
	tb.Helper()
	ctx := context.Background()
	tb.Cleanup(func() { store.Close() })
	svc := &messaging.Service{Store: store, Blobs: blob.Dir{Root: tb.TempDir()}}
	srv, err := heraldhttp.New(ctx, svc, "http://herald.test", &layerapi.API{}, &callbellapi.API{})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Logger = slog.New(slog.DiscardHandler)
	// The fixture's webhook names a loopback address, which registration
	// refuses unless exempted; no request leaves the process anyway.
	srv.Engine = &delivery.Engine{Store: store, Logger: srv.Logger, Client: &http.Client{Transport: refuseAll{}}, AllowTargets: egress.Loopback,
		Formats: map[string]delivery.Format{
			herald.FormatLayer:    layer.Format{URLs: srv.URLs},
			herald.FormatCallbell: callbell.Format{URLs: srv.URLs},
		}}
	app, token, err := svc.CreateApp(ctx, "fuzz")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fuzzServer{handler: srv.Handler(), store: store, token: token}
	ids := map[string]string{"app": app.ID}
	// The objects the routes' paths name.
	var conv, msg struct {
		ID   string `json:"id"`
		UUID string `json:"uuid"`
	}
	s.must(tb, "POST", "/apps/"+app.ID+"/conversations", `{"participants": ["alice", "bob"]}`, &conv)
	ids["conv"] = conv.ID
	s.must(tb, "POST", "/apps/"+app.ID+"/conversations/"+localID(conv.ID)+"/messages",
		`{"sender": {"user_id": "alice"}, "parts": [{"mime_type": "text/plain", "body": "hi"}]}`, &msg)
	ids["msg"] = localID(msg.ID)
	var ch struct{ Channel struct{ UUID string } }
	s.must(tb, "POST", "/v1/channels", `{"type": "whatsapp", "identifier": "14155550100"}`, &ch)
	ids["channel"] = ch.Channel.UUID
	var contact struct{ Contact struct{ UUID string } }
	s.must(tb, "POST", "/v1/contacts", `{"identifier": "331122334455", "source": "whatsapp", "name": "John"}`, &contact)
	ids["contact"] = contact.Contact.UUID
	// The contact writes first: WhatsApp's window lets the sends below
	// through.
	var inbound struct{ Message struct{ UUID string } }
	s.must(tb, "POST", "/v1/channels/"+ch.Channel.UUID+"/inbound", `{"from": "331122334455", "content": {"text": "hello"}}`, &inbound)
	var tpl struct{ Template struct{ UUID string } }
	s.must(tb, "POST", "/v1/templates", `{"channel_uuid": "`+ch.Channel.UUID+`", "name": "order_shipped", "language": "en_US",
		"text": "Hello {{1}}, order {{2}} has shipped.", "category": "UTILITY", "status": "approved"}`, &tpl)
	ids["template"] = tpl.Template.UUID
	var sent struct{ Message struct{ UUID string } }
	s.must(tb, "POST", "/v1/messages/send", `{"to": "331122334455", "from": "whatsapp", "type": "text", "content": {"text": "hi"}}`, &sent)
	ids["channel_msg"] = sent.Message.UUID
	var wh struct{ ID string }
	s.must(tb, "POST", "/apps/"+app.ID+"/webhooks", `{"target_url": "http://127.0.0.1:9/", "events": ["message.sent"], "secret": "s"}`, &wh)
	ids["webhook"] = localID(wh.ID)
	return s, ids
}

// serve sends a request and returns the recorded answer.
func (s *fuzzServer) serve(method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

func (s *fuzzServer) must(tb testing.TB, method, path, body string, v any) {
	tb.Helper()
	rec := s.serve(method, path, []byte(body))
	if rec.Code >= 300 || json.Unmarshal(rec.Body.Bytes(), v) != nil {
		tb.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

// lastSeq is the sequence number of the newest event.
func (s *fuzzServer) lastSeq(t *testing.T) int64 {
	var seq int64
	ctx := context.Background()
	if err := s.store.View(ctx, func(q herald.Queries) (err error) {
		seq, err = q.LastEventSeq(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

func layerRoutes(ids map[string]string) []fuzzRoute {
	app := "/apps/" + ids["app"]
	conv := app + "/conversations/" + localID(ids["conv"])
	return []fuzzRoute{
		{"PUT", app + "/users/alice/identity", []string{`{"display_name": "Alice", "avatar_url": "https://example.com/a.png", "metadata": {"k": "v"}}`,
			`{"display_name": "A\u0000"}`, `{"metadata": "x"}`, `{"first_name": 5}`}},
		{"POST", app + "/users/carol/identity", []string{`{"display_name": "Carol"}`}},
		{"PATCH", app + "/users/alice/identity", []string{`{"first_name": "Alice", "metadata": null}`, `{"metadata": {"a": [1, {"b": "\ud800"}]}}`}},
		{"POST", app + "/conversations", []string{`{"participants": ["alice", "bob"], "metadata": {"title": "Lunch"}}`,
			`{"participants": ["alice", {"user_id": "carol"}, {"id": "layer:///identities/dave"}], "distinct": false}`,
			`{"participants": "alice"}`, `{"participants": [5]}`, `{"participants": ["a"], "metadata": {"x": {"y": {"z": []}}}}`}},
		{"PATCH", conv, []string{`[{"operation": "add", "property": "participants", "value": "carol"}, {"operation": "set", "property": "metadata.title", "value": "Dinner"}]`,
			`{"participants": ["alice", "bob"], "metadata": {"a": 1}}`, `[{"operation": "remove", "property": "participants", "value": ["carol"]}]`,
			`[{"operation": "delete", "property": "metadata.a.b"}]`, `[]`, `[{"operation": null}]`}},
		{"POST", conv + "/messages", []string{`{"sender": {"user_id": "alice"}, "parts": [{"mime_type": "text/plain", "body": "Hello!"}]}`,
			`{"sender": {"name": "Bot"}, "parts": [{"mime_type": "application/octet-stream", "body": "aGk=", "encoding": "base64"}], "notification": {"title": "t", "text": "x"}}`,
			`{"sender": {"id": "layer:///identities/bob"}, "parts": [{"mime_type": "image/png", "content": {"id": "layer:///content/x", "size": 3}}]}`}},
		{"POST", app + "/users/bob/messages/" + ids["msg"] + "/receipts", []string{`{"type": "read"}`, `{"type": "delivery"}`, `{"type": ["read"]}`}},
		{"POST", app + "/announcements", []string{`{"recipients": ["alice", "bob"], "sender": {"name": "The Team"}, "parts": [{"mime_type": "text/plain", "body": "We are live!"}]}`}},
		{"POST", app + "/webhooks", []string{`{"version": "2.0", "target_url": "https://example.com/hooks", "events": ["message.sent", "conversation.created"], "secret": "s3cret", "config": {"env": "prod"}, "retry_schedule": [1, 2], "timeout_seconds": 2}`,
			`{"target_url": "ftp://x", "events": ["nope"]}`}},
		{"POST", app + "/webhooks/" + ids["webhook"] + "/replay", []string{`{"since": "2020-01-01T00:00:00Z"}`, `{"since": "yesterday"}`,
			`{"since": "2020-01-01T00:00:00Z", "until": "2030-01-01T00:00:00.5+02:00"}`}},
	}
}

func v1Routes(ids map[string]string) []fuzzRoute {
	return []fuzzRoute{
		{"POST", "/v1/channels", []string{`{"type": "whatsapp", "identifier": "+33 6 12 34 56 78", "title": "Support", "main": true}`, `{"type": "fax"}`}},
		{"PATCH", "/v1/channels/" + ids["channel"], []string{`{"title": "Sales", "main": false}`, `{"identifier": "1"}`}},
		{"POST", "/v1/channels/" + ids["channel"] + "/inbound", []string{
			`{"from": "331122334455", "contact": {"name": "John Doe"}, "content": {"text": "Hello", "location": {"coordinates": {"x": 48.85, "y": 2.35}}}, "external_id": "wamid.1"}`,
			`{"from": "331199999999", "contact": {"name": "New", "phone_number": "331199999999"}, "content": {"contact_card": {"contactsInfo": [{"name": "x"}]}}}`}},
		{"POST", "/v1/contacts", []string{`{"identifier": "331100000001", "source": "whatsapp", "name": "Jane", "tags": ["Lead"], "custom_fields": {"plan": "pro"}}`}},
		{"PATCH", "/v1/contacts/" + ids["contact"], []string{`{"name": "Johnny", "tags": ["vip"], "assigned_user": "agent@example.com", "custom_fields": {"a": "b"}}`, `{"unassign_user": true}`}},
		{"POST", "/v1/contacts/" + ids["contact"] + "/conversation/close", []string{`{"closing_reason": "done"}`, `{}`}},
		{"POST", "/v1/messages/send", []string{`{"to": "331122334455", "from": "whatsapp", "type": "text", "content": {"text": "Hi"}, "metadata": {"k": "v"}, "fields": "contact,conversation"}`,
			`{"to": "331122334455", "from": "whatsapp", "type": "image", "content": {"url": "https://example.com/a.png"}}`,
			`{"to": "331122334455", "from": "whatsapp", "type": "reply_buttons", "content": {"reply_buttons": {"metadata": {"type": "button", "content": "?", "options": ["a"]}}}}`}},
		{"POST", "/v1/messages/send", []string{`{"to": "331199999999", "from": "whatsapp", "type": "text", "template_uuid": "` + ids["template"] + `", "optin_contact": true, "template_values": ["Ann", "A-1"], "assigned_user": "agent@example.com"}`,
			`{"to": "331199999999", "from": "whatsapp", "type": "text", "template_uuid": "` + ids["template"] + `", "optin_contact": true, "template_values": ["Ann"]}`}},
		{"POST", "/v1/templates", []string{`{"channel_uuid": "` + ids["channel"] + `", "name": "welcome", "language": "en", "text": "Hi {{1}}", "category": "MARKETING", "templateType": "image"}`,
			`{"channel_uuid": "` + ids["channel"] + `", "name": "bad", "language": "en", "text": "Hi {{2}}", "category": "MARKETING"}`}},
		{"PATCH", "/v1/templates/" + ids["template"], []string{`{"title": "Shipping", "status": "paused"}`, `{"text": "{{1}} {{3}}"}`}},
		{"POST", "/v1/messages/" + ids["channel_msg"] + "/status", []string{`{"status": "delivered", "payload": {"raw": true}}`, `{"status": "read"}`, `{"status": "sideways"}`}},
		{"DELETE", "/v1/messages", []string{`{"uuid": "` + ids["channel_msg"] + `"}`, `{"uuid": 7}`}},
		{"POST", "/v1/webhooks/subscribe", []string{`{"url": "https://example.com/callbell", "subscriptions": ["message_created", "contact_created"], "config": {"context_field": "both"}}`}},
		{"POST", "/v1/users", []string{`{"email": "ann@example.com", "name": "Ann", "role": "agent", "available": true}`, `{"email": "x"}`}},
		{"POST", "/v1/teams", []string{`{"name": "Support", "default": true}`}},
		{"POST", "/v1/custom_statuses", []string{`{"name": "Lunch", "emoji": "🍙"}`}},
		{"POST", "/v1/contacts", []string{`{"identifier": "331100000009", "source": "whatsapp", "name": "Jo", "team_uuid": "00000000000000000000000000000000"}`}},
		{"PATCH", "/v1/contacts/" + ids["contact"], []string{`{"note": "VIP", "bot_status": "bot_start", "bsuid": "bs_1", "blocked": true, "custom_fields": {"orderNumber": 123}}`, `{"blocked": false, "note": ""}`}},
		{"POST", "/v1/contacts/" + ids["contact"] + "/bot", []string{`{"status": "bot_start"}`, `{"status": "bot_end"}`}},
		{"POST", "/v1/contacts/" + ids["contact"] + "/conversation/note", []string{`{"text": "Call back @eve"}`}},
		{"PUT", "/v1/contacts/" + ids["contact"] + "/conversation/update_funnel", []string{`{"funnel_id": ""}`, `{"funnel_id": "1cd7845e-6b93-453d-b015-9dce35d16f39"}`}},
		{"POST", "/v1/funnels", []string{`{"name": "Interest", "emoji": "👁️", "position": 1}`}},
		{"POST", "/v1/custom_fields", []string{`{"name": "Status", "type": "dropdown", "options": ["Active", "Churned"]}`, `{"name": "Seats", "type": "number"}`}},
		{"POST", "/v1/contacts", []string{`{"source": "whatsapp", "name": "Private", "bsuid": "bs_2", "note": "n", "custom_fields": {"Status": "Active", "Seats": 3}}`}},
		{"POST", "/v1/messages/send", []string{`{"bsuid": "bs_3", "from": "whatsapp", "type": "text", "content": {"text": "Hi"}}`}},
		{"POST", "/v1/channels/" + ids["channel"] + "/inbound", []string{`{"contact": {"bsuid": "bs_4", "name": "B"}, "content": {"text": "Hello"}}`}},
		{"PUT", "/v1/channels/" + ids["channel"] + "/connector", []string{`{"provider": "whatsapp_cloud", "phone_number_id": "106540352242922", "access_token": "EAAG", "app_secret": "s", "verify_token": "v", "api_url": "https://graph.example.com/v23.0"}`,
			`{"provider": "telegram", "bot_token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "secret_token": "s"}`}},
	}
}

// fuzzRequests fuzzes the bodies of the routes that routes lists, on the
// store open makes.
func fuzzRequests(f *testing.F, open func(testing.TB) herald.Store, routes func(ids map[string]string) []fuzzRoute) {
	s, ids := newFuzzServer(f, open(f))
	rs := routes(ids)
	for i, r := range rs {
		for _, seed := range r.seeds {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := rs[int(route)%len(rs)]
		before := s.lastSeq(t)
		rec := s.serve(r.method, r.path, body)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct{ ID, Message, URL string }
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.ID == "" || e.Message == "" || e.URL == "" {
				t.Fatalf("%s %s %q: %d without the error shape: %s", r.method, r.path, body, rec.Code, rec.Body)
			}
			if after := s.lastSeq(t); after != before {
				t.Fatalf("%s %s %q: refused with %d, yet recorded events %d to %d", r.method, r.path, body, rec.Code, before+1, after)
			}
			return
		}
		// Layer answered some writes without a body (201 for a new
		// identity, 202, 204); a body, when there is one, is JSON.
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: %d with a body that is not JSON: %s", r.method, r.path, body, rec.Code, rec.Body)
		}
	})
}

func openSQLite(tb testing.TB) herald.Store {
	s, err := sqlite.Open(context.Background(), enginetest.SQLitePath(tb), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func openPostgres(tb testing.TB) herald.Store {
	s, err := postgres.Open(context.Background(), enginetest.PostgresURL(tb), postgres.Options{MaxConns: 4})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// FuzzLayerRequests fuzzes the bodies of the Layer-shaped API, on SQLite.
func FuzzLayerRequests(f *testing.F) { fuzzRequests(f, openSQLite, layerRoutes) }

// FuzzV1Requests fuzzes the bodies of the Callbell-shaped /v1 API, on SQLite.
func FuzzV1Requests(f *testing.F) { fuzzRequests(f, openSQLite, v1Routes) }

// FuzzRequestsPostgres fuzzes the bodies of both APIs on PostgreSQL, which
// refuses in text what SQLite stores.
func FuzzRequestsPostgres(f *testing.F) {
	fuzzRequests(f, openPostgres, func(ids map[string]string) []fuzzRoute {
		return append(layerRoutes(ids), v1Routes(ids)...)
	})
}
