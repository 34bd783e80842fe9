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

// openBench opens a new database in a directory of the benchmark's own,
// closed when it ends.
func openBench(b *testing.B, opts sqlite.Options) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) herald.Store {
		return openBench(b, sqlite.Options{})
	})
}

func BenchmarkWebhookReads(b *testing.B) {
	storetest.BenchWebhookReads(b, func(b *testing.B, k *keyring.Keyring) herald.Store {
		return openBench(b, sqlite.Options{Keyring: k})
	})
}

func BenchmarkSend(b *testing.B) {
	storetest.BenchSend(b, func(b *testing.B) herald.Store {
		return openBench(b, sqlite.Options{})
	})
}
