package stdwebhooks_test

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/stdwebhooks"
)

// The reference library of the specification verifies what Herald signs.
func TestReferenceLibraryVerifies(t *testing.T) {
	secret := stdwebhooks.NewSecret()
	s, err := stdwebhooks.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"event":{"type":"message.sent"}}`)
	h := http.Header{}
	now := time.Now()
	s.SetHeaders(h, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body)

	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("reference verifier: %v", err)
	}
	if err := wh.Verify([]byte(`{"event":{"type":"message.read"}}`), h); err == nil {
		t.Fatal("reference verifier accepted a changed body")
	}
	// And the reference signer's output verifies here, byte for byte equal.
	ref, err := wh.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if ref != h.Get("webhook-signature") {
		t.Fatalf("signatures differ: reference %s, ours %s", ref, h.Get("webhook-signature"))
	}
}

// The specification's published example.
func TestSpecificationVector(t *testing.T) {
	s, err := stdwebhooks.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret := stdwebhooks.NewSecret()
	s, _ := stdwebhooks.NewSigner(secret)
	body := []byte("{}")
	now := time.Now()
	h := http.Header{}
	s.SetHeaders(h, "id1", now, body)
	if err := stdwebhooks.Verify(secret, h, body, now); err != nil {
		t.Fatal(err)
	}
	// Several signatures, as during a secret rotation: one match suffices.
	h.Set("webhook-signature", "v1,bm9wZQ== "+h.Get("webhook-signature"))
	if err := stdwebhooks.Verify(secret, h, body, now); err != nil {
		t.Fatal(err)
	}
	if err := stdwebhooks.Verify(secret, h, body, now.Add(10*time.Minute)); err != stdwebhooks.ErrTimestamp {
		t.Fatalf("stale timestamp: %v", err)
	}
	if err := stdwebhooks.Verify(stdwebhooks.NewSecret(), h, body, now); err != stdwebhooks.ErrSignature {
		t.Fatalf("other secret: %v", err)
	}
	if err := stdwebhooks.Verify(secret, http.Header{}, body, now); err != stdwebhooks.ErrMissingHeaders {
		t.Fatalf("no headers: %v", err)
	}
	if _, err := stdwebhooks.NewSigner("whsec_"); err == nil {
		t.Fatal("an empty secret was accepted")
	}
}
