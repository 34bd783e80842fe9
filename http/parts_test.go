package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// partBody is a text/plain part, with an id when id is not empty.
func partBody(id, body string) map[string]any {
	p := map[string]any{"mime_type": "text/plain", "body": body}
	if id != "" {
		p["id"] = id
	}
	return p
}

// partsOf lists what a version shows of parts: each one's id and body.
func partsOf(t *testing.T, v any) []string {
	t.Helper()
	var out []string
	for _, p := range arr(t, v) {
		p := obj(t, p)
		out = append(out, p["id"].(string)+" "+p["body"].(string))
	}
	return out
}

// In 3.0 a message's parts are objects of their own, named by their ids:
// listed, read, added (201), replaced one by one or all at once (204) and
// removed (204), each change one event with the message after it and the
// part.
func TestMessagePartsV3(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		v3 := accept("3.0")
		conv := a.newConversation(t, "alice", "bob")
		first := uuid.NewString()
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender_id": "layer:///identities/alice",
			"parts": []any{partBody("layer:///messages/GENERATE_A_UUID/parts/"+first, "one")}}, v3...).must(t, 201).Map(t)
		id := wantUUID(t, m["id"], "layer:///messages/")
		base := "layer:///messages/" + id + "/parts/"
		wantJSON(t, "sent parts", partsOf(t, m["parts"]), []string{base + first + " one"})
		partsPath := "/conversations/" + conv + "/messages/" + id + "/parts"

		mark := a.eventMark()
		added := a.do("POST", partsPath, partBody("", "two"), v3...).must(t, 201)
		p := added.Map(t)
		wantKeys(t, "added part", p, "id", "url", "message_url", "mime_type", "body", "updated_at")
		second := wantUUID(t, p["id"], base)
		partURL := a.conversationURL(conv) + "/messages/" + id + "/parts/" + second
		if p["url"] != partURL || added.Header.Get("Location") != partURL || p["message_url"] != a.messageURL(id) {
			t.Fatalf("added part's urls: %v, Location %s", p, added.Header.Get("Location"))
		}
		a.wantNow(t, p["updated_at"])
		a.do("GET", partsPath+"/"+second, nil, v3...).must(t, 200)
		a.do("PUT", partsPath+"/"+first, partBody("", "ONE"), v3...).must(t, 204)
		list := a.do("GET", partsPath, nil, v3...).must(t, 200)
		var parts []any
		list.JSON(t, &parts)
		wantJSON(t, "parts after an update", partsOf(t, parts), []string{base + first + " ONE", base + second + " two"})
		msg := a.do("GET", "/conversations/"+conv+"/messages/"+id, nil, v3...).must(t, 200).Map(t)
		a.wantNow(t, msg["updated_at"])

		a.do("DELETE", partsPath+"/"+first, nil, v3...).must(t, 204)
		a.do("GET", partsPath+"/"+first, nil, v3...).wantError(t, 404, "not_found", "")
		a.do("DELETE", partsPath+"/"+second, nil, v3...).wantError(t, 422, "invalid_operation", "")
		third := uuid.NewString()
		a.do("PUT", partsPath, []any{partBody(third, "three"), partBody(second, "TWO")}, v3...).must(t, 204)
		list = a.do("GET", partsPath, nil, v3...).must(t, 200)
		list.JSON(t, &parts)
		wantJSON(t, "parts replaced", partsOf(t, parts), []string{base + third + " three", base + second + " TWO"})

		events := a.wantEvents(t, mark, "message.part.created", "message.part.updated", "message.part.deleted",
			"message.part.created", "message.part.updated")
		for i, want := range []string{second + " two", first + " ONE", first + " ONE", third + " three", second + " TWO"} {
			d := eventData(t, events[i])
			part := obj(t, d["part"])
			if got := part["id"].(string) + " " + part["body"].(string); got != want {
				t.Fatalf("event %d (%s) is of part %s, want %s", i, events[i]["type"], got, want)
			}
			if obj(t, d["message"])["id"] != id {
				t.Fatalf("event %d carries message %v", i, obj(t, d["message"])["id"])
			}
		}

		// What is refused, and where.
		other := a.newConversation(t, "carol")
		a.do("GET", "/conversations/"+other+"/messages/"+id+"/parts", nil, v3...).wantError(t, 404, "not_found", "")
		a.do("POST", partsPath, partBody(third, "again"), v3...).wantError(t, 409, "id_in_use", "id")
		a.do("POST", partsPath, map[string]any{"mime_type": "text/plain", "body": strings.Repeat("x", 2049)}, v3...).
			wantError(t, 422, "invalid_property", "part.body")
		a.do("PUT", partsPath, []any{}, v3...).wantError(t, 422, "missing_property", "parts")
		a.do("PUT", partsPath+"/"+uuid.NewString(), partBody("", "x"), v3...).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/conversations/"+conv+"/messages/"+id, nil).must(t, 204)
		a.do("GET", partsPath, nil, v3...).wantError(t, 410, "gone", "")
		a.do("POST", partsPath, partBody("", "x"), v3...).wantError(t, 410, "gone", "")
		a.wantEvents(t, mark, "message.part.created", "message.part.updated", "message.part.deleted",
			"message.part.created", "message.part.updated", "conversation.created", "message.deleted")
	})
}

// 1.x and 2.0 name every part by its index, in paths as in what they
// render, and ignore the ids a client gives parts; the same message is
// named by ids in 3.0.
func TestMessagePartsByIndex(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		asked := uuid.NewString()
		for _, version := range []string{"1.1", "2.0"} {
			h := accept(version)
			m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
				"parts": []any{partBody(asked, "zero"), partBody("", "one")}}, h...).must(t, 201).Map(t)
			id := wantUUID(t, m["id"], "layer:///messages/")
			base := "layer:///messages/" + id + "/parts/"
			partsPath := "/conversations/" + conv + "/messages/" + id + "/parts"
			wantJSON(t, version+" sent parts", partsOf(t, m["parts"]), []string{base + "0 zero", base + "1 one"})

			p := a.do("POST", partsPath, partBody("", "two"), h...).must(t, 201).Map(t)
			wantJSON(t, version+" added part", p, partBody(base+"2", "two"))
			if loc := a.do("GET", partsPath+"/2", nil, h...).must(t, 200).Map(t); loc["body"] != "two" {
				t.Fatalf("%s part 2: %v", version, loc)
			}
			a.do("PUT", partsPath+"/1", partBody("", "ONE"), h...).must(t, 204)
			a.do("DELETE", partsPath+"/0", nil, h...).must(t, 204)
			var parts []any
			a.do("GET", partsPath, nil, h...).must(t, 200).JSON(t, &parts)
			wantJSON(t, version+" parts after a removal", partsOf(t, parts), []string{base + "0 ONE", base + "1 two"})
			a.do("GET", partsPath+"/2", nil, h...).wantError(t, 404, "not_found", "")
			// A part's id is no name in these versions.
			a.do("GET", partsPath+"/"+asked, nil, h...).wantError(t, 404, "not_found", "")

			// 3.0 names the same parts by their ids, none of them the one
			// asked for in a version without part ids.
			var v3 []any
			a.do("GET", partsPath, nil, accept("3.0")...).must(t, 200).JSON(t, &v3)
			for _, p := range v3 {
				name := wantUUID(t, obj(t, p)["id"], base)
				if name == asked {
					t.Fatalf("%s kept the id a client gave a part", version)
				}
				a.do("GET", partsPath+"/"+name, nil, accept("3.0")...).must(t, 200)
			}
		}
	})
}

// scheduled runs the sender of scheduled messages for the test's API, as
// serve does.
func (a *api) runScheduler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Service.RunScheduledMessages(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// A send with a schedule is accepted (202) and sent when due: only then is
// the message there, with its position and its message.sent event. Retries
// with the same If-None-Match answer the same.
func TestScheduledSend(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.runScheduler(t)
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		key := uuid.NewString()
		body := map[string]any{"sender_id": "layer:///identities/alice", "parts": []any{partBody("", "Good morning!")},
			"schedule": map[string]any{"delay_in_seconds": 1.5, "typing_indicator_in_seconds": 1}}
		res := a.do("POST", "/conversations/"+conv+"/messages", body, append(accept("3.0"), "If-None-Match", key)...).must(t, 202)
		sm := res.Map(t)
		wantKeys(t, "accepted message", sm, "id", "url", "conversation", "schedule", "send_at")
		id := wantUUID(t, sm["id"], "layer:///messages/")
		wantJSON(t, "accepted message", without(sm, "send_at"), map[string]any{"id": "layer:///messages/" + id,
			"url": a.messageURL(id), "conversation": map[string]any{"id": "layer:///conversations/" + conv, "url": a.conversationURL(conv)},
			"schedule": map[string]any{"delay_in_seconds": 1.5, "typing_indicator_in_seconds": 1}})
		sendAt, err := time.Parse(herald.TimeFormat, sm["send_at"].(string))
		if d := time.Until(sendAt); err != nil || d < time.Second || d > 1500*time.Millisecond {
			t.Fatalf("due at %v (%v), want 1.5 s from now", sm["send_at"], err)
		}
		retry := a.do("POST", "/conversations/"+conv+"/messages", body, append(accept("3.0"), "If-None-Match", key)...).must(t, 202)
		if retry.Header.Get("Herald-Replayed") != "true" || retry.Map(t)["id"] != sm["id"] {
			t.Fatalf("the retry: %s %s", retry.Header, retry.Body)
		}
		a.do("GET", "/messages/"+id, nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)

		deadline := time.Now().Add(10 * time.Second)
		for a.do("GET", "/messages/"+id, nil).Status == 404 {
			if time.Now().After(deadline) {
				t.Fatal("the scheduled message was not sent within 10 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		m := a.do("GET", "/conversations/"+conv+"/messages/"+id, nil, accept("1.1")...).must(t, 200).Map(t)
		sentAt := a.wantNow(t, m["sent_at"])
		if sentAt.Before(sendAt.Add(-time.Millisecond)) || m["position"] != float64(1) {
			t.Fatalf("sent at %v, due at %v, position %v", sentAt, sendAt, m["position"])
		}
		wantJSON(t, "sent message's sender", m["sender"], map[string]any{"user_id": "alice"})
		a.wantEvents(t, mark, "message.sent")

		// 1.x's named senders are scheduled as well, without a typing
		// indicator.
		named := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]any{"name": "nicebot"},
			"parts": []any{partBody("", "Hello")}, "schedule": map[string]any{"delay_in_seconds": 10}}).must(t, 202).Map(t)
		wantJSON(t, "a schedule without typing", named["schedule"], map[string]any{"delay_in_seconds": 10, "typing_indicator_in_seconds": nil})
	})
}

// A schedule is checked as Layer bounds it, with the rest of the send.
func TestScheduledSendRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		send := func(schedule any, sender any) *response {
			return a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": sender,
				"parts": []any{partBody("", "hi")}, "schedule": schedule})
		}
		for _, c := range []struct {
			schedule any
			status   int
			id, prop string
		}{
			{map[string]any{}, 422, "missing_property", "schedule.delay_in_seconds"},
			{map[string]any{"delay_in_seconds": 0.5}, 422, "invalid_property", "schedule.delay_in_seconds"},
			{map[string]any{"delay_in_seconds": 301}, 422, "invalid_property", "schedule.delay_in_seconds"},
			{map[string]any{"delay_in_seconds": 5, "typing_indicator_in_seconds": 6}, 422, "invalid_property", "schedule.typing_indicator_in_seconds"},
			{map[string]any{"delay_in_seconds": "5"}, 422, "invalid_property", "schedule.delay_in_seconds"},
		} {
			send(c.schedule, user("alice")).wantError(t, c.status, c.id, c.prop)
		}
		send(map[string]any{"delay_in_seconds": 5}, user("carol")).wantError(t, 422, "invalid_property", "sender.user_id")
		a.do("POST", "/conversations/"+uuid.NewString()+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{partBody("", "hi")}, "schedule": map[string]any{"delay_in_seconds": 5}}).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark)
	})
}
