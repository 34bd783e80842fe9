package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// needServer skips b without a server: checked once by each benchmark
// rather than by each sub-benchmark's pgtest.URL, so that a missing server
// is one skip, not one per sub-benchmark.
func needServer(b *testing.B) {
	b.Helper()
	if !pgtest.Available(b) {
		b.Skipf("%s is not set; skipping the PostgreSQL engine (scripts/test starts a server)", pgtest.EnvVar)
	}
}

// openBench opens the store on a database of the benchmark's own, closed
// when it ends.
func openBench(b *testing.B, k *keyring.Keyring) herald.Store {
	b.Helper()
	s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{MaxConns: 8, Keyring: k})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// openStore is openBench without a keyring.
func openStore(b *testing.B) herald.Store { return openBench(b, nil) }

func BenchmarkStore(b *testing.B) {
	needServer(b)
	storetest.Bench(b, openStore)
}

func BenchmarkWebhookReads(b *testing.B) {
	needServer(b)
	storetest.BenchWebhookReads(b, openBench)
}

func BenchmarkSend(b *testing.B) {
	needServer(b)
	storetest.BenchSend(b, openStore)
}

// BenchmarkSendAtRate reports this process's CPU per message; the server's
// is not in it.
func BenchmarkSendAtRate(b *testing.B) {
	needServer(b)
	storetest.BenchSendAtRate(b, openStore, 5*time.Millisecond)
}
