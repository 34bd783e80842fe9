package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/heraldhq/herald"
)

// Identity providers, their keys, nonces and sessions.

func (q *Queries) IdentityProvider(ctx context.Context, appID string) (string, error) {
	var id string
	err := q.db.QueryRowContext(ctx, `SELECT id FROM identity_providers WHERE app_id = ?`+q.lock, appID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func (q *Queries) PutIdentityProvider(ctx context.Context, appID, providerID string, at time.Time) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO identity_providers (app_id, id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (app_id) DO NOTHING`, appID, providerID, micros(at))
	return err
}

const identityKeyColumns = `id, app_id, provider_id, public_key, created_at`

func scanIdentityKey(r scanner) (*herald.IdentityKey, error) {
	k := &herald.IdentityKey{}
	var created int64
	if err := r.Scan(&k.ID, &k.AppID, &k.ProviderID, &k.PublicKey, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMicros(created)
	return k, nil
}

func (q *Queries) CreateIdentityKey(ctx context.Context, k *herald.IdentityKey) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO identity_keys (`+identityKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.AppID, k.ProviderID, k.PublicKey, micros(k.CreatedAt))
	return err
}

func (q *Queries) IdentityKey(ctx context.Context, id string) (*herald.IdentityKey, error) {
	k, err := scanIdentityKey(q.db.QueryRowContext(ctx, `SELECT `+identityKeyColumns+` FROM identity_keys WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "identity_key", id)
	}
	return k, nil
}

func (q *Queries) IdentityKeys(ctx context.Context, appID string) ([]*herald.IdentityKey, error) {
	return collect(scanIdentityKey)(q.db.QueryContext(ctx, `SELECT `+identityKeyColumns+` FROM identity_keys
		WHERE app_id = ? ORDER BY created_at, id`, appID))
}

func (q *Queries) DeleteIdentityKey(ctx context.Context, appID, id string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM identity_keys WHERE app_id = ? AND id = ?`, appID, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) CreateNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)`, nonce, micros(expiresAt))
	return err
}

func (q *Queries) ConsumeNonce(ctx context.Context, nonce string, now time.Time) (bool, error) {
	// An expired nonce is deleted all the same: it is of no use any more.
	var expires int64
	err := q.db.QueryRowContext(ctx, `DELETE FROM nonces WHERE nonce = ? RETURNING expires_at`, nonce).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return expires > micros(now), nil
}

func (q *Queries) CountNonces(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM nonces WHERE expires_at > ?`, micros(now)).Scan(&n)
	return n, err
}

const sessionColumns = `id, app_id, user_id, hash, created_at, expires_at`

func scanSession(r scanner) (*herald.Session, error) {
	s := &herald.Session{}
	var created, expires int64
	if err := r.Scan(&s.ID, &s.AppID, &s.UserID, &s.Hash, &created, &expires); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

func (q *Queries) CreateSession(ctx context.Context, s *herald.Session) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, s.AppID, s.UserID, s.Hash, micros(s.CreatedAt), micros(s.ExpiresAt))
	return err
}

func (q *Queries) SessionByHash(ctx context.Context, hash string) (*herald.Session, error) {
	s, err := scanSession(q.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE hash = ?`, hash))
	if err != nil {
		return nil, notFound(err, "session", "")
	}
	return s, nil
}

func (q *Queries) DeleteSession(ctx context.Context, hash string) (*herald.Session, error) {
	s, err := scanSession(q.db.QueryRowContext(ctx, `DELETE FROM sessions WHERE hash = ? RETURNING `+sessionColumns, hash))
	if err != nil {
		return nil, notFound(err, "session", "")
	}
	return s, nil
}

func (q *Queries) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, stmt := range []string{
		`DELETE FROM nonces WHERE nonce IN (SELECT nonce FROM nonces WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		`DELETE FROM sessions WHERE hash IN (SELECT hash FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
	} {
		res, err := q.db.ExecContext(ctx, stmt, micros(now), limit-total)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		if total += int(n); total >= limit {
			break
		}
	}
	return total, nil
}
