package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/enginetest"
)

// wsClient is a device's WebSocket to the Client API, as the Web SDK
// opens it.
type wsClient struct {
	t       *testing.T
	conn    *websocket.Conn
	packets chan map[string]any
	next    int
	// skipped are the packets until passed over, for a later until.
	skipped []map[string]any
}

// dialSocket opens a socket with a session token, offering layer-2.0.
func dialSocket(t *testing.T, base, token string) *wsClient {
	t.Helper()
	return dialSocketProto(t, base, token, "layer-2.0")
}

// dialSocketProto opens a socket offering a subprotocol.
func dialSocketProto(t *testing.T, base, token, proto string) *wsClient {
	t.Helper()
	c, res, err := dialWith(base+"/?session_token="+token+"&client-id=x&layer-xdk-version=3.4.18", proto)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	if c.Subprotocol() != proto {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	w := &wsClient{t: t, conn: c, packets: make(chan map[string]any, 1000)}
	go func() {
		defer close(w.packets)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var p map[string]any
			if json.Unmarshal(b, &p) != nil {
				t.Errorf("packet not JSON: %s", b)
				return
			}
			w.packets <- p
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

func dialWith(url, proto string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var protos []string
	if proto != "" {
		protos = []string{proto}
	}
	return websocket.Dial(ctx, strings.Replace(url, "http://", "ws://", 1), &websocket.DialOptions{Subprotocols: protos})
}

// packet returns the next packet, checking its envelope: counters from 0,
// one more each packet, and a timestamp with milliseconds.
func (w *wsClient) packet() map[string]any {
	w.t.Helper()
	select {
	case p, ok := <-w.packets:
		if !ok {
			w.t.Fatal("socket closed")
		}
		if p["counter"] != float64(w.next) {
			w.t.Fatalf("counter %v, want %d: %v", p["counter"], w.next, p)
		}
		w.next++
		ts, _ := p["timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil {
			w.t.Fatalf("timestamp %q: %v", ts, err)
		}
		return p
	case <-time.After(waitTimeout):
		w.t.Fatal("no packet")
	}
	return nil
}

// until returns the next packet that match selects, skipping the others.
func (w *wsClient) until(match func(p map[string]any) bool) map[string]any {
	w.t.Helper()
	for i, p := range w.skipped {
		if match(p) {
			w.skipped = append(w.skipped[:i:i], w.skipped[i+1:]...)
			return p
		}
	}
	for {
		p := w.packet()
		if match(p) {
			return p
		}
		w.skipped = append(w.skipped, p)
	}
}

func (w *wsClient) sendPacket(typ string, body any) {
	w.t.Helper()
	b, _ := json.Marshal(map[string]any{"type": typ, "body": body})
	if err := w.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

// request sends a request and returns its response's body.
func (w *wsClient) request(method, objectID string, data any) map[string]any {
	w.t.Helper()
	id := "r" + uuid.NewString()
	body := map[string]any{"method": method, "request_id": id}
	if objectID != "" {
		body["object_id"] = objectID
	}
	if data != nil {
		body["data"] = data
	}
	w.sendPacket("request", body)
	p := w.until(func(p map[string]any) bool { return isResponse(p, id) })
	r := p["body"].(map[string]any)
	if r["method"] != method {
		w.t.Fatalf("response method %v, want %s", r["method"], method)
	}
	return r
}

func isResponse(p map[string]any, id string) bool {
	b, _ := p["body"].(map[string]any)
	return p["type"] == "response" && b["request_id"] == id
}

// isChange matches a change packet of an operation on an object.
func isChange(op, objectID string) func(p map[string]any) bool {
	return func(p map[string]any) bool {
		b, _ := p["body"].(map[string]any)
		o, _ := b["object"].(map[string]any)
		return p["type"] == "change" && b["operation"] == op && o["id"] == objectID
	}
}

func wantFailure(t *testing.T, r map[string]any, id string) map[string]any {
	t.Helper()
	d, _ := r["data"].(map[string]any)
	if r["success"] != false || d["id"] != id || d["code"] == nil || d["message"] == "" {
		t.Fatalf("response %v, want a failure %s", r, id)
	}
	return d
}

// The socket's envelope, requests, and refusals: a session and one of
// Layer's subprotocols are required; the reconnection check answers 2xx
// or 401 with a nonce.
func TestClientSocketRequests(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		token := p.startSession(t, "alice", map[string]any{"display_name": "Alice"})

		a.doAs("", "GET", "//?action=validateConnectionForWebsocket&client=3.4.18", nil, "Authorization", `Layer session-token="`+token+`"`).must(t, 204)
		m := a.doAs("", "GET", "//?action=validateConnectionForWebsocket", nil, "Authorization", `Layer session-token="nope"`).wantError(t, 401, "authentication_required", "")
		if m["data"].(map[string]any)["nonce"] == "" {
			t.Fatalf("401 without a nonce: %v", m)
		}
		if _, res, err := dialWith(a.URL+"/?session_token=nope", "layer-2.0"); err == nil || res == nil || res.StatusCode != 401 {
			t.Fatalf("socket with a bad session: %v %v", err, res)
		}
		if _, res, err := dialWith(a.URL+"/?session_token="+token, "chat"); err == nil || res == nil || res.StatusCode != 400 {
			t.Fatalf("socket without Layer's subprotocol: %v %v", err, res)
		}
		a.doAs("", "GET", "//", nil).wantError(t, 404, "invalid_endpoint", "")
		a.doAs("", "GET", "//nowhere", nil).wantError(t, 404, "invalid_endpoint", "")

		w := dialSocket(t, a.URL+"/websocket", token)
		if r := w.request("Counter.read", "", nil); r["success"] != true || r["data"].(map[string]any)["counter"] != float64(-1) {
			t.Fatalf("Counter.read: %v", r)
		}
		if r := w.request("Counter.read", "", nil); r["data"].(map[string]any)["counter"] != float64(0) {
			t.Fatalf("second Counter.read: %v", r)
		}
		if r := w.request("Presence.subscribe", "", nil); r["success"] != true {
			t.Fatalf("Presence.subscribe: %v", r)
		}
		if r := w.request("Presence.update", "", []map[string]any{{"operation": "set", "property": "status", "value": "busy"}}); r["success"] != true {
			t.Fatalf("Presence.update: %v", r)
		}
		wantFailure(t, w.request("Presence.update", "", []map[string]any{{"operation": "set", "property": "status", "value": "asleep"}}), "invalid_property")
		// Sync answers a list of changes, even of nobody.
		r := w.request("Presence.sync", "", map[string]any{"ids": []string{"layer:///identities/alice", "layer:///identities/bob"}})
		changes := r["data"].(map[string]any)["changes"].([]any)
		if len(changes) != 2 {
			t.Fatalf("Presence.sync: %v", r)
		}
		mine := changes[0].(map[string]any)
		ops := mine["data"].([]any)
		if mine["object"].(map[string]any)["id"] != "layer:///identities/alice" || ops[0].(map[string]any)["property"] != "presence.status" ||
			ops[0].(map[string]any)["value"] != "busy" || changes[1].(map[string]any)["data"].([]any)[0].(map[string]any)["value"] != "offline" {
			t.Fatalf("Presence.sync changes: %v", changes)
		}
		if r := w.request("Presence.sync", "", map[string]any{"ids": []string{}}); len(r["data"].(map[string]any)["changes"].([]any)) != 0 {
			t.Fatalf("empty Presence.sync: %v", r)
		}
		wantFailure(t, w.request("Channel.create", "", map[string]any{"name": "x", "id": "layer:///channels/" + uuid.NewString()}), "invalid_endpoint")
		wantFailure(t, w.request("Nothing.ever", "", nil), "invalid_endpoint")
		wantFailure(t, w.request("Message.create", "layer:///conversations/"+uuid.NewString(),
			map[string]any{"parts": []any{map[string]any{"mime_type": "text/plain", "body": "hi"}}, "id": "layer:///messages/" + uuid.NewString()}), "not_found")
	})
}

func textPart(body string) []any {
	return []any{map[string]any{"mime_type": "text/plain", "body": body}}
}

// Messages and conversations created over the socket keep the client's ids
// and reach every participant, the sender too, each seeing them as they
// do; retries are id_in_use with the object; distinct conversations are
// found, or a conflict; receipts update recipient_status; typing reaches
// the others with its sender.
func TestClientSocketChanges(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		alice := dialSocket(t, a.URL, p.startSession(t, "alice", map[string]any{"display_name": "Alice"}))
		bob := dialSocket(t, a.URL, p.startSession(t, "bob", nil))

		convID := "layer:///conversations/" + uuid.NewString()
		r := alice.request("Conversation.create", "", map[string]any{"id": convID, "distinct": true,
			"participants": []string{"layer:///identities/alice", "layer:///identities/bob"}, "metadata": map[string]any{"a": "1"}})
		if r["success"] != true || r["data"].(map[string]any)["id"] != convID {
			t.Fatalf("Conversation.create: %v", r)
		}
		bob.until(isChange("create", convID))
		alice.until(isChange("create", convID))
		d := wantFailure(t, alice.request("Conversation.create", "", map[string]any{"id": convID, "distinct": true,
			"participants": []string{"layer:///identities/bob"}, "metadata": map[string]any{"a": "1"}}), "id_in_use")
		if d["data"].(map[string]any)["id"] != convID {
			t.Fatalf("id_in_use without the conversation: %v", d)
		}
		other := "layer:///conversations/" + uuid.NewString()
		if r := bob.request("Conversation.create", "", map[string]any{"id": other, "distinct": true,
			"participants": []string{"layer:///identities/alice", "layer:///identities/bob"}}); r["success"] != true || r["data"].(map[string]any)["id"] != convID {
			t.Fatalf("distinct conversation found: %v", r)
		}
		d = wantFailure(t, bob.request("Conversation.create", "", map[string]any{"id": other, "distinct": true,
			"participants": []string{"layer:///identities/alice", "layer:///identities/bob"}, "metadata": map[string]any{"a": "2"}}), "conflict")
		if d["data"].(map[string]any)["id"] != convID {
			t.Fatalf("conflict without the conversation: %v", d)
		}

		msgID := "layer:///messages/" + uuid.NewString()
		r = alice.request("Message.create", convID, map[string]any{"id": msgID, "parts": textPart("hi bob")})
		if r["success"] != true || r["data"].(map[string]any)["id"] != msgID {
			t.Fatalf("Message.create: %v", r)
		}
		for _, c := range []struct {
			w      *wsClient
			unread bool
		}{{alice, false}, {bob, true}} {
			m := c.w.until(isChange("create", msgID))["body"].(map[string]any)["data"].(map[string]any)
			if m["is_unread"] != c.unread || m["conversation"].(map[string]any)["id"] != convID {
				t.Fatalf("message as one participant sees it (unread %v): %v", c.unread, m)
			}
			up := c.w.until(isChange("update", convID))["body"].(map[string]any)["data"].([]any)
			last := up[0].(map[string]any)
			if last["property"] != "last_message" || last["id"] != msgID || up[1].(map[string]any)["property"] != "unread_message_count" {
				t.Fatalf("conversation update: %v", up)
			}
		}
		d = wantFailure(t, alice.request("Message.create", convID, map[string]any{"id": msgID, "parts": textPart("hi bob")}), "id_in_use")
		if d["data"].(map[string]any)["id"] != msgID {
			t.Fatalf("id_in_use without the message: %v", d)
		}

		if err := a.Service.PostReceipt(context.Background(), a.AppID, "bob", msgID, "read"); err != nil {
			t.Fatal(err)
		}
		up := alice.until(isChange("update", msgID))["body"].(map[string]any)["data"].([]any)[0].(map[string]any)
		if up["property"] != `recipient_status.layer:///identities/bob` || up["value"] != "read" {
			t.Fatalf("receipt update: %v", up)
		}

		bob.sendPacket("signal", map[string]any{"type": "typing_indicator", "object": map[string]any{"id": convID},
			"data": map[string]any{"action": "started"}})
		sig := alice.until(func(p map[string]any) bool { return p["type"] == "signal" })["body"].(map[string]any)
		sd := sig["data"].(map[string]any)
		if sd["action"] != "started" || sd["sender"].(map[string]any)["id"] != "layer:///identities/bob" ||
			sig["object"].(map[string]any)["id"] != convID {
			t.Fatalf("typing signal: %v", sig)
		}
	})
}

// A client that reconnects replays what it missed from the timestamp of
// the last packet it saw: every change once, then the response.
func TestClientSocketReplay(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		bobToken := p.startSession(t, "bob", nil)
		alice := dialSocket(t, a.URL, p.startSession(t, "alice", nil))
		bob := dialSocket(t, a.URL, bobToken)
		convID := "layer:///conversations/" + uuid.NewString()
		alice.request("Conversation.create", "", map[string]any{"id": convID, "participants": []string{"layer:///identities/bob"}})
		last := bob.until(isChange("create", convID))["timestamp"].(string)
		bob.conn.Close(websocket.StatusNormalClosure, "")
		a.advance(5 * time.Second)
		var missed []string
		for i := range 3 {
			id := "layer:///messages/" + uuid.NewString()
			if r := alice.request("Message.create", convID, map[string]any{"id": id, "parts": textPart(fmt.Sprint(i))}); r["success"] != true {
				t.Fatal(r)
			}
			missed = append(missed, id)
		}
		bob = dialSocket(t, a.URL, bobToken)
		id := "r1"
		bob.sendPacket("request", map[string]any{"method": "Event.replay", "request_id": id, "data": map[string]any{"from_timestamp": last}})
		seen := map[string]int{}
		for {
			pk := bob.packet()
			if isResponse(pk, id) {
				if pk["body"].(map[string]any)["success"] != true {
					t.Fatalf("replay: %v", pk)
				}
				break
			}
			b := pk["body"].(map[string]any)
			if b["operation"] == "create" {
				seen[b["object"].(map[string]any)["id"].(string)]++
			}
		}
		for _, m := range missed {
			if seen[m] != 1 {
				t.Fatalf("message %s replayed %d times; replayed %v", m, seen[m], seen)
			}
		}
	})
}

// A socket closes when its session ends: deleted, revoked, or expired.
func TestClientSocketClosesWithItsSession(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		closed := func(w *wsClient) {
			t.Helper()
			deadline := time.After(waitTimeout)
			for {
				select {
				case _, ok := <-w.packets:
					if !ok {
						return
					}
				case <-deadline:
					t.Fatal("socket still open")
				}
			}
		}
		token := p.startSession(t, "alice", nil)
		w := dialSocket(t, a.URL, token)
		a.doAs("", "DELETE", "//sessions/"+token, nil, "Authorization", `Layer session-token="`+token+`"`).must(t, 204)
		closed(w)

		w = dialSocket(t, a.URL, p.startSession(t, "alice", nil))
		a.advance(time.Second)
		a.do("DELETE", "/users/alice/sessions", nil).must(t, 204)
		closed(w)
	})
}

// On PostgreSQL, sockets on two nodes hear each other's changes and
// signals.
func TestClientSocketsAcrossNodes(t *testing.T) {
	t.Parallel()
	url := enginetest.PostgresURL(t)
	a := startAPI(t, openNode(t, url))
	b := startAPI(t, openNode(t, url))
	p := newIdentityProvider(t, a)
	alice := dialSocket(t, a.URL, p.startSession(t, "alice", nil))
	bob := dialSocket(t, b.URL, p.startSession(t, "bob", nil))
	convID := "layer:///conversations/" + uuid.NewString()
	alice.request("Conversation.create", "", map[string]any{"id": convID, "participants": []string{"layer:///identities/bob"}})
	bob.until(isChange("create", convID))
	msgID := "layer:///messages/" + uuid.NewString()
	start := time.Now()
	alice.request("Message.create", convID, map[string]any{"id": msgID, "parts": textPart("hi")})
	bob.until(isChange("create", msgID))
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("the other node's socket heard of the message after %s", d)
	}
	bob.sendPacket("signal", map[string]any{"type": "typing_indicator", "object": map[string]any{"id": convID},
		"data": map[string]any{"action": "started"}})
	sig := alice.until(func(p map[string]any) bool { return p["type"] == "signal" })["body"].(map[string]any)
	if sig["data"].(map[string]any)["sender"].(map[string]any)["user_id"] != "bob" {
		t.Fatalf("signal from the other node: %v", sig)
	}
}

// A device that stops reading holds up no other socket, and loses
// nothing: what its connection did not take waits for it, and reaches it
// whole and in order once it reads again.
func TestClientSocketOfASlowReader(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice, bob := startSession(t, a, "alice"), startSession(t, a, "bob")
		fast := dialSocket(t, a.URL, alice.token)
		fast.conn.SetReadLimit(1 << 20)
		// Bob's device reads nothing for now, through a receive buffer
		// so small that the server's writes to it soon stop being taken.
		dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
			return err
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		slow, _, err := websocket.Dial(ctx, strings.Replace(a.URL, "http://", "ws://", 1)+"/?session_token="+bob.token,
			&websocket.DialOptions{Subprotocols: []string{"layer-2.0"},
				HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}})
		if err != nil {
			t.Fatal(err)
		}
		slow.SetReadLimit(1 << 20)
		t.Cleanup(func() { slow.CloseNow() })

		conv := alice.do("POST", "conversations", map[string]any{"participants": []string{"bob"}}).must(t, 201).Map(t)["id"].(string)
		convPath := "conversations/" + strings.TrimPrefix(conv, "layer:///conversations/")
		fast.until(isChange("create", conv))
		// Some 8 MB of packets (each message is in its create and in its
		// conversation's update), more than the connection takes while
		// bob's device reads nothing (Linux lets a socket's send buffer
		// grow to 4 MB); alice's socket gets each message as it is sent
		// all the same.
		const messages = 64
		// Bob's device starts reading once every message is sent, or
		// after 5 s: a peer that takes nothing for writeTimeout (10 s) is
		// dropped, and on a loaded machine the sending takes longer.
		startReading := make(chan struct{})
		var startOnce sync.Once
		time.AfterFunc(5*time.Second, func() { startOnce.Do(func() { close(startReading) }) })
		type read struct {
			ids []string
			err error
		}
		done := make(chan read, 1)
		go func() {
			<-startReading
			var r read
			counter := -1
			readCtx, cancelRead := context.WithTimeout(context.Background(), time.Minute)
			defer cancelRead()
			for len(r.ids) < messages {
				_, b, err := slow.Read(readCtx)
				if err != nil {
					r.err = fmt.Errorf("bob's device read %d of %d messages: %w", len(r.ids), messages, err)
					break
				}
				var p struct {
					Counter int
					Body    struct {
						Operation string
						Object    struct{ ID, Type string }
					}
				}
				if err := json.Unmarshal(b, &p); err != nil {
					r.err = fmt.Errorf("packet %s: %w", b, err)
					break
				}
				if p.Counter != counter+1 {
					r.err = fmt.Errorf("counter %d after %d", p.Counter, counter)
					break
				}
				counter = p.Counter
				if p.Body.Operation == "create" && p.Body.Object.Type == "Message" {
					r.ids = append(r.ids, p.Body.Object.ID)
				}
			}
			done <- r
		}()
		var ids []string
		for i := range messages {
			var parts []any
			for range 32 {
				parts = append(parts, textPart(fmt.Sprintf("message %d %s", i, strings.Repeat("x", 1900)))...)
			}
			id := alice.do("POST", convPath+"/messages", map[string]any{"parts": parts}).must(t, 201).Map(t)["id"].(string)
			fast.until(isChange("create", id))
			ids = append(ids, id)
		}
		startOnce.Do(func() { close(startReading) })
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		got := r.ids
		if !slices.Equal(got, ids) {
			t.Fatalf("bob's device got the messages %v, want %v", got, ids)
		}
	})
}
