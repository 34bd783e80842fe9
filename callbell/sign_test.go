package callbell_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var signedBody = []byte(`{"event":"contact_deleted","payload":{"uuid":"eb2b914a977e4ab896e7b886698b3eac","deleted":"2021-02-25T15:02:10.000Z"}}`)

// A vector computed outside Go:
//
//	printf '%s' "1614265330.$body" | openssl dgst -sha256 -hmac "$secret"
func TestSignVector(t *testing.T) {
	got := callbell.Sign(secret, time.Unix(1614265330, 0), signedBody)
	if want := "t=1614265330,v1=efc5379cf0d5578be713f4bb7738680e43dd77d57d37ddf54fa7021bde7b7ff3"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// Sign is Callbell's scheme, recomputed here with crypto/hmac: the hex
// HMAC-SHA256 of "<t>.<body>", keyed by the whole secret string.
func TestSignMatchesHMAC(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 999_000_000, time.FixedZone("X", -5*3600))
	for _, key := range []string{secret, "plain secret", "whsec_"} {
		m := hmac.New(sha256.New, []byte(key))
		fmt.Fprintf(m, "%d.%s", at.Unix(), signedBody)
		want := fmt.Sprintf("t=%d,v1=%s", at.Unix(), hex.EncodeToString(m.Sum(nil)))
		if got := callbell.Sign(key, at, signedBody); got != want {
			t.Errorf("Sign(%q) = %s, want %s", key, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1772366400, 0)
	tol := callbell.DefaultTolerance
	h := callbell.Sign(secret, now, signedBody)
	if err := callbell.Verify(secret, h, signedBody, now, tol); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	// Within the tolerance, both ways, a fraction of a second included.
	for _, d := range []time.Duration{tol, -tol, 999 * time.Millisecond, time.Second - tol} {
		if err := callbell.Verify(secret, h, signedBody, now.Add(d), tol); err != nil {
			t.Errorf("now%+v: %v", d, err)
		}
	}
	// Outside it.
	for _, d := range []time.Duration{tol + time.Second, -tol - time.Second, time.Hour, -24 * time.Hour} {
		if err := callbell.Verify(secret, h, signedBody, now.Add(d), tol); err != callbell.ErrTimestamp {
			t.Errorf("now%+v: %v, want ErrTimestamp", d, err)
		}
	}
	// Tampering.
	tampered := []byte(strings.Replace(string(signedBody), "2021", "2022", 1))
	if err := callbell.Verify(secret, h, tampered, now, tol); err != callbell.ErrSignature {
		t.Errorf("changed body: %v, want ErrSignature", err)
	}
	if err := callbell.Verify(secret, h, append(signedBody, '\n'), now, tol); err != callbell.ErrSignature {
		t.Errorf("body with a newline: %v, want ErrSignature", err)
	}
	if err := callbell.Verify("whsec_other", h, signedBody, now, tol); err != callbell.ErrSignature {
		t.Errorf("other secret: %v, want ErrSignature", err)
	}
	// The key is the whole secret, prefix included.
	if err := callbell.Verify(strings.TrimPrefix(secret, "whsec_"), h, signedBody, now, tol); err != callbell.ErrSignature {
		t.Errorf("secret without its whsec_ prefix: %v, want ErrSignature", err)
	}
	// A replayed signature with a new timestamp does not match.
	_, v1, _ := strings.Cut(h, ",")
	moved := fmt.Sprintf("t=%d,%s", now.Add(time.Minute).Unix(), v1)
	if err := callbell.Verify(secret, moved, signedBody, now, tol); err != callbell.ErrSignature {
		t.Errorf("timestamp changed: %v, want ErrSignature", err)
	}
	// Several v1, as during a secret rotation: one match suffices.
	other := callbell.Sign("whsec_old", now, signedBody)
	_, oldV1, _ := strings.Cut(other, ",")
	if err := callbell.Verify(secret, h+","+oldV1, signedBody, now, tol); err != nil {
		t.Errorf("extra v1: %v", err)
	}
	if err := callbell.Verify(secret, fmt.Sprintf("t=%d,%s,%s", now.Unix(), oldV1, v1), signedBody, now, tol); err != nil {
		t.Errorf("matching v1 second: %v", err)
	}
	// Upper-case hex is the same signature.
	upper := fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.ToUpper(strings.TrimPrefix(v1, "v1=")))
	if err := callbell.Verify(secret, upper, signedBody, now, tol); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	now := time.Unix(1614265330, 0)
	good := callbell.Sign(secret, now, signedBody)
	_, v1, _ := strings.Cut(good, ",")
	for _, h := range []string{
		"",
		"garbage",
		v1,
		"t=1614265330",
		"t=1614265330,v1=",
		"t=1614265330,v1=zz",
		"t=1614265330,v1=abcd",
		"t=," + v1,
		"t=16142653x0," + v1,
		"t=1614265330,t=1614265330," + v1,
		"t=1614265330;" + v1,
		"t=1614265330,v0=" + strings.TrimPrefix(v1, "v1="),
	} {
		if err := callbell.Verify(secret, h, signedBody, now, time.Minute); err != callbell.ErrMalformedSignature {
			t.Errorf("Verify(%q) = %v, want ErrMalformedSignature", h, err)
		}
	}
	// Spaces after commas are tolerated; unknown schemes are ignored.
	if err := callbell.Verify(secret, "t=1614265330, v0=abc, "+v1, signedBody, now, time.Minute); err != nil {
		t.Errorf("spaces and v0: %v", err)
	}
}

func TestSetHeaders(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 7, 123_000_000, time.UTC)
	w := &herald.Webhook{ID: "wh-1", Format: herald.FormatCallbell, Version: "1", Secret: secret}
	d := &herald.Delivery{ID: "d-1", WebhookID: "wh-1", EventType: "contact_deleted", Body: signedBody}
	h := http.Header{}
	callbell.Format{URLs: builder()}.SetHeaders(h, w, d, at)
	want := map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           "herald-webhooks",
		"X-Callbell-Signature": callbell.Sign(secret, at, signedBody),
	}
	if len(h) != len(want) {
		t.Errorf("SetHeaders set %d headers, want %d: %v", len(h), len(want), h)
	}
	for k, v := range want {
		if got := h[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	sig := h.Get("X-Callbell-Signature")
	if !strings.HasPrefix(sig, "t=1772366407,v1=") {
		t.Errorf("signature %q is not for the attempt's time", sig)
	}
	if err := callbell.Verify(secret, sig, d.Body, at.Add(2*time.Second), time.Minute); err != nil {
		t.Errorf("the signature does not verify: %v", err)
	}

	// A retry, later, signs again at its own time.
	later := at.Add(10 * time.Minute)
	callbell.Format{}.SetHeaders(h, w, d, later)
	if got := h.Values("X-Callbell-Signature"); len(got) != 1 || got[0] != callbell.Sign(secret, later, signedBody) {
		t.Errorf("retry signature = %q", got)
	}

	// Without a secret, no signature.
	w.Secret = ""
	h = http.Header{}
	callbell.Format{}.SetHeaders(h, w, d, at)
	if _, ok := h["X-Callbell-Signature"]; ok || h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "herald-webhooks" {
		t.Errorf("headers without a secret: %v", h)
	}
}

// A receiver written for Callbell verifies what Herald renders and signs.
func TestRenderedBodyVerifies(t *testing.T) {
	e := messageEvent(t, herald.EventMessageSent, inbound(text("Hello & welcome <3")))
	w := webhook("")
	body, ok, err := format().Render(e, decoded(t, e), w)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	at := time.Now()
	h := http.Header{}
	format().SetHeaders(h, w, &herald.Delivery{Body: body}, at)
	if err := callbell.Verify(w.Secret, h.Get("X-Callbell-Signature"), body, at, callbell.DefaultTolerance); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"text":"Hello & welcome <3"`) {
		t.Errorf("HTML characters are escaped:\n%s", body)
	}
}
