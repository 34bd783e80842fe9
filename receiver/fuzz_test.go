package receiver_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/receiver"
)

// Whatever arrives, verification and decoding answer without panicking; a
// body signed with the key verifies, and any change to it does not; what
// strict decoding accepts, lenient decoding accepts alike.
func FuzzReceive(f *testing.F) {
	f.Add("application/vnd.layer.webhooks+json; version=2.0", `{"event":{"id":"e","type":"message.sent","created_at":"2026-12-04T10:00:00Z"},"message":{"id":"m","conversation":{"id":"c","url":"u"},"parts":[],"sent_at":"2026-12-04T10:00:00Z","sender":{"user_id":"a"},"recipient_status":{}}}`, "t=1,v1=00")
	f.Add("application/vnd.layer.webhooks+json; version=1.0", `{"event":{"type":"conversation.created"},"conversation":{"participants":["a",{"user_id":"b"}]}}`, "")
	f.Add("application/json", `{"event":"message_created","payload":{"contact":{"channel":{"discardedAt":null}},"createdAt":"2026-12-04T10:00:00.000+00:00"}}`, "t=x")
	f.Add("application/json", `{"event":"team_membership_updated","payload":{"team":{},"user":{"userCustomStatus":{}}}}`, ",,,")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	f.Fuzz(func(t *testing.T, contentType, body, callbellHeader string) {
		h := http.Header{"Content-Type": {contentType}, "X-Callbell-Signature": {callbellHeader}}
		strict, strictErr := receiver.Decoder{Strict: true}.Decode(h, []byte(body))
		lenient, lenientErr := receiver.Decode(h, []byte(body))
		if strictErr == nil && (lenientErr != nil || strict.EventType() != lenient.EventType()) {
			t.Fatalf("strict %v, lenient %v %v", strict, lenient, lenientErr)
		}
		v := receiver.Verifier{Secrets: []string{secret}, LayerSecrets: []string{"s"}, Now: func() time.Time { return at }}
		v.Verify(h, []byte(body))
		sign(h, "m", at, []byte(body), key, nil)
		h.Del("X-Callbell-Signature")
		if _, err := v.Verify(h, []byte(body)); err != nil {
			t.Fatalf("signed body: %v", err)
		}
		if _, err := v.Verify(h, []byte(body+" ")); err == nil {
			t.Fatal("a changed body verified")
		}
	})
}
