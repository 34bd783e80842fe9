package layer_test

import (
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layer"
)

// benchEvents acts out a two-participant conversation with identities in
// which one user sends a one-part text message, the other reads it and the
// sender deletes it, and returns the events that recorded it.
func benchEvents(b *testing.B) *fixture {
	f := newFixture(b)
	f.identity("1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	f.identity("999", "Nein!", "https://mydomain.com/images/999.gif")
	c := f.conversation(`{"favorite": "true", "background_color": "#3c3c3c"}`, "1234", "999")
	m := f.send(c.ID, herald.Sender{UserID: "1234"}, text("This is the message."))
	f.receipt("999", m.ID, "read")
	if err := f.svc.DeleteMessage(f.ctx, f.app, c.ID, m.ID, &herald.Actor{UserID: "1234"}); err != nil {
		b.Fatal(err)
	}
	return f
}

func BenchmarkRender(b *testing.B) {
	f := benchEvents(b)
	for _, typ := range []string{
		herald.EventMessageSent,
		herald.EventMessageRead,
		herald.EventMessageDeleted,
		herald.EventConversationCreated,
	} {
		e, u := f.event(typ), f.u
		for _, v := range layer.Versions {
			b.Run(typ+"/"+v, func(b *testing.B) {
				// A render that fails or is skipped would otherwise be
				// measured as a very fast one.
				body, ok, err := layer.Render(e, v, seedConfig, u)
				if err != nil || !ok || len(body) == 0 {
					b.Fatalf("Render(%s, %s) = %d bytes, ok %v, err %v", typ, v, len(body), ok, err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := layer.Render(e, v, seedConfig, u); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
