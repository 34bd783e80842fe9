package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/seedtest"
)

// goldenReceiver answers the verification challenge and hands over the body
// of every delivery.
func goldenReceiver(t *testing.T) (string, <-chan []byte) {
	bodies := make(chan []byte, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, r.URL.Query().Get("verification_challenge"))
			return
		}
		b, _ := io.ReadAll(r.Body)
		checkDelivery(t, r.Header, b)
		bodies <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, bodies
}

func (a *api) activeWebhook(t *testing.T, body map[string]any) {
	t.Helper()
	id := localID(a.do("POST", "/webhooks", body).must(t, 201).Map(t)["id"])
	for i := 0; ; i++ {
		wh := a.do("GET", "/webhooks/"+id, nil).must(t, 200).Map(t)
		if wh["status"] == "active" {
			return
		}
		if i > 500 {
			t.Fatalf("webhook not active: %v", wh)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func receive(t *testing.T, bodies <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-bodies:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery arrived")
		return nil
	}
}

var seedConfig = map[string]string{"key1": "value1", "key2": "value2"}

// The situation of the message.sent seed (payload 1.0), built through the
// API and delivered over HTTP, arrives exactly as the seed.
func TestGoldenDeliveryMessageSent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		target, bodies := goldenReceiver(t)
		a.activeWebhook(t, map[string]any{"version": "1.0", "target_url": target,
			"events": []string{"message.sent"}, "secret": "s", "config": seedConfig})
		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"12345", "999", "111"}}).
			must(t, 201).Map(t)["id"])
		image := []byte("\x89PNG not really an image, but bytes")
		c := a.do("POST", "/conversations/"+conv+"/content", nil, "Upload-Content-Type", "image/png",
			"Upload-Content-Length", strconv.Itoa(len(image))).must(t, 201).Map(t)
		a.doAs("", "PUT", c["upload_url"].(string), image).must(t, 200)
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{
			"sender": map[string]string{"user_id": "12345"},
			"parts": []any{
				map[string]any{"mime_type": "text/plain", "body": "This is the message."},
				map[string]any{"mime_type": "image/png", "content": map[string]any{"id": c["id"], "size": len(image)}},
			}}).must(t, 201)
		seedtest.Compare(t, "layer-message-sent.md", receive(t, bodies))
	})
}

// The situation of the message.deleted seed (payload 2.0): identities, read
// receipts, and a global deletion by user 111.
func TestGoldenDeliveryMessageDeleted(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		target, bodies := goldenReceiver(t)
		a.activeWebhook(t, map[string]any{"version": "2.0", "target_url": target,
			"events": []string{"message.deleted"}, "secret": "s", "config": seedConfig})
		for user, name := range map[string]string{"111": "Number One, You have the Bridge", "1234": "One Two Three Four", "999": "Nine"} {
			a.do("PUT", "/users/"+user+"/identity", map[string]string{"display_name": name,
				"avatar_url": "https://mydomain.com/images/" + user + ".gif"}).must(t, 201)
		}
		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"1234", "999", "111"}}).
			must(t, 201).Map(t)["id"])
		msg := localID(a.do("POST", "/conversations/"+conv+"/messages", map[string]any{
			"sender": map[string]string{"user_id": "1234"},
			"parts":  []any{map[string]any{"mime_type": "text/plain", "body": "This is the message."}},
		}).must(t, 201).Map(t)["id"])
		for _, user := range []string{"999", "111"} {
			a.do("POST", "/users/"+user+"/messages/"+msg+"/receipts", map[string]string{"type": "read"}).must(t, 204)
		}
		a.do("DELETE", "/users/111/messages/"+msg+"?mode=all_participants", nil).must(t, 204)
		seedtest.Compare(t, "layer-message-deleted.md", receive(t, bodies))
	})
}
