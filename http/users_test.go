package http_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// accept asks for a version of Layer's API.
func accept(version string) []string {
	return []string{"Accept", "application/vnd.layer+json; version=" + version}
}

// layerPatch sends a Layer-Patch document as Layer's clients sent it.
func (a *api) layerPatch(t *testing.T, path string, ops ...map[string]any) *response {
	t.Helper()
	return a.do("PATCH", path, ops, "Content-Type", "application/vnd.layer-patch+json")
}

func (a *api) basicIdentity(user string, displayName any) map[string]any {
	return map[string]any{"id": "layer:///identities/" + user, "url": a.identityURL(url.PathEscape(user)),
		"user_id": user, "display_name": displayName, "avatar_url": nil}
}

// Block lists through the Layer-Patch form (1.x value, 2.0 id) and the
// 1.x POST and DELETE, listed as 1.x's {user_id} objects and as 2.0's and
// 3.0's Basic Identities, each change recorded.
func TestBlockListRoutes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/cy/identity", map[string]any{"display_name": "Cy"}).must(t, 201)
		mark := a.eventMark()
		res := a.layerPatch(t, "/users/ann", patch("add", "blocks", "bob"),
			map[string]any{"operation": "add", "property": "blocks", "id": "layer:///identities/cy"}).must(t, 202)
		if len(res.Body) != 0 {
			t.Fatalf("202 with a body: %s", res.Body)
		}
		ev := a.wantEvents(t, mark, "user.blocked")[0]
		wantJSON(t, "event data", eventData(t, ev), map[string]any{"user_id": "ann", "added": []any{"bob", "cy"}})

		for _, v := range []string{"1.0", "1.1"} {
			var list []map[string]any
			a.do("GET", "/users/ann/blocks", nil, accept(v)...).must(t, 200).JSON(t, &list)
			wantJSON(t, v+" blocks", list, []any{map[string]any{"user_id": "bob"}, map[string]any{"user_id": "cy"}})
		}
		for _, v := range []string{"2.0", "3.0"} {
			var list []map[string]any
			a.do("GET", "/users/ann/blocks", nil, accept(v)...).must(t, 200).JSON(t, &list)
			wantJSON(t, v+" blocks", list, []any{a.basicIdentity("bob", nil), a.basicIdentity("cy", "Cy")})
		}

		// 1.x's single-user routes; unblocking someone not blocked succeeds.
		a.do("POST", "/users/ann/blocks", map[string]any{"user_id": "dee"}, accept("1.0")...).must(t, 204)
		a.do("POST", "/users/ann/blocks", map[string]any{}, accept("1.0")...).wantError(t, 422, "missing_property", "user_id")
		a.do("POST", "/users/ann/blocks", map[string]any{"user_id": "ann"}).wantError(t, 422, "invalid_property", "user_id")
		a.do("DELETE", "/users/ann/blocks/bob", nil).must(t, 204)
		a.do("DELETE", "/users/ann/blocks/bob", nil).must(t, 204)
		var list []map[string]any
		a.do("GET", "/users/ann/blocks", nil).must(t, 200).JSON(t, &list)
		wantJSON(t, "after POST and DELETE", list, []any{map[string]any{"user_id": "cy"}, map[string]any{"user_id": "dee"}})

		// 2.0's replacement: empty, then add.
		mark = a.eventMark()
		a.layerPatch(t, "/users/ann", patch("set", "blocks", []any{}),
			map[string]any{"operation": "add", "property": "blocks", "id": "layer:///identities/eve"}).must(t, 202)
		evs := a.wantEvents(t, mark, "user.blocked", "user.unblocked")
		wantJSON(t, "unblocked", eventData(t, evs[1])["removed"], []any{"cy", "dee"})
		a.do("GET", "/users/ann/blocks", nil, accept("3.0")...).must(t, 200).JSON(t, &list)
		wantJSON(t, "after set", list, []any{a.basicIdentity("eve", nil)})

		// Refusals name the operation, and change nothing.
		mark = a.eventMark()
		a.layerPatch(t, "/users/ann", patch("add", "blocks", "fay"), patch("delete", "blocks", "eve")).
			wantError(t, 422, "invalid_property", "operations[1].operation")
		a.layerPatch(t, "/users/ann", patch("set", "nickname", "x")).wantError(t, 422, "invalid_property", "operations[0].property")
		a.do("PATCH", "/users/ann", map[string]any{"blocks": []any{"fay"}}).wantError(t, 400, "invalid_request", "")
		a.do("PATCH", "/users/ann", []any{}).wantError(t, 400, "invalid_request", "")
		a.wantEvents(t, mark)
		a.do("GET", "/users/ann/blocks", nil, accept("3.0")...).must(t, 200).JSON(t, &list)
		wantJSON(t, "after refusals", list, []any{a.basicIdentity("eve", nil)})
	})
}

// Messages between a blocker and the user they block are hidden from each
// other's view, and not from the others'.
func TestBlocksHideMessagesFromUserViews(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "ann", "bob", "cy")
		a.layerPatch(t, "/users/ann", patch("add", "blocks", "bob")).must(t, 202)
		fromBob := localID(a.sendText(t, conv, "bob", "psst")["id"])
		for user, want := range map[string]int{"ann": 0, "bob": 1, "cy": 1} {
			var list []map[string]any
			a.do("GET", "/users/"+user+"/conversations/"+conv+"/messages", nil).must(t, 200).JSON(t, &list)
			if len(list) != want {
				t.Fatalf("%s sees %d messages, want %d", user, len(list), want)
			}
		}
		a.do("GET", "/users/ann/messages/"+fromBob, nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/cy/messages/"+fromBob, nil).must(t, 200)

		// The hidden message is neither unread nor last in ann's inbox, in
		// the conversation or in her listing; the others' are unchanged,
		// and so is ann's when a message she sees follows.
		inbox := func(user string) (unread float64, last string) {
			t.Helper()
			one := a.do("GET", "/users/"+user+"/conversations/"+conv, nil).must(t, 200).Map(t)
			var list []map[string]any
			a.do("GET", "/users/"+user+"/conversations", nil).must(t, 200).JSON(t, &list)
			if len(list) != 1 || list[0]["unread_message_count"] != one["unread_message_count"] {
				t.Fatalf("%s's listing %v disagrees with the conversation %v", user, list, one)
			}
			if m, ok := one["last_message"].(map[string]any); ok {
				last = localID(m["id"])
			}
			return one["unread_message_count"].(float64), last
		}
		if unread, last := inbox("ann"); unread != 0 || last != "" {
			t.Fatalf("ann: unread %v, last message %q; want 0 and none", unread, last)
		}
		if unread, last := inbox("cy"); unread != 1 || last != fromBob {
			t.Fatalf("cy: unread %v, last message %q; want 1 and %s", unread, last, fromBob)
		}
		if unread, last := inbox("bob"); unread != 0 || last != fromBob {
			t.Fatalf("bob: unread %v, last message %q; want 0 and his own %s", unread, last, fromBob)
		}
		fromCy := localID(a.sendText(t, conv, "cy", "hello all")["id"])
		fromBob2 := localID(a.sendText(t, conv, "bob", "psst again")["id"])
		if unread, last := inbox("ann"); unread != 1 || last != fromCy {
			t.Fatalf("ann after cy and bob wrote: unread %v, last message %q; want 1 and %s", unread, last, fromCy)
		}
		if unread, last := inbox("cy"); unread != 2 || last != fromBob2 {
			t.Fatalf("cy: unread %v, last message %q; want 2 and %s", unread, last, fromBob2)
		}
		// A message ann sends is hidden from bob, whom she blocks.
		fromAnn := localID(a.sendText(t, conv, "ann", "hi cy")["id"])
		if unread, last := inbox("bob"); unread != 1 || last != fromBob2 {
			t.Fatalf("bob after ann wrote: unread %v, last message %q; want 1 (cy's) and his own %s", unread, last, fromBob2)
		}
		if unread, last := inbox("cy"); unread != 3 || last != fromAnn {
			t.Fatalf("cy after ann wrote: unread %v, last message %q; want 3 and %s", unread, last, fromAnn)
		}
	})
}

// A user's suspension: set and cleared through the Layer-Patch form (202),
// shown with their identity, in the same shape in every version.
func TestUserSuspensionRoutes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("GET", "/users/ann", nil).wantError(t, 404, "not_found", "")
		a.do("PUT", "/users/ann/identity", map[string]any{"display_name": "Ann", "first_name": "Ann"}).must(t, 201)
		for _, v := range []string{"1.0", "1.1", "2.0", "3.0"} {
			identity := a.do("GET", "/users/ann/identity", nil, accept(v)...).must(t, 200).Map(t)
			got := a.do("GET", "/users/ann", nil, accept(v)...).must(t, 200).Map(t)
			wantJSON(t, v+" user", got, map[string]any{"id": "ann", "identity": identity, "suspended": false})
		}
		mark := a.eventMark()
		a.layerPatch(t, "/users/ann", patch("set", "suspended", true)).must(t, 202)
		ev := a.wantEvents(t, mark, "user.suspended")[0]
		if u := obj(t, eventData(t, ev)["user"]); u["suspended"] != true || u["sessions_revoked_at"] == nil {
			t.Fatalf("user.suspended data.user: %v", u)
		}
		if got := a.do("GET", "/users/ann", nil).must(t, 200).Map(t); got["suspended"] != true {
			t.Fatalf("after suspending: %v", got)
		}
		a.layerPatch(t, "/users/ann", patch("set", "suspended", "yes")).wantError(t, 422, "invalid_property", "operations[0].value")
		a.layerPatch(t, "/users/ann", patch("set", "suspended", false)).must(t, 202)
		a.wantEvents(t, mark, "user.suspended", "user.unsuspended")

		// A user without an identity, known from a conversation.
		a.newConversation(t, "bob", "cy")
		wantJSON(t, "user without identity", a.do("GET", "/users/bob", nil, accept("2.0")...).must(t, 200).Map(t),
			map[string]any{"id": "bob", "identity": nil, "suspended": false})
	})
}

// Deleting a user's sessions (204, 404 for a user Herald knows nothing
// of), and the app's session TTL (202, within 30 seconds and a year).
func TestSessionRoutes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("DELETE", "/users/ann/sessions", nil).wantError(t, 404, "not_found", "")
		a.newConversation(t, "ann", "bob")
		mark := a.eventMark()
		a.do("DELETE", "/users/ann/sessions", nil).must(t, 204)
		ev := a.wantEvents(t, mark, "user.sessions_revoked")[0]
		if u := obj(t, eventData(t, ev)["user"]); u["user_id"] != "ann" || u["sessions_revoked_at"] == nil {
			t.Fatalf("data.user: %v", u)
		}

		mark = a.eventMark()
		a.layerPatch(t, "", patch("set", "session_ttl_in_seconds", 3600)).must(t, 202)
		ev = a.wantEvents(t, mark, "app.session_ttl_updated")[0]
		wantJSON(t, "data", eventData(t, ev), map[string]any{"session_ttl_in_seconds": 3600})
		for _, bad := range []any{29, 31536001, "3600", 1.5} {
			a.layerPatch(t, "", patch("set", "session_ttl_in_seconds", bad)).wantError(t, 422, "invalid_property", "operations[0].value")
		}
		a.layerPatch(t, "", patch("set", "name", "x")).wantError(t, 422, "invalid_property", "operations[0].property")
		a.layerPatch(t, "", patch("set", "session_ttl_in_seconds", 30)).must(t, 202)
		a.layerPatch(t, "", patch("set", "session_ttl_in_seconds", 31536000)).must(t, 202)
		a.wantEvents(t, mark, "app.session_ttl_updated", "app.session_ttl_updated", "app.session_ttl_updated")
	})
}

// Follows: follow (204), check (204 or 404), batch follow (202), list the
// followed users' ids (bare in 1.x, identity ids in 2.0 and 3.0) and
// identities, paged, unfollow (204).
func TestFollowRoutes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/dee/identity", map[string]any{"display_name": "Dee"}).must(t, 201)
		mark := a.eventMark()
		res := a.do("POST", "/users/ann/following", []any{"layer:///identities/cy", "layer:///identities/dee"}, accept("2.0")...).must(t, 202)
		if len(res.Body) != 0 {
			t.Fatalf("202 with a body: %s", res.Body)
		}
		// Listed latest followed first: bob, then the batch by id.
		a.advance(time.Second)
		a.do("PUT", "/users/ann/following/bob", nil, accept("2.0")...).must(t, 204)
		a.wantEvents(t, mark, "user.followed", "user.followed")
		a.do("GET", "/users/ann/following/bob", nil).must(t, 204)
		a.do("GET", "/users/ann/following/layer:%2F%2F%2Fidentities%2Fcy", nil).must(t, 204)
		a.do("GET", "/users/bob/following/ann", nil).wantError(t, 404, "not_found", "")
		a.do("PUT", "/users/ann/following/ann", nil).wantError(t, 422, "invalid_property", "followed_user_id")
		a.do("POST", "/users/ann/following", []any{"eve", 7}).wantError(t, 422, "invalid_property", "[1]")

		var ids []string
		a.do("GET", "/users/ann/following", nil, accept("1.1")...).must(t, 200).JSON(t, &ids)
		wantJSON(t, "1.1 ids", ids, []string{"bob", "dee", "cy"})
		for _, v := range []string{"2.0", "3.0"} {
			a.do("GET", "/users/ann/following", nil, accept(v)...).must(t, 200).JSON(t, &ids)
			wantJSON(t, v+" ids", ids, []string{"layer:///identities/bob", "layer:///identities/dee", "layer:///identities/cy"})
		}
		// A full page links to the next one.
		res = a.do("GET", "/users/ann/following?page_size=2", nil, accept("2.0")...).must(t, 200)
		link := res.Header.Get("Link")
		next, _, ok := strings.Cut(strings.TrimPrefix(link, "<"), ">")
		if !ok || !strings.Contains(next, "from_id=") {
			t.Fatalf("Link %q", link)
		}
		a.do("GET", next, nil, accept("2.0")...).must(t, 200).JSON(t, &ids)
		wantJSON(t, "next page", ids, []string{"layer:///identities/cy"})
		a.do("GET", "/users/ann/following?page_size=501", nil).wantError(t, 422, "invalid_property", "page_size")
		a.do("GET", "/users/ann/following?from_id=zed", nil).wantError(t, 422, "invalid_property", "from_id")

		dee := a.do("GET", "/users/dee/identity", nil).must(t, 200).Map(t)
		for _, v := range []string{"1.1", "2.0"} {
			var list []map[string]any
			a.do("GET", "/users/ann/identities", nil, accept(v)...).must(t, 200).JSON(t, &list)
			wantJSON(t, v+" identities", list, []any{a.basicIdentity("bob", nil), dee, a.basicIdentity("cy", nil)})
		}

		mark = a.eventMark()
		a.do("DELETE", "/users/ann/following/cy", nil).must(t, 204)
		a.do("DELETE", "/users/ann/following/cy", nil).must(t, 204)
		a.wantEvents(t, mark, "user.unfollowed")
		a.do("GET", "/users/ann/following/cy", nil).wantError(t, 404, "not_found", "")
	})
}
