package layer_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/messaging"
)

// FuzzRender renders arbitrary event data, of any type, in any version, with
// any config: Render never panics, and what it renders is a JSON object that
// names the event, carries the config given and the objects of the data,
// and is the same every time.
func FuzzRender(f *testing.F) {
	fx := newFixture(f)
	fx.identities()
	c := fx.conversation(`{"title":"Lunch","nested":{"a":[1,"x"]}}`, "1234", "999", "111")
	m := fx.send(c.ID, herald.Sender{UserID: "1234"}, text("hi"), fx.content(c.ID, "image/png", []byte("png")))
	fx.send(c.ID, herald.Sender{Name: "Hal"}, text("I'm sorry, Dave."))
	fx.receipt("999", m.ID, "read")
	if _, err := fx.svc.UpdateConversation(fx.ctx, fx.app, c.ID, &herald.Actor{UserID: "999"}, []messaging.PatchOperation{
		{Operation: "add", Property: "participants", Value: json.RawMessage(`"zed"`)},
		{Operation: "set", Property: "metadata.title", Value: json.RawMessage(`"Dinner"`)},
	}); err != nil {
		f.Fatal(err)
	}
	if err := fx.svc.DeleteMessage(fx.ctx, fx.app, c.ID, m.ID, nil); err != nil {
		f.Fatal(err)
	}
	if err := fx.svc.DeleteConversation(fx.ctx, fx.app, c.ID, nil); err != nil {
		f.Fatal(err)
	}
	var events []*herald.Event
	if err := fx.store.View(fx.ctx, func(q herald.Queries) (err error) {
		events, err = q.Events(fx.ctx, fx.app, 0, 1000)
		return err
	}); err != nil {
		f.Fatal(err)
	}
	for _, e := range events {
		for _, v := range layer.Versions {
			f.Add(e.Type, v, []byte(e.Data), []byte(seedConfig))
		}
	}
	f.Add("message.sent", "2.0", []byte(`{"message":{"id":"m","parts":[{"mime_type":"text/plain","body":"\u0000\ud800"}]}}`), []byte(`{}`))
	// Part events, which no operation of the fixture makes: a part with an
	// id of its own, and a removed one with none.
	f.Add("message.part.updated", "3.0", []byte(`{"message":{"id":"m","position":3,"parts":[{"id":"p1","mime_type":"text/plain","body":"x"}]},"part":{"id":"p1","mime_type":"text/plain","body":"x"}}`), []byte(`{"k":"v"}`))
	f.Add("message.part.deleted", "3.0", []byte(`{"message":{"id":"m","parts":[]},"part":{"mime_type":"image/png","content":{"id":"c","size":3}}}`), []byte(`null`))

	f.Fuzz(func(t *testing.T, typ, version string, data, config []byte) {
		e := &herald.Event{Seq: 1, ID: "e1", AppID: fx.app, Type: typ, CreatedAt: renderTime, Data: data}
		body, ok, err := layer.Render(e, version, config, fx.u)
		if err != nil || !ok {
			return
		}
		var p struct {
			Event struct {
				Type, ID string
			}
			Config       json.RawMessage
			Message      *struct{ ID string }
			Conversation *struct{ ID string }
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s %s rendered no JSON object: %v\n%s", typ, version, err, body)
		}
		if p.Event.Type != layer.EventName(typ, version) || p.Event.ID != e.ID {
			t.Fatalf("%s rendered as event %q %q", typ, p.Event.Type, p.Event.ID)
		}
		if !sameJSON(p.Config, config) {
			t.Fatalf("config %s rendered as %s", config, p.Config)
		}
		d, err := e.DecodeData()
		if err != nil {
			t.Fatalf("rendered data that does not decode: %v", err)
		}
		switch {
		case p.Message != nil:
			if d.Message == nil || p.Message.ID != herald.MessageIDPrefix+d.Message.ID {
				t.Fatalf("message %q rendered from %s", p.Message.ID, data)
			}
		case p.Conversation != nil:
			if d.Conversation == nil || p.Conversation.ID != herald.ConversationIDPrefix+d.Conversation.ID {
				t.Fatalf("conversation %q rendered from %s", p.Conversation.ID, data)
			}
		default:
			t.Fatalf("%s rendered neither a message nor a conversation: %s", typ, body)
		}
		again, _, _ := layer.Render(e, version, config, fx.u)
		if !bytes.Equal(again, body) {
			t.Fatalf("rendered differently twice:\n%s\n%s", body, again)
		}
	})
}

// sameJSON reports whether a rendered config stands for the config given:
// the same object, or nothing for an empty one.
func sameJSON(rendered, given json.RawMessage) bool {
	var a, b any
	json.Unmarshal(rendered, &a)
	if json.Unmarshal(given, &b) != nil {
		b = nil
	}
	if m, ok := b.(map[string]any); ok && len(m) == 0 {
		b = nil
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// FuzzSign checks Layer's signature: the HMAC of the body, which the same
// secret and body always reproduce and any other body does not.
func FuzzSign(f *testing.F) {
	f.Add("s3cret", []byte(`{"event":{"type":"message.sent"}}`), uint(3))
	f.Add("", []byte{}, uint(0))
	f.Fuzz(func(t *testing.T, secret string, body []byte, flip uint) {
		sig := layer.Sign(secret, body)
		if sig != layer.Sign(secret, bytes.Clone(body)) {
			t.Fatal("the same secret and body signed differently")
		}
		if len(body) == 0 {
			return
		}
		changed := bytes.Clone(body)
		changed[flip%uint(len(body))] ^= 1
		if layer.Sign(secret, changed) == sig {
			t.Fatalf("a body with a flipped bit has the same signature")
		}
	})
}
