package stdwebhooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/stdwebhooks"
)

const (
	fuzzSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	fuzzSecretKey = "whsk_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
)

var fuzzAt = time.Unix(1614265330, 0)

// FuzzVerify: whatever the headers and the body, Verify and VerifyPublic
// neither panic nor accept a signature list that no key of theirs made for
// that body; and what the signers make for a body verifies.
func FuzzVerify(f *testing.F) {
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("i", "0", "v1a,CV1O+PvrwXM42OMUX+tmm6bA3cS0tgLp0qo3YKuu0MGmBrsUhA0MHXF11HsEUJtPfTKs80WE7WUKVt9TueLDCQ==", []byte("Hello, world!"))
	f.Add("id", "1614265330", "v1,bm9wZQ== v1a,AAAA v1a,", []byte("{}"))
	f.Add("", "", "", []byte(nil))
	f.Add("id", "-99999999999999999999", "v1a", []byte("x"))
	f.Add("a.b", "1614265330", "   v1,   v1a,////", []byte{0, 0xff})
	pub, err := stdwebhooks.PublicKey(fuzzSecretKey)
	if err != nil {
		f.Fatal(err)
	}
	sym, _ := stdwebhooks.NewSigner(fuzzSecret)
	asym, _ := stdwebhooks.NewSigner(fuzzSecretKey)
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sigs)
		// Neither panics, whatever it is given.
		symErr := stdwebhooks.Verify(fuzzSecret, h, body, fuzzAt)
		asymErr := stdwebhooks.VerifyPublic(pub, h, body, fuzzAt)
		if id == "" || ts == "" {
			return
		}
		signed := http.Header{}
		stdwebhooks.SetHeaders(signed, id, fuzzAt, body, sym, asym)
		if err := stdwebhooks.Verify(fuzzSecret, signed, body, fuzzAt); err != nil {
			t.Fatalf("v1 of its own signer: %v", err)
		}
		if err := stdwebhooks.VerifyPublic(pub, signed, body, fuzzAt); err != nil {
			t.Fatalf("v1a of its own signer: %v", err)
		}
		// A forged list verifies only if it holds the signature the key
		// makes for that body (a fuzzer that found one found a forgery or
		// a copy).
		if symErr == nil && ts == signed.Get("webhook-timestamp") {
			if !contains(sigs, sym.Sign(id, fuzzAt, body)) {
				t.Fatalf("Verify accepted %q for body %q", sigs, body)
			}
		}
		if asymErr == nil && ts == signed.Get("webhook-timestamp") {
			if !contains(sigs, asym.Sign(id, fuzzAt, body)) {
				t.Fatalf("VerifyPublic accepted %q for body %q", sigs, body)
			}
		}
		// Another body never verifies with these signatures.
		other := append(append([]byte{}, body...), 'x')
		if stdwebhooks.Verify(fuzzSecret, signed, other, fuzzAt) == nil || stdwebhooks.VerifyPublic(pub, signed, other, fuzzAt) == nil {
			t.Fatalf("the signatures of %q verify %q", body, other)
		}
	})
}

func contains(list, sig string) bool {
	for _, s := range strings.Fields(list) {
		if s == sig {
			return true
		}
	}
	return false
}
