package http_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var conversationKeys = []string{"id", "url", "messages_url", "created_at", "participants", "distinct", "metadata"}

// newConversation creates a (distinct) conversation of the participants and
// returns its bare id.
func (a *api) newConversation(t *testing.T, participants ...string) string {
	t.Helper()
	c := a.do("POST", "/conversations", map[string]any{"participants": participants}).must(t, 201).Map(t)
	return wantUUID(t, c["id"], "layer:///conversations/")
}

// conversation fetches a conversation, as rendered.
// patched patches a conversation, which answers 204 as Layer did, and
// returns it as it is then.
func (a *api) patched(t *testing.T, id string, body any) map[string]any {
	t.Helper()
	a.do("PATCH", "/conversations/"+id, body).must(t, 204)
	return a.conversation(t, id)
}

func (a *api) conversation(t *testing.T, id string) map[string]any {
	t.Helper()
	return a.do("GET", "/conversations/"+id, nil).must(t, 200).Map(t)
}

func (a *api) conversationURL(id string) string {
	return a.URL + "/apps/" + a.AppID + "/conversations/" + id
}

// patch builds a Layer-Patch operation.
func patch(operation, property string, value ...any) map[string]any {
	op := map[string]any{"operation": operation, "property": property}
	if len(value) > 0 {
		op["value"] = value[0]
	}
	return op
}

// conversationIDs lists the bare ids of a listing's conversations.
func conversationIDs(t *testing.T, r *response) []string {
	t.Helper()
	var list []map[string]any
	r.JSON(t, &list)
	ids := []string{}
	for _, c := range list {
		ids = append(ids, wantUUID(t, c["id"], "layer:///conversations/"))
	}
	return ids
}

func TestCreateConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		mark := a.eventMark()
		c := a.do("POST", "/conversations", map[string]any{
			"participants": []string{"alice", "bob"},
			"metadata":     map[string]any{"title": "Lunch", "stats": map[string]any{"n": 1}},
		}).must(t, 201).Map(t)
		wantKeys(t, "conversation", c, conversationKeys...)
		id := wantUUID(t, c["id"], "layer:///conversations/")
		wantJSON(t, "conversation", without(c, "created_at"), map[string]any{
			"id": "layer:///conversations/" + id, "url": a.conversationURL(id), "messages_url": a.conversationURL(id) + "/messages",
			"participants": []string{"alice", "bob"}, "distinct": true,
			"metadata": map[string]any{"title": "Lunch", "stats": map[string]any{"n": 1}},
		})
		a.wantNow(t, c["created_at"])

		ev := a.wantEvents(t, mark, "conversation.created")[0]
		if d := obj(t, eventData(t, ev)["conversation"]); d["id"] != id {
			t.Fatalf("conversation.created data.conversation: %v", d)
		}

		// The conversation reads back by bare id, Layer id and url.
		wantJSON(t, "GET by id", a.conversation(t, id), c)
		wantJSON(t, "GET by Layer id", a.conversation(t, esc("layer:///conversations/"+id)), c)
		wantJSON(t, "GET by url", a.do("GET", c["url"].(string), nil).must(t, 200).Map(t), c)
		var msgs []any
		a.do("GET", c["messages_url"].(string), nil).must(t, 200).JSON(t, &msgs)
		if msgs == nil || len(msgs) != 0 {
			t.Fatalf("a new conversation's messages: %#v, want []", msgs)
		}

		a.do("GET", "/conversations/00000000-0000-0000-0000-000000000000", nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/conversations/nonsense", nil).wantError(t, 404, "not_found", "")
	})
}

func TestCreateConversationParticipantForms(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		c := a.do("POST", "/conversations", map[string]any{"participants": []any{
			"alice", "layer:///identities/bob", map[string]any{"user_id": "carol"},
			map[string]any{"id": "layer:///identities/dave"}, "alice", "bob",
		}}).must(t, 201).Map(t)
		// Duplicates go; first-seen order stays.
		wantJSON(t, "participants", c["participants"], []string{"alice", "bob", "carol", "dave"})
		if c["metadata"] == nil || len(obj(t, c["metadata"])) != 0 {
			t.Fatalf("a conversation without metadata renders metadata %v, want {}", c["metadata"])
		}
	})
}

func TestDistinctConversations(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		first := a.do("POST", "/conversations", map[string]any{
			"participants": []string{"alice", "bob", "carol"}, "metadata": map[string]any{"topic": "x"},
		}).must(t, 201).Map(t)
		id := localID(first["id"])

		mark := a.eventMark()
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"same order", map[string]any{"participants": []string{"alice", "bob", "carol"}}},
			{"another order", map[string]any{"participants": []string{"carol", "alice", "bob"}}},
			{"duplicates and identity ids", map[string]any{"participants": []any{"bob", "layer:///identities/carol", "bob", map[string]any{"user_id": "alice"}}}},
			{"explicitly distinct", map[string]any{"participants": []string{"bob", "alice", "carol"}, "distinct": true}},
			{"same metadata", map[string]any{"participants": []string{"carol", "bob", "alice"}, "metadata": map[string]any{"topic": "x"}}},
		} {
			got := a.do("POST", "/conversations", tc.body).must(t, 200).Map(t)
			wantJSON(t, tc.name, got, first)
		}

		// Different metadata: a conflict that shows the existing conversation.
		e := a.do("POST", "/conversations", map[string]any{
			"participants": []string{"bob", "carol", "alice"}, "metadata": map[string]any{"topic": "y"},
		}).wantError(t, 409, "conflict", "")
		wantJSON(t, "conflict data", e["data"], first)
		a.wantEvents(t, mark)

		// Other participant sets, or distinct false, make new conversations.
		others := []string{
			a.newConversation(t, "alice", "bob"),
			a.newConversation(t, "alice", "bob", "carol", "dave"),
			localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob", "carol"}, "distinct": false}).must(t, 201).Map(t)["id"]),
			localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob", "carol"}, "distinct": false}).must(t, 201).Map(t)["id"]),
		}
		for _, o := range others {
			if o == id {
				t.Fatalf("a different conversation got the distinct one's id")
			}
		}
		if a.conversation(t, others[3])["distinct"] != false {
			t.Fatalf("distinct: false was not kept")
		}
		// The distinct one is still the one returned.
		a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob", "carol"}}).must(t, 200)
		a.wantEvents(t, mark, "conversation.created", "conversation.created", "conversation.created", "conversation.created")
	})
}

// A distinct conversation created without metadata renders metadata {}: a
// client that repeats the creation with that {} asks for the same thing.
func TestDistinctConversationEmptyMetadata(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		plain := a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}}).must(t, 201).Map(t)
		got := a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}, "metadata": map[string]any{}}).must(t, 200).Map(t)
		wantJSON(t, "repeat with metadata {}", got, plain)

		empty := a.do("POST", "/conversations", map[string]any{"participants": []string{"carol"}, "metadata": map[string]any{}}).must(t, 201).Map(t)
		got = a.do("POST", "/conversations", map[string]any{"participants": []string{"carol"}}).must(t, 200).Map(t)
		wantJSON(t, "repeat without metadata", got, empty)

		// Adding a participant changes the participants only.
		mark := a.eventMark()
		a.do("PATCH", "/conversations/"+localID(empty["id"]), []any{patch("add", "participants", "dave")}).must(t, 204)
		a.wantEvents(t, mark, "conversation.updated.participants")
	})
}

func TestCreateConversationValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		many := make([]string, 1001)
		for i := range many {
			many[i] = fmt.Sprint("user", i)
		}
		for _, tc := range []struct {
			name         string
			body         any
			status       int
			id, property string
		}{
			{"no participants", map[string]any{"metadata": map[string]any{}}, 422, "missing_property", "participants"},
			{"participants null", map[string]any{"participants": nil}, 422, "missing_property", "participants"},
			{"empty participants", map[string]any{"participants": []string{}}, 422, "invalid_property", "participants"},
			{"participants a number", map[string]any{"participants": 5}, 422, "invalid_property", "participants"},
			{"participants a string", map[string]any{"participants": "alice"}, 422, "invalid_property", "participants"},
			{"participants an object", map[string]any{"participants": map[string]any{"user_id": "alice"}}, 422, "invalid_property", "participants"},
			{"a number entry", map[string]any{"participants": []any{"alice", 5}}, 422, "invalid_property", "participants[1]"},
			{"a list entry", map[string]any{"participants": []any{"alice", "bob", []string{"c"}}}, 422, "invalid_property", "participants[2]"},
			{"an empty entry", map[string]any{"participants": []any{"alice", ""}}, 422, "missing_property", "participants[1]"},
			{"an entry without user_id", map[string]any{"participants": []any{map[string]any{}}}, 422, "missing_property", "participants[0]"},
			{"a control character", map[string]any{"participants": []any{"al\nice"}}, 422, "invalid_property", "participants[0]"},
			{"a user id too long", map[string]any{"participants": []any{strings.Repeat("x", 256)}}, 422, "invalid_property", "participants[0]"},
			{"too many participants", map[string]any{"participants": many}, 422, "invalid_property", "participants"},
			{"metadata a string", map[string]any{"participants": []string{"alice"}, "metadata": "x"}, 422, "invalid_property", "metadata"},
			{"metadata a list", map[string]any{"participants": []string{"alice"}, "metadata": []int{1}}, 422, "invalid_property", "metadata"},
			{"distinct a string", map[string]any{"participants": []string{"alice"}, "distinct": "yes"}, 422, "invalid_property", "distinct"},
			{"body a list", []string{"alice"}, 400, "invalid_request", ""},
			{"body a string", "\"alice\"", 400, "invalid_request", ""},
			{"malformed JSON", `{"participants": ["alice"`, 400, "invalid_request", ""},
			{"empty body", "", 400, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				a.do("POST", "/conversations", tc.body).wantError(t, tc.status, tc.id, tc.property)
				a.wantEvents(t, mark)
			})
		}
		if ids := conversationIDs(t, a.do("GET", "/conversations", nil).must(t, 200)); len(ids) != 0 {
			t.Fatalf("refused requests created conversations %v", ids)
		}
		// 1000 participants are fine.
		a.do("POST", "/conversations", map[string]any{"participants": many[:1000]}).must(t, 201)
	})
}

func TestListConversations(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var created []string // oldest first
		for i := range 5 {
			created = append(created, a.newConversation(t, "alice", fmt.Sprint("u", i)))
		}
		newest := slices.Clone(created)
		slices.Reverse(newest)

		res := a.do("GET", "/conversations", nil).must(t, 200)
		if ids := conversationIDs(t, res); !slices.Equal(ids, newest) {
			t.Fatalf("listing %v, want newest first %v", ids, newest)
		}
		if l := res.Header.Get("Link"); l != "" {
			t.Fatalf("a partial page has Link %q", l)
		}
		var list []map[string]any
		res.JSON(t, &list)
		wantJSON(t, "listed conversation", list[0], a.conversation(t, newest[0]))

		// Pages of two, following the Link header.
		next := "/conversations?page_size=2"
		var pages [][]string
		for range 10 {
			res := a.do("GET", next, nil).must(t, 200)
			pages = append(pages, conversationIDs(t, res))
			l := res.Header.Get("Link")
			if l == "" {
				break
			}
			u, ok := strings.CutSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			if !ok || !strings.HasPrefix(u, a.URL+"/apps/"+a.AppID+"/conversations?") {
				t.Fatalf("Link %q", l)
			}
			q, _ := url.Parse(u)
			if q.Query().Get("page_size") != "2" || q.Query().Get("from_id") != pages[len(pages)-1][1] {
				t.Fatalf("Link %q after page %v", l, pages[len(pages)-1])
			}
			next = u
		}
		wantJSON(t, "pages", pages, [][]string{newest[:2], newest[2:4], newest[4:]})

		// from_id takes bare or Layer ids, of any conversation.
		ids := conversationIDs(t, a.do("GET", "/conversations?from_id="+url.QueryEscape("layer:///conversations/"+newest[1]), nil).must(t, 200))
		wantJSON(t, "from_id Layer id", ids, newest[2:])
		ids = conversationIDs(t, a.do("GET", "/conversations?page_size=1&from_id="+newest[3], nil).must(t, 200))
		wantJSON(t, "from_id bare", ids, newest[4:])
		ids = conversationIDs(t, a.do("GET", "/conversations?from_id="+newest[4], nil).must(t, 200))
		wantJSON(t, "from the oldest", ids, []string{})

		res = a.do("GET", "/conversations?page_size=500", nil).must(t, 200)
		if ids := conversationIDs(t, res); len(ids) != 5 {
			t.Fatalf("page_size=500 listed %d", len(ids))
		}
		for _, size := range []string{"0", "501", "-3", "two", "1e2"} {
			a.do("GET", "/conversations?page_size="+size, nil).wantError(t, 422, "invalid_property", "page_size")
		}
	})
}

func TestUserConversations(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		c1 := a.newConversation(t, "alice", "carol")
		c2 := a.newConversation(t, "alice", "bob")
		c3 := a.newConversation(t, "bob", "carol")

		for _, tc := range []struct {
			user string
			want []string
		}{
			{"alice", []string{c2, c1}},
			{"bob", []string{c3, c2}},
			{"carol", []string{c3, c1}},
			{"nobody", []string{}},
		} {
			res := a.do("GET", "/users/"+tc.user+"/conversations", nil).must(t, 200)
			wantJSON(t, tc.user+"'s conversations", conversationIDs(t, res), tc.want)
		}
		ids := conversationIDs(t, a.do("GET", "/users/alice/conversations?page_size=1", nil).must(t, 200))
		wantJSON(t, "alice's first page", ids, []string{c2})
		ids = conversationIDs(t, a.do("GET", "/users/alice/conversations?page_size=1&from_id="+c2, nil).must(t, 200))
		wantJSON(t, "alice's second page", ids, []string{c1})

		wantJSON(t, "user's view of a conversation", without(a.do("GET", "/users/bob/conversations/"+c2, nil).must(t, 200).Map(t),
			"last_message", "unread_message_count"), a.conversation(t, c2))
		a.do("GET", "/users/bob/conversations/"+esc("layer:///conversations/"+c3), nil).must(t, 200)
		a.do("GET", "/users/alice/conversations/"+c3, nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/nobody/conversations/"+c1, nil).wantError(t, 404, "not_found", "")
	})
}

func TestPatchConversationParticipants(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		id := a.newConversation(t, "alice", "bob")
		before := a.conversation(t, id)

		// Adding someone already there changes nothing and keeps the
		// conversation distinct.
		mark := a.eventMark()
		got := a.patched(t, id, []any{patch("add", "participants", "bob")})
		wantJSON(t, "no-op patch", got, before)
		a.wantEvents(t, mark)

		got = a.patched(t, id, []any{
			patch("add", "participants", []string{"carol", "layer:///identities/dave"}),
			patch("remove", "participants", "alice"),
			patch("remove", "participants", "zed"),
		})
		want := without(before, "participants", "distinct")
		want["participants"], want["distinct"] = []string{"bob", "carol", "dave"}, false
		wantJSON(t, "patched conversation", got, want)
		wantJSON(t, "GET patched conversation", a.conversation(t, id), got)
		ev := a.wantEvents(t, mark, "conversation.updated.participants")[0]
		data := eventData(t, ev)
		wantJSON(t, "added", data["added"], []string{"carol", "dave"})
		wantJSON(t, "removed", data["removed"], []string{"alice"})
		wantJSON(t, "event conversation participants", obj(t, data["conversation"])["participants"], []string{"bob", "carol", "dave"})

		// The user views follow; alice, removed, is denied the
		// conversation where a stranger is told it does not exist.
		a.do("GET", "/users/alice/conversations/"+id, nil).wantError(t, 403, "access_denied", "")
		a.do("GET", "/users/zed/conversations/"+id, nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/dave/conversations/"+id, nil).must(t, 200)
		wantJSON(t, "alice's conversations", conversationIDs(t, a.do("GET", "/users/alice/conversations", nil).must(t, 200)), []string{})
		wantJSON(t, "carol's conversations", conversationIDs(t, a.do("GET", "/users/carol/conversations", nil).must(t, 200)), []string{id})

		// No longer distinct: alice and bob get a new distinct conversation,
		// and so do the new participants.
		if again := a.newConversation(t, "alice", "bob"); again == id {
			t.Fatal("the changed conversation still stands for its first participants")
		}
		if again := a.newConversation(t, "bob", "carol", "dave"); again == id {
			t.Fatal("a conversation made non-distinct answered a distinct creation")
		}

		// set replaces the list.
		mark = a.eventMark()
		got = a.patched(t, id, []any{patch("set", "participants", []string{"erin", "bob", "erin"})})
		wantJSON(t, "set participants", got["participants"], []string{"erin", "bob"})
		data = eventData(t, a.wantEvents(t, mark, "conversation.updated.participants")[0])
		wantJSON(t, "set added", data["added"], []string{"erin"})
		wantJSON(t, "set removed", data["removed"], []string{"carol", "dave"})
	})
}

func TestPatchConversationMetadata(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		c := a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"},
			"metadata": map[string]any{"title": "Trip", "stats": map[string]any{"views": 1}}}).must(t, 201).Map(t)
		id := localID(c["id"])

		for _, step := range []struct {
			name  string
			ops   []any
			want  map[string]any
			event bool
		}{
			{"set a nested path", []any{patch("set", "metadata.stats.likes", 2)},
				map[string]any{"title": "Trip", "stats": map[string]any{"views": 1, "likes": 2}}, true},
			{"create intermediate objects", []any{patch("set", "metadata.a.b.c", "deep")},
				map[string]any{"title": "Trip", "stats": map[string]any{"views": 1, "likes": 2}, "a": map[string]any{"b": map[string]any{"c": "deep"}}}, true},
			{"set to the same value", []any{patch("set", "metadata.title", "Trip")},
				map[string]any{"title": "Trip", "stats": map[string]any{"views": 1, "likes": 2}, "a": map[string]any{"b": map[string]any{"c": "deep"}}}, false},
			{"delete a path", []any{patch("delete", "metadata.a"), patch("delete", "metadata.stats.views")},
				map[string]any{"title": "Trip", "stats": map[string]any{"likes": 2}}, true},
			{"delete a missing path", []any{patch("delete", "metadata.nope.nope")},
				map[string]any{"title": "Trip", "stats": map[string]any{"likes": 2}}, false},
			{"set the whole metadata", []any{patch("set", "metadata", map[string]any{"x": []int{1, 2}})},
				map[string]any{"x": []int{1, 2}}, true},
			{"delete the whole metadata", []any{patch("delete", "metadata")}, map[string]any{}, true},
			{"set values of any JSON type", []any{patch("set", "metadata.n", nil), patch("set", "metadata.b", true)},
				map[string]any{"n": nil, "b": true}, true},
		} {
			mark := a.eventMark()
			got := a.patched(t, id, step.ops)
			wantJSON(t, step.name, got["metadata"], step.want)
			wantJSON(t, step.name+": participants", got["participants"], []string{"alice", "bob"})
			if got["distinct"] != true {
				t.Fatalf("%s: a metadata change made the conversation non-distinct", step.name)
			}
			wantJSON(t, step.name+": GET", a.conversation(t, id), got)
			if step.event {
				ev := a.wantEvents(t, mark, "conversation.updated.metadata")[0]
				wantJSON(t, step.name+": event metadata", objectOr(obj(t, eventData(t, ev)["conversation"])["metadata"]), step.want)
			} else {
				a.wantEvents(t, mark)
			}
		}
	})
}

// objectOr returns v, or {} for a missing value (the event data omits empty
// metadata).
func objectOr(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

func TestPatchConversationBoth(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		id := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		// Method override: clients that cannot send PATCH tunnel it in a POST.
		a.do("POST", "/conversations/"+id, []any{
			patch("set", "metadata.title", "Both"),
			patch("add", "participants", "carol"),
		}, "X-HTTP-Method-Override", "PATCH").must(t, 204)
		got := a.conversation(t, id)
		wantJSON(t, "participants", got["participants"], []string{"alice", "bob", "carol"})
		wantJSON(t, "metadata", got["metadata"], map[string]any{"title": "Both"})
		evs := a.wantEvents(t, mark, "conversation.updated.participants", "conversation.updated.metadata")
		for _, ev := range evs {
			c := obj(t, eventData(t, ev)["conversation"])
			wantJSON(t, ev["type"].(string)+" participants", c["participants"], []string{"alice", "bob", "carol"})
			wantJSON(t, ev["type"].(string)+" metadata", c["metadata"], map[string]any{"title": "Both"})
		}
	})
}

func TestPatchConversationPlainObject(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		id := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		got := a.patched(t, id, map[string]any{"metadata": map[string]any{"k": "v"}})
		wantJSON(t, "metadata", got["metadata"], map[string]any{"k": "v"})
		wantJSON(t, "participants", got["participants"], []string{"alice", "bob"})
		a.wantEvents(t, mark, "conversation.updated.metadata")

		mark = a.eventMark()
		got = a.patched(t, id, map[string]any{"participants": []string{"bob", "carol"}, "metadata": map[string]any{"k": "v"}})
		wantJSON(t, "participants", got["participants"], []string{"bob", "carol"})
		wantJSON(t, "metadata", got["metadata"], map[string]any{"k": "v"})
		a.wantEvents(t, mark, "conversation.updated.participants")

		before := a.conversation(t, id)
		mark = a.eventMark()
		for _, tc := range []struct {
			name     string
			body     any
			status   int
			id, prop string
		}{
			{"another field", map[string]any{"metadata": map[string]any{}, "distinct": true}, 422, "invalid_property", "distinct"},
			{"no field", map[string]any{}, 400, "invalid_request", ""},
			{"participants a number", map[string]any{"participants": 5}, 422, "invalid_property", "participants"},
			{"participants empty", map[string]any{"participants": []string{}}, 422, "invalid_property", "participants"},
			{"a bad participant", map[string]any{"participants": []any{"bob", ""}}, 422, "missing_property", "participants[1]"},
			{"metadata a string", map[string]any{"metadata": "x"}, 422, "invalid_property", "metadata"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a.in(t).do("PATCH", "/conversations/"+id, tc.body).wantError(t, tc.status, tc.id, tc.prop)
			})
		}
		a.wantEvents(t, mark)
		wantJSON(t, "conversation after refused patches", a.conversation(t, id), before)
	})
}

func TestPatchConversationRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		c := a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"},
			"metadata": map[string]any{"title": "T"}}).must(t, 201).Map(t)
		id := localID(c["id"])
		for _, tc := range []struct {
			name     string
			body     any
			status   int
			errID    string
			property string
		}{
			{"no operations", []any{}, 400, "invalid_request", ""},
			{"operations of the wrong shape", []any{5}, 400, "invalid_request", ""},
			{"remove every participant", []any{patch("remove", "participants", []string{"alice", "bob"})}, 422, "invalid_property", "participants"},
			{"set no participants", []any{patch("set", "participants", []string{})}, 422, "invalid_property", "participants"},
			{"unknown operation", []any{patch("replace", "participants", "x")}, 422, "invalid_property", "operations[0].operation"},
			{"unknown metadata operation", []any{patch("add", "metadata.x", 1)}, 422, "invalid_property", "operations[0].operation"},
			{"unknown property", []any{patch("set", "distinct", false)}, 422, "invalid_property", "operations[0].property"},
			{"empty metadata path", []any{patch("set", "metadata..x", 1)}, 422, "invalid_property", "operations[0].property"},
			{"through a non-object", []any{patch("set", "metadata.title.sub", 1)}, 422, "invalid_property", "operations[0].property"},
			{"metadata not an object", []any{patch("set", "metadata", "x")}, 422, "invalid_property", "operations[0].value"},
			{"set without a value", []any{patch("set", "metadata.x")}, 422, "missing_property", "operations[0].value"},
			{"participant not a string", []any{patch("add", "participants", 5)}, 422, "invalid_property", "operations[0].value"},
			{"bad participant", []any{patch("add", "participants", []string{"ok", ""})}, 422, "missing_property", "operations[0].value[1]"},
			// A bad operation after good ones: nothing at all is applied.
			{"bad second operation", []any{patch("add", "participants", "carol"), patch("set", "metadata.title", "U"), patch("frob", "metadata.x")},
				422, "invalid_property", "operations[2].operation"},
			{"malformed JSON", `[{"operation":`, 400, "invalid_request", ""},
			{"a JSON string", `"add"`, 400, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				a.do("PATCH", "/conversations/"+id, tc.body).wantError(t, tc.status, tc.errID, tc.property)
				a.wantEvents(t, mark)
				wantJSON(t, "conversation after a refused patch", a.conversation(t, id), c)
			})
		}
		a.do("PATCH", "/conversations/00000000-0000-0000-0000-000000000000", []any{patch("add", "participants", "x")}).wantError(t, 404, "not_found", "")
	})
}

func TestDeleteConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		id := a.newConversation(t, "alice", "bob")
		keep := a.newConversation(t, "alice", "carol")
		m := localID(a.sendText(t, id, "alice", "hello")["id"])

		mark := a.eventMark()
		res := a.do("DELETE", "/conversations/"+esc("layer:///conversations/"+id), nil).must(t, 204)
		if len(res.Body) != 0 {
			t.Fatalf("204 with a body: %q", res.Body)
		}
		ev := a.wantEvents(t, mark, "conversation.deleted")[0]
		if d := obj(t, eventData(t, ev)["conversation"]); d["id"] != id || d["deleted_at"] == nil {
			t.Fatalf("conversation.deleted data.conversation: %v", d)
		}

		mark = a.eventMark()
		// Layer answered 410 Gone for what was deleted
		// (docs.layer.com server_api conversations.out).
		for _, path := range []string{
			"/conversations/" + id, "/users/alice/conversations/" + id, "/conversations/" + id + "/messages",
			"/users/alice/conversations/" + id + "/messages", "/messages/" + m, "/conversations/" + id + "/messages/" + m,
			"/users/bob/messages/" + m,
		} {
			a.do("GET", path, nil).wantError(t, 410, "gone", "")
		}
		// "Deleting an already-deleted conversation is treated as a
		// success" (Platform API changelog, 2015-09-30).
		a.do("DELETE", "/conversations/"+id, nil).must(t, 204)
		a.do("PATCH", "/conversations/"+id, []any{patch("add", "participants", "x")}).wantError(t, 410, "gone", "")
		a.do("POST", "/conversations/"+id+"/messages", map[string]any{"sender": map[string]any{"user_id": "alice"},
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "x"}}}).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/bob/messages/"+m+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/conversations/"+id+"/messages/"+m, nil).wantError(t, 404, "not_found", "")
		a.do("POST", "/conversations/"+id+"/content", nil, "Upload-Content-Type", "text/plain", "Upload-Content-Length", "1").wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)

		wantJSON(t, "listing", conversationIDs(t, a.do("GET", "/conversations", nil).must(t, 200)), []string{keep})
		wantJSON(t, "bob's listing", conversationIDs(t, a.do("GET", "/users/bob/conversations", nil).must(t, 200)), []string{})
		// The participants may start a new distinct conversation.
		if again := a.newConversation(t, "alice", "bob"); again == id {
			t.Fatal("a deleted conversation came back")
		}
	})
}
