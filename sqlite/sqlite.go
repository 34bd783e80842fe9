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
	"runtime"
	"sync/atomic"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/heraldhq/herald"
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
}

// Store is the SQLite engine. It implements herald.Store.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	opts   Options
	stmts  *readerStmts

	stats struct{ updates, commits atomic.Int64 }

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
	s := "file:" + path + "?" + v.Encode()
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
	writer, err := sql.Open("sqlite", dsn(path, common, "_txlock=immediate"))
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
	s := &Store{
		writer:   writer,
		reader:   reader,
		opts:     opts,
		stmts:    &readerStmts{db: reader},
		requests: make(chan *writeRequest, 4*opts.MaxBatch),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	conn, err := writer.Conn(ctx)
	if err != nil {
		s.writer.Close()
		s.reader.Close()
		return nil, err
	}
	go s.writeLoop(conn)
	return s, nil
}

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
	s.stmts.close()
	return errors.Join(s.writer.Close(), s.reader.Close())
}

// View runs fn in a read transaction on the read pool.
func (s *Store) View(ctx context.Context, fn func(herald.Queries) error) error {
	tx, err := s.reader.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(sqlstore.New(tx, dialect, sqlstore.Options{Prepare: s.stmts.forTx(tx)}))
}
