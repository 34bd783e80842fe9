package receiver_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/receiver"
)

// A receiver's program pulls in this package and the standard library only.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/heraldhq/herald/receiver" {
			t.Errorf("the receiver package depends on %s", dep)
		}
	}
}

var at = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// The Standard Webhooks library's own signature verifies here, and ours
// there.
func TestStandardWebhooksInterop(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"event":"contact_deleted","payload":{"uuid":"x","deleted":"2026-12-04T10:00:00.000Z"}}`)
	sig, err := wh.Sign("msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", "v1,bm90IGl0 "+sig)
	v := receiver.Verifier{Secrets: []string{secret}, Now: func() time.Time { return at }}
	res, err := v.Verify(h, body)
	if err != nil || res.ID != "msg_1" || !res.Timestamp.Equal(at) {
		t.Fatalf("%+v %v", res, err)
	}
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Fatal(err)
	}
}

func sign(h http.Header, id string, t time.Time, body []byte, key []byte, priv ed25519.PrivateKey) {
	ts := strconv.FormatInt(t.Unix(), 10)
	msg := []byte(id + "." + ts + "." + string(body))
	var sigs []string
	if key != nil {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	if priv != nil {
		sigs = append(sigs, "v1a,"+base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg)))
	}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", strings.Join(sigs, " "))
}

func TestVerifyErrors(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	pub, priv, _ := ed25519.GenerateKey(nil)
	pk := "whpk_" + base64.StdEncoding.EncodeToString(pub)
	body := []byte(`{}`)
	now := func() time.Time { return at }
	cases := []struct {
		name   string
		v      receiver.Verifier
		header func(h http.Header)
		want   error
	}{
		{"no keys", receiver.Verifier{}, func(h http.Header) { sign(h, "m", at, body, key, nil) }, receiver.ErrNoKeys},
		{"no headers", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) {}, receiver.ErrMissingHeader},
		{"no id", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) { sign(h, "m", at, body, key, nil); h.Del("webhook-id") }, receiver.ErrMissingHeader},
		{"bad timestamp", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) { sign(h, "m", at, body, key, nil); h.Set("webhook-timestamp", "soon") }, receiver.ErrMalformedHeader},
		{"old", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) { sign(h, "m", at.Add(-6*time.Minute), body, key, nil) }, receiver.ErrTimestampTooOld},
		{"new", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) { sign(h, "m", at.Add(6*time.Minute), body, key, nil) }, receiver.ErrTimestampTooNew},
		{"within a wider tolerance", receiver.Verifier{Secrets: []string{secret}, Tolerance: time.Hour}, func(h http.Header) { sign(h, "m", at.Add(-30*time.Minute), body, key, nil) }, nil},
		{"wrong secret", receiver.Verifier{Secrets: []string{"whsec_b3RoZXI="}}, func(h http.Header) { sign(h, "m", at, body, key, nil) }, receiver.ErrBadSignature},
		{"invalid secret", receiver.Verifier{Secrets: []string{"whsec_!!"}}, func(h http.Header) { sign(h, "m", at, body, key, nil) }, receiver.ErrInvalidKey},
		{"v1a only", receiver.Verifier{PublicKeys: []string{pk}}, func(h http.Header) { sign(h, "m", at, body, nil, priv) }, nil},
		{"v1a beside v1", receiver.Verifier{PublicKeys: []string{pk}}, func(h http.Header) { sign(h, "m", at, body, key, priv) }, nil},
		{"only v1 for a public key", receiver.Verifier{PublicKeys: []string{pk}}, func(h http.Header) { sign(h, "m", at, body, key, nil) }, receiver.ErrBadSignature},
		{"a forged v1a beside a good v1", receiver.Verifier{Secrets: []string{secret}, PublicKeys: []string{pk}}, func(h http.Header) {
			_, other, _ := ed25519.GenerateKey(nil)
			sign(h, "m", at, body, key, other)
		}, receiver.ErrBadSignature},
		{"layer", receiver.Verifier{LayerSecrets: []string{"old", "s"}}, func(h http.Header) { h.Set("layer-webhook-signature", layerSig("s", body)) }, nil},
		{"layer, wrong secret", receiver.Verifier{LayerSecrets: []string{"old"}}, func(h http.Header) { h.Set("layer-webhook-signature", layerSig("s", body)) }, receiver.ErrBadSignature},
		{"layer, not hex", receiver.Verifier{LayerSecrets: []string{"s"}}, func(h http.Header) { h.Set("layer-webhook-signature", "zz") }, receiver.ErrMalformedHeader},
		{"callbell, rotated", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) {
			h.Set("x-callbell-signature", callbellSig(at, body, "whsec_bmV3", secret))
		}, nil},
		{"callbell, old", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) {
			h.Set("x-callbell-signature", callbellSig(at.Add(-time.Hour), body, secret))
		}, receiver.ErrTimestampTooOld},
		{"callbell, malformed", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) { h.Set("x-callbell-signature", "v1=00") }, receiver.ErrMalformedHeader},
		{"callbell, two times", receiver.Verifier{Secrets: []string{secret}}, func(h http.Header) {
			h.Set("x-callbell-signature", "t=1,"+callbellSig(at, body, secret))
		}, receiver.ErrMalformedHeader},
	}
	for _, c := range cases {
		h := http.Header{}
		c.header(h)
		c.v.Now = now
		_, err := c.v.Verify(h, body)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func layerSig(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func callbellSig(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	out := "t=" + ts
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(ts + "." + string(body)))
		out += ",v1=" + hex.EncodeToString(m.Sum(nil))
	}
	return out
}

func TestHandlerProbesAndLimits(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	h := &receiver.Handler{Verifier: &receiver.Verifier{Secrets: []string{secret}, Now: func() time.Time { return at }}, MaxBody: 128}
	// Layer's verification challenge, signed over an empty body, is echoed.
	r := httptest.NewRequest("GET", "/?verification_challenge=abc", nil)
	sign(r.Header, "probe", at, nil, key, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "abc" {
		t.Fatalf("challenge: %d %q", w.Code, w.Body)
	}
	// Signed with another key, it is refused.
	r = httptest.NewRequest("GET", "/?verification_challenge=abc", nil)
	sign(r.Header, "probe", at, nil, []byte("other"), nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("forged challenge: %d %q", w.Code, w.Body)
	}
	// Callbell's health check.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || w.Body.String() != `{"status":"ok"}` {
		t.Fatalf("health check: %d %q", w.Code, w.Body)
	}
	for _, c := range []struct {
		body   string
		sign   bool
		status int
		reason string
	}{
		{strings.Repeat("x", 129), true, 413, "body too large"},
		{`{"event":"contact_deleted","payload":{"uuid":"x","deleted":"2026-12-04T10:00:00Z"}}`, false, 401, "missing signature header"},
		{`{"event":"contact_gone","payload":{}}`, true, 400, "unknown event type"},
		{`{"event":"contact_deleted","payload":{"uuid":1}}`, true, 400, "malformed payload"},
		{`[1, 2, 3]`, true, 400, "not a Herald delivery"},
		{`{"event":"contact_deleted","payload":{"uuid":"x","deleted":"2026-12-04T10:00:00Z"}}`, true, 204, ""},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		if c.sign {
			sign(r.Header, "m", at, []byte(c.body), key, nil)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.reason) {
			t.Errorf("%s: %d %s, want %d %q", c.body, w.Code, w.Body, c.status, c.reason)
		}
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("PUT", "/", nil))
	if w.Code != 405 {
		t.Errorf("PUT: %d", w.Code)
	}
}

func TestDecodeFormats(t *testing.T) {
	layerBody := []byte(`{"event":{"created_at":"2026-12-04T10:00:00.000Z","type":"conversation.created","id":"e"},` +
		`"conversation":{"id":"layer:///conversations/c","url":"u","created_at":"2026-12-04T10:00:00.000Z","messages_url":"m",` +
		`"distinct":false,"participants":["alice","bob"],"metadata":{}},"unknown":1}`)
	h := http.Header{"Content-Type": {"application/vnd.layer.webhooks+json; version=1.0"}, "Layer-Webhook-Event-Type": {"conversation.created"}}
	ev, err := receiver.Decode(h, layerBody)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.(*receiver.LayerEvent)
	if e.Version != "1.0" || len(e.Conversation.Participants) != 2 || e.Conversation.Participants[1].UserID != "bob" || e.ConversationID() != "layer:///conversations/c" {
		t.Fatalf("%+v", e)
	}
	if _, err := (receiver.Decoder{Strict: true}).Decode(h, layerBody); !errors.Is(err, receiver.ErrPayload) || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("strict: %v", err)
	}
	// The version may come from the User-Agent alone; an event of another
	// version is refused, as is a header that disagrees with the body.
	if _, err := receiver.Decode(http.Header{"User-Agent": {"layer-webhooks/3.0"}}, layerBody); !errors.Is(err, receiver.ErrUnknownEvent) {
		t.Fatalf("1.0 event as 3.0: %v", err)
	}
	h.Set("Layer-Webhook-Event-Type", "conversation.deleted")
	if _, err := receiver.Decode(h, layerBody); !errors.Is(err, receiver.ErrPayload) {
		t.Fatalf("header and body disagree: %v", err)
	}
	if _, err := receiver.Decode(http.Header{"Content-Type": {"application/vnd.layer.webhooks+json; version=4.0"}}, layerBody); !errors.Is(err, receiver.ErrUnknownVersion) {
		t.Fatalf("version 4.0: %v", err)
	}
}
