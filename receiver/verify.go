package receiver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers Herald signs deliveries with.
const (
	// Standard Webhooks (www.standardwebhooks.com), on every delivery.
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
	// Layer's HMAC-SHA1 of the body, on Layer-format deliveries.
	HeaderLayerSignature = "Layer-Webhook-Signature"
	// Herald's own signature of Callbell-format deliveries.
	HeaderCallbellSignature = "X-Callbell-Signature"
)

// DefaultTolerance is how far from now a signed timestamp may be, in either
// direction, unless Verifier.Tolerance says otherwise: the Standard Webhooks
// specification's 5 minutes, which Herald's Callbell signature uses too.
const DefaultTolerance = 5 * time.Minute

// Scheme names a signature scheme.
type Scheme string

// The schemes a delivery may be signed with.
const (
	// SchemeV1 is Standard Webhooks' v1: base64 HMAC-SHA256 of
	// "id.timestamp.body" keyed by a "whsec_" secret.
	SchemeV1 Scheme = "v1"
	// SchemeV1a is Standard Webhooks' v1a: base64 ed25519 signature of
	// "id.timestamp.body", checked with a "whpk_" public key.
	SchemeV1a Scheme = "v1a"
	// SchemeLayer is Layer's layer-webhook-signature: hex HMAC-SHA1 of the
	// body keyed by the webhook's Layer secret. It covers no timestamp.
	SchemeLayer Scheme = "layer"
	// SchemeCallbell is Herald's X-Callbell-Signature: "t=<unix>,v1=<hex
	// HMAC-SHA256 of "t.body">", keyed by the whole "whsec_" secret.
	SchemeCallbell Scheme = "callbell"
)

// Errors of verification. Every error Verify returns wraps one of them
// (errors.Is), and a *SignatureError says which scheme failed.
var (
	// ErrNoKeys: the Verifier holds no key at all.
	ErrNoKeys = errors.New("no verification key configured")
	// ErrMissingHeader: no signature header the Verifier holds a key for.
	ErrMissingHeader = errors.New("missing signature header")
	// ErrMalformedHeader: a signature header that cannot be read.
	ErrMalformedHeader = errors.New("malformed signature header")
	// ErrBadSignature: no signature matches any of the keys.
	ErrBadSignature = errors.New("signature does not match")
	// ErrTimestampTooOld and ErrTimestampTooNew: the signed timestamp is
	// beyond the tolerance.
	ErrTimestampTooOld = errors.New("timestamp too old")
	ErrTimestampTooNew = errors.New("timestamp too new")
	// ErrBodyTooLarge: ReadBody met a body over its limit.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrInvalidKey: a key of the Verifier is not of its kind's form.
	ErrInvalidKey = errors.New("invalid key")
)

// SignatureError is a failed check of one scheme.
type SignatureError struct {
	Scheme Scheme
	Err    error
}

func (e *SignatureError) Error() string { return string(e.Scheme) + " signature: " + e.Err.Error() }
func (e *SignatureError) Unwrap() error { return e.Err }

// Verifier checks the signatures of Herald's deliveries. Give it the keys of
// the webhook (several of a kind during a rotation: the old and the new both
// verify while Herald signs with both). A delivery is authentic when every
// scheme it carries that the Verifier holds a key for verifies, and at least
// one does: a key the receiver has but the delivery does not use is no
// failure, a signature it carries that matches none of the keys is.
//
// Verifier is safe for concurrent use once set up.
type Verifier struct {
	// Secrets are "whsec_…" secrets: the signing_secret Herald shows when a
	// webhook is created or its keys rotated. They check Standard Webhooks'
	// v1 signatures and, for a Callbell-format webhook (whose secret is its
	// signing secret), X-Callbell-Signature.
	Secrets []string
	// PublicKeys are "whpk_…" ed25519 public keys (signing_public_key):
	// they check v1a signatures, and hold nothing secret.
	PublicKeys []string
	// LayerSecrets are the "secret" strings a Layer-format webhook was
	// registered (or rotated) with: they check layer-webhook-signature.
	// That signature covers no timestamp, so a captured delivery verifies
	// forever; prefer Secrets or PublicKeys where you can.
	LayerSecrets []string
	// Tolerance bounds how far a signed timestamp may be from now;
	// DefaultTolerance when 0.
	Tolerance time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Result says what verified.
type Result struct {
	// Schemes lists the schemes that verified, in the order v1, v1a,
	// callbell, layer.
	Schemes []Scheme
	// ID is the Standard Webhooks message id (webhook-id), the same on every
	// retry of a delivery; "" when the delivery carries none.
	ID string
	// Timestamp is the signed time (webhook-timestamp, or X-Callbell-
	// Signature's t); zero when only Layer's signature verified.
	Timestamp time.Time
}

func (v *Verifier) tolerance() time.Duration {
	if v.Tolerance > 0 {
		return v.Tolerance
	}
	return DefaultTolerance
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks a delivery's headers against its raw body: the exact bytes
// received, never a re-encoded copy.
func (v *Verifier) Verify(h http.Header, body []byte) (Result, error) {
	var res Result
	if len(v.Secrets) == 0 && len(v.PublicKeys) == 0 && len(v.LayerSecrets) == 0 {
		return res, ErrNoKeys
	}
	now, tol := v.now(), v.tolerance()
	checked := false
	if (len(v.Secrets) > 0 || len(v.PublicKeys) > 0) && h.Get(HeaderWebhookSignature) != "" {
		checked = true
		schemes, id, ts, err := v.verifyStandard(h, body, now, tol)
		if err != nil {
			return res, err
		}
		res.Schemes, res.ID, res.Timestamp = append(res.Schemes, schemes...), id, ts
	}
	if len(v.Secrets) > 0 && h.Get(HeaderCallbellSignature) != "" {
		checked = true
		ts, err := verifyCallbell(v.Secrets, h.Get(HeaderCallbellSignature), body, now, tol)
		if err != nil {
			return res, &SignatureError{SchemeCallbell, err}
		}
		res.Schemes = append(res.Schemes, SchemeCallbell)
		if res.Timestamp.IsZero() {
			res.Timestamp = ts
		}
	}
	if len(v.LayerSecrets) > 0 && h.Get(HeaderLayerSignature) != "" {
		checked = true
		if err := verifyLayer(v.LayerSecrets, h.Get(HeaderLayerSignature), body); err != nil {
			return res, &SignatureError{SchemeLayer, err}
		}
		res.Schemes = append(res.Schemes, SchemeLayer)
	}
	if !checked {
		return res, fmt.Errorf("%w: want %s", ErrMissingHeader, v.wanted())
	}
	return res, nil
}

// wanted names the headers the Verifier has keys for.
func (v *Verifier) wanted() string {
	var hs []string
	if len(v.Secrets) > 0 || len(v.PublicKeys) > 0 {
		hs = append(hs, "webhook-id, webhook-timestamp and webhook-signature")
	}
	if len(v.Secrets) > 0 {
		hs = append(hs, HeaderCallbellSignature)
	}
	if len(v.LayerSecrets) > 0 {
		hs = append(hs, HeaderLayerSignature)
	}
	return strings.Join(hs, ", or ")
}

// checkTime checks a signed time against now and the tolerance.
func checkTime(t, now time.Time, tol time.Duration) error {
	switch {
	case t.Before(now.Add(-tol)):
		return fmt.Errorf("%w: signed at %s, more than %s ago", ErrTimestampTooOld, t.UTC().Format(time.RFC3339), tol)
	case t.After(now.Add(tol)):
		return fmt.Errorf("%w: signed at %s, more than %s ahead", ErrTimestampTooNew, t.UTC().Format(time.RFC3339), tol)
	}
	return nil
}

// verifyStandard checks the Standard Webhooks headers: a matching v1 (of
// any secret) or v1a (of any public key) among the space-separated
// signatures. With keys of both kinds, each kind present must match.
func (v *Verifier) verifyStandard(h http.Header, body []byte, now time.Time, tol time.Duration) ([]Scheme, string, time.Time, error) {
	fail := func(s Scheme, err error) ([]Scheme, string, time.Time, error) {
		return nil, "", time.Time{}, &SignatureError{s, err}
	}
	id, ts, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || ts == "" {
		return fail(SchemeV1, fmt.Errorf("%w: webhook-signature without webhook-id or webhook-timestamp", ErrMissingHeader))
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fail(SchemeV1, fmt.Errorf("%w: webhook-timestamp %q is not a number of seconds", ErrMalformedHeader, ts))
	}
	t := time.Unix(sec, 0)
	if err := checkTime(t, now, tol); err != nil {
		return fail(SchemeV1, err)
	}
	signed := append([]byte(id+"."+ts+"."), body...)
	var v1, v1a [][]byte
	for _, s := range strings.Fields(sigs) {
		ver, enc, ok := strings.Cut(s, ",")
		if !ok {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		switch ver {
		case "v1":
			v1 = append(v1, b)
		case "v1a":
			v1a = append(v1a, b)
		}
	}
	var ok []Scheme
	if len(v.Secrets) > 0 && len(v1) > 0 {
		matched := false
		for _, secret := range v.Secrets {
			key, err := secretKey(secret)
			if err != nil {
				return fail(SchemeV1, err)
			}
			m := hmac.New(sha256.New, key)
			m.Write(signed)
			want := m.Sum(nil)
			for _, sig := range v1 {
				// Every candidate is compared, in constant time each.
				if hmac.Equal(sig, want) {
					matched = true
				}
			}
		}
		if !matched {
			return fail(SchemeV1, ErrBadSignature)
		}
		ok = append(ok, SchemeV1)
	}
	if len(v.PublicKeys) > 0 && len(v1a) > 0 {
		matched := false
		for _, pk := range v.PublicKeys {
			pub, err := publicKey(pk)
			if err != nil {
				return fail(SchemeV1a, err)
			}
			for _, sig := range v1a {
				if len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, signed, sig) {
					matched = true
				}
			}
		}
		if !matched {
			return fail(SchemeV1a, ErrBadSignature)
		}
		ok = append(ok, SchemeV1a)
	}
	if len(ok) == 0 {
		// Signatures of no kind the Verifier holds keys for.
		s := SchemeV1
		if len(v.Secrets) == 0 {
			s = SchemeV1a
		}
		return fail(s, fmt.Errorf("%w: webhook-signature holds no %s signature", ErrBadSignature, s))
	}
	return ok, id, t, nil
}

func secretKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(k) == 0 {
		return nil, fmt.Errorf("%w: a secret is \"whsec_\" and base64", ErrInvalidKey)
	}
	return k, nil
}

func publicKey(pk string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(pk, "whpk_")
	b, err := base64.StdEncoding.DecodeString(rest)
	if !ok || err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: a public key is \"whpk_\" and the base64 of 32 bytes", ErrInvalidKey)
	}
	return ed25519.PublicKey(b), nil
}

// verifyCallbell checks X-Callbell-Signature: one t, and a v1 (of several
// during a rotation) that one of the secrets made.
func verifyCallbell(secrets []string, header string, body []byte, now time.Time, tol time.Duration) (time.Time, error) {
	var ts string
	var sigs [][]byte
	for _, item := range strings.Split(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return time.Time{}, fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformedHeader)
		}
		switch k {
		case "t":
			if ts != "" {
				return time.Time{}, fmt.Errorf("%w: two timestamps", ErrMalformedHeader)
			}
			ts = val
		case "v1":
			if sig, err := hex.DecodeString(val); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return time.Time{}, fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformedHeader)
	}
	t := time.Unix(sec, 0)
	if err := checkTime(t, now, tol); err != nil {
		return t, err
	}
	matched := false
	for _, secret := range secrets {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		want := m.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				matched = true
			}
		}
	}
	if !matched {
		return t, ErrBadSignature
	}
	return t, nil
}

// verifyLayer checks layer-webhook-signature against each secret.
func verifyLayer(secrets []string, header string, body []byte) error {
	sig, err := hex.DecodeString(strings.TrimSpace(header))
	if err != nil || len(sig) != sha1.Size {
		return fmt.Errorf("%w: want the hex HMAC-SHA1 of the body", ErrMalformedHeader)
	}
	matched := false
	for _, secret := range secrets {
		m := hmac.New(sha1.New, []byte(secret))
		m.Write(body)
		if hmac.Equal(sig, m.Sum(nil)) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	return nil
}

// DefaultMaxBody bounds the body ReadBody reads when given no limit: 1 MiB,
// far above any delivery Herald sends (its messages are at most a few
// hundred KiB of inline parts).
const DefaultMaxBody = 1 << 20

// ReadBody reads a request's whole body, at most limit bytes (DefaultMaxBody
// when limit <= 0), and puts it back so that the next reader gets the same
// bytes. Verify those bytes, not a re-encoding: a signature covers the
// exact bytes Herald sent.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
