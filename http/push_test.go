package http_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/push"
	"github.com/heraldhq/herald/stdwebhooks"
)

// Loopback servers that speak APNs, FCM's OAuth token endpoint and HTTP v1
// API, and a push webhook receiver, each checking what Herald sends as the
// real service would, and recording what they accepted.

const (
	testTeamID   = "TEAM123456"
	testKeyID    = "KEY1234567"
	testBundle   = "com.example.app"
	testProject  = "herald-test"
	testSAEmail  = "push@herald-test.iam.gserviceaccount.com"
	testAccess   = "ya29.test-access-token"
	apnsBadToken = "bad-device-token"
	fcmGoneToken = "unregistered-token"
	// Tokens whose first attempt the services refuse with 503 (APNs) and
	// 429 (FCM), and accept afterwards.
	apnsFlakyToken = "flaky-apns-token"
	fcmBusyToken   = "busy-fcm-token"
	// A token whose first attempt APNs answers 403 ExpiredProviderToken:
	// the retry must come with a new provider token.
	apnsExpiredJWT = "expired-jwt-token"
)

type received struct {
	Token string
	Body  map[string]any
}

type pushServers struct {
	t       *testing.T
	apnsKey *ecdsa.PrivateKey
	saKey   *rsa.PrivateKey
	apns    *httptest.Server
	google  *httptest.Server

	mu            sync.Mutex
	apnsGot       []received
	fcmGot        []received
	attempts      map[string]int
	tokenRequests int
	expiredBearer string
}

func newPushServers(t *testing.T) *pushServers {
	s := &pushServers{t: t, attempts: map[string]int{}}
	var err error
	if s.apnsKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if s.saKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	s.apns = httptest.NewUnstartedServer(http.HandlerFunc(s.serveAPNS))
	s.apns.EnableHTTP2 = true
	s.apns.StartTLS()
	t.Cleanup(s.apns.Close)
	s.google = httptest.NewServer(http.HandlerFunc(s.serveGoogle))
	t.Cleanup(s.google.Close)
	return s
}

func pemOf(t *testing.T, typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func (s *pushServers) apnsPEM() string {
	der, err := x509.MarshalPKCS8PrivateKey(s.apnsKey)
	if err != nil {
		s.t.Fatal(err)
	}
	return pemOf(s.t, "PRIVATE KEY", der)
}

func (s *pushServers) serviceAccount() map[string]any {
	der, err := x509.MarshalPKCS8PrivateKey(s.saKey)
	if err != nil {
		s.t.Fatal(err)
	}
	return map[string]any{"type": "service_account", "project_id": testProject, "private_key_id": "k1",
		"private_key": pemOf(s.t, "PRIVATE KEY", der), "client_email": testSAEmail, "token_uri": s.google.URL + "/token"}
}

// sender starts a push sender for the API, pointed at the servers.
func (s *pushServers) sender(t *testing.T, a *api, configure ...func(*push.Sender)) *push.Sender {
	pool := x509.NewCertPool()
	pool.AddCert(s.apns.Certificate())
	snd := &push.Sender{Store: a.Store, Service: a.Service, APNSURL: s.apns.URL, FCMURL: s.google.URL,
		AllowTargets: loopback, TLSConfig: &tls.Config{RootCAs: pool}, PollInterval: 50 * time.Millisecond,
		MinRetryDelay: 20 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, AttemptTimeout: 5 * time.Second}
	for _, c := range configure {
		c(snd)
	}
	if err := snd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	prev := a.Service.Notify
	a.Service.Notify = func() {
		prev()
		snd.Notify()
	}
	t.Cleanup(func() { snd.Stop(context.Background()) })
	return snd
}

// firstAttempt counts an attempt for a token and reports whether it is the
// first.
func (s *pushServers) firstAttempt(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[token]++
	return s.attempts[token] == 1
}

func apnsError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"reason":%q}`, reason)
}

func (s *pushServers) serveAPNS(w http.ResponseWriter, r *http.Request) {
	t := s.t
	if r.ProtoMajor != 2 || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/3/device/") {
		t.Errorf("APNs request %s %s over %s", r.Method, r.URL.Path, r.Proto)
		apnsError(w, 405, "MethodNotAllowed")
		return
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
	var claims jwt.MapClaims
	tok, err := jwt.ParseWithClaims(bearer, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != testKeyID {
			return nil, fmt.Errorf("kid %v", tok.Header["kid"])
		}
		return &s.apnsKey.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuedAt())
	if !ok || err != nil || !tok.Valid || claims["iss"] != testTeamID || claims["iat"] == nil {
		t.Errorf("APNs provider token %q: %v, claims %v", bearer, err, claims)
		apnsError(w, 403, "InvalidProviderToken")
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("APNs body: %v", err)
	}
	// Apple requires background pushes (content-available, no alert) to
	// say so, at priority 5.
	wantType, wantPriority := "alert", "10"
	if jpath(body, "aps", "content-available") == 1.0 {
		wantType, wantPriority = "background", "5"
	}
	for h, want := range map[string]string{"apns-topic": testBundle, "apns-push-type": wantType, "apns-priority": wantPriority} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("APNs %s: %q, want %q", h, got, want)
		}
	}
	if exp := r.Header.Get("apns-expiration"); len(exp) != 10 {
		t.Errorf("apns-expiration %q is not a Unix time", exp)
	}
	device := strings.TrimPrefix(r.URL.Path, "/3/device/")
	first := s.firstAttempt(device)
	switch {
	case device == apnsBadToken:
		apnsError(w, 400, "BadDeviceToken")
		return
	case strings.HasPrefix(device, apnsExpiredJWT) && first:
		s.mu.Lock()
		s.expiredBearer = bearer
		s.mu.Unlock()
		apnsError(w, 403, "ExpiredProviderToken")
		return
	case strings.HasPrefix(device, apnsExpiredJWT):
		s.mu.Lock()
		expired := s.expiredBearer
		s.mu.Unlock()
		if bearer == expired {
			t.Errorf("the provider token APNs said expired was sent again")
			apnsError(w, 403, "ExpiredProviderToken")
			return
		}
	case strings.HasPrefix(device, apnsFlakyToken) && first:
		apnsError(w, 503, "ServiceUnavailable")
		return
	}
	s.mu.Lock()
	s.apnsGot = append(s.apnsGot, received{device, body})
	s.mu.Unlock()
	w.Header().Set("apns-id", r.Header.Get("apns-id"))
}

func (s *pushServers) serveGoogle(w http.ResponseWriter, r *http.Request) {
	t := s.t
	if r.URL.Path == "/token" {
		r.ParseForm()
		var claims jwt.MapClaims
		_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(*jwt.Token) (any, error) {
			return &s.saKey.PublicKey, nil
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(s.google.URL+"/token"), jwt.WithIssuer(testSAEmail))
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || err != nil ||
			!strings.Contains(fmt.Sprint(claims["scope"]), "firebase.messaging") {
			t.Errorf("token request %v: %v, claims %v", r.PostForm, err, claims)
			w.WriteHeader(400)
			return
		}
		s.mu.Lock()
		s.tokenRequests++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, testAccess)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/"+testProject+"/messages:send" {
		t.Errorf("FCM request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(404)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testAccess {
		t.Errorf("FCM authorization %q", r.Header.Get("Authorization"))
		w.WriteHeader(401)
		return
	}
	var body struct {
		Message map[string]any `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("FCM body: %v", err)
	}
	token, _ := body.Message["token"].(string)
	first := s.firstAttempt(token)
	switch {
	case token == fcmGoneToken:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
			"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
		return
	case strings.HasPrefix(token, fcmBusyToken) && first:
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(429)
		io.WriteString(w, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}`)
		return
	}
	s.mu.Lock()
	s.fcmGot = append(s.fcmGot, received{token, body.Message})
	s.mu.Unlock()
	fmt.Fprintf(w, `{"name":"projects/%s/messages/1"}`, testProject)
}

// got returns what a service accepted for a device token.
func (s *pushServers) got(service, token string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.apnsGot
	if service == "fcm" {
		list = s.fcmGot
	}
	var out []map[string]any
	for _, r := range list {
		if r.Token == token {
			out = append(out, r.Body)
		}
	}
	return out
}

func (s *pushServers) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.apnsGot) + len(s.fcmGot)
}

func registerDevice(t *testing.T, a *api, user, device, typ, token string) {
	t.Helper()
	body := map[string]any{"token": token, "type": typ, "device_id": device}
	if typ == "apns" {
		body["apns_bundle_id"] = testBundle
	}
	a.do("POST", "/users/"+user+"/push_tokens", body).must(t, 202)
}

func pushProviders(t *testing.T, a *api, s *pushServers) {
	t.Helper()
	a.do("PUT", "/push_providers/apns", map[string]any{"team_id": testTeamID, "key_id": testKeyID,
		"private_key": s.apnsPEM(), "bundle_id": testBundle, "environment": "development"}).must(t, 200)
	a.do("PUT", "/push_providers/fcm", map[string]any{"service_account": s.serviceAccount()}).must(t, 200)
}

// path reads a member of decoded JSON by keys.
func jpath(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func TestPushProviderConfiguration(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		s := newPushServers(t)
		apns := map[string]any{"team_id": testTeamID, "key_id": testKeyID, "private_key": s.apnsPEM(), "bundle_id": testBundle}
		with := func(m map[string]any, k string, v any) map[string]any {
			c := map[string]any{}
			for kk, vv := range m {
				c[kk] = vv
			}
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		rsaDER, _ := x509.MarshalPKCS8PrivateKey(s.saKey)
		sa := s.serviceAccount()
		mark := a.eventMark()
		for _, c := range []struct {
			kind     string
			body     any
			id, prop string
		}{
			{"apns", with(apns, "private_key", "not a key"), "invalid_property", "private_key"},
			{"apns", with(apns, "private_key", pemOf(t, "PRIVATE KEY", rsaDER)), "invalid_property", "private_key"},
			{"apns", with(apns, "team_id", nil), "missing_property", "team_id"},
			{"apns", with(apns, "key_id", "short"), "invalid_property", "key_id"},
			{"apns", with(apns, "environment", "staging"), "invalid_property", "environment"},
			{"apns", with(apns, "certificate", "x"), "invalid_property", "certificate"},
			{"fcm", map[string]any{}, "missing_property", "service_account"},
			{"fcm", map[string]any{"service_account": with(sa, "token_uri", nil)}, "missing_property", "service_account.token_uri"},
			{"fcm", map[string]any{"service_account": with(sa, "private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, "invalid_property", "service_account.private_key"},
			{"fcm", map[string]any{"service_account": "not json"}, "invalid_property", "service_account"},
			{"webhook", map[string]any{"url": "ftp://example.com"}, "invalid_property", "url"},
			{"webhook", map[string]any{"url": "https://example.com", "secret": "whsec_!!"}, "invalid_property", "secret"},
			{"pigeon", map[string]any{}, "invalid_property", "kind"},
		} {
			a.do("PUT", "/push_providers/"+c.kind, c.body).wantError(t, 422, c.id, c.prop)
		}
		a.wantEvents(t, mark)

		got := a.do("PUT", "/push_providers/apns", apns).must(t, 200).Map(t)
		if got["kind"] != "apns" || got["environment"] != "production" || got["team_id"] != testTeamID || got["private_key"] != nil || got["secret"] != nil {
			t.Fatalf("apns provider: %v", got)
		}
		// A service account given as the text of its key file is read alike.
		saText, _ := json.Marshal(sa)
		a.do("PUT", "/push_providers/fcm", map[string]any{"service_account": string(saText)}).must(t, 200)
		hook := a.do("PUT", "/push_providers/webhook", map[string]any{"url": "https://example.com/push"}).must(t, 200).Map(t)
		secret, _ := hook["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("generated webhook secret: %v", hook)
		}
		// Given, a secret is not shown back.
		given := stdwebhooks.NewSecret()
		if again := a.do("PUT", "/push_providers/webhook", map[string]any{"url": "https://example.com/push2", "secret": given}).must(t, 200).Map(t); again["secret"] != nil {
			t.Fatalf("a given secret shown: %v", again)
		}
		list := a.do("GET", "/push_providers", nil).must(t, 200)
		for _, hidden := range []string{"BEGIN", "whsec_", secret, given} {
			if strings.Contains(string(list.Body), hidden) {
				t.Fatalf("the list shows %q: %s", hidden, list.Body)
			}
		}
		var kinds []string
		var providers []map[string]any
		list.JSON(t, &providers)
		for _, p := range providers {
			kinds = append(kinds, p["kind"].(string))
		}
		if !slices.Equal(kinds, []string{"apns", "fcm", "webhook"}) || providers[1]["project_id"] != testProject || providers[2]["url"] != "https://example.com/push2" {
			t.Fatalf("providers: %s", list.Body)
		}
		// The store keeps the secret.
		var stored *herald.PushProvider
		a.Store.View(context.Background(), func(q herald.Queries) (err error) {
			stored, err = q.PushProvider(context.Background(), a.AppID, "webhook")
			return err
		})
		if stored == nil || stored.Secret != given {
			t.Fatalf("stored webhook provider: %+v", stored)
		}
		a.do("DELETE", "/push_providers/webhook", nil).must(t, 204)
		a.do("DELETE", "/push_providers/webhook", nil).wantError(t, 404, "not_found", "")
		evs := a.wantEvents(t, mark, "push_provider.updated", "push_provider.updated", "push_provider.updated",
			"push_provider.updated", "push_provider.deleted")
		for _, e := range evs {
			if b, _ := json.Marshal(e); strings.Contains(string(b), "BEGIN") || strings.Contains(string(b), "whsec_") {
				t.Fatalf("an event shows a secret: %s", b)
			}
		}
	})
}

// A message's notification reaches each offline recipient's devices once,
// rendered for each, with their badge; the sender, online users and those
// who block the sender get none; refused tokens are unregistered; 503 and
// 429 are retried; announcements and notifications push as messages do.
func TestPushDelivery(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		s := newPushServers(t)
		s.sender(t, a, func(snd *push.Sender) {
			snd.Online = func(_ context.Context, appID string, users []string) (map[string]bool, error) {
				if appID != a.AppID {
					t.Errorf("online asked for app %s", appID)
				}
				return map[string]bool{"erin": true}, nil
			}
		})
		pushProviders(t, a, s)
		tok := func(name string) string { return name + "-" + t.Name() }
		registerDevice(t, a, "alice", "alice-phone", "apns", tok("alice"))
		registerDevice(t, a, "bob", "bob-phone", "apns", tok("bob-ios"))
		registerDevice(t, a, "bob", "bob-tablet", "gcm", tok("bob-android"))
		registerDevice(t, a, "carol", "carol-phone", "fcm", tok("carol"))
		registerDevice(t, a, "erin", "erin-phone", "apns", tok("erin"))
		registerDevice(t, a, "frank", "frank-phone", "apns", tok("frank"))
		a.do("POST", "/users/frank/blocks", map[string]any{"user_id": "alice"}).must(t, 204)
		a.do("PUT", "/users/bob/badge", map[string]any{"external_unread_count": 5}).must(t, 204)

		conv := a.newConversation(t, "alice", "bob", "carol", "erin", "frank")
		msg := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "hello"}},
			"notification": map[string]any{"title": "Alice", "text": "hello", "sound": "ding.aiff", "data": map[string]any{"k": "v"},
				"recipients": []any{map[string]any{"user_id": "carol", "text": "hallo", "sound": "ping.aiff"}}}}).must(t, 201).Map(t)
		eventually(t, func() bool { return s.count() >= 3 }, "3 pushes")

		bobIOS := s.got("apns", tok("bob-ios"))
		if len(bobIOS) != 1 {
			t.Fatalf("bob's iPhone got %d pushes: %v", len(bobIOS), bobIOS)
		}
		// Bob has the message unread and 5 of the app's.
		want := map[string]any{"aps": map[string]any{"alert": map[string]any{"title": "Alice", "body": "hello"}, "sound": "ding.aiff", "badge": 6.0},
			"layer": map[string]any{"conversation_identifier": "layer:///conversations/" + conv, "message_identifier": msg["id"]},
			"data":  map[string]any{"k": "v"}}
		wantJSON(t, "bob's APNs payload", bobIOS[0], want)
		bobAndroid := s.got("fcm", tok("bob-android"))
		if len(bobAndroid) != 1 || jpath(bobAndroid[0], "notification", "body") != "hello" ||
			jpath(bobAndroid[0], "android", "notification", "sound") != "ding.aiff" || jpath(bobAndroid[0], "apns", "payload", "aps", "badge") != 6.0 ||
			jpath(bobAndroid[0], "data", "k") != "v" || jpath(bobAndroid[0], "data", "layer_message_identifier") != msg["id"] {
			t.Fatalf("bob's Android pushes: %v", bobAndroid)
		}
		carol := s.got("fcm", tok("carol"))
		if len(carol) != 1 || jpath(carol[0], "notification", "title") != "Alice" || jpath(carol[0], "notification", "body") != "hallo" ||
			jpath(carol[0], "android", "notification", "sound") != "ping.aiff" || jpath(carol[0], "apns", "payload", "aps", "badge") != 1.0 {
			t.Fatalf("carol's pushes: %v", carol)
		}

		// Invalid tokens, retried answers, an announcement and a
		// notification: the first message's pushes were written before
		// theirs, so all are in by the time these are.
		registerDevice(t, a, "dave", "dave-phone", "apns", apnsBadToken)
		registerDevice(t, a, "gina", "gina-phone", "fcm", fcmGoneToken)
		registerDevice(t, a, "hank", "hank-phone", "apns", apnsFlakyToken+t.Name())
		registerDevice(t, a, "hank", "hank-tablet", "fcm", fcmBusyToken+t.Name())
		registerDevice(t, a, "ivan", "ivan-phone", "apns", apnsExpiredJWT+t.Name())
		mark := a.eventMark()
		a.do("POST", "/announcements", map[string]any{"recipients": []any{"bob"}, "sender": map[string]any{"name": "Team"},
			"parts": []any{map[string]any{"mime_type": "text/plain", "body": "news"}}, "notification": map[string]any{"text": "news"}}).must(t, 202)
		a.do("POST", "/notifications", map[string]any{"recipients": []any{"dave", "gina", "hank", "ivan", "bob"},
			"notification": map[string]any{"text": "sale"}}).must(t, 202)
		eventually(t, func() bool {
			return len(s.got("apns", apnsFlakyToken+t.Name())) == 1 && len(s.got("fcm", fcmBusyToken+t.Name())) == 1 &&
				len(s.got("apns", apnsExpiredJWT+t.Name())) == 1 &&
				len(s.got("apns", tok("bob-ios"))) == 3 && len(s.got("fcm", tok("bob-android"))) == 3
		}, "the notification's and announcement's pushes")
		eventually(t, func() bool {
			var dave, gina []any
			a.do("GET", "/users/dave/push_tokens", nil).must(t, 200).JSON(t, &dave)
			a.do("GET", "/users/gina/push_tokens", nil).must(t, 200).JSON(t, &gina)
			return len(dave) == 0 && len(gina) == 0
		}, "the refused tokens to be unregistered")
		s.mu.Lock()
		retried := s.attempts[apnsFlakyToken+t.Name()] == 2 && s.attempts[fcmBusyToken+t.Name()] == 2
		s.mu.Unlock()
		if !retried {
			t.Fatalf("attempts: %v", s.attempts)
		}
		evs := a.wantEvents(t, mark, "announcement.sent", "notification.sent", "push_token.unregistered", "push_token.unregistered")
		var gone []string
		for _, e := range evs[2:] {
			gone = append(gone, fmt.Sprint(jpath(eventData(t, e), "push_token", "device_id")))
		}
		slices.Sort(gone)
		if !slices.Equal(gone, []string{"dave-phone", "gina-phone"}) {
			t.Fatalf("unregistered %v", gone)
		}
		// Those two are sent side by side, in either order.
		var later []string
		for _, p := range s.got("apns", tok("bob-ios"))[1:] {
			later = append(later, fmt.Sprint(jpath(p, "aps", "alert", "body"), " ", jpath(p, "layer")))
		}
		slices.Sort(later)
		if len(later) != 2 || !strings.HasPrefix(later[0], "news map[announcement_identifier:layer:///announcements/") ||
			!strings.HasPrefix(later[1], "sale map[notification_identifier:layer:///notifications/") {
			t.Fatalf("bob's later pushes: %v", later)
		}
		// A message without a notification is pushed silently, as Layer
		// did: nothing shown, the badge, the ids to fetch it by.
		silent := a.sendText(t, conv, "alice", "no notification")
		eventually(t, func() bool { return len(s.got("apns", tok("bob-ios"))) == 4 && len(s.got("fcm", tok("carol"))) == 2 }, "the silent pushes")
		wantJSON(t, "bob's silent APNs payload", s.got("apns", tok("bob-ios"))[3], map[string]any{
			"aps":   map[string]any{"content-available": 1.0, "badge": 7.0},
			"layer": map[string]any{"conversation_identifier": "layer:///conversations/" + conv, "message_identifier": silent["id"]}})
		if c := s.got("fcm", tok("carol"))[1]; jpath(c, "notification") != nil || jpath(c, "data", "layer_message_identifier") != silent["id"] {
			t.Fatalf("carol's silent FCM push: %v", c)
		}
		// The sender, the online user and the user who blocks the sender:
		// no push.
		for _, d := range []string{tok("alice"), tok("erin"), tok("frank")} {
			if got := s.got("apns", d); len(got) != 0 {
				t.Fatalf("%s got %v", d, got)
			}
		}
	})
}

// pushReceiver is an app's push webhook: it verifies each request's
// Standard Webhooks signature and records the pushes.
type pushReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []push.WebhookPush
	// stall, when set, holds every request until the test ends.
	stall chan struct{}
}

func (r *pushReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.stall != nil {
		select {
		case <-r.stall:
		case <-req.Context().Done():
		}
		return
	}
	body, _ := io.ReadAll(req.Body)
	if err := stdwebhooks.Verify(r.secret, req.Header, body, time.Now()); err != nil {
		r.t.Errorf("push webhook signature: %v", err)
		w.WriteHeader(401)
		return
	}
	var p push.WebhookPush
	if err := json.Unmarshal(body, &p); err != nil {
		r.t.Errorf("push webhook body %s: %v", body, err)
	}
	r.mu.Lock()
	r.got = append(r.got, p)
	r.mu.Unlock()
}

func (r *pushReceiver) pushes() []push.WebhookPush {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// An app with a push webhook gets each offline recipient's notification,
// signed, with their devices; an app whose webhook stalls delays no other
// app's pushes.
func TestPushWebhook(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		s := newPushServers(t)
		s.sender(t, a, func(snd *push.Sender) { snd.Workers, snd.AppWorkers, snd.AttemptTimeout = 8, 2, 30*time.Second })
		stalled := &pushReceiver{t: t, stall: make(chan struct{})}
		stalledTS := httptest.NewServer(stalled)
		defer func() {
			close(stalled.stall)
			stalledTS.Close()
		}()
		fine := &pushReceiver{t: t}
		fineTS := httptest.NewServer(fine)
		defer fineTS.Close()

		// The first app's webhook hangs.
		a.do("PUT", "/push_providers/webhook", map[string]any{"url": stalledTS.URL}).must(t, 200)
		for i := range 6 {
			u := fmt.Sprintf("user%d", i)
			registerDevice(t, a, u, "phone", "apns", "t"+u)
			a.do("POST", "/notifications", map[string]any{"recipients": []any{u}, "notification": map[string]any{"text": "stuck"}}).must(t, 202)
		}

		otherID, otherToken := a.newApp("other")
		other := a.in(t)
		other.AppID, other.Token = otherID, otherToken
		fine.secret = other.do("PUT", "/push_providers/webhook", map[string]any{"url": fineTS.URL}).must(t, 200).Map(t)["secret"].(string)
		registerDevice(t, other, "bob", "bob-phone", "apns", "bob-token")
		registerDevice(t, other, "bob", "bob-tablet", "fcm", "bob-token-2")
		other.do("PUT", "/users/bob/badge", map[string]any{"external_unread_count": 2}).must(t, 204)
		conv := other.newConversation(t, "alice", "bob")
		start := time.Now()
		msg := other.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts":        []any{map[string]any{"mime_type": "text/plain", "body": "hi"}},
			"notification": map[string]any{"text": "hi", "title": "Alice"}}).must(t, 201).Map(t)
		eventually(t, func() bool { return len(fine.pushes()) == 1 }, "the other app's push")
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("the other app's push took %s behind the stalled app", took)
		}
		p := fine.pushes()[0]
		var devices []string
		for _, d := range p.Devices {
			devices = append(devices, d.DeviceID+"="+d.Token)
		}
		slices.Sort(devices)
		if p.UserID != "bob" || p.AppID != otherID || p.EventType != "message.sent" || p.MessageID != msg["id"] ||
			p.ConversationID != "layer:///conversations/"+conv || p.Notification.Text != "hi" || p.Notification.Title != "Alice" ||
			p.Notification.Badge == nil || *p.Notification.Badge != 3 ||
			!slices.Equal(devices, []string{"bob-phone=bob-token", "bob-tablet=bob-token-2"}) {
			t.Fatalf("webhook push: %+v", p)
		}
		// Only ever AppWorkers of the stalled app's pushes in flight.
		var jobs []*herald.PushJob
		a.Store.View(context.Background(), func(q herald.Queries) (err error) {
			jobs, err = q.PushJobs(context.Background(), a.AppID, herald.PushPending, 100)
			return err
		})
		leased := 0
		for _, j := range jobs {
			if j.LeaseOwner != "" {
				leased++
			}
		}
		if len(jobs) != 6 || leased != 2 {
			t.Fatalf("the stalled app has %d jobs, %d leased", len(jobs), leased)
		}
	})
}

// A user with a Client API socket open gets no push; the others do.
func TestPushSkipsConnectedUsers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		s := newPushServers(t)
		s.sender(t, a, func(snd *push.Sender) { snd.Online = push.OnlineOf(a.Sockets.ConnectedUsers) })
		pushProviders(t, a, s)
		registerDevice(t, a, "bob", "bob-phone", "apns", "bob-"+t.Name())
		registerDevice(t, a, "carol", "carol-phone", "apns", "carol-"+t.Name())
		bob := startSession(t, a, "bob")
		dialSocket(t, a.URL, bob.token)
		conv := a.newConversation(t, "alice", "bob", "carol")
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": textPart("hi"), "notification": map[string]any{"text": "hi"}}).must(t, 201)
		eventually(t, func() bool { return len(s.got("apns", "carol-"+t.Name())) == 1 }, "carol's push")
		eventually(t, func() bool {
			var jobs []*herald.PushJob
			a.Store.View(context.Background(), func(q herald.Queries) (err error) {
				jobs, err = q.PushJobs(context.Background(), a.AppID, herald.PushPending, 10)
				return err
			})
			return len(jobs) == 0
		}, "every push job to be done")
		if got := s.got("apns", "bob-"+t.Name()); len(got) != 0 {
			t.Fatalf("bob, connected, got %v", got)
		}
	})
}
