package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

func runHerald(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(heraldBinary, args...).Output()
	if err != nil {
		t.Fatalf("herald %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func TestAdminCommands(t *testing.T) {
	dataDir := t.TempDir()
	if v := runHerald(t, "version"); !strings.HasPrefix(v, "herald ") {
		t.Fatalf("version printed %q", v)
	}
	if h := runHerald(t, "help"); !strings.Contains(h, "serve") {
		t.Fatalf("help does not list serve: %s", h)
	}

	var app struct {
		AppID string `json:"app_id"`
		Name  string
		Token string
	}
	if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "apps", "create", "--json", "shop")), &app); err != nil {
		t.Fatal(err)
	}
	if app.AppID == "" || app.Name != "shop" || !strings.HasPrefix(app.Token, "hrld_") {
		t.Fatalf("apps create printed %+v", app)
	}
	var tok struct {
		AppID string `json:"app_id"`
		Token string
	}
	if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "tokens", "create", "--json", app.AppID)), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.AppID != app.AppID || tok.Token == app.Token || !strings.HasPrefix(tok.Token, "hrld_") {
		t.Fatalf("tokens create printed %+v", tok)
	}
	if err := exec.Command(heraldBinary, "--data", dataDir, "tokens", "create", "--json", "no-such-app").Run(); err == nil {
		t.Fatal("tokens create for a missing app succeeded")
	}

	// Both tokens work against a server on that data directory, and the
	// server creates no default app when apps exist.
	p := startHerald(t, dataDir)
	for _, token := range []string{app.Token, tok.Token} {
		status, err := call(p.URL, credentials{AppID: app.AppID, Token: token}, "GET", "/conversations", nil, nil)
		if err != nil || status != 200 {
			t.Fatalf("token of apps create / tokens create: %d %v", status, err)
		}
	}
	if status, _ := call(p.URL, credentials{AppID: app.AppID, Token: "hrld_wrong"}, "GET", "/conversations", nil, nil); status != 401 {
		t.Fatalf("wrong token: status %d, want 401", status)
	}
}

func TestGracefulShutdown(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	creds := readCredentials(t, dataDir)
	if status, err := call(p.URL, creds, "POST", "/conversations", map[string]any{"participants": []string{"a"}}, nil); err != nil || status != 201 {
		t.Fatalf("%d %v", status, err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("herald exited with %v after SIGTERM; log:\n%s", err, p.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("herald did not stop after SIGTERM")
	}
	// The same data serves again, with the same credentials.
	p = startHerald(t, dataDir)
	var list []any
	if status, err := call(p.URL, creds, "GET", "/conversations", nil, &list); err != nil || status != 200 || len(list) != 1 {
		t.Fatalf("after restart: %d %v %d conversations", status, err, len(list))
	}
}

// herald migrate brings either engine's schema up to date without serving,
// and refuses an address that is not PostgreSQL's.
func TestMigrate(t *testing.T) {
	dataDir := t.TempDir()
	// It says what it did: the first run migrates, the second finds
	// nothing to do.
	for _, want := range []string{"Migrated the database schema from version 0 to ", "already up to date, at version "} {
		if out := runHerald(t, "--data", dataDir, "migrate"); !strings.Contains(out, want) {
			t.Fatalf("migrate on SQLite printed %q, want %q", out, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "herald.db")); err != nil {
		t.Fatalf("migrate created no database: %v", err)
	}
	out, err := exec.Command(heraldBinary, "--db", "mysql://localhost/herald", "migrate").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a postgres:// URL") {
		t.Fatalf("migrate with a MySQL URL: %v, %s", err, out)
	}
	db := pgtest.URL(t)
	for _, want := range []string{"Migrated the database schema from version 0 to ", "already up to date, at version "} {
		if out := runHerald(t, "--db", db, "migrate"); !strings.Contains(out, want) {
			t.Fatalf("migrate on PostgreSQL printed %q, want %q", out, want)
		}
	}
	// A node serves the migrated database.
	p := startHerald(t, t.TempDir(), "--db", db)
	if status, err := request("GET", p.URL+"/apps/none/conversations", "hrld_none", nil, nil); err != nil || status != 401 {
		t.Fatalf("serving the migrated database: %d %v", status, err)
	}
}

// herald bench runs end to end and accounts for every message: all
// delivered once to each webhook, signatures verified with each webhook's
// own secret.
func TestBench(t *testing.T) {
	out := runHerald(t, "bench", "--count", "300", "--clients", "4", "--conversations", "4", "--webhooks", "2",
		"--ceiling-duration", "200ms", "--json")
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench printed %q: %v", out, err)
	}
	if r.Messages != 300 || r.Delivered != 600 || r.Missing != 0 || r.Duplicates != 0 || r.BadSignatures != 0 {
		t.Fatalf("bench: %+v", r)
	}
	if r.LatencyMS.P50 <= 0 || r.LatencyMS.Max < r.LatencyMS.P99 || r.ReceiverCeiling <= 0 || r.PeakRSSMB <= 0 || r.HeraldCPUSeconds <= 0 {
		t.Fatalf("bench measured nothing: %+v", r)
	}
}

// herald bench on a PostgreSQL database that already has apps (a second
// run on it) makes an app of its own there: no bootstrap is written then.
func TestBenchTwiceOnOneDatabase(t *testing.T) {
	db := pgtest.URL(t)
	for run := range 2 {
		out := runHerald(t, "bench", "--db", db, "--count", "50", "--clients", "2", "--ceiling-duration", "100ms", "--json")
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("bench run %d printed %q: %v", run+1, out, err)
		}
		if r.Messages != 50 || r.Delivered != 50 || r.Missing != 0 {
			t.Fatalf("bench run %d: %+v", run+1, r)
		}
	}
}

// The receiver finds the number the bench gave a message in its body.
func TestBenchNumber(t *testing.T) {
	for body, want := range map[string]string{
		`{"parts":[{"body":"bench-1234"}]}`:    "1234",
		`{"parts":[{"body":"bench-7"}],"x":1}`: "7",
		`{"parts":[{"body":"bench-"}]}`:        "",
		`{"parts":[{"body":"other"}]}`:         "",
	} {
		if got := benchNumber([]byte(body)); got != want {
			t.Errorf("benchNumber(%s) = %q, want %q", body, got, want)
		}
	}
}

// The receiver finds the event id wherever the payload puts its "event".
func TestBenchEventID(t *testing.T) {
	for body, want := range map[string]string{
		`{"event":{"type":"message.sent","id":"e1"},"message":{"id":"m"}}`:  "e1",
		`{"message":{"id":"m","parts":[{"body":"x"}]},"event":{"id":"e2"}}`: "e2",
		`{"message":{"id":"m"}}`: "",
		`not json`:               "",
	} {
		if got := eventID([]byte(body)); got != want {
			t.Errorf("eventID(%s) = %q, want %q", body, got, want)
		}
	}
}

// serve refuses worker caps and attempt timeouts that make no sense before
// it opens anything.
func TestServeRefusesBadDeliveryLimits(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--app-workers", "-1"}, "--app-workers and --webhook-workers are numbers of attempts"},
		{[]string{"--webhook-workers", "-3"}, "--app-workers and --webhook-workers are numbers of attempts"},
		{[]string{"--max-attempt-timeout", "100ms"}, "--max-attempt-timeout: 100ms is too short"},
		{[]string{"--max-attempt-timeout", "2s", "--min-webhook-timeout", "3s"}, "--min-webhook-timeout (3s) is above --max-attempt-timeout (2s)"},
	} {
		dataDir := filepath.Join(t.TempDir(), "data")
		args := append([]string{"--data", dataDir, "serve", "--addr", "127.0.0.1:0"}, c.args...)
		// A server that accepts them serves until killed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, heraldBinary, args...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("herald %s: %v, %s; want an error saying %q", strings.Join(c.args, " "), err, out, c.want)
		}
		if _, err := os.Stat(dataDir); err == nil {
			t.Errorf("herald %s created its data directory", strings.Join(c.args, " "))
		}
	}
}

// --allow-targets and HERALD_ALLOW_TARGETS: an invalid range stops the
// start and is named; the start log says which ranges are exempted; without
// an exemption, a webhook to a loopback receiver is refused.
func TestAllowTargets(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		bad  string
	}{
		{[]string{"--allow-targets", "127.0.0.0/8,10.0.0.0/33"}, "", "10.0.0.0/33"},
		{nil, "HERALD_ALLOW_TARGETS=localhost", "localhost"},
	} {
		// A server that starts anyway is stopped, and the test fails.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, heraldBinary, append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, c.args...)...)
		if c.env != "" {
			cmd.Env = append(os.Environ(), c.env)
		}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--allow-targets") || !strings.Contains(string(out), `"`+c.bad+`"`) {
			t.Fatalf("serve %v %s: %v, %s", c.args, c.env, err, out)
		}
	}

	p := startHerald(t, t.TempDir())
	if !strings.Contains(p.logs.String(), "allow_targets="+loopbackTargets) {
		t.Fatalf("the start log does not show the exempted ranges:\n%s", p.logs)
	}

	dataDir := t.TempDir()
	p = startHerald(t, dataDir, "--allow-targets", "")
	if !strings.Contains(p.logs.String(), "allow_targets=none") {
		t.Fatalf("the start log does not say that no range is exempted:\n%s", p.logs)
	}
	creds := readCredentials(t, dataDir)
	var wh map[string]any
	target := strings.Replace(p.URL, "127.0.0.1", "localhost", 1) + "/hook" // Herald itself, on loopback
	status, err := call(p.URL, creds, "POST", "/webhooks", map[string]any{"target_url": target,
		"events": []string{"message.sent"}, "secret": "s"}, &wh)
	if err != nil || status != 201 {
		t.Fatalf("creating a webhook: %d %v", status, err)
	}
	status, _ = call(p.URL, creds, "POST", "/webhooks", map[string]any{"target_url": p.URL + "/hook",
		"events": []string{"message.sent"}, "secret": "s"}, nil)
	if status != 422 {
		t.Fatalf("a webhook to %s: status %d, want 422", p.URL, status)
	}
	id := wh["id"].(string)
	id = id[strings.LastIndex(id, "/")+1:]
	deadline := time.Now().Add(10 * time.Second)
	for wh["status"] == "unverified" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if _, err := call(p.URL, creds, "GET", "/webhooks/"+id, nil, &wh); err != nil {
			t.Fatal(err)
		}
	}
	if reason, _ := wh["status_reason"].(string); wh["status"] != "inactive" || !strings.Contains(reason, "Herald does not connect to localhost") {
		t.Fatalf("a webhook to a loopback receiver, without exemption: %v", wh)
	}
}
