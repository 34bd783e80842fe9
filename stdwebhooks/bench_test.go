package stdwebhooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/stdwebhooks"
)

const (
	benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	benchID     = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
)

var benchAt = time.Unix(1772366407, 0)

// benchBody is a 1 KB JSON body, about the size of a rendered message event.
var benchBody = func() []byte {
	const head, tail = `{"event":{"type":"message.sent"},"message":{"parts":[{"mime_type":"text/plain","body":"`, `"}]}}`
	return []byte(head + strings.Repeat("x", 1024-len(head)-len(tail)) + tail)
}()

func benchSigner(b *testing.B) *stdwebhooks.Signer {
	b.Helper()
	s, err := stdwebhooks.NewSigner(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkSign(b *testing.B) {
	s := benchSigner(b)
	// The specification's reference library is the judge of a correct
	// signature, so that a broken Sign is not measured as a fast one.
	wh, err := standardwebhooks.NewWebhook(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	want, err := wh.Sign(benchID, benchAt, benchBody)
	if err != nil {
		b.Fatal(err)
	}
	if got := s.Sign(benchID, benchAt, benchBody); got != want {
		b.Fatalf("Sign = %s, want %s", got, want)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(benchID, benchAt, benchBody)
	}
}

// SetHeaders is what every delivery attempt runs; a retry reuses the
// header map.
func BenchmarkSetHeaders(b *testing.B) {
	s := benchSigner(b)
	h := http.Header{}
	s.SetHeaders(h, benchID, benchAt, benchBody)
	if err := stdwebhooks.Verify(benchSecret, h, benchBody, benchAt); err != nil {
		b.Fatalf("the headers do not verify: %v", err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		s.SetHeaders(h, benchID, benchAt, benchBody)
	}
}

// Verify decodes the secret on every call, unlike a Signer, so it is
// measured on its own.
func BenchmarkVerify(b *testing.B) {
	h := http.Header{}
	benchSigner(b).SetHeaders(h, benchID, benchAt, benchBody)
	if err := stdwebhooks.Verify(benchSecret, h, benchBody, benchAt); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := stdwebhooks.Verify(benchSecret, h, benchBody, benchAt); err != nil {
			b.Fatal(err)
		}
	}
}

// An ed25519 (v1a) signature, which a webhook with an asymmetric key adds
// to every attempt.
func BenchmarkSignAsymmetric(b *testing.B) {
	sk, pk := stdwebhooks.NewKeyPair()
	s, err := stdwebhooks.NewSigner(sk)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	stdwebhooks.SetHeaders(h, benchID, benchAt, benchBody, s)
	if err := stdwebhooks.VerifyPublic(pk, h, benchBody, benchAt); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(benchID, benchAt, benchBody)
	}
}
