package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// TestConformance runs the suite every engine passes; what follows is
// SQLite's own: its single writer, group commit and schema file.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store {
		s, _ := open(t)
		return s
	})
}

// open opens a copy of a migrated database (see enginetest.SQLitePath):
// the tests of migrating open theirs themselves.
func open(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := enginetest.SQLitePath(t)
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{Keyring: storetest.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// Secrets are sealed in the database file (see storetest.SecretsAtRest).
func TestSecretsAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	storetest.SecretsAtRest(t, func(t *testing.T, k *keyring.Keyring) (herald.Store, error) {
		return sqlite.Open(context.Background(), path, sqlite.Options{Keyring: k})
	}, func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func createApp(ctx context.Context, tx herald.Tx, id string) error {
	return tx.CreateApp(ctx, &herald.App{ID: id, Name: id, CreatedAt: time.Now()})
}

func appExists(t *testing.T, s herald.Store, id string) bool {
	t.Helper()
	err := s.View(context.Background(), func(q herald.Queries) error {
		_, err := q.App(context.Background(), id)
		return err
	})
	if err != nil && !herald.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// Concurrent updates share transactions, yet each one that fails, or
// panics, leaves nothing behind and does not disturb the others batched with
// it.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx herald.Tx) error {
				if err := createApp(ctx, tx, fmt.Sprintf("app-%d", i)); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return herald.Errorf(herald.EInvalidProperty, "refused %d", i)
				case 2:
					panic("faulty update")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		ok := i%4 == 0 || i%4 == 3
		if ok && errs[i] != nil {
			t.Fatalf("update %d failed: %v", i, errs[i])
		}
		if !ok && errs[i] == nil {
			t.Fatalf("update %d should have failed", i)
		}
		if i%4 == 1 {
			if e, isApp := herald.AsError(errs[i]); !isApp || e.ID != herald.EInvalidProperty {
				t.Fatalf("update %d: error %v lost its identity", i, errs[i])
			}
		}
		if got := appExists(t, s, fmt.Sprintf("app-%d", i)); got != ok {
			t.Fatalf("app-%d exists=%v, want %v", i, got, ok)
		}
	}
	st := s.Stats()
	if st.Updates != n/2 {
		t.Fatalf("stats count %d committed updates, want %d", st.Updates, n/2)
	}
	if st.Commits >= st.Updates {
		t.Logf("no batching happened: %d commits for %d updates", st.Commits, st.Updates)
	}
}

// A later update in the same batch sees the writes of an earlier one, so
// check-then-write logic is safe without further locking.
func TestUpdatesSeeEarlierWrites(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx herald.Tx) error {
				if _, err := tx.App(ctx, "only"); err == nil {
					return nil
				}
				mu.Lock()
				created++
				mu.Unlock()
				return createApp(ctx, tx, "only")
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("the app was created %d times", created)
	}
}

// A caller that gives up once its update has begun does not interrupt the
// update's statements: the transaction they run in may carry the updates of
// other callers, which an interrupted write would roll back. Its update
// completes, and commits, as Update promises.
func TestGivingUpDoesNotInterruptAnUpdate(t *testing.T) {
	s, _ := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Update(ctx, func(tx herald.Tx) error {
		if err := createApp(ctx, tx, "before"); err != nil {
			return err
		}
		cancel()
		return createApp(ctx, tx, "after")
	})
	if err != nil {
		t.Fatalf("the update of a caller that gave up midway: %v", err)
	}
	for _, id := range []string{"before", "after"} {
		if !appExists(t, s, id) {
			t.Fatalf("app %s was not committed", id)
		}
	}
}

func TestUpdateAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Update(context.Background(), func(herald.Tx) error { return nil }); !errors.Is(err, sqlite.ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

// A database migrated by a newer Herald is refused, not damaged.
func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := sqlite.SetSchemaVersionForTest(path, 9999); err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(context.Background(), path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

// Upgrading the schema loses no data (see storetest.Migrations).
func TestMigrations(t *testing.T) {
	for _, m := range storetest.Migrations {
		t.Run(m.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			db, err := sqlite.MigrateForTest(path, m.From)
			if err != nil {
				t.Fatal(err)
			}
			m.Check(t, db, func(t *testing.T) herald.Store {
				s, err := sqlite.Open(context.Background(), path, sqlite.Options{Keyring: storetest.Keyring})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// A lone update on an idle store commits at once; on a busy one, the
// transaction stays open for the commit window, and updates arriving
// meanwhile join it.
func TestCommitWindow(t *testing.T) {
	const window = 400 * time.Millisecond
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{CommitWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	create := func(id string) error {
		return s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, id) })
	}

	start := time.Now()
	if err := create("lone"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= window {
		t.Fatalf("a lone update on an idle store took %v: it waited for the commit window", d)
	}

	// The writer is held by a blocked update while two more queue: the
	// next transaction starts with both, so the store is busy.
	release := make(chan struct{})
	blocked := make(chan struct{})
	errs := make(chan error, 4)
	go func() {
		errs <- s.Update(ctx, func(tx herald.Tx) error {
			close(blocked)
			<-release
			return createApp(ctx, tx, "blocker")
		})
	}()
	<-blocked
	for _, id := range []string{"a", "b"} {
		go func() { errs <- create(id) }()
	}
	for len(s.QueuedForTest()) < 2 {
		time.Sleep(time.Millisecond)
	}
	before := s.Stats().Commits
	close(release)
	// Well inside the window of the transaction of a and b.
	time.Sleep(window / 4)
	go func() { errs <- create("late") }()
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().Commits - before; got != 2 {
		t.Fatalf("%d commits for the blocker, then a, b and a late update; want 2 (the late one joining a and b)", got)
	}
}

// A batch runs without a savepoint per update until one of its updates
// fails; then it runs again, each update in a savepoint, and only the
// failed one is left out.
func TestBatchesRunAgainOnlyWhenAnUpdateFails(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	// batch holds the writer with a blocked update while the updates of
	// fns queue, so that they commit in one transaction, and returns
	// their errors.
	batch := func(fns ...func(tx herald.Tx) error) []error {
		release := make(chan struct{})
		blocked := make(chan struct{})
		blocker := make(chan error, 1)
		go func() {
			blocker <- s.Update(ctx, func(tx herald.Tx) error {
				select {
				case <-blocked:
				default:
					close(blocked)
				}
				<-release
				return nil
			})
		}()
		<-blocked
		errs := make([]chan error, len(fns))
		for i, fn := range fns {
			errs[i] = make(chan error, 1)
			go func() { errs[i] <- s.Update(ctx, fn) }()
		}
		for len(s.QueuedForTest()) < len(fns) {
			time.Sleep(time.Millisecond)
		}
		close(release)
		if err := <-blocker; err != nil {
			t.Fatal(err)
		}
		out := make([]error, len(fns))
		for i := range fns {
			out[i] = <-errs[i]
		}
		return out
	}
	create := func(id string) func(tx herald.Tx) error {
		return func(tx herald.Tx) error { return createApp(ctx, tx, id) }
	}
	runs := 0
	before := s.Stats()
	for i, err := range batch(create("a"), create("b"), create("c")) {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.Commits-before.Commits != 2 || st.Reruns != before.Reruns {
		t.Fatalf("a batch of updates that all succeed: %d commits (want 2: the blocker's, then theirs), %d batches run again (want 0)",
			st.Commits-before.Commits, st.Reruns-before.Reruns)
	}

	before = st
	errs := batch(create("d"), func(tx herald.Tx) error {
		runs++
		if err := createApp(ctx, tx, "e"); err != nil {
			return err
		}
		return herald.Errorf(herald.EInvalidProperty, "refused")
	}, create("f"))
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("updates batched with a failing one failed: %v, %v", errs[0], errs[2])
	}
	if e, ok := herald.AsError(errs[1]); !ok || e.ID != herald.EInvalidProperty {
		t.Fatalf("the failing update returned %v", errs[1])
	}
	if st := s.Stats(); st.Reruns-before.Reruns != 1 || runs != 2 {
		t.Fatalf("a batch with a failing update ran again %d times (want 1); the failing update ran %d times (want 2)",
			st.Reruns-before.Reruns, runs)
	}
	for id, want := range map[string]bool{"d": true, "e": false, "f": true} {
		if got := appExists(t, s, id); got != want {
			t.Fatalf("app %s exists=%v, want %v", id, got, want)
		}
	}
}

// The writes of another process on the same database are counted when the
// store next writes; its own writes and its checkpoints are not.
func TestForeignWritesCounted(t *testing.T) {
	ctx := context.Background()
	path := enginetest.SQLitePath(t)
	s, err := sqlite.Open(ctx, path, sqlite.WithCheckpointPacingForTest(sqlite.Options{Keyring: storetest.Keyring}, time.Millisecond, 1, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 50 {
		if err := s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, fmt.Sprint("own-", i)) }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // checkpoints come between
	}
	if n := s.ForeignWrites(); n != 0 {
		t.Fatalf("ForeignWrites = %d after the store's own writes and checkpoints, want 0", n)
	}

	other, err := sqlite.Open(ctx, path, sqlite.Options{Keyring: storetest.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, "other") }); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if n := s.ForeignWrites(); n != 0 {
		t.Fatalf("ForeignWrites = %d before the store wrote again, want 0", n)
	}
	if err := s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, "own-after") }); err != nil {
		t.Fatal(err)
	}
	if n := s.ForeignWrites(); n != 1 {
		t.Fatalf("ForeignWrites = %d after another process wrote, want 1", n)
	}
	if err := s.Update(ctx, func(tx herald.Tx) error { return createApp(ctx, tx, "own-last") }); err != nil {
		t.Fatal(err)
	}
	if n := s.ForeignWrites(); n != 1 {
		t.Fatalf("ForeignWrites = %d, want still 1", n)
	}
}
