package receiver_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/receiver"
)

// The signing secret a webhook's creation showed, and a delivery signed
// with it as Herald signs one.
const exampleSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func exampleDelivery(at time.Time) *http.Request {
	body := `{"event":{"created_at":"2026-12-04T10:00:00.000Z","type":"message.sent","id":"7d0c…","actor":{"user_id":"alice"}},` +
		`"message":{"id":"layer:///messages/940d","conversation":{"id":"layer:///conversations/e67b","url":"https://herald.example.com/apps/a/conversations/e67b"},` +
		`"parts":[{"id":"layer:///messages/940d/parts/0","mime_type":"text/plain","body":"Hello"}],` +
		`"sent_at":"2026-12-04T10:00:00.000Z","sender":{"user_id":"alice"},"recipient_status":{"alice":"read","bob":"sent"}}}`
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(exampleSecret, "whsec_"))
	id, ts := "0193a6f2-delivery", strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + body))
	r := httptest.NewRequest("POST", "/hooks/herald", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/vnd.layer.webhooks+json; version=1.0")
	r.Header.Set("Layer-Webhook-Event-Type", "message.sent")
	r.Header.Set("Webhook-Id", id)
	r.Header.Set("Webhook-Timestamp", ts)
	r.Header.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return r
}

// A receiver: HandlerFunc verifies each delivery and calls back with it
// decoded; a type switch picks the events it cares about.
func ExampleHandlerFunc() {
	now := time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC)
	v := &receiver.Verifier{Secrets: []string{exampleSecret}, Now: func() time.Time { return now }}
	h := receiver.HandlerFunc(v, func(ctx context.Context, d *receiver.Delivery) error {
		switch e := d.Event.(type) {
		case *receiver.LayerEvent:
			if e.Event.Type == receiver.LayerMessageSent {
				fmt.Printf("%s from %s in %s: %q (verified %v)\n", e.Event.Type, e.Message.Sender.UserID,
					e.ConversationID(), e.Message.Parts[0].Body, d.Verified.Schemes)
			}
		case *receiver.CallbellEvent:
			if m, ok := e.Payload.(*receiver.CallbellMessageCreated); ok {
				fmt.Println("message from", m.From)
			}
		}
		return nil
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, exampleDelivery(now))
	fmt.Println(w.Code)

	// The same delivery, an hour later: a replay.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, exampleDelivery(now.Add(-time.Hour)))
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	// Output:
	// message.sent from alice in layer:///conversations/e67b: "Hello" (verified [v1])
	// 204
	// 401 {"error":"v1 signature: timestamp too old: signed at 2026-12-04T09:00:01Z, more than 5m0s ago"}
}

// Middleware puts the delivery in the request's context for the handler
// it wraps.
func ExampleMiddleware() {
	now := time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC)
	v := &receiver.Verifier{Secrets: []string{exampleSecret}, Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	mux.Handle("/hooks/herald", receiver.Middleware(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := receiver.FromContext(r.Context())
		fmt.Println(d.Format, d.Version, d.Event.EventType(), d.ID)
		w.WriteHeader(http.StatusOK)
	})))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, exampleDelivery(now))
	fmt.Println(w.Code)
	// Output:
	// layer 1.0 message.sent 0193a6f2-delivery
	// 200
}

// Verify checks a delivery's raw body against its headers; errors.Is tells
// the failures apart.
func ExampleVerifier_Verify() {
	now := time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC)
	r := exampleDelivery(now)
	body, _ := receiver.ReadBody(r, 0)
	// During a rotation both secrets verify.
	v := &receiver.Verifier{Secrets: []string{"whsec_bmV3IHNlY3JldA==", exampleSecret}, Now: func() time.Time { return now }}
	res, err := v.Verify(r.Header, body)
	fmt.Println(res.Schemes, res.ID, err)

	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] = 'X'
	_, err = v.Verify(r.Header, tampered)
	fmt.Println(errors.Is(err, receiver.ErrBadSignature), err)
	// Output:
	// [v1] 0193a6f2-delivery <nil>
	// true v1 signature: signature does not match
}
