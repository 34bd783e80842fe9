package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/delivery"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// openNode opens another node's connection to the same PostgreSQL schema.
func openNode(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, Keyring: storetest.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startNode starts a delivery engine on store, as another node would.
func startNode(t *testing.T, a *api, store herald.Store, configure func(*delivery.Engine)) *delivery.Engine {
	t.Helper()
	e := &delivery.Engine{Store: store, Formats: map[string]delivery.Format{
		herald.FormatLayer:    layer.Format{URLs: a.Server.URLs},
		herald.FormatCallbell: callbell.Format{URLs: a.Server.URLs},
	}, PollInterval: time.Hour, AllowTargets: loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinRetryDelay: time.Millisecond, MinTimeout: time.Millisecond}
	if configure != nil {
		configure(e)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e
}

// apiWithoutEngine starts a node serving the API on the database at url,
// with a receiver subscribed to message.sent and a conversation, and stops
// the node's own engine: what it would have sent, another node must.
func apiWithoutEngine(t *testing.T, url string) (a *api, rc *receiver, conv string) {
	t.Helper()
	a = startAPI(t, openNode(t, url))
	rc = newReceiver(t)
	a.verifiedWebhook(t, map[string]any{"target_url": rc.URL, "events": []string{"message.sent"}, "version": "2.0", "secret": "s"})
	conv = a.newConversation(t, "alice", "bob")
	if err := a.Engine.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, rc, conv
}

// A node hears of the events another node commits at once, through
// LISTEN/NOTIFY, not at its next poll.
func TestNodesWakeEachOther(t *testing.T) {
	t.Parallel()
	url := enginetest.PostgresURL(t)
	a, rc, conv := apiWithoutEngine(t, url)
	startNode(t, a, openNode(t, url), nil)
	for i := range 5 {
		start := time.Now()
		a.sendText(t, conv, "alice", "hi")
		eventually(t, func() bool { return rc.count(func(h *hit) bool { return h.eventType() == "message.sent" }) > i },
			"message %d not delivered by the other node", i)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("message %d took %s to reach the receiver through the other node", i, d)
		}
	}
}

// A node's deliveries go on while requests hold every turn its store gives
// them (postgres.Options.MaxRequests): the engine's work has priority, so a
// flood of requests cannot starve the deliveries of what they write.
func TestDeliveriesGoOnWhileRequestsHoldEveryTurn(t *testing.T) {
	t.Parallel()
	url := enginetest.PostgresURL(t)
	a, rc, conv := apiWithoutEngine(t, url)
	node, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, MaxRequests: 1, Keyring: storetest.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	startNode(t, a, node, nil)
	// A request of the node's takes its only turn and keeps it.
	release, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- node.Update(context.Background(), func(tx herald.Tx) error {
			once.Do(func() { close(held) })
			<-release
			return nil
		})
	}()
	<-held
	defer func() {
		close(release)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// The second message waits behind the first in its conversation: it is
	// sent only once the first one's outcome is recorded.
	for i := range 2 {
		a.sendText(t, conv, "alice", "hi")
		eventually(t, func() bool { return rc.count(func(h *hit) bool { return h.eventType() == "message.sent" }) > i },
			"message %d not delivered while requests hold the node's turns", i)
	}
}

// A receiver's health check is a job of its own: with three nodes it is
// still checked once per interval, not once per node, even when a check
// takes longer than the interval.
func TestHealthChecksRunOncePerCluster(t *testing.T) {
	t.Parallel()
	url := enginetest.PostgresURL(t)
	const interval = 200 * time.Millisecond
	a := startAPI(t, openNode(t, url), func(srv *heraldhttp.Server) { srv.Engine.HealthInterval = interval })
	for range 2 {
		startNode(t, a, openNode(t, url), func(e *delivery.Engine) { e.HealthInterval = interval })
	}
	var mu sync.Mutex
	var checks []time.Time
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			mu.Lock()
			checks = append(checks, time.Now())
			mu.Unlock()
			time.Sleep(3 * interval / 2) // slower than the interval
		}
		io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(rc.Close)
	a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": rc.URL, "subscriptions": []string{"contact_created"}}).must(t, 201)
	time.Sleep(3 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(checks) < 5 {
		t.Fatalf("only %d health checks in 3 s", len(checks))
	}
	// Each node checking on its own would make about three times as many.
	if most := int(3*time.Second/interval) + 2; len(checks) > most {
		t.Errorf("%d health checks in 3 s, want at most %d: one per %s across the nodes", len(checks), most, interval)
	}
	for i := 1; i < len(checks); i++ {
		// A check reaches the receiver late when its node's goroutines
		// wait for a core (a loaded machine delays one by 60 ms and
		// more); two nodes claiming the same turn would come within a few
		// milliseconds of each other.
		if gap := checks[i].Sub(checks[i-1]); gap < interval/4 {
			t.Errorf("health checks %d and %d came %s apart, want one per %s across the nodes", i-1, i, gap, interval)
		}
	}
	t.Logf("%d health checks in 3 s across three nodes", len(checks))
}
