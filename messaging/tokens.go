package messaging

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// Apps and their tokens.
//
// A token is "hrld_" and 256 random bits. Only its SHA-256 is stored: with
// that much entropy an unkeyed hash can be neither reversed nor guessed, so
// a key (which would have to live beside the hashes anyway) would add
// nothing. A request's token is looked up by the hash of what it presents,
// so the lookup's timing says nothing about any stored token.
//
// Validated tokens are cached in memory, so that a request does not read
// the store to authenticate. A revoked token must still fail everywhere at
// once: on the node that revoked it, from the next request on; on every
// other process using the same database (nodes sharing PostgreSQL, a
// `herald tokens revoke` run beside a server), within tokenRevisionCheck.
// The store keeps a token revision that triggers move in the transaction of
// any deletion of a token, whoever deletes it. A node trusts its cache only
// while the revision it last read is younger than tokenRevisionCheck, reads
// it again when it is older (one read for all the requests that need it
// then), and forgets its cache when it moved. The read is made by requests
// as they come, rather than by a timer: a node that serves nothing reads
// nothing, and no request is ever answered from a cache older than the
// bound, however busy or stalled the node. On PostgreSQL, LISTEN/NOTIFY
// would tell nodes sooner but not other processes on SQLite, and a lost
// notification would keep a revoked token alive: one uniform read of one
// row, at most ten times a second, does for every case.

const (
	// DefaultTokenName names the tokens created without a name of their
	// own: an app's first, and those of `herald tokens create`.
	DefaultTokenName = "default"
	// MaxTokenNameLength bounds a token's name, in characters.
	MaxTokenNameLength = 100
	// DefaultTokenUseInterval is how often last uses are written by
	// default (see Service.TokenUseInterval).
	DefaultTokenUseInterval = time.Minute

	// tokenPrefix starts every token.
	tokenPrefix = "hrld_"
	// tokenShownLength is how much of a token is kept in clear to
	// recognise it by: its first 4 random characters (24 of its 256
	// bits), as "hrld_AbC1".
	tokenShownLength = len(tokenPrefix) + 4
	// tokenRevisionCheck is how long a read of the token revision is
	// trusted: the longest a token revoked by another process may still
	// be accepted here.
	tokenRevisionCheck = 100 * time.Millisecond
	// tokenCacheMaxAge bounds how long a validated token is trusted
	// without reading it again, whatever the revision says: a backstop for
	// changes no trigger sees (a database restored from a backup, triggers
	// disabled by an administrator).
	tokenCacheMaxAge = time.Minute
)

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// checkTokenName validates the name of a new token.
func checkTokenName(name string) error {
	if strings.TrimSpace(name) == "" {
		return herald.PropertyError(herald.EMissingProperty, "name", "A token needs a name, to tell it from the app's other tokens.")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxTokenNameLength {
		return herald.PropertyError(herald.EInvalidProperty, "name", "name must be valid UTF-8 of at most %d characters.", MaxTokenNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return herald.PropertyError(herald.EInvalidProperty, "name", "name must not contain control characters.")
		}
	}
	return nil
}

// newTokenFor makes a token of an app, returning it with its secret.
func (s *Service) newTokenFor(appID, name string) (*herald.Token, string) {
	secret := newToken()
	return &herald.Token{ID: uuid.NewString(), AppID: appID, Name: name, Prefix: secret[:tokenShownLength],
		Hash: hashToken(secret), CreatedAt: s.now()}, secret
}

// CreateApp creates an app and a first token for it, named
// DefaultTokenName. The token is returned in clear this once; only its hash
// is kept.
func (s *Service) CreateApp(ctx context.Context, name string) (*herald.App, string, error) {
	app, _, secret, err := s.CreateAppWithToken(ctx, name, DefaultTokenName)
	return app, secret, err
}

// CreateAppWithToken creates an app and a first token for it with the given
// name, and returns the token's secret this once.
func (s *Service) CreateAppWithToken(ctx context.Context, name, tokenName string) (*herald.App, *herald.Token, string, error) {
	if name == "" {
		return nil, nil, "", herald.PropertyError(herald.EMissingProperty, "name", "An app needs a name.")
	}
	if err := checkTokenName(tokenName); err != nil {
		return nil, nil, "", err
	}
	app := &herald.App{ID: uuid.NewString(), Name: name, CreatedAt: s.now()}
	token, secret := s.newTokenFor(app.ID, tokenName)
	token.CreatedAt = app.CreatedAt
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateApp(ctx, app); err != nil {
			return err
		}
		return tx.CreateToken(ctx, token)
	})
	if err != nil {
		return nil, nil, "", err
	}
	return app, token, secret, nil
}

// CreateToken issues a new token for an existing app, and returns its
// secret this once.
func (s *Service) CreateToken(ctx context.Context, appID, name string) (*herald.Token, string, error) {
	if err := checkTokenName(name); err != nil {
		return nil, "", err
	}
	token, secret := s.newTokenFor(appID, name)
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		if _, err := tx.App(ctx, appID); err != nil {
			return err
		}
		return tx.CreateToken(ctx, token)
	})
	if err != nil {
		return nil, "", err
	}
	return token, secret, nil
}

// Tokens lists an app's tokens, oldest first, without their secrets. A
// token's LastUsedAt is as last written (see TokenUseInterval).
func (s *Service) Tokens(ctx context.Context, appID string) (tokens []*herald.Token, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if _, err := q.App(ctx, appID); err != nil {
			return err
		}
		tokens, err = q.Tokens(ctx, appID)
		return err
	})
	return tokens, err
}

// tokenID returns the canonical form of a token id, or not_found for what
// cannot be one (which never reaches the store).
func tokenID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", herald.NotFound("token", id)
	}
	return u.String(), nil
}

// RevokeToken revokes one of an app's tokens, as the app itself asks: any
// of them, the very token of the request included, but never the last one,
// so that an app cannot lock itself out of its API (the operator's
// RevokeTokenByID can). The token fails from the next request on, on this
// node; on the others within tokenRevisionCheck.
func (s *Service) RevokeToken(ctx context.Context, appID, id string) error {
	id, err := tokenID(id)
	if err != nil {
		return err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		// Locks the app's tokens: two revocations at once cannot both
		// see the other's token as the one left.
		tokens, err := tx.Tokens(ctx, appID)
		if err != nil {
			return err
		}
		found := false
		for _, t := range tokens {
			found = found || t.ID == id
		}
		switch {
		case !found:
			return herald.NotFound("token", id)
		case len(tokens) == 1:
			return &herald.Error{ID: herald.EInvalidOperation, Message: "This is the app's only token: create another " +
				"first, or have the operator revoke it with 'herald tokens revoke'.", Data: map[string]any{"id": id}}
		}
		return tx.DeleteToken(ctx, appID, id)
	})
	if err != nil {
		return err
	}
	s.forgetTokens()
	return nil
}

// RevokeTokenByID revokes a token of any app, even its last one (the
// operator can always create another), and returns it as it was.
func (s *Service) RevokeTokenByID(ctx context.Context, id string) (*herald.Token, error) {
	id, err := tokenID(id)
	if err != nil {
		return nil, err
	}
	var token *herald.Token
	err = s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		if token, err = tx.Token(ctx, "", id); err != nil {
			return err
		}
		return tx.DeleteToken(ctx, token.AppID, id)
	})
	if err != nil {
		return nil, err
	}
	s.forgetTokens()
	return token, nil
}

// Authenticate returns the app a token belongs to, or an
// authentication_required error.
func (s *Service) Authenticate(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", herald.Errorf(herald.EAuthRequired, "Send an app token as 'Authorization: Bearer <token>'.")
	}
	t, err := s.validToken(ctx, hashToken(token))
	if err != nil {
		return "", err
	}
	s.tokenUsed(t.id, s.now())
	return t.app, nil
}

// tokenCache holds the tokens this node validated, and their uses not
// written yet.
type tokenCache struct {
	gen atomic.Pointer[tokenGeneration]

	mu sync.Mutex
	// epoch counts this node's revocations: a read of the revision that
	// began before one may have missed it, and is not installed.
	epoch uint64
	// refreshing is closed when the read of the revision in flight ends;
	// nil when none is in flight.
	refreshing chan struct{}

	usedMu     sync.Mutex
	used       map[string]time.Time // token id → last use not written yet
	flushTimer *time.Timer          // the next write of used, when one is due
	flushedAt  time.Time
	// flushing is held while uses are written, so that a flush on
	// shutdown waits for one in progress.
	flushing sync.Mutex
}

// tokenGeneration is what the cache knows as of one read of the token
// revision.
type tokenGeneration struct {
	revision int64
	checked  time.Time // when the read of revision began
	// tokens maps a token hash to its *validToken, each validated at this
	// revision; generations of one revision share it.
	tokens *sync.Map
}

type validToken struct {
	id, app   string
	validated time.Time
}

// tokenGeneration returns the cache as of a read of the token revision
// begun less than tokenRevisionCheck ago, reading it if need be.
func (s *Service) tokenGeneration(ctx context.Context) (*tokenGeneration, error) {
	c := &s.tokens
	for {
		if g := c.gen.Load(); g != nil && time.Since(g.checked) < tokenRevisionCheck {
			return g, nil
		}
		c.mu.Lock()
		if g := c.gen.Load(); g != nil && time.Since(g.checked) < tokenRevisionCheck {
			c.mu.Unlock()
			return g, nil
		}
		if wait := c.refreshing; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done, epoch := make(chan struct{}), c.epoch
		c.refreshing = done
		c.mu.Unlock()

		start := time.Now()
		var rev int64
		err := s.Store.View(ctx, func(q herald.Queries) (err error) {
			rev, err = q.TokenRevision(ctx)
			return err
		})

		c.mu.Lock()
		c.refreshing = nil
		close(done)
		if old := c.gen.Load(); err == nil && epoch == c.epoch && (old == nil || old.checked.Before(start)) {
			tokens := new(sync.Map)
			if old != nil && old.revision == rev {
				tokens = old.tokens
			}
			c.gen.Store(&tokenGeneration{revision: rev, checked: start, tokens: tokens})
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// forgetTokens empties the cache after this node revoked a token, so that
// its next request reads the revision, and the token, again.
func (s *Service) forgetTokens() {
	c := &s.tokens
	c.mu.Lock()
	c.epoch++
	c.gen.Store(nil)
	c.mu.Unlock()
}

// validToken returns the token with the given hash, from the cache if it
// may be trusted, from the store otherwise.
func (s *Service) validToken(ctx context.Context, hash string) (*validToken, error) {
	g, err := s.tokenGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if v, ok := g.tokens.Load(hash); ok {
		if t := v.(*validToken); time.Since(t.validated) < tokenCacheMaxAge {
			return t, nil
		}
	}
	start := time.Now()
	var token *herald.Token
	var rev int64
	err = s.Store.View(ctx, func(q herald.Queries) (err error) {
		// One snapshot: the token is valid as of exactly this revision.
		if rev, err = q.TokenRevision(ctx); err != nil {
			return err
		}
		token, err = q.TokenByHash(ctx, hash)
		return err
	})
	if herald.IsNotFound(err) {
		return nil, herald.Errorf(herald.EAuthRequired, "The bearer token is not valid.")
	}
	if err != nil {
		return nil, err
	}
	t := &validToken{id: token.ID, app: token.AppID, validated: start}
	if rev == g.revision {
		// Had the revision moved since g was read, g's cache would
		// already be dropped by the next read of the revision; a token
		// read at another revision is not cached at all.
		g.tokens.Store(hash, t)
	}
	return t, nil
}

func (s *Service) tokenUseInterval() time.Duration {
	if s.TokenUseInterval > 0 {
		return s.TokenUseInterval
	}
	return DefaultTokenUseInterval
}

// tokenUsed notes a use of a token, to be written with the others at most
// one TokenUseInterval after the last write.
func (s *Service) tokenUsed(id string, at time.Time) {
	c := &s.tokens
	c.usedMu.Lock()
	defer c.usedMu.Unlock()
	if c.used == nil {
		c.used = map[string]time.Time{}
	}
	if prev, ok := c.used[id]; !ok || at.After(prev) {
		c.used[id] = at
	}
	s.scheduleTokenUses()
}

// scheduleTokenUses schedules the next write of the uses, unless one is
// scheduled. c.usedMu is held.
func (s *Service) scheduleTokenUses() {
	c := &s.tokens
	if c.flushTimer != nil {
		return
	}
	wait := max(s.tokenUseInterval()-time.Since(c.flushedAt), 0)
	c.flushTimer = time.AfterFunc(wait, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// On failure the uses stay in memory for the next write.
		s.FlushTokenUses(ctx)
	})
}

// FlushTokenUses writes the uses of tokens noted since the last write, in
// one transaction. It runs by itself at most once per TokenUseInterval;
// call it on shutdown so that the last uses are not lost.
func (s *Service) FlushTokenUses(ctx context.Context) error {
	c := &s.tokens
	c.flushing.Lock()
	defer c.flushing.Unlock()
	c.usedMu.Lock()
	used := c.used
	c.used = nil
	if c.flushTimer != nil {
		c.flushTimer.Stop()
		c.flushTimer = nil
	}
	c.flushedAt = time.Now()
	c.usedMu.Unlock()
	if len(used) == 0 {
		return nil
	}
	err := s.Store.Update(ctx, func(tx herald.Tx) error { return tx.TouchTokens(ctx, used) })
	if err != nil {
		c.usedMu.Lock()
		if c.used == nil {
			c.used = map[string]time.Time{}
		}
		for id, at := range used {
			if prev, ok := c.used[id]; !ok || at.After(prev) {
				c.used[id] = at
			}
		}
		s.scheduleTokenUses()
		c.usedMu.Unlock()
	}
	return err
}
