package callbell_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
)

// FuzzRender renders arbitrary event data, of any type, with any config:
// Render never panics, and what it renders is a JSON object naming
// Callbell's event, the same every time.
func FuzzRender(f *testing.F) {
	seeds := []*herald.Event{
		messageEvent(f, herald.EventMessageSent, inbound(text("Hello"),
			jsonPart("application/vnd.herald.location+json", `{"coordinates":{"x":48.85,"y":2.35}}`))),
		messageEvent(f, herald.EventMessageSent, outbound(text("Hi"), jsonPart("text/uri-list", "https://example.com/a.png"))),
		messageEvent(f, herald.EventMessageStatusUpdated, outbound(text("sent"))),
		contactEvent(f, herald.EventContactCreated, johnDoe()),
		contactEvent(f, herald.EventContactUpdated, johnDoe()),
		contactEvent(f, herald.EventContactDeleted, johnDoe()),
		contactEvent(f, herald.EventConversationOpened, johnDoe()),
		contactEvent(f, herald.EventConversationClosed, johnDoe()),
	}
	for _, e := range seeds {
		for _, config := range []string{"", `{"context_field":"both"}`, `{"context_field":"mesageContext"}`} {
			f.Add(e.Type, []byte(e.Data), []byte(config))
		}
	}
	f.Fuzz(func(t *testing.T, typ string, data, config []byte) {
		e := &herald.Event{Seq: 1, ID: eventID, AppID: appID, Type: typ, CreatedAt: eventAt, Data: data}
		d, err := e.DecodeData()
		if err != nil {
			return
		}
		w := webhook("")
		w.Config = config
		body, ok, err := format().Render(e, d, w)
		if err != nil || !ok {
			return
		}
		var p struct {
			Event   string
			Payload json.RawMessage
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s rendered no JSON object: %v\n%s", typ, err, body)
		}
		if p.Event != callbell.EventName(typ) || len(p.Payload) == 0 {
			t.Fatalf("%s rendered as event %q with payload %s", typ, p.Event, p.Payload)
		}
		again, _, _ := format().Render(e, d, w)
		if !bytes.Equal(again, body) {
			t.Fatalf("rendered differently twice:\n%s\n%s", body, again)
		}
	})
}

// FuzzVerify checks X-Callbell-Signature: a signature made by Sign
// verifies, one with a flipped bit in the body does not, and no header,
// however malformed, makes Verify panic or accept another body.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add("whsec_test", []byte(`{"event":"contact_created"}`), "t=1772366400,v1=00", uint(1))
	f.Add("", []byte{}, "", uint(0))
	f.Add("s", []byte("x"), "t=1,t=2,v1=zz", uint(7))
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string, flip uint) {
		// Any header: an error or, if it happens to be a right one,
		// nothing; never a panic.
		callbell.Verify(secret, header, body, now, callbell.DefaultTolerance)

		sig := callbell.Sign(secret, now, body)
		if err := callbell.Verify(secret, sig, body, now, callbell.DefaultTolerance); err != nil {
			t.Fatalf("a signature made by Sign does not verify: %v", err)
		}
		if err := callbell.Verify(secret, sig, body, now.Add(callbell.DefaultTolerance+time.Second), callbell.DefaultTolerance); err == nil {
			t.Fatal("a signature older than the tolerance verifies")
		}
		if len(body) == 0 {
			return
		}
		changed := bytes.Clone(body)
		changed[flip%uint(len(body))] ^= 1 << (flip % 8)
		if err := callbell.Verify(secret, sig, changed, now, callbell.DefaultTolerance); err == nil {
			t.Fatalf("a body with a flipped bit verifies")
		}
		if err := callbell.Verify(secret+"x", sig, body, now, callbell.DefaultTolerance); err == nil {
			t.Fatalf("another secret verifies")
		}
	})
}
