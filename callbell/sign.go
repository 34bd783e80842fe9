package callbell

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/keyedmac"
)

// SignatureHeader carries the signature of a delivery. It is Herald's own
// header: Callbell documents no signature for its webhooks, so receivers
// written for Callbell ignore it, and receivers written for Herald check it
// or the Standard Webhooks headers sent beside it.
const SignatureHeader = "X-Callbell-Signature"

// DefaultTolerance is how far from now a receiver should accept a
// signature's timestamp.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMalformedSignature = errors.New("callbell: the signature header is missing or malformed (want t=<unix seconds>,v1=<hex>)")
	ErrTimestamp          = errors.New("callbell: the signature's timestamp is outside the tolerance")
	ErrSignature          = errors.New("callbell: no v1 signature matches the body")
)

var macs = keyedmac.New(sha256.New)

func mac(secret string, t int64, body []byte) []byte {
	var buf [24]byte
	return macs.Sum(nil, secret, append(strconv.AppendInt(buf[:0], t, 10), '.'), body)
}

// Sign returns the X-Callbell-Signature value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">", keyed by the
// secret string as it is, whsec_ prefix included. body must be the exact
// bytes sent.
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// SignAll is Sign with a v1 signature per secret, in their order: during a
// rotation, the new secret's and the old one's, each of which verifies.
func SignAll(t time.Time, body []byte, secrets ...string) string {
	ts := t.Unix()
	b := append([]byte("t="), strconv.FormatInt(ts, 10)...)
	for _, secret := range secrets {
		b = hex.AppendEncode(append(b, ",v1="...), mac(secret, ts, body))
	}
	return string(b)
}

// Verify checks a received X-Callbell-Signature header against the raw body:
// one t, at least one v1 (of several, as during a secret rotation) that
// matches, compared in constant time, and a timestamp no further than
// tolerance from now, in either direction.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	seenT := false
	for _, item := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			if seenT {
				return ErrMalformedSignature
			}
			seenT, ts = true, v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	want := mac(secret, t, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	return nil
}
