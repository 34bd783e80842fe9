package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestKillDuringHotConversation streams messages from many clients into a
// single conversation, so that its deliveries queue up behind each other and
// go out one after the other on each 2xx, recorded only afterwards, and
// kills Herald with SIGKILL twice meanwhile, on each engine. Every event
// must reach the receiver, and the first arrivals must come in event order:
// what a crash left unrecorded is sent again, from the first unrecorded
// delivery on.
func TestKillDuringHotConversation(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKillDuringHotConversation(t) })
	t.Run("postgres", func(t *testing.T) { testKillDuringHotConversation(t, "--db", pgtest.URL(t)) })
}

func testKillDuringHotConversation(t *testing.T, flags ...string) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir, flags...)
	creds := readCredentials(t, dataDir)
	rcv := newReceiver(t)
	var wh struct{ ID, Status string }
	if status, err := call(p.URL, creds, "POST", "/webhooks", map[string]any{"version": "2.0", "target_url": rcv.URL,
		"events": []string{"message.sent"}, "secret": "s"}, &wh); err != nil || status != 201 {
		t.Fatalf("registering the webhook: %d %v", status, err)
	}
	for i := 0; wh.Status != "active"; i++ {
		if i > 500 {
			t.Fatalf("webhook not active: %+v", wh)
		}
		time.Sleep(10 * time.Millisecond)
		call(p.URL, creds, "GET", "/webhooks/"+localID(wh.ID), nil, &wh)
	}
	conv := createConversations(t, p.URL, creds, 1)[0]

	// The bodies of the messages acknowledged 201: each must be in the
	// log, once (on PostgreSQL, messages sent at once to the
	// conversation share transactions).
	var ackedMu sync.Mutex
	ackedBodies := map[string]bool{}
	for round := range 2 {
		var acked atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf("r%d w%d #%d", round, w, i)
					status, err := call(p.URL, creds, "POST", "/conversations/"+conv+"/messages",
						map[string]any{"sender": map[string]string{"user_id": "alice"},
							"parts": []map[string]string{{"mime_type": "text/plain", "body": body}}}, nil)
					if err != nil {
						return // the server is gone
					}
					if status == 201 {
						acked.Add(1)
						ackedMu.Lock()
						ackedBodies[body] = true
						ackedMu.Unlock()
					}
				}
			}()
		}
		// Enough for a queue to form behind the conversation's head, and
		// for the kill to come while its deliveries stream out.
		for deadline := time.Now().Add(20 * time.Second); acked.Load() < 600 && time.Now().Before(deadline); {
			time.Sleep(2 * time.Millisecond)
		}
		p.kill(t)
		close(stop)
		wg.Wait()
		if acked.Load() == 0 {
			t.Fatal("no message was acknowledged before the kill")
		}
		p = startHerald(t, dataDir, flags...)
	}

	var want []string
	logged := map[string]int{}
	for _, e := range allEvents(t, p.URL, creds) {
		if e.Type == "message.sent" {
			want = append(want, e.ID)
			logged[e.Data.Message.Parts[0].Body]++
		}
	}
	for body := range ackedBodies {
		if logged[body] != 1 {
			t.Fatalf("message %q, acknowledged, is in the log %d times", body, logged[body])
		}
	}
	rcv.waitFor(t, want, 60*time.Second)

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	seen := map[string]bool{}
	var first []string
	for _, a := range rcv.arrivals {
		if !seen[a.event] {
			seen[a.event] = true
			first = append(first, a.event)
		}
	}
	if len(first) != len(want) {
		t.Fatalf("%d distinct events arrived, the log has %d", len(first), len(want))
	}
	for i := range want {
		if first[i] != want[i] {
			t.Fatalf("first arrivals out of event order at %d of %d: %s came where the log has %s", i, len(want), first[i], want[i])
		}
	}
	t.Logf("%d events of one conversation delivered in order across 2 kills, %d arrivals in all", len(want), len(rcv.arrivals))
}
