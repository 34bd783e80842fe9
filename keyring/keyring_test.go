package keyring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/keyring"
)

func mustParse(t *testing.T, s string) *keyring.Keyring {
	t.Helper()
	k, err := keyring.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustParse(t, keyring.NewKey())
	sealed := k.Seal("whsec_secret", "webhooks.signing_key/w1")
	if strings.Contains(sealed, "secret") || !strings.HasPrefix(sealed, "enc:v1:"+k.ID()+":") {
		t.Fatalf("sealed value %q", sealed)
	}
	if again := k.Seal("whsec_secret", "webhooks.signing_key/w1"); again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	for range 2 { // the second from the cache
		if got, err := k.Open(sealed, "webhooks.signing_key/w1"); err != nil || got != "whsec_secret" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	// Bound to its row and column: the cache must not answer for another.
	if _, err := k.Open(sealed, "webhooks.signing_key/w2"); !errors.Is(err, keyring.ErrTampered) {
		t.Fatalf("opened for another webhook: %v", err)
	}
	if _, err := k.Open(sealed, "webhooks.secret/w1"); !errors.Is(err, keyring.ErrTampered) {
		t.Fatalf("opened for another column: %v", err)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 1
	if _, err := k.Open(string(flipped), "webhooks.signing_key/w1"); !errors.Is(err, keyring.ErrTampered) {
		t.Fatalf("opened an altered value: %v", err)
	}
	// Plaintext from before sealing reads as it is, and is stale.
	if got, err := k.Open("legacy", "x"); err != nil || got != "legacy" {
		t.Fatalf("plaintext: %q, %v", got, err)
	}
	if !k.Stale("legacy") || k.Stale(sealed) || k.Stale("") {
		t.Fatal("Stale is wrong")
	}
	if k.Seal("", "x") != "" {
		t.Fatal("the empty string was sealed")
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKey := keyring.NewKey(), keyring.NewKey()
	old := mustParse(t, oldKey)
	sealed := old.Seal("s", "ad")
	both := mustParse(t, newKey+","+oldKey)
	if got, err := both.Open(sealed, "ad"); err != nil || got != "s" {
		t.Fatalf("the second key does not open: %q, %v", got, err)
	}
	if !both.Stale(sealed) {
		t.Fatal("a value sealed with the second key is not stale")
	}
	if id, _ := keyring.Sealed(both.Seal("s", "ad")); id != both.ID() || id == old.ID() {
		t.Fatalf("sealed with %s, want the first key %s", id, both.ID())
	}
	alone := mustParse(t, newKey)
	var missing *keyring.MissingKeyError
	if _, err := alone.Open(sealed, "ad"); !errors.As(err, &missing) || missing.KeyID != old.ID() {
		t.Fatalf("without its key: %v", err)
	}
	var none *keyring.Keyring
	if _, err := none.Open(sealed, "ad"); !errors.As(err, &missing) || !missing.NoKeyring {
		t.Fatalf("without any key: %v", err)
	}
	if none.Seal("s", "ad") != "s" {
		t.Fatal("the nil keyring sealed")
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"", " , ", "abc", "c2hvcnQ=", keyring.NewKey() + ",nope"} {
		if _, err := keyring.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	a, b := keyring.NewKey(), keyring.NewKey()
	k := mustParse(t, "\n"+a+"\n"+b+", "+a+"\n")
	if len(k.IDs()) != 2 {
		t.Fatalf("ids %v, want two", k.IDs())
	}
	if _, err := keyring.Parse(strings.TrimRight(a, "=")); err != nil {
		t.Fatalf("unpadded base64: %v", err)
	}
}

// Opening a value read before costs a lookup: webhooks are read, and their
// secrets opened, on the delivery path.
func BenchmarkOpenCached(b *testing.B) {
	k, _ := keyring.Parse(keyring.NewKey())
	sealed := k.Seal("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "webhooks.signing_key/0190a4b2-7c1e-7d3a-9f00-5a4b3c2d1e0f")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(sealed, "webhooks.signing_key/0190a4b2-7c1e-7d3a-9f00-5a4b3c2d1e0f"); err != nil {
			b.Fatal(err)
		}
	}
}
