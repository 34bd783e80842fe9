package http_test

import (
	"testing"

	"github.com/google/uuid"
)

// The Accept header chooses the version: none, or one that does not name
// Layer's media type, gets the default (1.1); Layer's media type with a
// version Herald does not serve gets Layer's 406.
func TestVersionNegotiation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		for _, h := range [][]string{nil, {"Accept", "*/*"}, {"Accept", "application/json"},
			{"Accept", "application/vnd.layer+json; version=1.0"}, {"Accept", "text/html, application/vnd.layer+json; version=1.1"}} {
			got := a.do("GET", "/conversations/"+conv, nil, h...).must(t, 200).Map(t)
			wantJSON(t, "participants with Accept "+h2s(h), got["participants"], []string{"alice", "bob"})
		}
		for _, v := range []string{"application/vnd.layer+json", "application/vnd.layer+json; version=4.0",
			"application/vnd.layer+json; version=2"} {
			e := a.do("GET", "/conversations/"+conv, nil, "Accept", v).wantError(t, 406, "invalid_header", "")
			wantJSON(t, "406 data for "+v, e["data"], map[string]any{"header": "Accept"})
			if e["code"] != float64(107) {
				t.Fatalf("406 code %v, want 107", e["code"])
			}
		}
	})
}

func h2s(h []string) string {
	if len(h) == 0 {
		return "(none)"
	}
	return h[1]
}

// Server API 2.0 and 3.0 name users by identity: requests give identity ids
// and sender_id, responses Basic Identities and statuses keyed by identity
// id; 1.x requests and responses keep bare user ids. One conversation, seen
// and changed in each version.
func TestVersionsNameUsersByIdentity(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice", "avatar_url": "https://example.com/a.png"}).must(t, 201)
		basic := func(u string) map[string]any {
			b := map[string]any{"id": "layer:///identities/" + u, "url": a.identityURL(u), "user_id": u,
				"display_name": nil, "avatar_url": nil}
			if u == "alice" {
				b["display_name"], b["avatar_url"] = "Alice", "https://example.com/a.png"
			}
			return b
		}
		for _, v := range []string{"2.0", "3.0"} {
			t.Run(v, func(t *testing.T) {
				h := accept(v)
				conv := a.do("POST", "/conversations", map[string]any{
					"participants": []string{"layer:///identities/alice", "layer:///identities/bob"}, "distinct": false,
				}, h...).must(t, 201).Map(t)
				wantJSON(t, "participants", conv["participants"], []any{basic("alice"), basic("bob")})
				id := localID(conv["id"])

				// Participants by identity id in Layer-Patch ("id", not "value").
				a.do("PATCH", "/conversations/"+id, []any{
					map[string]any{"operation": "add", "property": "participants", "id": "layer:///identities/carol"},
					map[string]any{"operation": "remove", "property": "participants", "id": "layer:///identities/bob"},
				}, h...).must(t, 204)
				got := a.do("GET", "/conversations/"+id, nil, h...).must(t, 200).Map(t)
				wantJSON(t, "patched participants", got["participants"], []any{basic("alice"), basic("carol")})
				a.do("PATCH", "/conversations/"+id, []any{
					map[string]any{"operation": "add", "property": "participants", "id": "x", "value": "y"},
				}, h...).wantError(t, 422, "invalid_property", "operations[0].id")

				// sender_id, and the message as 2.0 shows it.
				m := a.do("POST", "/conversations/"+id+"/messages", map[string]any{
					"sender_id": "layer:///identities/alice",
					"parts":     []any{map[string]any{"mime_type": "text/plain", "body": "hi"}},
				}, h...).must(t, 201).Map(t)
				wantJSON(t, "sender", m["sender"], basic("alice"))
				wantJSON(t, "recipient_status", m["recipient_status"], map[string]any{
					"layer:///identities/alice": "read", "layer:///identities/carol": "sent"})
				a.do("POST", "/conversations/"+id+"/messages", map[string]any{
					"sender_id": "layer:///identities/alice", "sender": user("alice"),
					"parts": []any{map[string]any{"mime_type": "text/plain", "body": "hi"}},
				}, h...).wantError(t, 422, "invalid_property", "sender_id")

				// The same message in 1.1.
				old := a.do("GET", "/messages/"+localID(m["id"]), nil, accept("1.1")...).must(t, 200).Map(t)
				wantJSON(t, "1.1 sender", old["sender"], map[string]any{"user_id": "alice"})
				wantJSON(t, "1.1 recipient_status", old["recipient_status"], map[string]any{"alice": "read", "carol": "sent"})

				// An announcement from an identity (2.0 dropped named
				// senders), listed to its recipients by identity.
				ann := a.do("POST", "/announcements", map[string]any{
					"sender_id": "layer:///identities/alice", "recipients": []string{"layer:///identities/bob"},
					"parts": []any{map[string]any{"mime_type": "text/plain", "body": "news"}},
				}, h...).must(t, 202).Map(t)
				wantJSON(t, "announcement sender", ann["sender"], basic("alice"))
				wantJSON(t, "announcement recipients", ann["recipients"], []any{basic("bob")})

				// Identities: 3.0 adds identity_type.
				ident := a.do("GET", "/users/alice/identity", nil, h...).must(t, 200).Map(t)
				if typ, ok := ident["identity_type"]; (v == "3.0") != ok || (ok && typ != "user") {
					t.Fatalf("%s identity_type: %v (present %v)", v, typ, ok)
				}
			})
		}
		// 1.x keeps announcements to named senders.
		a.do("POST", "/announcements", map[string]any{
			"sender": user("alice"), "recipients": []string{"bob"},
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "news"}},
		}).wantError(t, 422, "invalid_property", "sender.user_id")
	})
}

// Every create takes If-None-Match as Layer did: the new object's id is the
// key, and a retry answers with the first result without doing it again.
func TestDeduplicationOfEveryCreate(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		key := uuid.NewString()
		mark := a.eventMark()
		first := a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}, "distinct": false},
			"If-None-Match", key).must(t, 201)
		conv := first.Map(t)
		if conv["id"] != "layer:///conversations/"+key {
			t.Fatalf("conversation id %v, want the key %s", conv["id"], key)
		}
		again := a.do("POST", "/conversations", map[string]any{"participants": []string{"carol"}, "distinct": false},
			"If-None-Match", key).must(t, 201)
		if again.Header.Get("Herald-Replayed") != "true" {
			t.Fatal("a retried conversation create is not marked replayed")
		}
		wantJSON(t, "retried conversation", again.Map(t), conv)
		a.wantEvents(t, mark, "conversation.created")

		// A message's id is its key too.
		mkey := uuid.NewString()
		m := a.do("POST", "/conversations/"+key+"/messages", text(user("alice"), "hi"), "If-None-Match", mkey).must(t, 201).Map(t)
		if m["id"] != "layer:///messages/"+mkey {
			t.Fatalf("message id %v, want the key %s", m["id"], mkey)
		}

		// Announcements: a retry reaches nobody twice.
		akey := uuid.NewString()
		mark = a.eventMark()
		ann := a.do("POST", "/announcements", map[string]any{"sender": map[string]any{"name": "Ops"}, "recipients": []string{"bob"},
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "x"}}}, "If-None-Match", akey).must(t, 202).Map(t)
		if ann["id"] != "layer:///announcements/"+akey {
			t.Fatalf("announcement id %v, want the key %s", ann["id"], akey)
		}
		res := a.do("POST", "/announcements", map[string]any{"sender": map[string]any{"name": "Ops"}, "recipients": []string{"bob"},
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "x"}}}, "If-None-Match", akey).must(t, 202)
		if res.Header.Get("Herald-Replayed") != "true" {
			t.Fatal("a retried announcement is not marked replayed")
		}
		wantJSON(t, "retried announcement", res.Map(t), ann)
		a.wantEvents(t, mark, "announcement.sent")

		// A key whose conversation was deleted is used up; a malformed key
		// is Layer's invalid_request_id.
		a.do("DELETE", "/conversations/"+key, nil).must(t, 204)
		mark = a.eventMark()
		a.do("POST", "/conversations", map[string]any{"participants": []string{"alice"}}, "If-None-Match", key).
			wantError(t, 409, "id_in_use", "If-None-Match")
		a.do("POST", "/conversations", map[string]any{"participants": []string{"alice"}}, "If-None-Match", "nope").
			wantError(t, 400, "invalid_request_id", "If-None-Match")
		a.do("POST", "/announcements", map[string]any{"sender": map[string]any{"name": "Ops"}, "recipients": []string{"bob"},
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "x"}}}, "If-None-Match", "nope").
			wantError(t, 400, "invalid_request_id", "If-None-Match")
		a.wantEvents(t, mark)

		// Another app's key is its own: the same UUID there is refused
		// rather than confused with this app's object.
		appB, tokenB := a.newApp("other")
		a.doAs(tokenB, "POST", a.URL+"/apps/"+appB+"/announcements", map[string]any{"sender": map[string]any{"name": "Ops"},
			"recipients": []string{"bob"}, "parts": []any{map[string]any{"mime_type": "text/plain", "body": "x"}}},
			"If-None-Match", akey).wantError(t, 409, "id_in_use", "If-None-Match")
	})
}

// Listings stay newest first whatever the ids: conversations created with
// keys (random UUIDs) list by creation.
func TestListingsByCreationWithClientIDs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var want []string
		for range 6 {
			key := uuid.NewString()
			a.advance(1e9)
			a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}, "distinct": false},
				"If-None-Match", key).must(t, 201)
			want = append([]string{key}, want...)
		}
		wantJSON(t, "app's conversations", conversationIDs(t, a.do("GET", "/conversations", nil).must(t, 200)), want)
		wantJSON(t, "alice's conversations", conversationIDs(t, a.do("GET", "/users/alice/conversations", nil).must(t, 200)), want)
		var paged []string
		for next := "/users/alice/conversations?page_size=2"; len(paged) < len(want); {
			ids := conversationIDs(t, a.do("GET", next, nil).must(t, 200))
			if len(ids) == 0 {
				break
			}
			paged = append(paged, ids...)
			next = "/users/alice/conversations?page_size=2&from_id=" + ids[len(ids)-1]
		}
		wantJSON(t, "alice's conversations page by page", paged, want)
	})
}
