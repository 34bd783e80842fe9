package main

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestKillWithScheduledMessages kills Herald with SIGKILL while clients
// schedule messages a second ahead, so that some are being accepted and
// others being sent at the kill, twice; after the restart every accepted
// message is sent, once, with exactly one message.sent event.
func TestKillWithScheduledMessages(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	creds := readCredentials(t, dataDir)
	convIDs := createConversations(t, p.URL, creds, 3)

	accepted := map[string]bool{}
	for round := range 2 {
		ids := scheduleThenKill(t, p, creds, convIDs, round, 1300*time.Millisecond)
		for _, id := range ids {
			accepted[id] = true
		}
		p = startHerald(t, dataDir)
	}
	if len(accepted) == 0 {
		t.Fatal("no scheduled message was accepted")
	}

	// What was due at the kill waits for the claim of the killed process
	// to end, a few seconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		stored := storedMessages(t, p.URL, creds, convIDs)
		missing := 0
		for id := range accepted {
			if !stored[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted messages not sent 30 s after the restart; log:\n%s", missing, len(accepted), p.logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	sent := map[string]int{}
	for _, e := range allEvents(t, p.URL, creds) {
		if e.Type == "message.sent" {
			sent["layer:///messages/"+e.Data.Message.ID]++
		}
	}
	for id := range accepted {
		if sent[id] != 1 {
			t.Errorf("accepted message %s has %d message.sent events, want 1", id, sent[id])
		}
	}
	stored := storedMessages(t, p.URL, creds, convIDs)
	for id := range sent {
		if !stored[id] {
			t.Errorf("message.sent for %s, which does not exist", id)
		}
	}
	for id := range stored {
		if sent[id] != 1 {
			t.Errorf("message %s has %d message.sent events, want 1", id, sent[id])
		}
	}
	t.Logf("%d scheduled messages accepted over 2 kills, %d sent (the rest were in flight)", len(accepted), len(sent))
}

// scheduleThenKill has clients schedule messages, each due a second later,
// for the given time, then SIGKILLs Herald while they still send, and
// returns the ids of the messages accepted (202).
func scheduleThenKill(t *testing.T, p *process, creds credentials, convIDs []string, round int, runFor time.Duration) []string {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var m struct{ ID string }
				status, err := call(p.URL, creds, "POST", "/conversations/"+convIDs[(w+i)%len(convIDs)]+"/messages",
					map[string]any{"sender": map[string]string{"user_id": "alice"},
						"parts":    []map[string]string{{"mime_type": "text/plain", "body": fmt.Sprintf("r%d w%d #%d", round, w, i)}},
						"schedule": map[string]any{"delay_in_seconds": 1}}, &m)
				if err != nil {
					return // the server is gone
				}
				if status != 202 {
					t.Errorf("scheduling: %d", status)
					return
				}
				mu.Lock()
				ids = append(ids, m.ID)
				mu.Unlock()
				// A few a second per client: the test is about what
				// is in flight at the kill, not about throughput.
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(runFor)
	p.kill(t)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return ids
}

// storedMessages lists the ids of the messages of the conversations.
func storedMessages(t *testing.T, base string, creds credentials, convIDs []string) map[string]bool {
	t.Helper()
	stored := map[string]bool{}
	for _, conv := range convIDs {
		var page []struct{ ID string }
		status, err := call(base, creds, "GET", "/conversations/"+conv+"/messages?page_size=500", nil, &page)
		if err != nil || status != 200 {
			t.Fatalf("listing messages: %d %v", status, err)
		}
		if len(page) == 500 {
			t.Fatal("a conversation has more messages than one page: schedule fewer")
		}
		for _, m := range page {
			stored[m.ID] = true
		}
	}
	return stored
}
