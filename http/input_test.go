package http_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Bad input gets the same 4xx on every storage engine: what one engine would
// store or look up and another would fail on (PostgreSQL takes no NUL byte
// and no invalid UTF-8 in text) is refused before it reaches either.

// NUL in text fields of a JSON body (probe 3.7).
func TestNULInTextFieldsIsRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)
		ch := a.v1tChannel(t, v1tWhatsapp("+33 6 00 00 00 01"))
		rc := newReceiver(t)
		mark := a.eventMark()
		for _, tc := range []struct {
			method, path string
			body         any
			property     string
		}{
			{"PUT", "/users/alice/identity", map[string]any{"display_name": "A\u0000"}, "display_name"},
			{"PATCH", "/users/alice/identity", map[string]any{"first_name": "\u0000"}, "first_name"},
			{"POST", "/conversations", map[string]any{"participants": []string{"alice", "b\u0000b"}}, "participants[1]"},
			{"POST", "//v1/contacts", map[string]any{"identifier": "+33 7 00 00 00 02", "source": "whatsapp", "name": "N\u0000"}, "name"},
			{"POST", "//v1/channels", map[string]any{"type": "whatsapp", "identifier": "+33 6 00 00 00 03", "title": "T\u0000"}, "title"},
			{"PATCH", "//v1/channels/" + ch["uuid"].(string), map[string]any{"title": "T\u0000"}, "title"},
			{"POST", "/webhooks", withKey(hookBody(rc.URL, "message.sent"), "secret", "s\u0000"), "secret"},
		} {
			res := a.do(tc.method, tc.path, tc.body)
			e := res.wantError(t, 422, "invalid_property", tc.property)
			if msg, _ := e["message"].(string); !strings.Contains(msg, "NUL") {
				t.Fatalf("%s %s: the message does not say what is wrong: %s", tc.method, tc.path, res.Body)
			}
		}
		a.wantEvents(t, mark)
		if got := a.do("GET", "/users/alice/identity", nil).must(t, 200).Map(t); got["display_name"] != "Alice" {
			t.Fatalf("identity after refused writes: %v", got)
		}
		if got := a.do("GET", "/webhooks", nil).must(t, 200); string(got.Body) != "[]\n" {
			t.Fatalf("a refused webhook was created: %s", got.Body)
		}
	})
}

// NUL, invalid UTF-8 and over-long ids in the path (probe 3.8): no object
// has such an id, so none is found.
func TestPathIDsThatCannotExist(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		msg := localID(a.sendText(t, conv, "alice", "hi")["id"])
		rc := newReceiver(t)
		wh := localID(a.createWebhook(t, hookBody(rc.URL, "message.sent"))["id"])
		long := strings.Repeat("x", 256)
		mark := a.eventMark()
		for _, bad := range []string{"%00", "%ff%fe", "%C0%AE%C0%AE", "a%00b", long} {
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/conversations/" + bad + "/messages", nil},
				{"POST", "/conversations/" + bad + "/messages", text(user("alice"), "x")},
				{"GET", "/conversations/" + bad, nil},
				{"PATCH", "/conversations/" + bad, []any{patch("add", "participants", "carol")}},
				{"DELETE", "/conversations/" + bad, nil},
				{"GET", "/messages/" + bad, nil},
				{"DELETE", "/messages/" + bad, nil},
				{"GET", "/conversations/" + conv + "/messages/" + bad, nil},
				{"GET", "/users/fz2/messages/" + bad, nil},
				{"GET", "/users/" + bad + "/messages/" + msg, nil},
				{"POST", "/users/bob/messages/" + bad + "/receipts", map[string]any{"type": "read"}},
				{"GET", "/users/" + bad + "/identity", nil},
				{"DELETE", "/users/" + bad + "/identity", nil},
				{"GET", "/users/" + bad + "/conversations/" + conv, nil},
				{"GET", "/users/bob/announcements/" + bad, nil},
				{"POST", "/conversations/" + bad + "/content", nil},
				{"GET", "/content/" + bad, nil},
				{"GET", "/webhooks/" + bad, nil},
				{"GET", "/webhooks/" + bad + "/deliveries", nil},
				{"GET", "/webhooks/" + wh + "/deliveries/" + bad, nil},
				{"POST", "/webhooks/" + wh + "/deliveries/" + bad + "/resend", nil},
				{"POST", "/webhooks/" + bad + "/deactivate", nil},
				{"GET", "//v1/contacts/" + bad, nil},
				{"PATCH", "//v1/channels/" + bad, map[string]any{"title": "t"}},
				{"GET", "//v1/messages/status/" + bad, nil},
				{"DELETE", "//v1/messages/" + bad, nil},
				{"GET", "//v1/templates/" + bad, nil},
			} {
				res := a.do(r.method, r.path, r.body, "Upload-Content-Type", "text/plain", "Upload-Content-Length", "3")
				if res.Status != 404 {
					t.Fatalf("%s %s: status %d, want 404: %s", r.method, r.path, res.Status, res.Body)
				}
				res.wantError(t, 404, "not_found", "")
			}
		}
		a.wantEvents(t, mark)
		// Naming a user to write their identity, such an id is the
		// identity's invalid user_id, as it always was.
		for _, bad := range []string{"%00", "%ff%fe", long} {
			a.do("PUT", "/users/"+bad+"/identity", map[string]any{"display_name": "x"}).wantError(t, 422, "invalid_property", "user_id")
		}
		a.conversation(t, conv)
	})
}

// NUL and invalid UTF-8 in query parameters.
func TestQueryParametersMustBeText(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		for _, r := range []struct{ path, property string }{
			{"/conversations?from_id=%00", "from_id"},
			{"/conversations/" + conv + "/messages?from_id=%ff%fe", "from_id"},
			{"/events?after=%C0%AE", "after"},
			{"/users/alice/announcements?from_id=a%00", "from_id"},
			{"//v1/contacts?source=%00", "source"},
			{"//v1/contacts?tags=a,%ff", "tags"},
			{"//v1/webhooks/events?status=%00", "status"},
			{"/conversations?%ff=1", "%ff"},
		} {
			e := a.do("GET", r.path, nil).wantError(t, 422, "invalid_property", "")
			if p := obj(t, e["data"])["property"]; p != r.property && !(r.property == "%ff" && p != nil) {
				t.Fatalf("GET %s: property %v, want %s", r.path, p, r.property)
			}
		}
	})
}

// JSON bodies are UTF-8 (RFC 8259): a string that is not, or that escapes
// half of a UTF-16 surrogate pair, is refused rather than silently changed
// (probe 3.5).
func TestJSONStringsMustBeUnicode(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		for _, tc := range []struct {
			method, path, body, property string
		}{
			{"POST", "/conversations", "{\"participants\": [\"a\xff\", \"b\"], \"distinct\": false}", "participants[0]"},
			{"POST", "/conversations", `{"participants": ["a\ud800", "b"], "distinct": false}`, "participants[0]"},
			{"POST", "/conversations", `{"participants": ["a\udc00\ud800", "b"], "distinct": false}`, "participants[0]"},
			{"POST", "/conversations", "{\"participants\": [\"a\"], \"metadata\": {\"k\": \"\xc0\xae\"}}", "metadata.k"},
			{"POST", "/conversations", "{\"participants\": [\"a\"], \"metadata\": {\"k\xff\": 1}}", "metadata.k\ufffd"},
			{"PUT", "/users/alice/identity", "{\"display_name\": \"\xed\xa0\x80\"}", "display_name"},
			{"POST", "/conversations/" + conv + "/messages", "{\"sender\": {\"user_id\": \"alice\"}, \"parts\": [{\"mime_type\": \"text/plain\", \"body\": \"ok\"}, {\"mime_type\": \"text/plain\", \"body\": \"\xfe\"}]}", "parts[1].body"},
			{"PATCH", "/conversations/" + conv, "[{\"operation\": \"set\", \"property\": \"metadata.x\", \"value\": \"\xff\"}]", "operations[0].value"},
		} {
			a.do(tc.method, tc.path, tc.body).wantError(t, 422, "invalid_property", tc.property)
		}
		a.wantEvents(t, mark)

		// JSON kept as it came (metadata) keeps its escapes byte for byte,
		// NUL included, on every engine.
		body := `{"participants":["alice","carol"],"metadata":{"nul":"a\u0000b","pair":"\ud83d\ude00","esc":"\u00e9"}}`
		c := a.do("POST", "/conversations", body).must(t, 201)
		var got struct {
			ID       string          `json:"id"`
			Metadata json.RawMessage `json:"metadata"`
		}
		c.JSON(t, &got)
		want := `{"nul":"a\u0000b","pair":"\ud83d\ude00","esc":"\u00e9"}`
		if string(got.Metadata) != want {
			t.Fatalf("metadata came back as %s, want %s", got.Metadata, want)
		}
		a.do("GET", "/conversations/"+localID(got.ID), nil).must(t, 200).JSON(t, &got)
		if string(got.Metadata) != want {
			t.Fatalf("metadata read back as %s, want %s", got.Metadata, want)
		}
	})
}

// Metadata nests at most 64 levels (probe 3.3), however it is written.
func TestMetadataDepthIsBounded(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		nested := func(levels int) string {
			return strings.Repeat(`{"a":`, levels-1) + `{}` + strings.Repeat(`}`, levels-1)
		}
		a.do("POST", "/conversations", `{"participants":["a"],"distinct":false,"metadata":`+nested(64)+`}`).must(t, 201)
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		for _, body := range []string{nested(65), nested(9990)} {
			e := a.do("POST", "/conversations", `{"participants":["a"],"distinct":false,"metadata":`+body+`}`).
				wantError(t, 422, "invalid_property", "metadata")
			if obj(t, e["data"])["limit"] != 64.0 {
				t.Fatalf("depth error data: %v", e["data"])
			}
			a.do("PUT", "/users/alice/identity", `{"metadata":`+body+`}`).wantError(t, 422, "invalid_property", "metadata")
			a.do("PATCH", "/conversations/"+conv, `{"metadata":`+body+`}`).wantError(t, 422, "invalid_property", "metadata")
		}
		// A Layer-Patch path adds levels too.
		a.do("PATCH", "/conversations/"+conv, []any{patch("set", "metadata"+strings.Repeat(".a", 40), map[string]any{"b": 1})}).must(t, 204)
		a.do("PATCH", "/conversations/"+conv, []any{patch("set", "metadata"+strings.Repeat(".a", 70), 1)}).
			wantError(t, 422, "invalid_property", "metadata")
		a.do("PATCH", "/conversations/"+conv, []any{patch("set", "metadata"+strings.Repeat(".a", 40), json.RawMessage(nested(30)))}).
			wantError(t, 422, "invalid_property", "metadata")
		a.wantEvents(t, mark, "conversation.updated.metadata")
	})
}

// Type errors name JSON's types, not Go's (probe 3.2).
func TestTypeErrorsNameJSONTypes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		for _, tc := range []struct {
			path     string
			body     any
			property string
			want     string
		}{
			{"/conversations", map[string]any{"participants": "alice"}, "participants", "participants must be a JSON array, not a string"},
			{"/conversations", map[string]any{"participants": []string{"a"}, "distinct": "yes"}, "distinct", "distinct must be a JSON boolean, not a string"},
			{"/webhooks", withKey(hookBody(rc.URL, "message.sent"), "timeout_seconds", "5"), "timeout_seconds", "timeout_seconds must be a JSON number, not a string"},
			{"/webhooks", withKey(hookBody(rc.URL, "message.sent"), "secret", 5), "secret", "secret must be a JSON string, not a number"},
			{"/webhooks", withKey(hookBody(rc.URL, "message.sent"), "events", map[string]any{}), "events", "events must be a JSON array, not an object"},
			{"/conversations", map[string]any{"participants": []string{"a"}, "metadata": []any{}, "distinct": []any{}}, "distinct", "distinct must be a JSON boolean, not an array"},
		} {
			e := a.do("POST", tc.path, tc.body).wantError(t, 422, "invalid_property", tc.property)
			if msg := e["message"].(string); !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("POST %s %v: message %q, want it to start with %q", tc.path, tc.body, msg, tc.want)
			}
		}
	})
}
