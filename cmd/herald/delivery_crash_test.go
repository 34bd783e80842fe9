package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver records the event ids of the Layer webhooks it gets, and when
// each arrived.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]int // event id → deliveries
	arrivals []arrival      // every delivery, in arrival order
}

type arrival struct {
	event string
	at    time.Time
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
		r.arrivals = append(r.arrivals, arrival{p.Event.ID, time.Now()})
		r.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(r.Close)
	return r
}

// waitFor waits until every event of want has arrived, and fails the test
// if some have not within timeout.
func (r *receiver) waitFor(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; {
		missing := 0
		for _, id := range want {
			if !r.has(id) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the receiver", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
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
		p = streamThenKill(t, p, dataDir, creds, convIDs, 6, 300, nil, nil)
	}

	// Every message.sent and conversation.created event of the log must
	// reach the receiver.
	var want []string
	for _, e := range allEvents(t, p.URL, creds) {
		if e.Type == "message.sent" || e.Type == "conversation.created" {
			want = append(want, e.ID)
		}
	}
	rcv.waitFor(t, want, 30*time.Second)
	rcv.mu.Lock()
	dups := 0
	for _, n := range rcv.received {
		dups += n - 1
	}
	rcv.mu.Unlock()
	t.Logf("%d events delivered across 2 kills, %d duplicates (attempts in flight at a kill)", len(want), dups)
}

// callbellReceiver records the texts of the message_created webhooks it gets,
// in order per contact.
type callbellReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]int      // text → deliveries
	order    map[string][]string // contact uuid → texts, as they came
}

func newCallbellReceiver(t *testing.T) *callbellReceiver {
	r := &callbellReceiver{received: map[string]int{}, order: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p struct {
			Event   string
			Payload struct {
				Text    string
				Contact struct{ UUID string }
			}
		}
		b, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || json.Unmarshal(b, &p) != nil || p.Event != "message_created" {
			w.WriteHeader(400)
			return
		}
		r.mu.Lock()
		r.received[p.Payload.Text]++
		r.order[p.Payload.Contact.UUID] = append(r.order[p.Payload.Contact.UUID], p.Payload.Text)
		r.mu.Unlock()
		io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// v1 posts to the Callbell-shaped API, whose paths carry no app.
func v1(base string, c credentials, path string, body, out any) (int, error) {
	return request("POST", base+"/v1"+path, c.Token, body, out)
}

// TestKillDuringCallbellDelivery is TestKillDuringDelivery for a
// Callbell-format webhook: messages stream into contacts' conversations
// while Herald is killed twice; every message reaches the receiver as
// message_created, in order per contact.
func TestKillDuringCallbellDelivery(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	creds := readCredentials(t, dataDir)
	rcv := newCallbellReceiver(t)
	var ch struct{ Channel struct{ UUID string } }
	if status, err := v1(p.URL, creds, "/channels", map[string]any{"type": "whatsapp", "identifier": "335544332211"}, &ch); err != nil || status != 201 {
		t.Fatalf("configuring the channel: %d %v", status, err)
	}
	if status, err := v1(p.URL, creds, "/webhooks/subscribe", map[string]any{"url": rcv.URL, "subscriptions": []string{"message_created"}}, nil); err != nil || status != 201 {
		t.Fatalf("subscribing: %d %v", status, err)
	}
	var convIDs []string
	for i := range 4 {
		var c struct {
			Contact struct{ ConversationHref string }
		}
		if status, err := v1(p.URL, creds, "/contacts", map[string]any{"identifier": fmt.Sprintf("3311223344%02d", i),
			"source": "whatsapp", "name": fmt.Sprintf("Contact %d", i)}, &c); err != nil || status != 201 {
			t.Fatalf("creating a contact: %d %v", status, err)
		}
		convIDs = append(convIDs, localID(c.Contact.ConversationHref))
		// The contact writes first: WhatsApp's 24-hour window lets the
		// business answer free-form only then.
		if status, err := v1(p.URL, creds, "/channels/"+ch.Channel.UUID+"/inbound", map[string]any{
			"from": fmt.Sprintf("3311223344%02d", i), "content": map[string]any{"text": fmt.Sprintf("hello from %d", i)}}, nil); err != nil || status != 201 {
			t.Fatalf("a contact writing: %d %v", status, err)
		}
	}
	for range 2 {
		p = streamThenKill(t, p, dataDir, creds, convIDs, 6, 300, nil, map[string]string{"name": "Support"})
	}

	// Every message.sent event of the log must reach the receiver, and in
	// the order of the log per conversation.
	var want []string
	for _, e := range allEvents(t, p.URL, creds) {
		if e.Type == "message.sent" {
			want = append(want, e.Data.Message.Parts[0].Body)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rcv.mu.Lock()
		missing := 0
		for _, text := range want {
			if rcv.received[text] == 0 {
				missing++
			}
		}
		rcv.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d message_created webhooks never reached the receiver", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	dups := 0
	for _, n := range rcv.received {
		dups += n - 1
	}
	// Each client's messages to one contact are numbered in the order it
	// sent them; a contact's webhooks must keep that order (a redelivery
	// after a kill may repeat an earlier one, never skip ahead).
	for contact, texts := range rcv.order {
		last := map[string]int{}
		for _, text := range texts {
			if strings.HasPrefix(text, "hello from ") {
				continue // the contact's own first message
			}
			var run, w, n int
			if _, err := fmt.Sscanf(text, "%x w%d #%d", &run, &w, &n); err != nil {
				t.Fatalf("unexpected text %q", text)
			}
			key := fmt.Sprintf("%x/%d", run, w)
			if prev, ok := last[key]; ok && n < prev && rcv.received[text] == 1 {
				t.Errorf("contact %s: %q arrived after #%d of the same client", contact, text, prev)
			}
			last[key] = max(last[key], n)
		}
	}
	t.Logf("%d message_created delivered across 2 kills, %d duplicates (attempts in flight at a kill)", len(want), dups)
}
