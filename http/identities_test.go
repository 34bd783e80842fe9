package http_test

import (
	"strings"
	"testing"
	"time"
)

var identityKeys = []string{"id", "url", "user_id", "display_name", "avatar_url", "first_name", "last_name",
	"phone_number", "email_address", "public_key", "metadata", "created_at", "updated_at"}

// identityURL is the url an identity is rendered with.
func (a *api) identityURL(escapedUser string) string {
	return a.URL + "/apps/" + a.AppID + "/users/" + escapedUser + "/identity"
}

func TestIdentityPutCreatesThenReplaces(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		fields := map[string]any{
			"display_name": "Alice A.", "avatar_url": "https://example.com/alice.png", "first_name": "Alice",
			"last_name": "Anderson", "phone_number": "+15551234567", "email_address": "alice@example.com",
			"public_key": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
			"metadata":   map[string]any{"team": "blue", "level": "3"},
		}
		mark := a.eventMark()
		// Layer answered a creation with 201 and no body.
		res := a.do("PUT", "/users/alice/identity", fields).must(t, 201)
		if len(res.Body) != 0 || res.Header.Get("Location") != a.identityURL("alice") {
			t.Fatalf("created identity: body %q, Location %q", res.Body, res.Header.Get("Location"))
		}
		created := a.do("GET", "/users/alice/identity", nil).must(t, 200).Map(t)
		wantKeys(t, "identity", created, identityKeys...)
		want := map[string]any{"id": "layer:///identities/alice", "url": a.identityURL("alice"), "user_id": "alice"}
		for k, v := range fields {
			want[k] = v
		}
		wantJSON(t, "created identity", without(created, "created_at", "updated_at"), want)
		createdAt := a.wantNow(t, created["created_at"])
		if created["updated_at"] != created["created_at"] {
			t.Fatalf("a new identity has updated_at %v, created_at %v", created["updated_at"], created["created_at"])
		}
		ev := a.wantEvents(t, mark, "identity.created")[0]
		if d := obj(t, eventData(t, ev)["identity"]); d["user_id"] != "alice" || d["email_address"] != "alice@example.com" {
			t.Fatalf("identity.created data.identity: %v", d)
		}

		wantJSON(t, "GET identity by its url", a.do("GET", created["url"].(string), nil).must(t, 200).Map(t), created)

		// PUT replaces the whole identity: fields it leaves out are cleared.
		a.advance(time.Minute)
		mark = a.eventMark()
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Al"}).must(t, 204)
		replaced := a.do("GET", "/users/alice/identity", nil).must(t, 200).Map(t)
		wantJSON(t, "replaced identity", without(replaced, "created_at", "updated_at"), map[string]any{
			"id": "layer:///identities/alice", "url": a.identityURL("alice"), "user_id": "alice", "display_name": "Al",
			"avatar_url": nil, "first_name": nil, "last_name": nil, "phone_number": nil, "email_address": nil,
			"public_key": nil, "metadata": map[string]any{},
		})
		if replaced["created_at"] != created["created_at"] {
			t.Fatalf("replacing changed created_at from %v to %v", created["created_at"], replaced["created_at"])
		}
		if updatedAt := a.wantNow(t, replaced["updated_at"]); updatedAt.Sub(createdAt) < time.Minute {
			t.Fatalf("updated_at %v is not a minute after created_at %v", updatedAt, createdAt)
		}
		ev = a.wantEvents(t, mark, "identity.updated")[0]
		if d := obj(t, eventData(t, ev)["identity"]); d["display_name"] != "Al" || d["email_address"] != nil {
			t.Fatalf("identity.updated data.identity: %v", d)
		}
	})
}

func TestIdentityPostCreatesOnlyOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		// display_name is required (platform/users/identity.md).
		a.do("POST", "/users/bob/identity", map[string]any{"first_name": "Bob"}).wantError(t, 422, "missing_property", "display_name")
		a.do("GET", "/users/bob/identity", nil).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/bob/identity", map[string]any{"display_name": "Bob", "first_name": "Bob"}).must(t, 201)
		created := a.do("GET", "/users/bob/identity", nil).must(t, 200).Map(t)
		wantJSON(t, "created identity", without(created, "created_at", "updated_at"), map[string]any{
			"id": "layer:///identities/bob", "url": a.identityURL("bob"), "user_id": "bob", "display_name": "Bob",
			"avatar_url": nil, "first_name": "Bob", "last_name": nil, "phone_number": nil, "email_address": nil,
			"public_key": nil, "metadata": map[string]any{},
		})

		mark := a.eventMark()
		a.do("POST", "/users/bob/identity", map[string]any{"first_name": "Robert"}).wantError(t, 409, "id_in_use", "")
		a.wantEvents(t, mark)
		wantJSON(t, "identity after refused POST", a.do("GET", "/users/bob/identity", nil).must(t, 200).Map(t), created)
	})
}

func TestIdentityPatchChangesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		mark := a.eventMark()
		a.do("PATCH", "/users/carol/identity", map[string]any{"display_name": "Carol"}).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		a.do("GET", "/users/carol/identity", nil).wantError(t, 404, "not_found", "")

		a.do("PUT", "/users/carol/identity", map[string]any{
			"display_name": "Carol", "first_name": "Carol", "last_name": "Chen", "metadata": map[string]any{"a": "1"},
		}).must(t, 201)
		start := a.do("GET", "/users/carol/identity", nil).must(t, 200).Map(t)
		patched := func(body any) map[string]any {
			t.Helper()
			a.do("PATCH", "/users/carol/identity", body).must(t, 204)
			return a.do("GET", "/users/carol/identity", nil).must(t, 200).Map(t)
		}

		mark = a.eventMark()
		got := patched(map[string]any{"last_name": "Cho", "email_address": "c@example.com"})
		want := without(start, "updated_at")
		want["last_name"], want["email_address"] = "Cho", "c@example.com"
		wantJSON(t, "patched identity", without(got, "updated_at"), want)
		a.wantEvents(t, mark, "identity.updated")

		// metadata is replaced as a whole when given, kept when not.
		got = patched(map[string]any{"metadata": map[string]any{"b": "2"}})
		wantJSON(t, "patched metadata", got["metadata"], map[string]any{"b": "2"})
		if got["last_name"] != "Cho" || got["display_name"] != "Carol" {
			t.Fatalf("patching metadata changed other fields: %v", got)
		}
		// An empty string clears a field.
		got = patched(map[string]any{"first_name": ""})
		if got["first_name"] != nil || got["last_name"] != "Cho" {
			t.Fatalf("clearing first_name: %v", got)
		}

		// Layer-Patch, as Layer documented identity edits and its clients
		// send them (node-layer-api identities.edit, the Ruby gem's
		// update_identity).
		mark = a.eventMark()
		got = patched([]any{
			patch("set", "last_name", "Dodo"),
			patch("set", "metadata.level", "2"),
			patch("delete", "metadata.b"),
			patch("set", "public_key", "KEY"),
			patch("delete", "email_address"),
		})
		if got["last_name"] != "Dodo" || got["public_key"] != "KEY" || got["email_address"] != nil || got["display_name"] != "Carol" {
			t.Fatalf("Layer-Patch of an identity: %v", got)
		}
		wantJSON(t, "Layer-Patch metadata", got["metadata"], map[string]any{"level": "2"})
		a.wantEvents(t, mark, "identity.updated")
		for _, tc := range []struct {
			ops      []any
			property string
		}{
			{[]any{patch("set", "nickname", "x")}, "operations[0].property"},
			{[]any{patch("add", "last_name", "x")}, "operations[0].operation"},
			{[]any{patch("set", "last_name", "ok"), patch("set", "first_name", 5)}, "operations[1].value"},
			{[]any{patch("set", "metadata.n", 5)}, "metadata.n"},
			{[]any{patch("set", "identity_type", "robot")}, "identity_type"},
		} {
			a.do("PATCH", "/users/carol/identity", tc.ops).wantError(t, 422, "invalid_property", tc.property)
		}
		wantJSON(t, "identity after refused patches", a.do("GET", "/users/carol/identity", nil).must(t, 200).Map(t), got)
	})
}

func TestIdentityDelete(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/dave/identity", map[string]any{"display_name": "Dave"}).must(t, 201)
		a.do("PUT", "/users/erin/identity", map[string]any{"display_name": "Erin"}).must(t, 201)

		mark := a.eventMark()
		res := a.do("DELETE", "/users/dave/identity", nil).must(t, 204)
		if len(res.Body) != 0 {
			t.Fatalf("204 with a body: %q", res.Body)
		}
		ev := a.wantEvents(t, mark, "identity.deleted")[0]
		if d := obj(t, eventData(t, ev)["identity"]); d["user_id"] != "dave" || d["display_name"] != "Dave" {
			t.Fatalf("identity.deleted data.identity: %v", d)
		}
		a.do("GET", "/users/dave/identity", nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/erin/identity", nil).must(t, 200)

		mark = a.eventMark()
		a.do("DELETE", "/users/dave/identity", nil).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/users/nobody/identity", nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)

		// The user may get an identity again.
		a.do("POST", "/users/dave/identity", map[string]any{"display_name": "Dave 2"}).must(t, 201)
	})
}

func TestIdentityUserIDsNeedEscaping(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		for _, tc := range []struct{ user, escaped string }{
			{"jean luc", "jean%20luc"},
			{"a/b", "a%2Fb"},
			{"zoë@example.com", "zo%C3%AB@example.com"},
		} {
			a.do("PUT", "/users/"+tc.escaped+"/identity", map[string]any{"display_name": tc.user}).must(t, 201)
			got := a.do("GET", "/users/"+tc.escaped+"/identity", nil).must(t, 200).Map(t)
			if got["user_id"] != tc.user || got["id"] != "layer:///identities/"+tc.user || got["url"] != a.identityURL(tc.escaped) {
				t.Fatalf("identity of %q rendered as %v", tc.user, got)
			}
			wantJSON(t, "GET by url", a.do("GET", got["url"].(string), nil).must(t, 200).Map(t), got)
		}
	})
}

func TestIdentityValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/frank/identity", map[string]any{"display_name": "Frank"}).must(t, 201)
		existing := a.do("GET", "/users/frank/identity", nil).must(t, 200).Map(t)
		long := strings.Repeat("u", 256)
		for _, tc := range []struct {
			name, method, user string
			body               any
			status             int
			id, property       string
		}{
			{"metadata a string", "PUT", "frank", map[string]any{"display_name": "F", "metadata": "x"}, 422, "invalid_property", "metadata"},
			{"metadata value a number", "PUT", "frank", map[string]any{"display_name": "F", "metadata": map[string]any{"n": 1}}, 422, "invalid_property", "metadata.n"},
			{"metadata value an object", "PATCH", "frank", map[string]any{"metadata": map[string]any{"o": map[string]any{}}}, 422, "invalid_property", "metadata.o"},
			{"metadata of 17 keys", "PATCH", "frank", map[string]any{"metadata": seventeenKeys()}, 422, "invalid_property", "metadata"},
			{"no display_name", "PUT", "frank", map[string]any{"first_name": "F"}, 422, "missing_property", "display_name"},
			{"display_name too long", "PATCH", "frank", map[string]any{"display_name": strings.Repeat("n", 129)}, 422, "invalid_property", "display_name"},
			{"phone_number too long", "PATCH", "frank", map[string]any{"phone_number": strings.Repeat("1", 33)}, 422, "invalid_property", "phone_number"},
			{"identity_type unknown", "PATCH", "frank", map[string]any{"identity_type": "robot"}, 422, "invalid_property", "identity_type"},
			{"metadata an array", "PATCH", "frank", map[string]any{"metadata": []int{1}}, 422, "invalid_property", "metadata"},
			{"display_name a number", "PUT", "frank", map[string]any{"display_name": 5}, 422, "invalid_property", "display_name"},
			{"email_address an object", "PATCH", "frank", map[string]any{"email_address": map[string]any{}}, 422, "invalid_property", "email_address"},
			{"user id too long", "PUT", long, map[string]any{"display_name": "x"}, 422, "invalid_property", "user_id"},
			{"user id with a control character", "POST", "bad%01user", map[string]any{"display_name": "x"}, 422, "invalid_property", "user_id"},
			{"body a list", "PUT", "frank", []any{}, 422, "missing_property", "display_name"},
			{"malformed JSON", "PUT", "frank", `{"display_name": "Fr`, 400, "invalid_request", ""},
			{"no body", "PUT", "frank", nil, 400, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				a.do(tc.method, "/users/"+tc.user+"/identity", tc.body).wantError(t, tc.status, tc.id, tc.property)
				a.wantEvents(t, mark)
				wantJSON(t, "identity after refused request", a.do("GET", "/users/frank/identity", nil).must(t, 200).Map(t), existing)
			})
		}
		a.do("GET", "/users/"+long+"/identity", nil).wantError(t, 404, "not_found", "")
	})
}

func seventeenKeys() map[string]any {
	m := map[string]any{}
	for i := range 17 {
		m[string(rune('a'+i))] = "v"
	}
	return m
}
