package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// On SIGTERM an attempt in flight runs to its end and its outcome is
// recorded: after a restart the delivery is done and is not sent again.
func TestShutdownFinishesAttemptsInFlight(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	creds := readCredentials(t, dataDir)
	var posts atomic.Int64
	arrived := make(chan struct{}, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, r.URL.Query().Get("verification_challenge"))
			return
		}
		posts.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		time.Sleep(700 * time.Millisecond) // still answering when SIGTERM comes
		w.WriteHeader(204)
	}))
	defer rcv.Close()

	var wh struct{ ID, Status string }
	if status, err := call(p.URL, creds, "POST", "/webhooks", map[string]any{"target_url": rcv.URL,
		"events": []string{"conversation.created"}, "secret": "s"}, &wh); err != nil || status != 201 {
		t.Fatalf("registering: %d %v", status, err)
	}
	for i := 0; wh.Status != "active"; i++ {
		if i > 500 {
			t.Fatalf("webhook not active: %+v", wh)
		}
		time.Sleep(10 * time.Millisecond)
		call(p.URL, creds, "GET", "/webhooks/"+localID(wh.ID), nil, &wh)
	}
	if status, err := call(p.URL, creds, "POST", "/conversations", map[string]any{"participants": []string{"a"}}, nil); err != nil || status != 201 {
		t.Fatalf("%d %v", status, err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery never started")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("herald exited with %v; log:\n%s", err, p.logs)
	}

	p = startHerald(t, dataDir)
	var delivered []struct{ Status string }
	if status, err := call(p.URL, creds, "GET", "/webhooks/"+localID(wh.ID)+"/deliveries", nil, &delivered); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if len(delivered) != 1 || delivered[0].Status != "delivered" {
		t.Fatalf("after the restart the deliveries are %+v, want one delivered", delivered)
	}
	time.Sleep(300 * time.Millisecond)
	if n := posts.Load(); n != 1 {
		t.Fatalf("the receiver got %d posts, want 1", n)
	}
}
