package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/stdwebhooks"
)

// Stop returns as soon as the attempts in flight end and their outcomes are
// recorded, however long the engine's poll interval: it waits for nothing
// else.
func TestStopWaitsOnlyForTheAttemptsInFlight(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	arrived, answer := make(chan struct{}, 1), make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-answer
	}))
	defer receiver.Close()
	defer func() {
		select {
		case <-answer:
		default:
			close(answer)
		}
	}()
	now := time.Now()
	err := s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateApp(ctx, &herald.App{ID: "app", Name: "app", CreatedAt: now}); err != nil {
			return err
		}
		w := &herald.Webhook{ID: "w", AppID: "app", Format: "counting", Version: "1.0", TargetURL: receiver.URL,
			Events: []string{"message.sent"}, Secret: "s", SigningKey: stdwebhooks.NewSecret(),
			Status: herald.WebhookActive, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &herald.Event{ID: "e", AppID: "app", Type: "message.sent", CreatedAt: now,
			Data: json.RawMessage(`{}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	renders := 0
	e := &Engine{Store: s, Formats: map[string]Format{"counting": countingFormat{renders: &renders}},
		PollInterval: time.Hour, AllowTargets: egress.Loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		e.Stop(ctx)
		t.Fatal("the delivery never reached the receiver")
	}
	// Stopped while the attempt is in flight; the receiver answers a
	// moment later.
	stopped := make(chan error, 1)
	go func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stopped <- e.Stop(stopCtx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(answer)
	start := time.Now()
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %s after the last attempt ended", d.Round(time.Millisecond))
	}
	var ds []*herald.Delivery
	err = s.View(ctx, func(q herald.Queries) (err error) {
		ds, err = q.Deliveries(ctx, "w", "", herald.Page{Limit: 10})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Status != herald.DeliveryDelivered {
		t.Fatalf("deliveries after Stop: %+v, want the one delivered", ds)
	}
}

// Stop waits for the verifications in flight, each bounded by its timeout,
// not for those still waiting their turn: they run at the next start.
func TestStopDropsWaitingVerifications(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var mu sync.Mutex
	challenged := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		challenged++
		mu.Unlock()
		<-r.Context().Done() // never answers
	}))
	defer receiver.Close()
	if err := s.Update(ctx, func(tx herald.Tx) error {
		return tx.CreateApp(ctx, &herald.App{ID: "app", Name: "app", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	renders := 0
	e := &Engine{Store: s, Formats: map[string]Format{"counting": countingFormat{renders: &renders}},
		AllowTargets: egress.Loopback, MaxProbes: 2, MinTimeout: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const webhooks = 20
	for i := range webhooks {
		_, err := e.CreateWebhook(ctx, "app", "counting", WebhookInput{TargetURL: fmt.Sprintf("%s/%d", receiver.URL, i),
			Events: []string{"message.sent"}, Secret: "s", TimeoutSeconds: 0.5})
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	// Each verification takes 0.5 s, two at a time: ten rounds if Stop
	// waited for all of them.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Stop took %s", d)
	}
	var unverified int
	err := s.View(ctx, func(q herald.Queries) error {
		ws, err := q.Webhooks(ctx, "app")
		for _, w := range ws {
			if w.Status == herald.WebhookUnverified {
				unverified++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if challenged > 4 || unverified < webhooks-4 {
		t.Fatalf("%d challenges before Stop returned, %d webhooks left unverified", challenged, unverified)
	}
}
