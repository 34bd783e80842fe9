package http_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/internal/seedtest"
	"github.com/heraldhq/herald/layer"
	rcv "github.com/heraldhq/herald/receiver"
)

// Tests of the receiver package against the deliveries of a running
// Herald: every event of every format and version, each signature scheme,
// decoded strictly, so that a field Herald starts sending without the
// package knowing it fails here.

// sdkReceiver serves the receiver package's Handler on 127.0.0.1 and keeps
// what it accepted and why it refused the rest.
type sdkReceiver struct {
	URL     string
	handler atomic.Pointer[rcv.Handler]

	mu      sync.Mutex
	got     []*rcv.Delivery
	refused []string
}

func newSDKReceiver(t *testing.T, v *rcv.Verifier) *sdkReceiver {
	t.Helper()
	rc := &sdkReceiver{}
	rc.use(v)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		rc.handler.Load().ServeHTTP(rec, r)
		if r.Method == http.MethodPost && rec.Code >= 300 {
			rc.mu.Lock()
			rc.refused = append(rc.refused, strconv.Itoa(rec.Code)+" "+strings.TrimSpace(rec.Body.String()))
			rc.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// use makes the receiver verify with v and decode strictly.
func (rc *sdkReceiver) use(v *rcv.Verifier) {
	rc.handler.Store(&rcv.Handler{Verifier: v, Decoder: rcv.Decoder{Strict: true},
		OnDelivery: func(_ context.Context, d *rcv.Delivery) error {
			rc.mu.Lock()
			rc.got = append(rc.got, d)
			rc.mu.Unlock()
			return nil
		}})
}

func (rc *sdkReceiver) deliveries() []*rcv.Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *sdkReceiver) refusals() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.refused)
}

// types lists the event types accepted so far, each once.
func (rc *sdkReceiver) types() []string {
	var out []string
	for _, d := range rc.deliveries() {
		if !slices.Contains(out, d.Event.EventType()) {
			out = append(out, d.Event.EventType())
		}
	}
	return out
}

// waitTypes waits until the receiver accepted every one of types, failing
// at once on a refusal.
func (rc *sdkReceiver) waitTypes(t *testing.T, types []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r := rc.refusals(); len(r) > 0 {
			t.Fatalf("the receiver refused deliveries: %q", r)
		}
		got := rc.types()
		missing := slices.DeleteFunc(slices.Clone(types), func(s string) bool { return slices.Contains(got, s) })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery of %v arrived; got %v", missing, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSettled waits until Herald has no delivery of the webhook left to
// send, and checks that the receiver accepted each one Herald delivered.
func (a *api) waitSettled(t *testing.T, webhookID string, rc *sdkReceiver) {
	t.Helper()
	eventually(t, func() bool {
		var pending []map[string]any
		a.do("GET", "/webhooks/"+webhookID+"/deliveries?status=pending", nil).must(t, 200).JSON(t, &pending)
		return len(pending) == 0
	}, "the deliveries of webhook %s to go out", webhookID)
	var failed, delivered []map[string]any
	a.do("GET", "/webhooks/"+webhookID+"/deliveries?status=failed", nil).must(t, 200).JSON(t, &failed)
	a.do("GET", "/webhooks/"+webhookID+"/deliveries?status=delivered&page_size=500", nil).must(t, 200).JSON(t, &delivered)
	if len(failed) > 0 {
		t.Fatalf("failed deliveries: %v; the receiver refused %q", failed, rc.refusals())
	}
	if got := rc.deliveries(); len(got) != len(delivered) {
		t.Fatalf("Herald delivered %d, the receiver accepted %d", len(delivered), len(got))
	}
}

// sdkWebhook registers a Layer webhook of every event of the version to rc
// and waits until it is active. It returns the webhook as created, with its
// signing secret.
func (a *api) sdkWebhook(t *testing.T, rc *sdkReceiver, version, secret string, asymmetric bool) map[string]any {
	t.Helper()
	types := rcv.LayerEventTypes(version)
	if !slices.Equal(types, layer.EventTypesOf(version)) {
		t.Fatalf("the receiver package lists %v for %s, Herald %v", types, version, layer.EventTypesOf(version))
	}
	wh := a.do("POST", "/webhooks", map[string]any{"version": version, "target_url": rc.URL, "events": types,
		"secret": secret, "asymmetric_signature": asymmetric, "config": map[string]any{"env": "test", "n": 1},
		// Retries come quickly, for the tests that refuse a delivery.
		"retry_schedule": slices.Repeat([]float64{0.2}, 20)}).must(t, 201).Map(t)
	id := localID(wh["id"])
	eventually(t, func() bool {
		return a.do("GET", "/webhooks/"+id, nil).must(t, 200).Map(t)["status"] == "active"
	}, "webhook %s to be active", id)
	return wh
}

// everyLayerEvent causes every event a Layer webhook of any version
// receives, and some it does not (identities, announcements, a deletion
// for one user), with every kind of sender and part.
func (a *api) everyLayerEvent(t *testing.T) {
	t.Helper()
	a.do("PUT", "/users/alice/identity", map[string]string{"display_name": "Alice A.",
		"avatar_url": "https://example.com/alice.png"}).must(t, 201)
	conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"},
		"metadata": map[string]any{"title": "Lunch", "place": map[string]any{"name": "Noodles"}}}).must(t, 201).Map(t)["id"])
	first := localID(a.sendText(t, conv, "alice", "hi")["id"])
	a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"name": "Bot"},
		"parts": []any{map[string]any{"mime_type": "text/plain", "body": "beep"}}}).must(t, 201)
	image := []byte("\x89PNG not really an image")
	c := a.do("POST", "/conversations/"+conv+"/content", nil, "Upload-Content-Type", "image/png",
		"Upload-Content-Length", strconv.Itoa(len(image))).must(t, 201).Map(t)
	a.doAs("", "PUT", c["upload_url"].(string), image).must(t, 200)
	a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"user_id": "bob"},
		"parts": []any{
			map[string]any{"mime_type": "image/png", "content": map[string]any{"id": c["id"], "size": len(image)}},
			map[string]any{"mime_type": "application/octet-stream", "body": "AAEC", "encoding": "base64"},
		}}).must(t, 201)
	a.do("POST", "/users/bob/messages/"+first+"/receipts", map[string]any{"type": "delivery"}).must(t, 204)
	a.do("POST", "/users/bob/messages/"+first+"/receipts", map[string]any{"type": "read"}).must(t, 204)
	a.layerPatch(t, "/conversations/"+conv, map[string]any{"operation": "set", "property": "metadata.title", "value": "Dinner"}).must(t, 204)
	a.layerPatch(t, "/conversations/"+conv, map[string]any{"operation": "add", "property": "participants", "value": "carol"}).must(t, 204)

	v3 := accept("3.0")
	m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender_id": "layer:///identities/alice",
		"parts": []any{partBody("", "one"), partBody("", "two")}}, v3...).must(t, 201).Map(t)
	parts := "/conversations/" + conv + "/messages/" + localID(m["id"]) + "/parts"
	added := localID(a.do("POST", parts, partBody("", "three"), v3...).must(t, 201).Map(t)["id"])
	a.do("PUT", parts+"/"+added, partBody("", "THREE"), v3...).must(t, 204)
	a.do("DELETE", parts+"/"+added, nil, v3...).must(t, 204)

	a.announce(t, "maintenance tonight", "alice", "bob")
	a.do("PUT", "/users/bob/identity", map[string]string{"display_name": "Bob"}).must(t, 201)
	a.do("DELETE", "/users/bob/messages/"+localID(m["id"])+"?mode=my_devices", nil).must(t, 204)
	a.do("DELETE", "/conversations/"+conv+"/messages/"+first, nil).must(t, 204)
	a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
}

func TestReceiverPackageLayerDeliveries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		type hook struct {
			version    string
			asymmetric bool
			rc         *sdkReceiver
			id         string
			keys       rcv.Verifier
		}
		hooks := []*hook{{version: "1.0"}, {version: "2.0", asymmetric: true}, {version: "3.0", asymmetric: true}}
		for _, h := range hooks {
			secret := "layer secret " + h.version
			// Herald's challenge comes before the keys are known: it is
			// answered on the Layer secret, which checks no challenge.
			h.rc = newSDKReceiver(t, &rcv.Verifier{LayerSecrets: []string{secret}})
			wh := a.sdkWebhook(t, h.rc, h.version, secret, h.asymmetric)
			h.id = localID(wh["id"])
			h.keys = rcv.Verifier{Secrets: []string{wh["signing_secret"].(string)}, LayerSecrets: []string{secret}}
			if h.asymmetric {
				h.keys.PublicKeys = []string{wh["signing_public_key"].(string)}
			}
			v := h.keys
			h.rc.use(&v)
		}

		a.everyLayerEvent(t)

		for _, h := range hooks {
			h.rc.waitTypes(t, rcv.LayerEventTypes(h.version))
			a.waitSettled(t, h.id, h.rc)
			want := []rcv.Scheme{rcv.SchemeV1, rcv.SchemeLayer}
			if h.asymmetric {
				want = []rcv.Scheme{rcv.SchemeV1, rcv.SchemeV1a, rcv.SchemeLayer}
			}
			for _, d := range h.rc.deliveries() {
				e := d.Event.(*rcv.LayerEvent)
				if !slices.Equal(d.Verified.Schemes, want) || d.Format != "layer" || d.Version != h.version || e.Version != h.version ||
					d.ID == "" || d.ID != d.Header.Get("Layer-Webhook-Request-Id") || !strings.HasSuffix(h.id, d.WebhookID[strings.LastIndex(d.WebhookID, "/")+1:]) {
					t.Errorf("%s %s: verified %v, format %s %s, id %q, webhook %q", h.version, e.Event.Type,
						d.Verified.Schemes, d.Format, d.Version, d.ID, d.WebhookID)
				}
				// Each key alone verifies too.
				for _, only := range []rcv.Verifier{{Secrets: h.keys.Secrets}, {PublicKeys: h.keys.PublicKeys}, {LayerSecrets: h.keys.LayerSecrets}} {
					if len(only.Secrets)+len(only.PublicKeys)+len(only.LayerSecrets) == 0 {
						continue
					}
					if _, err := only.Verify(d.Header, d.Body); err != nil {
						t.Errorf("%s %s with %+v alone: %v", h.version, e.Event.Type, only, err)
					}
				}
				if e.Event.ID == "" || e.Event.CreatedAt.IsZero() || e.ConversationID() == "" || string(e.Config) != `{"env":"test","n":1}` {
					t.Errorf("%s %s: event %+v, conversation %q, config %s", h.version, e.Event.Type, e.Event, e.ConversationID(), e.Config)
				}
			}
			checkLayerValues(t, h.version, h.rc.deliveries())
		}
		negativeChecks(t, hooks[1].rc.deliveries()[0], hooks[1].keys)
	})
}

// checkLayerValues checks what the typed values hold against what the
// events were made of.
func checkLayerValues(t *testing.T, version string, ds []*rcv.Delivery) {
	t.Helper()
	var sawBot, sawContent, sawBase64, sawMetadata, sawAlice, sawReceipt, sawPart bool
	for _, d := range ds {
		e := d.Event.(*rcv.LayerEvent)
		if m := e.Message; m != nil {
			if m.SentAt.IsZero() || len(m.Parts) == 0 || len(m.RecipientStatus) == 0 {
				t.Errorf("%s %s: message %+v", version, e.Event.Type, m)
			}
			switch {
			case m.Sender.Name == "Bot" || (m.Sender.DisplayName == "Bot" && version != "1.0"):
				sawBot = !m.Sender.IsUser()
			case m.Sender.UserID == "alice" && version != "1.0":
				sawAlice = m.Sender.DisplayName == "Alice A." && m.Sender.AvatarURL == "https://example.com/alice.png" &&
					m.Sender.ID == "layer:///identities/alice"
			}
			for _, p := range m.Parts {
				if p.Content != nil {
					sawContent = p.Content.Size == 24 && p.Content.DownloadURL != "" && p.Content.Expiration.After(time.Now()) && p.MimeType == "image/png"
				}
				if p.Encoding == "base64" {
					sawBase64 = p.Body == "AAEC"
				}
			}
			if version == "3.0" && m.Position == 0 {
				t.Errorf("3.0 %s: message without position", e.Event.Type)
			}
		}
		if c := e.Conversation; c != nil && bytes.Contains(c.Metadata, []byte(`"Noodles"`)) && len(c.Participants) >= 2 {
			sawMetadata = c.Participants[0].UserID == "alice" && !c.CreatedAt.IsZero()
		}
		if r := e.Receipt; r != nil {
			sawReceipt = (r.Type == "Read" || r.Type == "Delivery") && r.Positions.From == 1 && e.Who().UserID == "bob"
		}
		if (e.Event.Type == "message.read" || e.Event.Type == "message.delivered") && e.Who().UserID == "bob" {
			sawReceipt = true
		}
		if p := e.MessagePart; p != nil {
			sawPart = strings.HasPrefix(p.ID, e.Message.ID+"/parts/") && strings.HasPrefix(p.Body, "")
		}
	}
	if !sawBot || !sawContent || !sawBase64 || !sawMetadata || !sawReceipt {
		t.Errorf("%s: bot %v, content %v, base64 %v, metadata %v, receipt %v", version, sawBot, sawContent, sawBase64, sawMetadata, sawReceipt)
	}
	if version != "1.0" && !sawAlice {
		t.Errorf("%s: alice's identity not seen", version)
	}
	if version == "3.0" && !sawPart {
		t.Errorf("3.0: no message part")
	}
}

// negativeChecks alters a real delivery every way a receiver must refuse,
// for each kind of key the webhook has.
func negativeChecks(t *testing.T, d *rcv.Delivery, keys rcv.Verifier) {
	t.Helper()
	var alone, wrong []rcv.Verifier
	if len(keys.Secrets) > 0 {
		alone = append(alone, rcv.Verifier{Secrets: keys.Secrets})
		wrong = append(wrong, rcv.Verifier{Secrets: []string{"whsec_" + "d3Jvbmcgc2VjcmV0IG9mIDI0IGJ5dGVz"}})
	}
	if len(keys.PublicKeys) > 0 {
		alone = append(alone, rcv.Verifier{PublicKeys: keys.PublicKeys})
		wrong = append(wrong, rcv.Verifier{PublicKeys: []string{"whpk_" + "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="}})
	}
	if len(keys.LayerSecrets) > 0 {
		alone = append(alone, rcv.Verifier{LayerSecrets: keys.LayerSecrets})
		wrong = append(wrong, rcv.Verifier{LayerSecrets: []string{"not the secret"}})
	}
	tampered := bytes.Replace(d.Body, []byte(`"event"`), []byte(`"Event"`), 1)
	for _, v := range append(alone, keys) {
		if _, err := v.Verify(d.Header, tampered); !errors.Is(err, rcv.ErrBadSignature) {
			t.Errorf("a tampered body verified with %+v: %v", v, err)
		}
	}
	for _, v := range wrong {
		if _, err := v.Verify(d.Header, d.Body); !errors.Is(err, rcv.ErrBadSignature) {
			t.Errorf("verified with a wrong key %+v: %v", v, err)
		}
	}
	// A right key beside a wrong one verifies: a rotation's overlap.
	both := rcv.Verifier{Secrets: append([]string{wrong[0].Secrets[0]}, keys.Secrets...)}
	if _, err := both.Verify(d.Header, d.Body); err != nil {
		t.Errorf("the right secret after a wrong one: %v", err)
	}
	signed := d.Verified.Timestamp
	for _, c := range []struct {
		now  time.Time
		want error
	}{{signed.Add(6 * time.Minute), rcv.ErrTimestampTooOld}, {signed.Add(-6 * time.Minute), rcv.ErrTimestampTooNew}} {
		v := keys
		v.Now = func() time.Time { return c.now }
		if _, err := v.Verify(d.Header, d.Body); !errors.Is(err, c.want) {
			t.Errorf("verified at %v: %v, want %v", c.now.Sub(signed), err, c.want)
		}
		v.Tolerance = 10 * time.Minute
		if _, err := v.Verify(d.Header, d.Body); err != nil {
			t.Errorf("with a tolerance of 10 minutes, at %v: %v", c.now.Sub(signed), err)
		}
	}
	stripped := d.Header.Clone()
	for _, h := range []string{"Webhook-Signature", "Layer-Webhook-Signature", "X-Callbell-Signature"} {
		stripped.Del(h)
	}
	if _, err := keys.Verify(stripped, d.Body); !errors.Is(err, rcv.ErrMissingHeader) {
		t.Errorf("without signatures: %v", err)
	}
}

// A rotation: during the grace period the old keys and the new verify;
// Layer's one signature follows the new Layer secret; once a rotation
// without grace is done, the old keys no longer verify. A receiver holding
// a wrong key answers 401, with the reason in Herald's delivery log.
func TestReceiverPackageRotation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newSDKReceiver(t, &rcv.Verifier{LayerSecrets: []string{"old layer"}})
		wh := a.sdkWebhook(t, rc, "2.0", "old layer", true)
		id := localID(wh["id"])
		old := rcv.Verifier{Secrets: []string{wh["signing_secret"].(string)}, PublicKeys: []string{wh["signing_public_key"].(string)},
			LayerSecrets: []string{"old layer"}}
		v := old
		rc.use(&v)
		conv := a.newConversation(t, "alice", "bob")
		a.sendText(t, conv, "alice", "before")
		rc.waitTypes(t, []string{"conversation.created", "message.sent"})

		rot := a.do("POST", "/webhooks/"+id+"/rotate_secret", map[string]any{"secret": "new layer", "grace_period_seconds": 3600}).must(t, 200).Map(t)
		next := rcv.Verifier{Secrets: []string{rot["signing_secret"].(string)}, PublicKeys: []string{rot["signing_public_key"].(string)},
			LayerSecrets: []string{"new layer"}}
		overlap := rcv.Verifier{Secrets: append(old.Secrets, next.Secrets...), PublicKeys: append(old.PublicKeys, next.PublicKeys...),
			LayerSecrets: append(old.LayerSecrets, next.LayerSecrets...)}
		rc.use(&overlap)
		a.sendText(t, conv, "bob", "during")
		eventually(t, func() bool { return len(rc.deliveries()) == 3 }, "the delivery after the rotation")
		d := rc.deliveries()[2]
		for name, v := range map[string]rcv.Verifier{
			"old secret": {Secrets: old.Secrets}, "new secret": {Secrets: next.Secrets},
			"old public key": {PublicKeys: old.PublicKeys}, "new public key": {PublicKeys: next.PublicKeys},
			"new layer secret": {LayerSecrets: next.LayerSecrets}, "both": overlap,
		} {
			if _, err := v.Verify(d.Header, d.Body); err != nil {
				t.Errorf("during the grace period, the %s: %v", name, err)
			}
		}
		if _, err := (&rcv.Verifier{LayerSecrets: old.LayerSecrets}).Verify(d.Header, d.Body); !errors.Is(err, rcv.ErrBadSignature) {
			t.Errorf("the replaced Layer secret verified: %v", err)
		}

		// No grace: the keys of before are gone.
		rot = a.do("POST", "/webhooks/"+id+"/rotate_secret", map[string]any{"grace_period_seconds": 0}).must(t, 200).Map(t)
		last := rcv.Verifier{Secrets: []string{rot["signing_secret"].(string)}, PublicKeys: []string{rot["signing_public_key"].(string)},
			LayerSecrets: next.LayerSecrets}
		rc.use(&last)
		a.sendText(t, conv, "bob", "after")
		eventually(t, func() bool { return len(rc.deliveries()) == 4 }, "the delivery after the second rotation")
		d = rc.deliveries()[3]
		for name, v := range map[string]rcv.Verifier{"first secret": {Secrets: old.Secrets}, "second secret": {Secrets: next.Secrets},
			"second public key": {PublicKeys: next.PublicKeys}} {
			if _, err := v.Verify(d.Header, d.Body); !errors.Is(err, rcv.ErrBadSignature) {
				t.Errorf("after a rotation without grace, the %s: %v", name, err)
			}
		}

		// A receiver holding a key Herald no longer signs with refuses the
		// delivery; Herald logs the 401 and its reason, and retries.
		rc.use(&rcv.Verifier{Secrets: old.Secrets})
		a.sendText(t, conv, "bob", "refused")
		eventually(t, func() bool { return len(rc.refusals()) > 0 }, "a refusal")
		var failing []map[string]any
		eventually(t, func() bool {
			a.do("GET", "/webhooks/"+id+"/deliveries?status=pending", nil).must(t, 200).JSON(t, &failing)
			return len(failing) == 1 && failing[0]["last_status_code"] == float64(401)
		}, "Herald to log the 401")
		logged := a.do("GET", "/webhooks/"+id+"/deliveries/"+failing[0]["id"].(string), nil).must(t, 200).Map(t)
		attempts, _ := logged["attempt_log"].([]any)
		if len(attempts) == 0 || !strings.Contains(obj(t, attempts[0])["response_body"].(string), "v1 signature: signature does not match") {
			t.Fatalf("attempt log %v", logged["attempt_log"])
		}
		rc.use(&last)
		eventually(t, func() bool { return len(rc.deliveries()) == 5 }, "the retried delivery, once the receiver has the key")
	})
}

// Callbell-format deliveries: every event, both signatures (Standard
// Webhooks with v1 and v1a, and X-Callbell-Signature), decoded strictly.
func TestReceiverPackageCallbellDeliveries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		all := rcv.CallbellEventTypes()
		if !slices.Equal(all, callbell.EventTypes) {
			t.Fatalf("the receiver package lists %v, Herald %v", all, callbell.EventTypes)
		}
		rc := newSDKReceiver(t, &rcv.Verifier{LayerSecrets: []string{"unused until subscribed"}})
		res := a.v1(t, "POST", "/webhooks/subscribe", map[string]any{"url": rc.URL, "subscriptions": all,
			"asymmetric_signature": true, "config": map[string]any{"context_field": "both"}}).must(t, 201).Map(t)
		pk, _ := obj(t, a.v1(t, "GET", "/webhooks", nil).must(t, 200).Map(t)["webhook"])["signingPublicKey"].(string)
		keys := rcv.Verifier{Secrets: []string{res["secret"].(string)}, PublicKeys: []string{pk}}
		rc.use(&keys)

		channel := a.cbChannel(t, "14155550100")
		contact := a.cbContact(t, map[string]any{"identifier": "331100000001", "source": "whatsapp", "name": "Jane",
			"tags": []string{"Lead"}, "custom_fields": map[string]any{"plan": "pro"}})
		uuid := contact["uuid"].(string)
		a.v1(t, "PATCH", "/contacts/"+uuid, map[string]any{"name": "Jane Q.", "tags": []string{"vip"}}).must(t, 200)
		in := a.cbInbound(t, channel, map[string]any{"from": "331100000001", "content": map[string]any{"text": "Where are you?",
			"location": map[string]any{"coordinates": map[string]any{"x": 48.85, "y": 2.35}, "googleMapsLocation": "https://maps.google.com/?q=48.85,2.35"}},
			"external_id": "wamid.1", "metadata": map[string]any{"k": "v"}})
		a.cbInbound(t, channel, map[string]any{"from": "331100000001", "content": map[string]any{"text": "hello?"}, "reply_to": in,
			"forwarded": true, "external_id": "wamid.2"})
		out := a.cbSend(t, map[string]any{"to": "331100000001", "type": "contact_card", "content": map[string]any{
			"contact_card": map[string]any{"contactsInfo": []any{map[string]any{"name": "Support", "phones": []any{"+14155550100"}}}}},
			"metadata": map[string]any{"order": "42"}})
		a.cbStatus(t, out, "delivered").must(t, 200)
		a.v1(t, "POST", "/contacts/"+uuid+"/conversation/close", map[string]any{"closing_reason": "done"}).must(t, 200)
		a.v1(t, "POST", "/contacts/"+uuid+"/conversation/open", nil).must(t, 200)
		status := a.agStatus(t, "Lunch", "🍙")
		ann := a.agUser(t, "ann@example.com", "Ann")
		uid := ann["uuid"].(string)
		team := a.agTeam(t, map[string]any{"name": "Support"})
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"available": false, "custom_status_uuid": status["id"]}).must(t, 200)
		a.v1tDo("POST", "/users/"+uid+"/session", map[string]any{"action": "user_logged_in"}).must(t, 200)
		a.v1tDo("PUT", "/teams/"+team["uuid"].(string)+"/members/"+uid, nil).must(t, 200)
		a.v1(t, "DELETE", "/contacts/"+uuid, nil).must(t, 200)

		rc.waitTypes(t, all)
		var webhookID string
		var hooks []map[string]any
		a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &hooks)
		for _, h := range hooks {
			if h["format"] == "callbell" {
				webhookID = localID(h["id"])
			}
		}
		a.waitSettled(t, webhookID, rc)

		var sawLocation, sawContext, sawCard, sawStatus, sawClosed, sawCustom bool
		for _, d := range rc.deliveries() {
			want := []rcv.Scheme{rcv.SchemeV1, rcv.SchemeV1a, rcv.SchemeCallbell}
			if !slices.Equal(d.Verified.Schemes, want) || d.Format != "callbell" || d.ID == "" {
				t.Errorf("%s: verified %v, format %s, id %q", d.Event.EventType(), d.Verified.Schemes, d.Format, d.ID)
			}
			if _, err := (&rcv.Verifier{Secrets: keys.Secrets}).Verify(http.Header{"X-Callbell-Signature": d.Header.Values("X-Callbell-Signature")}, d.Body); err != nil {
				t.Errorf("%s: X-Callbell-Signature alone: %v", d.Event.EventType(), err)
			}
			e := d.Event.(*rcv.CallbellEvent)
			switch p := e.Payload.(type) {
			case *rcv.CallbellMessageCreated:
				if p.Contact == nil || p.Contact.Channel == nil || p.CreatedAt.IsZero() || e.ConversationID() == "" {
					t.Errorf("message_created %+v", p)
				}
				sawLocation = sawLocation || (len(p.MessageLocation) > 0 && p.Metadata["k"] == "v")
				sawContext = sawContext || (p.MessageContext != nil && p.MesageContext != nil && p.Context().Target.Text == "Where are you?" && p.MessageForward != nil)
				sawCard = sawCard || bytes.Contains(p.MessageContactCard, []byte("Support"))
			case *rcv.CallbellMessageStatusUpdated:
				sawStatus = p.Status == "delivered" && p.UUID == out && p.Metadata["order"] == "42"
			case *rcv.CallbellConversation:
				if e.Event == rcv.CallbellConversationClosedEvent {
					sawClosed = p.ClosedAt != nil && p.ClosingReason != nil && *p.ClosingReason == "done"
				}
			case *rcv.CallbellContact:
				if p.CustomFields["plan"] != "pro" || p.UUID != uuid || p.CreatedAt.IsZero() {
					t.Errorf("%s %+v", e.Event, p)
				}
			case *rcv.CallbellContactDeleted:
				if p.UUID != uuid || p.Deleted.IsZero() {
					t.Errorf("contact_deleted %+v", p)
				}
			case *rcv.CallbellTeamMember:
				sawCustom = sawCustom || (p.UserCustomStatus != nil && p.UserCustomStatus.Emoji == "🍙")
			case *rcv.CallbellAgentSession:
				if p.Action != "user_logged_in" || p.User.Email != "ann@example.com" {
					t.Errorf("agent_session_updated %+v", p)
				}
			case *rcv.CallbellTeamMembership:
				if p.Team.Name != "Support" || p.User.Name != "Ann" || p.LastUpdateAt.IsZero() {
					t.Errorf("team_membership_updated %+v", p)
				}
			default:
				t.Errorf("%s decoded as %T", e.Event, p)
			}
		}
		if !sawLocation || !sawContext || !sawCard || !sawStatus || !sawClosed || !sawCustom {
			t.Errorf("location %v, context %v, contact card %v, status %v, closed %v, custom status %v",
				sawLocation, sawContext, sawCard, sawStatus, sawClosed, sawCustom)
		}
		negativeChecks(t, rc.deliveries()[0], keys)
	})
}

// The payloads of Layer's and Callbell's docs, which Herald's goldens
// reproduce, decode strictly.
func TestReceiverPackageSeeds(t *testing.T) {
	t.Parallel()
	for name, version := range map[string]string{"layer-message-sent.md": "1.0", "layer-message-deleted.md": "2.0",
		"callbell-message-created.md": "", "callbell-message-created.fr.md": ""} {
		body := seedtest.Payload(t, name)
		var ev rcv.Event
		var err error
		if version != "" {
			ev, err = rcv.Decoder{Strict: true}.DecodeLayer(version, body)
		} else {
			ev, err = rcv.Decoder{Strict: true}.DecodeCallbell(body)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// Callbell's own conversationHref is a dashboard page, no
		// conversation of Herald's.
		if ev.EventType() == "" || (version != "" && ev.ConversationID() == "") {
			t.Errorf("%s: %+v", name, ev)
		}
	}
}
