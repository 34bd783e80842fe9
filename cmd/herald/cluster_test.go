package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestClusterSurvivesNodeKill runs three nodes on one PostgreSQL database,
// streams messages through all three, SIGKILLs one of them mid-stream, and
// checks what the webhook receiver got: every event, the only duplicates
// being attempts the killed node had in flight, and each conversation's
// events in the order of the log.
func TestClusterSurvivesNodeKill(t *testing.T) {
	db := pgtest.URL(t)
	flags := []string{"--db", db, "--node-timeout", "3s"}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	// The first node creates the default app; the others find it.
	nodes := []*process{startHerald(t, dirs[0], flags...)}
	creds := readCredentials(t, dirs[0])
	for _, dir := range dirs[1:] {
		nodes = append(nodes, startHerald(t, dir, flags...))
	}
	rcv := newReceiver(t)
	var wh struct{ ID, Status string }
	if status, err := call(nodes[1].URL, creds, "POST", "/webhooks", map[string]any{"version": "2.0",
		"target_url": rcv.URL, "events": []string{"message.sent", "conversation.created"}, "secret": "s"}, &wh); err != nil || status != 201 {
		t.Fatalf("registering the webhook: %d %v", status, err)
	}
	for i := 0; wh.Status != "active"; i++ {
		if i > 500 {
			t.Fatalf("webhook not active: %+v", wh)
		}
		time.Sleep(10 * time.Millisecond)
		call(nodes[2].URL, creds, "GET", "/webhooks/"+localID(wh.ID), nil, &wh)
	}
	convIDs := createConversations(t, nodes[0].URL, creds, 6)

	// Clients send round robin through the three nodes; a request to the
	// killed node fails and the client goes on with the next node.
	var acked atomic.Int64
	var ackedMu sync.Mutex
	ackedIDs := map[string]bool{}
	var alive [3]atomic.Bool
	for i := range alive {
		alive[i].Store(true)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := (w + i) % len(nodes)
				if !alive[n].Load() {
					continue
				}
				var m struct{ ID string }
				status, err := call(nodes[n].URL, creds, "POST", "/conversations/"+convIDs[(w+i)%len(convIDs)]+"/messages",
					map[string]any{"sender": map[string]string{"user_id": "alice"},
						"parts": []map[string]string{{"mime_type": "text/plain", "body": fmt.Sprintf("w%d #%d", w, i)}}}, &m)
				if err == nil && status == 201 {
					acked.Add(1)
					ackedMu.Lock()
					ackedIDs[m.ID] = true
					ackedMu.Unlock()
				}
			}
		}()
	}
	waitFor := func(n int64) {
		for deadline := time.Now().Add(30 * time.Second); acked.Load() < n && time.Now().Before(deadline); {
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor(300)
	alive[1].Store(false)
	nodes[1].kill(t)
	killedAt := time.Now()
	before := acked.Load()
	waitFor(before + 300)
	close(stop)
	wg.Wait()
	if acked.Load() < before+100 {
		t.Fatalf("only %d messages acknowledged after the kill", acked.Load()-before)
	}

	// The log, read through a surviving node: every event the receiver
	// must get, and each conversation's order.
	log := allEvents(t, nodes[2].URL, creds)
	position := map[string]int{}        // event id → place in the log
	conversation := map[string]string{} // event id → conversation
	sent := map[string]bool{}           // message ids with a message.sent event
	for i, e := range log {
		switch e.Type {
		case "message.sent":
			position[e.ID], conversation[e.ID] = i, e.Data.Message.ConversationID
			sent["layer:///messages/"+e.Data.Message.ID] = true
		case "conversation.created":
			position[e.ID], conversation[e.ID] = i, e.Data.Conversation.ID
		}
	}
	ackedMu.Lock()
	for id := range ackedIDs {
		if !sent[id] {
			t.Errorf("acknowledged message %s has no message.sent event", id)
		}
	}
	ackedMu.Unlock()

	// Wait until every event arrived; the killed node's leases come back
	// once it has been silent for --node-timeout.
	for deadline := time.Now().Add(60 * time.Second); ; {
		rcv.mu.Lock()
		got := map[string]bool{}
		for _, a := range rcv.arrivals {
			got[a.event] = true
		}
		rcv.mu.Unlock()
		missing := 0
		for id := range position {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the receiver", missing, len(position))
		}
		time.Sleep(20 * time.Millisecond)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	first := map[string]time.Time{}
	last := map[string]int{} // conversation → log place of the last new event
	dups := 0
	for _, a := range rcv.arrivals {
		if _, ok := position[a.event]; !ok {
			t.Errorf("the receiver got event %s, which is not in the log", a.event)
			continue
		}
		if at, seen := first[a.event]; seen {
			dups++
			// Only an attempt in flight when the node died is repeated:
			// its first arrival came before the kill.
			if at.After(killedAt.Add(500 * time.Millisecond)) {
				t.Errorf("event %s arrived again, first at %s, after the kill at %s",
					a.event, at.Format(time.StampMicro), killedAt.Format(time.StampMicro))
			}
			continue
		}
		first[a.event] = a.at
		conv, p := conversation[a.event], position[a.event]
		if prev, ok := last[conv]; ok && p < prev {
			t.Errorf("conversation %s: event at log place %d arrived after the one at %d", conv, p, prev)
		}
		last[conv] = max(last[conv], p)
	}
	t.Logf("3 nodes, 1 killed: %d messages acknowledged (%d after the kill), %d events delivered, %d duplicates",
		acked.Load(), acked.Load()-before, len(position), dups)
}
