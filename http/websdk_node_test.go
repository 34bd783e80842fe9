package http_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// layerWebSDKModulesVar names the node_modules directory holding Layer's Web
// SDK, npm layer-websdk pinned by testdata/layer-websdk/package.json;
// scripts/test installs it there with npm ci and sets it.
const layerWebSDKModulesVar = "HERALD_TEST_LAYER_WEBSDK"

// layerWebSDKModules returns where layer-websdk is installed and the node to
// run it with. Without them the test skips, except under CI, where it fails.
func layerWebSDKModules(t *testing.T) (modules, node string) {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("Layer's Web SDK cannot run: %s (scripts/test installs it)", why)
		}
		t.Skipf("skipping Layer's Web SDK: %s (scripts/test installs it)", why)
	}
	modules = os.Getenv(layerWebSDKModulesVar)
	if modules == "" {
		// Left by an earlier scripts/test or npm ci in testdata/layer-websdk.
		modules = filepath.Join("testdata", "layer-websdk", "node_modules")
		if _, err := os.Stat(filepath.Join(modules, "layer-websdk", "package.json")); err != nil {
			unavailable(layerWebSDKModulesVar + " is not set and testdata/layer-websdk has no node_modules")
		}
	}
	abs, err := filepath.Abs(modules)
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Version string }
	b, err := os.ReadFile(filepath.Join(abs, "layer-websdk", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil || pkg.Version != "3.4.18" {
		unavailable("no layer-websdk 3.4.18 in " + abs)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	return abs, node
}

// sdkMessage, sdkConversation and sdkEvent are what
// testdata/layer-websdk/user.js prints of the SDK's objects and events.
type sdkMessage struct {
	ID, Conversation, Sender string
	Position                 int
	IsRead                   bool
	RecipientStatus          map[string]string
	Parts                    []struct {
		MimeType   string
		Body       *string
		HasContent bool
		Size       int
	}
}

type sdkConversation struct {
	ID           string
	Participants []string
	Distinct     bool
	Metadata     map[string]any
	UnreadCount  int
	LastMessage  *sdkMessage
}

type sdkEvent struct {
	Event string
	Nonce string
	User  *struct {
		UserID, ID, DisplayName string
		IsFullIdentity          bool
	}
	State           string // socket
	Where           string
	Error           json.RawMessage
	Ref             string
	Result          string // conversation_sent
	Created         *sdkConversation
	TotalSize       int
	Conversations   []sdkConversation
	Messages        []sdkMessage
	Message         *sdkMessage
	Conversation    string
	ID              string // recipient_status, content
	RecipientStatus map[string]string
	Typing, Paused  []string
	Part            int
	Body            *string

	line string
}

// sdkUser is one Node process running the SDK for one user.
type sdkUser struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan *sdkEvent
	// backlog holds the events that no step has matched yet, in order;
	// log is every line the process printed, for failure messages.
	backlog []*sdkEvent
	logMu   sync.Mutex
	log     []string
	stderr  lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSDKUser starts user.js for user against a's Client API.
func startSDKUser(t *testing.T, a *api, node, modules, user string) *sdkUser {
	t.Helper()
	ws := "ws" + strings.TrimPrefix(a.URL, "http")
	u := &sdkUser{t: t, name: user, events: make(chan *sdkEvent, 1024)}
	u.cmd = exec.Command(node, filepath.Join("testdata", "layer-websdk", "user.js"))
	u.cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "HERALD_URL="+a.URL, "HERALD_WS_URL="+ws,
		// The form of app id Layer's dashboard gave apps, as an SDK
		// user configures it.
		"HERALD_APP_ID=layer:///apps/staging/"+a.AppID, "HERALD_USER="+user)
	u.cmd.Stderr = &u.stderr
	stdout, err := u.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if u.stdin, err = u.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		u.stdin.Close()
		u.cmd.Process.Kill()
		u.cmd.Wait()
	})
	go func() {
		defer close(u.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			line := sc.Text()
			u.logMu.Lock()
			u.log = append(u.log, line)
			u.logMu.Unlock()
			e := &sdkEvent{line: line}
			if err := json.Unmarshal(sc.Bytes(), e); err != nil {
				e = &sdkEvent{Event: "error", Where: "stdout", Error: json.RawMessage(fmt.Sprintf("%q", line)), line: line}
			}
			if e.Event == "trace" {
				continue
			}
			u.events <- e
		}
	}()
	return u
}

// do sends the SDK a command with its fields (names and values
// alternating).
func (u *sdkUser) do(cmd string, fields ...any) {
	c := map[string]any{"cmd": cmd}
	for i := 0; i+1 < len(fields); i += 2 {
		c[fields[i].(string)] = fields[i+1]
	}
	b, err := json.Marshal(c)
	if err != nil {
		u.t.Fatal(err)
	}
	// A write to a process that ended fails; the next await says so.
	u.stdin.Write(append(b, '\n'))
}

// await returns the first event, earlier or to come within timeout, that
// match accepts, and removes it from the backlog. An error the SDK reports
// meanwhile, or a timeout, fails the test naming the step, with what the SDK
// sent and received.
func (u *sdkUser) await(step string, timeout time.Duration, match func(e *sdkEvent) bool) *sdkEvent {
	u.t.Helper()
	for i, e := range u.backlog {
		if e.Event == "error" {
			u.fail(step, "the SDK reported an error: "+e.line)
		}
		if match(e) {
			u.backlog = slices.Delete(u.backlog, i, i+1)
			return e
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-u.events:
			if !ok {
				u.fail(step, "the SDK's process ended")
			}
			if e.Event == "error" {
				u.fail(step, "the SDK reported an error: "+e.line)
			}
			if match(e) {
				return e
			}
			u.backlog = append(u.backlog, e)
		case <-deadline:
			u.fail(step, fmt.Sprintf("nothing within %v", timeout))
		}
	}
}

// seen reports whether an event match accepts has arrived, without
// consuming it.
func (u *sdkUser) seen(match func(e *sdkEvent) bool) bool {
	for {
		select {
		case e, ok := <-u.events:
			if !ok {
				return slices.ContainsFunc(u.backlog, match)
			}
			u.backlog = append(u.backlog, e)
			continue
		default:
		}
		return slices.ContainsFunc(u.backlog, match)
	}
}

func (u *sdkUser) fail(step, why string) {
	u.t.Helper()
	u.logMu.Lock()
	log := u.log
	if len(log) > 60 {
		log = log[len(log)-60:]
	}
	trace := strings.Join(log, "\n")
	u.logMu.Unlock()
	stderr := u.stderr.String()
	if len(stderr) > 4000 {
		stderr = stderr[len(stderr)-4000:]
	}
	u.t.Fatalf("%s: %s: %s\n%s's last lines (what the SDK sent and received):\n%s\nstderr:\n%s",
		u.name, step, why, u.name, trace, stderr)
}

// answerChallenge awaits the SDK's challenge and answers it as the app
// does: with an identity token of its provider for the challenge's nonce.
func (u *sdkUser) answerChallenge(step string, p *identityProvider, displayName string) {
	u.t.Helper()
	e := u.await(step, 20*time.Second, is("challenge"))
	if e.Nonce == "" {
		u.fail(step, "the challenge has no nonce")
	}
	u.do("answer", "token", p.token(u.t, u.name, e.Nonce, map[string]any{"display_name": displayName}))
}

func is(event string) func(e *sdkEvent) bool {
	return func(e *sdkEvent) bool { return e.Event == event }
}

func socketIs(state string) func(e *sdkEvent) bool {
	return func(e *sdkEvent) bool { return e.Event == "socket" && e.State == state }
}

func messageIs(id string) func(e *sdkEvent) bool {
	return func(e *sdkEvent) bool { return e.Event == "message" && e.Message.ID == id }
}

func sentIs(ref string) func(e *sdkEvent) bool {
	return func(e *sdkEvent) bool { return e.Event == "message_sent" && e.Ref == ref }
}

func recipientStatusIs(message, identity, status string) func(e *sdkEvent) bool {
	return func(e *sdkEvent) bool {
		return e.Event == "recipient_status" && e.ID == message && e.RecipientStatus[identity] == status
	}
}

func typingIs(conv string, typing ...string) func(e *sdkEvent) bool {
	return func(e *sdkEvent) bool {
		return e.Event == "typing" && e.Conversation == conv && slices.Equal(e.Typing, typing) && len(e.Paused) == 0
	}
}

func sdkText(body string) map[string]any {
	return map[string]any{"mimeType": "text/plain", "body": body}
}

// TestLayerWebSDK runs Layer's own Web SDK, unmodified, in two Node
// processes, alice and bob, against Herald's Client API: they authenticate
// with identity tokens of the app's provider, load a conversation the
// server API made, talk live both ways, see each other type, get each
// other's receipts, share rich content, and alice, her session ended by the
// app, authenticates again and replays what she missed.
func TestLayerWebSDK(t *testing.T) {
	t.Parallel()
	modules, node := layerWebSDKModules(t)
	forEachEngine(t, func(t *testing.T, a *api) {
		const step = 20 * time.Second
		idp := newIdentityProvider(t, a)
		names := map[string]string{"alice": "Alice", "bob": "Bob"}

		// A conversation the app started with the server API, holding a
		// message from bob.
		seeded := "layer:///conversations/" + a.newConversation(t, "alice", "bob")
		first := a.sendText(t, localID(seeded), "bob", "Welcome, from the server API")["id"].(string)

		users := map[string]*sdkUser{}
		for _, name := range []string{"alice", "bob"} {
			u := startSDKUser(t, a, node, modules, name)
			users[name] = u
			u.do("connect")
		}
		alice, bob := users["alice"], users["bob"]
		for _, u := range []*sdkUser{alice, bob} {
			u.answerChallenge("authenticating (challenge)", idp, names[u.name])
			ready := u.await("authenticating (ready)", step, is("ready"))
			want := names[u.name]
			if ready.User == nil || ready.User.UserID != u.name || ready.User.ID != "layer:///identities/"+u.name ||
				ready.User.DisplayName != want || !ready.User.IsFullIdentity {
				u.fail("authenticating (ready)", fmt.Sprintf("client.user is %+v, want the full identity of %s named %s", ready.User, u.name, want))
			}
			u.await("opening the WebSocket", step, socketIs("open"))
			u.await("the WebSocket's first packet (counter 0)", step, socketIs("connected"))
		}

		// Both load their conversations: the seeded one, counted by
		// Layer-Count, with bob's message last.
		for _, u := range []*sdkUser{alice, bob} {
			u.do("query_conversations")
			got := u.await("loading conversations", step, func(e *sdkEvent) bool {
				return e.Event == "conversations" && len(e.Conversations) > 0
			})
			c := got.Conversations[0]
			if got.TotalSize != 1 || len(got.Conversations) != 1 || c.ID != seeded ||
				!slices.Equal(c.Participants, []string{"alice", "bob"}) ||
				c.LastMessage == nil || c.LastMessage.ID != first || c.LastMessage.Sender != "bob" {
				u.fail("loading conversations", fmt.Sprintf("the query holds %+v (totalSize %d), want %s with last message %s from bob, totalSize 1",
					got.Conversations, got.TotalSize, seeded, first))
			}
		}
		alice.do("query_messages", "conversation", seeded)
		msgs := alice.await("loading messages", step, func(e *sdkEvent) bool {
			return e.Event == "messages" && len(e.Messages) > 0
		})
		if m := msgs.Messages[0]; msgs.TotalSize != 1 || m.ID != first || len(m.Parts) != 1 || m.Parts[0].Body == nil ||
			*m.Parts[0].Body != "Welcome, from the server API" {
			alice.fail("loading messages", fmt.Sprintf("the query holds %+v (totalSize %d), want %s", msgs.Messages, msgs.TotalSize, first))
		}

		// Live messages both ways, with receipts back to the sender: bob's
		// SDK acknowledges delivery by itself, and read when he reads.
		alice.do("send", "ref", "hi", "conversation", seeded, "parts", []any{sdkText("Hi Bob")})
		hi := alice.await("sending a message", step, sentIs("hi")).Message.ID
		got := bob.await("receiving alice's message live", step, messageIs(hi)).Message
		if got.Sender != "alice" || got.Conversation != seeded || len(got.Parts) != 1 || got.Parts[0].Body == nil || *got.Parts[0].Body != "Hi Bob" {
			bob.fail("receiving alice's message live", fmt.Sprintf("got %+v", got))
		}
		alice.await("bob's delivery receipt", step, recipientStatusIs(hi, "layer:///identities/bob", "delivered"))
		bob.do("mark_read", "message", hi)
		alice.await("bob's read receipt", step, recipientStatusIs(hi, "layer:///identities/bob", "read"))

		bob.do("send", "ref", "hey", "conversation", seeded, "parts", []any{sdkText("Hi Alice")})
		hey := bob.await("sending a reply", step, sentIs("hey")).Message.ID
		alice.await("receiving bob's reply live", step, messageIs(hey))
		bob.await("alice's delivery receipt", step, recipientStatusIs(hey, "layer:///identities/alice", "delivered"))

		// Each sees the other typing, then stop.
		for _, pair := range [][2]*sdkUser{{bob, alice}, {alice, bob}} {
			typist, watcher := pair[0], pair[1]
			typist.do("typing", "conversation", seeded, "state", "started")
			watcher.await(typist.name+" typing", step, typingIs(seeded, typist.name))
			typist.do("typing", "conversation", seeded, "state", "finished")
			watcher.await(typist.name+" done typing", step, typingIs(seeded))
		}

		// A new conversation from the SDK, and its first message live.
		alice.do("create_conversation", "ref", "new", "participants", []string{"bob"}, "distinct", false,
			"metadata", map[string]any{"topic": "plans"})
		created := alice.await("creating a conversation", step, func(e *sdkEvent) bool {
			return e.Event == "conversation_sent" && e.Ref == "new"
		})
		if created.Result != "Created" || created.Created.ID == seeded {
			alice.fail("creating a conversation", fmt.Sprintf("result %s, conversation %+v", created.Result, created.Created))
		}
		alice.do("send", "ref", "plans", "conversation", created.Created.ID, "parts", []any{sdkText("Plans?")})
		plans := alice.await("sending in the new conversation", step, sentIs("plans")).Message.ID
		if got := bob.await("receiving in the new conversation", step, messageIs(plans)).Message; got.Conversation != created.Created.ID {
			bob.fail("receiving in the new conversation", fmt.Sprintf("got %+v", got))
		}

		// Rich content: a part over 2 KiB goes up as content, and bob
		// fetches the same bytes.
		long := strings.Repeat("A long story, told in many words. ", 100)
		alice.do("send", "ref", "long", "conversation", seeded, "parts", []any{sdkText(long), sdkText("(see above)")})
		story := alice.await("sending rich content", step, sentIs("long")).Message.ID
		got = bob.await("receiving rich content", step, messageIs(story)).Message
		// The part's size stays 0 in the SDK: it reads a part's own size,
		// which Layer's MessagePart never had (the content has it).
		if len(got.Parts) != 2 || !got.Parts[0].HasContent || deref(got.Parts[0].Body) != "" {
			bob.fail("receiving rich content", fmt.Sprintf("got parts %+v, want the first with content, not inline", got.Parts))
		}
		bob.do("fetch_content", "message", story, "part", 0)
		content := bob.await("fetching rich content", step, func(e *sdkEvent) bool { return e.Event == "content" && e.ID == story })
		if content.Body == nil || *content.Body != long {
			bob.fail("fetching rich content", fmt.Sprintf("got %d bytes, not the %d alice sent", len(deref(content.Body)), len(long)))
		}

		// The app ends alice's sessions: her socket closes, the SDK finds
		// its session invalid, is challenged, authenticates again and
		// replays what bob said meanwhile.
		a.do("DELETE", "/users/alice/sessions", nil).must(t, 204)
		alice.await("the socket of an ended session closing", step, socketIs("disconnected"))
		// Two messages: a replayed conversation carries the last one as its
		// last_message, only the replay of its own create brings the first.
		bob.do("send", "ref", "missed", "conversation", seeded, "parts", []any{sdkText("Still there?")})
		bob.do("send", "ref", "missed2", "conversation", seeded, "parts", []any{sdkText("Hello?")})
		missed := bob.await("sending while alice is away", step, sentIs("missed")).Message.ID
		missed2 := bob.await("sending while alice is away", step, sentIs("missed2")).Message.ID
		if alice.seen(socketIs("open")) {
			alice.fail("sending while alice is away", "alice reconnected before bob sent, so nothing was missed to replay")
		}
		alice.answerChallenge("the challenge after the session ended", idp, "Alice")
		alice.await("ready again", step, is("ready"))
		alice.await("reopening the WebSocket", step, socketIs("open"))
		alice.await("the reopened WebSocket's first packet (counter 0)", step, socketIs("connected"))
		alice.await("replaying missed events", step, is("replaying"))
		alice.await("receiving the missed messages", step, messageIs(missed))
		alice.await("receiving the missed messages", step, messageIs(missed2))
		alice.await("the replay's end (Event.replay, then Presence requests answered)", step, socketIs("synced"))

		// Her new session sends as the first did.
		alice.do("send", "ref", "back", "conversation", seeded, "parts", []any{sdkText("Back again")})
		back := alice.await("sending with the new session", step, sentIs("back")).Message.ID
		bob.await("receiving from alice's new session", step, messageIs(back))
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
