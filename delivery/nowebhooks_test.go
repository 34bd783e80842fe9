package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/stdwebhooks"
)

// With no webhook, the events this node commits leave the fan-out loop
// nothing to read, whether their transaction fanned them out (a few events)
// or left them to the loop (many); and a webhook created next gets every
// event after it, none before.
func TestFanOutWithoutWebhooksReadsNothingAndLosesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var mu sync.Mutex
	got := map[string]int{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[strings.Fields(string(b))[0]]++
		mu.Unlock()
	}))
	defer receiver.Close()
	if err := s.Update(ctx, func(tx herald.Tx) error {
		return tx.CreateApp(ctx, &herald.App{ID: "app", Name: "app", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	renders := 0
	e := &Engine{Store: s, Formats: map[string]Format{"counting": countingFormat{renders: &renders}},
		PollInterval: time.Hour, AllowTargets: egress.Loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)
	appendEvents := func(prefix string, n int, then func(tx herald.Tx) error) {
		t.Helper()
		err := s.Update(ctx, func(tx herald.Tx) error {
			for i := range n {
				if err := tx.AppendEvent(ctx, &herald.Event{ID: fmt.Sprint(prefix, i), AppID: "app", Type: "message.sent",
					CreatedAt: time.Now(), Data: json.RawMessage(`{}`)}); err != nil {
					return err
				}
			}
			if then != nil {
				return then(tx)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		e.Notify() // as the services do after their commits
	}
	appendEvents("few-", appendedMax, nil)
	appendEvents("many-", appendedMax+10, nil)
	var last int64
	if err := s.View(ctx, func(q herald.Queries) (err error) {
		last, err = q.LastEventSeq(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.appendedUpTo.Load() != last; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the fan-out still has events up to %d to read, of %d, without a webhook", e.appendedUpTo.Load(), last)
		}
	}
	if n, err := e.fanOut(ctx, true); n != 0 || err != nil {
		t.Fatalf("a woken fan-out considered %d events (%v), want none", n, err)
	}

	// A webhook created as CreateWebhook does, its cursor at the log's end,
	// in a transaction that appends events of its own after it.
	appendEvents("with-", 2, func(tx herald.Tx) error {
		seq, err := tx.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		return tx.CreateWebhook(ctx, &herald.Webhook{ID: "w", AppID: "app", Format: "counting", Version: "1.0",
			TargetURL: receiver.URL, Events: []string{"message.sent"}, Secret: "s", SigningKey: stdwebhooks.NewSecret(),
			Status: herald.WebhookActive, Cursor: seq, CreatedAt: now, UpdatedAt: now})
	})
	appendEvents("after-", appendedMax+10, nil)
	appendEvents("last-", 1, nil)
	want := 2 + appendedMax + 10 + 1
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook got %d events of %d", n, want)
		}
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range got {
		if strings.HasPrefix(id, "few-") || strings.HasPrefix(id, "many-") || n != 1 {
			t.Errorf("the webhook got event %s %d times", id, n)
		}
	}
	if len(got) != want {
		t.Errorf("the webhook got %d events, want %d", len(got), want)
	}
}
