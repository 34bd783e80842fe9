package http_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
)

// identityProvider is an app's identity provider, as the tests play it: it
// holds an RSA key whose public half the app registered with Herald, and
// signs identity tokens with it.
type identityProvider struct {
	a        *api
	key      *rsa.PrivateKey
	kid, iss string // as Herald named them: layer:///keys/…, layer:///providers/…
}

// Generating RSA keys is slow; the tests share two.
var testRSAKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func publicPEM(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// newIdentityProvider registers an identity provider key for the api's app.
func newIdentityProvider(t *testing.T, a *api) *identityProvider {
	t.Helper()
	p := &identityProvider{a: a, key: testRSAKeys()[0]}
	var k struct {
		ID         string `json:"id"`
		ProviderID string `json:"provider_id"`
	}
	a.do("POST", "/keys", map[string]any{"public_key": publicPEM(t, p.key)}).must(t, 201).JSON(t, &k)
	p.kid, p.iss = k.ID, k.ProviderID
	return p
}

// nonce asks Herald for a nonce, as a device does.
func (p *identityProvider) nonce(t *testing.T) string {
	t.Helper()
	var n struct{ Nonce string }
	p.a.doAs("", "POST", "//nonces", nil).must(t, 201).JSON(t, &n)
	if n.Nonce == "" {
		t.Fatal("POST /nonces gave no nonce")
	}
	return n.Nonce
}

// token signs an identity token for user with nonce; claims add to or
// replace the standard ones (a nil value removes one).
func (p *identityProvider) token(t *testing.T, user, nonce string, claims map[string]any) string {
	t.Helper()
	now := p.a.now()
	c := jwt.MapClaims{"iss": p.iss, "prn": user, "nce": nonce, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["cty"] = "layer-eit;v=1"
	tok.Header["kid"] = p.kid
	tok.Header["typ"] = "JWS"
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startSession authenticates user as a device does, and returns the
// session token.
func (p *identityProvider) startSession(t *testing.T, user string, claims map[string]any) string {
	t.Helper()
	var s struct {
		SessionToken string `json:"session_token"`
	}
	p.a.doAs("", "POST", "//sessions", map[string]any{
		"identity_token": p.token(t, user, p.nonce(t), claims),
		"app_id":         "layer:///apps/staging/" + p.a.AppID,
	}).must(t, 201).JSON(t, &s)
	if s.SessionToken == "" {
		t.Fatal("POST /sessions gave no session_token")
	}
	return s.SessionToken
}

// sessionHeader is the Authorization header of a Client API request.
func sessionHeader(token string) (string, string) {
	return "Authorization", `Layer session-token="` + token + `"`
}

func TestIdentityKeys(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		if !strings.HasPrefix(p.kid, herald.KeyIDPrefix) || !strings.HasPrefix(p.iss, herald.ProviderIDPrefix) {
			t.Fatalf("key id %q, provider id %q: want Layer's forms", p.kid, p.iss)
		}
		// A second key belongs to the same provider.
		var k2 map[string]any
		a.do("POST", "/keys", map[string]any{"public_key": publicPEM(t, testRSAKeys()[1])}).must(t, 201).JSON(t, &k2)
		if k2["provider_id"] != p.iss {
			t.Fatalf("second key's provider %v, want %s", k2["provider_id"], p.iss)
		}
		var keys []map[string]any
		a.do("GET", "/keys", nil).must(t, 200).JSON(t, &keys)
		if len(keys) != 2 || keys[0]["id"] != p.kid || keys[1]["id"] != k2["id"] {
			t.Fatalf("keys listed: %v", keys)
		}

		der := x509.MarshalPKCS1PrivateKey(p.key)
		private := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string]any{
			"no key":      map[string]any{},
			"not PEM":     map[string]any{"public_key": "ssh-rsa AAAA"},
			"private key": map[string]any{"public_key": private},
			"1024 bits":   map[string]any{"public_key": publicPEM(t, small)},
		} {
			res := a.do("POST", "/keys", body)
			want := 422
			if res.Status != want || !strings.Contains(string(res.Body), `"property":"public_key"`) {
				t.Errorf("%s: %d %s, want 422 naming public_key", name, res.Status, res.Body)
			}
		}

		a.do("DELETE", k2["url"].(string), nil).must(t, 204)
		a.do("DELETE", k2["url"].(string), nil).wantError(t, 404, "not_found", "")
		// Another app cannot see or delete this app's keys.
		_, otherToken := a.newApp("other")
		res := a.doAs(otherToken, "DELETE", "/keys/"+strings.TrimPrefix(p.kid, herald.KeyIDPrefix), nil)
		if res.Status != 404 {
			t.Fatalf("another app's token deleting the key: %d %s", res.Status, res.Body)
		}
		a.do("GET", "/keys", nil).must(t, 200).JSON(t, &keys)
		if len(keys) != 1 {
			t.Fatalf("keys after deletions: %v", keys)
		}
	})
}

func TestSessionFromIdentityToken(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		token := p.startSession(t, "frodo", map[string]any{"display_name": "Frodo", "avatar_url": "https://example.com/f.png",
			"metadata": map[string]any{"home": "Shire"}})
		sess, err := a.Service.Session(t.Context(), token)
		if err != nil {
			t.Fatal(err)
		}
		if sess.UserID != "frodo" || sess.AppID != a.AppID {
			t.Fatalf("session %+v", sess)
		}
		// The token's fields made the user's identity.
		id := a.do("GET", "/users/frodo/identity", nil).must(t, 200).Map(t)
		if id["display_name"] != "Frodo" || id["avatar_url"] != "https://example.com/f.png" {
			t.Fatalf("identity from the token: %v", id)
		}
		// Every form of app id Layer took opens a session; a second login
		// with the same fields changes nothing.
		for _, form := range []string{"layer:///apps/production/" + a.AppID, "layer:///apps/" + a.AppID, a.AppID} {
			a.doAs("", "POST", "//sessions", map[string]any{"identity_token": p.token(t, "frodo", p.nonce(t),
				map[string]any{"display_name": "Frodo", "avatar_url": "https://example.com/f.png", "metadata": map[string]any{"home": "Shire"}}),
				"app_id": form}).must(t, 201)
		}
		var created, updated, sessions int
		for _, e := range a.events() {
			switch e["type"] {
			case "identity.created":
				created++
			case "identity.updated":
				updated++
			case "session.created":
				sessions++
			}
		}
		if created != 1 || updated != 0 || sessions != 4 {
			t.Fatalf("events: %d identity.created, %d identity.updated, %d session.created; want 1, 0, 4", created, updated, sessions)
		}

		// Logging out ends the session; the token then fails.
		a.doAs("", "DELETE", "//sessions/"+token, nil).must(t, 204)
		if _, err := a.Service.Session(t.Context(), token); !isError(err, herald.EAuthRequired) {
			t.Fatalf("after logout: %v", err)
		}
		a.doAs("", "DELETE", "//sessions/"+token, nil).wantError(t, 404, "not_found", "")
	})
}

func isError(err error, id herald.ErrorID) bool {
	e, ok := herald.AsError(err)
	return ok && e.ID == id
}

func TestIdentityTokensRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		otherKey := testRSAKeys()[1]
		appID := "layer:///apps/staging/" + a.AppID
		post := func(body map[string]any) *response {
			return a.doAs("", "POST", "//sessions", body)
		}
		signWith := func(k *rsa.PrivateKey, method jwt.SigningMethod, header map[string]any, claims jwt.MapClaims) string {
			tok := jwt.NewWithClaims(method, claims)
			tok.Header["cty"], tok.Header["kid"] = "layer-eit;v=1", p.kid
			for k, v := range header {
				if v == nil {
					delete(tok.Header, k)
				} else {
					tok.Header[k] = v
				}
			}
			var key any = k
			if method == jwt.SigningMethodHS256 {
				key = []byte("secret")
			}
			s, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		claims := func() jwt.MapClaims {
			return jwt.MapClaims{"iss": p.iss, "prn": "frodo", "nce": p.nonce(t), "iat": a.now().Unix(), "exp": a.now().Add(time.Minute).Unix()}
		}
		with := func(k string, v any) jwt.MapClaims {
			c := claims()
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		for name, tc := range map[string]struct {
			token string
			app   string
		}{
			"signed by another key": {signWith(otherKey, jwt.SigningMethodRS256, nil, claims()), appID},
			"HS256":                 {signWith(nil, jwt.SigningMethodHS256, nil, claims()), appID},
			"no cty":                {signWith(p.key, jwt.SigningMethodRS256, map[string]any{"cty": nil}, claims()), appID},
			"unknown kid":           {signWith(p.key, jwt.SigningMethodRS256, map[string]any{"kid": "layer:///keys/nope"}, claims()), appID},
			"no kid":                {signWith(p.key, jwt.SigningMethodRS256, map[string]any{"kid": nil}, claims()), appID},
			"another provider":      {signWith(p.key, jwt.SigningMethodRS256, nil, with("iss", "layer:///providers/other")), appID},
			"expired":               {signWith(p.key, jwt.SigningMethodRS256, nil, with("exp", a.now().Add(-2*time.Minute).Unix())), appID},
			"no exp":                {signWith(p.key, jwt.SigningMethodRS256, nil, with("exp", nil)), appID},
			"no prn":                {signWith(p.key, jwt.SigningMethodRS256, nil, with("prn", "")), appID},
			"no nce":                {signWith(p.key, jwt.SigningMethodRS256, nil, with("nce", nil)), appID},
			"nonce never issued":    {signWith(p.key, jwt.SigningMethodRS256, nil, with("nce", "made-up")), appID},
			"not a JWT":             {"hello", appID},
			"metadata not strings":  {signWith(p.key, jwt.SigningMethodRS256, nil, with("metadata", map[string]any{"a": 1})), appID},
		} {
			res := post(map[string]any{"identity_token": tc.token, "app_id": tc.app})
			if res.Status != 422 || !strings.Contains(string(res.Body), `"property":"identity_token"`) {
				t.Errorf("%s: %d %s, want 422 invalid_property identity_token", name, res.Status, res.Body)
			}
		}
		// A nonce is used once.
		tok := p.token(t, "frodo", p.nonce(t), nil)
		post(map[string]any{"identity_token": tok, "app_id": appID}).must(t, 201)
		post(map[string]any{"identity_token": tok, "app_id": appID}).wantError(t, 422, "invalid_property", "identity_token")
		// A nonce expires after 10 minutes.
		n := p.nonce(t)
		a.advance(11 * time.Minute)
		post(map[string]any{"identity_token": p.token(t, "frodo", n, nil), "app_id": appID}).wantError(t, 422, "invalid_property", "identity_token")

		// The app id: malformed, unknown, or another app's (whose keys
		// are not this provider's).
		for _, bad := range []string{"layer:///apps/staging/nope", "7c2ac2a8-0b0c-4f7e-a3a5-1f7a5e3c9d10"} {
			post(map[string]any{"identity_token": p.token(t, "frodo", p.nonce(t), nil), "app_id": bad}).
				wantError(t, 403, "invalid_app_id", "app_id")
		}
		other, _ := a.newApp("other")
		post(map[string]any{"identity_token": p.token(t, "frodo", p.nonce(t), nil), "app_id": other}).
			wantError(t, 422, "invalid_property", "identity_token")
		post(map[string]any{"identity_token": p.token(t, "frodo", p.nonce(t), nil)}).wantError(t, 422, "missing_property", "app_id")
		post(map[string]any{"app_id": appID}).wantError(t, 422, "missing_property", "identity_token")
		// None of these opened a session.
		var sessions int
		for _, e := range a.events() {
			if e["type"] == "session.created" {
				sessions++
			}
		}
		if sessions != 1 {
			t.Fatalf("%d sessions opened, want the one with a good token", sessions)
		}
	})
}

func TestSessionsEnd(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		p := newIdentityProvider(t, a)
		valid := func(token string) error {
			_, err := a.Service.Session(t.Context(), token)
			return err
		}
		// Revoking a user's sessions ends those issued before, not later
		// ones.
		old := p.startSession(t, "frodo", nil)
		a.advance(time.Second)
		a.do("DELETE", "/users/frodo/sessions", nil).must(t, 204)
		a.advance(time.Second)
		fresh := p.startSession(t, "frodo", nil)
		if err := valid(old); !isError(err, herald.EAuthRequired) {
			t.Fatalf("revoked session: %v", err)
		}
		if err := valid(fresh); err != nil {
			t.Fatalf("session opened after the revocation: %v", err)
		}
		// Suspension ends them and refuses new ones.
		a.do("PATCH", "/users/frodo", []map[string]any{{"operation": "set", "property": "suspended", "value": true}},
			"Content-Type", "application/vnd.layer-patch+json").must(t, 202)
		if err := valid(fresh); !isError(err, herald.EAuthRequired) {
			t.Fatalf("suspended user's session: %v", err)
		}
		a.doAs("", "POST", "//sessions", map[string]any{"identity_token": p.token(t, "frodo", p.nonce(t), nil),
			"app_id": a.AppID}).wantError(t, 403, "user_suspended", "")
		// The app's session TTL bounds a session's life.
		a.do("PATCH", "", []map[string]any{{"operation": "set", "property": "session_ttl_in_seconds", "value": 60}},
			"Content-Type", "application/vnd.layer-patch+json").must(t, 202)
		sam := p.startSession(t, "sam", nil)
		a.advance(59 * time.Second)
		if err := valid(sam); err != nil {
			t.Fatalf("session within its TTL: %v", err)
		}
		a.advance(2 * time.Second)
		if err := valid(sam); !isError(err, herald.EAuthRequired) {
			t.Fatalf("session past its TTL: %v", err)
		}
		// Expired sessions and nonces are swept.
		p.nonce(t)
		a.advance(time.Hour)
		if err := a.Service.SweepSessions(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := valid(sam); !isError(err, herald.EAuthRequired) {
			t.Fatalf("swept session: %v", err)
		}
	})
}
