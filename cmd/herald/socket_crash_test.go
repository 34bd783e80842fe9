package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/internal/pgtest"
)

// signIn opens a Client API session for user, as a device does, signing
// the identity token with key registered as kid of provider iss.
func signIn(t *testing.T, base, appID, kid, iss string, key *rsa.PrivateKey, user string) string {
	t.Helper()
	var nonce struct{ Nonce string }
	if status, err := request("POST", base+"/nonces", "", nil, &nonce); err != nil || status != 201 {
		t.Fatalf("POST /nonces: %d %v", status, err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": iss, "prn": user, "nce": nonce.Nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "display_name": user})
	tok.Header["cty"], tok.Header["kid"] = "layer-eit;v=1", kid
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		SessionToken string `json:"session_token"`
	}
	if status, err := request("POST", base+"/sessions", "", map[string]string{"identity_token": signed, "app_id": appID}, &s); err != nil || status != 201 {
		t.Fatalf("POST /sessions: %d %v", status, err)
	}
	return s.SessionToken
}

// socketReader collects the messages a Client API socket is told of.
type socketReader struct {
	mu       sync.Mutex
	messages map[string]int // message id → create packets
	last     string         // timestamp of the last packet
	replayed chan struct{}  // closed when Event.replay answers
}

func (r *socketReader) read(ctx context.Context, c *websocket.Conn) {
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var p struct {
			Type      string
			Timestamp string
			Body      struct {
				Operation string
				Object    struct{ Type, ID string }
				Method    string
				Success   bool
			}
		}
		if json.Unmarshal(b, &p) != nil {
			continue
		}
		r.mu.Lock()
		r.last = p.Timestamp
		if p.Type == "change" && p.Body.Operation == "create" && p.Body.Object.Type == "Message" {
			r.messages[p.Body.Object.ID]++
		}
		if p.Type == "response" && p.Body.Method == "Event.replay" && p.Body.Success && r.replayed != nil {
			close(r.replayed)
			r.replayed = nil
		}
		r.mu.Unlock()
	}
}

// TestSocketsSurviveNodeKill kills, with SIGKILL, the node a user's socket
// is on while messages to them go on through another node. The device
// reconnects to the surviving node with the same session and replays from
// the last packet it saw: it then knows of every message acknowledged, and
// was told of none more than twice (once live, once again by the replay's
// overlap, which the Web SDK takes as the same object).
func TestSocketsSurviveNodeKill(t *testing.T) {
	db := pgtest.URL(t)
	flags := []string{"--db", db, "--node-timeout", "3s"}
	dirs := []string{t.TempDir(), t.TempDir()}
	doomed := startHerald(t, dirs[0], flags...)
	creds := readCredentials(t, dirs[0])
	survivor := startHerald(t, dirs[1], flags...)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	var k struct {
		ID         string `json:"id"`
		ProviderID string `json:"provider_id"`
	}
	if status, err := call(survivor.URL, creds, "POST", "/keys",
		map[string]string{"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, &k); err != nil || status != 201 {
		t.Fatalf("registering the key: %d %v", status, err)
	}
	session := signIn(t, doomed.URL, creds.AppID, k.ID, k.ProviderID, key, "alice")
	var conv struct{ ID string }
	if status, err := call(survivor.URL, creds, "POST", "/conversations",
		map[string]any{"participants": []string{"alice", "bob"}, "distinct": false}, &conv); err != nil || status != 201 {
		t.Fatalf("creating the conversation: %d %v", status, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(base string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/?session_token="+session,
			&websocket.DialOptions{Subprotocols: []string{"layer-2.0"}})
		if err != nil {
			t.Fatalf("opening the socket on %s: %v", base, err)
		}
		return c
	}
	r := &socketReader{messages: map[string]int{}}
	first := dial(doomed.URL)
	go r.read(ctx, first)

	// bob writes through the surviving node throughout.
	var ackedMu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < 100_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var m struct{ ID string }
			status, err := call(survivor.URL, creds, "POST", "/conversations/"+localID(conv.ID)+"/messages",
				map[string]any{"sender": map[string]string{"user_id": "bob"},
					"parts": []map[string]string{{"mime_type": "text/plain", "body": fmt.Sprintf("#%d", i)}}}, &m)
			if err == nil && status == 201 {
				ackedMu.Lock()
				acked = append(acked, m.ID)
				ackedMu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	count := func() int {
		ackedMu.Lock()
		defer ackedMu.Unlock()
		return len(acked)
	}
	for deadline := time.Now().Add(20 * time.Second); count() < 100 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	doomed.kill(t)
	first.CloseNow()
	// Messages go on while the device has no socket.
	for n, deadline := count(), time.Now().Add(20*time.Second); count() < n+100 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}

	r.mu.Lock()
	from := r.last
	done := make(chan struct{})
	r.replayed = done
	r.mu.Unlock()
	if from == "" {
		t.Fatal("the socket on the killed node got no packet before the kill")
	}
	second := dial(survivor.URL)
	defer second.CloseNow()
	go r.read(ctx, second)
	replay, _ := json.Marshal(map[string]any{"type": "request", "body": map[string]any{"method": "Event.replay",
		"request_id": "r1", "data": map[string]string{"from_timestamp": from}}})
	if err := second.Write(ctx, websocket.MessageText, replay); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Event.replay never answered")
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-sent

	ackedMu.Lock()
	want := append([]string(nil), acked...)
	ackedMu.Unlock()
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		missing = missing[:0]
		r.mu.Lock()
		for _, id := range want {
			if r.messages[id] == 0 {
				missing = append(missing, id)
			}
		}
		r.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged messages never reached the device, e.g. %s", len(missing), len(want), missing[0])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.messages {
		if n > 2 {
			t.Errorf("message %s was created %d times on the device", id, n)
		}
	}
	t.Logf("%d messages, %d before the kill", len(want), 100)
}
