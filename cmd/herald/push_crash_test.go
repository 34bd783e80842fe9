package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/stdwebhooks"
)

// pushReceiver is an app's push webhook: it checks the Standard Webhooks
// signature and counts the pushes of each notification text.
type pushReceiver struct {
	*httptest.Server
	secret   string
	mu       sync.Mutex
	received map[string]int
}

func newPushReceiver(t *testing.T) *pushReceiver {
	r := &pushReceiver{received: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := stdwebhooks.Verify(r.secret, req.Header, b, time.Now()); err != nil {
			t.Errorf("push signature: %v", err)
			w.WriteHeader(401)
			return
		}
		var p struct {
			Notification struct{ Text string }
			Devices      []struct {
				DeviceID string `json:"device_id"`
			}
		}
		if json.Unmarshal(b, &p) != nil || p.Notification.Text == "" || len(p.Devices) != 1 {
			t.Errorf("push body %s", b)
			w.WriteHeader(400)
			return
		}
		r.received[p.Notification.Text]++
	}))
	t.Cleanup(r.Close)
	return r
}

// TestKillDuringPush configures a push webhook with the CLI, kills Herald
// with SIGKILL while notifications are sent and pushed, twice, and checks
// that every acknowledged notification was pushed: at least once, none
// missing.
func TestKillDuringPush(t *testing.T) {
	dataDir := t.TempDir()
	var app struct {
		AppID string `json:"app_id"`
		Token string
	}
	if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "apps", "create", "--json", "shop")), &app); err != nil {
		t.Fatal(err)
	}
	creds := credentials{AppID: app.AppID, Token: app.Token}
	rcv := newPushReceiver(t)
	var provider struct{ Kind, URL, Secret string }
	if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "push", "set", app.AppID, "webhook", "url="+rcv.URL)), &provider); err != nil {
		t.Fatal(err)
	}
	if provider.Kind != "webhook" || provider.URL != rcv.URL || provider.Secret == "" {
		t.Fatalf("push set printed %+v", provider)
	}
	rcv.mu.Lock()
	rcv.secret = provider.Secret
	rcv.mu.Unlock()
	if out := runHerald(t, "--data", dataDir, "push", "list", app.AppID); !json.Valid([]byte(out)) || json.Unmarshal([]byte(out), new([]any)) != nil {
		t.Fatalf("push list printed %s", out)
	}
	if err := exec.Command(heraldBinary, "--data", dataDir, "push", "set", app.AppID, "apns", "team_id=x").Run(); err == nil {
		t.Fatal("push set of an incomplete apns provider succeeded")
	}
	// The secret is sealed at rest, as webhooks' are.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	err = db.QueryRow(`SELECT secret FROM push_providers WHERE app_id = ? AND kind = 'webhook'`, app.AppID).Scan(&stored)
	db.Close()
	if _, sealed := keyring.Sealed(stored); err != nil || !sealed {
		t.Fatalf("the webhook secret at rest: %q %v", stored, err)
	}

	p := startHerald(t, dataDir)
	users := []string{"u0", "u1", "u2", "u3"}
	for _, u := range users {
		if status, err := call(p.URL, creds, "POST", "/users/"+u+"/push_tokens", map[string]any{"token": "tok-" + u,
			"type": "apns", "device_id": "phone-" + u}, nil); err != nil || status != 202 {
			t.Fatalf("registering %s's device: %d %v", u, status, err)
		}
	}
	var ackedMu sync.Mutex
	var acked []string
	for round := range 2 {
		var n atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					text := fmt.Sprintf("r%d w%d #%d", round, w, i)
					status, err := call(p.URL, creds, "POST", "/notifications", map[string]any{
						"recipients": []string{users[(w+i)%len(users)]}, "notification": map[string]any{"text": text}}, nil)
					if err != nil {
						return // the server is gone
					}
					if status == 202 {
						ackedMu.Lock()
						acked = append(acked, text)
						ackedMu.Unlock()
						n.Add(1)
					}
				}
			}()
		}
		deadline := time.Now().Add(20 * time.Second)
		for n.Load() < 150 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		p.kill(t)
		close(stop)
		wg.Wait()
		if n.Load() == 0 {
			t.Fatal("no notification was acknowledged before the kill")
		}
		p = startHerald(t, dataDir)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := 0
		rcv.mu.Lock()
		for _, text := range acked {
			if rcv.received[text] == 0 {
				missing++
			}
		}
		rcv.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged notifications were never pushed", missing, len(acked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcv.mu.Lock()
	dups := 0
	for _, n := range rcv.received {
		dups += n - 1
	}
	rcv.mu.Unlock()
	t.Logf("%d notifications pushed across 2 kills, %d duplicates (attempts in flight at a kill)", len(acked), dups)
}
