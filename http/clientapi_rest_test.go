package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/layerapi"
)

// client is a user's session on the Client API.
type client struct {
	a     *api
	user  string
	token string
}

// providers holds each api's identity provider, registered once.
var providers sync.Map // *api → *identityProvider

// startSession signs user in as Layer's Web SDK does (a nonce, an identity
// token signed by the app's identity provider with a display_name claim,
// POST /sessions) and returns the session.
func startSession(t *testing.T, a *api, user string) *client {
	t.Helper()
	p, ok := providers.Load(a)
	if !ok {
		p, _ = providers.LoadOrStore(a, newIdentityProvider(t, a))
	}
	token := p.(*identityProvider).startSession(t, user, map[string]any{"display_name": strings.ToUpper(user[:1]) + user[1:]})
	return &client{a: a, user: user, token: token}
}

// do sends a Client API request as the session's user: path is relative
// to the server's root unless it is a URL.
func (c *client) do(method, path string, body any, headers ...string) *response {
	c.a.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = "//" + path
	}
	h := append([]string{"Authorization", `Layer session-token="` + c.token + `"`}, headers...)
	return c.a.doAs("", method, path, body, h...)
}

// wantClientJSON checks that a Client API answer is JSON as Layer's Web
// SDK reads it: Content-Type application/json (xhr.js parses nothing
// else).
func wantClientJSON(t *testing.T, r *response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.Body)
	}
}

// wantCount checks a listing's Layer-Count.
func wantCount(t *testing.T, r *response, n int) {
	t.Helper()
	if got := r.Header.Get("Layer-Count"); got != strconv.Itoa(n) {
		t.Fatalf("Layer-Count %q, want %d", got, n)
	}
}

func ids(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, m := range items {
		out[i], _ = m["id"].(string)
	}
	return out
}

func TestClientAPIAuthentication(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		// The online check needs no session.
		a.doAs("", "HEAD", "//ping?client=3.4.18", nil).must(t, 204)
		a.doAs("", "GET", "//ping", nil).must(t, 204)

		// No session, an unknown one, an app token: 401 with a nonce
		// that answers the challenge.
		for _, auth := range []string{"", `Layer session-token="nope"`, "Bearer " + a.Token} {
			r := a.doAs("", "GET", "//conversations", nil, "Authorization", auth)
			e := r.wantError(t, 401, "authentication_required", "")
			wantClientJSON(t, r)
			if data, _ := e["data"].(map[string]any); data["nonce"] == nil || data["nonce"] == "" {
				t.Fatalf("401 without data.nonce: %s", r.Body)
			}
		}

		alice := startSession(t, a, "alice")
		// Versions: none → 2.0; 2.0 and 3.0 served; 1.x refused.
		alice.do("GET", "conversations", nil).must(t, 200)
		alice.do("GET", "conversations", nil, "Accept", "application/vnd.layer+json; version=3.0").must(t, 200)
		for _, v := range []string{"1.0", "1.1", "4.0"} {
			r := alice.do("GET", "conversations", nil, "Accept", "application/vnd.layer+json; version="+v)
			r.wantError(t, 406, "invalid_header", "")
			wantClientJSON(t, r)
		}
		// The server API's routes take no session.
		alice.do("GET", a.URL+"/apps/"+a.AppID+"/conversations", nil).wantError(t, 401, "authentication_required", "")
		// Revoked by the app: the next request is challenged, and the
		// nonce signs her in again.
		a.do("DELETE", "/users/alice/sessions", nil).must(t, 204)
		e := alice.do("GET", "conversations", nil).wantError(t, 401, "authentication_required", "")
		if data, _ := e["data"].(map[string]any); data["nonce"] == nil {
			t.Fatalf("401 without data.nonce: %v", e)
		}
		startSession(t, a, "alice").do("GET", "conversations", nil).must(t, 200)
	})
}

func TestClientAPIConversations(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice := startSession(t, a, "alice")
		first := a.newConversation(t, "alice", "bob")
		a.advance(1e9)
		second := a.newConversation(t, "alice", "carol")
		a.advance(1e9)
		a.newConversation(t, "bob", "carol") // not alice's
		a.advance(1e9)
		a.sendText(t, first, "bob", "hi")

		r := alice.do("GET", "conversations?page_size=1", nil).must(t, 200)
		wantClientJSON(t, r)
		wantCount(t, r, 2)
		var page []map[string]any
		r.JSON(t, &page)
		wantJSON(t, "first page", ids(page), []string{"layer:///conversations/" + second})
		conv := page[0]
		wantKeys(t, "conversation", conv, "id", "url", "messages_url", "created_at", "participants", "distinct",
			"metadata", "unread_message_count", "last_message")
		wantJSON(t, "urls", []any{conv["url"], conv["messages_url"]},
			[]any{a.URL + "/conversations/" + second, a.URL + "/conversations/" + second + "/messages"})
		for _, p := range conv["participants"].([]any) {
			p := p.(map[string]any)
			wantKeys(t, "participant", p, "id", "url", "user_id", "display_name", "avatar_url")
			if p["url"] != a.URL+"/identities/"+p["user_id"].(string) {
				t.Fatalf("participant url %v", p["url"])
			}
		}
		// The next page, from the full id, unencoded as the Web SDK sends
		// it (queries/query.js), and from the bare UUID.
		for _, from := range []string{"layer:///conversations/" + second, second} {
			r = alice.do("GET", "conversations?page_size=1&from_id="+from, nil).must(t, 200)
			wantCount(t, r, 2)
			r.JSON(t, &page)
			wantJSON(t, "second page", ids(page), []string{"layer:///conversations/" + first})
		}
		last := page[0]["last_message"].(map[string]any)
		if last["conversation"].(map[string]any)["id"] != "layer:///conversations/"+first || last["is_unread"] != true {
			t.Fatalf("last_message %v", last)
		}
		// By last message: the first conversation, with a message, leads.
		alice.do("GET", "conversations?sort_by=last_message", nil).must(t, 200).JSON(t, &page)
		wantJSON(t, "by last message", ids(page), []string{"layer:///conversations/" + first, "layer:///conversations/" + second})
		// The Client API takes at most 100 a page.
		alice.do("GET", "conversations?page_size=101", nil).wantError(t, 422, "invalid_property", "page_size")

		// One conversation, at its url.
		got := alice.do("GET", conv["url"].(string), nil).must(t, 200).Map(t)
		wantJSON(t, "conversation at its url", got["id"], conv["id"])
		alice.do("GET", "conversations/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
		// Another's conversation is none of hers.
		var all []map[string]any
		a.do("GET", "/conversations", nil).must(t, 200).JSON(t, &all)
		for _, c := range all {
			if id := localID(c["id"]); id != first && id != second {
				alice.do("GET", "conversations/"+id, nil).wantError(t, 404, "not_found", "")
			}
		}

		// Created with the id the client chose, kept; a retry answers
		// id_in_use with the conversation as data, as the Web SDK's
		// dedup reads it (sync-manager.js).
		id := "layer:///conversations/" + uuid.NewString()
		body := map[string]any{"id": id, "participants": []any{"layer:///identities/dave"}, "distinct": false,
			"metadata": map[string]any{"title": "Plans"}}
		created := alice.do("POST", "conversations", body).must(t, 201)
		wantClientJSON(t, created)
		c := created.Map(t)
		if c["id"] != id || c["url"] != a.URL+"/conversations/"+localID(id) {
			t.Fatalf("created %v", c)
		}
		retry := alice.do("POST", "conversations", body)
		e := retry.wantError(t, 409, "id_in_use", "")
		wantJSON(t, "id_in_use data", e["data"], c)
		// Someone else's id: in use, and nothing of it shown.
		carol := startSession(t, a, "carol")
		e = carol.do("POST", "conversations", map[string]any{"id": id, "participants": []any{"erin"}, "distinct": false}).
			wantError(t, 409, "id_in_use", "")
		if d, _ := e["data"].(map[string]any); d["participants"] != nil {
			t.Fatalf("another's conversation shown: %v", e)
		}
		alice.do("POST", "conversations", map[string]any{"id": "layer:///messages/x", "participants": []any{"bob"}}).
			wantError(t, 422, "invalid_property", "id")
		// The distinct conversation she has with bob already: 200, where
		// it is, whatever id the request chose.
		r = alice.do("POST", "conversations", map[string]any{"id": "layer:///conversations/" + uuid.NewString(),
			"participants": []any{"layer:///identities/bob"}}).must(t, 200)
		if d := r.Map(t); d["id"] != "layer:///conversations/"+first || r.Header.Get("Location") != a.URL+"/conversations/"+first {
			t.Fatalf("distinct create: %v, Location %q", d["id"], r.Header.Get("Location"))
		}

		// PATCH as the Web SDK sends it, then the conversation shows it.
		alice.do("PATCH", c["url"].(string), `[{"operation":"add","property":"participants","id":"layer:///identities/erin"},{"operation":"set","property":"metadata.title","value":"Later"}]`,
			"Content-Type", "application/vnd.layer-patch+json").must(t, 204)
		c = alice.do("GET", c["url"].(string), nil).must(t, 200).Map(t)
		if len(c["participants"].([]any)) != 3 || c["metadata"].(map[string]any)["title"] != "Later" {
			t.Fatalf("patched %v", c)
		}
		// Left, it is gone from her listing.
		alice.do("DELETE", c["url"].(string)+"?mode=my_devices&leave=true", nil).must(t, 204)
		alice.do("GET", "conversations", nil).must(t, 200).JSON(t, &page)
		if len(page) != 2 {
			t.Fatalf("after leaving: %v", ids(page))
		}
		// Having left, she is denied it, where a stranger is told it
		// does not exist (Client API 2.0 rest/conversations.md).
		alice.do("GET", c["url"].(string), nil).wantError(t, 403, "access_denied", "")
		startSession(t, a, "zed").do("GET", c["url"].(string), nil).wantError(t, 404, "not_found", "")
	})
}

func TestClientAPIMessages(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice, bob := startSession(t, a, "alice"), startSession(t, a, "bob")
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "one")

		id := "layer:///messages/" + uuid.NewString()
		body := map[string]any{"id": id, "parts": []any{map[string]any{"mime_type": "text/plain", "body": "two"}}}
		r := alice.do("POST", "conversations/"+conv+"/messages", body).must(t, 201)
		wantClientJSON(t, r)
		m := r.Map(t)
		wantKeys(t, "message", m, "id", "url", "receipts_url", "conversation", "parts", "sent_at", "received_at",
			"sender", "recipient_status", "position", "is_unread")
		wantJSON(t, "sent", map[string]any{"id": m["id"], "url": m["url"], "receipts_url": m["receipts_url"],
			"conversation": m["conversation"], "is_unread": m["is_unread"], "recipient_status": m["recipient_status"]},
			map[string]any{"id": id, "url": a.URL + "/messages/" + localID(id), "receipts_url": a.URL + "/messages/" + localID(id) + "/receipts",
				"conversation": map[string]any{"id": "layer:///conversations/" + conv, "url": a.URL + "/conversations/" + conv},
				"is_unread":    false, "recipient_status": map[string]any{"layer:///identities/alice": "read", "layer:///identities/bob": "sent"}})
		if s := m["sender"].(map[string]any); s["user_id"] != "alice" || s["id"] != "layer:///identities/alice" {
			t.Fatalf("sender %v", s)
		}
		// A retry: id_in_use with the message; nothing sent again.
		e := alice.do("POST", "conversations/"+conv+"/messages", body).wantError(t, 409, "id_in_use", "")
		wantJSON(t, "id_in_use data", without(e["data"].(map[string]any), "sent_at"), without(m, "sent_at"))
		// The same id in another conversation is in use, without data.
		other := a.newConversation(t, "alice", "carol")
		e = alice.do("POST", "conversations/"+other+"/messages", body).wantError(t, 409, "id_in_use", "id")
		if e["data"].(map[string]any)["parts"] != nil {
			t.Fatalf("id_in_use shows %v", e)
		}

		// Bob's listing: newest first, his unread, Layer-Count.
		r = bob.do("GET", "conversations/"+conv+"/messages?page_size=1", nil).must(t, 200)
		wantCount(t, r, 2)
		var page []map[string]any
		r.JSON(t, &page)
		wantJSON(t, "bob's first page", ids(page), []string{id})
		if page[0]["is_unread"] != true {
			t.Fatalf("unread for bob: %v", page[0])
		}
		bob.do("GET", "conversations/"+conv+"/messages?from_id="+id, nil).must(t, 200).JSON(t, &page)
		if len(page) != 1 || page[0]["parts"].([]any)[0].(map[string]any)["body"] != "one" {
			t.Fatalf("bob's second page %v", page)
		}
		// Receipts at the message's url: delivery, then read.
		bob.do("POST", m["url"].(string)+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		got := alice.do("GET", m["url"].(string), nil).must(t, 200).Map(t)
		if got["recipient_status"].(map[string]any)["layer:///identities/bob"] != "delivered" {
			t.Fatalf("after delivery: %v", got["recipient_status"])
		}
		bob.do("POST", m["receipts_url"].(string), map[string]any{"type": "read"}).must(t, 204)
		got = bob.do("GET", "messages/"+localID(id), nil).must(t, 200).Map(t)
		if got["recipient_status"].(map[string]any)["layer:///identities/bob"] != "read" || got["is_unread"] != false {
			t.Fatalf("after read: %v", got)
		}
		c := bob.do("GET", "conversations/"+conv, nil).must(t, 200).Map(t)
		if c["unread_message_count"] != 1.0 {
			t.Fatalf("bob's unread count %v", c["unread_message_count"])
		}
		// mark_all_read up to a position.
		bob.do("POST", "conversations/"+conv+"/mark_all_read", map[string]any{"position": m["position"]}).must(t, 204)
		c = bob.do("GET", "conversations/"+conv, nil).must(t, 200).Map(t)
		if c["unread_message_count"] != 0.0 {
			t.Fatalf("after mark_all_read: %v", c["unread_message_count"])
		}
		// Deleted from bob's devices only; then for everyone.
		bob.do("DELETE", m["url"].(string)+"?mode=my_devices", nil).must(t, 204)
		bob.do("GET", m["url"].(string), nil).wantError(t, 404, "not_found", "")
		alice.do("GET", m["url"].(string), nil).must(t, 200)
		alice.do("DELETE", m["url"].(string)+"?mode=all_participants", nil).must(t, 204)
		alice.do("GET", m["url"].(string), nil).wantError(t, 410, "gone", "")
		// Not hers to read: carol's session sees nothing of it.
		carol := startSession(t, a, "carol")
		carol.do("GET", "conversations/"+conv+"/messages", nil).wantError(t, 404, "not_found", "")
	})
}

func TestClientAPIIdentitiesAndFollows(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice := startSession(t, a, "alice")
		// The session owner's identity, as the Web SDK loads it first:
		// full (metadata) with type.
		r := alice.do("GET", "identities/alice", nil).must(t, 200)
		wantClientJSON(t, r)
		me := r.Map(t)
		for _, k := range []string{"id", "url", "user_id", "display_name", "avatar_url", "first_name", "last_name",
			"email_address", "phone_number", "public_key", "metadata", "type"} {
			if _, ok := me[k]; !ok {
				t.Fatalf("identity without %s: %v", k, me)
			}
		}
		if me["id"] != "layer:///identities/alice" || me["url"] != a.URL+"/identities/alice" || me["type"] != "user" ||
			me["display_name"] != "Alice" {
			t.Fatalf("identity %v", me)
		}
		alice.do("GET", "identities/nobody", nil).wantError(t, 404, "not_found", "")
		// A user id the Web SDK percent-encodes (strictEncodeURI).
		odd := "o'brien (x)!~"
		a.do("PUT", "/users/"+url.PathEscape(odd)+"/identity", map[string]any{"display_name": "OB"}).must(t, 201)
		got := alice.do("GET", "identities/"+url.PathEscape(odd), nil).must(t, 200).Map(t)
		if got["url"] != a.URL+"/identities/o%27brien%20%28x%29%21%7E" {
			t.Fatalf("url %v", got["url"])
		}
		alice.do("GET", got["url"].(string), nil).must(t, 200)

		// Follows: the Web SDK's PUT and DELETE on following/users, the
		// docs' DELETE /following/<id>, the listings.
		a.do("PUT", "/users/carol/identity", map[string]any{"display_name": "Carol"}).must(t, 201)
		alice.do("PUT", "following/users/carol", nil).must(t, 204)
		alice.do("GET", "following/users/carol", nil).must(t, 204)
		alice.do("POST", "following/users", []any{"layer:///identities/dave"}).must(t, 202)
		var following []string
		r = alice.do("GET", "following", nil).must(t, 200)
		wantCount(t, r, 2)
		r.JSON(t, &following)
		wantJSON(t, "following", following, []string{"layer:///identities/dave", "layer:///identities/carol"})
		var identities []map[string]any
		r = alice.do("GET", "identities?page_size=1", nil).must(t, 200)
		wantClientJSON(t, r)
		wantCount(t, r, 2)
		r.JSON(t, &identities)
		wantJSON(t, "first followed", ids(identities), []string{"layer:///identities/dave"})
		alice.do("GET", "identities?from_id=layer:///identities/dave", nil).must(t, 200).JSON(t, &identities)
		if len(identities) != 1 || identities[0]["metadata"] == nil || identities[0]["type"] != "user" {
			t.Fatalf("followed identities %v", identities)
		}
		alice.do("DELETE", "following/users/carol", nil).must(t, 204)
		alice.do("GET", "following/users/carol", nil).wantError(t, 404, "not_found", "")
		alice.do("DELETE", "following/dave", nil).must(t, 204)
		alice.do("GET", "following", nil).must(t, 200).JSON(t, &following)
		if len(following) != 0 {
			t.Fatalf("still following %v", following)
		}
		// A conversation partner is followed without asking (Layer's
		// "Define Following"), and stays followed after an unfollow.
		a.newConversation(t, "alice", "erin")
		alice.do("GET", "following/users/erin", nil).must(t, 204)
		alice.do("DELETE", "following/users/erin", nil).must(t, 204)
		r = alice.do("GET", "identities", nil).must(t, 200)
		r.JSON(t, &identities)
		wantJSON(t, "followed identities with a partner", ids(identities), []string{"layer:///identities/erin"})
		if r.Header.Get("Layer-Count") != "1" {
			t.Fatalf("Layer-Count %q, want 1", r.Header.Get("Layer-Count"))
		}
	})
}

func TestClientAPIAnnouncementsAndPushTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		bob := startSession(t, a, "bob")
		ann := a.announce(t, "news", "bob", "carol")
		id := localID(ann["id"])
		r := bob.do("GET", "announcements", nil).must(t, 200)
		wantClientJSON(t, r)
		var list []map[string]any
		r.JSON(t, &list)
		wantJSON(t, "bob's announcements", ids(list), []string{"layer:///announcements/" + id})
		// The Web SDK's AnnouncementsQuery reads its totalSize from Layer-Count.
		if n := r.Header.Get("Layer-Count"); n != "1" {
			t.Fatalf("Layer-Count of bob's announcements: %q, want 1", n)
		}
		got := list[0]
		if got["url"] != a.URL+"/announcements/"+id || got["is_unread"] != true {
			t.Fatalf("announcement %v", got)
		}
		bob.do("POST", got["url"].(string)+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		got = bob.do("GET", got["url"].(string), nil).must(t, 200).Map(t)
		if got["is_unread"] != false || got["recipient_status"].(map[string]any)["layer:///identities/bob"] != "read" {
			t.Fatalf("after read %v", got)
		}
		bob.do("DELETE", got["url"].(string), nil).must(t, 204)
		bob.do("GET", got["url"].(string), nil).wantError(t, 404, "not_found", "")
		// carol still has hers.
		startSession(t, a, "carol").do("GET", "announcements/"+id, nil).must(t, 200)

		// Push tokens, for the native wrappers.
		device := uuid.NewString()
		bob.do("POST", "push_tokens", map[string]any{"token": "f00d", "type": "gcm", "device_id": device, "gcm_sender_id": "123"}).must(t, 202)
		var tokens []map[string]any
		a.do("GET", "/users/bob/push_tokens", nil).must(t, 200).JSON(t, &tokens)
		if len(tokens) != 1 {
			t.Fatalf("tokens %v", tokens)
		}
		bob.do("DELETE", "push_tokens/"+device, nil).must(t, 202)
		a.do("GET", "/users/bob/push_tokens", nil).must(t, 200).JSON(t, &tokens)
		if len(tokens) != 0 {
			t.Fatalf("tokens after delete %v", tokens)
		}
	})
}

func TestClientAPIRichContent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice, bob := startSession(t, a, "alice"), startSession(t, a, "bob")
		conv := a.newConversation(t, "alice", "bob")
		data := []byte(strings.Repeat("rich ", 600))
		r := alice.do("POST", "content", nil, "Upload-Content-Type", "text/plain",
			"Upload-Content-Length", strconv.Itoa(len(data)), "Upload-Origin", "https://app.example.com").must(t, 201)
		wantClientJSON(t, r)
		c := r.Map(t)
		cid := wantUUID(t, c["id"], "layer:///content/")
		if c["download_url"] != nil || c["expiration"] != nil || r.Header.Get("Location") != a.URL+"/content/"+cid {
			t.Fatalf("declared %v, Location %q", c, r.Header.Get("Location"))
		}
		// The upload takes no session, as the Web SDK sends it.
		a.doAs("", "PUT", c["upload_url"].(string), data, "Upload-Content-Type", "text/plain").must(t, 200)
		m := alice.do("POST", "conversations/"+conv+"/messages", map[string]any{"parts": []any{map[string]any{
			"mime_type": "text/plain", "content": map[string]any{"id": c["id"], "size": len(data)}}}}).must(t, 201).Map(t)
		// Bob sees the part's content with a refresh_url of the Client
		// API, which answers a fresh download_url with his session.
		got := bob.do("GET", m["url"].(string), nil).must(t, 200).Map(t)
		content := got["parts"].([]any)[0].(map[string]any)["content"].(map[string]any)
		if content["refresh_url"] != a.URL+"/content/"+cid || content["size"] != float64(len(data)) {
			t.Fatalf("content %v", content)
		}
		r = bob.do("GET", content["refresh_url"].(string), nil).must(t, 200)
		wantClientJSON(t, r)
		fresh := r.Map(t)
		if fresh["id"] != c["id"] || fresh["download_url"] == nil || fresh["expiration"] == nil {
			t.Fatalf("refreshed %v", fresh)
		}
		dl := a.doAs("", "GET", fresh["download_url"].(string), nil).must(t, 200)
		if string(dl.Body) != string(data) {
			t.Fatalf("downloaded %d bytes", len(dl.Body))
		}
		// Without a session or a signature: 401 with a nonce.
		a.doAs("", "GET", "//content/"+cid, nil).wantError(t, 401, "authentication_required", "")
		// Not a participant: not found.
		startSession(t, a, "carol").do("GET", "content/"+cid, nil).wantError(t, 404, "not_found", "")
	})
}

func TestClientAPICORS(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		origin := "https://app.example.com"
		r := a.doAs("", "OPTIONS", "//conversations/"+uuid.NewString()+"/messages", nil, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type,layer-xdk-version,client-id").must(t, 204)
		h := r.Header
		if h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("preflight headers %v", h)
		}
		for _, want := range []string{"PATCH", "DELETE"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), want) {
				t.Fatalf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), want)
			}
		}
		for _, want := range []string{"authorization", "layer-xdk-version", "client-id", "upload-content-type"} {
			if !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), want) {
				t.Fatalf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), want)
			}
		}
		alice := startSession(t, a, "alice")
		r = alice.do("GET", "conversations", nil, "Origin", origin).must(t, 200)
		if r.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Layer-Count") {
			t.Fatalf("CORS headers %v", r.Header)
		}
		// A 401 carries them too, so that the page reads the nonce.
		r = a.doAs("", "GET", "//conversations", nil, "Origin", origin).must(t, 401)
		if r.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("401 without CORS: %v", r.Header)
		}
		// The server API is not for browsers.
		r = a.do("GET", "/conversations", nil, "Origin", origin).must(t, 200)
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("server API answered CORS: %v", r.Header)
		}
		if r := a.doAs("", "OPTIONS", "/conversations", nil, "Origin", origin); r.Status == http.StatusNoContent {
			t.Fatalf("server API answered a preflight: %d %v", r.Status, r.Header)
		}
	})
}

// ClientView, which the WebSocket renders change packets with, renders
// objects as the REST answers show them.
func TestClientViewRendersAsREST(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		bob := startSession(t, a, "bob")
		conv := a.newConversation(t, "alice", "bob")
		sent := a.sendText(t, conv, "alice", "hi")
		ann := a.announce(t, "news", "bob")
		ctx := context.Background()
		for _, v := range []layerapi.Version{layerapi.V20, layerapi.V30} {
			accept := "application/vnd.layer+json; version=" + string(v)
			cv := layerapi.NewClientView(a.Server, ctx, a.AppID, v, "bob")
			uc, err := a.Service.UserConversation(ctx, a.AppID, "bob", conv)
			if err != nil {
				t.Fatal(err)
			}
			m, err := a.Service.Message(ctx, a.AppID, "", "bob", localID(sent["id"]))
			if err != nil {
				t.Fatal(err)
			}
			an, err := a.Service.Announcement(ctx, a.AppID, "bob", localID(ann["id"]))
			if err != nil {
				t.Fatal(err)
			}
			me, err := a.Service.Identity(ctx, a.AppID, "bob")
			if err != nil {
				t.Fatal(err)
			}
			if err := cv.LoadConversations(uc); err != nil {
				t.Fatal(err)
			}
			if err := cv.LoadMessages(m); err != nil {
				t.Fatal(err)
			}
			if err := cv.LoadAnnouncements(an); err != nil {
				t.Fatal(err)
			}
			rest := func(path string) map[string]any {
				return bob.do("GET", path, nil, "Accept", accept).must(t, 200).Map(t)
			}
			wantJSON(t, string(v)+" conversation", cv.Conversation(uc), rest("conversations/"+conv))
			wantJSON(t, string(v)+" message", cv.Message(m), without(rest("messages/"+localID(sent["id"])), "received_at"))
			wantJSON(t, string(v)+" user message", cv.UserMessage(uc, m), rest("messages/"+localID(sent["id"])))
			wantJSON(t, string(v)+" announcement", cv.Announcement(an), rest("announcements/"+localID(ann["id"])))
			wantJSON(t, string(v)+" identity", cv.Identity(me), rest("identities/bob"))
			basic := cv.BasicIdentity("alice")
			wantJSON(t, string(v)+" basic identity", basic, rest("conversations/" + conv)["last_message"].(map[string]any)["sender"])
		}
	})
}
