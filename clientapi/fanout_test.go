package clientapi

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/sqlite"
)

// BenchmarkFanOutMessageSent measures what a message sent into a
// conversation of ten participants, each with a socket open, costs the
// fan-out: the reads and renderings of its change packets for every
// socket, writes aside.
func BenchmarkFanOutMessageSent(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := &messaging.Service{Store: store, Blobs: blob.Dir{Root: b.TempDir()}}
	a := &API{}
	srv, err := heraldhttp.New(ctx, svc, "http://127.0.0.1:1", &layerapi.API{}, a)
	if err != nil {
		b.Fatal(err)
	}
	srv.Handler()
	defer a.Close()
	app, _, err := svc.CreateApp(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var users []string
	var sockets []*socket
	for i := range 10 {
		u := fmt.Sprintf("user-%d", i)
		name := fmt.Sprintf("User %d", i)
		if _, _, err := svc.PutIdentity(ctx, app.ID, u, messaging.IdentityInput{DisplayName: &name}, messaging.IdentityReplace); err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
		sockets = append(sockets, &socket{hub: a.hub, sess: &herald.Session{AppID: app.ID, UserID: u}, version: layerapi.V20, ctx: ctx})
	}
	distinct := false
	c, _, err := svc.CreateConversation(ctx, app.ID, nil, messaging.ConversationInput{Participants: users, Distinct: &distinct})
	if err != nil {
		b.Fatal(err)
	}
	var last int64
	err = store.View(ctx, func(q herald.Queries) (err error) {
		last, err = q.LastEventSeq(ctx)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		body := fmt.Sprintf("message %d", i)
		if _, _, err := svc.SendMessage(ctx, app.ID, c.ID, messaging.MessageInput{Sender: herald.Sender{UserID: users[i%len(users)]},
			Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}, ""); err != nil {
			b.Fatal(err)
		}
		var events []*herald.Event
		err := store.View(ctx, func(q herald.Queries) (err error) {
			events, err = q.EventsSince(ctx, last, 10)
			return err
		})
		if err != nil || len(events) != 1 {
			b.Fatalf("events after a send: %d, %v", len(events), err)
		}
		e := events[0]
		last = e.Seq
		d, err := e.DecodeData()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		f := newFanout(a.hub, e, d, sockets)
		for _, s := range sockets {
			ps, err := f.packets(s)
			if err != nil || len(ps) != 2 {
				b.Fatalf("%s: %d packets, %v", s.sess.UserID, len(ps), err)
			}
		}
	}
}
