package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func newToken(app string, n int) *herald.Token {
	return &herald.Token{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), AppID: app, Name: fmt.Sprintf("token %d", n),
		Prefix: fmt.Sprintf("hrld_%04d", n), Hash: fmt.Sprintf("%064x", n), CreatedAt: at(n)}
}

func tokenRevision(t *testing.T, s herald.Store) int64 {
	t.Helper()
	var rev int64
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		rev, err = q.TokenRevision(ctx)
		return err
	})
	return rev
}

// Tokens are created, found by their hash or id, listed per app and
// deleted, each app's apart from the others'.
func testTokens(t *testing.T, s herald.Store) {
	a1, a2, b1 := newToken("a", 1), newToken("a", 2), newToken("b", 3)
	used := at(9)
	a2.LastUsedAt = &used
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, app := range []string{"a", "b"} {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
		}
		// Listed by creation, not by insertion.
		for _, tok := range []*herald.Token{a2, b1, a1} {
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.TokenByHash(ctx, a2.Hash)
		if err != nil {
			return err
		}
		same(t, "token by hash", got, a2)
		if got.Hash != a2.Hash {
			t.Fatalf("token by hash: hash %q, want %q", got.Hash, a2.Hash)
		}
		_, err = q.TokenByHash(ctx, fmt.Sprintf("%064x", 99))
		wantNotFound(t, "an unknown hash", err)
		if got, err = q.Token(ctx, "a", a1.ID); err != nil {
			return err
		}
		same(t, "token by id", got, a1)
		if got, err = q.Token(ctx, "", b1.ID); err != nil {
			return err
		}
		same(t, "token by id of any app", got, b1)
		_, err = q.Token(ctx, "a", b1.ID)
		wantNotFound(t, "another app's token by id", err)
		_, err = q.Token(ctx, "", "00000000-0000-4000-8000-000000000099")
		wantNotFound(t, "an unknown token id", err)
		list, err := q.Tokens(ctx, "a")
		if err != nil {
			return err
		}
		same(t, "app a's tokens", list, []*herald.Token{a1, a2})
		if list, err = q.Tokens(ctx, "none"); err != nil || len(list) != 0 {
			t.Fatalf("tokens of an app without any: %v, %v", list, err)
		}
		return nil
	})

	for what, del := range map[string][2]string{
		"another app's token": {"b", a1.ID},
		"an unknown token":    {"a", "00000000-0000-4000-8000-000000000099"},
	} {
		err := s.Update(context.Background(), func(tx herald.Tx) error {
			return tx.DeleteToken(context.Background(), del[0], del[1])
		})
		wantNotFound(t, "deleting "+what, err)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteToken(ctx, "a", a1.ID) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.TokenByHash(ctx, a1.Hash)
		wantNotFound(t, "a deleted token by hash", err)
		_, err = q.Token(ctx, "", a1.ID)
		wantNotFound(t, "a deleted token by id", err)
		list, err := q.Tokens(ctx, "a")
		if err != nil {
			return err
		}
		same(t, "app a's tokens after a deletion", list, []*herald.Token{a2})
		return nil
	})
}

// The token revision moves with every deletion of a token, in its
// transaction, and with nothing else that leaves tokens valid.
func testTokenRevision(t *testing.T, s herald.Store) {
	tok, other := newToken("a", 1), newToken("a", 2)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "a"); err != nil {
			return err
		}
		return tx.CreateToken(ctx, tok)
	})
	rev := tokenRevision(t, s)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.CreateToken(ctx, other); err != nil {
			return err
		}
		return tx.TouchTokens(ctx, map[string]time.Time{tok.ID: at(5), other.ID: at(6)})
	})
	if got := tokenRevision(t, s); got != rev {
		t.Fatalf("creating and using tokens moved the revision from %d to %d", rev, got)
	}

	// A deletion that rolls back leaves the revision where it was.
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		if err := tx.DeleteToken(context.Background(), "a", tok.ID); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	if err == nil {
		t.Fatal("the failing update succeeded")
	}
	if got := tokenRevision(t, s); got != rev {
		t.Fatalf("a deletion rolled back moved the revision from %d to %d", rev, got)
	}

	var inside int64
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if err := tx.DeleteToken(ctx, "a", tok.ID); err != nil {
			return err
		}
		inside, err = tx.TokenRevision(ctx)
		return err
	})
	if inside == rev {
		t.Fatalf("the revision did not move within the deleting transaction (still %d)", rev)
	}
	if got := tokenRevision(t, s); got != inside {
		t.Fatalf("revision %d after the deletion committed, %d within it", got, inside)
	}
	// A reader sees the token and the revision of one moment: the token
	// gone with the new revision, never with the old one.
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.TokenByHash(ctx, tok.Hash)
		wantNotFound(t, "the deleted token", err)
		return nil
	})
}

// Uses of tokens are recorded together; a token's last use only moves
// forward, and tokens gone meanwhile are skipped.
func testTouchTokens(t *testing.T, s herald.Store) {
	t1, t2, gone := newToken("a", 1), newToken("a", 2), newToken("a", 3)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "a"); err != nil {
			return err
		}
		for _, tok := range []*herald.Token{t1, t2, gone} {
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
		}
		return tx.DeleteToken(ctx, "a", gone.ID)
	})
	touch := func(used map[string]time.Time) {
		t.Helper()
		update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.TouchTokens(ctx, used) })
	}
	lastUsed := func() map[string]*time.Time {
		t.Helper()
		out := map[string]*time.Time{}
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			list, err := q.Tokens(ctx, "a")
			for _, tok := range list {
				out[tok.ID] = tok.LastUsedAt
			}
			return err
		})
		return out
	}
	if got := lastUsed(); got[t1.ID] != nil || got[t2.ID] != nil {
		t.Fatalf("tokens never used have a last use: %v", got)
	}
	touch(nil)
	touch(map[string]time.Time{t1.ID: at(10), t2.ID: at(20).Add(time.Microsecond), gone.ID: at(30)})
	got := lastUsed()
	if got[t1.ID] == nil || !got[t1.ID].Equal(at(10)) || got[t2.ID] == nil || !got[t2.ID].Equal(at(20).Add(time.Microsecond)) {
		t.Fatalf("last uses %v, want t1 %s and t2 %s", got, at(10), at(20).Add(time.Microsecond))
	}
	if len(got) != 2 {
		t.Fatalf("a deleted token came back with its use: %v", got)
	}
	// Another node's older news does not move a last use back.
	touch(map[string]time.Time{t1.ID: at(5), t2.ID: at(25)})
	got = lastUsed()
	if !got[t1.ID].Equal(at(10)) || !got[t2.ID].Equal(at(25)) {
		t.Fatalf("last uses %v, want t1 still %s and t2 %s", got, at(10), at(25))
	}
}

// Tokens listed in a write transaction stay as listed until it commits:
// two transactions that each delete one of an app's two tokens, but only if
// another is left, cannot both succeed.
func testTokensLockedForUpdate(t *testing.T, s herald.Store) {
	ctx := context.Background()
	for round := range 10 {
		app := fmt.Sprint("app-", round)
		pair := []*herald.Token{newToken(app, 2*round+1), newToken(app, 2*round+2)}
		update(t, s, func(ctx context.Context, tx herald.Tx) error {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
			for _, tok := range pair {
				if err := tx.CreateToken(ctx, tok); err != nil {
					return err
				}
			}
			return nil
		})
		errLast := errors.New("the last token")
		var wg sync.WaitGroup
		errs := make([]error, len(pair))
		for i, tok := range pair {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Update(ctx, func(tx herald.Tx) error {
					list, err := tx.Tokens(ctx, app)
					if err != nil {
						return err
					}
					if len(list) < 2 {
						return errLast
					}
					// Let the other transaction read the list too, if it
					// can.
					time.Sleep(20 * time.Millisecond)
					return tx.DeleteToken(ctx, app, tok.ID)
				})
			}()
		}
		wg.Wait()
		var left []*herald.Token
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			left, err = q.Tokens(ctx, app)
			return err
		})
		if len(left) != 1 {
			t.Fatalf("round %d: %d tokens left after two racing deletions that each keep one (errors %v)", round, len(left), errs)
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, errLast) {
				t.Fatal(err)
			}
		}
	}
}
