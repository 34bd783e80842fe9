package http_test

import (
	"fmt"
	"testing"
)

// proxyText is a Client API message body: parts, no sender.
func proxyText(body string) map[string]any {
	return map[string]any{"parts": []any{map[string]any{"mime_type": "text/plain", "body": body}}}
}

func TestProxyCreateConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)

		// The user takes part in what they create, named or not; 2.0
		// renders participants as identities.
		mark := a.eventMark()
		res := a.do("POST", "/users/alice/conversations", map[string]any{"participants": []any{"layer:///identities/bob"}}, version("2.0")...).must(t, 201)
		conv := res.Map(t)
		id := wantUUID(t, conv["id"], "layer:///conversations/")
		var ps []string
		for _, p := range conv["participants"].([]any) {
			ps = append(ps, obj(t, p)["id"].(string))
		}
		wantJSON(t, "participants", ps, []string{"layer:///identities/bob", "layer:///identities/alice"})
		if conv["unread_message_count"] != float64(0) || conv["last_message"] != nil || conv["distinct"] != true {
			t.Fatalf("created conversation: %s", res.Body)
		}
		ev := a.wantEvents(t, mark, "conversation.created")[0]
		wantJSON(t, "actor", ev["actor"], user("alice"))

		// The same distinct set, named in 1.x by bob: the existing one,
		// 200 with its Location and, once it has one, its last message.
		a.do("POST", "/users/alice/conversations/"+id+"/messages", proxyText("hi")).must(t, 201)
		res = a.do("POST", "/users/bob/conversations", map[string]any{"participants": []any{"alice"}}).must(t, 200)
		got := res.Map(t)
		if localID(got["id"]) != id || res.Header.Get("Location") == "" || obj(t, got["last_message"])["is_unread"] != true {
			t.Fatalf("existing distinct conversation: %s (Location %q)", res.Body, res.Header.Get("Location"))
		}
		wantJSON(t, "1.1 participants", got["participants"], []any{"bob", "alice"})
		conflict := a.do("POST", "/users/bob/conversations", map[string]any{"participants": []any{"alice"}, "metadata": map[string]any{"a": "b"}}).
			wantError(t, 409, "conflict", "")
		if localID(obj(t, conflict["data"])["id"]) != id {
			t.Fatalf("conflict data: %v", conflict)
		}

		// The participants list is required; a user's blocks hold.
		a.do("POST", "/users/alice/conversations", map[string]any{"distinct": false}).wantError(t, 422, "missing_property", "participants")
		a.do("POST", "/users/alice/blocks", map[string]any{"user_id": "carol"}).must(t, 204)
		mark = a.eventMark()
		a.do("POST", "/users/alice/conversations", map[string]any{"participants": []any{"carol"}}).wantError(t, 422, "participant_blocked", "participants")
		a.wantEvents(t, mark)
	})
}

func TestProxyPatchConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		a.do("PATCH", "/users/alice/conversations/"+conv, []any{
			map[string]any{"operation": "add", "property": "participants", "id": "layer:///identities/carol"},
			patch("set", "metadata.title", "Lunch"),
		}, "Content-Type", "application/vnd.layer-patch+json").must(t, 204)
		for _, ev := range a.wantEvents(t, mark, "conversation.updated.participants", "conversation.updated.metadata") {
			wantJSON(t, "actor", ev["actor"], user("alice"))
		}
		got := a.do("GET", "/conversations/"+conv, nil).must(t, 200).Map(t)
		wantJSON(t, "participants", got["participants"], []any{"alice", "bob", "carol"})
		wantJSON(t, "metadata", got["metadata"], map[string]any{"title": "Lunch"})

		// Only a participant patches; a user's blocks hold.
		a.do("POST", "/users/bob/blocks", map[string]any{"user_id": "erin"}).must(t, 204)
		mark = a.eventMark()
		a.do("PATCH", "/users/dave/conversations/"+conv, []any{patch("set", "metadata.title", "Mine")}).wantError(t, 404, "not_found", "")
		a.do("PATCH", "/users/bob/conversations/"+conv, []any{patch("add", "participants", "erin")}).wantError(t, 422, "participant_blocked", "participants")
		a.do("PATCH", "/users/bob/conversations/"+conv, []any{patch("add", "participants", "layer:x")}).wantError(t, 422, "invalid_property", "operations[0].value[0]")
		a.wantEvents(t, mark)
	})
}

func TestProxyDeleteConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob", "carol")
		first := localID(a.sendText(t, conv, "alice", "one")["id"])

		// Refused: no mode, an unknown mode, leave with all_participants,
		// a user not in the conversation.
		mark := a.eventMark()
		a.do("DELETE", "/users/bob/conversations/"+conv, nil).wantError(t, 422, "missing_property", "mode")
		a.do("DELETE", "/users/bob/conversations/"+conv+"?mode=mine", nil).wantError(t, 422, "invalid_property", "mode")
		a.do("DELETE", "/users/bob/conversations/"+conv+"?mode=all_participants&leave=true", nil).wantError(t, 422, "invalid_property", "leave")
		a.do("DELETE", "/users/bob/conversations/"+conv+"?mode=my_devices&leave=yes", nil).wantError(t, 422, "invalid_property", "leave")
		a.do("DELETE", "/users/dave/conversations/"+conv+"?mode=my_devices", nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)

		// my_devices: gone from bob's listing and views, not from others'.
		a.do("DELETE", "/users/bob/conversations/"+conv+"?mode=my_devices", nil).must(t, 204)
		ev := a.wantEvents(t, mark, "conversation.deleted_for_user")[0]
		wantJSON(t, "actor", ev["actor"], user("bob"))
		if eventData(t, ev)["user_id"] != "bob" {
			t.Fatalf("event data: %v", ev["data"])
		}
		wantJSON(t, "bob's conversations", conversationIDs(t, a.do("GET", "/users/bob/conversations", nil).must(t, 200)), []string{})
		a.do("GET", "/users/bob/conversations/"+conv, nil).wantError(t, 404, "not_found", "")
		a.do("GET", "/users/bob/messages/"+first, nil).wantError(t, 404, "not_found", "")
		if b := a.do("GET", "/users/bob/badge", nil).must(t, 200).Map(t); b["unread_message_count"] != float64(0) {
			t.Fatalf("bob's badge: %v", b)
		}
		wantJSON(t, "carol's conversations", conversationIDs(t, a.do("GET", "/users/carol/conversations", nil).must(t, 200)), []string{conv})

		// A new message brings it back, its history starting there.
		second := localID(a.sendText(t, conv, "carol", "two")["id"])
		uc := a.do("GET", "/users/bob/conversations/"+conv, nil).must(t, 200).Map(t)
		if uc["unread_message_count"] != float64(1) || localID(obj(t, uc["last_message"])["id"]) != second {
			t.Fatalf("bob's conversation after a new message: %v", uc)
		}
		wantJSON(t, "bob's messages", messageIDs(t, a.do("GET", "/users/bob/conversations/"+conv+"/messages", nil).must(t, 200)), []string{second})

		// leave=true: out of the participants too; the others see it.
		mark = a.eventMark()
		a.do("DELETE", "/users/bob/conversations/"+conv+"?mode=my_devices&leave=true", nil).must(t, 204)
		evs := a.wantEvents(t, mark, "conversation.deleted_for_user", "conversation.updated.participants")
		wantJSON(t, "removed", eventData(t, evs[1])["removed"], []any{"bob"})
		wantJSON(t, "participants", a.do("GET", "/conversations/"+conv, nil).must(t, 200).Map(t)["participants"], []any{"alice", "carol"})
		a.sendText(t, conv, "carol", "three")
		wantJSON(t, "bob's conversations", conversationIDs(t, a.do("GET", "/users/bob/conversations", nil).must(t, 200)), []string{})

		// all_participants, and the deprecated destroy=true: gone for all.
		a.do("DELETE", "/users/bob/conversations/"+conv+"?mode=all_participants", nil).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/users/carol/conversations/"+conv+"?mode=all_participants", nil).must(t, 204)
		a.do("GET", "/conversations/"+conv, nil).wantError(t, 410, "gone", "")
		other := a.newConversation(t, "alice", "dave")
		a.do("DELETE", "/users/dave/conversations/"+other+"?destroy=true", nil).must(t, 204)
		a.do("GET", "/conversations/"+other, nil).wantError(t, 410, "gone", "")
	})
}

func TestProxySendMessage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice"}).must(t, 201)
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		for _, v := range []string{"1.1", "3.0"} {
			mark = a.eventMark()
			res := a.do("POST", "/users/alice/conversations/"+conv+"/messages", proxyText("hi "+v), version(v)...).must(t, 201)
			m := res.Map(t)
			id := wantUUID(t, m["id"], "layer:///messages/")
			if m["is_unread"] != false || m["received_at"] == nil {
				t.Fatalf("%s: the sender's view: %s", v, res.Body)
			}
			sender := obj(t, m["sender"])
			if v == "1.1" && sender["user_id"] != "alice" || v == "3.0" && sender["id"] != "layer:///identities/alice" {
				t.Fatalf("%s sender: %v", v, sender)
			}
			ev := a.wantEvents(t, mark, "message.sent")[0]
			wantJSON(t, "actor", ev["actor"], user("alice"))
			if got := a.do("GET", "/users/bob/messages/"+id, nil).must(t, 200).Map(t); got["is_unread"] != true {
				t.Fatalf("bob's view: %v", got)
			}
		}

		// Refused: a sender named, no parts (as laravel-layer-sdk's test
		// expects, 422), a user not in the conversation, a suspended user.
		mark = a.eventMark()
		body := proxyText("x")
		body["sender_id"] = "layer:///identities/bob"
		a.do("POST", "/users/alice/conversations/"+conv+"/messages", body).wantError(t, 422, "invalid_property", "sender_id")
		a.do("POST", "/users/alice/conversations/"+conv+"/messages", map[string]any{}).wantError(t, 422, "missing_property", "parts")
		a.do("POST", "/users/carol/conversations/"+conv+"/messages", proxyText("x")).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/alice/conversations/nope/messages", proxyText("x")).wantError(t, 404, "not_found", "")
		a.do("PATCH", "/users/alice", []any{patch("set", "suspended", true)}).must(t, 202)
		a.wantEvents(t, mark, "user.suspended")
		mark = a.eventMark()
		a.do("POST", "/users/alice/conversations/"+conv+"/messages", proxyText("x")).wantError(t, 403, "user_suspended", "")
		a.do("POST", "/users/alice/conversations", map[string]any{"participants": []any{"bob"}}).wantError(t, 403, "user_suspended", "")
		a.wantEvents(t, mark)
		a.do("PATCH", "/users/alice", []any{patch("set", "suspended", false)}).must(t, 202)

		// Blocks hold: bob blocks alice; her message is hidden from him.
		a.do("POST", "/users/bob/blocks", map[string]any{"user_id": "alice"}).must(t, 204)
		id := localID(a.do("POST", "/users/alice/conversations/"+conv+"/messages", proxyText("hidden")).must(t, 201).Map(t)["id"])
		a.do("GET", "/users/bob/messages/"+id, nil).wantError(t, 404, "not_found", "")

		// If-None-Match makes a retry the first message.
		again := func() string {
			return localID(a.do("POST", "/users/alice/conversations/"+conv+"/messages", proxyText("once"),
				"If-None-Match", "5a2d5bcb-2ba6-4b1d-8b55-0d3b1f7ad2a4").must(t, 201).Map(t)["id"])
		}
		if x, y := again(), again(); x != y {
			t.Fatalf("retry sent another message: %s, %s", x, y)
		}
	})
}

func TestProxyAnnouncements(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ann := localID(a.announce(t, "news", "bob", "carol")["id"])

		mark := a.eventMark()
		a.do("POST", "/users/bob/announcements/"+ann+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		ev := a.wantEvents(t, mark, "announcement.read")[0]
		wantJSON(t, "actor", ev["actor"], user("bob"))
		got := a.do("GET", "/users/bob/announcements/"+ann, nil).must(t, 200).Map(t)
		wantJSON(t, "recipient_status", got["recipient_status"], map[string]any{"bob": "read"})
		a.do("POST", "/users/bob/announcements/"+ann+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		a.do("POST", "/users/bob/announcements/"+ann+"/receipts", map[string]any{"type": "seen"}).wantError(t, 422, "invalid_property", "type")
		a.do("POST", "/users/dave/announcements/"+ann+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		// A message's id is no announcement's.
		conv := a.newConversation(t, "bob", "carol")
		msg := localID(a.sendText(t, conv, "carol", "hi")["id"])
		a.do("POST", "/users/bob/announcements/"+msg+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark, "announcement.read", "conversation.created", "message.sent")

		// Deleted for bob only.
		mark = a.eventMark()
		a.do("DELETE", "/users/bob/announcements/"+ann, nil).must(t, 204)
		ev = a.wantEvents(t, mark, "announcement.deleted_for_user")[0]
		wantJSON(t, "actor", ev["actor"], user("bob"))
		a.do("GET", "/users/bob/announcements/"+ann, nil).wantError(t, 404, "not_found", "")
		var list []map[string]any
		a.do("GET", "/users/bob/announcements", nil).must(t, 200).JSON(t, &list)
		if len(list) != 0 {
			t.Fatalf("bob's announcements: %v", list)
		}
		a.do("GET", "/users/carol/announcements/"+ann, nil).must(t, 200)
		a.do("DELETE", "/users/bob/announcements/"+ann, nil).wantError(t, 404, "not_found", "")
	})
}

func TestProxyPushTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		apns := map[string]any{"token": "105ebe3fcb7e93efda22257caaf5b9c465043f6d0b2abf3bc8ae7c939655e949", "type": "apns",
			"device_id": "a7775566-bfbf-11e5-bf72-359a01002888", "apns_bundle_id": "com.example.app", "ios_version": "9.0"}
		mark := a.eventMark()
		res := a.do("POST", "/users/alice/push_tokens", apns).must(t, 202)
		if len(res.Body) != 0 {
			t.Fatalf("202 with a body: %s", res.Body)
		}
		ev := a.wantEvents(t, mark, "push_token.registered")[0]
		wantJSON(t, "actor", ev["actor"], user("alice"))
		if tok := obj(t, eventData(t, ev)["push_token"]); tok["token"] != apns["token"] || tok["device_id"] != apns["device_id"] {
			t.Fatalf("event push_token: %v", tok)
		}

		// The same registration again changes nothing; a new token for
		// the device replaces the old one.
		mark = a.eventMark()
		a.do("POST", "/users/alice/push_tokens", apns).must(t, 202)
		a.wantEvents(t, mark)
		apns["token"] = "205ebe3fcb7e93efda22257caaf5b9c465043f6d0b2abf3bc8ae7c939655e949"
		a.do("POST", "/users/alice/push_tokens", apns).must(t, 202)
		a.wantEvents(t, mark, "push_token.registered")
		var list []map[string]any
		a.do("GET", "/users/alice/push_tokens", nil).must(t, 200).JSON(t, &list)
		if len(list) != 1 || list[0]["token"] != apns["token"] || list[0]["apns_bundle_id"] != "com.example.app" {
			t.Fatalf("alice's tokens: %v", list)
		}

		// Refused: bad types, missing fields, another service's field.
		mark = a.eventMark()
		for _, c := range []struct {
			body         map[string]any
			id, property string
		}{
			{map[string]any{"token": "t", "type": "mpns", "device_id": "d"}, "invalid_property", "type"},
			{map[string]any{"token": "t", "device_id": "d"}, "missing_property", "type"},
			{map[string]any{"type": "gcm", "device_id": "d"}, "missing_property", "token"},
			{map[string]any{"token": "t", "type": "fcm"}, "missing_property", "device_id"},
			{map[string]any{"token": "t", "type": "gcm", "device_id": "d", "apns_bundle_id": "x"}, "invalid_property", "apns_bundle_id"},
			{map[string]any{"token": "t", "type": "apns", "device_id": "d", "gcm_sender_id": "1"}, "invalid_property", "gcm_sender_id"},
		} {
			a.do("POST", "/users/alice/push_tokens", c.body).wantError(t, 422, c.id, c.property)
		}
		a.wantEvents(t, mark)

		// 25 devices at most: the one registered least recently goes.
		for i := range 25 {
			a.do("POST", "/users/bob/push_tokens", map[string]any{"token": fmt.Sprintf("fcm-%d", i), "type": "fcm",
				"device_id": fmt.Sprintf("device-%02d", i), "gcm_sender_id": "1234"}).must(t, 202)
		}
		mark = a.eventMark()
		a.do("POST", "/users/bob/push_tokens", map[string]any{"token": "gcm-25", "type": "gcm", "device_id": "device-25"}).must(t, 202)
		evs := a.wantEvents(t, mark, "push_token.registered", "push_token.unregistered")
		if gone := obj(t, eventData(t, evs[1])["push_token"]); gone["device_id"] != "device-00" {
			t.Fatalf("evicted %v, want device-00", gone)
		}
		res = a.do("GET", "/users/bob/push_tokens", nil).must(t, 200)
		res.JSON(t, &list)
		if len(list) != 25 || list[0]["device_id"] != "device-25" || res.Header.Get("Layer-Count") != "25" {
			t.Fatalf("bob's tokens: %d, first %v", len(list), list[0])
		}

		// Unregistering: 202, twice; one event.
		mark = a.eventMark()
		a.do("DELETE", "/users/alice/push_tokens/"+apns["device_id"].(string), nil).must(t, 202)
		a.do("DELETE", "/users/alice/push_tokens/"+apns["device_id"].(string), nil).must(t, 202)
		a.wantEvents(t, mark, "push_token.unregistered")
		a.do("GET", "/users/alice/push_tokens", nil).must(t, 200).JSON(t, &list)
		if len(list) != 0 {
			t.Fatalf("alice's tokens after unregistering: %v", list)
		}
	})
}
