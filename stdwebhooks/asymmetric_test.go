package stdwebhooks_test

import (
	"crypto/sha512"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"

	"github.com/heraldhq/herald/stdwebhooks"
)

// A vector made by another implementation (cryptonite, through Mercury's
// Standard Webhooks library for Haskell): the secret key is the seed
// "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", the message "i.0.Hello, world!".
// ed25519 is deterministic, so the signature must be the same, byte for
// byte.
func TestAsymmetricVector(t *testing.T) {
	s, err := stdwebhooks.NewSigner("whsk_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Sign("i", time.Unix(0, 0), []byte("Hello, world!"))
	const want = "v1a,CV1O+PvrwXM42OMUX+tmm6bA3cS0tgLp0qo3YKuu0MGmBrsUhA0MHXF11HsEUJtPfTKs80WE7WUKVt9TueLDCQ=="
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// verifyEd25519 checks a signature with the group arithmetic of
// filippo.io/edwards25519, apart from crypto/ed25519 (RFC 8032, section
// 5.1.7, without the cofactor, as crypto/ed25519 verifies):
// [S]B = R + [SHA-512(R || A || M)]A.
func verifyEd25519(t *testing.T, pub, msg, sig []byte) bool {
	t.Helper()
	if len(pub) != 32 || len(sig) != 64 {
		return false
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	S, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	h.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	// R' = [S]B - [k]A, which must encode as R.
	minusA := new(edwards25519.Point).Negate(A)
	R := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, minusA, S)
	return string(R.Bytes()) == string(sig[:32])
}

func TestAsymmetricSignatures(t *testing.T) {
	sk, pk := stdwebhooks.NewKeyPair()
	if !strings.HasPrefix(sk, "whsk_") || !strings.HasPrefix(pk, "whpk_") {
		t.Fatalf("keys %s %s", sk, pk)
	}
	if derived, err := stdwebhooks.PublicKey(sk); err != nil || derived != pk {
		t.Fatalf("PublicKey = %s, %v; want %s", derived, err, pk)
	}
	asym, err := stdwebhooks.NewSigner(sk)
	if err != nil {
		t.Fatal(err)
	}
	secret := stdwebhooks.NewSecret()
	sym, _ := stdwebhooks.NewSigner(secret)
	body := []byte(`{"event":{"type":"message.sent"}}`)
	now := time.Now()
	h := http.Header{}
	stdwebhooks.SetHeaders(h, "msg_1", now, body, sym, asym)
	sigs := strings.Fields(h.Get("webhook-signature"))
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1a,") {
		t.Fatalf("webhook-signature %q", h.Get("webhook-signature"))
	}
	if err := stdwebhooks.VerifyPublic(pk, h, body, now); err != nil {
		t.Fatal(err)
	}
	if err := stdwebhooks.Verify(pk, h, body, now); err != nil {
		t.Fatalf("Verify with the public key: %v", err)
	}
	if err := stdwebhooks.Verify(secret, h, body, now); err != nil {
		t.Fatalf("the v1 signature beside it: %v", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sigs[1], "v1a,"))
	pub, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, "whpk_"))
	msg := []byte("msg_1." + h.Get("webhook-timestamp") + "." + string(body))
	if !verifyEd25519(t, pub, msg, raw) {
		t.Fatal("an independent ed25519 verifier rejects the signature")
	}
	if verifyEd25519(t, pub, append(msg, ' '), raw) {
		t.Fatal("the independent verifier accepts anything")
	}

	_, other := stdwebhooks.NewKeyPair()
	if err := stdwebhooks.VerifyPublic(other, h, body, now); err != stdwebhooks.ErrSignature {
		t.Fatalf("another public key: %v", err)
	}
	if err := stdwebhooks.VerifyPublic(pk, h, []byte(`{}`), now); err != stdwebhooks.ErrSignature {
		t.Fatalf("another body: %v", err)
	}
	if err := stdwebhooks.VerifyPublic(pk, h, body, now.Add(time.Hour)); err != stdwebhooks.ErrTimestamp {
		t.Fatalf("stale: %v", err)
	}
	// A v1 signature is no v1a one, even if it decodes.
	h.Set("webhook-signature", sigs[0])
	if err := stdwebhooks.VerifyPublic(pk, h, body, now); err != stdwebhooks.ErrSignature {
		t.Fatalf("v1 only: %v", err)
	}
	if err := stdwebhooks.Verify(sk, h, body, now); err == nil {
		t.Fatal("Verify accepted a secret key")
	}
	for _, bad := range []string{"whpk_", "whpk_abc", "whsec_" + strings.TrimPrefix(pk, "whpk_"), pk + "AA"} {
		if err := stdwebhooks.VerifyPublic(bad, h, body, now); err == nil || err == stdwebhooks.ErrSignature {
			t.Errorf("public key %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"whsk_", "whsk_abc", "whsk_" + strings.TrimPrefix(pk, "whpk_") + "AA"} {
		if _, err := stdwebhooks.NewSigner(bad); err == nil {
			t.Errorf("secret key %q accepted", bad)
		}
	}
}

// During a rotation every delivery carries the new signatures and the old:
// each key alone verifies it.
func TestSetHeadersSeveralKeys(t *testing.T) {
	newSecret, oldSecret := stdwebhooks.NewSecret(), stdwebhooks.NewSecret()
	newSK, newPK := stdwebhooks.NewKeyPair()
	oldSK, oldPK := stdwebhooks.NewKeyPair()
	var signers []*stdwebhooks.Signer
	for _, k := range []string{newSecret, oldSecret, newSK, oldSK} {
		s, err := stdwebhooks.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	body := []byte(`{"n":1}`)
	now := time.Now()
	h := http.Header{}
	stdwebhooks.SetHeaders(h, "msg_2", now, body, signers...)
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 4 {
		t.Fatalf("%d signatures: %s", n, h.Get("webhook-signature"))
	}
	for _, k := range []string{newSecret, oldSecret, newPK, oldPK} {
		if err := stdwebhooks.Verify(k, h, body, now); err != nil {
			t.Errorf("key %s: %v", k[:8], err)
		}
	}
	if err := stdwebhooks.Verify(stdwebhooks.NewSecret(), h, body, now); err != stdwebhooks.ErrSignature {
		t.Fatalf("a third secret: %v", err)
	}
}
