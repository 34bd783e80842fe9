package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiver records the event ids of the Layer webhooks it gets.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]int // event id → deliveries
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{received: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			io.WriteString(w, req.URL.Query().Get("verification_challenge"))
			return
		}
		var p struct {
			Event struct{ ID string } `json:"event"`
		}
		b, _ := io.ReadAll(req.Body)
		if json.Unmarshal(b, &p) != nil || p.Event.ID == "" {
			w.WriteHeader(400)
			return
		}
		r.mu.Lock()
		r.received[p.Event.ID]++
		r.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.received[id] > 0
}

// TestKillDuringDelivery kills Herald with SIGKILL while messages stream in
// and webhooks go out, restarts it, and checks that the receiver ends up
// with every message.sent event: at least once, none missing.
func TestKillDuringDelivery(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	creds := readCredentials(t, dataDir)
	rcv := newReceiver(t)

	var wh struct{ ID, Status string }
	if status, err := call(p.URL, creds, "POST", "/webhooks", map[string]any{"version": "2.0", "target_url": rcv.URL,
		"events": []string{"message.sent", "conversation.created"}, "secret": "s"}, &wh); err != nil || status != 201 {
		t.Fatalf("registering the webhook: %d %v", status, err)
	}
	for i := 0; wh.Status != "active"; i++ {
		if i > 500 {
			t.Fatalf("webhook not active: %+v", wh)
		}
		time.Sleep(10 * time.Millisecond)
		call(p.URL, creds, "GET", "/webhooks/"+localID(wh.ID), nil, &wh)
	}
	convIDs := createConversations(t, p.URL, creds, 4)
	for range 2 {
		p = streamThenKill(t, p, dataDir, creds, convIDs, 6, 300, nil)
	}

	// Every message.sent and conversation.created event of the log must
	// reach the receiver.
	var want []string
	for _, e := range allEvents(t, p.URL, creds) {
		if e.Type == "message.sent" || e.Type == "conversation.created" {
			want = append(want, e.ID)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := 0
		for _, id := range want {
			if !rcv.has(id) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the receiver", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcv.mu.Lock()
	dups := 0
	for _, n := range rcv.received {
		dups += n - 1
	}
	rcv.mu.Unlock()
	t.Logf("%d events delivered across 2 kills, %d duplicates (attempts in flight at a kill)", len(want), dups)
}
