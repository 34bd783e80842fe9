package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/stdwebhooks"
)

// A message reaches a registered Layer webhook, verified and signed both ways.
func TestWebhookDeliversMessageSent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		got := make(chan *http.Request, 10)
		bodies := make(chan []byte, 10)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c := r.URL.Query().Get("verification_challenge"); r.Method == "GET" {
				io.WriteString(w, c)
				return
			}
			b, _ := io.ReadAll(r.Body)
			got <- r
			bodies <- b
			w.WriteHeader(204)
		}))
		defer rcv.Close()
		wh := a.do("POST", "/webhooks", map[string]any{"version": "1.0", "target_url": rcv.URL,
			"events": []string{"message.sent"}, "secret": "s3cret", "config": map[string]string{"key1": "value1"}}).must(t, 201).Map(t)
		signingSecret := wh["signing_secret"].(string)
		for i := 0; wh["status"] != "active"; i++ {
			if i > 200 {
				t.Fatalf("webhook not active: %v", wh)
			}
			time.Sleep(10 * time.Millisecond)
			wh = a.do("GET", "/webhooks/"+localID(wh["id"]), nil).must(t, 200).Map(t)
		}
		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}}).must(t, 201).Map(t)["id"])
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"user_id": "alice"},
			"parts": []map[string]string{{"mime_type": "text/plain", "body": "hi"}}}).must(t, 201)
		select {
		case r := <-got:
			b := <-bodies
			if r.Header.Get("layer-webhook-event-type") != "message.sent" {
				t.Fatalf("headers %v", r.Header)
			}
			if r.Header.Get("layer-webhook-signature") != layer.Sign("s3cret", b) {
				t.Fatal("bad Layer signature")
			}
			if err := stdwebhooks.Verify(signingSecret, r.Header, b, time.Now()); err != nil {
				t.Fatalf("standard webhooks: %v", err)
			}
			var p map[string]any
			json.Unmarshal(b, &p)
			if p["event"].(map[string]any)["type"] != "message.sent" || p["config"].(map[string]any)["key1"] != "value1" {
				t.Fatalf("payload %s", b)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery")
		}
	})
}
