// Package sqlite is Herald's embedded storage engine: one SQLite file in WAL
// mode, written by a single goroutine that group-commits concurrent updates,
// and read through a pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the engine. The zero value is the default.
type Options struct {
	// SyncFull makes every commit fsync (synchronous=FULL). The default,
	// synchronous=NORMAL in WAL mode, survives any crash of the process but
	// may lose the last commits on a power failure; it never corrupts.
	SyncFull bool
	// MaxBatch bounds how many concurrent updates share one transaction.
	MaxBatch int
	// Readers is the size of the read pool.
	Readers int
	// CommitWindow is how long the writer holds a transaction open for
	// more updates to join it while the store is busy (the last
	// transaction, or this one already, has several): each commit then
	// writes its hot pages for more updates. A lone update on an idle
	// store commits at once. 0 means DefaultCommitWindow; negative, no
	// wait.
	CommitWindow time.Duration
	// Keyring seals the secrets the store keeps (see package keyring);
	// nil keeps them in plaintext, for tools and tests, and refuses a
	// database that holds sealed ones. Open seals with it whatever the
	// database holds in plaintext or under another of its keys.
	Keyring *keyring.Keyring

	pacing *checkpointPacing // for tests; defaultPacing when nil
}

// DefaultCommitWindow is the default Options.CommitWindow. Measured flat
// out on 2 cores, 1 ms took 6 % less CPU per delivered message than
// 0.5 ms, and 2 ms no less than 1 ms; it adds about 1 ms to the median
// latency of a store busy but not saturated (2,000 messages/s), none to
// an idle one's.
const DefaultCommitWindow = time.Millisecond

// Store is the SQLite engine. It implements herald.Store.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	// checkpointer copies the WAL back into the database file, so that
	// the writer never spends its time (and its commits' latency) on it.
	checkpointer *sql.DB
	path         string        // the database file's
	committed    chan struct{} // the writer committed since the last checkpoint
	checkpointed chan struct{} // closed when checkpointLoop returns
	// finishCheckpoint asks the writer to copy, between two transactions,
	// the last frames the checkpointer could not (see checkpointLoop).
	finishCheckpoint chan chan error
	opts             Options
	reads            *readPool

	stats struct{ updates, commits, reruns atomic.Int64 }
	// commitObserver is ObserveCommits' function.
	commitObserver atomic.Pointer[func(time.Duration, int)]
	// appendHook is the function of OnAppend.
	appendHook atomic.Pointer[func(ctx context.Context, tx herald.Tx, events []*herald.Event) (func(bool), error)]
	// recent holds the events committed last, for the fan-out.
	recent recentEvents
	// foreign counts what ForeignWrites does; dataVersion is the
	// writer's PRAGMA data_version as of its last transaction, which
	// only other connections' commits change (and the writer is this
	// process's only connection that commits).
	foreign     atomic.Uint64
	dataVersion int64

	// sealed counts the secrets Open sealed.
	sealed int

	requests chan *writeRequest
	closing  chan struct{}
	stopped  chan struct{}
}

var _ herald.Store = (*Store)(nil)

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("sqlite: store is closed")

func dsn(path string, pragmas []string, extra string) string {
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	// In a file: URI, '?' starts the parameters and '#' a fragment: a
	// path holding either (a directory named "run#2") would open another
	// file. SQLite decodes %HH escapes in the path.
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	s := "file:" + escaped + "?" + v.Encode()
	if extra != "" {
		s += "&" + extra
	}
	return s
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. It refuses a database whose schema is newer than this
// build knows.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.CommitWindow == 0 {
		opts.CommitWindow = DefaultCommitWindow
	}
	if opts.Readers <= 0 {
		opts.Readers = max(4, runtime.GOMAXPROCS(0)*2)
	}
	sync := "synchronous(NORMAL)"
	if opts.SyncFull {
		sync = "synchronous(FULL)"
	}
	// Savepoints journal the pages they change; in memory that costs no
	// write system call per page.
	common := []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "temp_store(MEMORY)", sync}
	// The writer never checkpoints (wal_autocheckpoint=0): a connection
	// of its own does, beside it (see checkpointLoop).
	writer, err := sql.Open("sqlite", dsn(path, append(common, "wal_autocheckpoint(0)"), "_txlock=immediate"))
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite", dsn(path, append(common, "query_only(1)"), ""))
	if err != nil {
		writer.Close()
		return nil, err
	}
	reader.SetMaxOpenConns(opts.Readers)
	reader.SetMaxIdleConns(opts.Readers)
	checkpointer, err := sql.Open("sqlite", dsn(path, common, ""))
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	checkpointer.SetMaxOpenConns(1)
	checkpointer.SetMaxIdleConns(1)
	s := &Store{
		path:             path,
		writer:           writer,
		reader:           reader,
		checkpointer:     checkpointer,
		committed:        make(chan struct{}, 1),
		checkpointed:     make(chan struct{}),
		finishCheckpoint: make(chan chan error),
		opts:             opts,
		reads:            newReadPool(reader, opts.Readers),
		requests:         make(chan *writeRequest, 4*opts.MaxBatch),
		closing:          make(chan struct{}),
		stopped:          make(chan struct{}),
	}
	conn, err := writer.Conn(ctx)
	if err != nil {
		s.writer.Close()
		s.reader.Close()
		s.checkpointer.Close()
		return nil, err
	}
	if s.sealed, err = sealSecrets(ctx, conn, opts.Keyring); err != nil {
		conn.Close()
		s.writer.Close()
		s.reader.Close()
		s.checkpointer.Close()
		return nil, err
	}
	go s.writeLoop(conn)
	go s.checkpointLoop()
	return s, nil
}

// sealSecrets seals what the database holds in plaintext or under an older
// key, and checks that the keyring opens every secret, before the writer
// starts.
func sealSecrets(ctx context.Context, conn *sql.Conn, k *keyring.Keyring) (int, error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	n, err := sqlstore.New(conn, dialect, sqlstore.Options{Write: true, Keyring: k}).SealSecrets(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		conn.ExecContext(ctx, "ROLLBACK")
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}

// Sealed returns how many secrets Open sealed.
func (s *Store) Sealed() int { return s.sealed }

// migrate brings the schema up to date, refusing a schema newer than this
// build knows.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := sqlstore.Migrate(ctx, db, goose.DialectSQLite3, sub); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Close stops the writer after the updates already queued, and closes the
// database.
func (s *Store) Close() error {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	<-s.stopped
	<-s.checkpointed
	s.reads.close()
	return errors.Join(s.writer.Close(), s.reader.Close(), s.checkpointer.Close())
}

// View runs fn in a read transaction on the read pool.
func (s *Store) View(ctx context.Context, fn func(herald.Queries) error) error {
	return storageError(s.reads.view(ctx, func(c *readConn) error {
		return fn(sqlstore.New(c.conn, dialect, sqlstore.Options{Prepare: c.stmts.prepare, Keyring: s.opts.Keyring}))
	}))
}

// defaultPacing paces checkpoints: one at most every interval after
// commits. A checkpoint copies each page once, however many commits rewrote
// it since the last one: the hot pages of the deliveries are copied half a
// second's worth of commits at a time rather than a tenth.
//
// The WAL starts over from its beginning only when a write transaction
// begins with every frame copied and no reader still in the WAL; a
// checkpoint beside a writer that never pauses is never complete, so past
// restartFrames the writer copies the last frames itself, between two
// transactions. Past maxFrames (readers held the WAL when it could start
// over), a RESTART checkpoint stops the writer until every reader is out of
// the WAL: tens of milliseconds without a commit.
//
// Each start over costs the writer a sync of the WAL's new header (SQLite
// syncs it before the first frame after a restart, whatever the
// synchronous setting but OFF), which took 5-18 ms on the ext4 disks
// measured, with every commit waiting: at 500 messages a second to sockets,
// about 10 pages each, 16 MiB of WAL started over about once a second and
// those stalls were a share of the p99. 64 MiB start over a quarter as
// often; readers find a page in the WAL's index in one hash lookup per
// 4096 frames, four at most.
var defaultPacing = checkpointPacing{
	interval:      500 * time.Millisecond,
	restartFrames: 16384, // 64 MiB of 4 KiB pages
	maxFrames:     65536, // 256 MiB
}

type checkpointPacing struct {
	interval                 time.Duration
	restartFrames, maxFrames int
}

// A checkpoint this quick left the writer only a few frames to copy.
const quickCheckpoint = 2 * time.Millisecond

// checkpointLoop checkpoints the WAL in the background while the writer
// commits. A passive checkpoint copies what no reader still needs and
// never waits for the writer, which goes on appending meanwhile: each next
// one has less to copy, until the writer can copy the rest between two of
// its transactions at little cost, and start the WAL over.
func (s *Store) checkpointLoop() {
	defer close(s.checkpointed)
	ctx := context.Background()
	p := defaultPacing
	if s.opts.pacing != nil {
		p = *s.opts.pacing
	}
	for {
		select {
		case <-s.committed:
		case <-s.stopped:
			// The writer is done: a last checkpoint, so that the file
			// holds everything once closed.
			s.checkpointer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			return
		}
		log, err := s.passiveCheckpoint(ctx)
		switch {
		case err != nil:
		case log > p.maxFrames:
			// The WAL did not start over since the last checkpoint:
			// readers held it.
			s.checkpointer.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
		case log > p.restartFrames:
			for range 3 {
				start := time.Now()
				if _, err := s.passiveCheckpoint(ctx); err != nil || time.Since(start) < quickCheckpoint {
					break
				}
			}
			s.syncDatabaseFile()
			s.checkpointInWriter()
		}
		select {
		case <-time.After(p.interval):
		case <-s.stopped:
		}
	}
}

// syncDatabaseFile has the pages that passive checkpoints copied into the
// database file reach the disk now, beside the writer. A checkpoint that
// copies every frame ends with that sync, and the writer's holds every
// commit meanwhile: with thousands of pages to flush since the last one,
// that took 10 to 15 ms here, and left only the last few pages once the
// file was synced before. Best effort: the checkpoint syncs regardless.
func (s *Store) syncDatabaseFile() {
	f, err := os.Open(s.path)
	if err != nil {
		return
	}
	f.Sync()
	f.Close()
}

// passiveCheckpoint runs a passive checkpoint and returns the frames in
// the WAL when it began.
func (s *Store) passiveCheckpoint(ctx context.Context) (int, error) {
	var busy, log, done int
	err := s.checkpointer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
	return log, err
}

// checkpointInWriter has the writer run a passive checkpoint between two
// transactions.
func (s *Store) checkpointInWriter() error {
	done := make(chan error, 1)
	select {
	case s.finishCheckpoint <- done:
	case <-s.stopped:
		return ErrClosed
	}
	return <-done
}
