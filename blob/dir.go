// Package blob keeps rich-content bytes on the local filesystem.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald"
)

// Dir is a herald.BlobStore over a directory. Each blob is a file, written
// to a temporary name and renamed into place once complete, so a reader
// never sees a partial blob, even after a crash.
type Dir struct {
	Root string
}

var _ herald.BlobStore = Dir{}

func (d Dir) path(key string) (string, error) {
	if key == "" || filepath.Base(key) != key || key == "." || key == ".." {
		return "", fmt.Errorf("blob: invalid key %q", key)
	}
	// Two levels of fan-out keep directories small.
	sub := key
	if len(sub) > 4 {
		sub = key[len(key)-4:]
	}
	return filepath.Join(d.Root, sub[:2], sub[2:], key), nil
}

// Put implements herald.BlobStore.
func (d Dir) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	// Read one byte past the declared size to tell "too long" apart.
	n, err := io.Copy(f, io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("blob: receiving %s: %w", key, err)
	}
	if n != size {
		what := "fewer"
		if n > size {
			what = "more"
		}
		return &herald.Error{ID: herald.EUploadMismatch,
			Message: fmt.Sprintf("The upload sent %s bytes than the %d declared in Upload-Content-Length.", what, size),
			Data:    map[string]any{"expected": size}}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// Open implements herald.BlobStore.
func (d Dir) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, herald.NotFound("content", key)
	}
	return f, err
}

// Delete implements herald.BlobStore.
func (d Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
