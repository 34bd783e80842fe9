package http_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/messaging"
)

// Integration tests of the Callbell-shaped /v1 API: channels, contacts,
// channel messages and their refusals, over real HTTP against each storage
// engine.

// v1tHex32 is a UUID in Callbell's 32-digit form.
var v1tHex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

var v1tChannelKeys = []string{"uuid", "title", "type", "identifier", "main", "createdAt", "discardedAt"}

// v1tContactKeys are the keys of Callbell's contact object
// (object_types/contact.md) but bsuid, present only when known.
var v1tContactKeys = []string{"uuid", "name", "phoneNumber", "avatarUrl", "createdAt", "source", "href",
	"conversationHref", "tags", "assignedUser", "customFields", "closedAt", "blockedAt", "funnelId", "team",
	"channel", "note"}

// v1 sends a request to the /v1 API with the app's token.
func (a *api) v1tDo(method, path string, body any) *response {
	a.t.Helper()
	return a.do(method, "//v1"+path, body)
}

// v1tChannel configures a channel and returns it.
func (a *api) v1tChannel(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := a.v1tDo("POST", "/channels", body).must(t, 201).Map(t)
	wantKeys(t, "channel creation", res, "channel")
	ch := obj(t, res["channel"])
	wantKeys(t, "channel", ch, v1tChannelKeys...)
	return ch
}

// v1tContact creates a contact and returns it.
func (a *api) v1tContact(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := a.v1tDo("POST", "/contacts", body).must(t, 201).Map(t)
	wantKeys(t, "contact creation", res, "contact")
	c := obj(t, res["contact"])
	wantKeys(t, "contact", without(c, "closingReason", "bsuid"), v1tContactKeys...)
	return c
}

// contact gets a contact by UUID.
func (a *api) v1tGetContact(t *testing.T, id string) map[string]any {
	t.Helper()
	return obj(t, a.v1tDo("GET", "/contacts/"+id, nil).must(t, 200).Map(t)["contact"])
}

// v1tList lists a page of contacts: their UUIDs and the meta object.
func (a *api) v1tList(t *testing.T, query string) ([]string, map[string]any) {
	t.Helper()
	res := a.v1tDo("GET", "/contacts"+query, nil).must(t, 200).Map(t)
	wantKeys(t, "contact list", res, "contacts", "meta")
	ids := []string{}
	for _, c := range arr(t, res["contacts"]) {
		ids = append(ids, obj(t, c)["uuid"].(string))
	}
	return ids, obj(t, res["meta"])
}

// v1tMeta checks a list's meta object.
func v1tMeta(t *testing.T, what string, meta map[string]any, page, pages int) {
	t.Helper()
	wantJSON(t, what+" meta", meta, map[string]any{"page": page, "pages": pages})
}

// v1tTime checks a time in Callbell's layout, close to now.
func v1tTime(t *testing.T, what string, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(callbell.TimeFormat, s)
	if err != nil {
		t.Fatalf("%s %#v is not a time in %s", what, v, callbell.TimeFormat)
	}
	if d := time.Since(ts); d < -2*time.Second || d > time.Minute {
		t.Fatalf("%s %s is %v away from now", what, s, d)
	}
	return ts
}

// dashed turns a 32-digit UUID into its 36-character form.
func v1tDashed(t *testing.T, id string) string {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatalf("%q is not a UUID: %v", id, err)
	}
	return u.String()
}

func v1tWhatsapp(identifier string) map[string]any {
	return map[string]any{"type": "whatsapp", "identifier": identifier}
}

func TestV1Auth(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		for _, r := range []struct{ method, path string }{
			{"GET", "//v1/contacts"}, {"POST", "//v1/contacts"}, {"GET", "//v1/channels"},
			{"POST", "//v1/messages/send"}, {"GET", "//v1/webhooks"}, {"POST", "//v1/webhooks/subscribe"},
		} {
			res := a.doAs("", r.method, r.path, nil)
			res.wantError(t, 401, "authentication_required", "")
			if res.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s %s: 401 without WWW-Authenticate", r.method, r.path)
			}
			a.doAs("not-a-token", r.method, r.path, nil).wantError(t, 401, "authentication_required", "")
			a.doAs("", r.method, r.path, nil, "Authorization", "Basic "+a.Token).wantError(t, 401, "authentication_required", "")
		}

		// App B's contact is invisible to app A's token.
		_, tokenB := a.newApp("b")
		b := a.in(t)
		b.Token = tokenB
		b.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		cb := b.v1tContact(t, map[string]any{"identifier": "+33 7 00 00 00 01", "source": "whatsapp", "name": "Bea"})
		id := cb["uuid"].(string)
		b.v1tGetContact(t, id)
		a.v1tDo("GET", "/contacts/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/contacts/"+v1tDashed(t, id), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"name": "Stolen"}).wantError(t, 404, "not_found", "")
		a.v1tDo("DELETE", "/contacts/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1tDo("POST", "/contacts/"+id+"/conversation/close", nil).wantError(t, 404, "not_found", "")
		if ids, _ := a.v1tList(t, ""); len(ids) != 0 {
			t.Fatalf("app A lists app B's contacts: %v", ids)
		}
		var list map[string]any
		a.v1tDo("GET", "/channels", nil).must(t, 200).JSON(t, &list)
		if n := len(arr(t, list["channels"])); n != 0 {
			t.Fatalf("app A lists %d channels of app B", n)
		}
		// B's contact is untouched.
		if got := b.v1tGetContact(t, id); got["name"] != "Bea" {
			t.Fatalf("app B's contact changed: %v", got)
		}
	})
}

func TestV1Channels(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		fr := a.v1tChannel(t, v1tWhatsapp("+33 6 12-34 56 78"))
		id := fr["uuid"].(string)
		if !v1tHex32.MatchString(id) {
			t.Fatalf("channel uuid %q is not 32 hex digits", id)
		}
		wantJSON(t, "first channel", without(fr, "uuid", "createdAt"), map[string]any{
			"type": "whatsapp", "identifier": "33612345678", "title": "whatsapp 33612345678", "main": true, "discardedAt": nil})
		v1tTime(t, "channel createdAt", fr["createdAt"])

		// A second channel of the type is not main; the first stays main.
		uk := a.v1tChannel(t, map[string]any{"type": "whatsapp", "identifier": "+44 7700 900123", "title": "UK"})
		if uk["main"] != false || uk["title"] != "UK" || uk["identifier"] != "447700900123" {
			t.Fatalf("second whatsapp channel: %v", uk)
		}
		// The first channel of another type is main.
		sms := a.v1tChannel(t, map[string]any{"type": "sms", "identifier": "+1 (555) 010-0000"})
		if sms["main"] != true || sms["identifier"] != "15550100000" {
			t.Fatalf("first sms channel: %v", sms)
		}
		// main: true takes over from the main channel of the type.
		de := a.v1tChannel(t, map[string]any{"type": "whatsapp", "identifier": "49 151 1234567", "main": true})
		if de["main"] != true {
			t.Fatalf("channel created with main true: %v", de)
		}
		get := func(id string) map[string]any {
			t.Helper()
			res := a.v1tDo("GET", "/channels/"+id, nil).must(t, 200).Map(t)
			wantKeys(t, "channel response", res, "channel")
			return obj(t, res["channel"])
		}
		if got := get(id); got["main"] != false {
			t.Fatalf("the first channel stays main after another took over: %v", got)
		}
		if got := get(sms["uuid"].(string)); got["main"] != true {
			t.Fatalf("a whatsapp channel taking over demoted the sms one: %v", got)
		}
		// The dashed form of a UUID works too.
		wantJSON(t, "channel by dashed uuid", get(v1tDashed(t, uk["uuid"].(string))), uk)

		// The list, oldest first, in one page.
		res := a.v1tDo("GET", "/channels", nil).must(t, 200).Map(t)
		wantKeys(t, "channel list", res, "channels", "meta")
		v1tMeta(t, "channel list", obj(t, res["meta"]), 1, 1)
		var ids []string
		mains := map[string]int{}
		for _, c := range arr(t, res["channels"]) {
			c := obj(t, c)
			ids = append(ids, c["uuid"].(string))
			if c["main"] == true {
				mains[c["type"].(string)]++
			}
		}
		if want := []string{id, uk["uuid"].(string), sms["uuid"].(string), de["uuid"].(string)}; !slices.Equal(ids, want) {
			t.Fatalf("channel list %v, want %v", ids, want)
		}
		wantJSON(t, "main channels per type", mains, map[string]int{"whatsapp": 1, "sms": 1})

		// PATCH the title and main: the first becomes main again.
		p := obj(t, a.v1tDo("PATCH", "/channels/"+id, map[string]any{"title": "  France  ", "main": true}).must(t, 200).Map(t)["channel"])
		if p["title"] != "France" || p["main"] != true || p["identifier"] != "33612345678" || p["type"] != "whatsapp" {
			t.Fatalf("patched channel: %v", p)
		}
		wantJSON(t, "patched channel by GET", get(id), p)
		if got := get(de["uuid"].(string)); got["main"] != false {
			t.Fatalf("making a channel main did not demote the previous main one: %v", got)
		}
		if got := get(uk["uuid"].(string)); got["main"] != false || got["title"] != "UK" {
			t.Fatalf("an unrelated channel changed: %v", got)
		}

		// Refusals, each naming its property, each changing nothing.
		a.v1tDo("PATCH", "/channels/"+id, map[string]any{"type": "sms"}).wantError(t, 422, "invalid_property", "type")
		a.v1tDo("PATCH", "/channels/"+id, map[string]any{"title": "  "}).wantError(t, 422, "invalid_property", "title")
		a.v1tDo("PATCH", "/channels/"+uuid.NewString(), map[string]any{"title": "x"}).wantError(t, 404, "not_found", "")
		e := a.v1tDo("POST", "/channels", v1tWhatsapp("33 612 345 678")).wantError(t, 409, "conflict", "identifier")
		if obj(t, e["data"])["channel"] != id {
			t.Fatalf("the conflict does not name the existing channel: %v", e["data"])
		}
		a.v1tDo("POST", "/channels", map[string]any{"type": "pigeon", "identifier": "x"}).wantError(t, 422, "invalid_property", "type")
		a.v1tDo("POST", "/channels", map[string]any{"identifier": "33611111111"}).wantError(t, 422, "missing_property", "type")
		a.v1tDo("POST", "/channels", map[string]any{"type": "whatsapp"}).wantError(t, 422, "missing_property", "identifier")
		a.v1tDo("POST", "/channels", map[string]any{"type": "whatsapp", "identifier": "call me"}).wantError(t, 422, "invalid_property", "identifier")
		a.v1tDo("POST", "/channels", map[string]any{"type": "email", "identifier": "nobody"}).wantError(t, 422, "invalid_property", "identifier")
		a.v1tDo("POST", "/channels", `{"type": "whatsapp",`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("GET", "/channels/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/channels/nope", nil).wantError(t, 404, "not_found", "")
		if n := len(arr(t, a.v1tDo("GET", "/channels", nil).must(t, 200).Map(t)["channels"])); n != 4 {
			t.Fatalf("%d channels after refused requests, want 4", n)
		}
		wantJSON(t, "channel after refused requests", get(id), p)
	})
}

func TestV1ContactCreateAndGet(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ch := a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		other := a.v1tChannel(t, v1tWhatsapp("+44 7700 900123"))
		mark := a.eventMark()
		c := a.v1tContact(t, map[string]any{
			"identifier": "+33 7 00-00 00 01", "source": "whatsapp", "name": " Ada Lovelace ",
			"tags": []string{"VIP", "lead", "vip"}, "custom_fields": map[string]any{"plan": "gold", "langs": []string{"fr", "en"}},
			"assigned_user": "agent@example.com", "avatar_url": "https://example.com/ada.png",
		})
		id := c["uuid"].(string)
		if !v1tHex32.MatchString(id) {
			t.Fatalf("contact uuid %q is not 32 hex digits", id)
		}
		wantJSON(t, "created contact", without(c, "uuid", "createdAt", "conversationHref"), map[string]any{
			"name": "Ada Lovelace", "phoneNumber": "33700000001", "avatarUrl": "https://example.com/ada.png",
			"source": "whatsapp", "href": a.URL + "/v1/contacts/" + id, "tags": []string{"VIP", "lead"},
			"assignedUser": "agent@example.com", "customFields": map[string]any{"plan": "gold", "langs": []string{"fr", "en"}},
			"closedAt": nil, "blockedAt": nil, "funnelId": nil, "team": nil, "note": nil,
			"channel": without(ch, "identifier", "createdAt"),
		})
		v1tTime(t, "contact createdAt", c["createdAt"])
		href, _ := c["conversationHref"].(string)
		if !strings.HasPrefix(href, a.URL+"/apps/"+a.AppID+"/conversations/") {
			t.Fatalf("conversationHref %q", href)
		}
		conv := a.do("GET", href, nil).must(t, 200).Map(t)
		if !slices.Contains(arr(t, conv["participants"]), any(id)) {
			// Participants may be rendered as objects; accept either form.
			if !strings.Contains(canon(t, conv["participants"]), id) {
				t.Fatalf("the contact's conversation does not have the contact: %v", conv["participants"])
			}
		}
		a.wantEvents(t, mark, "contact.created", "conversation.created", "conversation.opened")

		// By the 32-digit and the dashed form.
		wantJSON(t, "GET contact", a.v1tGetContact(t, id), c)
		wantJSON(t, "GET contact by dashed uuid", a.v1tGetContact(t, v1tDashed(t, id)), c)
		wantJSON(t, "GET contact by upper-case uuid", a.v1tGetContact(t, strings.ToUpper(id)), c)
		a.v1tDo("GET", "/contacts/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/contacts/"+id[:31], nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/contacts/not-a-uuid", nil).wantError(t, 404, "not_found", "")

		// The contact is an identity, whose display name is its name.
		ident := a.do("GET", "/users/"+id+"/identity", nil).must(t, 200).Map(t)
		if ident["display_name"] != "Ada Lovelace" || ident["phone_number"] != "+33700000001" ||
			ident["avatar_url"] != "https://example.com/ada.png" || ident["user_id"] != id {
			t.Fatalf("the contact's identity: %v", ident)
		}

		// By channel_uuid, in either form; minimal fields.
		bob := a.v1tContact(t, map[string]any{"identifier": "447700900999", "channel_uuid": v1tDashed(t, ch["uuid"].(string)), "name": "Bob"})
		wantJSON(t, "minimal contact", without(bob, "uuid", "createdAt", "conversationHref", "href"), map[string]any{
			"name": "Bob", "phoneNumber": "447700900999", "avatarUrl": nil, "source": "whatsapp", "tags": []string{},
			"assignedUser": nil, "customFields": map[string]any{}, "closedAt": nil, "blockedAt": nil, "funnelId": nil,
			"team": nil, "note": nil, "channel": without(ch, "identifier", "createdAt"),
		})

		// The same address on the same channel is a conflict, however it
		// is written; on another channel it is another contact.
		mark = a.eventMark()
		e := a.v1tDo("POST", "/contacts", map[string]any{"identifier": "33 700 000 001", "source": "whatsapp", "name": "Ada 2"}).
			wantError(t, 409, "conflict", "identifier")
		if obj(t, e["data"])["contact"] != id {
			t.Fatalf("the conflict does not name the existing contact: %v", e["data"])
		}
		a.v1tDo("POST", "/contacts", map[string]any{"identifier": "+33700000001", "channel_uuid": ch["uuid"], "name": "Ada 3"}).
			wantError(t, 409, "conflict", "identifier")
		a.wantEvents(t, mark)
		twin := a.v1tContact(t, map[string]any{"identifier": "+33700000001", "channel_uuid": other["uuid"], "name": "Ada on UK"})
		if twin["uuid"] == id {
			t.Fatal("a contact on another channel has the same uuid")
		}

		// Refusals name their property and create nothing.
		mark = a.eventMark()
		base := map[string]any{"identifier": "+33 7 00 00 00 09", "source": "whatsapp", "name": "Eve"}
		for _, tc := range []struct {
			key      string
			value    any
			id, prop string
		}{
			{"name", nil, "missing_property", "name"},
			{"name", " ", "invalid_property", "name"},
			{"identifier", nil, "missing_property", "identifier"},
			{"identifier", "not a number", "invalid_property", "identifier"},
			{"identifier", "123", "invalid_property", "identifier"},
			{"source", nil, "missing_property", "source"},
			{"source", "sms", "invalid_property", "source"},
			{"source", "pigeon", "invalid_property", "source"},
			{"channel_uuid", uuid.NewString(), "invalid_property", "channel_uuid"},
			{"avatar_url", "ftp://example.com/a.png", "invalid_property", "avatar_url"},
			{"assigned_user", "nobody", "invalid_property", "assigned_user"},
			{"tags", []string{"ok", " "}, "invalid_property", "tags[1]"},
			// A number is its text (Callbell's own example sends one); a
			// boolean is no field's value.
			{"custom_fields", map[string]any{"n": true}, "invalid_property", "custom_fields.n"},
			{"custom_fields", []string{"x"}, "invalid_property", "custom_fields"},
		} {
			body := withKey(base, tc.key, tc.value)
			if tc.key == "channel_uuid" {
				body = withKey(body, "source", nil)
			}
			a.v1tDo("POST", "/contacts", body).wantError(t, 422, tc.id, tc.prop)
		}
		a.v1tDo("POST", "/contacts", `{"name": "Eve"`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("POST", "/contacts", `{"name": 5}`).wantError(t, 422, "invalid_property", "name")
		a.wantEvents(t, mark)
		if ids, _ := a.v1tList(t, ""); len(ids) != 3 {
			t.Fatalf("%d contacts after refused creations, want 3", len(ids))
		}
	})
}

func TestV1ContactList(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		a.v1tChannel(t, map[string]any{"type": "sms", "identifier": "+1 555 010 0000"})
		ids, meta := a.v1tList(t, "")
		v1tMeta(t, "empty list", meta, 1, 1)
		if len(ids) != 0 {
			t.Fatalf("a new app lists contacts: %v", ids)
		}

		create := func(body map[string]any) string {
			t.Helper()
			return a.v1tContact(t, body)["uuid"].(string)
		}
		// created holds the UUIDs in creation order.
		created := []string{
			create(map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "A", "tags": []string{"VIP", "Lead"}}),
			create(map[string]any{"identifier": "15550100001", "source": "sms", "name": "B", "tags": []string{"vip"}}),
			create(map[string]any{"identifier": "33700000003", "source": "whatsapp", "name": "C", "tags": []string{"lead", "cold"}}),
		}
		// Enough more for a second page.
		for i := len(created); i < messaging.ContactsPageSize+1; i++ {
			created = append(created, create(map[string]any{"identifier": fmt.Sprintf("3370000%04d", i+1), "source": "whatsapp", "name": fmt.Sprint("N", i)}))
		}
		newest := slices.Clone(created)
		slices.Reverse(newest)

		ids, meta = a.v1tList(t, "")
		v1tMeta(t, "first page", meta, 1, 2)
		if !slices.Equal(ids, newest[:messaging.ContactsPageSize]) {
			t.Fatalf("the first page is not the %d newest contacts, newest first:\n got %v\nwant %v", messaging.ContactsPageSize, ids, newest[:messaging.ContactsPageSize])
		}
		ids2, meta := a.v1tList(t, "?page=1")
		v1tMeta(t, "page=1", meta, 1, 2)
		if !slices.Equal(ids2, ids) {
			t.Fatal("page=1 differs from the default page")
		}
		ids, meta = a.v1tList(t, "?page=2")
		v1tMeta(t, "second page", meta, 2, 2)
		if !slices.Equal(ids, newest[messaging.ContactsPageSize:]) {
			t.Fatalf("the second page is %v, want %v", ids, newest[messaging.ContactsPageSize:])
		}
		ids, meta = a.v1tList(t, "?page=3")
		v1tMeta(t, "page past the end", meta, 3, 2)
		if len(ids) != 0 {
			t.Fatalf("a page past the end lists %v", ids)
		}

		// Filters: source, and tags (all of them, regardless of case).
		a0, b1, c2 := created[0], created[1], created[2]
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"?source=sms", []string{b1}},
			{"?tags=vip", []string{b1, a0}},
			{"?tags=VIP", []string{b1, a0}},
			{"?tags=lead", []string{c2, a0}},
			{"?tags=vip,lead", []string{a0}},
			{"?tags=%20Lead%20,%20VIP%20", []string{a0}},
			{"?tags=vip&tags=LEAD", []string{a0}},
			{"?tags=vip,cold", []string{}},
			{"?tags=nobody", []string{}},
			{"?source=whatsapp&tags=vip", []string{a0}},
			{"?source=sms&tags=lead", []string{}},
		} {
			ids, meta := a.v1tList(t, tc.query)
			v1tMeta(t, tc.query, meta, 1, 1)
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("%s lists %v, want %v", tc.query, ids, tc.want)
			}
		}
		ids, meta = a.v1tList(t, "?source=whatsapp")
		v1tMeta(t, "source=whatsapp", meta, 1, 1)
		if len(ids) != messaging.ContactsPageSize || slices.Contains(ids, b1) {
			t.Fatalf("source=whatsapp lists %d contacts (with the sms one: %v), want %d", len(ids), slices.Contains(ids, b1), messaging.ContactsPageSize)
		}

		a.v1tDo("GET", "/contacts?source=pigeon", nil).wantError(t, 422, "invalid_property", "source")
		a.v1tDo("GET", "/contacts?page=0", nil).wantError(t, 422, "invalid_property", "page")
		a.v1tDo("GET", "/contacts?page=x", nil).wantError(t, 422, "invalid_property", "page")
	})
}

func TestV1ContactUpdateAndDelete(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		c := a.v1tContact(t, map[string]any{"identifier": "+33 7 00 00 00 01", "source": "whatsapp", "name": "Ada",
			"tags": []string{"vip"}, "custom_fields": map[string]any{"plan": "gold"}})
		id := c["uuid"].(string)
		patch := func(body any) map[string]any {
			t.Helper()
			res := a.v1tDo("PATCH", "/contacts/"+id, body).must(t, 200).Map(t)
			wantKeys(t, "patch response", res, "contact")
			got := obj(t, res["contact"])
			wantJSON(t, "contact after PATCH, by GET", a.v1tGetContact(t, id), got)
			return got
		}

		mark := a.eventMark()
		got := patch(map[string]any{"name": "Ada Lovelace"})
		if got["name"] != "Ada Lovelace" {
			t.Fatalf("patched name: %v", got)
		}
		wantJSON(t, "fields a PATCH of the name leaves", without(got, "name"), without(c, "name"))
		a.wantEvents(t, mark, "contact.updated")
		if ident := a.do("GET", "/users/"+id+"/identity", nil).must(t, 200).Map(t); ident["display_name"] != "Ada Lovelace" {
			t.Fatalf("the identity's display_name is %v after renaming the contact", ident["display_name"])
		}

		got = patch(map[string]any{"tags": []string{"Lead", "cold", "LEAD"}})
		wantJSON(t, "patched tags", got["tags"], []string{"Lead", "cold"})
		got = patch(map[string]any{"custom_fields": map[string]any{"plan": "silver", "langs": []string{"fr"}}})
		wantJSON(t, "patched custom fields", got["customFields"], map[string]any{"plan": "silver", "langs": []string{"fr"}})
		got = patch(map[string]any{"assigned_user": "agent@example.com"})
		if got["assignedUser"] != "agent@example.com" {
			t.Fatalf("patched assigned user: %v", got["assignedUser"])
		}
		got = patch(map[string]any{"avatar_url": "https://example.com/ada.png"})
		if got["avatarUrl"] != "https://example.com/ada.png" {
			t.Fatalf("patched avatar: %v", got["avatarUrl"])
		}
		got = patch(map[string]any{"unassign_user": true})
		if got["assignedUser"] != nil {
			t.Fatalf("unassign_user left assignedUser %v", got["assignedUser"])
		}
		wantJSON(t, "fields kept through the PATCHes", map[string]any{"name": got["name"], "tags": got["tags"],
			"customFields": got["customFields"], "phoneNumber": got["phoneNumber"], "source": got["source"]},
			map[string]any{"name": "Ada Lovelace", "tags": []string{"Lead", "cold"},
				"customFields": map[string]any{"plan": "silver", "langs": []string{"fr"}}, "phoneNumber": "33700000001", "source": "whatsapp"})

		// A PATCH that changes nothing records nothing.
		mark = a.eventMark()
		patch(map[string]any{"name": "Ada Lovelace", "tags": []string{"Lead", "cold"}})
		a.wantEvents(t, mark)

		// Refusals, changing nothing.
		before := a.v1tGetContact(t, id)
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"identifier": "33700000002"}).wantError(t, 422, "invalid_property", "identifier")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"source": "sms"}).wantError(t, 422, "invalid_property", "source")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"channel_uuid": uuid.NewString()}).wantError(t, 422, "invalid_property", "channel_uuid")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"assigned_user": "a@example.com", "unassign_user": true}).
			wantError(t, 422, "invalid_property", "unassign_user")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"name": ""}).wantError(t, 422, "invalid_property", "name")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"name": "X", "tags": []string{""}}).wantError(t, 422, "invalid_property", "tags[0]")
		a.v1tDo("PATCH", "/contacts/"+id, `{"name": "X"`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("PATCH", "/contacts/"+uuid.NewString(), map[string]any{"name": "X"}).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		wantJSON(t, "contact after refused PATCHes", a.v1tGetContact(t, id), before)

		// DELETE, then it is gone: contact, identity and conversation.
		href := before["conversationHref"].(string)
		res := a.v1tDo("DELETE", "/contacts/"+v1tDashed(t, id), nil).must(t, 200).Map(t)
		wantJSON(t, "DELETE response", res, map[string]any{"status": "contact was destroyed"})
		a.wantEvents(t, mark, "conversation.deleted", "contact.deleted")
		a.v1tDo("GET", "/contacts/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1tDo("DELETE", "/contacts/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"name": "X"}).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/"+id+"/identity", nil).wantError(t, 404, "not_found", "")
		a.do("GET", href, nil).wantError(t, 410, "gone", "")
		if ids, _ := a.v1tList(t, ""); len(ids) != 0 {
			t.Fatalf("a deleted contact is listed: %v", ids)
		}
		// The address is free again.
		again := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada again"})
		if again["uuid"] == id {
			t.Fatal("a new contact reuses a deleted contact's uuid")
		}
	})
}

func TestV1ConversationCloseOpen(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		id := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada"})["uuid"].(string)
		act := func(what string, body any) map[string]any {
			t.Helper()
			res := a.v1tDo("POST", "/contacts/"+id+"/conversation/"+what, body).must(t, 200).Map(t)
			wantKeys(t, what+" response", res, "contact")
			c := obj(t, res["contact"])
			wantJSON(t, "contact after "+what+", by GET", a.v1tGetContact(t, id), c)
			return c
		}

		mark := a.eventMark()
		closed := act("close", map[string]any{"closing_reason": "resolved"})
		closedAt := v1tTime(t, "closedAt", closed["closedAt"])
		if closed["closingReason"] != "resolved" {
			t.Fatalf("closingReason %v", closed["closingReason"])
		}
		a.wantEvents(t, mark, "conversation.closed")

		// Closing again changes nothing: the first reason stays.
		again := act("close", map[string]any{"closing_reason": "other"})
		wantJSON(t, "closing a closed conversation", again, closed)
		act("close", nil)
		a.wantEvents(t, mark, "conversation.closed")
		if t2, _ := time.Parse(callbell.TimeFormat, again["closedAt"].(string)); !t2.Equal(closedAt) {
			t.Fatalf("closing again moved closedAt from %v to %v", closedAt, t2)
		}

		opened := act("open", nil)
		if opened["closedAt"] != nil {
			t.Fatalf("an opened conversation has closedAt %v", opened["closedAt"])
		}
		if _, ok := opened["closingReason"]; ok {
			t.Fatalf("an opened conversation keeps closingReason %v", opened["closingReason"])
		}
		a.wantEvents(t, mark, "conversation.closed", "conversation.opened")
		act("open", nil)
		a.wantEvents(t, mark, "conversation.closed", "conversation.opened")

		// Closing without a body, or a reason.
		c := act("close", nil)
		v1tTime(t, "closedAt", c["closedAt"])
		if _, ok := c["closingReason"]; ok {
			t.Fatalf("closing without a reason gives closingReason %v", c["closingReason"])
		}
		a.wantEvents(t, mark, "conversation.closed", "conversation.opened", "conversation.closed")

		act("open", nil)
		mark = a.eventMark()
		a.v1tDo("POST", "/contacts/"+id+"/conversation/close", map[string]any{"closing_reason": strings.Repeat("x", 256)}).
			wantError(t, 422, "invalid_property", "closing_reason")
		a.v1tDo("POST", "/contacts/"+id+"/conversation/close", `{"closing_reason":`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("POST", "/contacts/"+uuid.NewString()+"/conversation/close", nil).wantError(t, 404, "not_found", "")
		a.v1tDo("POST", "/contacts/"+uuid.NewString()+"/conversation/open", nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		if c := a.v1tGetContact(t, id); c["closedAt"] != nil {
			t.Fatalf("a refused close closed the conversation: %v", c)
		}
	})
}

// sendBody is a valid text message to a new contact on the main WhatsApp
// channel.
func v1tSendBody() map[string]any {
	return map[string]any{"to": "+33 6 11 11 11 11", "from": "whatsapp", "type": "text", "content": map[string]any{"text": "hi"}}
}

func TestV1SendRefusals(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		mark := a.eventMark()
		meta11 := map[string]string{}
		for i := range 11 {
			meta11[fmt.Sprint("k", i)] = "v"
		}
		option := func(title string) map[string]any { return map[string]any{"title": title} }
		for _, tc := range []struct {
			name     string
			body     map[string]any
			status   int
			id, prop string
		}{
			{"no type", withKey(v1tSendBody(), "type", nil), 422, "missing_property", "type"},
			{"unknown type", withKey(v1tSendBody(), "type", "hologram"), 422, "invalid_property", "type"},
			{"image without url", withKey(v1tSendBody(), "type", "image"), 422, "missing_property", "content.url"},
			{"text without text", withKey(v1tSendBody(), "content", map[string]any{"url": "https://example.com/a.png"}), 422, "missing_property", "content.text"},
			{"no content", withKey(v1tSendBody(), "content", nil), 422, "missing_property", "content.text"},
			{"bad url", withKey(withKey(v1tSendBody(), "type", "image"), "content", map[string]any{"url": "ftp://example.com/a.png"}), 422, "invalid_property", "content.url"},
			{"relative url", withKey(withKey(v1tSendBody(), "type", "document"), "content", map[string]any{"url": "/a.pdf"}), 422, "invalid_property", "content.url"},
			{"no to", withKey(v1tSendBody(), "to", nil), 422, "missing_property", "to"},
			{"blank to", withKey(v1tSendBody(), "to", "  "), 422, "missing_property", "to"},
			{"bad to", withKey(v1tSendBody(), "to", "call me maybe"), 422, "invalid_property", "to"},
			{"no from", withKey(v1tSendBody(), "from", nil), 422, "missing_property", "from"},
			{"from a type the app lacks", withKey(v1tSendBody(), "from", "sms"), 422, "invalid_property", "from"},
			{"from an unknown type", withKey(v1tSendBody(), "from", "pigeon"), 422, "invalid_property", "from"},
			{"unknown channel_uuid", withKey(withKey(v1tSendBody(), "from", nil), "channel_uuid", v1tUUID32()), 422, "invalid_property", "channel_uuid"},
			{"metadata with 11 keys", withKey(v1tSendBody(), "metadata", meta11), 422, "invalid_property", "metadata"},
			{"metadata value of 501", withKey(v1tSendBody(), "metadata", map[string]string{"k": strings.Repeat("é", 501)}), 422, "invalid_property", "metadata.k"},
			{"metadata not strings", withKey(v1tSendBody(), "metadata", map[string]any{"k": 1}), 422, "invalid_property", "metadata"},
			{"location out of range", withKey(withKey(v1tSendBody(), "type", "location"), "content", map[string]any{
				"location": map[string]any{"coordinates": map[string]any{"x": 91, "y": 0}}}), 422, "invalid_property", "content.location.coordinates"},
			{"longitude out of range", withKey(withKey(v1tSendBody(), "type", "location"), "content", map[string]any{
				"location": map[string]any{"coordinates": map[string]any{"x": 0, "y": -180.5}}}), 422, "invalid_property", "content.location.coordinates"},
			{"4 reply buttons", withKey(withKey(v1tSendBody(), "type", "reply_buttons"), "content", map[string]any{
				"reply_buttons": map[string]any{"metadata": map[string]any{"type": "button", "content": "Pick",
					"options": []any{option("a"), option("b"), option("c"), option("d")}}}}), 422, "invalid_property", "content.reply_buttons.metadata.options"},
			{"reply_to an unknown message", withKey(v1tSendBody(), "reply_to", v1tUUID32()), 422, "invalid_property", "reply_to"},
			{"reply_to not a uuid", withKey(v1tSendBody(), "reply_to", "nope"), 422, "invalid_property", "reply_to"},
			{"unknown field list", withKey(v1tSendBody(), "fields", "contact,bogus"), 422, "invalid_property", "fields"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a.in(t).v1tDo("POST", "/messages/send", tc.body).wantError(t, tc.status, tc.id, tc.prop)
			})
		}
		a.v1tDo("POST", "/messages/send", `{"to": "33611111111",`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("POST", "/messages/send", `[]`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("POST", "/messages/send", "").wantError(t, 400, "invalid_request", "")

		// A refused send writes nothing: no contact, no event.
		if ids, _ := a.v1tList(t, ""); len(ids) != 0 {
			t.Fatalf("refused sends created contacts: %v", ids)
		}
		a.wantEvents(t, mark)

		// A send that goes through creates the contact: a template's, as
		// the contact never wrote.
		res := a.v1tDo("POST", "/messages/send", a.withTemplate(t, withKey(v1tSendBody(), "fields", "contact,conversation"))).must(t, 201).Map(t)
		m := obj(t, res["message"])
		wantKeys(t, "message request", m, "uuid", "status", "contact", "conversation")
		if !v1tHex32.MatchString(m["uuid"].(string)) || m["status"] != "enqueued" {
			t.Fatalf("message request: %v", m)
		}
		contact := obj(t, m["contact"])
		if contact["phoneNumber"] != "33611111111" || contact["name"] != "33611111111" {
			t.Fatalf("the contact a send created: %v", contact)
		}
		conv := obj(t, m["conversation"])
		if conv["source"] != "whatsapp" || conv["href"] != contact["conversationHref"] {
			t.Fatalf("the conversation of a send: %v", conv)
		}
		ids, _ := a.v1tList(t, "")
		if !slices.Equal(ids, []string{contact["uuid"].(string)}) {
			t.Fatalf("contacts after a send: %v", ids)
		}

		// reply_to must be a message of the same contact's conversation; a
		// refusal does not create the other contact either.
		mark = a.eventMark()
		other := withKey(withKey(v1tSendBody(), "to", "+33 6 22 22 22 22"), "reply_to", m["uuid"])
		a.v1tDo("POST", "/messages/send", other).wantError(t, 422, "invalid_property", "reply_to")
		a.wantEvents(t, mark)
		if ids, _ := a.v1tList(t, ""); len(ids) != 1 {
			t.Fatalf("a refused reply created a contact: %v", ids)
		}
		a.openWindow(t, contact["uuid"].(string))
		reply := obj(t, a.v1tDo("POST", "/messages/send", withKey(v1tSendBody(), "reply_to", m["uuid"])).must(t, 201).Map(t)["message"])
		wantKeys(t, "message request without fields", reply, "uuid", "status")
	})
}

// herald32 is a random UUID in the 32-digit form.
func v1tUUID32() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

func TestV1InboundAndStatusRefusals(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ch := a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		inbound := "/channels/" + ch["uuid"].(string) + "/inbound"
		body := map[string]any{"from": "+33 6 22 22 22 22", "content": map[string]any{"text": "hello"}}
		mark := a.eventMark()

		a.v1tDo("POST", "/channels/"+v1tUUID32()+"/inbound", body).wantError(t, 404, "not_found", "")
		a.v1tDo("POST", "/channels/nope/inbound", body).wantError(t, 404, "not_found", "")
		a.v1tDo("POST", inbound, withKey(body, "content", map[string]any{})).wantError(t, 422, "missing_property", "content")
		a.v1tDo("POST", inbound, withKey(body, "content", nil)).wantError(t, 422, "missing_property", "content")
		a.v1tDo("POST", inbound, withKey(body, "from", "call me maybe")).wantError(t, 422, "invalid_property", "from")
		a.v1tDo("POST", inbound, withKey(body, "from", "12")).wantError(t, 422, "invalid_property", "from")
		a.v1tDo("POST", inbound, withKey(body, "from", nil)).wantError(t, 422, "missing_property", "from")
		a.v1tDo("POST", inbound, withKey(body, "to", "x")).wantError(t, 422, "invalid_property", "to")
		a.v1tDo("POST", inbound, withKey(body, "reply_to", v1tUUID32())).wantError(t, 422, "invalid_property", "reply_to")
		a.v1tDo("POST", inbound, withKey(body, "content", map[string]any{"url": "javascript:alert(1)"})).wantError(t, 422, "invalid_property", "content.url")
		a.v1tDo("POST", inbound, `{"from": "33622222222", "content": {`).wantError(t, 400, "invalid_request", "")
		if ids, _ := a.v1tList(t, ""); len(ids) != 0 {
			t.Fatalf("refused inbound messages created contacts: %v", ids)
		}
		a.wantEvents(t, mark)

		// A valid inbound message, replayed by its external id.
		withID := withKey(body, "external_id", "wamid.1")
		in := obj(t, a.v1tDo("POST", inbound, withID).must(t, 201).Map(t)["message"])
		if in["status"] != "received" || obj(t, in["contact"])["phoneNumber"] != "33622222222" {
			t.Fatalf("inbound message: %v", in)
		}
		replay := obj(t, a.v1tDo("POST", inbound, withID).must(t, 200).Map(t)["message"])
		if replay["uuid"] != in["uuid"] {
			t.Fatalf("a replay of external id wamid.1 is message %v, want %v", replay["uuid"], in["uuid"])
		}

		// Status reports.
		out := obj(t, a.v1tDo("POST", "/messages/send", a.withTemplate(t, v1tSendBody())).must(t, 201).Map(t)["message"])
		status := "/messages/" + out["uuid"].(string) + "/status"
		mark = a.eventMark()
		a.v1tDo("POST", status, map[string]any{"status": "teleported"}).wantError(t, 422, "invalid_property", "status")
		a.v1tDo("POST", status, map[string]any{}).wantError(t, 422, "missing_property", "status")
		a.v1tDo("POST", status, map[string]any{"status": "sent", "payload": strings.Repeat("x", 17<<10)}).wantError(t, 422, "invalid_property", "payload")
		a.v1tDo("POST", status, `{"status": "sent"`).wantError(t, 400, "invalid_request", "")
		a.v1tDo("POST", "/messages/"+v1tUUID32()+"/status", map[string]any{"status": "sent"}).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/messages/status/"+v1tUUID32(), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("POST", "/messages/"+in["uuid"].(string)+"/status", map[string]any{"status": "delivered"}).wantError(t, 422, "invalid_operation", "")
		a.wantEvents(t, mark)
		if got := obj(t, a.v1tDo("GET", "/messages/status/"+out["uuid"].(string), nil).must(t, 200).Map(t)["message"]); got["status"] != "enqueued" {
			t.Fatalf("refused status reports changed the status to %v", got["status"])
		}

		sent := obj(t, a.v1tDo("POST", status, map[string]any{"status": "delivered", "payload": map[string]any{"id": "x"}}).must(t, 200).Map(t)["message"])
		if sent["status"] != "delivered" {
			t.Fatalf("status after reporting delivered: %v", sent)
		}
		a.v1tDo("POST", status, map[string]any{"status": "sent"}).wantError(t, 409, "conflict", "status")
		if got := obj(t, a.v1tDo("GET", "/messages/status/"+v1tDashed(t, out["uuid"].(string)), nil).must(t, 200).Map(t)["message"]); got["status"] != "delivered" {
			t.Fatalf("a refused backward report changed the status to %v", got["status"])
		}
	})
}
