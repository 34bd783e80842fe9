package postgres_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func BenchmarkStore(b *testing.B) {
	// Checked once here rather than by each sub-benchmark's pgtest.URL, so
	// that a missing server is one skip, not one per sub-benchmark.
	if !pgtest.Available(b) {
		b.Skipf("%s is not set; skipping the PostgreSQL engine (scripts/test starts a server)", pgtest.EnvVar)
	}
	storetest.Bench(b, func(b *testing.B) herald.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkWebhookReads(b *testing.B) {
	if !pgtest.Available(b) {
		b.Skipf("%s is not set; skipping the PostgreSQL engine (scripts/test starts a server)", pgtest.EnvVar)
	}
	storetest.BenchWebhookReads(b, func(b *testing.B, k *keyring.Keyring) herald.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{MaxConns: 8, Keyring: k})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkSend(b *testing.B) {
	if !pgtest.Available(b) {
		b.Skipf("%s is not set; skipping the PostgreSQL engine (scripts/test starts a server)", pgtest.EnvVar)
	}
	storetest.BenchSend(b, func(b *testing.B) herald.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
