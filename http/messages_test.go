package http_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var messageKeys = []string{"id", "url", "conversation", "parts", "sent_at", "sender", "recipient_status", "position"}

// text is a message body of one text/plain part.
func text(sender map[string]any, body string) map[string]any {
	return map[string]any{"sender": sender, "parts": []any{map[string]any{"mime_type": "text/plain", "body": body}}}
}

func user(id string) map[string]any { return map[string]any{"user_id": id} }

// sendText sends a text message from a user and returns it as rendered.
func (a *api) sendText(t *testing.T, conv, sender, body string) map[string]any {
	t.Helper()
	return a.do("POST", "/conversations/"+conv+"/messages", text(user(sender), body)).must(t, 201).Map(t)
}

// messageIDs lists the bare ids of a listing's messages.
func messageIDs(t *testing.T, r *response) []string {
	t.Helper()
	var list []map[string]any
	r.JSON(t, &list)
	ids := []string{}
	for _, m := range list {
		ids = append(ids, wantUUID(t, m["id"], "layer:///messages/"))
	}
	return ids
}

func (a *api) messageURL(id string) string { return a.URL + "/apps/" + a.AppID + "/messages/" + id }

func TestSendMessage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob", "carol")
		mark := a.eventMark()
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{
			"sender": user("alice"),
			"parts": []any{
				map[string]any{"mime_type": "text/plain", "body": "Hello, world"},
				map[string]any{"mime_type": "application/json", "body": `{"lat":1}`},
				map[string]any{"mime_type": "image/png", "body": "iVBORw0KGgo=", "encoding": "base64"},
			},
			"notification": map[string]any{"text": "Alice: Hello", "sound": "chime.aiff"},
		}).must(t, 201).Map(t)
		wantKeys(t, "message", m, messageKeys...)
		id := wantUUID(t, m["id"], "layer:///messages/")
		wantJSON(t, "message", without(m, "sent_at"), map[string]any{
			"id":           "layer:///messages/" + id,
			"url":          a.messageURL(id),
			"conversation": map[string]any{"id": "layer:///conversations/" + conv, "url": a.conversationURL(conv)},
			"parts": []any{
				map[string]any{"id": "layer:///messages/" + id + "/parts/0", "mime_type": "text/plain", "body": "Hello, world"},
				map[string]any{"id": "layer:///messages/" + id + "/parts/1", "mime_type": "application/json", "body": `{"lat":1}`},
				map[string]any{"id": "layer:///messages/" + id + "/parts/2", "mime_type": "image/png", "body": "iVBORw0KGgo=", "encoding": "base64"},
			},
			"sender":           map[string]any{"user_id": "alice"},
			"recipient_status": map[string]any{"alice": "read", "bob": "sent", "carol": "sent"},
			"position":         1,
		})
		a.wantNow(t, m["sent_at"])
		ev := a.wantEvents(t, mark, "message.sent")[0]
		wantJSON(t, "actor", ev["actor"], user("alice"))
		if d := obj(t, eventData(t, ev)["message"]); d["id"] != id {
			t.Fatalf("message.sent data.message: %v", d)
		}

		// Every way to read it gives the same message; the user views add
		// is_unread.
		for _, path := range []string{"/messages/" + id, "/messages/" + esc("layer:///messages/"+id),
			"/conversations/" + conv + "/messages/" + id, "/conversations/" + esc("layer:///conversations/"+conv) + "/messages/" + esc("layer:///messages/"+id),
			m["url"].(string)} {
			wantJSON(t, path, a.do("GET", path, nil).must(t, 200).Map(t), m)
		}
		for who, unread := range map[string]bool{"alice": false, "bob": true, "carol": true} {
			got := a.do("GET", "/users/"+who+"/messages/"+id, nil).must(t, 200).Map(t)
			if got["is_unread"] != unread {
				t.Fatalf("%s sees is_unread %v, want %v", who, got["is_unread"], unread)
			}
			if got["received_at"] != m["sent_at"] {
				t.Fatalf("%s received it at %v, want as it was sent, %v", who, got["received_at"], m["sent_at"])
			}
			wantJSON(t, who+"'s view", without(got, "is_unread", "received_at"), m)
		}
		a.do("GET", "/users/dave/messages/"+id, nil).wantError(t, 404, "not_found", "")

		// Positions count up; the sender may be given as an identity.
		m2 := a.do("POST", "/conversations/"+conv+"/messages", text(map[string]any{"id": "layer:///identities/bob"}, "hi")).must(t, 201).Map(t)
		wantJSON(t, "second sender", m2["sender"], user("bob"))
		wantJSON(t, "second recipient_status", m2["recipient_status"], map[string]any{"alice": "sent", "bob": "read", "carol": "sent"})
		if m2["position"] != 2.0 {
			t.Fatalf("second message at position %v", m2["position"])
		}
		if m3 := a.sendText(t, esc("layer:///conversations/"+conv), "carol", "yo"); m3["position"] != 3.0 {
			t.Fatalf("third message at position %v", m3["position"])
		}
		a.do("GET", "/messages/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
	})
}

func TestSendMessageFromNamedSender(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		m := a.do("POST", "/conversations/"+conv+"/messages", text(map[string]any{"name": "Herald Bot"}, "Welcome")).must(t, 201).Map(t)
		wantJSON(t, "sender", m["sender"], map[string]any{"user_id": nil, "name": "Herald Bot"})
		wantJSON(t, "recipient_status", m["recipient_status"], map[string]any{"alice": "sent", "bob": "sent"})
		ev := a.wantEvents(t, mark, "message.sent")[0]
		wantJSON(t, "actor", ev["actor"], map[string]any{"name": "Herald Bot"})
		wantJSON(t, "GET", a.do("GET", "/messages/"+localID(m["id"]), nil).must(t, 200).Map(t), m)
	})
}

func TestSendMessageValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		part := map[string]any{"mime_type": "text/plain", "body": "x"}
		parts := []any{part}
		for _, tc := range []struct {
			name         string
			body         any
			status       int
			id, property string
		}{
			{"sender not a participant", text(user("mallory"), "x"), 422, "invalid_property", "sender.user_id"},
			{"no sender", map[string]any{"parts": parts}, 422, "missing_property", "sender"},
			{"empty sender", map[string]any{"sender": map[string]any{}, "parts": parts}, 422, "missing_property", "sender"},
			{"blank sender name", map[string]any{"sender": map[string]any{"name": "  "}, "parts": parts}, 422, "missing_property", "sender"},
			{"both user_id and name", map[string]any{"sender": map[string]any{"user_id": "alice", "name": "A"}, "parts": parts}, 422, "invalid_property", "sender"},
			{"sender a string", map[string]any{"sender": "alice", "parts": parts}, 422, "invalid_property", "sender"},
			{"sender.user_id a number", map[string]any{"sender": map[string]any{"user_id": 7}, "parts": parts}, 422, "invalid_property", "sender.user_id"},
			{"no parts", map[string]any{"sender": user("alice")}, 422, "missing_property", "parts"},
			{"empty parts", map[string]any{"sender": user("alice"), "parts": []any{}}, 422, "missing_property", "parts"},
			{"parts a string", map[string]any{"sender": user("alice"), "parts": "hello"}, 422, "invalid_property", "parts"},
			{"a part a string", map[string]any{"sender": user("alice"), "parts": []any{"hello"}}, 422, "invalid_property", "parts"},
			{"no mime_type", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"body": "x"}}}, 422, "missing_property", "parts[0].mime_type"},
			{"blank mime_type in the second part", map[string]any{"sender": user("alice"), "parts": []any{part, map[string]any{"mime_type": " ", "body": "x"}}}, 422, "missing_property", "parts[1].mime_type"},
			{"neither body nor content", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": "text/plain"}}}, 422, "missing_property", "parts[0].body"},
			{"body and content", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": "text/plain", "body": "x",
				"content": map[string]any{"id": uuid.NewString(), "size": 1}}}}, 422, "invalid_property", "parts[0]"},
			{"body a number", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": "text/plain", "body": 5}}}, 422, "invalid_property", "parts.body"},
			{"unknown encoding", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": "text/plain", "body": "x", "encoding": "gzip"}}}, 422, "invalid_property", "parts[0].encoding"},
			{"invalid base64", map[string]any{"sender": user("alice"), "parts": []any{map[string]any{"mime_type": "image/png", "body": "not base64!", "encoding": "base64"}}}, 422, "invalid_property", "parts[0].body"},
			{"notification a string", map[string]any{"sender": user("alice"), "parts": parts, "notification": "hi"}, 422, "invalid_property", "notification"},
			{"malformed JSON", `{"sender": {"user_id": "alice"}, "parts": [`, 400, "invalid_request", ""},
			{"body a list", []any{part}, 400, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				a.do("POST", "/conversations/"+conv+"/messages", tc.body).wantError(t, tc.status, tc.id, tc.property)
				a.wantEvents(t, mark)
			})
		}
		a.do("POST", "/conversations/"+uuid.NewString()+"/messages", text(user("alice"), "x")).wantError(t, 404, "not_found", "")
		if ids := messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)); len(ids) != 0 {
			t.Fatalf("refused requests sent messages %v", ids)
		}
		// The next message accepted still gets the first position.
		if m := a.sendText(t, conv, "alice", "first"); m["position"] != 1.0 {
			t.Fatalf("first accepted message at position %v", m["position"])
		}
	})
}

func TestPartBodyLimit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		bytesOf := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			return b
		}
		for _, tc := range []struct {
			name, body, encoding string
			ok                   bool
		}{
			{"2048 ASCII bytes", strings.Repeat("a", 2048), "", true},
			{"2049 ASCII bytes", strings.Repeat("a", 2049), "", false},
			{"2048 bytes of 2-byte runes", strings.Repeat("é", 1024), "", true},
			{"2050 bytes of 2-byte runes", strings.Repeat("é", 1025), "", false},
			{"2048 bytes in base64", base64.StdEncoding.EncodeToString(bytesOf(2048)), "base64", true},
			{"2049 bytes in base64", base64.StdEncoding.EncodeToString(bytesOf(2049)), "base64", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				p := map[string]any{"mime_type": "application/octet-stream", "body": tc.body}
				if tc.encoding != "" {
					p["encoding"] = tc.encoding
				}
				body := map[string]any{"sender": user("alice"), "parts": []any{part1(), p}}
				mark := a.eventMark()
				res := a.do("POST", "/conversations/"+conv+"/messages", body)
				if tc.ok {
					m := res.must(t, 201).Map(t)
					if got := obj(t, arr(t, m["parts"])[1])["body"]; got != tc.body {
						t.Fatalf("body came back as %d bytes", len(fmt.Sprint(got)))
					}
					a.wantEvents(t, mark, "message.sent")
					return
				}
				e := res.wantError(t, 422, "invalid_property", "parts[1].body")
				if msg := e["message"].(string); !strings.Contains(msg, "/conversations/{conversation_id}/content") {
					t.Fatalf("the error does not point to rich content: %q", msg)
				}
				a.wantEvents(t, mark)
			})
		}
	})
}

func part1() map[string]any { return map[string]any{"mime_type": "text/plain", "body": "see attached"} }

func TestSendMessageDeduplication(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		other := a.newConversation(t, "alice", "carol")
		key := uuid.NewString()

		mark := a.eventMark()
		res := a.do("POST", "/conversations/"+conv+"/messages", text(user("alice"), "once"), "If-None-Match", key).must(t, 201)
		if h := res.Header.Get("Herald-Replayed"); h != "" {
			t.Fatalf("a first request has Herald-Replayed %q", h)
		}
		first := res.Map(t)
		a.wantEvents(t, mark, "message.sent")

		// Retries, however worded, return the first message.
		for _, retry := range []struct {
			key  string
			body map[string]any
		}{
			{key, text(user("alice"), "once")},
			{`"` + key + `"`, text(user("alice"), "once")},
			{strings.ToUpper(key), text(user("bob"), "something else")},
		} {
			res := a.do("POST", "/conversations/"+conv+"/messages", retry.body, "If-None-Match", retry.key).must(t, 201)
			if h := res.Header.Get("Herald-Replayed"); h != "true" {
				t.Fatalf("a retry with %s has Herald-Replayed %q", retry.key, h)
			}
			wantJSON(t, "replayed message", res.Map(t), first)
		}
		a.wantEvents(t, mark, "message.sent")
		if ids := messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)); len(ids) != 1 {
			t.Fatalf("%d messages after retries, want 1", len(ids))
		}

		mark = a.eventMark()
		for _, bad := range []string{"not-a-uuid", "*", "12345"} {
			a.do("POST", "/conversations/"+conv+"/messages", text(user("alice"), "x"), "If-None-Match", bad).
				wantError(t, 400, "invalid_request_id", "If-None-Match")
		}
		a.do("POST", "/conversations/"+other+"/messages", text(user("alice"), "once"), "If-None-Match", key).
			wantError(t, 409, "id_in_use", "If-None-Match")
		a.wantEvents(t, mark)

		// Another key sends another message.
		second := a.do("POST", "/conversations/"+conv+"/messages", text(user("alice"), "once"), "If-None-Match", uuid.NewString()).must(t, 201).Map(t)
		if second["id"] == first["id"] {
			t.Fatal("a new key replayed the first message")
		}
		// A key whose message was deleted is used up.
		a.do("DELETE", "/conversations/"+conv+"/messages/"+localID(first["id"]), nil).must(t, 204)
		mark = a.eventMark()
		a.do("POST", "/conversations/"+conv+"/messages", text(user("alice"), "once"), "If-None-Match", key).
			wantError(t, 409, "id_in_use", "If-None-Match")
		a.wantEvents(t, mark)

		// Keys are per app.
		appB, tokenB := a.newApp("other")
		c := a.doAs(tokenB, "POST", a.URL+"/apps/"+appB+"/conversations", map[string]any{"participants": []string{"alice"}}).must(t, 201).Map(t)
		res = a.doAs(tokenB, "POST", a.URL+"/apps/"+appB+"/conversations/"+localID(c["id"])+"/messages", text(user("alice"), "x"), "If-None-Match", key).must(t, 201)
		if res.Header.Get("Herald-Replayed") != "" {
			t.Fatal("a key of app A replayed in app B")
		}
	})
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		other := a.newConversation(t, "alice", "carol")
		foreign := localID(a.sendText(t, other, "carol", "elsewhere")["id"])
		var sent []string // oldest first
		for i := range 5 {
			sent = append(sent, localID(a.sendText(t, conv, "alice", fmt.Sprint("m", i))["id"]))
		}
		newest := slices.Clone(sent)
		slices.Reverse(newest)

		res := a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)
		wantJSON(t, "messages", messageIDs(t, res), newest)
		var list []map[string]any
		res.JSON(t, &list)
		for i, m := range list {
			if m["position"] != float64(5-i) {
				t.Fatalf("message %d at position %v", i, m["position"])
			}
			if _, ok := m["is_unread"]; ok {
				t.Fatal("the app's listing has is_unread")
			}
		}
		wantJSON(t, "listed message", list[0], a.do("GET", "/messages/"+newest[0], nil).must(t, 200).Map(t))

		var pages [][]string
		next := "/conversations/" + conv + "/messages?page_size=2"
		for range 10 {
			res := a.do("GET", next, nil).must(t, 200)
			pages = append(pages, messageIDs(t, res))
			l := res.Header.Get("Link")
			if l == "" {
				break
			}
			u, ok := strings.CutSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			if !ok || !strings.HasPrefix(u, a.conversationURL(conv)+"/messages?") {
				t.Fatalf("Link %q", l)
			}
			next = u
		}
		wantJSON(t, "pages", pages, [][]string{newest[:2], newest[2:4], newest[4:]})

		ids := messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages?from_id="+url.QueryEscape("layer:///messages/"+newest[2]), nil).must(t, 200))
		wantJSON(t, "from_id", ids, newest[3:])

		a.do("GET", "/conversations/"+conv+"/messages?from_id="+foreign, nil).wantError(t, 422, "invalid_property", "from_id")
		a.do("GET", "/conversations/"+conv+"/messages?from_id="+uuid.NewString(), nil).wantError(t, 422, "invalid_property", "from_id")
		a.do("GET", "/conversations/"+conv+"/messages?page_size=0", nil).wantError(t, 422, "invalid_property", "page_size")
		a.do("GET", "/conversations/"+conv+"/messages?page_size=501", nil).wantError(t, 422, "invalid_property", "page_size")
		a.do("GET", "/conversations/"+uuid.NewString()+"/messages", nil).wantError(t, 404, "not_found", "")
		// A message is only found through its own conversation.
		a.do("GET", "/conversations/"+conv+"/messages/"+foreign, nil).wantError(t, 404, "not_found", "")
	})
}

func TestUserMessages(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		m1 := localID(a.sendText(t, conv, "alice", "one")["id"])
		m2 := localID(a.sendText(t, conv, "bob", "two")["id"])

		unread := func(who string) map[string]any {
			t.Helper()
			var list []map[string]any
			a.do("GET", "/users/"+who+"/conversations/"+conv+"/messages", nil).must(t, 200).JSON(t, &list)
			out := map[string]any{}
			for _, m := range list {
				out[localID(m["id"])] = m["is_unread"]
			}
			return out
		}
		wantJSON(t, "alice's unread", unread("alice"), map[string]any{m1: false, m2: true})
		wantJSON(t, "bob's unread", unread("bob"), map[string]any{m1: true, m2: false})

		a.do("POST", "/users/alice/messages/"+m2+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		wantJSON(t, "alice's unread after delivery", unread("alice"), map[string]any{m1: false, m2: true})
		a.do("POST", "/users/alice/messages/"+m2+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		wantJSON(t, "alice's unread after reading", unread("alice"), map[string]any{m1: false, m2: false})

		ids := messageIDs(t, a.do("GET", "/users/alice/conversations/"+conv+"/messages?page_size=1", nil).must(t, 200))
		wantJSON(t, "first page", ids, []string{m2})
		ids = messageIDs(t, a.do("GET", "/users/alice/conversations/"+conv+"/messages?page_size=1&from_id="+m2, nil).must(t, 200))
		wantJSON(t, "second page", ids, []string{m1})

		a.do("GET", "/users/carol/conversations/"+conv+"/messages", nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/carol/messages/"+m1, nil).wantError(t, 404, "not_found", "")
	})
}

func TestReceipts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob", "carol")
		m := localID(a.sendText(t, conv, "alice", "hi")["id"])
		status := func() any {
			t.Helper()
			return a.do("GET", "/messages/"+m, nil).must(t, 200).Map(t)["recipient_status"]
		}
		receipt := func(who, typ string) *response {
			t.Helper()
			return a.do("POST", "/users/"+who+"/messages/"+m+"/receipts", map[string]any{"type": typ})
		}

		for _, step := range []struct {
			name, who, typ string
			event          string
			want           map[string]any
		}{
			{"bob's delivery", "bob", "delivery", "message.delivered", map[string]any{"alice": "read", "bob": "delivered", "carol": "sent"}},
			{"bob's delivery again", "bob", "delivery", "", map[string]any{"alice": "read", "bob": "delivered", "carol": "sent"}},
			{"bob reads", "bob", "read", "message.read", map[string]any{"alice": "read", "bob": "read", "carol": "sent"}},
			{"bob's late delivery", "bob", "delivery", "", map[string]any{"alice": "read", "bob": "read", "carol": "sent"}},
			{"bob reads again", "bob", "read", "", map[string]any{"alice": "read", "bob": "read", "carol": "sent"}},
			{"carol reads without delivery", "carol", "read", "message.read", map[string]any{"alice": "read", "bob": "read", "carol": "read"}},
			{"carol's late delivery", "carol", "delivery", "", map[string]any{"alice": "read", "bob": "read", "carol": "read"}},
			{"the sender reads", "alice", "read", "", map[string]any{"alice": "read", "bob": "read", "carol": "read"}},
		} {
			mark := a.eventMark()
			res := receipt(step.who, step.typ).must(t, 204)
			if len(res.Body) != 0 {
				t.Fatalf("%s: 204 with body %q", step.name, res.Body)
			}
			wantJSON(t, step.name, status(), step.want)
			if step.event == "" {
				a.wantEvents(t, mark)
				continue
			}
			ev := a.wantEvents(t, mark, step.event)[0]
			wantJSON(t, step.name+": actor", ev["actor"], user(step.who))
			data := eventData(t, ev)
			if data["user_id"] != step.who || data["receipt"] != step.typ {
				t.Fatalf("%s: event data user_id %v receipt %v", step.name, data["user_id"], data["receipt"])
			}
			wantJSON(t, step.name+": event recipient_status", obj(t, data["message"])["recipient_status"], step.want)
		}

		// A Layer id in the path works too.
		conv2 := a.newConversation(t, "alice", "bob")
		m2 := localID(a.sendText(t, conv2, "alice", "x")["id"])
		a.do("POST", "/users/bob/messages/"+esc("layer:///messages/"+m2)+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		wantJSON(t, "status by Layer id", a.do("GET", "/messages/"+m2, nil).must(t, 200).Map(t)["recipient_status"], map[string]any{"alice": "read", "bob": "read"})

		// Refused receipts change nothing.
		before := status()
		mark := a.eventMark()
		receipt("dave", "read").wantError(t, 404, "not_found", "")
		receipt("bob", "seen").wantError(t, 422, "invalid_property", "type")
		receipt("bob", "").wantError(t, 422, "missing_property", "type")
		a.do("POST", "/users/bob/messages/"+m+"/receipts", map[string]any{}).wantError(t, 422, "missing_property", "type")
		a.do("POST", "/users/bob/messages/"+m+"/receipts", map[string]any{"type": 1}).wantError(t, 422, "invalid_property", "type")
		a.do("POST", "/users/bob/messages/"+m+"/receipts", `{"type":`).wantError(t, 400, "invalid_request", "")
		a.do("POST", "/users/bob/messages/"+uuid.NewString()+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		wantJSON(t, "status after refused receipts", status(), before)

		// Someone who joins later was no recipient of the earlier messages.
		a.do("PATCH", "/conversations/"+conv, []any{patch("add", "participants", "dave")}).must(t, 204)
		mark = a.eventMark()
		receipt("dave", "read").wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
	})
}

func TestDeleteMessageForEveryone(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		other := a.newConversation(t, "carol", "bob")
		keep := localID(a.sendText(t, conv, "alice", "keep")["id"])
		m := localID(a.sendText(t, conv, "bob", "oops")["id"])

		mark := a.eventMark()
		a.do("DELETE", "/conversations/"+other+"/messages/"+m, nil).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/conversations/"+conv+"/messages/"+m+"?mode=my_devices", nil).wantError(t, 422, "invalid_property", "mode")
		a.wantEvents(t, mark)
		a.do("GET", "/messages/"+m, nil).must(t, 200)

		res := a.do("DELETE", "/conversations/"+conv+"/messages/"+esc("layer:///messages/"+m), nil).must(t, 204)
		if len(res.Body) != 0 {
			t.Fatalf("204 with body %q", res.Body)
		}
		ev := a.wantEvents(t, mark, "message.deleted")[0]
		wantJSON(t, "actor", ev["actor"], nil)
		if d := obj(t, eventData(t, ev)["message"]); d["id"] != m || d["deleted_at"] == nil {
			t.Fatalf("message.deleted data.message: %v", d)
		}

		mark = a.eventMark()
		for _, path := range []string{"/messages/" + m, "/conversations/" + conv + "/messages/" + m, "/users/alice/messages/" + m, "/users/bob/messages/" + m} {
			a.do("GET", path, nil).wantError(t, 410, "gone", "")
		}
		for _, path := range []string{"/conversations/" + conv + "/messages", "/users/alice/conversations/" + conv + "/messages", "/users/bob/conversations/" + conv + "/messages"} {
			wantJSON(t, path, messageIDs(t, a.do("GET", path, nil).must(t, 200)), []string{keep})
		}
		a.do("DELETE", "/conversations/"+conv+"/messages/"+m, nil).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/users/alice/messages/"+m+"?mode=my_devices", nil).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/alice/messages/"+m+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.do("GET", "/conversations/"+conv+"/messages?from_id="+m, nil).wantError(t, 422, "invalid_property", "from_id")
		a.wantEvents(t, mark)

		// The position is not reused, and /messages/{id} deletes too.
		next := a.sendText(t, conv, "alice", "next")
		if next["position"] != 3.0 {
			t.Fatalf("the message after a deleted one is at position %v", next["position"])
		}
		a.do("DELETE", "/messages/"+localID(next["id"])+"?mode=all_participants", nil).must(t, 204)
		a.wantEvents(t, mark, "message.sent", "message.deleted")
	})
}

func TestDeleteMessageForMyDevices(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		m := localID(a.sendText(t, conv, "alice", "hi")["id"])
		keep := localID(a.sendText(t, conv, "alice", "still here")["id"])

		mark := a.eventMark()
		a.do("DELETE", "/users/bob/messages/"+esc("layer:///messages/"+m)+"?mode=my_devices", nil).must(t, 204)
		ev := a.wantEvents(t, mark, "message.deleted_for_user")[0]
		wantJSON(t, "actor", ev["actor"], user("bob"))
		if d := eventData(t, ev); d["user_id"] != "bob" || obj(t, d["message"])["id"] != m {
			t.Fatalf("message.deleted_for_user data: %v", d)
		}

		// Gone for bob only.
		a.do("GET", "/users/bob/messages/"+m, nil).wantError(t, 404, "not_found", "")
		wantJSON(t, "bob's messages", messageIDs(t, a.do("GET", "/users/bob/conversations/"+conv+"/messages", nil).must(t, 200)), []string{keep})
		wantJSON(t, "alice's messages", messageIDs(t, a.do("GET", "/users/alice/conversations/"+conv+"/messages", nil).must(t, 200)), []string{keep, m})
		wantJSON(t, "the app's messages", messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)), []string{keep, m})
		a.do("GET", "/users/alice/messages/"+m, nil).must(t, 200)
		a.do("GET", "/messages/"+m, nil).must(t, 200)

		mark = a.eventMark()
		a.do("DELETE", "/users/bob/messages/"+m+"?mode=my_devices", nil).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/bob/messages/"+m+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/users/carol/messages/"+m+"?mode=my_devices", nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
	})
}

func TestDeleteMessageModes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		m := localID(a.sendText(t, conv, "alice", "hi")["id"])

		mark := a.eventMark()
		a.do("DELETE", "/users/bob/messages/"+m, nil).wantError(t, 422, "missing_property", "mode")
		a.do("DELETE", "/users/bob/messages/"+m+"?mode=everyone", nil).wantError(t, 422, "invalid_property", "mode")
		a.do("DELETE", "/users/carol/messages/"+m+"?mode=all_participants", nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		a.do("GET", "/messages/"+m, nil).must(t, 200)

		a.do("DELETE", "/users/bob/messages/"+m+"?mode=all_participants", nil).must(t, 204)
		ev := a.wantEvents(t, mark, "message.deleted")[0]
		wantJSON(t, "actor", ev["actor"], user("bob"))
		for _, path := range []string{"/messages/" + m, "/users/alice/messages/" + m, "/users/bob/messages/" + m} {
			a.do("GET", path, nil).wantError(t, 410, "gone", "")
		}
		wantJSON(t, "messages", messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)), []string{})
	})
}

// A participant removed from a conversation no longer sees its messages
// through any per-user route, nor can post receipts or delete them.
func TestRemovedParticipantLosesAccess(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		msg := localID(a.do("POST", "/conversations/"+conv+"/messages", map[string]any{
			"sender": map[string]any{"user_id": "alice"},
			"parts":  []any{map[string]any{"mime_type": "text/plain", "body": "hi"}},
		}).must(t, 201).Map(t)["id"])
		a.do("GET", "/users/bob/messages/"+msg, nil).must(t, 200)

		a.do("PATCH", "/conversations/"+conv, []any{patch("remove", "participants", "bob")}).must(t, 204)
		mark := a.eventMark()
		a.do("GET", "/users/bob/messages/"+msg, nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/bob/conversations/"+conv+"/messages", nil).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/bob/messages/"+msg+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/users/bob/messages/"+msg+"?mode=my_devices", nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		// alice, still a participant, sees it.
		a.do("GET", "/users/alice/messages/"+msg, nil).must(t, 200)
	})
}

func TestLayerIDsAreNotUserIDs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "layer:///identities/"}}).
			wantError(t, 422, "invalid_property", "participants[1]")
		a.do("POST", "/conversations", map[string]any{"participants": []string{"layer:///conversations/x"}}).
			wantError(t, 422, "invalid_property", "participants[0]")
		// The identity form of a user id is still accepted.
		c := a.do("POST", "/conversations", map[string]any{"participants": []string{"layer:///identities/alice"}}).must(t, 201).Map(t)
		if p := c["participants"].([]any); len(p) != 1 || p[0] != "alice" {
			t.Fatalf("participants %v", p)
		}
	})
}
