package http_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// allErrorIDs are the error ids Herald documents.
var allErrorIDs = []string{
	"service_unavailable", "authentication_required", "invalid_operation", "invalid_request",
	"internal_server_error", "access_denied", "not_found", "missing_property", "invalid_property",
	"invalid_endpoint", "invalid_header", "conflict", "method_not_allowed", "id_in_use",
	"payload_too_large", "upload_mismatch", "url_expired", "rate_limit_exceeded", "request_timeout",
	"insufficient_storage", "quota_exceeded", "invalid_request_id", "gone", "participant_blocked", "user_suspended",
	"invalid_app_id", "reengagement_required",
}

func TestErrorCatalogue(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var list []map[string]any
		a.doAs("", "GET", "//errors", nil).must(t, 200).JSON(t, &list)
		var ids []string
		codes := map[string]float64{}
		statuses := map[string]float64{}
		last := -1.0
		for _, e := range list {
			wantKeys(t, "catalogue entry", e, "id", "code", "status", "description")
			id, _ := e["id"].(string)
			code, _ := e["code"].(float64)
			if code <= last {
				t.Fatalf("the catalogue is not ordered by code: %v after %v", code, last)
			}
			last = code
			if d, _ := e["description"].(string); d == "" {
				t.Fatalf("%s has no description", id)
			}
			ids = append(ids, id)
			codes[id], statuses[id] = code, e["status"].(float64)
		}
		slices.Sort(ids)
		if want := slices.Sorted(slices.Values(allErrorIDs)); !slices.Equal(ids, want) {
			t.Fatalf("the catalogue lists %v, want %v", ids, want)
		}

		// Error bodies point into the catalogue, with the code and status
		// it lists.
		for _, res := range []*response{
			a.do("GET", "/conversations/"+uuid.NewString(), nil),
			a.do("POST", "/conversations", map[string]any{}),
			a.do("POST", "/conversations", "{"),
			a.doAs("", "GET", "/conversations", nil),
			a.do("PUT", "/events", nil),
			a.do("GET", "/nothing/here", nil),
		} {
			e := res.Map(t)
			wantKeys(t, "error body", without(e, "data"), "id", "code", "message", "url")
			id := e["id"].(string)
			if e["url"] != a.URL+"/errors#"+id {
				t.Fatalf("error url %v", e["url"])
			}
			if e["code"] != codes[id] || float64(res.Status) != statuses[id] {
				t.Fatalf("%s: code %v status %d; the catalogue says %v %v", id, e["code"], res.Status, codes[id], statuses[id])
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("%s: Content-Type %q", id, ct)
			}
		}
		e := a.do("GET", "/conversations/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
		if e["code"] != 102.0 {
			t.Fatalf("not_found has code %v, want Layer's 102", e["code"])
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		m := localID(a.sendText(t, conv, "alice", "hi")["id"])
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "A"}).must(t, 201)
		routes := []struct{ method, path string }{
			{"PUT", "/users/alice/identity"},
			{"POST", "/users/zed/identity"},
			{"PATCH", "/users/alice/identity"},
			{"POST", "/conversations"},
			{"PATCH", "/conversations/" + conv},
			{"POST", "/conversations/" + conv + "/messages"},
			{"POST", "/users/bob/messages/" + m + "/receipts"},
			{"POST", "/announcements"},
		}
		for _, body := range []string{`{"a": `, `{"a": 1}}`, `not json`, `{'a': 1}`, "", "   "} {
			for _, r := range routes {
				mark := a.eventMark()
				a.do(r.method, r.path, body).wantError(t, 400, "invalid_request", "")
				a.wantEvents(t, mark)
			}
		}
		e := a.do("POST", "/conversations", `{"participants": ["a"],}`).wantError(t, 400, "invalid_request", "")
		if _, ok := obj(t, e["data"])["offset"].(float64); !ok {
			t.Fatalf("a syntax error without its offset: %v", e)
		}
	})
}

// jsonOfSize returns a valid conversation creation body of exactly n bytes.
func jsonOfSize(n int) string {
	head, tail := `{"participants":["alice"],"distinct":false,"metadata":{"pad":"`, `"}}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

func TestBodySizeLimit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		a.do("POST", "/conversations", jsonOfSize(1<<20)).must(t, 201)

		mark := a.eventMark()
		e := a.do("POST", "/conversations", jsonOfSize(1<<20+1)).wantError(t, 413, "payload_too_large", "")
		if obj(t, e["data"])["limit"] != float64(1<<20) {
			t.Fatalf("payload_too_large data: %v", e["data"])
		}
		big := strings.Repeat("x", 1<<20)
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": big}).wantError(t, 413, "payload_too_large", "")
		a.do("POST", "/conversations/"+conv+"/messages", text(user("alice"), big)).wantError(t, 413, "payload_too_large", "")
		a.do("PATCH", "/conversations/"+conv, map[string]any{"metadata": map[string]any{"x": big}}).wantError(t, 413, "payload_too_large", "")
		a.wantEvents(t, mark)
	})
}

func TestUnknownEndpoints(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/nothing"},
			{"GET", "/conversations/x/participants"},
			{"POST", "/conversations/x/messages/y/reactions"},
			{"GET", "/users/alice/nothing"},
			{"GET", "//"},
			{"GET", "//v1/conversations"},
			{"GET", "//apps"},
			{"DELETE", "//apps/" + uuid.NewString() + "/nothing"},
		} {
			a.do(r.method, r.path, nil).wantError(t, 404, "invalid_endpoint", "")
			// With or without a token: the endpoint does not exist either way.
			a.doAs("", r.method, r.path, nil).wantError(t, 404, "invalid_endpoint", "")
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		id := uuid.NewString()
		for _, tc := range []struct{ method, path, allow string }{
			{"PUT", "/conversations", "GET, POST"},
			{"DELETE", "/conversations", "GET, POST"},
			{"PUT", "/conversations/" + id, "GET, PATCH, DELETE"},
			{"POST", "/conversations/" + id, "GET, PATCH, DELETE"},
			{"PATCH", "/conversations/" + id + "/messages", "GET, POST"},
			{"PUT", "/conversations/" + id + "/messages/" + id, "GET, DELETE"},
			{"POST", "/messages/" + id, "GET, DELETE"},
			{"PATCH", "/users/u/messages/" + id, "GET, DELETE"},
			{"GET", "/users/u/messages/" + id + "/receipts", "POST"},
			{"PUT", "/users/u/conversations", "GET, POST"},
			{"GET", "/announcements", "POST"},
			{"PATCH", "/users/u/announcements/" + id, "GET, DELETE"},
			{"GET", "/conversations/" + id + "/content", "POST"},
			{"DELETE", "/content/" + id, "GET"},
			{"POST", "/events", "GET"},
			{"POST", "//health", "GET"},
			{"DELETE", "//errors", "GET"},
			{"GET", "//uploads/" + id, "POST, PUT"},
			{"PUT", "//content/" + id, "GET"},
		} {
			for _, token := range []string{a.Token, ""} {
				res := a.doAs(token, tc.method, tc.path, nil)
				res.wantError(t, 405, "method_not_allowed", "")
				if got := res.Header.Get("Allow"); got != tc.allow {
					t.Fatalf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
				}
			}
		}
	})
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		for _, path := range []string{"/conversations", "/conversations/" + conv, "/events", "/users/alice/identity"} {
			for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer nope", "Basic " + a.Token, a.Token, "Bearer " + a.Token + "x"} {
				res := a.doAs("", "GET", path, nil, "Authorization", auth)
				e := res.wantError(t, 401, "authentication_required", "")
				if res.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("GET %s with Authorization %q: 401 without WWW-Authenticate", path, auth)
				}
				if strings.Contains(string(res.Body), conv) || e["data"] != nil && len(obj(t, e["data"])) > 0 {
					t.Fatalf("a 401 tells too much: %s", res.Body)
				}
			}
		}
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/conversations", map[string]any{"participants": []string{"x"}}},
			{"DELETE", "/conversations/" + conv, nil},
			{"PUT", "/users/x/identity", map[string]any{}},
			{"POST", "/announcements", map[string]any{"recipients": []string{"x"}, "sender": map[string]any{"name": "n"}, "parts": []any{part1()}}},
			{"POST", "/conversations/" + conv + "/messages", text(user("alice"), "x")},
		} {
			a.doAs("bad", r.method, r.path, r.body).wantError(t, 401, "authentication_required", "")
		}
		a.wantEvents(t, mark)
		a.conversation(t, conv)
		// A token may come with extra whitespace.
		a.doAs("", "GET", "/conversations", nil, "Authorization", "Bearer   "+a.Token+"  ").must(t, 200)
	})
}

// TestOtherAppsAreInvisible checks that an app token sees nothing of another
// app: not through the other app's paths, nor with its object ids.
func TestOtherAppsAreInvisible(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		// App B, with one object of every kind.
		appB, tokenB := a.newApp("b")
		b := &api{t: t, URL: a.URL, AppID: appB, Token: tokenB}
		b.do("PUT", "/users/bob/identity", map[string]any{"display_name": "Bob of B"}).must(t, 201)
		convB := b.newConversation(t, "bob", "beth")
		msgB := localID(b.sendText(t, convB, "bob", "secret")["id"])
		data := []byte("b's bytes")
		contentB := localID(b.uploaded(t, convB, "text/plain", data))
		annB := localID(b.do("POST", "/announcements", map[string]any{"recipients": []string{"bob"}, "sender": map[string]any{"name": "B"},
			"parts": []any{part1()}}).must(t, 202).Map(t)["id"])
		eventsB := b.events()
		convBefore := b.conversation(t, convB)
		msgBefore := b.do("GET", "/messages/"+msgB, nil).must(t, 200).Map(t)
		secrets := []string{convB, msgB, contentB, annB, "Bob of B", "secret", eventsB[0]["id"].(string)}

		// App A, with the same user ids.
		conv := a.newConversation(t, "bob", "beth")
		a.do("PUT", "/users/beth/identity", map[string]any{"display_name": "Beth of A"}).must(t, 201)
		eventsA := a.events()

		// noLeak checks that a response shows nothing of B that the request
		// did not itself name.
		noLeak := func(t *testing.T, res *response, request string) {
			t.Helper()
			for _, s := range secrets {
				if strings.Contains(string(res.Body), s) && !strings.Contains(request, s) {
					t.Fatalf("the response shows %q of app B: %s", s, res.Body)
				}
			}
		}
		receipt := map[string]any{"type": "read"}
		msgBody := text(user("bob"), "intrusion")
		patchBody := []any{patch("add", "participants", "mallory")}

		// A's token on B's paths: B does not exist for it.
		pathB := a.URL + "/apps/" + appB
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/conversations", nil},
			{"POST", "/conversations", map[string]any{"participants": []string{"bob", "beth"}}},
			{"GET", "/conversations/" + convB, nil},
			{"PATCH", "/conversations/" + convB, patchBody},
			{"DELETE", "/conversations/" + convB, nil},
			{"GET", "/users/bob/conversations", nil},
			{"GET", "/users/bob/conversations/" + convB, nil},
			{"GET", "/conversations/" + convB + "/messages", nil},
			{"POST", "/conversations/" + convB + "/messages", msgBody},
			{"GET", "/conversations/" + convB + "/messages/" + msgB, nil},
			{"DELETE", "/conversations/" + convB + "/messages/" + msgB, nil},
			{"GET", "/messages/" + msgB, nil},
			{"DELETE", "/messages/" + msgB, nil},
			{"GET", "/users/bob/conversations/" + convB + "/messages", nil},
			{"GET", "/users/bob/messages/" + msgB, nil},
			{"DELETE", "/users/bob/messages/" + msgB + "?mode=my_devices", nil},
			{"DELETE", "/users/bob/messages/" + msgB + "?mode=all_participants", nil},
			{"POST", "/users/bob/messages/" + msgB + "/receipts", receipt},
			{"POST", "/users/bob/messages/" + annB + "/receipts", receipt},
			{"GET", "/users/bob/identity", nil},
			{"PUT", "/users/bob/identity", map[string]any{"display_name": "Mallory"}},
			{"POST", "/users/zed/identity", map[string]any{"display_name": "Mallory"}},
			{"PATCH", "/users/bob/identity", map[string]any{"display_name": "Mallory"}},
			{"DELETE", "/users/bob/identity", nil},
			{"POST", "/announcements", map[string]any{"recipients": []string{"bob"}, "sender": map[string]any{"name": "M"}, "parts": []any{part1()}}},
			{"GET", "/users/bob/announcements", nil},
			{"GET", "/users/bob/announcements/" + annB, nil},
			{"POST", "/conversations/" + convB + "/content", nil},
			{"GET", "/content/" + contentB, nil},
			{"GET", "/events", nil},
			{"GET", "/events?after=" + eventsB[0]["id"].(string), nil},
		} {
			res := a.do(r.method, pathB+r.path, r.body, "Upload-Content-Type", "text/plain", "Upload-Content-Length", "3")
			res.wantError(t, 404, "not_found", "")
			noLeak(t, res, "")
		}

		// A's token on A's paths, with B's ids: nothing of B is found.
		for _, r := range []struct {
			method, path string
			body         any
			status       int
			id, property string
		}{
			{"GET", "/conversations/" + convB, nil, 404, "not_found", ""},
			{"PATCH", "/conversations/" + convB, patchBody, 404, "not_found", ""},
			{"DELETE", "/conversations/" + convB, nil, 404, "not_found", ""},
			{"GET", "/users/bob/conversations/" + convB, nil, 404, "not_found", ""},
			{"GET", "/conversations/" + convB + "/messages", nil, 404, "not_found", ""},
			{"POST", "/conversations/" + convB + "/messages", msgBody, 404, "not_found", ""},
			{"GET", "/conversations/" + conv + "/messages?from_id=" + msgB, nil, 422, "invalid_property", "from_id"},
			{"GET", "/messages/" + msgB, nil, 404, "not_found", ""},
			{"GET", "/conversations/" + convB + "/messages/" + msgB, nil, 404, "not_found", ""},
			{"DELETE", "/conversations/" + convB + "/messages/" + msgB, nil, 404, "not_found", ""},
			{"DELETE", "/messages/" + msgB, nil, 404, "not_found", ""},
			{"GET", "/users/bob/messages/" + msgB, nil, 404, "not_found", ""},
			{"DELETE", "/users/bob/messages/" + msgB + "?mode=my_devices", nil, 404, "not_found", ""},
			{"DELETE", "/users/bob/messages/" + msgB + "?mode=all_participants", nil, 404, "not_found", ""},
			{"POST", "/users/bob/messages/" + msgB + "/receipts", receipt, 404, "not_found", ""},
			{"POST", "/users/bob/messages/" + annB + "/receipts", receipt, 404, "not_found", ""},
			{"GET", "/users/bob/identity", nil, 404, "not_found", ""},
			{"PATCH", "/users/bob/identity", map[string]any{"display_name": "Mallory"}, 404, "not_found", ""},
			{"DELETE", "/users/bob/identity", nil, 404, "not_found", ""},
			{"GET", "/users/bob/announcements/" + annB, nil, 404, "not_found", ""},
			{"POST", "/conversations/" + convB + "/content", nil, 404, "not_found", ""},
			{"GET", "/content/" + contentB, nil, 404, "not_found", ""},
			{"POST", "/conversations/" + conv + "/messages", map[string]any{"sender": user("bob"),
				"parts": []any{contentPart("text/plain", contentB, len(data))}}, 422, "invalid_property", "parts[0].content.id"},
			{"POST", "/announcements", map[string]any{"recipients": []string{"bob"}, "sender": map[string]any{"name": "M"},
				"parts": []any{contentPart("text/plain", contentB, len(data))}}, 422, "invalid_property", "parts[0].content.id"},
			{"GET", "/events?after=" + eventsB[0]["id"].(string), nil, 422, "invalid_property", "after"},
		} {
			res := a.do(r.method, r.path, r.body, "Upload-Content-Type", "text/plain", "Upload-Content-Length", "3")
			res.wantError(t, r.status, r.id, r.property)
			noLeak(t, res, r.path+canon(t, r.body))
		}
		for _, path := range []string{"/conversations", "/users/bob/conversations", "/users/bob/announcements", "/events"} {
			noLeak(t, a.do("GET", path, nil).must(t, 200), "")
		}

		// Nothing changed in B, and A recorded nothing either.
		wantJSON(t, "B's events", b.events(), eventsB)
		wantJSON(t, "B's conversation", b.conversation(t, convB), convBefore)
		wantJSON(t, "B's message", b.do("GET", "/messages/"+msgB, nil).must(t, 200).Map(t), msgBefore)
		if got := b.do("GET", "/users/bob/identity", nil).must(t, 200).Map(t); got["display_name"] != "Bob of B" {
			t.Fatalf("B's identity: %v", got)
		}
		if got := b.do("GET", "/users/bob/announcements/"+annB, nil).must(t, 200).Map(t); canon(t, got["recipient_status"]) != `{"bob":"sent"}` {
			t.Fatalf("B's announcement: %v", got)
		}
		wantJSON(t, "A's events", a.events(), eventsA)
	})
}

// A value of the wrong JSON type is the client's error, named in
// data.property; it is never a server error.
func TestWrongJSONTypes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		m := localID(a.sendText(t, conv, "alice", "hi")["id"])
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "A"}).must(t, 201)
		for _, tc := range []struct {
			method, path string
			body         any
			property     string
		}{
			{"PUT", "/users/alice/identity", map[string]any{"display_name": 5}, "display_name"},
			{"PUT", "/users/alice/identity", map[string]any{"avatar_url": []any{}}, "avatar_url"},
			{"PATCH", "/users/alice/identity", map[string]any{"phone_number": true}, "phone_number"},
			{"PATCH", "/users/alice/identity", map[string]any{"metadata": 5}, "metadata"},
			{"POST", "/conversations", map[string]any{"participants": 5}, "participants"},
			{"POST", "/conversations", map[string]any{"participants": true}, "participants"},
			{"POST", "/conversations", map[string]any{"participants": []any{"a", 5}}, "participants[1]"},
			{"POST", "/conversations", map[string]any{"participants": []any{"a"}, "distinct": 1}, "distinct"},
			{"POST", "/conversations", map[string]any{"participants": []any{"a"}, "metadata": 5}, "metadata"},
			{"PATCH", "/conversations/" + conv, map[string]any{"participants": 5}, "participants"},
			{"PATCH", "/conversations/" + conv, map[string]any{"participants": []any{"a", 5}}, "participants"},
			{"PATCH", "/conversations/" + conv, map[string]any{"metadata": 5}, "metadata"},
			{"PATCH", "/conversations/" + conv, []any{patch("set", "metadata", 5)}, "operations[0].value"},
			{"PATCH", "/conversations/" + conv, []any{patch("set", "participants", 5)}, "operations[0].value"},
			{"POST", "/conversations/" + conv + "/messages", map[string]any{"sender": 5, "parts": []any{part1()}}, "sender"},
			{"POST", "/conversations/" + conv + "/messages", map[string]any{"sender": user("alice"), "parts": 5}, "parts"},
			{"POST", "/conversations/" + conv + "/messages", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": 5, "body": "x"}}}, "parts.mime_type"},
			{"POST", "/conversations/" + conv + "/messages", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": "text/plain", "content": "x"}}}, "parts.content"},
			{"POST", "/conversations/" + conv + "/messages", map[string]any{"sender": user("alice"), "parts": []any{part1()}, "notification": 5}, "notification"},
			{"POST", "/users/bob/messages/" + m + "/receipts", map[string]any{"type": []any{"read"}}, "type"},
			{"POST", "/announcements", map[string]any{"recipients": 5, "sender": map[string]any{"name": "n"}, "parts": []any{part1()}}, "recipients"},
			{"POST", "/announcements", map[string]any{"recipients": []any{"a"}, "sender": map[string]any{"name": 5}, "parts": []any{part1()}}, "sender.name"},
		} {
			name := fmt.Sprintf("%s %s %s", tc.method, tc.path, canon(t, tc.body))
			t.Run(name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				res := a.do(tc.method, tc.path, tc.body)
				if res.Status < 400 || res.Status >= 500 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				res.wantError(t, 422, "invalid_property", tc.property)
				a.wantEvents(t, mark)
			})
		}
	})
}

// Bodies that are valid JSON but not what an endpoint takes are refused
// with a 4xx, never a server error.
func TestOddBodiesAreClientErrors(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		m := localID(a.sendText(t, conv, "alice", "hi")["id"])
		routes := []struct{ method, path string }{
			{"PUT", "/users/alice/identity"},
			{"PATCH", "/users/alice/identity"},
			{"POST", "/conversations"},
			{"PATCH", "/conversations/" + conv},
			{"POST", "/conversations/" + conv + "/messages"},
			{"POST", "/users/bob/messages/" + m + "/receipts"},
			{"POST", "/announcements"},
		}
		bodies := []string{`null`, `0`, `"x"`, `[]`, `[null]`, `[{}]`, `{}`, `{"participants": null}`, `{"parts": [null]}`,
			`{"sender": null, "parts": null}`, `{"metadata": null}`, `{"participants": [null]}`, `[{"operation": null}]`,
			`{"recipients": [{}], "sender": {}}`, `{"participants": [{"user_id": 5}]}`, `{"parts": [{"content": null, "body": null}]}`}
		for _, r := range routes {
			for _, body := range bodies {
				res := a.do(r.method, r.path, body)
				if res.Status >= 500 {
					t.Fatalf("%s %s %s: status %d: %s", r.method, r.path, body, res.Status, res.Body)
				}
				if res.Status >= 400 {
					m := res.Map(t)
					if m["id"] == nil || m["message"] == nil {
						t.Fatalf("%s %s %s: error body %s", r.method, r.path, body, res.Body)
					}
				}
			}
		}
	})
}

func TestMethodOverride(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		a.do("POST", "/conversations/"+conv, map[string]any{"metadata": map[string]any{"via": "override"}},
			"X-HTTP-Method-Override", "PATCH").must(t, 204)
		got := a.conversation(t, conv)
		wantJSON(t, "metadata", got["metadata"], map[string]any{"via": "override"})
		a.wantEvents(t, mark, "conversation.updated.metadata")
		wantJSON(t, "GET", a.conversation(t, conv), got)

		// Any case; and on identities the override gives PATCH semantics.
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "A", "last_name": "Liddell"}).must(t, 201)
		a.do("POST", "/users/alice/identity", map[string]any{"display_name": "Alice"}, "X-HTTP-Method-Override", "patch").must(t, 204)
		got = a.do("GET", "/users/alice/identity", nil).must(t, 200).Map(t)
		if got["display_name"] != "Alice" || got["last_name"] != "Liddell" {
			t.Fatalf("overridden identity POST: %v", got)
		}
		// Only POST is overridden, and only to PATCH.
		a.do("GET", "/conversations/"+conv, nil, "X-HTTP-Method-Override", "DELETE").must(t, 200)
		a.do("POST", "/conversations/"+conv, nil, "X-HTTP-Method-Override", "DELETE").wantError(t, 405, "method_not_allowed", "")
		a.conversation(t, conv)
	})
}
