package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// heraldBinary is built once for the tests that run Herald as a process.
var heraldBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-bin")
	if err != nil {
		panic(err)
	}
	heraldBinary = filepath.Join(dir, "herald")
	build := exec.Command("go", "build", "-o", heraldBinary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building herald:", err)
		os.Exit(1)
	}
	// Every Herald the tests start seals its secrets with this key, unless
	// a test says otherwise; PostgreSQL needs one.
	os.Setenv("HERALD_SECRET_KEY", testSecretKey)
	// The tests read the servers' logs as text lines; a pipe would get
	// JSON by default.
	os.Setenv("HERALD_LOG_FORMAT", "text")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running `herald serve`.
type process struct {
	cmd  *exec.Cmd
	URL  string
	logs *logBuffer
}

// logBuffer is a process's log, written as it runs and read meanwhile.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loopbackTargets exempts the tests' receivers, on 127.0.0.1, from the
// egress guard that keeps webhooks off internal addresses.
const loopbackTargets = "127.0.0.0/8,::1/128"

// startHerald runs `herald serve` on a free loopback port over dataDir, with
// loopback exempted and extra flags, and waits until it listens.
func startHerald(t *testing.T, dataDir string, flags ...string) *process {
	t.Helper()
	args := []string{"serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--allow-targets", loopbackTargets}
	return startProcess(t, exec.Command(heraldBinary, append(args, flags...)...))
}

// startProcess runs a command that serves Herald and waits until it
// listens.
func startProcess(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: &logBuffer{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.WriteString(line + "\n")
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("herald did not start; log:\n%s", p.logs)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return p
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

func readCredentials(t *testing.T, dataDir string) credentials {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var client = &http.Client{Timeout: 10 * time.Second}

// call calls the app's Layer-compatible API.
func call(base string, c credentials, method, path string, body any, out any) (int, error) {
	return request(method, base+"/apps/"+c.AppID+path, c.Token, body, out)
}

// request sends a JSON request with an app token and decodes a 2xx answer
// into out.
func request(method, url, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, err
		}
	}
	return res.StatusCode, nil
}

// TestKillDuringMessageStream kills Herald with SIGKILL while clients post
// messages, restarts it, and checks that every acknowledged message is there
// with exactly one message.sent event, and that no event exists without its
// message.
func TestKillDuringMessageStream(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	creds := readCredentials(t, dataDir)

	convIDs := createConversations(t, p.URL, creds, 4)
	acked := map[string]bool{} // message ids that got a 2xx, across rounds
	var mu sync.Mutex
	for round := range 3 {
		// Kill once a fair number of messages went through, while the
		// clients are still sending.
		p = streamThenKill(t, p, dataDir, creds, convIDs, 8, int64(200+100*round), func(id string) {
			mu.Lock()
			acked[id] = true
			mu.Unlock()
		}, nil)
	}

	// Every message in the store, per conversation.
	stored := map[string]bool{}
	for _, conv := range convIDs {
		from := ""
		for range 1000 {
			var page []struct{ ID string }
			path := "/conversations/" + conv + "/messages?page_size=500"
			if from != "" {
				path += "&from_id=" + from
			}
			if status, err := call(p.URL, creds, "GET", path, nil, &page); err != nil || status != 200 {
				t.Fatalf("listing messages: %d %v", status, err)
			}
			for _, m := range page {
				if stored[m.ID] {
					t.Fatalf("message %s listed twice", m.ID)
				}
				stored[m.ID] = true
			}
			if len(page) < 500 {
				break
			}
			from = localID(page[len(page)-1].ID)
		}
	}
	// Every message.sent event.
	sentEvents := map[string]int{}
	for _, e := range allEvents(t, p.URL, creds) {
		if e.Type == "message.sent" {
			sentEvents["layer:///messages/"+e.Data.Message.ID]++
		}
	}

	for id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged message %s is missing after the crash", id)
		}
	}
	for id := range stored {
		if n := sentEvents[id]; n != 1 {
			t.Errorf("message %s has %d message.sent events, want 1", id, n)
		}
	}
	for id := range sentEvents {
		if !stored[id] {
			t.Errorf("message.sent event for %s, which does not exist", id)
		}
	}
	t.Logf("%d messages acknowledged over 3 kills, %d stored (the rest were in flight)", len(acked), len(stored))
}

func localID(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// createConversations creates n conversations of alice with another user
// each, and returns their ids.
func createConversations(t *testing.T, base string, creds credentials, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		var c struct{ ID string }
		status, err := call(base, creds, "POST", "/conversations",
			map[string]any{"participants": []string{"alice", fmt.Sprintf("user-%d", i)}}, &c)
		if err != nil || status != 201 {
			t.Fatalf("creating conversation: %d %v", status, err)
		}
		ids = append(ids, localID(c.ID))
	}
	return ids
}

// streamThenKill has clients post messages to the conversations, round robin,
// until at least minAcked got a 2xx (or 20 s passed), then SIGKILLs Herald
// while they are still sending, and starts it again over the same data.
// onAck, when set, gets the id of every acknowledged message. The messages
// are sent by alice, or by sender when set; their texts are unique.
func streamThenKill(t *testing.T, p *process, dataDir string, creds credentials, convIDs []string,
	clients int, minAcked int64, onAck func(id string), sender map[string]string) *process {
	t.Helper()
	if sender == nil {
		sender = map[string]string{"user_id": "alice"}
	}
	run := time.Now().UnixNano()
	var acked atomic.Int64
	// What came back, for a failure to tell why nothing was acknowledged.
	var outcomesMu sync.Mutex
	outcomes := map[string]int{}
	outcome := func(o string) {
		outcomesMu.Lock()
		outcomes[o]++
		outcomesMu.Unlock()
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var m struct{ ID string }
				status, err := call(p.URL, creds, "POST", "/conversations/"+convIDs[(w+i)%len(convIDs)]+"/messages",
					map[string]any{"sender": sender,
						"parts": []map[string]string{{"mime_type": "text/plain", "body": fmt.Sprintf("%x w%d #%d", run, w, i)}}}, &m)
				if err != nil {
					outcome(err.Error())
					return // the server is gone
				}
				outcome(fmt.Sprint(status))
				if status == 201 {
					if onAck != nil {
						onAck(m.ID)
					}
					acked.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < minAcked && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	p.kill(t)
	close(stop)
	wg.Wait()
	if acked.Load() == 0 {
		t.Fatalf("no message was acknowledged before the kill; responses: %v", outcomes)
	}
	return startHerald(t, dataDir)
}

// loggedEvent is what the crash tests read of an event.
type loggedEvent struct {
	ID   string
	Type string
	Data struct {
		Message struct {
			ID             string
			ConversationID string `json:"conversation_id"`
			Parts          []struct{ Body string }
		}
		Conversation struct{ ID string }
	}
}

// allEvents reads the app's whole event log.
func allEvents(t *testing.T, base string, creds credentials) []loggedEvent {
	t.Helper()
	var out []loggedEvent
	after := ""
	for range 1000 {
		var page []loggedEvent
		path := "/events?limit=1000"
		if after != "" {
			path += "&after=" + after
		}
		if status, err := call(base, creds, "GET", path, nil, &page); err != nil || status != 200 {
			t.Fatalf("listing events: %d %v", status, err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		after = page[len(page)-1].ID
	}
	t.Fatal("the event log does not end")
	return nil
}
