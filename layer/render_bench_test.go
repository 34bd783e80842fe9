package layer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/urls"
)

// benchEvents acts out, in a real Herald, a two-participant conversation
// with identities in which one user sends a one-part text message, the
// other reads it and the sender deletes it, and returns the events that
// recorded it by type. The fixture of the tests is tied to *testing.T, so
// the same situation is built here with the same services.
func benchEvents(b *testing.B) (map[string]*herald.Event, *urls.Builder) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	svc := &messaging.Service{Store: store, Blobs: blob.Dir{Root: b.TempDir()}}
	app, _, err := svc.CreateApp(ctx, "layer-bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range []struct{ user, name, avatar string }{
		{"1234", "One Two Three Four", "https://mydomain.com/images/1234.gif"},
		{"999", "Nein!", "https://mydomain.com/images/999.gif"},
	} {
		in := messaging.IdentityInput{DisplayName: &id.name, AvatarURL: &id.avatar}
		if _, _, err := svc.PutIdentity(ctx, app.ID, id.user, in, messaging.IdentityReplace); err != nil {
			b.Fatal(err)
		}
	}
	c, _, err := svc.CreateConversation(ctx, app.ID, nil, messaging.ConversationInput{
		Participants: []string{"1234", "999"},
		Metadata:     json.RawMessage(`{"favorite": "true", "background_color": "#3c3c3c"}`),
	})
	if err != nil {
		b.Fatal(err)
	}
	m, _, err := svc.SendMessage(ctx, app.ID, c.ID, messaging.MessageInput{
		Sender: herald.Sender{UserID: "1234"},
		Parts:  []messaging.PartInput{text("This is the message.")},
	}, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.PostReceipt(ctx, app.ID, "999", m.ID, "read"); err != nil {
		b.Fatal(err)
	}
	if err := svc.DeleteMessage(ctx, app.ID, c.ID, m.ID, &herald.Actor{UserID: "1234"}); err != nil {
		b.Fatal(err)
	}

	events := map[string]*herald.Event{}
	err = store.View(ctx, func(q herald.Queries) error {
		es, err := q.Events(ctx, app.ID, 0, 10000)
		for _, e := range es {
			events[e.Type] = e
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	u := &urls.Builder{Base: "https://herald.example.com", Key: []byte("test signing key"),
		Now: func() time.Time { return renderTime }}
	return events, u
}

func BenchmarkRender(b *testing.B) {
	events, u := benchEvents(b)
	for _, typ := range []string{
		herald.EventMessageSent,
		herald.EventMessageRead,
		herald.EventMessageDeleted,
		herald.EventConversationCreated,
	} {
		e := events[typ]
		if e == nil {
			b.Fatalf("no %s event in the log", typ)
		}
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
