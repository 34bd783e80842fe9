package http_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// Helpers shared by the API tests.

// in returns a copy of a whose helpers (events, do's fatal errors) report to
// t, for use inside t.Run. The copy shares a's server, app and clock.
func (a *api) in(t *testing.T) *api {
	b := *a
	b.t = t
	return &b
}

// obj and arr assert the JSON shape of a decoded value.
func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%#v is not a JSON object", v)
	}
	return m
}

func arr(t *testing.T, v any) []any {
	t.Helper()
	s, ok := v.([]any)
	if !ok {
		t.Fatalf("%#v is not a JSON array", v)
	}
	return s
}

// canon renders v as canonical JSON (sorted keys), so that values decoded
// from responses compare with literals written in tests.
func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

// wantJSON checks that got and want are the same JSON value.
func wantJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := canon(t, got), canon(t, want); g != w {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// without returns a copy of m without the given keys.
func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// wantKeys checks that m has exactly the given keys.
func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	keys = slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, keys) {
		t.Fatalf("%s has keys %v, want %v", what, got, keys)
	}
}

// wantNow checks that v is an instant in Herald's wire format, close to the
// API's current time (wall clock plus its offset), and returns it.
func (a *api) wantNow(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(herald.TimeFormat, s)
	if err != nil || herald.FormatTime(ts) != s {
		t.Fatalf("%#v is not a time in %s", v, herald.TimeFormat)
	}
	if d := a.now().Sub(ts); d < -time.Second || d > time.Minute {
		t.Fatalf("time %s is %v away from now", s, d)
	}
	return ts
}

// wantUUID checks that a Layer id is prefix followed by a UUID and returns
// the UUID.
func wantUUID(t *testing.T, id any, prefix string) string {
	t.Helper()
	s, _ := id.(string)
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		t.Fatalf("id %#v does not start with %s", id, prefix)
	}
	if _, err := uuid.Parse(rest); err != nil {
		t.Fatalf("id %#v does not end in a UUID: %v", id, err)
	}
	return rest
}

// esc escapes a Layer id for use as one path segment.
func esc(id string) string { return url.PathEscape(id) }

// eventMark returns the current length of the app's event log.
func (a *api) eventMark() int {
	a.t.Helper()
	return len(a.events())
}

// wantEvents checks that exactly the given event types were recorded since
// mark, in that order, and returns those events.
func (a *api) wantEvents(t *testing.T, mark int, types ...string) []map[string]any {
	t.Helper()
	all := a.events()
	if len(all) < mark {
		t.Fatalf("event log shrank from %d to %d events", mark, len(all))
	}
	got := []string{}
	for _, e := range all[mark:] {
		got = append(got, fmt.Sprint(e["type"]))
	}
	if types == nil {
		types = []string{}
	}
	if !slices.Equal(got, types) {
		t.Fatalf("new events %q, want %q", got, types)
	}
	return all[mark:]
}

// eventData returns an event's data object.
func eventData(t *testing.T, e map[string]any) map[string]any {
	t.Helper()
	return obj(t, e["data"])
}

// Tests of the event log.

func TestEventsShapeAndOrder(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var list []any
		a.do("GET", "/events", nil).must(t, 200).JSON(t, &list)
		if list == nil || len(list) != 0 {
			t.Fatalf("a new app's event log is %#v, want []", list)
		}

		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)
		c := a.newConversation(t, "alice", "bob")
		m := a.sendText(t, c, "alice", "hi")
		a.do("POST", "/users/bob/messages/"+localID(m["id"])+"/receipts", map[string]any{"type": "read"}).must(t, 204)

		evs := a.wantEvents(t, 0, "identity.created", "conversation.created", "message.sent", "message.read")
		seen := map[string]bool{}
		var last time.Time
		for i, e := range evs {
			wantKeys(t, "event", e, "id", "type", "created_at", "actor", "data")
			id, _ := e["id"].(string)
			if _, err := uuid.Parse(id); err != nil || seen[id] {
				t.Fatalf("event %d has id %q: not a fresh UUID", i, id)
			}
			seen[id] = true
			ts := a.wantNow(t, e["created_at"])
			if ts.Before(last) {
				t.Fatalf("event %d was created at %v, before the event preceding it (%v)", i, ts, last)
			}
			last = ts
			obj(t, e["data"])
		}
		// Who acted: nobody in particular for the app's own calls; the sender
		// for a message; the reader for a receipt.
		wantJSON(t, "identity.created actor", evs[0]["actor"], nil)
		wantJSON(t, "conversation.created actor", evs[1]["actor"], nil)
		wantJSON(t, "message.sent actor", evs[2]["actor"], map[string]any{"user_id": "alice"})
		wantJSON(t, "message.read actor", evs[3]["actor"], map[string]any{"user_id": "bob"})
	})
}

func TestEventsPaging(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		for i := range 5 {
			a.do("PUT", fmt.Sprintf("/users/u%d/identity", i), map[string]any{"display_name": fmt.Sprint(i)}).must(t, 201)
		}
		all := a.events()
		if len(all) != 5 {
			t.Fatalf("%d events, want 5", len(all))
		}

		res := a.do("GET", "/events?limit=2", nil).must(t, 200)
		var page []map[string]any
		res.JSON(t, &page)
		wantJSON(t, "first page", page, all[:2])
		next := a.URL + "/apps/" + a.AppID + "/events?" + url.Values{"after": {all[1]["id"].(string)}, "limit": {"2"}}.Encode()
		if got, want := res.Header.Get("Link"), "<"+next+`>; rel="next"`; got != want {
			t.Fatalf("Link %q, want %q", got, want)
		}

		res = a.do("GET", next, nil).must(t, 200)
		res.JSON(t, &page)
		wantJSON(t, "second page", page, all[2:4])

		res = a.do("GET", "/events?limit=2&after="+all[3]["id"].(string), nil).must(t, 200)
		res.JSON(t, &page)
		wantJSON(t, "last page", page, all[4:])
		if l := res.Header.Get("Link"); l != "" {
			t.Fatalf("a partial last page has Link %q", l)
		}

		res = a.do("GET", "/events?after="+all[4]["id"].(string), nil).must(t, 200)
		res.JSON(t, &page)
		if len(page) != 0 {
			t.Fatalf("after the last event: %v", page)
		}

		a.do("GET", "/events?after="+uuid.NewString(), nil).wantError(t, 422, "invalid_property", "after")
		for _, limit := range []string{"0", "1001", "-1", "ten", "1.5"} {
			a.do("GET", "/events?limit="+limit, nil).wantError(t, 422, "invalid_property", "limit")
		}
	})
}

func TestEventsAreAppScoped(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.newConversation(t, "alice", "bob")
		theirs := a.events()

		appB, tokenB := a.newApp("other")
		pathB := a.URL + "/apps/" + appB
		a.doAs(tokenB, "POST", pathB+"/conversations", map[string]any{"participants": []string{"carol"}}).must(t, 201)
		var bEvents []map[string]any
		a.doAs(tokenB, "GET", pathB+"/events", nil).must(t, 200).JSON(t, &bEvents)
		if len(bEvents) != 1 || obj(t, eventData(t, bEvents[0])["conversation"])["participants"].([]any)[0] != "carol" {
			t.Fatalf("app B's events: %v", bEvents)
		}
		// App A's log is unchanged, and A's event ids mean nothing to B.
		wantJSON(t, "app A's events", a.events(), theirs)
		a.doAs(tokenB, "GET", pathB+"/events?after="+theirs[0]["id"].(string), nil).wantError(t, 422, "invalid_property", "after")
	})
}

// TestEveryMutationRecordsOneEvent walks through every kind of change the
// API makes, checking after each that exactly the expected events were
// recorded, and that refused requests recorded none.
func TestEveryMutationRecordsOneEvent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var conv, msg, msg2, ann, content string
		steps := []struct {
			name   string
			do     func(t *testing.T)
			events []string
		}{
			{"create identity", func(t *testing.T) {
				a.do("POST", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)
			}, []string{"identity.created"}},
			{"refused: identity exists", func(t *testing.T) {
				a.do("POST", "/users/alice/identity", map[string]any{}).wantError(t, 409, "id_in_use", "")
			}, nil},
			{"replace identity", func(t *testing.T) {
				a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Al"}).must(t, 204)
			}, []string{"identity.updated"}},
			{"patch identity", func(t *testing.T) {
				a.do("PATCH", "/users/alice/identity", map[string]any{"first_name": "Alice"}).must(t, 204)
			}, []string{"identity.updated"}},
			{"create conversation", func(t *testing.T) {
				conv = a.newConversation(t, "alice", "bob")
			}, []string{"conversation.created"}},
			{"distinct conversation already exists", func(t *testing.T) {
				a.do("POST", "/conversations", map[string]any{"participants": []string{"bob", "alice"}}).must(t, 200)
			}, nil},
			{"refused: no participants", func(t *testing.T) {
				a.do("POST", "/conversations", map[string]any{}).wantError(t, 422, "missing_property", "participants")
			}, nil},
			{"add participant", func(t *testing.T) {
				a.do("PATCH", "/conversations/"+conv, []any{map[string]any{"operation": "add", "property": "participants", "value": "carol"}}).must(t, 204)
			}, []string{"conversation.updated.participants"}},
			{"set metadata", func(t *testing.T) {
				a.do("PATCH", "/conversations/"+conv, []any{map[string]any{"operation": "set", "property": "metadata.title", "value": "Plans"}}).must(t, 204)
			}, []string{"conversation.updated.metadata"}},
			{"change both", func(t *testing.T) {
				a.do("PATCH", "/conversations/"+conv, []any{
					map[string]any{"operation": "remove", "property": "participants", "value": "carol"},
					map[string]any{"operation": "delete", "property": "metadata.title"},
				}).must(t, 204)
			}, []string{"conversation.updated.participants", "conversation.updated.metadata"}},
			{"patch that changes nothing", func(t *testing.T) {
				a.do("PATCH", "/conversations/"+conv, []any{map[string]any{"operation": "add", "property": "participants", "value": "alice"}}).must(t, 204)
			}, nil},
			{"send message", func(t *testing.T) {
				msg = localID(a.sendText(t, conv, "alice", "one")["id"])
				msg2 = localID(a.sendText(t, conv, "alice", "two")["id"])
			}, []string{"message.sent", "message.sent"}},
			{"refused: sender not a participant", func(t *testing.T) {
				a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]any{"user_id": "mallory"},
					"parts": []any{map[string]any{"mime_type": "text/plain", "body": "x"}}}).wantError(t, 422, "invalid_property", "sender.user_id")
			}, nil},
			{"delivery receipt", func(t *testing.T) {
				a.do("POST", "/users/bob/messages/"+msg+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
			}, []string{"message.delivered"}},
			{"read receipt", func(t *testing.T) {
				a.do("POST", "/users/bob/messages/"+msg+"/receipts", map[string]any{"type": "read"}).must(t, 204)
			}, []string{"message.read"}},
			{"receipt that changes nothing", func(t *testing.T) {
				a.do("POST", "/users/bob/messages/"+msg+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
			}, nil},
			{"delete for my devices", func(t *testing.T) {
				a.do("DELETE", "/users/bob/messages/"+msg+"?mode=my_devices", nil).must(t, 204)
			}, []string{"message.deleted_for_user"}},
			{"delete for everyone", func(t *testing.T) {
				a.do("DELETE", "/conversations/"+conv+"/messages/"+msg, nil).must(t, 204)
			}, []string{"message.deleted"}},
			{"delete for everyone, by a user", func(t *testing.T) {
				a.do("DELETE", "/users/bob/messages/"+msg2+"?mode=all_participants", nil).must(t, 204)
			}, []string{"message.deleted"}},
			{"refused: already deleted", func(t *testing.T) {
				a.do("DELETE", "/conversations/"+conv+"/messages/"+msg, nil).wantError(t, 404, "not_found", "")
			}, nil},
			{"send announcement", func(t *testing.T) {
				ann = localID(a.do("POST", "/announcements", map[string]any{"recipients": []string{"alice"}, "sender": map[string]any{"name": "Ops"},
					"parts": []any{map[string]any{"mime_type": "text/plain", "body": "maintenance"}}}).must(t, 202).Map(t)["id"])
			}, []string{"announcement.sent"}},
			{"announcement receipts", func(t *testing.T) {
				a.do("POST", "/users/alice/messages/"+ann+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
				a.do("POST", "/users/alice/messages/"+ann+"/receipts", map[string]any{"type": "read"}).must(t, 204)
				a.do("POST", "/users/alice/messages/"+ann+"/receipts", map[string]any{"type": "read"}).must(t, 204)
			}, []string{"announcement.delivered", "announcement.read"}},
			{"create content", func(t *testing.T) {
				content = a.do("POST", "/conversations/"+conv+"/content", nil,
					"Upload-Content-Type", "text/plain", "Upload-Content-Length", "3").must(t, 201).Map(t)["upload_url"].(string)
			}, []string{"content.created"}},
			{"upload content", func(t *testing.T) {
				a.do("PUT", content, "abc").must(t, 200)
			}, []string{"content.uploaded"}},
			{"refused: second upload", func(t *testing.T) {
				a.do("PUT", content, "abc").wantError(t, 409, "conflict", "")
			}, nil},
			{"delete identity", func(t *testing.T) {
				a.do("DELETE", "/users/alice/identity", nil).must(t, 204)
			}, []string{"identity.deleted"}},
			{"delete conversation", func(t *testing.T) {
				a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
			}, []string{"conversation.deleted"}},
			{"conversation already deleted: a success that changes nothing", func(t *testing.T) {
				a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
			}, nil},
			{"reads record nothing", func(t *testing.T) {
				a.do("GET", "/conversations", nil).must(t, 200)
				a.do("GET", "/users/alice/announcements", nil).must(t, 200)
				a.do("GET", "/events", nil).must(t, 200)
			}, nil},
		}
		for _, s := range steps {
			mark := a.eventMark()
			s.do(t)
			a.wantEvents(t, mark, s.events...)
		}
	})
}

// TestEventData checks the state that events carry, from which webhooks are
// rendered.
func TestEventData(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)
		a.do("PUT", "/users/carol/identity", map[string]any{"display_name": "Carol"}).must(t, 201)

		mark := a.eventMark()
		conv := a.newConversation(t, "alice", "bob")
		ev := a.wantEvents(t, mark, "conversation.created")[0]
		data := eventData(t, ev)
		c := obj(t, data["conversation"])
		if c["id"] != conv || canon(t, c["participants"]) != `["alice","bob"]` || c["distinct"] != true {
			t.Fatalf("conversation.created data.conversation: %v", c)
		}
		// Identities: keyed by user id, only for users that have one.
		ids := obj(t, data["identities"])
		wantKeys(t, "data.identities", ids, "alice")
		if obj(t, ids["alice"])["display_name"] != "Alice" {
			t.Fatalf("data.identities.alice: %v", ids["alice"])
		}

		mark = a.eventMark()
		m := a.sendText(t, conv, "alice", "hello")
		ev = a.wantEvents(t, mark, "message.sent")[0]
		data = eventData(t, ev)
		dm := obj(t, data["message"])
		if dm["id"] != localID(m["id"]) || dm["conversation_id"] != conv || dm["position"] != 1.0 {
			t.Fatalf("message.sent data.message: %v", dm)
		}
		// Each part has an id of its own.
		part := obj(t, arr(t, dm["parts"])[0])
		if _, err := uuid.Parse(fmt.Sprint(part["id"])); err != nil {
			t.Fatalf("data.message.parts[0].id: %v", part["id"])
		}
		wantJSON(t, "data.message.parts", []any{without(part, "id")}, []any{map[string]any{"mime_type": "text/plain", "body": "hello"}})
		wantJSON(t, "data.message.recipient_status", dm["recipient_status"], map[string]any{"alice": "read", "bob": "sent"})
		wantJSON(t, "data.message.sender", dm["sender"], map[string]any{"user_id": "alice"})
		if obj(t, data["conversation"])["id"] != conv {
			t.Fatalf("message.sent data.conversation: %v", data["conversation"])
		}
		wantKeys(t, "message.sent data.identities", obj(t, data["identities"]), "alice")

		mark = a.eventMark()
		a.do("PATCH", "/conversations/"+conv, []any{
			map[string]any{"operation": "add", "property": "participants", "value": []string{"carol", "dave"}},
			map[string]any{"operation": "remove", "property": "participants", "value": "bob"},
		}).must(t, 204)
		ev = a.wantEvents(t, mark, "conversation.updated.participants")[0]
		data = eventData(t, ev)
		wantJSON(t, "data.added", data["added"], []string{"carol", "dave"})
		wantJSON(t, "data.removed", data["removed"], []string{"bob"})
		wantJSON(t, "data.conversation.participants", obj(t, data["conversation"])["participants"], []string{"alice", "carol", "dave"})
		wantKeys(t, "participants update data.identities", obj(t, data["identities"]), "alice", "carol")

		mark = a.eventMark()
		a.do("POST", "/users/carol/messages/"+localID(m["id"])+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
		a.do("POST", "/users/alice/messages/"+localID(m["id"])+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		a.wantEvents(t, mark) // the sender has read it already
		m2 := a.sendText(t, conv, "dave", "hi all")
		mark = a.eventMark()
		a.do("POST", "/users/carol/messages/"+localID(m2["id"])+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		ev = a.wantEvents(t, mark, "message.delivered")[0]
		data = eventData(t, ev)
		wantJSON(t, "receipt actor", ev["actor"], map[string]any{"user_id": "carol"})
		if data["user_id"] != "carol" || data["receipt"] != "delivery" {
			t.Fatalf("message.delivered data: user_id %v, receipt %v", data["user_id"], data["receipt"])
		}
		wantJSON(t, "message.delivered recipient_status", obj(t, data["message"])["recipient_status"],
			map[string]any{"alice": "sent", "carol": "delivered", "dave": "read"})

		mark = a.eventMark()
		a.do("DELETE", "/users/carol/identity", nil).must(t, 204)
		ev = a.wantEvents(t, mark, "identity.deleted")[0]
		if obj(t, eventData(t, ev)["identity"])["display_name"] != "Carol" {
			t.Fatalf("identity.deleted carries the identity as it was: %v", ev["data"])
		}
	})
}
