package http_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/layer"
)

// v3Delivery is a 3.0 delivery as its receivers read it: GetStream's
// layer-migration handler (event.type, message.id, message.conversation.id,
// message.sender.user_id, message.parts) and Layer's own integrations
// (actor, message.position, message.recipient_status, conversation,
// receipt).
type v3Delivery struct {
	Event struct {
		ID, Type  string
		CreatedAt string `json:"created_at"`
	}
	Actor *struct {
		ID     string
		UserID string `json:"user_id"`
	}
	Message *struct {
		ID, URL      string
		Conversation struct{ ID string }
		Sender       struct {
			ID     string
			UserID string `json:"user_id"`
		}
		Parts []struct {
			ID       string
			MimeType string `json:"mime_type"`
			Body     string
		}
		RecipientStatus map[string]string `json:"recipient_status"`
		Position        int64
	}
	Conversation *struct {
		ID           string
		Participants []struct {
			ID     string
			UserID string `json:"user_id"`
		}
		Metadata map[string]any
	}
	Receipt *struct {
		Type      string
		Positions struct{ From, To int64 }
	}
	Config map[string]string
}

// A webhook registered in payload version 3.0 receives the messages,
// receipts and conversation changes made through the API under 3.0's names
// and in 3.0's bodies, while a 1.0 webhook beside it keeps Herald's names.
func TestWebhookVersion3Deliveries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc3, rc1 := newReceiver(t), newReceiver(t)
		events3 := []string{"Conversation.created", "Message.created", "Receipt.created", "Conversation.updated",
			"Message.deleted", "Conversation.deleted"}
		wh := a.verifiedWebhook(t, map[string]any{"version": "3.0", "target_url": rc3.URL,
			"events": events3, "secret": "s3cret", "config": seedConfig})
		if wh["version"] != "3.0" {
			t.Fatalf("registered %v", wh)
		}
		a.verifiedWebhook(t, map[string]any{"version": "1.0", "target_url": rc1.URL,
			"events": []string{"message.sent", "message.read"}, "secret": "s"})

		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}}).must(t, 201).Map(t)["id"])
		msg := localID(a.sendText(t, conv, "alice", "hi")["id"])
		a.do("POST", "/users/bob/messages/"+msg+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		a.do("POST", "/users/bob/messages/"+msg+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		a.do("PATCH", "/conversations/"+conv, []any{patch("set", "metadata.title", "Lunch")},
			"Content-Type", "application/vnd.layer-patch+json").must(t, 204)
		a.do("PATCH", "/conversations/"+conv, []any{patch("add", "participants", "carol")},
			"Content-Type", "application/vnd.layer-patch+json").must(t, 204)
		if r := a.do("DELETE", "/conversations/"+conv+"/messages/"+msg, nil); r.Status >= 300 {
			t.Fatalf("deleting the message: %d %s", r.Status, r.Body)
		}
		if r := a.do("DELETE", "/conversations/"+conv, nil); r.Status >= 300 {
			t.Fatalf("deleting the conversation: %d %s", r.Status, r.Body)
		}

		hits := rc3.waitAccepted(t, 8)
		var types []string
		got := make([]v3Delivery, len(hits))
		for i, h := range hits {
			if ua := h.Header.Get("User-Agent"); ua != "layer-webhooks/3.0" {
				t.Errorf("User-Agent %q", ua)
			}
			if ct := h.Header.Get("Content-Type"); ct != "application/vnd.layer.webhooks+json; version=3.0" {
				t.Errorf("Content-Type %q", ct)
			}
			// layer-migration's handler drops a delivery whose signature
			// is not the HMAC of the body it got.
			if h.Header.Get("layer-webhook-signature") != layer.Sign("s3cret", h.Body) {
				t.Errorf("delivery %d: bad signature", i)
			}
			if err := json.Unmarshal(h.Body, &got[i]); err != nil {
				t.Fatal(err)
			}
			if h.eventType() != got[i].Event.Type {
				t.Errorf("layer-webhook-event-type %q, event.type %q", h.eventType(), got[i].Event.Type)
			}
			if got[i].Config["key1"] != "value1" {
				t.Errorf("%s without the config: %s", got[i].Event.Type, h.Body)
			}
			types = append(types, got[i].Event.Type)
		}
		// One conversation: its deliveries arrive in the order of its events.
		want := []string{"Conversation.created", "Message.created", "Receipt.created", "Receipt.created",
			"Conversation.updated", "Conversation.updated", "Message.deleted", "Conversation.deleted"}
		if !slices.Equal(types, want) {
			t.Fatalf("3.0 deliveries %v, want %v", types, want)
		}

		convID, msgID := "layer:///conversations/"+conv, "layer:///messages/"+msg
		// Message.created, as layer-migration's serverless handler reads it.
		created := got[1]
		if m := created.Message; m == nil || m.ID[strings.LastIndex(m.ID, "/")+1:] != msg || m.Conversation.ID != convID ||
			m.Sender.UserID != "alice" || len(m.Parts) != 1 || m.Parts[0].MimeType != "text/plain" || m.Parts[0].Body != "hi" {
			t.Errorf("Message.created: %s", hits[1].Body)
		}
		// A new message's part is named by an id of its own.
		partID, named := strings.CutPrefix(created.Message.Parts[0].ID, msgID+"/parts/")
		if _, err := uuid.Parse(partID); err != nil || !named || created.Actor == nil ||
			created.Actor.ID != "layer:///identities/alice" || created.Message.Position != 1 {
			t.Errorf("Message.created actor, position or part: %s", hits[1].Body)
		}
		// Receipt.created, as Layer's email fallback integration reads it.
		for i, typ := range map[int]string{2: "Delivery", 3: "Read"} {
			r := got[i]
			if r.Actor == nil || r.Actor.ID != "layer:///identities/bob" || r.Conversation == nil || r.Conversation.ID != convID ||
				r.Receipt == nil || r.Receipt.Type != typ || r.Receipt.Positions.From != 1 || r.Receipt.Positions.To != 1 {
				t.Errorf("Receipt.created %s: %s", typ, hits[i].Body)
			}
		}
		if got[3].Message.RecipientStatus["layer:///identities/bob"] != "read" {
			t.Errorf("the read receipt's message: %s", hits[3].Body)
		}
		if c := got[4].Conversation; c == nil || c.Metadata["title"] != "Lunch" {
			t.Errorf("Conversation.updated (metadata): %s", hits[4].Body)
		}
		if c := got[5].Conversation; c == nil || len(c.Participants) != 3 || c.Participants[2].ID != "layer:///identities/carol" {
			t.Errorf("Conversation.updated (participants): %s", hits[5].Body)
		}
		if m := got[6].Message; m == nil || m.ID != msgID || m.Conversation.ID != convID || m.Position != 1 ||
			m.RecipientStatus["layer:///identities/bob"] != "read" {
			t.Errorf("Message.deleted: %s", hits[6].Body)
		}
		if c := got[7].Conversation; c == nil || c.ID != convID || len(c.Participants) != 3 {
			t.Errorf("Conversation.deleted: %s", hits[7].Body)
		}

		// The 1.0 webhook got its own names, and only what it took.
		old := rc1.waitAccepted(t, 2)
		if old[0].eventType() != "message.sent" || old[1].eventType() != "message.read" ||
			old[0].Header.Get("User-Agent") != "layer-webhooks/1.0" {
			t.Errorf("1.0 deliveries: %s %s", old[0].Body, old[1].Body)
		}
		rc3.quiet(t, 8, 300*time.Millisecond)
		rc1.quiet(t, 2, 0)
	})
}

// Each payload version subscribes with its own names, checked when the
// webhook is registered; event_types is a name for events.
func TestWebhookVersion3Registration(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		register := func(body map[string]any) *response {
			body["target_url"], body["secret"] = rc.URL, "s"
			return a.do("POST", "/webhooks", body)
		}
		wh := register(map[string]any{"version": "3.0", "events": []string{"Message.created"}}).must(t, 201).Map(t)
		if wh["version"] != "3.0" || !slices.Equal(toStrings(wh["events"]), []string{"Message.created"}) {
			t.Errorf("registered %v", wh)
		}
		if wh := register(map[string]any{"events": []string{"message.sent"}}).must(t, 201).Map(t); wh["version"] != "1.0" {
			t.Errorf("a webhook without a version is %v", wh["version"])
		}

		e := register(map[string]any{"version": "3.0", "events": []string{"Message.created", "message.sent"}}).
			wantError(t, 422, "invalid_property", "events[1]")
		if msg := e["message"].(string); !strings.Contains(msg, `"message.sent"`) || !strings.Contains(msg, "3.0") ||
			!strings.Contains(msg, "Message.created") {
			t.Errorf("message %q names neither the entry, the version nor the right names", msg)
		}
		register(map[string]any{"version": "2.0", "events": []string{"message.sent", "Message.created"}}).
			wantError(t, 422, "invalid_property", "events[1]")
		// Names Layer 3.0 had that Herald does not send fail here, not by
		// silence later.
		register(map[string]any{"version": "3.0", "events": []string{"Message.updated"}}).
			wantError(t, 422, "invalid_property", "events[0]")
		register(map[string]any{"version": "3.0", "events": []string{"Participation.deleted"}}).
			wantError(t, 422, "invalid_property", "events[0]")
		register(map[string]any{"version": "4.0", "events": []string{"Message.created"}}).
			wantError(t, 422, "invalid_property", "version")

		// event_types, the name of Layer's docs of early 2016.
		wh = register(map[string]any{"version": "2.0", "event_types": []string{"message.sent", "message.read"}}).must(t, 201).Map(t)
		if !slices.Equal(toStrings(wh["events"]), []string{"message.sent", "message.read"}) {
			t.Errorf("event_types registered as %v", wh["events"])
		}
		register(map[string]any{"version": "3.0", "events": []string{"Message.created"}, "event_types": []string{"Message.created"}}).
			must(t, 201)
		register(map[string]any{"version": "3.0", "events": []string{"Message.created"}, "event_types": []string{"Message.deleted"}}).
			wantError(t, 422, "invalid_property", "event_types")
		e = register(map[string]any{"version": "3.0", "event_types": []string{"Message.created", "message.read"}}).
			wantError(t, 422, "invalid_property", "event_types[1]")
		if msg := e["message"].(string); !strings.HasPrefix(msg, "event_types[1]") {
			t.Errorf("message %q does not name event_types[1]", msg)
		}
		register(map[string]any{"version": "3.0", "event_types": []string{}}).
			wantError(t, 422, "invalid_property", "event_types")
		register(map[string]any{"version": "3.0", "event_types": "Message.created"}).
			wantError(t, 422, "invalid_property", "event_types")

		// No failed registration left a webhook behind.
		var list []map[string]any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
		if len(list) != 4 {
			t.Errorf("%d webhooks registered, want 4", len(list))
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
