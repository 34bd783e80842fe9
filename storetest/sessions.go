package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// Identity providers and keys: one provider per app, set once; keys found
// by id whatever their app, listed per app, deleted by their app only.
func testIdentityKeys(t *testing.T, s herald.Store) {
	k1 := &herald.IdentityKey{ID: "k1", AppID: "app-1", ProviderID: "p1", PublicKey: "PEM1", CreatedAt: at(1)}
	k2 := &herald.IdentityKey{ID: "k2", AppID: "app-1", ProviderID: "p1", PublicKey: "PEM2", CreatedAt: at(2)}
	k3 := &herald.IdentityKey{ID: "k3", AppID: "app-2", ProviderID: "p2", PublicKey: "PEM3", CreatedAt: at(1)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if p, err := tx.IdentityProvider(ctx, "app-1"); err != nil || p != "" {
			t.Fatalf("provider before any: %q, %v", p, err)
		}
		for _, p := range []struct{ app, id string }{{"app-1", "p1"}, {"app-2", "p2"}, {"app-1", "p9"}} {
			if err := tx.PutIdentityProvider(ctx, p.app, p.id, at(1)); err != nil {
				return err
			}
		}
		for _, k := range []*herald.IdentityKey{k2, k1, k3} {
			if err := tx.CreateIdentityKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		p, err := q.IdentityProvider(ctx, "app-1")
		if err != nil {
			return err
		}
		same(t, "app-1's provider, put twice", p, "p1")
		got, err := q.IdentityKey(ctx, "k3")
		if err != nil {
			return err
		}
		same(t, "key k3", got, k3)
		_, err = q.IdentityKey(ctx, "k9")
		wantNotFound(t, "unknown key", err)
		keys, err := q.IdentityKeys(ctx, "app-1")
		if err != nil {
			return err
		}
		same(t, "app-1's keys", keys, []*herald.IdentityKey{k1, k2})
		return nil
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if ok, err := tx.DeleteIdentityKey(ctx, "app-2", "k1"); err != nil || ok {
			t.Fatalf("another app deleted k1: %v, %v", ok, err)
		}
		if ok, err := tx.DeleteIdentityKey(ctx, "app-1", "k1"); err != nil || !ok {
			t.Fatalf("deleting k1: %v, %v", ok, err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		keys, err := q.IdentityKeys(ctx, "app-1")
		same(t, "app-1's keys after deleting k1", keys, []*herald.IdentityKey{k2})
		return err
	})
}

// Nonces are consumed once, and only before they expire; sessions are
// found and deleted by their token's hash; expired ones go, in bounded
// batches.
func testNoncesAndSessions(t *testing.T, s herald.Store) {
	ann := &herald.Session{ID: "s1", AppID: "app-1", UserID: "ann", Hash: "h1", CreatedAt: at(0), ExpiresAt: at(10)}
	bob := &herald.Session{ID: "s2", AppID: "app-1", UserID: "bob", Hash: "h2", CreatedAt: at(0), ExpiresAt: at(30)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, n := range []struct {
			nonce string
			until int
		}{{"n1", 10}, {"n2", 10}, {"n3", 2}, {"n4", 30}} {
			if err := tx.CreateNonce(ctx, n.nonce, at(n.until)); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(ctx, ann); err != nil {
			return err
		}
		return tx.CreateSession(ctx, bob)
	})
	consume := func(nonce string, now int) bool {
		var ok bool
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			ok, err = tx.ConsumeNonce(ctx, nonce, at(now))
			return err
		})
		return ok
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		n, err := q.CountNonces(ctx, at(5))
		same(t, "nonces valid at 5", n, 3)
		return err
	})
	same(t, "n1 used", consume("n1", 5), true)
	same(t, "n1 used again", consume("n1", 5), false)
	same(t, "n3 after expiry", consume("n3", 5), false)
	same(t, "n9 never issued", consume("n9", 5), false)
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.SessionByHash(ctx, "h1")
		if err != nil {
			return err
		}
		same(t, "ann's session", got, ann)
		_, err = q.SessionByHash(ctx, "h9")
		wantNotFound(t, "unknown session", err)
		return nil
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		got, err := tx.DeleteSession(ctx, "h2")
		if err != nil {
			return err
		}
		same(t, "deleted session", got, bob)
		_, err = tx.DeleteSession(ctx, "h2")
		wantNotFound(t, "deleting again", err)
		return nil
	})
	// At 20, n2 (10) and ann's session (10) are expired; n4 (30) is not.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		n, err := tx.DeleteExpired(ctx, at(20), 1)
		same(t, "expired deleted, limit 1", n, 1)
		if err != nil {
			return err
		}
		n, err = tx.DeleteExpired(ctx, at(20), 10)
		same(t, "expired deleted, the rest", n, 1)
		return err
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.SessionByHash(ctx, "h1")
		wantNotFound(t, "expired session", err)
		n, err := q.CountNonces(ctx, at(0))
		same(t, "nonces left", n, 1)
		return err
	})
}
