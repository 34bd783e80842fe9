package main

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/keyring"
)

// testSecretKey seals the secrets of the Heralds the tests start.
const testSecretKey = "aGVyYWxkIGNvbW1hbmQgdGVzdHMga2V5LCAzMiBieXQ="

// heraldFails runs herald and returns what it printed, failing the test if
// it succeeded, or still runs (a serve that started) after a minute.
func heraldFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, heraldBinary, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("herald %s kept running: %s", strings.Join(args, " "), out)
	}
	if err == nil {
		t.Fatalf("herald %s succeeded: %s", strings.Join(args, " "), out)
	}
	return string(out)
}

// With SQLite and no key given, the first start creates DATA/secret.key,
// readable by its owner only, says so, and seals the database's secrets
// with it: the database file alone holds none. Without that file, the
// store does not open, and says which key it needs.
func TestSecretKeyFileOnFirstStart(t *testing.T) {
	t.Setenv("HERALD_SECRET_KEY", "")
	dataDir := t.TempDir()
	p := startHerald(t, dataDir)
	keyPath := filepath.Join(dataDir, "secret.key")
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("no key file after the first start: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("the key file's mode is %v, want 0600", info.Mode().Perm())
	}
	b, _ := os.ReadFile(keyPath)
	k, err := keyring.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.logs.String(), "created a secret key") || !strings.Contains(p.logs.String(), k.ID()) {
		t.Fatalf("the log does not tell of the new key:\n%s", p.logs)
	}
	creds := readCredentials(t, dataDir)
	status, err := call(p.URL, creds, "POST", "/webhooks", map[string]any{"target_url": "http://127.0.0.1:1/", "events": []string{"message.sent"},
		"secret": "a layer secret"}, nil)
	if err != nil || status != 201 {
		t.Fatalf("creating a webhook: %d %v", status, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	db, err := sql.Open("sqlite", filepath.Join(dataDir, "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var secret, signingKey, urlKey string
	if err := db.QueryRow(`SELECT secret, signing_key FROM webhooks`).Scan(&secret, &signingKey); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT value FROM settings WHERE key = 'url_signing_key'`).Scan(&urlKey); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{secret, signingKey, urlKey} {
		if id, ok := keyring.Sealed(v); !ok || id != k.ID() {
			t.Fatalf("a secret in the database reads %q", v)
		}
	}

	// The next start uses the file.
	p = startHerald(t, dataDir)
	if strings.Contains(p.logs.String(), "created a secret key") {
		t.Fatalf("a second key was created:\n%s", p.logs)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	// Without it, nothing opens the database, and no new key replaces it.
	if err := os.Rename(keyPath, keyPath+".saved"); err != nil {
		t.Fatal(err)
	}
	out := heraldFails(t, "--data", dataDir, "migrate")
	if !strings.Contains(out, k.ID()) || !strings.Contains(out, "--secret-key") {
		t.Fatalf("without its key, migrate says: %s", out)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Fatal("a key file was left that opens nothing")
	}
	out = heraldFails(t, "--data", dataDir, "--secret-key", keyring.NewKey(), "migrate")
	if !strings.Contains(out, k.ID()) {
		t.Fatalf("with another key, migrate says: %s", out)
	}
	// The key given on the command line, or the file named, opens it.
	runHerald(t, "--data", dataDir, "--secret-key", strings.TrimSpace(string(b)), "migrate")
	runHerald(t, "--data", dataDir, "--secret-key-file", keyPath+".saved", "migrate")
}

// With PostgreSQL, no key is made up: several nodes must share it. A node
// without one refuses to start and tells how to make one; a node with
// another key than the database's says which it needs.
func TestPostgresNeedsSecretKey(t *testing.T) {
	db := pgtest.URL(t)
	t.Setenv("HERALD_SECRET_KEY", "")
	out := heraldFails(t, "--db", db, "--data", t.TempDir(), "serve", "--addr", "127.0.0.1:0")
	if !strings.Contains(out, "herald secret-key") || !strings.Contains(out, "HERALD_SECRET_KEY") {
		t.Fatalf("serve without a key says: %s", out)
	}
	heraldFails(t, "--db", db, "migrate")

	t.Setenv("HERALD_SECRET_KEY", testSecretKey)
	p := startHerald(t, t.TempDir(), "--db", db) // seals the URL-signing key it creates
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	want, _ := keyring.Parse(testSecretKey)
	out = heraldFails(t, "--db", db, "--secret-key", keyring.NewKey(), "migrate")
	if !strings.Contains(out, want.ID()) {
		t.Fatalf("with another key, migrate says: %s", out)
	}
	// Changing keys: the new one first, the old one after.
	newKey := keyring.NewKey()
	runHerald(t, "--db", db, "--secret-key", newKey+","+testSecretKey, "migrate")
	runHerald(t, "--db", db, "--secret-key", newKey, "migrate")
}

// herald secret-key prints a key that --secret-key takes.
func TestSecretKeyCommand(t *testing.T) {
	a, b := strings.TrimSpace(runHerald(t, "secret-key")), strings.TrimSpace(runHerald(t, "secret-key"))
	if a == b {
		t.Fatal("two keys are the same")
	}
	if _, err := keyring.Parse(a); err != nil {
		t.Fatal(err)
	}
	runHerald(t, "--data", t.TempDir(), "--secret-key", a, "migrate")
	if out := heraldFails(t, "--data", t.TempDir(), "--secret-key", "short", "migrate"); !strings.Contains(out, "herald secret-key") {
		t.Fatalf("a malformed key: %s", out)
	}
}
