package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// A writer that never pauses, with readers coming and going, still gets its
// WAL started over: the file stops growing, though no checkpoint beside the
// writer ever copies all of it and the blocking RESTART checkpoint is out of
// reach here.
func TestWALStartsOverUnderContinuousWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, path, sqlite.WithCheckpointPacingForTest(sqlite.Options{}, 10*time.Millisecond, 64, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// 40 MB of event data, in small concurrent updates that keep the
	// writer busy throughout.
	const writers, updates = 8, 500
	data := &herald.EventData{Identity: &herald.Identity{UserID: strings.Repeat("x", 10_000)}}
	var wg sync.WaitGroup
	var n atomic.Int64
	stop := make(chan struct{})
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range updates {
				err := s.Update(ctx, func(tx herald.Tx) error {
					e, err := herald.NewEvent(fmt.Sprint("e-", n.Add(1)), "app", herald.EventIdentityCreated, time.Now(), nil, data)
					if err == nil {
						err = tx.AppendEvent(ctx, e)
					}
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	readers := sync.WaitGroup{}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.View(ctx, func(q herald.Queries) error {
				_, err := q.LastEventSeq(ctx)
				return err
			})
			time.Sleep(200 * time.Microsecond)
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()

	written := int64(writers*updates) * 10_000
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > written/4 {
		t.Fatalf("WAL of %d MB after %d MB written: it did not start over", fi.Size()>>20, written>>20)
	}
	t.Logf("WAL of %.1f MB after %d MB written", float64(fi.Size())/(1<<20), written>>20)
}
