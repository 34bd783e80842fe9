// Package keyring seals the secrets Herald keeps in its database (the keys
// that sign webhooks, the key of signed content URLs) with AES-256-GCM under
// keys the operator keeps outside it, so that the database alone (a backup,
// a copy, a stolen disk image) holds no usable secret.
//
// A sealed value describes itself: "enc:v1:<key id>:<base64 of nonce,
// ciphertext and tag>". A value without that prefix is plaintext, as Herald
// wrote it before it sealed anything; the stores seal such values when they
// open. The key id is derived from the key, so that an error can name the
// key a value needs without revealing it.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

const (
	prefix   = "enc:v1:"
	idLength = 8 // hex digits
)

// NewKey returns a new random key, base64-encoded, as Parse reads it.
func NewKey() string {
	b := make([]byte, KeySize)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// KeyID names a key: the first hex digits of a hash of it, which reveal
// nothing of the key.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("herald secret key id\x00"), key...))
	return hex.EncodeToString(sum[:idLength/2])
}

type key struct {
	id   string
	aead cipher.AEAD
}

// A Keyring seals with its first key and opens what any of its keys sealed.
// The nil *Keyring seals nothing: it stores plaintext and refuses sealed
// values, for tools and tests that run without a key.
type Keyring struct {
	keys []key
	// opened caches what Open returned, by sealed value: webhooks are read
	// on the delivery path, over and over, and a sealed value, its nonce
	// random, is only ever written once. A lookup allocates nothing.
	mu     sync.RWMutex
	opened map[string]opened
}

type opened struct{ ad, plaintext string }

// maxCached bounds the cache; past it, the cache starts over.
const maxCached = 1 << 16

// New returns a keyring of raw keys, the first of which seals.
func New(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no key")
	}
	k := &Keyring{}
	seen := map[string]bool{}
	for i, raw := range keys {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("keyring: key %d is %d bytes, not %d", i+1, len(raw), KeySize)
		}
		id := KeyID(raw)
		if seen[id] {
			continue
		}
		seen[id] = true
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, key{id: id, aead: aead})
	}
	return k, nil
}

// Parse reads keys separated by commas, spaces or line breaks, each the
// base64 of KeySize bytes (as NewKey makes them); the first seals.
func Parse(s string) (*Keyring, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, errors.New("keyring: no key given")
	}
	raws := make([][]byte, len(fields))
	for i, f := range fields {
		raw, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(f)
		}
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("keyring: key %d of %d is not the base64 of %d bytes (make one with `herald secret-key`)",
				i+1, len(fields), KeySize)
		}
		raws[i] = raw
	}
	return New(raws...)
}

// ID names the key that seals; "" for the nil keyring.
func (k *Keyring) ID() string {
	if k == nil {
		return ""
	}
	return k.keys[0].id
}

// IDs names every key, the one that seals first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}

func (k *Keyring) byID(id string) cipher.AEAD {
	for _, key := range k.keys {
		if key.id == id {
			return key.aead
		}
	}
	return nil
}

// Seal seals plaintext, bound to ad (what it is the secret of: a value
// sealed for one webhook, or one column, does not open for another). The
// empty string stays empty: there is nothing to hide, and it says "none".
// The nil keyring returns plaintext as it is.
func (k *Keyring) Seal(plaintext, ad string) string {
	if k == nil || plaintext == "" {
		return plaintext
	}
	aead := k.keys[0].aead
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(buf)
	buf = aead.Seal(buf, buf, []byte(plaintext), []byte(ad))
	return prefix + k.keys[0].id + ":" + base64.RawStdEncoding.EncodeToString(buf)
}

// Sealed reports whether v is a sealed value, and with which key.
func Sealed(v string) (keyID string, ok bool) {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ":")
	return id, ok && len(id) == idLength
}

// A MissingKeyError is a sealed value whose key the keyring lacks.
type MissingKeyError struct {
	KeyID string
	// NoKeyring says no key was given at all.
	NoKeyring bool
}

func (e *MissingKeyError) Error() string {
	if e.NoKeyring {
		return fmt.Sprintf("keyring: a secret in the database is sealed with key %s, and no secret key was given", e.KeyID)
	}
	return fmt.Sprintf("keyring: a secret in the database is sealed with key %s, which is not among the keys given", e.KeyID)
}

// ErrTampered is a sealed value that does not open with its key: it was
// altered, or moved from the row or column it was sealed for.
var ErrTampered = errors.New("keyring: a sealed secret does not open: it was altered or moved")

// Open returns the plaintext of v, sealed with ad; a value that is not
// sealed is returned as it is (it predates sealing).
func (k *Keyring) Open(v, ad string) (string, error) {
	id, ok := Sealed(v)
	if !ok {
		return v, nil
	}
	if k == nil {
		return "", &MissingKeyError{KeyID: id, NoKeyring: true}
	}
	k.mu.RLock()
	o, ok := k.opened[v]
	k.mu.RUnlock()
	if ok && o.ad == ad {
		return o.plaintext, nil
	}
	aead := k.byID(id)
	if aead == nil {
		return "", &MissingKeyError{KeyID: id}
	}
	raw, err := base64.RawStdEncoding.DecodeString(v[len(prefix)+idLength+1:])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrTampered
	}
	p, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(ad))
	if err != nil {
		return "", ErrTampered
	}
	k.mu.Lock()
	if len(k.opened) >= maxCached || k.opened == nil {
		k.opened = make(map[string]opened)
	}
	k.opened[v] = opened{ad: ad, plaintext: string(p)}
	k.mu.Unlock()
	return string(p), nil
}

// Stale reports whether v should be sealed again: it is plaintext, or
// sealed with a key other than the one that seals now (the keys are being
// changed). The nil keyring finds nothing stale.
func (k *Keyring) Stale(v string) bool {
	if k == nil || v == "" {
		return false
	}
	id, ok := Sealed(v)
	return !ok || id != k.keys[0].id
}
