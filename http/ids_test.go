package http_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// Every id the API hands out works in a path as it was handed out: the
// Layer URI pasted as it is or percent-encoded, the bare UUID, and /v1's
// 32-digit form; and /v1 takes the Layer API's ids of the same objects.
func TestPathsTakeIDsInEveryForm(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("PUT", "/users/bob/identity", map[string]any{"display_name": "Bob"}).must(t, 201)
		conv := a.newConversation(t, "alice", "bob")
		msg := localID(a.sendText(t, conv, "alice", "Hi")["id"])
		wh := a.storeWebhook(t, "https://hooks.example.com/h", herald.WebhookActive)

		convURI, msgURI := "layer:///conversations/"+conv, "layer:///messages/"+msg
		for _, c := range []string{conv, convURI, url.PathEscape(convURI), herald.CompactUUID(conv), strings.ToUpper(herald.CompactUUID(conv))} {
			got := a.do("GET", "/conversations/"+c, nil).must(t, 200).Map(t)
			if got["id"] != convURI {
				t.Errorf("GET /conversations/%s: id %v, want %s", c, got["id"], convURI)
			}
		}
		for _, m := range []string{msgURI, herald.CompactUUID(msg)} {
			for _, c := range []string{convURI, herald.CompactUUID(conv)} {
				got := a.do("GET", "/conversations/"+c+"/messages/"+m, nil).must(t, 200).Map(t)
				if got["id"] != msgURI {
					t.Errorf("GET /conversations/%s/messages/%s: id %v, want %s", c, m, got["id"], msgURI)
				}
			}
			a.do("POST", "/users/layer:///identities/bob/messages/"+m+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
		}
		a.do("GET", "/users/layer:///identities/bob/identity", nil).must(t, 200)
		a.do("GET", "/users/bob/conversations/"+convURI, nil).must(t, 200)

		whURI := "layer:///apps/" + a.AppID + "/webhooks/" + wh
		for _, w := range []string{whURI, herald.CompactUUID(wh)} {
			got := a.do("GET", "/webhooks/"+w, nil).must(t, 200).Map(t)
			if got["id"] != whURI {
				t.Errorf("GET /webhooks/%s: id %v, want %s", w, got["id"], whURI)
			}
			a.do("GET", "/webhooks/"+w+"/deliveries", nil).must(t, 200)
		}

		// Not ids: a user id of 32 hex digits stays as it is, and a URI
		// of no Layer shape is still no route.
		hexUser := herald.CompactUUID(conv)
		a.do("PUT", "/users/"+hexUser+"/identity", map[string]any{"display_name": "Hex"}).must(t, 201)
		a.do("GET", "/users/"+hexUser+"/identity", nil).must(t, 200)
		a.do("GET", "/conversations/layer:", nil).wantError(t, 404, "not_found", "")
	})
}

// /v1 names a channel message by its 32-digit uuid; the Layer API's
// routes take that uuid, and /v1 takes the Layer id.
func TestChannelMessageIDsWorkAcrossAPIs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ch := a.cbChannel(t, "15550001111")
		id := a.cbInbound(t, ch, map[string]any{"from": "15550002222", "content": map[string]any{"text": "Hello"}})
		if len(id) != 32 {
			t.Fatalf("/v1 uuid %q, want 32 hex digits", id)
		}
		dashed := herald.ParseUUID(id)
		got := a.do("GET", "/messages/"+id, nil).must(t, 200).Map(t)
		if got["id"] != "layer:///messages/"+dashed {
			t.Fatalf("GET /messages/%s: id %v", id, got["id"])
		}
		for _, form := range []string{dashed, "layer:///messages/" + dashed} {
			st := a.v1(t, "GET", "/messages/status/"+form, nil).must(t, 200).Map(t)
			if m := obj(t, st["message"]); m["uuid"] != id {
				t.Errorf("GET /v1/messages/status/%s: uuid %v, want %s", form, m["uuid"], id)
			}
		}
	})
}

// A /v1 body takes the Layer id of a message as well as its uuid.
func TestV1BodiesTakeLayerIDs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ch := a.cbChannel(t, "15550001111")
		in := a.cbInbound(t, ch, map[string]any{"from": "15550002222", "content": map[string]any{"text": "Hello"}})
		layerID := "layer:///messages/" + herald.ParseUUID(in)
		reply := a.cbSend(t, map[string]any{"to": "15550002222", "content": map[string]any{"text": "Hi!"}, "reply_to": layerID})
		var m *herald.Message
		err := a.Store.View(context.Background(), func(q herald.Queries) (err error) {
			m, err = q.Message(context.Background(), a.AppID, herald.ParseUUID(reply))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if m.Channel == nil || m.Channel.ReplyTo == nil || m.Channel.ReplyTo.ID != herald.ParseUUID(in) {
			t.Errorf("the reply's channel %+v does not name the message it answers, %s", m.Channel, layerID)
		}
		a.v1(t, "POST", "/messages/send", map[string]any{"to": "15550002222", "from": "whatsapp", "type": "text",
			"content": map[string]any{"text": "?"}, "reply_to": "layer:///messages/" + herald.ParseUUID(reply) + "x"}).
			wantError(t, 422, "invalid_property", "reply_to")
	})
}
