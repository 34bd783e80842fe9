package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/stdwebhooks"
)

// RotateInput rotates a webhook's keys.
type RotateInput struct {
	// Secret is a Layer webhook's new Layer secret, which its receiver
	// chooses; absent, the secret stays. A Callbell webhook's secret is its
	// Standard Webhooks key, which the rotation replaces.
	Secret *string `json:"secret"`
	// GracePeriodSeconds is how long the replaced keys still sign beside
	// the new ones: DefaultGracePeriod when absent, 0 to drop them at once.
	GracePeriodSeconds *float64 `json:"grace_period_seconds"`
	// AsymmetricSignature adds (true) or removes (false) the ed25519 key of
	// v1a signatures; absent, the webhook keeps one if it has one.
	AsymmetricSignature *bool `json:"asymmetric_signature"`
}

// Grace periods of rotations: Svix's default, and a bound that keeps a
// replaced key from signing for longer than a deliberate switch needs.
const (
	DefaultGracePeriod = 24 * time.Hour
	MaxGracePeriod     = 7 * 24 * time.Hour
)

// rotate gives w new keys: a new Standard Webhooks secret (for a Callbell
// webhook also its secret), a new ed25519 key if it is to have one, and a
// new Layer secret if one is given. The replaced keys sign beside the new
// ones for the grace period; those an earlier rotation replaced, if still
// in their own grace period, are dropped.
func (e *Engine) rotate(w *herald.Webhook, in RotateInput, now time.Time) error {
	grace := DefaultGracePeriod
	if in.GracePeriodSeconds != nil {
		s := *in.GracePeriodSeconds
		if s < 0 || seconds(s) > MaxGracePeriod {
			return herald.PropertyError(herald.EInvalidProperty, "grace_period_seconds",
				"grace_period_seconds must be a number of seconds from 0 (the replaced keys stop signing at once) to %d (7 days), not %v.",
				int(MaxGracePeriod.Seconds()), s)
		}
		grace = seconds(s)
	}
	if in.Secret != nil {
		if w.Format != herald.FormatLayer {
			return herald.PropertyError(herald.EInvalidProperty, "secret",
				"secret cannot be chosen for this webhook: its secret is its signing key, which the rotation replaces.")
		}
		if *in.Secret == "" {
			return herald.PropertyError(herald.EInvalidProperty, "secret", "secret must not be empty: it keys the payload signature.")
		}
	}
	w.PreviousSigningKey, w.PreviousAsymmetricKey, w.PreviousKeysUntil = w.SigningKey, w.AsymmetricKey, nil
	if grace > 0 {
		until := now.Add(grace)
		w.PreviousKeysUntil = &until
	} else {
		w.PreviousSigningKey, w.PreviousAsymmetricKey = "", ""
	}
	wasSecret := w.Secret == w.SigningKey
	w.SigningKey = stdwebhooks.NewSecret()
	switch {
	case in.Secret != nil:
		w.Secret = *in.Secret
	case w.Format != herald.FormatLayer && wasSecret:
		w.Secret = w.SigningKey
	}
	asymmetric := w.AsymmetricKey != ""
	if in.AsymmetricSignature != nil {
		asymmetric = *in.AsymmetricSignature
	}
	w.AsymmetricKey = ""
	if asymmetric {
		w.AsymmetricKey, _ = stdwebhooks.NewKeyPair()
	}
	w.UpdatedAt = now
	return nil
}

// RotateKeys rotates the keys of one of an app's webhooks (see
// RotateInput) and returns it with its new keys, to be shown once.
func (e *Engine) RotateKeys(ctx context.Context, appID, id string, in RotateInput) (w *herald.Webhook, err error) {
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		w, err = tx.Webhook(ctx, appID, id)
		if err != nil {
			return err
		}
		if err := e.rotate(w, in, e.now().UTC().Truncate(time.Microsecond)); err != nil {
			return err
		}
		return tx.UpdateWebhookKeys(ctx, w)
	})
	return w, err
}

// RotateSubscription rotates the keys of the app's only webhook of a
// format that allows one per app (Callbell's).
func (e *Engine) RotateSubscription(ctx context.Context, appID, format string, in RotateInput) (w *herald.Webhook, err error) {
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		w, err = subscription(ctx, tx, appID, format)
		if err != nil {
			return err
		}
		if w == nil {
			return herald.Errorf(herald.ENotFound, "This app has no webhook; subscribe with POST /v1/webhooks/subscribe.")
		}
		if err := e.rotate(w, in, e.now().UTC().Truncate(time.Microsecond)); err != nil {
			return err
		}
		return tx.UpdateWebhookKeys(ctx, w)
	})
	return w, err
}

// PublicKey is the "whpk_" key that verifies a webhook's v1a signatures
// made with asymmetricKey; "" when it has none.
func PublicKey(asymmetricKey string) string {
	if asymmetricKey == "" {
		return ""
	}
	pk, _ := stdwebhooks.PublicKey(asymmetricKey)
	return pk
}

var (
	signerCache sync.Map // key → *stdwebhooks.Signer
	// signersCached bounds the cache, which the keys of rotations and of
	// deleted webhooks would otherwise grow for the life of the process.
	signersCached atomic.Int64
)

const maxSigners = 1 << 12

func signer(key string) (*stdwebhooks.Signer, error) {
	if s, ok := signerCache.Load(key); ok {
		return s.(*stdwebhooks.Signer), nil
	}
	s, err := stdwebhooks.NewSigner(key)
	if err != nil {
		return nil, err
	}
	if signersCached.Add(1) > maxSigners {
		signerCache.Clear()
		signersCached.Store(1)
	}
	signerCache.Store(key, s)
	return s, nil
}

// setSignatures sets the Standard Webhooks headers of an attempt made at
// at: signed with the webhook's secret and, if it has one, its ed25519 key,
// and during a rotation's grace period with the keys it replaced too, each
// after its successor, so that a receiver holding any of them verifies.
func setSignatures(h map[string][]string, w *herald.Webhook, d *herald.Delivery, at time.Time) error {
	s, err := signer(w.SigningKey)
	if err != nil {
		return err
	}
	grace := w.InGrace(at)
	if w.AsymmetricKey == "" && !grace {
		s.SetHeaders(h, d.ID, at, d.Body)
		return nil
	}
	signers := []*stdwebhooks.Signer{s}
	keys := []string{w.AsymmetricKey}
	if grace {
		keys = []string{w.PreviousSigningKey, w.AsymmetricKey, w.PreviousAsymmetricKey}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		s, err := signer(k)
		if err != nil {
			return err
		}
		signers = append(signers, s)
	}
	stdwebhooks.SetHeaders(h, d.ID, at, d.Body, signers...)
	return nil
}
