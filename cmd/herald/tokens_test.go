package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

type tokenOut struct {
	ID         string  `json:"id"`
	AppID      string  `json:"app_id"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	Token      *string `json:"token"`
}

func listTokens(t *testing.T, flags []string, app string) []tokenOut {
	t.Helper()
	var list []tokenOut
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "tokens", "list", "--json", app)...)), &list); err != nil {
		t.Fatal(err)
	}
	for _, tok := range list {
		if tok.Token != nil {
			t.Fatalf("tokens list prints a secret: %+v", tok)
		}
	}
	return list
}

// The tokens commands: create with a name, list without secrets, revoke by
// id, any token, an app's last one included; clear errors for what does
// not exist.
func TestTokensCommands(t *testing.T) {
	flags := []string{"--data", t.TempDir()}
	var app struct {
		AppID     string `json:"app_id"`
		Token     string `json:"token"`
		TokenID   string `json:"token_id"`
		TokenName string `json:"token_name"`
	}
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "apps", "create", "--json", "shop", "--token-name", "ci")...)), &app); err != nil {
		t.Fatal(err)
	}
	if app.TokenName != "ci" || app.TokenID == "" || !strings.HasPrefix(app.Token, "hrld_") {
		t.Fatalf("apps create --token-name printed %+v", app)
	}
	var created tokenOut
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "tokens", "create", "--json", app.AppID, "--name", "deploy")...)), &created); err != nil {
		t.Fatal(err)
	}
	if created.Token == nil || !strings.HasPrefix(*created.Token, created.Prefix) || len(created.Prefix) != 9 ||
		created.Name != "deploy" || created.AppID != app.AppID || created.ID == "" {
		t.Fatalf("tokens create --name printed %+v", created)
	}
	var unnamed tokenOut
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "tokens", "create", "--json", app.AppID)...)), &unnamed); err != nil {
		t.Fatal(err)
	}
	if unnamed.Name != "default" {
		t.Fatalf("tokens create without a name named it %q", unnamed.Name)
	}
	if out := heraldFails(t, append(flags, "tokens", "create", "--json", app.AppID, "--name", "a\tb")...); !strings.Contains(out, "control characters") {
		t.Fatalf("tokens create with a tab in the name said %q", out)
	}

	list := listTokens(t, flags, app.AppID)
	var names []string
	for _, tok := range list {
		names = append(names, tok.Name)
	}
	if strings.Join(names, ",") != "ci,deploy,default" || list[0].ID != app.TokenID || list[0].Prefix != app.Token[:9] {
		t.Fatalf("tokens list printed %+v", list)
	}

	var revoked tokenOut
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "tokens", "revoke", "--json", created.ID)...)), &revoked); err != nil {
		t.Fatal(err)
	}
	if revoked.ID != created.ID || revoked.Name != "deploy" || revoked.Token != nil {
		t.Fatalf("tokens revoke printed %+v", revoked)
	}
	if list := listTokens(t, flags, app.AppID); len(list) != 2 {
		t.Fatalf("%d tokens after one was revoked, want 2", len(list))
	}
	for _, id := range []string{created.ID, "not-a-token-id"} {
		if out := heraldFails(t, append(flags, "tokens", "revoke", "--json", id)...); !strings.Contains(out, `No token with id "`+id+`"`) {
			t.Fatalf("tokens revoke of %s said %q", id, out)
		}
	}
	if out := heraldFails(t, append(flags, "tokens", "list", "--json", "no-such-app")...); !strings.Contains(out, `No app with id "no-such-app"`) {
		t.Fatalf("tokens list of a missing app said %q", out)
	}

	// The operator may revoke an app's last token; the app's own API may
	// not (see the http package's tests).
	var other struct {
		AppID     string `json:"app_id"`
		TokenID   string `json:"token_id"`
		TokenName string `json:"token_name"`
	}
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "apps", "create", "--json", "other")...)), &other); err != nil {
		t.Fatal(err)
	}
	if other.TokenName != "default" {
		t.Fatalf("apps create named the first token %q", other.TokenName)
	}
	runHerald(t, append(flags, "tokens", "revoke", "--json", other.TokenID)...)
	if list := listTokens(t, flags, other.AppID); len(list) != 0 {
		t.Fatalf("the app's last token was not revoked: %+v", list)
	}
}

// A token revoked by a command run beside a server, on the same SQLite
// file or PostgreSQL database, or deleted from the database by hand (probe
// 4.8: the server kept it cached until restart), fails within the bound
// though the server validated it before.
func TestRevocationReachesRunningServer(t *testing.T) {
	const bound = time.Second
	for _, c := range []struct {
		name string
		// flags returns the flags of the commands and the database to
		// delete the token's row from.
		flags  func(t *testing.T, dir string) ([]string, func() (*sql.DB, error))
		byHand bool
	}{
		{"sqlite", sqliteFlags, false},
		{"sqlite by hand", sqliteFlags, true},
		{"postgres", postgresFlags, false},
		{"postgres by hand", postgresFlags, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			flags, openDB := c.flags(t, dir)
			p := startHerald(t, dir, flags...)
			creds := readCredentials(t, dir)
			if status, err := call(p.URL, creds, "GET", "/conversations", nil, nil); err != nil || status != 200 {
				t.Fatalf("before the revocation: %d %v", status, err)
			}
			if c.byHand {
				db, err := openDB()
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				hash := sha256.Sum256([]byte(creds.Token))
				if _, err := db.Exec(`DELETE FROM app_tokens WHERE hash = $1`, hex.EncodeToString(hash[:])); err != nil {
					t.Fatal(err)
				}
			} else {
				list := listTokens(t, flags, creds.AppID)
				runHerald(t, append(flags, "tokens", "revoke", "--json", list[0].ID)...)
			}
			start := time.Now()
			for {
				status, err := call(p.URL, creds, "GET", "/conversations", nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if status == 401 {
					t.Logf("refused %s after the revocation", time.Since(start).Round(time.Millisecond))
					return
				}
				if status != 200 || time.Since(start) > bound {
					t.Fatalf("%s after the revocation: status %d, want 401", time.Since(start).Round(time.Millisecond), status)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func sqliteFlags(t *testing.T, dir string) ([]string, func() (*sql.DB, error)) {
	return []string{"--data", dir}, func() (*sql.DB, error) {
		return sql.Open("sqlite", "file:"+filepath.Join(dir, "herald.db")+"?_pragma=busy_timeout(10000)")
	}
}

func postgresFlags(t *testing.T, dir string) ([]string, func() (*sql.DB, error)) {
	url := pgtest.URL(t)
	return []string{"--data", dir, "--db", url}, func() (*sql.DB, error) { return sql.Open("pgx", url) }
}

// The data directory is its owner's only, and so is bootstrap.json with
// the first token, even when an earlier installation left one that anyone
// could read.
func TestBootstrapFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startHerald(t, dir)
	mode := func(path string) os.FileMode {
		t.Helper()
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Fatalf("data directory mode %o, want 700", m)
	}
	if m := mode(filepath.Join(dir, "bootstrap.json")); m != 0o600 {
		t.Fatalf("bootstrap.json mode %o, want 600", m)
	}

	old := t.TempDir()
	path := filepath.Join(old, "bootstrap.json")
	if err := os.WriteFile(path, []byte(`{"app_id": "gone", "token": "hrld_gone"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644) // whatever the umask
	p := startHerald(t, old)
	if m := mode(path); m != 0o600 {
		t.Fatalf("bootstrap.json written over one of mode 644 has mode %o, want 600", m)
	}
	creds := readCredentials(t, old)
	if status, err := call(p.URL, creds, "GET", "/conversations", nil, nil); err != nil || status != 200 {
		t.Fatalf("the new bootstrap.json's token: %d %v", status, err)
	}
	entries, _ := os.ReadDir(old)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".bootstrap.json") {
			t.Fatalf("a temporary file was left behind: %s", e.Name())
		}
	}
}
