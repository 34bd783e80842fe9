package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// forwarded is a request herald listen forwarded.
type forwarded struct {
	Path   string
	Header http.Header
	Body   []byte
}

// herald listen registers itself on a running server, verifies and prints
// each delivery, forwards it unchanged, and deletes its webhook on SIGINT.
func TestListen(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testListen(t) })
	t.Run("postgres", func(t *testing.T) { testListen(t, "--db", pgtest.URL(t)) })
}

func testListen(t *testing.T, flags ...string) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir, flags...)
	creds := readCredentials(t, dataDir)
	got := make(chan forwarded, 16)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- forwarded{r.URL.Path, r.Header.Clone(), b}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer target.Close()

	// The app and token come from the data directory's bootstrap.json.
	cmd := exec.Command(heraldBinary, "listen", "--data", dataDir, "--server", p.URL, "--format", "layer-3.0",
		"--events", "Message.created,Conversation.created", "--forward", target.URL+"/hooks", "--asymmetric-signature")
	out := &logBuffer{}
	lines := make(chan string, 1000)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(prefix string) string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("listen ended before %q; output:\n%s\nstderr: %s", prefix, out, &stderr)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("listen printed no %q; output:\n%s\nstderr: %s", prefix, out, &stderr)
			}
		}
	}
	waitLine("Ready.")

	var conv struct{ ID string }
	if status, err := call(p.URL, creds, "POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}}, &conv); err != nil || status != 201 {
		t.Fatalf("%d %v", status, err)
	}
	if status, err := call(p.URL, creds, "POST", "/conversations/"+localID(conv.ID)+"/messages", map[string]any{
		"sender": map[string]string{"user_id": "alice"},
		"parts":  []any{map[string]string{"mime_type": "text/plain", "body": "Hello from the test"}}}, nil); err != nil || status != 201 {
		t.Fatalf("%d %v", status, err)
	}

	created := waitLine("--> Conversation.created")
	sent := waitLine("--> Message.created")
	for _, l := range []string{created, sent} {
		if !strings.Contains(l, "conversation "+conv.ID) || !strings.HasSuffix(l, "signature ok (v1, v1a, layer)") {
			t.Errorf("listen printed %q", l)
		}
	}
	waitLine("    forwarded to " + target.URL + "/hooks: 202 Accepted")

	// Forwarded as Herald sent it: what Herald logged of the delivery, with
	// its signatures.
	var webhooks []struct{ ID string }
	if status, err := call(p.URL, creds, "GET", "/webhooks", nil, &webhooks); err != nil || status != 200 || len(webhooks) != 1 {
		t.Fatalf("webhooks: %d %v %v", status, err, webhooks)
	}
	for range 2 {
		var f forwarded
		select {
		case f = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("nothing was forwarded")
		}
		id := f.Header.Get("Webhook-Id")
		var logged struct {
			Payload json.RawMessage `json:"payload"`
		}
		if status, err := call(p.URL, creds, "GET", "/webhooks/"+localID(webhooks[0].ID)+"/deliveries/"+id, nil, &logged); err != nil || status != 200 {
			t.Fatalf("delivery %s: %d %v", id, status, err)
		}
		var compact bytes.Buffer
		json.Compact(&compact, logged.Payload)
		if f.Path != "/hooks" || !bytes.Equal(f.Body, compact.Bytes()) || f.Header.Get("Layer-Webhook-Signature") == "" ||
			!strings.Contains(f.Header.Get("Webhook-Signature"), "v1a,") || f.Header.Get("Content-Type") != "application/vnd.layer.webhooks+json; version=3.0" {
			t.Errorf("forwarded %s %v %s; Herald sent %s", f.Path, f.Header, f.Body, compact.Bytes())
		}
		if strings.Contains(f.Header.Get("Layer-Webhook-Event-Type"), "Message") && !bytes.Contains(f.Body, []byte("Hello from the test")) {
			t.Errorf("forwarded %s", f.Body)
		}
	}
	if !strings.Contains(out.String(), `"body": "Hello from the test"`) {
		t.Errorf("listen did not print the body indented:\n%s", out)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("listen exited with %v after SIGINT; stderr: %s", err, &stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("listen did not stop after SIGINT")
	}
	if !strings.Contains(out.String(), "Deleted webhook "+localID(webhooks[0].ID)) {
		t.Errorf("listen did not say it deleted its webhook:\n%s", out)
	}
	if status, err := call(p.URL, creds, "GET", "/webhooks", nil, &webhooks); err != nil || status != 200 || len(webhooks) != 0 {
		t.Fatalf("webhooks after listen: %d %v %v", status, err, webhooks)
	}
}

// A server that keeps webhooks off loopback addresses, and each wrong flag,
// fail with what to change.
func TestListenRefusals(t *testing.T) {
	dataDir := t.TempDir()
	guarded := startProcess(t, exec.Command(heraldBinary, "serve", "--data", dataDir, "--addr", "127.0.0.1:0"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--server", guarded.URL}, "start it with --allow-targets 127.0.0.0/8,::1/128"},
		{[]string{"--server", guarded.URL, "--token", "hrld_wrong"}, "the server refused the token (--token)"},
		{[]string{"--server", "ftp://example.com"}, "--server must be an absolute http:// or https:// URL"},
		{[]string{"--forward", "example.com/hooks"}, "--forward must be an absolute http:// or https:// URL"},
		{[]string{"--format", "layer-4.0"}, "--format must be one of layer-1.0, layer-2.0, layer-3.0, callbell"},
		{[]string{"--port", "65536"}, "--port must be from 0"},
		{[]string{"--format", "layer-3.0", "--events", "message.sent"}, `--events: "message.sent" is not an event of format layer-3.0`},
		{[]string{"--data", t.TempDir()}, "--app and --token are required"},
	} {
		args := append([]string{"--data", dataDir, "listen"}, c.args...)
		out, err := exec.Command(heraldBinary, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("herald %s: %v, %s; want %q", strings.Join(args, " "), err, out, c.want)
		}
	}
}
