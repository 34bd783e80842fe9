package stdwebhooks_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/stdwebhooks"
)

// FuzzVerifyAnySecret checks the Standard Webhooks signature: what a Signer signs
// verifies, a flipped bit in the body, another id or another secret does
// not, and no headers, however malformed, make Verify panic.
func FuzzVerifyAnySecret(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", []byte(`{"type":"message.sent"}`), "1772366400", "v1,abc v1,def", uint(2))
	f.Add("whsec_", "", []byte{}, "", "", uint(0))
	f.Add("not base64!", "id", []byte("x"), "-1", "v1,", uint(9))
	f.Fuzz(func(t *testing.T, secret, id string, body []byte, timestamp, signatures string, flip uint) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", timestamp)
		h.Set("webhook-signature", signatures)
		stdwebhooks.Verify(secret, h, body, now)

		s, err := stdwebhooks.NewSigner(secret)
		if err != nil || id == "" {
			return
		}
		h = http.Header{}
		s.SetHeaders(h, id, now, body)
		if h.Get("webhook-id") != id {
			// A value http.Header cannot carry as it is.
			return
		}
		if err := stdwebhooks.Verify(secret, h, body, now); err != nil {
			t.Fatalf("what a Signer signed does not verify: %v", err)
		}
		if err := stdwebhooks.Verify(secret, h, body, now.Add(stdwebhooks.Tolerance+time.Second)); err == nil {
			t.Fatal("a signature older than the tolerance verifies")
		}
		other := h.Clone()
		other.Set("webhook-id", id+"x")
		if err := stdwebhooks.Verify(secret, other, body, now); err == nil {
			t.Fatal("a signature verifies for another id")
		}
		if len(body) == 0 {
			return
		}
		changed := bytes.Clone(body)
		changed[flip%uint(len(body))] ^= 1 << (flip % 8)
		if err := stdwebhooks.Verify(secret, h, changed, now); err == nil {
			t.Fatal("a body with a flipped bit verifies")
		}
	})
}
