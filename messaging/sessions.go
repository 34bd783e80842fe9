package messaging

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// Identity providers, nonces and sessions: how a user's device signs in to
// Layer's Client API ([P1.1] client/introduction/authentication.md, and
// docs.layer.com/reference/client_api/authentication.out).
//
//  1. The device asks for a nonce (POST /nonces), a single-use value valid
//     for NonceTTL.
//  2. The app's identity provider, a server of the app's own, signs an
//     identity token for the user: a JWT with header alg RS256, cty
//     "layer-eit;v=1" and kid naming a key the app registered here, and
//     claims iss (the app's provider id), prn (the user id), nce (the
//     nonce), iat and exp, plus identity fields (display_name, …).
//  3. The device trades the token for a session (POST /sessions): Herald
//     checks the signature with the registered key, that the key and the
//     provider are the app's, that the nonce is unused and unexpired, and
//     that exp is in the future; it creates or updates the user's identity
//     from the token's fields, and opens a session that lasts the app's
//     session TTL.
//
// A session token is "hrls_" and 256 random bits; only its SHA-256 is
// kept, as for app tokens (see tokens.go).

const (
	// NonceTTL is how long a nonce may wait to be used: Layer's 10
	// minutes (client/introduction/authentication.md).
	NonceTTL = 10 * time.Minute
	// MaxNonces bounds the nonces waiting to be used. POST /nonces takes no
	// credentials, so without a bound anyone could fill the database; past
	// it new nonces are refused until old ones are used or expire.
	MaxNonces = 100_000
	// MaxIdentityKeys bounds the keys an app may register: enough to rotate
	// keys across several identity providers.
	MaxIdentityKeys = 100
	// MinIdentityKeyBits is the smallest RSA key accepted. NIST has
	// disallowed shorter keys for signatures since 2013.
	MinIdentityKeyBits = 2048
	// IdentityTokenContentType is the cty of Layer's identity tokens
	// ("layer External Identity Token", version 1).
	IdentityTokenContentType = "layer-eit;v=1"
	// IdentityTokenLeeway is the clock skew allowed between the identity
	// provider and Herald on exp, iat and nbf.
	IdentityTokenLeeway = time.Minute
	// sessionTokenPrefix starts every session token.
	sessionTokenPrefix = "hrls_"
	// expiredSweepBatch bounds the rows one sweep transaction deletes.
	expiredSweepBatch = 1000
)

// SessionSweepInterval is how often expired nonces and sessions are
// deleted.
const SessionSweepInterval = 10 * time.Minute

// ParseAppID returns the app id in one of the forms Layer's Client API
// took for app_id: layer:///apps/staging/<uuid>, layer:///apps/production/
// <uuid>, layer:///apps/<uuid> or the bare uuid ([P1.1]
// client/rest/errors.md, invalid_app_id). Anything else is invalid_app_id.
func ParseAppID(s string) (string, error) {
	id := s
	if rest, ok := strings.CutPrefix(s, "layer:///apps/"); ok {
		id = rest
		for _, env := range []string{"staging/", "production/"} {
			if r, ok := strings.CutPrefix(rest, env); ok {
				id = r
			}
		}
	}
	if u, err := uuid.Parse(id); err != nil || u.String() != strings.ToLower(id) {
		return "", &herald.Error{ID: herald.EInvalidAppID,
			Message: fmt.Sprintf("app_id %q is not an app id: give layer:///apps/staging/<uuid>, layer:///apps/production/<uuid> or the app's uuid.", s),
			Data:    map[string]any{"property": "app_id"}}
	}
	return strings.ToLower(id), nil
}

// parseRSAPublicKey reads a PEM public key: PKIX ("PUBLIC KEY", what
// openssl rsa -pubout writes and Layer's dashboard took) or PKCS #1 ("RSA
// PUBLIC KEY").
func parseRSAPublicKey(text string) (*rsa.PublicKey, error) {
	bad := func(format string, args ...any) error {
		return herald.PropertyError(herald.EInvalidProperty, "public_key", format, args...)
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, bad("public_key must be a PEM-encoded RSA public key (-----BEGIN PUBLIC KEY-----).")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, bad("public_key holds a private key: register the public key only (openssl rsa -in key.pem -pubout), and keep the private key with the identity provider.")
	default:
		return nil, bad("public_key is a PEM %q block; it must be a PUBLIC KEY or RSA PUBLIC KEY.", block.Type)
	}
	if err != nil {
		return nil, bad("public_key does not parse: %v.", err)
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, bad("public_key must be an RSA key: identity tokens are signed with RS256.")
	}
	if rsaKey.N.BitLen() < MinIdentityKeyBits {
		return nil, bad("public_key is a %d-bit RSA key; it must have at least %d bits.", rsaKey.N.BitLen(), MinIdentityKeyBits)
	}
	return rsaKey, nil
}

// RegisterIdentityKey registers a public key of the app's identity
// provider; the app gets its provider id with its first key.
func (s *Service) RegisterIdentityKey(ctx context.Context, appID, publicKey string) (key *herald.IdentityKey, err error) {
	if strings.TrimSpace(publicKey) == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "public_key", "Give the identity provider's RSA public key, PEM-encoded, as public_key.")
	}
	if _, err := parseRSAPublicKey(publicKey); err != nil {
		return nil, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if _, err := tx.App(ctx, appID); err != nil {
			return err
		}
		now := s.now()
		provider, err := tx.IdentityProvider(ctx, appID)
		if err != nil {
			return err
		}
		if provider == "" {
			provider = uuid.NewString()
			if err := tx.PutIdentityProvider(ctx, appID, provider, now); err != nil {
				return err
			}
		}
		keys, err := tx.IdentityKeys(ctx, appID)
		if err != nil {
			return err
		}
		if len(keys) >= MaxIdentityKeys {
			e := herald.Errorf(herald.EQuotaExceeded, "An app may register at most %d identity keys; delete one first.", MaxIdentityKeys)
			e.Data = map[string]any{"limit": MaxIdentityKeys}
			return e
		}
		key = &herald.IdentityKey{ID: uuid.NewString(), AppID: appID, ProviderID: provider,
			PublicKey: strings.TrimSpace(publicKey) + "\n", CreatedAt: now}
		if err := tx.CreateIdentityKey(ctx, key); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventIdentityKeyCreated, nil, &herald.EventData{IdentityKey: key})
	})
	return key, err
}

// IdentityKeys lists an app's identity keys, oldest first.
func (s *Service) IdentityKeys(ctx context.Context, appID string) (keys []*herald.IdentityKey, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		keys, err = q.IdentityKeys(ctx, appID)
		return err
	})
	return keys, err
}

// DeleteIdentityKey deletes one of an app's identity keys, named by its id
// or its Layer id (layer:///keys/<id>). Tokens signed with it fail from
// then on; sessions opened with them last.
func (s *Service) DeleteIdentityKey(ctx context.Context, appID, id string) error {
	id = herald.LocalID(id, herald.KeyIDPrefix)
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		k, err := tx.IdentityKey(ctx, id)
		if err != nil || k.AppID != appID {
			return herald.NotFound("identity_key", id)
		}
		if _, err := tx.DeleteIdentityKey(ctx, appID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventIdentityKeyDeleted, nil, &herald.EventData{IdentityKey: k})
	})
}

// IssueNonce returns a new nonce, valid for NonceTTL.
func (s *Service) IssueNonce(ctx context.Context) (string, error) {
	b := make([]byte, 24)
	rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		n, err := tx.CountNonces(ctx, now)
		if err != nil {
			return err
		}
		if n >= MaxNonces {
			return herald.Errorf(herald.ERateLimitExceeded,
				"%d nonces are waiting to be used, as many as Herald keeps; retry once some are used or expire.", MaxNonces)
		}
		return tx.CreateNonce(ctx, nonce, now.Add(NonceTTL))
	})
	return nonce, err
}

// identityClaims are the claims of a Layer identity token: Layer names the
// user prn (JWT's draft "principal") and the nonce nce, and a token may set
// the user's identity fields (docs.layer.com client_api/identity.obj; the
// Ruby identity-token gem adds first_name, last_name and metadata).
type identityClaims struct {
	jwt.RegisteredClaims
	Principal string `json:"prn"`
	Nonce     string `json:"nce"`
	IdentityInput
}

// tokenError is Layer's answer to an identity token it refuses: 422
// invalid_property naming identity_token ([P1.1]
// client/introduction/authentication.md), with what is wrong.
func tokenError(format string, args ...any) error {
	return herald.PropertyError(herald.EInvalidProperty, "identity_token", "The identity token is refused: "+format, args...)
}

// StartSession opens a session for the user an identity token names, and
// returns it with its token (given out this once). appID may take any of
// Layer's forms (see ParseAppID).
func (s *Service) StartSession(ctx context.Context, appID, identityToken string) (*herald.Session, string, error) {
	app, err := ParseAppID(appID)
	if err != nil {
		return nil, "", err
	}
	if identityToken == "" {
		return nil, "", herald.PropertyError(herald.EMissingProperty, "identity_token", "Give the identity token your identity provider signed as identity_token.")
	}
	var key *herald.IdentityKey
	var provider string
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if _, err := q.App(ctx, app); err != nil {
			return &herald.Error{ID: herald.EInvalidAppID, Message: fmt.Sprintf("No app has the id %q.", appID),
				Data: map[string]any{"property": "app_id"}}
		}
		provider, err = q.IdentityProvider(ctx, app)
		if err != nil {
			return err
		}
		if provider == "" {
			return tokenError("the app has no identity provider key registered (POST /apps/%s/keys).", app)
		}
		// The key is read here, before the signature is checked, from the
		// unverified header: a kid that names nothing fails all the same.
		kid, err := tokenKeyID(identityToken)
		if err != nil {
			return err
		}
		key, err = q.IdentityKey(ctx, kid)
		if herald.IsNotFound(err) || (err == nil && key.AppID != app) {
			return tokenError("its kid %q names no key of this app.", kid)
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	claims, err := s.verifyIdentityToken(identityToken, key, provider)
	if err != nil {
		return nil, "", err
	}
	meta, err := checkMetadata("metadata", claims.Metadata)
	if err != nil {
		return nil, "", tokenError("its metadata: %v", err)
	}
	in := claims.IdentityInput
	b := make([]byte, 32)
	rand.Read(b)
	token := sessionTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	var session *herald.Session
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		ok, err := tx.ConsumeNonce(ctx, claims.Nonce, now)
		if err != nil {
			return err
		}
		if !ok {
			return tokenError("its nonce (nce) was not issued by Herald, was used already, or expired (nonces last %v); request a new one.", NonceTTL)
		}
		u, err := userRecord(ctx, tx, app, claims.Principal)
		if err != nil {
			return err
		}
		if u.Suspended {
			return herald.Errorf(herald.EUserSuspended, "User %q is suspended: no session can be opened for them.", claims.Principal)
		}
		if _, _, err := s.putIdentity(ctx, tx, app, claims.Principal, in, meta, identityUpsert); err != nil {
			var e *herald.Error
			if errors.As(err, &e) && e.Data["property"] != nil {
				return tokenError("its %v claim: %s", e.Data["property"], e.Message)
			}
			return err
		}
		ttl, err := sessionTTL(ctx, tx, app)
		if err != nil {
			return err
		}
		session = &herald.Session{ID: uuid.NewString(), AppID: app, UserID: claims.Principal, Hash: hashToken(token),
			CreatedAt: now, ExpiresAt: now.Add(ttl)}
		if err := tx.CreateSession(ctx, session); err != nil {
			return err
		}
		return s.record(ctx, tx, app, herald.EventSessionCreated, &herald.Actor{UserID: claims.Principal},
			&herald.EventData{Session: session, UserID: claims.Principal})
	})
	if err != nil {
		return nil, "", err
	}
	return session, token, nil
}

// tokenKeyID reads the kid of a JWT's header, without verifying anything.
func tokenKeyID(token string) (string, error) {
	header, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", tokenError("it is not a JWT (header.payload.signature).")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(header, "="))
	var h struct {
		Kid string `json:"kid"`
	}
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		return "", tokenError("its header is not base64url-encoded JSON.")
	}
	if h.Kid == "" {
		return "", tokenError("its header has no kid naming the key that signed it.")
	}
	return herald.LocalID(h.Kid, herald.KeyIDPrefix), nil
}

// verifyIdentityToken checks an identity token's signature with key and
// its claims, but not its nonce, which the session's transaction uses up.
func (s *Service) verifyIdentityToken(token string, key *herald.IdentityKey, provider string) (*identityClaims, error) {
	pub, err := parseRSAPublicKey(key.PublicKey)
	if err != nil {
		return nil, err
	}
	claims := &identityClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if cty, _ := t.Header["cty"].(string); cty != IdentityTokenContentType {
			return nil, fmt.Errorf("its header's cty is %q, not %q", cty, IdentityTokenContentType)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(IdentityTokenLeeway),
		jwt.WithTimeFunc(s.now))
	if err != nil {
		var why string
		switch {
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			why = "its signature does not match the key its kid names."
		case errors.Is(err, jwt.ErrTokenExpired):
			why = "it has expired (exp)."
		case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
			why = "it has no exp claim."
		case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
			why = "it is not valid yet (iat or nbf is in the future)."
		case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
			why = "it cannot be verified: it must be signed with RS256."
		default:
			why = strings.TrimPrefix(err.Error(), "token is unverifiable: error while executing keyfunc: ") + "."
		}
		return nil, tokenError("%s", why)
	}
	if !parsed.Valid {
		return nil, tokenError("it is not valid.")
	}
	if herald.LocalID(claims.Issuer, herald.ProviderIDPrefix) != provider {
		return nil, tokenError("its iss %q is not the app's identity provider, %s%s.", claims.Issuer, herald.ProviderIDPrefix, provider)
	}
	if claims.Principal == "" {
		return nil, tokenError("it has no prn naming the user.")
	}
	if err := checkUserID("prn", claims.Principal); err != nil {
		return nil, tokenError("its prn: %v", err)
	}
	if claims.Nonce == "" {
		return nil, tokenError("it has no nce: sign the nonce from POST /nonces into it.")
	}
	return claims, nil
}

// Session returns the session of a session token, if it is still valid:
// not expired, not deleted, not revoked with the user's other sessions,
// and its user not suspended. Otherwise authentication_required, which a
// Client API answers with a fresh nonce to authenticate again.
func (s *Service) Session(ctx context.Context, token string) (*herald.Session, error) {
	denied := func(why string) error { return herald.Errorf(herald.EAuthRequired, "%s", why) }
	if !strings.HasPrefix(token, sessionTokenPrefix) {
		return nil, denied("Send a session token as 'Authorization: Layer session-token=\"<token>\"'.")
	}
	var session *herald.Session
	err := s.Store.View(ctx, func(q herald.Queries) error {
		var err error
		session, err = q.SessionByHash(ctx, hashToken(token))
		if herald.IsNotFound(err) {
			return denied("The session token is unknown, or its session was deleted; authenticate again.")
		}
		if err != nil {
			return err
		}
		if !s.now().Before(session.ExpiresAt) {
			return denied("The session expired; authenticate again.")
		}
		err = s.checkSession(ctx, q, session.AppID, session.UserID, session.CreatedAt)
		if e, ok := herald.AsError(err); ok && e.ID == herald.EUserSuspended {
			// A device learns to sign in again; signing in then says the
			// user is suspended.
			return denied("The session's user is suspended.")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return session, nil
}

// EndSession deletes the session of a session token (logging out).
func (s *Service) EndSession(ctx context.Context, token string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		session, err := tx.DeleteSession(ctx, hashToken(token))
		if err != nil {
			return err
		}
		return s.record(ctx, tx, session.AppID, herald.EventSessionDeleted, &herald.Actor{UserID: session.UserID},
			&herald.EventData{Session: session, UserID: session.UserID})
	})
}

// SweepSessions deletes the nonces and sessions that have expired, a batch
// per transaction.
func (s *Service) SweepSessions(ctx context.Context) error {
	for range 1000 {
		var n int
		err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
			n, err = tx.DeleteExpired(ctx, s.now(), expiredSweepBatch)
			return err
		})
		if err != nil || n < expiredSweepBatch {
			return err
		}
	}
	return nil
}
