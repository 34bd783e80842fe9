package seedtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The repository's copy of the seeds is the shared original, byte for byte.
func TestSeedsMatchTheSharedOriginal(t *testing.T) {
	shared, err := os.ReadDir(SharedSeedsDir())
	if err != nil {
		t.Skipf("no shared/seeds beside the repository (%v); the copy in seeds/ stands in", err)
	}
	for _, e := range shared {
		want, err := os.ReadFile(filepath.Join(SharedSeedsDir(), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(seedsDir(), e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("seeds/%s differs from shared/seeds/%s: copy it again", e.Name(), e.Name())
		}
	}
}

func TestPayloadOfEverySeed(t *testing.T) {
	entries, err := os.ReadDir(seedsDir())
	if err != nil || len(entries) == 0 {
		t.Fatalf("no seeds in %s: %v", seedsDir(), err)
	}
	for _, e := range entries {
		if len(Payload(t, e.Name())) == 0 {
			t.Errorf("%s: empty payload", e.Name())
		}
	}
}
