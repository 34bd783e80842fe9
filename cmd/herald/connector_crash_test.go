package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/connector/whatsapp"
)

// graphServer is the Cloud API's messages endpoint: it checks the access
// token and counts the messages of each text.
type graphServer struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]int
	next     int
}

func newGraphServer(t *testing.T) *graphServer {
	g := &graphServer{received: map[string]int{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To   string `json:"to"`
			Text struct{ Body string }
		}
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v23.0/1065/messages" || r.Header.Get("Authorization") != "Bearer EAAG-token" ||
			json.Unmarshal(b, &body) != nil || body.Text.Body == "" {
			t.Errorf("Graph request %s %s", r.URL.Path, b)
			w.WriteHeader(400)
			return
		}
		g.mu.Lock()
		g.received[body.Text.Body]++
		g.next++
		id := g.next
		g.mu.Unlock()
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":"wamid.%d"}]}`, body.To, body.To, id)
	}))
	t.Cleanup(g.Close)
	return g
}

// TestKillDuringConnectorSends connects a WhatsApp channel with the CLI,
// kills Herald with SIGKILL while messages are sent to contacts, twice,
// and checks that every acknowledged message reached the Graph API: at
// least once, none missing.
func TestKillDuringConnectorSends(t *testing.T) {
	dataDir := t.TempDir()
	var app struct {
		AppID string `json:"app_id"`
		Token string
	}
	if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "apps", "create", "--json", "shop")), &app); err != nil {
		t.Fatal(err)
	}
	graph := newGraphServer(t)
	p := startHerald(t, dataDir)
	var ch struct{ Channel struct{ UUID string } }
	if status, err := request("POST", p.URL+"/v1/channels", app.Token, map[string]any{"type": "whatsapp", "identifier": "15550783881"}, &ch); err != nil || status != 201 {
		t.Fatalf("creating the channel: %d %v", status, err)
	}
	p.kill(t)
	var conn struct {
		Provider string
		APIURL   string `json:"api_url"`
	}
	out := runHerald(t, "--data", dataDir, "connector", "set", app.AppID, ch.Channel.UUID, "provider=whatsapp_cloud", "phone_number_id=1065",
		"access_token=EAAG-token", "app_secret=app-secret", "verify_token=v", "api_url="+graph.URL+"/v23.0")
	if err := json.Unmarshal([]byte(out), &conn); err != nil || conn.APIURL != graph.URL+"/v23.0" || strings.Contains(out, "EAAG-token") {
		t.Fatalf("connector set printed %s", out)
	}
	if err := exec.Command(heraldBinary, "--data", dataDir, "connector", "set", app.AppID, ch.Channel.UUID, "provider=whatsapp_cloud").Run(); err == nil {
		t.Fatal("connector set without credentials succeeded")
	}

	p = startHerald(t, dataDir)
	customers := []string{"33600000001", "33600000002", "33600000003", "33600000004"}
	for i, c := range customers {
		body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "1",
			"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
				"contacts": []any{map[string]any{"profile": map[string]any{"name": "C"}, "wa_id": c}},
				"messages": []any{map[string]any{"from": c, "id": fmt.Sprintf("wamid.in%d", i), "type": "text", "text": map[string]any{"body": "hi"}}}}}}}}})
		req, _ := http.NewRequest("POST", p.URL+"/v1/connectors/whatsapp/"+ch.Channel.UUID, bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", whatsapp.Sign("app-secret", body))
		res, err := client.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("inbound from %s: %v %v", c, res, err)
		}
		res.Body.Close()
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
					status, err := request("POST", p.URL+"/v1/messages/send", app.Token, map[string]any{"to": customers[(w+i)%len(customers)],
						"from": "whatsapp", "type": "text", "content": map[string]any{"text": text}}, nil)
					if err != nil {
						return // the server is gone
					}
					if status == 201 {
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
			t.Fatal("no message was acknowledged before the kill")
		}
		p = startHerald(t, dataDir)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		graph.mu.Lock()
		for _, text := range acked {
			if graph.received[text] == 0 {
				missing++
			}
		}
		graph.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never reached the Graph API", missing, len(acked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	graph.mu.Lock()
	dups := 0
	for _, n := range graph.received {
		dups += n - 1
	}
	graph.mu.Unlock()
	t.Logf("%d messages sent across 2 kills, %d duplicates (sends in flight at a kill)", len(acked), dups)
}
