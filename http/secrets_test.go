package http_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/stdwebhooks"
)

// Webhook keys: rotation with a grace period, ed25519 signatures. Each test
// checks the deliveries a loopback receiver gets with each key alone.

// verifiesWith reports whether a delivery's Standard Webhooks signature
// verifies with key alone ("whsec_…" or "whpk_…"); for a "whsec_" secret
// the specification's reference library must agree.
func verifiesWith(t *testing.T, h *hit, key string) bool {
	t.Helper()
	err := stdwebhooks.Verify(key, h.Header, h.Body, time.Now())
	if strings.HasPrefix(key, stdwebhooks.SecretPrefix) {
		ref, rerr := standardwebhooks.NewWebhook(key)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if refErr := ref.Verify(h.Body, h.Header); (refErr == nil) != (err == nil) {
			t.Fatalf("Herald's verifier says %v, the reference library %v", err, refErr)
		}
	}
	if err != nil && err != stdwebhooks.ErrSignature {
		t.Fatalf("verifying with %s…: %v", key[:8], err)
	}
	return err == nil
}

// waitUntil sleeps until t has passed.
func waitUntil(t *testing.T, rfc3339 string) {
	t.Helper()
	until, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(until) + 50*time.Millisecond)
}

// A rotation gives a Layer webhook a new signing secret, shown once; for
// the grace period each delivery verifies with the old secret and with the
// new one, each alone; afterwards only with the new one. Layer's header,
// which has room for one signature, is signed with the new Layer secret
// from the rotation on. Secrets are never shown again.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, hookBody(rc.URL, "message.sent"))
		id := localID(wh["id"])
		oldKey := wh["signing_secret"].(string)
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "before")
		h := rc.waitAccepted(t, 1)[0]
		if !verifiesWith(t, h, oldKey) || h.Header.Get("layer-webhook-signature") != layerSignature(testSecret, h.Body) {
			t.Fatal("the first delivery does not verify")
		}

		// Refused rotations change nothing.
		for _, bad := range []struct {
			body     any
			property string
		}{
			{map[string]any{"grace_period_seconds": -1}, "grace_period_seconds"},
			{map[string]any{"grace_period_seconds": 7*24*3600 + 1}, "grace_period_seconds"},
			{map[string]any{"grace_period_seconds": "1h"}, "grace_period_seconds"},
			{map[string]any{"secret": ""}, "secret"},
		} {
			a.do("POST", "/webhooks/"+id+"/rotate_secret", bad.body).wantError(t, 422, "invalid_property", bad.property)
		}
		a.do("POST", "/webhooks/"+id+"/rotate_secret", "[1]").wantError(t, 400, "invalid_request", "")
		// Another app's webhook is not found, by its path or by its id.
		b := a.cbwAs(t, "other")
		b.do("POST", "/webhooks/"+id+"/rotate_secret", nil).wantError(t, 404, "not_found", "")
		a.doAs(b.Token, "POST", "/webhooks/"+id+"/rotate_secret", nil).wantError(t, 404, "not_found", "")

		const newLayerSecret = "the new layer secret"
		res := a.do("POST", "/webhooks/"+id+"/rotate_secret",
			map[string]any{"secret": newLayerSecret, "grace_period_seconds": 3}).must(t, 200).Map(t)
		newKey, _ := res["signing_secret"].(string)
		if !strings.HasPrefix(newKey, "whsec_") || newKey == oldKey {
			t.Fatalf("rotation response: %v", res)
		}
		rotation := obj(t, res["rotation"])
		graceUntil := rotation["grace_until"].(string)
		got := a.webhook(t, id)
		if r := obj(t, got["rotation"]); r["grace_until"] != graceUntil {
			t.Fatalf("GET shows the rotation %v, want grace until %s", r, graceUntil)
		}
		for _, secret := range []string{oldKey, newKey, newLayerSecret, testSecret} {
			for _, r := range []*response{a.do("GET", "/webhooks/"+id, nil), a.do("GET", "/webhooks", nil)} {
				if strings.Contains(string(r.Body), secret) {
					t.Fatalf("a secret is shown: %s", r.Body)
				}
			}
		}

		a.sendText(t, conv, "alice", "during")
		h = rc.waitAccepted(t, 2)[1]
		if !verifiesWith(t, h, oldKey) || !verifiesWith(t, h, newKey) {
			t.Fatalf("during the grace period a delivery does not verify with each key: %s", h.Header.Get("webhook-signature"))
		}
		if n := len(strings.Fields(h.Header.Get("webhook-signature"))); n != 2 {
			t.Fatalf("%d signatures during the grace period, want 2", n)
		}
		if h.Header.Get("layer-webhook-signature") != layerSignature(newLayerSecret, h.Body) {
			t.Fatal("Layer's signature is not made with the new Layer secret")
		}

		waitUntil(t, graceUntil)
		if _, ok := a.webhook(t, id)["rotation"]; ok {
			t.Fatal("GET still shows the rotation after its grace period")
		}
		a.sendText(t, conv, "alice", "after")
		h = rc.waitAccepted(t, 3)[2]
		if !verifiesWith(t, h, newKey) || verifiesWith(t, h, oldKey) {
			t.Fatalf("after the grace period: %s", h.Header.Get("webhook-signature"))
		}

		// Without a body: 24 hours, the Layer secret kept.
		res = a.do("POST", "/webhooks/"+id+"/rotate_secret", nil).must(t, 200).Map(t)
		until, _ := time.Parse(time.RFC3339Nano, obj(t, res["rotation"])["grace_until"].(string))
		if d := time.Until(until); d < 23*time.Hour || d > 25*time.Hour {
			t.Fatalf("the default grace period ends in %s", d)
		}
		third := res["signing_secret"].(string)
		// A grace period of 0 drops the replaced keys at once.
		res = a.do("POST", "/webhooks/"+id+"/rotate_secret", map[string]any{"grace_period_seconds": 0}).must(t, 200).Map(t)
		if _, ok := res["rotation"]; ok {
			t.Fatalf("a rotation without a grace period shows one: %v", res)
		}
		fourth := res["signing_secret"].(string)
		a.sendText(t, conv, "alice", "at once")
		h = rc.waitAccepted(t, 4)[3]
		if !verifiesWith(t, h, fourth) || verifiesWith(t, h, third) || verifiesWith(t, h, newKey) {
			t.Fatalf("after a rotation without a grace period: %s", h.Header.Get("webhook-signature"))
		}
		if h.Header.Get("layer-webhook-signature") != layerSignature(newLayerSecret, h.Body) {
			t.Fatal("a rotation without a secret changed the Layer secret")
		}
	})
}

// ed25519: a webhook created with asymmetric_signature signs each delivery
// with v1a too, which its public key (shown on GET) verifies, here with
// crypto/ed25519 on the message the specification defines, apart from
// Herald's verifier. A rotation replaces the key pair, the old one signing
// through the grace period; it can also remove it.
func TestWebhookAsymmetricSignature(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		wh := a.verifiedWebhook(t, withKey(hookBody(rc.URL, "message.sent"), "asymmetric_signature", true))
		id := localID(wh["id"])
		pk, _ := wh["signing_public_key"].(string)
		if !strings.HasPrefix(pk, "whpk_") || a.webhook(t, id)["signing_public_key"] != pk {
			t.Fatalf("public key %q; GET shows %v", pk, a.webhook(t, id)["signing_public_key"])
		}
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "signed twice")
		h := rc.waitAccepted(t, 1)[0]
		sigs := strings.Fields(h.Header.Get("webhook-signature"))
		if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1a,") {
			t.Fatalf("webhook-signature %q", h.Header.Get("webhook-signature"))
		}
		pub, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, "whpk_"))
		sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sigs[1], "v1a,"))
		msg := h.Header.Get("webhook-id") + "." + h.Header.Get("webhook-timestamp") + "." + string(h.Body)
		if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, []byte(msg), sig) {
			t.Fatal("the v1a signature does not verify with the public key")
		}
		if !verifiesWith(t, h, pk) || !verifiesWith(t, h, wh["signing_secret"].(string)) {
			t.Fatal("Herald's verifier disagrees")
		}

		res := a.do("POST", "/webhooks/"+id+"/rotate_secret", map[string]any{"grace_period_seconds": 60}).must(t, 200).Map(t)
		newPK := res["signing_public_key"].(string)
		if newPK == pk || obj(t, a.webhook(t, id)["rotation"])["previous_signing_public_key"] != pk {
			t.Fatalf("after a rotation: %v", a.webhook(t, id))
		}
		a.sendText(t, conv, "alice", "rotated")
		h = rc.waitAccepted(t, 2)[1]
		if n := len(strings.Fields(h.Header.Get("webhook-signature"))); n != 4 || !verifiesWith(t, h, pk) || !verifiesWith(t, h, newPK) {
			t.Fatalf("during the grace period: %q", h.Header.Get("webhook-signature"))
		}

		res = a.do("POST", "/webhooks/"+id+"/rotate_secret",
			map[string]any{"grace_period_seconds": 0, "asymmetric_signature": false}).must(t, 200).Map(t)
		if _, ok := res["signing_public_key"]; ok {
			t.Fatalf("the key pair was not removed: %v", res)
		}
		a.sendText(t, conv, "alice", "symmetric only")
		h = rc.waitAccepted(t, 3)[2]
		if sigs := strings.Fields(h.Header.Get("webhook-signature")); len(sigs) != 1 || !verifiesWith(t, h, res["signing_secret"].(string)) {
			t.Fatalf("without a key pair: %q", sigs)
		}
	})
}

// The Callbell webhook's rotation (Herald's addition to Callbell's API):
// the new secret keys both X-Callbell-Signature and Standard Webhooks, and
// for the grace period both headers carry a signature of each secret.
func TestCallbellSecretRotation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("POST", "//v1/webhooks/rotate_secret", nil).wantError(t, 404, "not_found", "")
		rc := newReceiver(t)
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		oldSecret := a.cbwSubscribe(t, 201, rc.URL, "contact_created")["secret"].(string)
		contact := func(n int, number string) *hit {
			t.Helper()
			a.v1tDo("POST", "/messages/send", a.withTemplate(t, withKey(v1tSendBody(), "to", number))).must(t, 201)
			return rc.waitHits(t, n)[n-1]
		}
		callbellVerifies := func(h *hit, secret string) bool {
			t.Helper()
			err := callbell.Verify(secret, h.Header.Get(callbell.SignatureHeader), h.Body, time.Now(), callbell.DefaultTolerance)
			if err != nil && err != callbell.ErrSignature {
				t.Fatal(err)
			}
			return err == nil
		}

		for _, bad := range []struct {
			body     any
			property string
		}{
			{map[string]any{"grace_period_seconds": -5}, "grace_period_seconds"},
			{map[string]any{"secret": "mine"}, "secret"},
		} {
			a.do("POST", "//v1/webhooks/rotate_secret", bad.body).wantError(t, 422, "invalid_property", bad.property)
		}
		res := a.do("POST", "//v1/webhooks/rotate_secret", map[string]any{"grace_period_seconds": 3}).must(t, 200).Map(t)
		wantKeys(t, "rotation response", res, "webhook", "secret")
		newSecret := res["secret"].(string)
		graceUntil := obj(t, obj(t, res["webhook"])["rotation"])["graceUntil"].(string)
		got := a.do("GET", "//v1/webhooks", nil).must(t, 200)
		if strings.Contains(string(got.Body), newSecret) || strings.Contains(string(got.Body), oldSecret) ||
			!strings.Contains(string(got.Body), graceUntil) {
			t.Fatalf("GET /v1/webhooks during the grace period: %s", got.Body)
		}

		h := contact(1, "+33 6 22 22 22 22")
		for _, s := range []string{oldSecret, newSecret} {
			if !callbellVerifies(h, s) || !verifiesWith(t, h, s) {
				t.Fatalf("during the grace period a delivery does not verify with %s…: %q, %q", s[:10],
					h.Header.Get(callbell.SignatureHeader), h.Header.Get("webhook-signature"))
			}
		}
		waitUntil(t, graceUntil)
		h = contact(2, "+33 6 33 33 33 33")
		if !callbellVerifies(h, newSecret) || !verifiesWith(t, h, newSecret) || callbellVerifies(h, oldSecret) || verifiesWith(t, h, oldSecret) {
			t.Fatalf("after the grace period: %q, %q", h.Header.Get(callbell.SignatureHeader), h.Header.Get("webhook-signature"))
		}
		// Re-subscribing keeps the keys, and cannot add an ed25519 key.
		a.cbwSubscribe(t, 200, rc.URL, "contact_created")
		a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": rc.URL, "subscriptions": []string{"contact_created"},
			"asymmetric_signature": true}).wantError(t, 422, "invalid_property", "asymmetric_signature")
		h = contact(3, "+33 6 44 44 44 44")
		if !callbellVerifies(h, newSecret) {
			t.Fatal("re-subscribing changed the secret")
		}
	})
}
