// Package stdwebhooks implements the signing scheme of the Standard Webhooks
// specification: headers webhook-id, webhook-timestamp and webhook-signature,
// the last holding "v1," and the base64 HMAC-SHA256 of "id.timestamp.body"
// keyed by a "whsec_" secret. Herald signs every delivery this way, beside
// the format's own signature, so that any Standard Webhooks verifier works.
package stdwebhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/keyedmac"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new random signing secret.
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

func key(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, errors.New("stdwebhooks: the secret is not base64")
	}
	if len(k) == 0 {
		return nil, errors.New("stdwebhooks: the secret is empty")
	}
	return k, nil
}

// Signer signs with one secret. Its key is decoded once.
type Signer struct {
	key string
}

// NewSigner returns a signer for a "whsec_" secret.
func NewSigner(secret string) (*Signer, error) {
	k, err := key(secret)
	if err != nil {
		return nil, err
	}
	return &Signer{key: string(k)}, nil
}

var macs = keyedmac.New(sha256.New)

// Sign returns the webhook-signature value for a message.
func (s *Signer) Sign(id string, timestamp time.Time, body []byte) string {
	var buf [64]byte
	head := append(strconv.AppendInt(append(append(buf[:0], id...), '.'), timestamp.Unix(), 10), '.')
	var sum [sha256.Size]byte
	var enc [44]byte // base64 of a SHA-256 sum
	base64.StdEncoding.Encode(enc[:], macs.Sum(sum[:0], s.key, head, body))
	// One allocation: a conversion that is only concatenated is not copied.
	return "v1," + string(enc[:])
}

// SetHeaders signs a message and sets the three Standard Webhooks headers.
func (s *Signer) SetHeaders(h http.Header, id string, timestamp time.Time, body []byte) {
	// The values share one array, each capped at its own element so that
	// an Add to one header cannot write into the next.
	v := []string{id, strconv.FormatInt(timestamp.Unix(), 10), s.Sign(id, timestamp, body)}
	h["Webhook-Id"] = v[0:1:1]
	h["Webhook-Timestamp"] = v[1:2:2]
	h["Webhook-Signature"] = v[2:3:3]
}

// Tolerance is how far a verified timestamp may be from now.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("stdwebhooks: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp      = errors.New("stdwebhooks: timestamp too old or too new")
	ErrSignature      = errors.New("stdwebhooks: no matching signature")
)

// Verify checks a received message against secret: a valid timestamp within
// Tolerance of now, and at least one v1 signature (of the space-separated
// list) that matches.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	t := time.Unix(sec, 0)
	if t.Before(now.Add(-Tolerance)) || t.After(now.Add(Tolerance)) {
		return ErrTimestamp
	}
	s, err := NewSigner(secret)
	if err != nil {
		return err
	}
	want := []byte(s.Sign(id, t, body))
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrSignature
}
