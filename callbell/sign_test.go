package callbell_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
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

// During a rotation's grace period the header carries a v1 signature of the
// new secret and one of the old: a receiver holding either verifies it.
// Once the grace period ends, only the new secret signs.
func TestSetHeadersDuringRotation(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC)
	until := at.Add(time.Hour)
	const newSecret, oldSecret = "whsec_bmV3IHNlY3JldCBvZiB0aGUgd2ViaG9vaw==", "whsec_b2xkIHNlY3JldCBvZiB0aGUgd2ViaG9vaw=="
	w := &herald.Webhook{ID: "wh-1", Format: herald.FormatCallbell, Version: "1", Secret: newSecret, SigningKey: newSecret,
		PreviousSigningKey: oldSecret, PreviousKeysUntil: &until}
	d := &herald.Delivery{ID: "d-1", WebhookID: "wh-1", Body: signedBody}
	h := http.Header{}
	callbell.Format{}.SetHeaders(h, w, d, at)
	sig := h.Get(callbell.SignatureHeader)
	if strings.Count(sig, "v1=") != 2 {
		t.Fatalf("signature during the grace period: %q", sig)
	}
	for _, s := range []string{newSecret, oldSecret} {
		if err := callbell.Verify(s, sig, signedBody, at, time.Minute); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	callbell.Format{}.SetHeaders(h, w, d, until)
	sig = h.Get(callbell.SignatureHeader)
	if err := callbell.Verify(oldSecret, sig, signedBody, until, time.Minute); err != callbell.ErrSignature {
		t.Errorf("the old secret still verifies once the grace period is over: %v (%q)", err, sig)
	}
	if err := callbell.Verify(newSecret, sig, signedBody, until, time.Minute); err != nil {
		t.Errorf("the new secret: %v", err)
	}
}

// FuzzVerifyHeader: whatever the header and the body, Verify does not panic, and
// accepts only a header that holds the signature of that body at its time.
func FuzzVerifyHeader(f *testing.F) {
	at := time.Unix(1614265330, 0)
	f.Add(callbell.Sign(secret, at, signedBody), signedBody)
	f.Add(callbell.SignAll(at, signedBody, "whsec_other", secret), signedBody)
	f.Add("t=1614265330,v1=00,v1=zz,t=1", []byte("{}"))
	f.Add("", []byte(nil))
	f.Add("t=,v1=", []byte("x"))
	f.Add("t=-9223372036854775808,v1="+strings.Repeat("ab", 32), []byte("x"))
	f.Add(" t = 1614265330 , v1 = ab ", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if err := callbell.Verify(secret, header, body, at, time.Hour); err == nil {
			want := callbell.Sign(secret, at, body)
			_, v1, _ := strings.Cut(want, ",")
			if !strings.Contains(strings.ToLower(strings.ReplaceAll(header, " ", "")), v1) &&
				!verifiesAtAnotherTime(header, body) {
				t.Fatalf("Verify accepted %q for body %q", header, body)
			}
		}
		signed := callbell.SignAll(at, body, "whsec_other", secret)
		if err := callbell.Verify(secret, signed, body, at, time.Minute); err != nil {
			t.Fatalf("its own signature: %v", err)
		}
		if err := callbell.Verify(secret, signed, append(append([]byte{}, body...), 'x'), at, time.Minute); err != callbell.ErrSignature {
			t.Fatalf("another body: %v", err)
		}
	})
}

// verifiesAtAnotherTime reports whether header holds the signature of body
// at the time it names, other than the fuzz target's.
func verifiesAtAnotherTime(header string, body []byte) bool {
	for _, item := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
		if k != "t" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		_, v1, _ := strings.Cut(callbell.Sign(secret, time.Unix(n, 0), body), ",")
		return strings.Contains(strings.ToLower(strings.ReplaceAll(header, " ", "")), v1)
	}
	return false
}
