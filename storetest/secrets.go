package storetest

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
)

// Keyring is a fixed keyring for the stores of tests.
var Keyring = func() *keyring.Keyring {
	k, err := keyring.Parse("aGVyYWxkIHN0b3JlIHRlc3RzIGtleSwgMzIgYnl0ZXM=")
	if err != nil {
		panic(err)
	}
	return k
}()

// keyedWebhook is a webhook with every key a rotation leaves it.
func keyedWebhook(id string) *herald.Webhook {
	w := newWebhook("app", id)
	until := at(60)
	w.Secret, w.SigningKey = "layer secret of "+id, "whsec_c2lnbmluZyBrZXkgb2Yg"+id
	w.AsymmetricKey, w.PreviousSigningKey = "whsk_YXN5bW1ldHJpYyBrZXkgb2Yg"+id, "whsec_cHJldmlvdXMga2V5IG9m"+id
	w.PreviousAsymmetricKey, w.PreviousKeysUntil = "whsk_cHJldmlvdXMgYXN5bW1ldHJpYw"+id, &until
	return w
}

func readWebhook(t *testing.T, s herald.Store, id string) *herald.Webhook {
	t.Helper()
	var w *herald.Webhook
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		w, err = q.Webhook(ctx, "app", id)
		return err
	})
	return w
}

// testWebhookKeys: keys are saved by CreateWebhook and UpdateWebhookKeys
// only, and the replaced ones are dropped once their grace period ends.
func testWebhookKeys(t *testing.T, s herald.Store) {
	w := keyedWebhook("w1")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, w)
	})
	same(t, "created webhook", readWebhook(t, s, "w1"), w)

	rotated := *w
	rotated.Secret, rotated.SigningKey, rotated.AsymmetricKey = "new layer secret", "whsec_bmV3", ""
	rotated.PreviousSigningKey, rotated.PreviousAsymmetricKey = w.SigningKey, w.AsymmetricKey
	until := at(30)
	rotated.PreviousKeysUntil, rotated.UpdatedAt = &until, at(1)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		// A status change made from the copy read before the rotation...
		stale := *w
		stale.Status, stale.UpdatedAt = herald.WebhookInactive, at(2)
		if err := tx.UpdateWebhookKeys(ctx, &rotated); err != nil {
			return err
		}
		return tx.UpdateWebhook(ctx, &stale)
	})
	// ...does not undo it.
	got := readWebhook(t, s, "w1")
	rotated.Status, rotated.UpdatedAt = herald.WebhookInactive, at(2)
	same(t, "rotated webhook", got, &rotated)
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.UpdateWebhookKeys(context.Background(), keyedWebhook("missing"))
	})
	wantNotFound(t, "the keys of a missing webhook", err)

	other := keyedWebhook("w2")
	later := at(90)
	other.PreviousKeysUntil = &later
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.CreateWebhook(ctx, other) })
	drop := func(now time.Time) (n int) {
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			n, err = tx.DropExpiredWebhookKeys(ctx, now)
			return err
		})
		return n
	}
	if n := drop(at(29)); n != 0 {
		t.Fatalf("dropped the keys of %d webhooks before their grace period ended", n)
	}
	if n := drop(at(30)); n != 1 {
		t.Fatalf("dropped the keys of %d webhooks at the end of one's grace period, want 1", n)
	}
	got = readWebhook(t, s, "w1")
	if got.PreviousSigningKey != "" || got.PreviousAsymmetricKey != "" || got.PreviousKeysUntil != nil ||
		got.SigningKey != rotated.SigningKey || got.Secret != rotated.Secret {
		t.Fatalf("after its grace period: %+v", got)
	}
	same(t, "the other webhook", readWebhook(t, s, "w2"), other)
}

// SecretsAtRest checks an engine's sealing of secrets: open opens the same
// database each time, with the given keyring (nil: none), and raw reads it
// with SQL, around the store.
func SecretsAtRest(t *testing.T, open func(t *testing.T, k *keyring.Keyring) (herald.Store, error), raw func(t *testing.T) *sql.DB) {
	t.Helper()
	ctx := context.Background()
	mustOpen := func(k *keyring.Keyring) herald.Store {
		t.Helper()
		s, err := open(t, k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sealedCount := func(s herald.Store) int { return s.(interface{ Sealed() int }).Sealed() }
	const urlKey = "0123456789abcdef0123456789abcdef"

	// A store without a keyring (as Herald was before it sealed) writes
	// plaintext.
	s := mustOpen(nil)
	legacy := keyedWebhook("w0")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		if _, err := tx.InitSetting(ctx, "url_signing_key", urlKey); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, legacy)
	})
	s.Close()

	db := raw(t)
	defer db.Close()
	columns := []string{"secret", "signing_key", "asymmetric_key", "previous_signing_key", "previous_asymmetric_key"}
	rawSecrets := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		rows, err := db.QueryContext(ctx, `SELECT id, `+strings.Join(columns, ", ")+` FROM webhooks`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			vs := make([]string, len(columns))
			dest := []any{&id}
			for i := range vs {
				dest = append(dest, &vs[i])
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			for i, c := range columns {
				out[id+"."+c] = vs[i]
			}
		}
		var v string
		if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'url_signing_key'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		out["url_signing_key"] = v
		return out
	}
	plaintexts := []string{urlKey}
	for _, id := range []string{"w0", "w1"} {
		w := keyedWebhook(id)
		plaintexts = append(plaintexts, w.Secret, w.SigningKey, w.AsymmetricKey, w.PreviousSigningKey, w.PreviousAsymmetricKey)
	}
	allSealedWith := func(what string, k *keyring.Keyring) {
		t.Helper()
		for name, v := range rawSecrets() {
			if id, ok := keyring.Sealed(v); !ok || id != k.ID() {
				t.Fatalf("%s: %s is %q, not sealed with key %s", what, name, v, k.ID())
			}
			for _, p := range plaintexts {
				if strings.Contains(v, p) {
					t.Fatalf("%s: %s holds the plaintext %q", what, name, p)
				}
			}
		}
	}
	if v := rawSecrets()["w0.signing_key"]; v != legacy.SigningKey {
		t.Fatalf("without a keyring the store wrote %q", v)
	}

	// Opened with a key, the store seals what it finds in plaintext, and
	// what it writes.
	key1, key2 := keyring.NewKey(), keyring.NewKey()
	k1, _ := keyring.Parse(key1)
	s = mustOpen(k1)
	if n := sealedCount(s); n != 6 {
		t.Fatalf("sealed %d secrets on open, want 6", n)
	}
	w1 := keyedWebhook("w1")
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.CreateWebhook(ctx, w1) })
	same(t, "the legacy webhook, sealed", readWebhook(t, s, "w0"), legacy)
	same(t, "a new webhook", readWebhook(t, s, "w1"), w1)
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		v, err := q.Setting(ctx, "url_signing_key")
		if err == nil && v != urlKey {
			t.Fatalf("url_signing_key reads %q", v)
		}
		return err
	})
	s.Close()
	allSealedWith("after opening with a key", k1)

	// Without its key, or with another, the store does not open, and says
	// which key it needs.
	k2, _ := keyring.Parse(key2)
	for _, k := range []*keyring.Keyring{nil, k2} {
		_, err := open(t, k)
		var missing *keyring.MissingKeyError
		if !errors.As(err, &missing) || missing.KeyID != k1.ID() || !strings.Contains(err.Error(), k1.ID()) {
			t.Fatalf("opened with keys %v: %v; want an error naming key %s", k.IDs(), err, k1.ID())
		}
	}

	// Changing keys: with the new key first and the old one after, the
	// store opens what the old one sealed and seals it again with the new
	// one, after which the new one alone opens everything.
	both, _ := keyring.Parse(key2 + "," + key1)
	s = mustOpen(both)
	if n := sealedCount(s); n != 11 {
		t.Fatalf("sealed %d secrets again with the new key, want 11", n)
	}
	s.Close()
	allSealedWith("after changing keys", k2)
	s = mustOpen(k2)
	if n := sealedCount(s); n != 0 {
		t.Fatalf("sealed %d secrets again with an unchanged key", n)
	}
	same(t, "a webhook after changing keys", readWebhook(t, s, "w1"), w1)
	same(t, "the legacy webhook after changing keys", readWebhook(t, s, "w0"), legacy)
	s.Close()

	// A sealed value moved to another column does not open there.
	if _, err := db.ExecContext(ctx, `UPDATE webhooks SET signing_key = previous_signing_key WHERE id = 'w1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, k2); !errors.Is(err, keyring.ErrTampered) || !strings.Contains(err.Error(), "w1") {
		t.Fatalf("opened with a moved secret: %v", err)
	}
}
