package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlstore"
)

// A writeRequest is one Update waiting for the writer goroutine.
type writeRequest struct {
	ctx   context.Context
	fn    func(herald.Tx) error
	err   error
	after []func()
	done  chan struct{}
	// within, when not zero, lets the request wait up to that long for
	// another to commit with.
	within time.Duration
}

type writeTx struct {
	*sqlstore.Queries
	after []func()
}

func (t *writeTx) AfterCommit(f func()) { t.after = append(t.after, f) }

// Update queues fn for the writer goroutine, which runs it in a transaction
// shared with the other updates queued meanwhile (see commit), and
// returns once that transaction has committed (group commit; while the
// store is busy, the transaction waits Options.CommitWindow for more). A single
// writer also makes every fn see the effects of those before it, so
// check-then-write logic needs no further locking.
func (s *Store) Update(ctx context.Context, fn func(herald.Tx) error) error {
	return s.update(ctx, 0, fn)
}

// UpdateWithin implements herald.DeferredUpdates: fn waits for the next
// transaction, up to within, and commits with it.
func (s *Store) UpdateWithin(ctx context.Context, within time.Duration, fn func(herald.Tx) error) error {
	return s.update(ctx, within, fn)
}

var _ herald.DeferredUpdates = (*Store)(nil)

func (s *Store) update(ctx context.Context, within time.Duration, fn func(herald.Tx) error) error {
	r := &writeRequest{ctx: ctx, fn: fn, done: make(chan struct{}), within: within}
	select {
	case <-s.closing:
		return ErrClosed
	default:
	}
	select {
	case s.requests <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrClosed
	}
	// Once queued, the outcome is awaited even if ctx ends: fn may already
	// be part of a transaction that is about to commit.
	<-r.done
	return storageError(r.err)
}

func (s *Store) writeLoop(conn *sql.Conn) {
	defer close(s.stopped)
	defer conn.Close()
	stmts := newConnStmts(conn)
	defer stmts.close()
	batch := make([]*writeRequest, 0, s.opts.MaxBatch)
	window := time.NewTimer(time.Hour)
	window.Stop()
	// deferred holds the requests that may wait for another (see
	// UpdateWithin), until one comes or the first of them is due.
	var deferred []*writeRequest
	deferUntil := time.NewTimer(time.Hour)
	deferUntil.Stop()
	busy := false // the last transaction had several updates
	for {
		batch = append(batch[:0], deferred...)
		select {
		case r := <-s.requests:
			if r.within > 0 && len(deferred) < cap(batch)-1 {
				if len(deferred) == 0 {
					deferUntil.Reset(r.within)
				}
				deferred = append(deferred, r)
				continue
			}
			batch = append(batch, r)
		case <-deferUntil.C:
		case done := <-s.finishCheckpoint:
			_, err := conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
			done <- err
			continue
		case <-s.closing:
			// Finish what was queued before Close, then stop.
			if len(deferred) > 0 {
				s.commit(conn, stmts, deferred)
			}
			for {
				select {
				case r := <-s.requests:
					s.commit(conn, stmts, []*writeRequest{r})
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < cap(batch) {
			select {
			case r := <-s.requests:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		// The deferred requests do not make the store busy: they come
		// at any rate.
		waiting := len(batch) - len(deferred)
		if (busy || waiting > 1) && s.opts.CommitWindow > 0 {
			window.Reset(s.opts.CommitWindow)
		wait:
			for len(batch) < cap(batch) {
				select {
				case r := <-s.requests:
					batch = append(batch, r)
				case <-window.C:
					break wait
				case <-s.closing:
					break wait
				}
			}
			window.Stop()
		}
		busy = len(batch)-len(deferred) > 1
		if len(deferred) > 0 {
			deferred = deferred[:0]
			deferUntil.Stop()
		}
		s.commit(conn, stmts, batch)
	}
}

// commit runs a batch of updates in one transaction. It first runs them
// one after the other with nothing between them: a savepoint per update
// costs two statements and a copy of every page the update touches. Should
// one fail, the transaction rolls back and the batch runs again with a
// savepoint around each update, so that it fails alone (Update's functions
// may run more than once). A batch of one needs no savepoint at all.
func (s *Store) commit(conn *sql.Conn, stmts *connStmts, batch []*writeRequest) {
	defer func() {
		for _, r := range batch {
			if r.err == nil {
				for _, f := range r.after {
					f()
				}
			}
			close(r.done)
		}
	}()
	if !s.runBatch(conn, stmts, batch, false) {
		s.stats.reruns.Add(1)
		for _, r := range batch {
			r.err, r.after = nil, nil
		}
		s.runBatch(conn, stmts, batch, true)
	}
}

// runBatch runs the updates of batch in one transaction and commits what
// succeeded, each in a savepoint of its own if savepoints; without, it
// rolls everything back and returns false as soon as one of several
// updates fails.
func (s *Store) runBatch(conn *sql.Conn, stmts *connStmts, batch []*writeRequest, savepoints bool) bool {
	ctx := context.Background()
	failAll := func(err error) {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
	}
	// Even these statements are kept prepared: parsed anew, the four of
	// them cost as much as a small update.
	exec := func(query string) error { return stmts.exec(ctx, query) }
	rollback := func() { exec("ROLLBACK") }
	start := time.Now()
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		failAll(fmt.Errorf("sqlite: begin: %w", err))
		return true
	}
	if err := s.checkDataVersion(ctx, stmts); err != nil {
		rollback()
		failAll(fmt.Errorf("sqlite: reading the data version: %w", err))
		return true
	}
	live := 0
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live++
		}
	}
	// The events of the whole batch are inserted together before it
	// commits: one multi-row statement instead of one per update.
	var events []*herald.Event
	ran := 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if savepoints {
			if err := exec("SAVEPOINT u"); err != nil {
				rollback()
				failAll(fmt.Errorf("sqlite: savepoint: %w", err))
				return true
			}
		}
		tx := &writeTx{Queries: sqlstore.New(conn, dialect, sqlstore.Options{Write: true, DeferEvents: true, Uncancelable: true, Prepare: stmts.prepare, Keyring: s.opts.Keyring})}
		if err := run(r.fn, tx); err != nil {
			if !savepoints {
				rollback()
				if live > 1 {
					return false
				}
				r.err = err
				return true
			}
			r.err = err
			if rerr := exec("ROLLBACK TO u"); rerr != nil {
				// SQLite rolled the whole transaction back itself (e.g. on
				// I/O errors): nothing of the batch remains.
				rollback()
				failAll(fmt.Errorf("sqlite: transaction aborted: %w", rerr))
				return true
			}
		} else {
			r.after = tx.after
			events = append(events, tx.PendingEvents()...)
			ran++
		}
		if savepoints {
			if err := exec("RELEASE u"); err != nil {
				rollback()
				failAll(fmt.Errorf("sqlite: release: %w", err))
				return true
			}
		}
	}
	if ran == 0 {
		rollback()
		return true
	}
	if err := insertEvents(ctx, conn, stmts, events); err != nil {
		rollback()
		failAll(fmt.Errorf("sqlite: appending events: %w", err))
		return true
	}
	hookDone, err := s.runAppendHook(ctx, conn, stmts, exec, events)
	if err != nil {
		rollback()
		failAll(err)
		return true
	}
	if err := exec("COMMIT"); err != nil {
		rollback()
		if hookDone != nil {
			hookDone(false)
		}
		failAll(fmt.Errorf("sqlite: commit: %w", err))
		return true
	}
	s.recent.add(events)
	if hookDone != nil {
		hookDone(true)
	}
	s.stats.updates.Add(int64(ran))
	s.stats.commits.Add(1)
	s.observeCommit(start, ran)
	select {
	case s.committed <- struct{}{}:
	default:
	}
	return true
}

// checkDataVersion counts, in s.foreign, that another process committed
// since the writer's last transaction, if it did. It runs within a
// transaction that holds the write lock: no other commit comes between it
// and the writes that follow.
func (s *Store) checkDataVersion(ctx context.Context, stmts *connStmts) error {
	st, err := stmts.prepare(ctx, "PRAGMA data_version")
	if err != nil {
		return err
	}
	var v int64
	if err := st.QueryRowContext(ctx).Scan(&v); err != nil {
		return err
	}
	if s.dataVersion != 0 && v != s.dataVersion {
		s.foreign.Add(1)
	}
	s.dataVersion = v
	return nil
}

// ForeignWrites implements herald.ForeignWrites.
func (s *Store) ForeignWrites() uint64 { return s.foreign.Load() }

var _ herald.ForeignWrites = (*Store)(nil)

// OnAppend implements herald.AppendHooks.
func (s *Store) OnAppend(fn func(ctx context.Context, tx herald.Tx, events []*herald.Event) (func(bool), error)) {
	s.appendHook.Store(&fn)
}

var _ herald.AppendHooks = (*Store)(nil)

// runAppendHook runs the OnAppend function, if any, over the events of a
// transaction, in a savepoint. Only a failure of the savepoint's own
// statements is returned: the function's error is its own to report, and
// rolls back only what it wrote.
func (s *Store) runAppendHook(ctx context.Context, conn *sql.Conn, stmts *connStmts, exec func(string) error,
	events []*herald.Event) (func(bool), error) {
	hook := s.appendHook.Load()
	if hook == nil || len(events) == 0 {
		return nil, nil
	}
	if err := exec("SAVEPOINT h"); err != nil {
		return nil, fmt.Errorf("sqlite: savepoint: %w", err)
	}
	tx := &writeTx{Queries: sqlstore.New(conn, dialect, sqlstore.Options{Write: true, DeferEvents: true, Uncancelable: true, Prepare: stmts.prepare, Keyring: s.opts.Keyring})}
	var done func(bool)
	err := run(func(tx herald.Tx) (err error) {
		done, err = (*hook)(ctx, tx, events)
		return err
	}, tx)
	if err != nil {
		done = nil
		if err := exec("ROLLBACK TO h"); err != nil {
			return nil, fmt.Errorf("sqlite: transaction aborted: %w", err)
		}
	}
	if err := exec("RELEASE h"); err != nil {
		if done != nil {
			done(false)
		}
		return nil, fmt.Errorf("sqlite: release: %w", err)
	}
	return done, nil
}

// eventChunk bounds the rows of one event insert, and so the variants of
// that statement kept prepared.
const eventChunk = 32

func insertEvents(ctx context.Context, conn *sql.Conn, stmts *connStmts, events []*herald.Event) error {
	q := sqlstore.New(conn, dialect, sqlstore.Options{Write: true, Prepare: stmts.prepare})
	for len(events) > 0 {
		n := min(eventChunk, len(events))
		if err := q.InsertEvents(ctx, events[:n], ""); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

// run calls fn, turning a panic into an error so that one faulty update
// cannot take the writer, and the updates batched with it, down.
func run(fn func(herald.Tx) error, tx herald.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: update panicked: %v", p)
		}
	}()
	return fn(tx)
}

// Stats counts the writer's work since Open.
type Stats struct {
	// Updates is the number of Update calls committed.
	Updates int64
	// Commits is the number of transactions that committed them; Updates
	// divided by Commits is the mean group-commit batch size.
	Commits int64
	// Reruns is the number of batches run again, an update in a savepoint
	// of its own, because one of their updates failed.
	Reruns int64
}

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	return Stats{Updates: s.stats.updates.Load(), Commits: s.stats.commits.Load(), Reruns: s.stats.reruns.Load()}
}
