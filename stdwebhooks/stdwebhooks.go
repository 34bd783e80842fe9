// Package stdwebhooks implements the signing scheme of the Standard Webhooks
// specification: headers webhook-id, webhook-timestamp and webhook-signature,
// the last holding space-separated signatures of "id.timestamp.body": "v1,"
// and the base64 HMAC-SHA256 keyed by a "whsec_" secret, and, for a sender
// that also has an ed25519 key pair, "v1a," and the base64 ed25519
// signature made with the "whsk_" secret key, which receivers verify with
// the "whpk_" public key alone. Herald signs every delivery this way, beside
// the format's own signature, so that any Standard Webhooks verifier works.
package stdwebhooks

import (
	"crypto/ed25519"
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

// Prefixes of the specification's keys: the symmetric secret, and the
// ed25519 secret and public keys.
const (
	SecretPrefix    = "whsec_"
	SecretKeyPrefix = "whsk_"
	PublicKeyPrefix = "whpk_"
)

// NewSecret returns a new random signing secret.
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// NewKeyPair returns a new ed25519 secret key ("whsk_" and the base64 of
// its 32-byte seed) and its public key ("whpk_" and the base64 of its 32
// bytes).
func NewKeyPair() (secretKey, publicKey string) {
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return SecretKeyPrefix + base64.StdEncoding.EncodeToString(seed), PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// PublicKey returns the "whpk_" public key of a "whsk_" secret key.
func PublicKey(secretKey string) (string, error) {
	priv, err := privateKey(secretKey)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
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

func privateKey(secretKey string) (ed25519.PrivateKey, error) {
	rest, ok := strings.CutPrefix(secretKey, SecretKeyPrefix)
	seed, err := base64.StdEncoding.DecodeString(rest)
	if !ok || err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("stdwebhooks: the secret key is not whsk_ and the base64 of a 32-byte ed25519 seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func publicKey(pk string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(pk, PublicKeyPrefix)
	b, err := base64.StdEncoding.DecodeString(rest)
	if !ok || err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("stdwebhooks: the public key is not whpk_ and the base64 of a 32-byte ed25519 key")
	}
	return ed25519.PublicKey(b), nil
}

// Signer signs with one key: a "whsec_" secret (v1 signatures) or a "whsk_"
// secret key (v1a). Its key is decoded once.
type Signer struct {
	key     string
	private ed25519.PrivateKey // set for a whsk_ key
}

// NewSigner returns a signer for a "whsec_" secret or a "whsk_" secret key.
func NewSigner(secret string) (*Signer, error) {
	if strings.HasPrefix(secret, SecretKeyPrefix) {
		priv, err := privateKey(secret)
		if err != nil {
			return nil, err
		}
		return &Signer{private: priv}, nil
	}
	k, err := key(secret)
	if err != nil {
		return nil, err
	}
	return &Signer{key: string(k)}, nil
}

var macs = keyedmac.New(sha256.New)

func head(buf []byte, id string, timestamp time.Time) []byte {
	return append(strconv.AppendInt(append(append(buf, id...), '.'), timestamp.Unix(), 10), '.')
}

// Sign returns the signature of a message as webhook-signature lists it:
// "v1,…" or "v1a,…".
func (s *Signer) Sign(id string, timestamp time.Time, body []byte) string {
	if s.private != nil {
		return string(s.appendSignature(nil, id, timestamp, body))
	}
	var buf [64]byte
	var sum [sha256.Size]byte
	var enc [44]byte // base64 of a SHA-256 sum
	base64.StdEncoding.Encode(enc[:], macs.Sum(sum[:0], s.key, head(buf[:0], id, timestamp), body))
	// One allocation: a conversion that is only concatenated is not copied.
	return "v1," + string(enc[:])
}

// appendSignature appends the signature of a message to dst.
func (s *Signer) appendSignature(dst []byte, id string, timestamp time.Time, body []byte) []byte {
	if s.private == nil {
		var buf [64]byte
		var sum [sha256.Size]byte
		return base64.StdEncoding.AppendEncode(append(dst, "v1,"...),
			macs.Sum(sum[:0], s.key, head(buf[:0], id, timestamp), body))
	}
	msg := append(head(make([]byte, 0, len(id)+24+len(body)), id, timestamp), body...)
	return base64.StdEncoding.AppendEncode(append(dst, "v1a,"...), ed25519.Sign(s.private, msg))
}

// SetHeaders signs a message and sets the three Standard Webhooks headers.
func (s *Signer) SetHeaders(h http.Header, id string, timestamp time.Time, body []byte) {
	setHeaders(h, id, timestamp, s.Sign(id, timestamp, body))
}

func setHeaders(h http.Header, id string, timestamp time.Time, signature string) {
	// The values share one array, each capped at its own element so that
	// an Add to one header cannot write into the next.
	v := []string{id, strconv.FormatInt(timestamp.Unix(), 10), signature}
	h["Webhook-Id"] = v[0:1:1]
	h["Webhook-Timestamp"] = v[1:2:2]
	h["Webhook-Signature"] = v[2:3:3]
}

// SetHeaders signs a message with every signer, as during a rotation (the
// new key and the old) or beside an ed25519 key, and sets the three
// Standard Webhooks headers: webhook-signature lists the signatures,
// space-separated, in the signers' order.
func SetHeaders(h http.Header, id string, timestamp time.Time, body []byte, signers ...*Signer) {
	if len(signers) == 1 {
		signers[0].SetHeaders(h, id, timestamp, body)
		return
	}
	sig := make([]byte, 0, 96*len(signers))
	for i, s := range signers {
		if i > 0 {
			sig = append(sig, ' ')
		}
		sig = s.appendSignature(sig, id, timestamp, body)
	}
	setHeaders(h, id, timestamp, string(sig))
}

// Tolerance is how far a verified timestamp may be from now.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("stdwebhooks: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp      = errors.New("stdwebhooks: timestamp too old or too new")
	ErrSignature      = errors.New("stdwebhooks: no matching signature")
)

// Verify checks a received message against a key: a valid timestamp within
// Tolerance of now, and at least one signature of the space-separated list
// that matches: a v1 signature for a "whsec_" secret, a v1a one for a
// "whpk_" public key (see VerifyPublic).
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	if strings.HasPrefix(secret, PublicKeyPrefix) {
		return VerifyPublic(secret, h, body, now)
	}
	id, t, sigs, err := received(h, now)
	if err != nil {
		return err
	}
	s, err := NewSigner(secret)
	if err != nil {
		return err
	}
	if s.private != nil {
		return errors.New("stdwebhooks: verify with the public key (whpk_), not the secret key")
	}
	want := []byte(s.Sign(id, t, body))
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrSignature
}

// VerifyPublic checks a received message against a "whpk_" ed25519 public
// key: a valid timestamp within Tolerance of now, and at least one v1a
// signature of the space-separated list that the key verifies.
func VerifyPublic(pk string, h http.Header, body []byte, now time.Time) error {
	pub, err := publicKey(pk)
	if err != nil {
		return err
	}
	id, t, sigs, err := received(h, now)
	if err != nil {
		return err
	}
	var msg []byte
	for _, sig := range strings.Fields(sigs) {
		enc, ok := strings.CutPrefix(sig, "v1a,")
		if !ok {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(b) != ed25519.SignatureSize {
			continue
		}
		if msg == nil {
			msg = append(head(nil, id, t), body...)
		}
		if ed25519.Verify(pub, msg, b) {
			return nil
		}
	}
	return ErrSignature
}

// received reads the headers of a message and checks its timestamp.
func received(h http.Header, now time.Time) (id string, t time.Time, sigs string, err error) {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "", t, "", ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", t, "", ErrTimestamp
	}
	t = time.Unix(sec, 0)
	if t.Before(now.Add(-Tolerance)) || t.After(now.Add(Tolerance)) {
		return "", t, "", ErrTimestamp
	}
	return id, t, sigs, nil
}
