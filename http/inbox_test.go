package http_test

import (
	"fmt"
	"strings"
	"testing"
)

func version(v string) []string {
	return []string{"Accept", "application/vnd.layer+json; version=" + v}
}

// inboxFixture makes a conversation of alice, bob and carol, and another
// of alice and carol, with messages in both; it returns the conversations'
// ids and the first one's messages.
func inboxFixture(t *testing.T, a *api) (convs []string, msgs []string) {
	t.Helper()
	a.do("PUT", "/users/bob/identity", map[string]any{"display_name": "Bob"}).must(t, 201)
	for _, ps := range [][]string{{"alice", "bob", "carol"}, {"alice", "carol"}} {
		c := a.do("POST", "/conversations", map[string]any{"participants": ps}).must(t, 201).Map(t)
		convs = append(convs, localID(c["id"]))
	}
	send := func(conv, from, body string) string {
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{
			"sender": map[string]any{"user_id": from}, "parts": []any{map[string]any{"mime_type": "text/plain", "body": body}}}).
			must(t, 201).Map(t)
		return localID(m["id"])
	}
	msgs = append(msgs, send(convs[0], "alice", "one"), send(convs[0], "bob", "two"))
	send(convs[1], "alice", "three")
	msgs = append(msgs, send(convs[0], "bob", "four"))
	return convs, msgs
}

func TestInboxUserPerspective(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		convs, msgs := inboxFixture(t, a)

		// Carol's conversations: the newest first, with a count in all.
		res := a.do("GET", "/users/carol/conversations", nil).must(t, 200)
		if got := res.Header.Get("Layer-Count"); got != "2" {
			t.Fatalf("Layer-Count %q, want 2", got)
		}
		var list []map[string]any
		res.JSON(t, &list)
		if len(list) != 2 || localID(list[0]["id"]) != convs[1] {
			t.Fatalf("carol's conversations: %s", res.Body)
		}
		if list[1]["unread_message_count"] != float64(3) || list[0]["unread_message_count"] != float64(1) {
			t.Fatalf("unread counts: %s", res.Body)
		}
		last := list[1]["last_message"].(map[string]any)
		if localID(last["id"]) != msgs[2] || last["is_unread"] != true || last["received_at"] != last["sent_at"] {
			t.Fatalf("last message: %v", last)
		}
		if sender := last["sender"].(map[string]any); sender["user_id"] != "bob" {
			t.Fatalf("1.1 sender: %v", sender)
		}

		// By last message: the first conversation has the newest message.
		res = a.do("GET", "/users/carol/conversations?sort_by=last_message&page_size=1", nil).must(t, 200)
		res.JSON(t, &list)
		if len(list) != 1 || localID(list[0]["id"]) != convs[0] || res.Header.Get("Layer-Count") != "2" {
			t.Fatalf("by last message, first page: %s", res.Body)
		}
		res = a.do("GET", "/users/carol/conversations?sort_by=last_message&page_size=1&from_id=layer:///conversations/"+convs[0], nil).must(t, 200)
		res.JSON(t, &list)
		if len(list) != 1 || localID(list[0]["id"]) != convs[1] {
			t.Fatalf("by last message, second page: %s", res.Body)
		}
		a.do("GET", "/users/carol/conversations?sort_by=updated_at", nil).wantError(t, 422, "invalid_property", "sort_by")
		a.do("GET", "/users/bob/conversations?sort_by=last_message&from_id="+convs[1], nil).wantError(t, 422, "invalid_property", "from_id")

		// 2.0: users as Basic Identities, statuses by identity id.
		one := a.do("GET", "/users/carol/conversations/"+convs[0], nil, version("2.0")...).must(t, 200).Map(t)
		last = one["last_message"].(map[string]any)
		if sender := last["sender"].(map[string]any); sender["id"] != "layer:///identities/bob" || sender["display_name"] != "Bob" {
			t.Fatalf("2.0 sender: %v", sender)
		}
		if status := last["recipient_status"].(map[string]any); status["layer:///identities/carol"] != "sent" {
			t.Fatalf("2.0 recipient_status: %v", status)
		}
		if one["unread_message_count"] != float64(3) {
			t.Fatalf("2.0 conversation: %v", one)
		}
		a.do("GET", "/users/dave/conversations/"+convs[0], nil).wantError(t, 404, "not_found", "")

		// Messages as carol sees them, and as the system does.
		a.do("DELETE", "/users/carol/messages/"+msgs[0]+"?mode=my_devices", nil).must(t, 204)
		res = a.do("GET", "/users/carol/conversations/"+convs[0]+"/messages", nil).must(t, 200)
		res.JSON(t, &list)
		if res.Header.Get("Layer-Count") != "2" || len(list) != 2 || list[0]["received_at"] == nil || list[0]["is_unread"] != true {
			t.Fatalf("carol's messages (Layer-Count %q): %s", res.Header.Get("Layer-Count"), res.Body)
		}
		res = a.do("GET", "/conversations/"+convs[0]+"/messages?page_size=1", nil).must(t, 200)
		if res.Header.Get("Layer-Count") != "3" {
			t.Fatalf("system message count %q, want 3", res.Header.Get("Layer-Count"))
		}
		if got := a.do("GET", "/conversations", nil).must(t, 200).Header.Get("Layer-Count"); got != "2" {
			t.Fatalf("app conversation count %q, want 2", got)
		}
		m := a.do("GET", "/users/carol/messages/"+msgs[1], nil).must(t, 200).Map(t)
		if m["received_at"] != m["sent_at"] || m["is_unread"] != true {
			t.Fatalf("carol's message: %v", m)
		}
		// The hidden message no longer counts for carol.
		one = a.do("GET", "/users/carol/conversations/"+convs[0], nil).must(t, 200).Map(t)
		if one["unread_message_count"] != float64(2) {
			t.Fatalf("after deleting one from her devices: %v", one["unread_message_count"])
		}

		// Someone added later received the history as they joined.
		a.do("PATCH", "/conversations/"+convs[0], []any{map[string]any{"operation": "add", "property": "participants", "value": "dave"}},
			"Content-Type", "application/vnd.layer-patch+json").must(t, 204)
		d := a.do("GET", "/users/dave/conversations/"+convs[0], nil).must(t, 200).Map(t)
		last = d["last_message"].(map[string]any)
		if d["unread_message_count"] != float64(0) || last["received_at"] == last["sent_at"] {
			t.Fatalf("a newcomer's view: %v", d)
		}
	})
}

func TestMarkAllRead(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		convs, msgs := inboxFixture(t, a)
		path := "/users/carol/conversations/" + convs[0]
		a.do("POST", "/users/carol/messages/"+msgs[1]+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		before := len(a.events())
		// Up to a position: the first message only (the second is read).
		a.do("POST", path+"/mark_all_read", map[string]any{"position": 1}).must(t, 204)
		if got := a.do("GET", path, nil).must(t, 200).Map(t)["unread_message_count"]; got != float64(1) {
			t.Fatalf("after marking up to position 1: %v unread", got)
		}
		// Without a body: everything.
		a.do("POST", path+"/mark_all_read", nil).must(t, 204)
		if got := a.do("GET", path, nil).must(t, 200).Map(t)["unread_message_count"]; got != float64(0) {
			t.Fatalf("after marking all: %v unread", got)
		}
		a.do("POST", path+"/mark_all_read", map[string]any{"position": nil}).must(t, 204)
		var reads []string
		for _, e := range a.events()[before:] {
			if e["type"] != "message.read" {
				t.Fatalf("mark_all_read recorded %v", e["type"])
			}
			data := e["data"].(map[string]any)
			if data["user_id"] != "carol" || data["receipt"] != "read" {
				t.Fatalf("message.read data: %v", data)
			}
			reads = append(reads, localID(data["message"].(map[string]any)["id"]))
		}
		if strings.Join(reads, ",") != msgs[0]+","+msgs[2] {
			t.Fatalf("message.read for %v, want %s then %s", reads, msgs[0], msgs[2])
		}
		m := a.do("GET", "/users/carol/messages/"+msgs[2], nil).must(t, 200).Map(t)
		if m["is_unread"] != false {
			t.Fatalf("a marked message: %v", m)
		}
		a.do("POST", "/users/dave/conversations/"+convs[0]+"/mark_all_read", nil).wantError(t, 404, "not_found", "")
		a.do("POST", path+"/mark_all_read", map[string]any{"position": -1}).wantError(t, 422, "invalid_property", "position")
	})
}

func TestBadge(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		inboxFixture(t, a)
		want := func(user string, external, convs, msgs int) {
			t.Helper()
			got := a.do("GET", "/users/"+user+"/badge", nil).must(t, 200).Map(t)
			w := map[string]any{"external_unread_count": float64(external), "unread_conversation_count": float64(convs),
				"unread_message_count": float64(msgs)}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Fatalf("%s's badge %v, want %v", user, got, w)
			}
		}
		want("carol", 0, 2, 4)
		a.do("PUT", "/users/carol/badge", map[string]any{"external_unread_count": 13}).must(t, 204)
		want("carol", 13, 2, 4)
		want("nobody", 0, 0, 0)
		a.do("PUT", "/users/carol/badge", map[string]any{}).wantError(t, 422, "missing_property", "external_unread_count")
		a.do("PUT", "/users/carol/badge", map[string]any{"external_unread_count": -1}).wantError(t, 422, "invalid_property", "external_unread_count")
		a.do("PUT", "/users/carol/badge", map[string]any{"external_unread_count": 1.5}).wantError(t, 422, "invalid_property", "external_unread_count")
		want("carol", 13, 2, 4)
	})
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		before := len(a.events())
		// 1.1: user ids, overrides by user_id.
		a.do("POST", "/notifications", map[string]any{"recipients": []string{"a", "b"},
			"notification": map[string]any{"title": "Hi", "text": "Howdy", "sound": "chime.aiff", "data": map[string]any{"k": "v"},
				"recipients": []any{map[string]any{"user_id": "b", "text": "Hallo"}}}}).must(t, 202)
		// 2.0: identity ids, overrides by recipient.
		a.do("POST", "/notifications", map[string]any{"recipients": []string{"layer:///identities/c"},
			"notification": map[string]any{"text": "Howdy",
				"recipients": []any{map[string]any{"recipient": "layer:///identities/c", "sound": "ping.aiff"}}}},
			version("2.0")...).must(t, 202)
		events := a.events()[before:]
		if len(events) != 2 || events[0]["type"] != "notification.sent" {
			t.Fatalf("events: %v", events)
		}
		n := events[0]["data"].(map[string]any)["notification"].(map[string]any)
		push := n["notification"].(map[string]any)
		if fmt.Sprint(n["recipients"]) != "[a b]" || push["text"] != "Howdy" ||
			fmt.Sprint(push["recipients"]) != "[map[text:Hallo user_id:b]]" {
			t.Fatalf("recorded notification: %v", n)
		}
		n = events[1]["data"].(map[string]any)["notification"].(map[string]any)
		if fmt.Sprint(n["recipients"]) != "[c]" ||
			fmt.Sprint(n["notification"].(map[string]any)["recipients"]) != "[map[sound:ping.aiff user_id:c]]" {
			t.Fatalf("recorded 2.0 notification: %v", n)
		}

		for _, c := range []struct {
			version  string
			body     map[string]any
			id, prop string
		}{
			{"1.1", map[string]any{}, "missing_property", "recipients"},
			{"1.1", map[string]any{"recipients": []string{}, "notification": map[string]any{"text": "x"}}, "invalid_property", "recipients"},
			{"1.1", map[string]any{"recipients": []string{"a"}}, "missing_property", "notification"},
			{"1.1", map[string]any{"recipients": []string{"layer:///identities/a"}, "notification": map[string]any{}}, "invalid_property", "recipients[0]"},
			{"2.0", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{}}, "invalid_property", "recipients[0]"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": "hi"}, "invalid_property", "notification"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{"txt": "x"}}, "invalid_property", "notification.txt"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{"text": 3}}, "invalid_property", "notification.text"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{"loc-args": "x"}}, "invalid_property", "notification.loc-args"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{"data": []int{1}}}, "invalid_property", "notification.data"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{
				"recipients": []any{map[string]any{"user_id": "z", "text": "x"}}}}, "invalid_property", "notification.recipients[0].user_id"},
			{"2.0", map[string]any{"recipients": []string{"layer:///identities/a"}, "notification": map[string]any{
				"recipients": []any{map[string]any{"user_id": "a"}}}}, "missing_property", "notification.recipients[0].recipient"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{
				"recipients": []any{map[string]any{"user_id": "a", "data": map[string]any{}}}}}, "invalid_property", "notification.recipients[0].data"},
			{"1.1", map[string]any{"recipients": []string{"a"}, "notification": map[string]any{"text": strings.Repeat("x", 4100)}}, "invalid_property", "notification"},
		} {
			a.do("POST", "/notifications", c.body, version(c.version)...).wantError(t, 422, c.id, c.prop)
		}
		if got := len(a.events()) - before; got != 2 {
			t.Fatalf("%d events after refused notifications, want 2", got)
		}
	})
}
