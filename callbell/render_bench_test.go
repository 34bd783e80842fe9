package callbell_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
)

// benchEvent records d as the data of an event of type typ, as event does;
// event is tied to *testing.T.
func benchEvent(b *testing.B, typ string, d herald.EventData) *herald.Event {
	b.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	return &herald.Event{Seq: 7, ID: eventID, AppID: appID, Type: typ, CreatedAt: eventAt, Data: raw}
}

func benchMessageEvent(b *testing.B, typ string, m *herald.Message) *herald.Event {
	return benchEvent(b, typ, herald.EventData{Message: m, Conversation: conversation(), Contact: johnDoe(), Channel: whatsapp()})
}

// benchRender renders e once and fails unless it renders, so that a broken
// render is not measured as a very fast one.
func benchRender(b *testing.B, f callbell.Format, e *herald.Event, w *herald.Webhook) []byte {
	b.Helper()
	body, ok, err := f.Render(e, decoded(b, e), w)
	if err != nil || !ok || len(body) == 0 {
		b.Fatalf("Render(%s) = %d bytes, ok %v, err %v", e.Type, len(body), ok, err)
	}
	return body
}

func BenchmarkRender(b *testing.B) {
	status := outbound(text("Your order shipped."))
	status.Channel.Status = herald.ChannelDelivered
	status.Channel.StatusPayload = json.RawMessage(`{"id": "wamid.HBgL", "status": "delivered", "timestamp": "1666087589"}`)
	status.Channel.Metadata = map[string]string{"order_id": "A-1001", "agent": "eve"}

	for _, bc := range []struct {
		name string
		e    *herald.Event
	}{
		{callbell.MessageCreated + "/text", benchMessageEvent(b, herald.EventMessageSent, inbound(text("Hello")))},
		// The seed's message: every structured part Callbell sends, which
		// the renderer re-parses from the stored JSON text.
		{callbell.MessageCreated + "/seed", benchMessageEvent(b, herald.EventMessageSent, inbound(
			text("Hello"),
			jsonPart(herald.MimeLocation, seedLocation),
			jsonPart(herald.MimeContactCard, seedContactCard),
			jsonPart(herald.MimeReplyButtons, seedReplyButtons),
			jsonPart(herald.MimeInteractiveList, seedListString()),
		))},
		{callbell.MessageStatusUpdated, benchMessageEvent(b, herald.EventMessageStatusUpdated, status)},
		{callbell.ContactCreated, benchEvent(b, herald.EventContactCreated,
			herald.EventData{Contact: johnDoe(), Conversation: conversation(), Channel: whatsapp()})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, w := format(), webhook("")
			body := benchRender(b, f, bc.e, w)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := f.Render(bc.e, decoded(b, bc.e), w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchBody is a rendered message_created body, the kind of body most
// deliveries sign.
func benchBody(b *testing.B) []byte {
	return benchRender(b, format(), benchMessageEvent(b, herald.EventMessageSent, inbound(text("Hello"))), webhook(""))
}

var benchAt = time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC)

func BenchmarkSign(b *testing.B) {
	body := benchBody(b)
	sig := callbell.Sign(secret, benchAt, body)
	if err := callbell.Verify(secret, sig, body, benchAt, callbell.DefaultTolerance); err != nil {
		b.Fatalf("the signature does not verify: %v", err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		callbell.Sign(secret, benchAt, body)
	}
}

// SetHeaders is what every attempt runs, signing again at its own time.
func BenchmarkSetHeaders(b *testing.B) {
	body := benchBody(b)
	f, w := format(), webhook("")
	d := &herald.Delivery{ID: "d-1", WebhookID: w.ID, EventType: callbell.MessageCreated, Body: body}
	h := http.Header{}
	f.SetHeaders(h, w, d, benchAt)
	if err := callbell.Verify(w.Secret, h.Get(callbell.SignatureHeader), body, benchAt, callbell.DefaultTolerance); err != nil {
		b.Fatalf("the signature does not verify: %v", err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		f.SetHeaders(h, w, d, benchAt)
	}
}

func BenchmarkVerify(b *testing.B) {
	body := benchBody(b)
	sig := callbell.Sign(secret, benchAt, body)
	if err := callbell.Verify(secret, sig, body, benchAt, callbell.DefaultTolerance); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := callbell.Verify(secret, sig, body, benchAt, callbell.DefaultTolerance); err != nil {
			b.Fatal(err)
		}
	}
}
