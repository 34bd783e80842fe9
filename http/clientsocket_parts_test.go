package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// After a message's send, its parts change one by one in 3.0: a 3.0 socket
// hears of each change as the Web XDK patches it (a part added to or
// removed from the message's parts by id, a part's own fields set on the
// MessagePart), and a 2.0 socket, whose parts are numbered, of none.
func TestClientSocketPartChanges(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		bob3 := dialSocketProto(t, a.URL, p.startSession(t, "bob", nil), "layer-3.0")
		bob2 := dialSocket(t, a.URL, p.startSession(t, "bob", nil))
		v3 := accept("3.0")
		conv := a.newConversation(t, "alice", "bob")
		first := uuid.NewString()
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender_id": "layer:///identities/alice",
			"parts": []any{partBody("layer:///messages/GENERATE_A_UUID/parts/"+first, "one")}}, v3...).must(t, 201).Map(t)
		msgID := m["id"].(string)
		bob3.until(isChange("create", msgID))
		bob2.until(isChange("create", msgID))
		partsPath := "/conversations/" + conv + "/messages/" + localID(msgID) + "/parts"

		added := a.do("POST", partsPath, partBody("", "two"), v3...).must(t, 201).Map(t)
		secondID := added["id"].(string)
		ops := bob3.until(isChange("update", msgID))["body"].(map[string]any)["data"].([]any)
		add := ops[0].(map[string]any)
		if add["operation"] != "add" || add["property"] != "parts" || add["id"] != secondID ||
			add["value"].(map[string]any)["body"] != "two" || ops[1].(map[string]any)["property"] != "updated_at" {
			t.Fatalf("part added: %v", ops)
		}

		a.do("PUT", partsPath+"/"+first, partBody("", "ONE"), v3...).must(t, 204)
		firstID := msgID + "/parts/" + first
		pc := bob3.until(isChange("update", firstID))["body"].(map[string]any)
		if pc["object"].(map[string]any)["type"] != "MessagePart" {
			t.Fatalf("part update object: %v", pc["object"])
		}
		set := map[string]any{}
		for _, op := range pc["data"].([]any) {
			o := op.(map[string]any)
			set[o["property"].(string)] = o["value"]
		}
		if set["body"] != "ONE" || set["mime_type"] != "text/plain" || set["updated_at"] == nil {
			t.Fatalf("part update: %v", pc["data"])
		}

		a.do("DELETE", partsPath+"/"+first, nil, v3...).must(t, 204)
		ops = bob3.until(isChange("update", msgID))["body"].(map[string]any)["data"].([]any)
		if rm := ops[0].(map[string]any); rm["operation"] != "remove" || rm["property"] != "parts" || rm["id"] != firstID {
			t.Fatalf("part removed: %v", ops)
		}

		// The 2.0 socket heard of none of it: up to the next message, it
		// got nothing about the edited one.
		next := a.sendText(t, conv, "alice", "after the edits")
		bob2.until(isChange("create", next["id"].(string)))
		for _, p := range bob2.skipped {
			b := p["body"].(map[string]any)
			if o, _ := b["object"].(map[string]any); p["type"] == "change" && b["operation"] == "update" &&
				strings.HasPrefix(o["id"].(string), msgID) {
				t.Fatalf("2.0 socket got a change of the edited message: %v", b)
			}
		}
	})
}
