package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) herald.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkWebhookReads(b *testing.B) {
	storetest.BenchWebhookReads(b, func(b *testing.B, k *keyring.Keyring) herald.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{Keyring: k})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkSend(b *testing.B) {
	storetest.BenchSend(b, func(b *testing.B) herald.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
