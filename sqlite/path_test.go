package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// The database opens at the very path given, whatever characters a file:
// URI gives a meaning to: a data directory such as "run#2" or "a?b" once
// opened another file (the path cut at the '#'), and a second store there
// found a schema it did not make.
func TestOpenPathWithURICharacters(t *testing.T) {
	for _, name := range []string{"run#2", "a?b", "100%25", "with space", "#", "x?y#z%"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "herald.db")
			for range 2 {
				s, err := sqlite.Open(context.Background(), path, sqlite.Options{Keyring: storetest.Keyring})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Update(context.Background(), func(tx herald.Tx) error {
					_, err := tx.InitSetting(context.Background(), "probe", "x")
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("no database at the path given: %v", err)
			}
		})
	}
}
