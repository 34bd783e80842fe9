package herald

import (
	"context"
	"time"
)

// Users' devices reach Herald through Layer's Client API: a device proves
// who its user is with an identity token, a JWT that the app's own
// identity provider signs with a key the app registered here, and gets a
// session in exchange ([P1.1] client/introduction/authentication.md).

// KeyIDPrefix and ProviderIDPrefix start the Layer-style ids of identity
// keys and providers, as Layer's dashboard showed them and identity tokens
// name them (kid, iss).
const (
	KeyIDPrefix      = "layer:///keys/"
	ProviderIDPrefix = "layer:///providers/"
)

// IdentityKey is a public key of an app's identity provider: identity
// tokens whose kid names it are verified with it.
type IdentityKey struct {
	ID    string `json:"id"`
	AppID string `json:"-"`
	// ProviderID is the app's identity provider, the iss of its tokens:
	// every key of an app belongs to the same provider.
	ProviderID string `json:"provider_id"`
	// PublicKey is the RSA public key, PEM-encoded.
	PublicKey string    `json:"public_key"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is a user's authenticated session on a device. Its token is
// given out once; only the token's SHA-256 is kept (Hash).
type Session struct {
	ID        string    `json:"id"`
	AppID     string    `json:"-"`
	UserID    string    `json:"user_id"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Events of identity keys and sessions. Key events carry the key (its
// PublicKey included: it is public); session events the session, never
// its token. A user's sessions also end, all at once, with
// EventUserSessionsRevoked and EventUserSuspended.
const (
	EventIdentityKeyCreated = "identity_key.created"
	EventIdentityKeyDeleted = "identity_key.deleted"
	EventSessionCreated     = "session.created"
	EventSessionDeleted     = "session.deleted"
)

// SessionQueries are the store's side of identity keys, nonces and
// sessions.
type SessionQueries interface {
	// IdentityProvider returns the id of an app's identity provider, or ""
	// when the app has none yet.
	IdentityProvider(ctx context.Context, appID string) (string, error)
	// PutIdentityProvider gives an app its identity provider id, unless it
	// has one.
	PutIdentityProvider(ctx context.Context, appID, providerID string, at time.Time) error
	// CreateIdentityKey registers a key.
	CreateIdentityKey(ctx context.Context, k *IdentityKey) error
	// IdentityKey returns a key by id, whatever its app, or not_found.
	IdentityKey(ctx context.Context, id string) (*IdentityKey, error)
	// IdentityKeys lists an app's keys, oldest first.
	IdentityKeys(ctx context.Context, appID string) ([]*IdentityKey, error)
	// DeleteIdentityKey deletes one of an app's keys, and reports whether it
	// was there.
	DeleteIdentityKey(ctx context.Context, appID, id string) (bool, error)

	// CreateNonce records a nonce, valid until expiresAt.
	CreateNonce(ctx context.Context, nonce string, expiresAt time.Time) error
	// ConsumeNonce deletes a nonce and reports whether it was there and
	// still valid at now: a nonce is used once.
	ConsumeNonce(ctx context.Context, nonce string, now time.Time) (bool, error)
	// CountNonces counts the nonces not yet expired at now.
	CountNonces(ctx context.Context, now time.Time) (int, error)

	// CreateSession records a session.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session whose token has the given hash, or
	// not_found.
	SessionByHash(ctx context.Context, hash string) (*Session, error)
	// DeleteSession deletes a session by the hash of its token, and returns
	// it, or not_found.
	DeleteSession(ctx context.Context, hash string) (*Session, error)
	// DeleteExpired deletes up to limit nonces and sessions that expired
	// before now, and returns how many it deleted.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}
