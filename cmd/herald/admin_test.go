package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// hookReceiver is a webhook receiver on 127.0.0.1: it echoes verification
// challenges and records the type of every event POSTed to it.
type hookReceiver struct {
	URL   string
	mu    sync.Mutex
	types []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, r.URL.Query().Get("verification_challenge"))
			return
		}
		io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.types = append(rc.types, r.Header.Get("layer-webhook-event-type"))
		rc.mu.Unlock()
		w.Header().Set("X-Receiver", "test")
		io.WriteString(w, `{"received":true}`)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

func (rc *hookReceiver) received() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.types...)
}

// heraldJSON runs a command with --json and decodes what it prints.
func heraldJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, heraldBinary, append(args, "--json")...).Output()
	if err != nil {
		t.Fatalf("herald %s --json: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("herald %s --json: %v", strings.Join(args, " "), err)
	}
}

// waitFor polls cond for up to 15 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
	}
}

// Every command of the operator's day, run against a running server and
// on its data, on both engines: tables for people, JSON for scripts, the
// same JSON whichever way it ran.
func TestOperatorCommands(t *testing.T) {
	t.Setenv("HERALD_ALLOW_TARGETS", loopbackTargets)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			data := []string{"--data", dir}
			if engine == "postgres" {
				data = append(data, "--db", pgtest.URL(t))
			}
			p := startHerald(t, dir, data[2:]...)
			creds := readCredentials(t, dir)
			server := []string{"--server", p.URL, "--token", creds.Token, "--app", creds.AppID}
			for _, mode := range []struct {
				name  string
				flags []string
			}{{"server", server}, {"data", data}} {
				t.Run(mode.name, func(t *testing.T) { operatorDay(t, mode.flags, server, data, p.URL, creds) })
			}
		})
	}
}

func operatorDay(t *testing.T, flags, server, data []string, url string, creds credentials) {
	herald := func(args ...string) []string { return append(append([]string{}, args...), flags...) }
	rc := newHookReceiver(t)

	var wh webhookView
	heraldJSON(t, &wh, herald("webhooks", "create", "--url", rc.URL, "--events", "message.sent,conversation.created",
		"--secret", "s3cret", "--retry-schedule", "1s,5s")...)
	if wh.ID == "" || strings.Contains(wh.ID, "/") || !strings.HasPrefix(wh.SigningSecret, "whsec_") ||
		strings.Join(wh.Events, ",") != "message.sent,conversation.created" || len(wh.RetrySchedule) != 2 {
		t.Fatalf("webhooks create printed %+v", wh)
	}
	waitFor(t, "the webhook to be verified", func() bool {
		var got webhookView
		heraldJSON(t, &got, herald("webhooks", "show", wh.ID)...)
		return got.Status == "active"
	})
	// The same webhook, the same JSON, whichever way it is read.
	if a, b := heraldText(t, append([]string{"webhooks", "show", wh.ID, "--json"}, server...)...),
		heraldText(t, append([]string{"webhooks", "show", wh.ID, "--json"}, data...)...); a != b {
		t.Fatalf("webhooks show through the server:\n%s\non the data:\n%s", a, b)
	}
	table := heraldText(t, herald("webhooks", "list")...)
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) < 2 ||
		!strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "STATUS") || !strings.Contains(table, wh.ID+"  active") {
		t.Fatalf("webhooks list printed:\n%s", table)
	}

	var changed webhookView
	heraldJSON(t, &changed, herald("webhooks", "update", wh.ID, "--retry-schedule", "2s", "--timeout", "3s", "--config", `{"env":"test"}`)...)
	var config bytes.Buffer
	json.Compact(&config, changed.Config)
	if config.String() != `{"env":"test"}` || changed.TimeoutSeconds != 3 || len(changed.RetrySchedule) != 1 ||
		changed.RetrySchedule[0] != 2 || changed.TargetURL != rc.URL || changed.Status != "active" {
		t.Fatalf("webhooks update printed %+v", changed)
	}

	var test testView
	heraldJSON(t, &test, herald("webhooks", "test", wh.ID)...)
	if !test.Delivered || test.StatusCode != 200 || test.EventType != "webhook.test" || test.ResponseBody != `{"received":true}` ||
		test.ResponseHeaders.Get("X-Receiver") != "test" || test.RequestHeaders.Get("Webhook-Signature") == "" {
		t.Fatalf("webhooks test printed %+v", test)
	}
	if got := rc.received(); len(got) != 1 || got[0] != "webhook.test" {
		t.Fatalf("the receiver got %v", got)
	}
	if out := heraldText(t, herald("webhooks", "test", wh.ID)...); !strings.Contains(out, "Delivered:") || !strings.Contains(out, "yes") {
		t.Fatalf("webhooks test printed:\n%s", out)
	}

	var conv struct {
		ID string `json:"id"`
	}
	if status, err := call(url, creds, "POST", "/conversations", map[string]any{"participants": []string{"alice"}, "distinct": false}, &conv); err != nil || status != 201 {
		t.Fatalf("creating a conversation: %d %v", status, err)
	}
	var ds []*deliveryView
	waitFor(t, "the conversation's delivery", func() bool {
		heraldJSON(t, &ds, herald("deliveries", "list", wh.ID, "--conversation", conv.ID, "--status", "delivered")...)
		return len(ds) == 1
	})
	if ds[0].EventType != "conversation.created" || ds[0].Attempts != 1 {
		t.Fatalf("deliveries list printed %+v", ds[0])
	}
	for _, filter := range [][]string{{"--status", "failed"}, {"--event-type", "message.sent"}, {"--until", "1h"}} {
		var none []*deliveryView
		heraldJSON(t, &none, herald(append([]string{"deliveries", "list", wh.ID}, filter...)...)...)
		if len(none) != 0 {
			t.Fatalf("deliveries list %v printed %+v", filter, none)
		}
	}
	var d deliveryView
	heraldJSON(t, &d, herald("deliveries", "show", wh.ID, ds[0].ID)...)
	if len(d.AttemptLog) != 1 || d.AttemptLog[0].StatusCode != 200 || d.AttemptLog[0].ResponseBody != `{"received":true}` ||
		!strings.Contains(string(d.Payload), conv.ID) {
		t.Fatalf("deliveries show printed %+v", d)
	}
	if out := heraldText(t, herald("deliveries", "show", wh.ID, ds[0].ID)...); !strings.Contains(out, "Attempt 1:") ||
		!strings.Contains(out, "X-Receiver: test") {
		t.Fatalf("deliveries show printed:\n%s", out)
	}
	var resent deliveryView
	heraldJSON(t, &resent, herald("deliveries", "resend", wh.ID, ds[0].ID)...)
	if resent.ID != ds[0].ID || resent.Status != "pending" {
		t.Fatalf("deliveries resend printed %+v", resent)
	}
	waitFor(t, "the resent delivery", func() bool {
		return strings.Count(strings.Join(rc.received(), " "), "conversation.created") == 2
	})
	var replay replayView
	heraldJSON(t, &replay, herald("deliveries", "replay", wh.ID, "--since", "1h")...)
	if replay.Queued+replay.AlreadyQueued < 1 {
		t.Fatalf("deliveries replay printed %+v", replay)
	}

	var events []*eventView
	heraldJSON(t, &events, herald("events", "list", "--limit", "1000")...)
	if len(events) == 0 || events[len(events)-1].Type != "conversation.created" {
		t.Fatalf("events list printed %+v", events)
	}
	last := events[len(events)-1]
	tail := heraldText(t, herald("events", "tail", "--from-start", "--count", "1", "--json")...)
	var tailed eventView
	if err := json.Unmarshal([]byte(tail), &tailed); err != nil || tailed.ID != events[0].ID {
		t.Fatalf("events tail printed %q (%v)", tail, err)
	}
	// A tail from the end prints what comes after it starts.
	cmd := exec.Command(heraldBinary, herald("events", "tail", "--count", "1", "--interval", "100ms")...)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	if status, err := call(url, creds, "POST", "/conversations", map[string]any{"participants": []string{"bob"}, "distinct": false}, nil); err != nil || status != 201 {
		t.Fatalf("creating a conversation: %d %v", status, err)
	}
	select {
	case err := <-done:
		if err != nil || !strings.HasPrefix(out.String(), "ID") || !strings.Contains(out.String(), "conversation.created") ||
			strings.Contains(out.String(), last.ID) {
			t.Fatalf("events tail: %v, printed:\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("events tail printed nothing new in 15s:\n%s", out.String())
	}

	var rotated webhookView
	heraldJSON(t, &rotated, herald("webhooks", "rotate-secret", wh.ID, "--grace", "0s")...)
	if !strings.HasPrefix(rotated.SigningSecret, "whsec_") || rotated.SigningSecret == wh.SigningSecret {
		t.Fatalf("webhooks rotate-secret printed %+v", rotated)
	}
	var paused webhookView
	heraldJSON(t, &paused, herald("webhooks", "deactivate", wh.ID)...)
	if paused.Status != "inactive" {
		t.Fatalf("webhooks deactivate printed %+v", paused)
	}
	heraldText(t, herald("webhooks", "activate", wh.ID)...)
	waitFor(t, "the webhook to be active again", func() bool {
		var got webhookView
		heraldJSON(t, &got, herald("webhooks", "show", wh.ID)...)
		return got.Status == "active"
	})

	var token tokenView
	heraldJSON(t, &token, herald("tokens", "create", "--name", "ci")...)
	if token.AppID != creds.AppID || token.Name != "ci" || !strings.HasPrefix(token.Token, "hrld_") {
		t.Fatalf("tokens create printed %+v", token)
	}
	if out := heraldText(t, herald("tokens", "list")...); !strings.Contains(out, token.ID+"  ci") {
		t.Fatalf("tokens list printed:\n%s", out)
	}
	if out := heraldText(t, herald("tokens", "revoke", token.ID)...); !strings.Contains(out, "Revoked the token "+token.ID+" (ci)") {
		t.Fatalf("tokens revoke printed:\n%s", out)
	}

	if out := heraldText(t, herald("webhooks", "delete", wh.ID)...); !strings.Contains(out, "Deleted the webhook "+wh.ID) {
		t.Fatalf("webhooks delete printed:\n%s", out)
	}
	if out := heraldFails(t, herald("webhooks", "show", wh.ID)...); !strings.Contains(out, "No webhook") {
		t.Fatalf("webhooks show of a deleted webhook said %q", out)
	}
}

// Errors: one line on standard error, a non-zero exit, and what to do.
func TestOperatorCommandErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "nothing-here")
	oneLine := func(args []string, env []string, want string) {
		t.Helper()
		cmd := exec.Command(heraldBinary, args...)
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		go func() { <-ctx.Done(); cmd.Process.Kill() }()
		err := cmd.Run()
		if err == nil || stdout.Len() != 0 {
			t.Fatalf("herald %v: %v, printed %q", args, err, stdout.String())
		}
		msg := strings.TrimSuffix(stderr.String(), "\n")
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "Error: ") || !strings.Contains(msg, want) {
			t.Fatalf("herald %v said %q, want one line with %q", args, msg, want)
		}
	}
	for _, cmd := range [][]string{{"apps", "list"}, {"tokens", "list"}, {"webhooks", "list"}, {"events", "tail"}, {"keys", "list", "app"}} {
		oneLine(append(cmd, "--data", missing), nil, "no Herald database at "+filepath.Join(missing, "herald.db"))
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a refused command created the data directory: %v", err)
	}
	oneLine([]string{"webhooks", "list", "--db", pgtest.URL(t)}, nil, "has no Herald schema")

	p := startHerald(t, dir)
	creds := readCredentials(t, dir)
	server := []string{"--server", p.URL, "--token", creds.Token}
	oneLine(append([]string{"apps", "list"}, server...), nil, "works on the data directory only")
	oneLine(append([]string{"webhooks", "list"}, server...), nil, "give --app APP_ID")
	oneLine([]string{"webhooks", "list", "--server", p.URL, "--app", creds.AppID}, nil, "--server needs --token")
	oneLine([]string{"webhooks", "list", "--server", p.URL, "--app", creds.AppID, "--token", "hrld_wrong"}, nil, "check --token")
	oneLine([]string{"webhooks", "list", "--server", "localhost:8080", "--app", creds.AppID, "--token", "x"}, nil, "not the root URL of a Herald server")
	oneLine([]string{"webhooks", "list", "--app", creds.AppID}, []string{"HERALD_SERVER=" + p.URL + "/apps", "HERALD_TOKEN=x"}, "env HERALD_SERVER")
	oneLine(append([]string{"webhooks", "list", "--data", dir}, server...), nil, "not both")
	oneLine(append([]string{"webhooks", "show"}, server...), nil, "takes WEBHOOK_ID")
	oneLine(append([]string{"webhooks", "update", "x", "--app", creds.AppID}, server...), nil, "changes nothing")
	oneLine(append([]string{"webhooks", "create", "--url", "http://127.0.0.1:1", "--app", creds.AppID}, server...), nil, "needs --events")
	oneLine(append([]string{"webhooks", "create", "--url", "ftp://x", "--events", "message.sent", "--secret", "s", "--app", creds.AppID}, server...), nil, "target_url must be")
	oneLine(append([]string{"deliveries", "list", "x", "--since", "yesterday", "--app", creds.AppID}, server...), nil, "--since")
	oneLine(append([]string{"deliveries", "list", "x", "--limit", "0", "--app", creds.AppID}, server...), nil, "--limit")
	oneLine(append([]string{"events", "tail", "--interval", "1ms", "--app", creds.AppID}, server...), nil, "--interval")
	oneLine([]string{"webhooks", "list", "--data", dir}, []string{"HERALD_SYNC_FULL=yes"}, `HERALD_SYNC_FULL="yes" is not true or false`)
	oneLine([]string{"serve", "--data", dir}, []string{"HERALD_WORKERS=abc"}, `HERALD_WORKERS="abc" is not a whole number`)
	oneLine([]string{"serve", "--data", dir}, []string{"HERALD_RETENTION=30d"}, `HERALD_RETENTION="30d" is not a duration`)
	oneLine([]string{"serve", "--data", dir}, []string{"HERALD_RATE_LIMIT=fast"}, `HERALD_RATE_LIMIT="fast" is not a number`)
	oneLine([]string{"serve", "--data", dir}, []string{"HERALD_CONTENT_URL_TTL=1 hour"}, `HERALD_CONTENT_URL_TTL="1 hour"`)
	oneLine([]string{"serve", "--data", dir}, []string{"HERALD_MAX_CONTENT_BYTES=lots"}, "env HERALD_MAX_CONTENT_BYTES")
	oneLine([]string{"serve", "--data", dir, "--addr", "127.0.0.1:0"}, []string{"HERALD_DEBUG_ADDR=nowhere"}, "HERALD_DEBUG_ADDR")

	// A flag given wins over the environment's value, which is then not
	// read.
	heraldText(t, "tokens", "list", "--data", dir, "--sync-full=false")
	cmd := exec.Command(heraldBinary, "tokens", "list", "--data", dir, "--sync-full=false")
	cmd.Env = append(os.Environ(), "HERALD_SYNC_FULL=yes")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--sync-full given, HERALD_SYNC_FULL=yes: %v %s", err, out)
	}
}

// heraldText runs a command that must succeed within a minute and returns
// what it printed.
func heraldText(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, heraldBinary, args...).Output()
	if err != nil {
		t.Fatalf("herald %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
