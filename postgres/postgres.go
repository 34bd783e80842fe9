// Package postgres is Herald's PostgreSQL storage engine, for several
// Herald nodes sharing one database. Every Update is a READ COMMITTED
// transaction of its own (PostgreSQL groups the WAL flushes of concurrent
// commits itself); what SQLite gets from its single writer, this engine gets
// from locks:
//
//   - reads that a write transaction makes before writing lock their rows
//     (SELECT … FOR UPDATE), so check-then-write logic holds across nodes;
//   - events are inserted at commit under one transaction-scoped advisory
//     lock, so that their sequence numbers are in commit order and a reader
//     that sees event n has every event before it;
//   - a delivery queue (a webhook's deliveries of one conversation) is
//     locked while deliveries are created in it or finished, so that no
//     delivery is held behind one that another transaction is finishing;
//   - claims take due deliveries with FOR UPDATE SKIP LOCKED.
//
// A transaction that hits a deadlock, a serialization failure or a
// duplicate key (two nodes creating the same thing at once) runs again from
// the start. Committed changes are announced to the other nodes with
// LISTEN/NOTIFY (see notify.go).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the engine. The zero value is the default.
type Options struct {
	// MaxConns bounds the connection pool (default 32).
	MaxConns int
	// MaxRequests bounds the transactions (updates and views) of requests
	// in progress at once; the work marked with herald.WithPriority (the
	// delivery engine's) is not counted, and waits for none of them.
	// Default DefaultMaxRequests. A few busy connections get the most out
	// of PostgreSQL: dozens at once mostly wait on each other's locks, and
	// share the database's CPU with the few connections that deliver what
	// they write, which then fall behind for as long as the requests keep
	// coming.
	MaxRequests int
	// Keyring seals the secrets the store keeps (see package keyring);
	// nil keeps them in plaintext, for tools and tests, and refuses a
	// database that holds sealed ones. Open seals with it whatever the
	// database holds in plaintext or under another of its keys. Every
	// node of a database needs the same keys.
	Keyring *keyring.Keyring
}

// DefaultMaxRequests is the default Options.MaxRequests.
const DefaultMaxRequests = 8

// Store is the PostgreSQL engine. It implements herald.SharedStore.
type Store struct {
	db     *sql.DB
	config *pgx.ConnConfig
	// requests holds a token per request transaction in progress (see
	// Options.MaxRequests).
	requests chan struct{}
	keys     *keyring.Keyring
	// sealed counts the secrets Open sealed.
	sealed int

	mu       sync.Mutex
	watchers []func(herald.Change)
	// signalReceivers hear the other nodes' signals (see signals.go).
	signalReceivers []func([]byte)

	n notifier
	// commitObserver is ObserveCommits' function.
	commitObserver atomic.Pointer[func(time.Duration, int)]
}

var _ herald.SharedStore = (*Store)(nil)

// Advisory lock keys, in the two-key space: (namespace, object).
const (
	lockNamespace = 0x48524c44 // "HRLD"
	eventsLock    = 1
)

var dialect = &sqlstore.Dialect{
	Numbered:              true,
	JSONArray:             "json_array_elements_text(?::json) AS value",
	Blob:                  "BYTEA",
	JSONObject:            "json_each_text(?::json)",
	IsUniqueViolation:     func(err error) bool { return sqlState(err) == "23505" },
	FailedStatementAborts: true,
	LockForUpdate:         " FOR UPDATE",
	// The keys come sorted: a function scan takes them in array order, so
	// transactions that lock overlapping sets cannot deadlock.
	LockQueues: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, key::int) FROM json_array_elements_text(?::json) AS key",
		lockNamespace+2),
	// A leased delivery's next attempt moves to the end of its lease, so
	// that what is in flight drops out of the due index, and comes back by
	// itself if its node dies. SKIP LOCKED lets nodes claim side by side.
	ClaimDeliveries: `UPDATE deliveries SET lease_until = ?1, next_attempt_at = ?1, lease_owner = ?4
		WHERE id IN (
			SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= ?2 AND w.status = 'active'
			ORDER BY d.next_attempt_at
			LIMIT ?3
			FOR UPDATE OF d SKIP LOCKED)
		RETURNING `,
	// As SQLite's (see there). The rows the caps leave out stay locked to
	// the end of the transaction, as those of any claim.
	ClaimDeliveriesCapped: `UPDATE deliveries SET lease_until = ?1, next_attempt_at = ?1, lease_owner = ?4
		WHERE id IN (
			SELECT a.id FROM (
				SELECT w.id, w.app_id,
					ROW_NUMBER() OVER (PARTITION BY w.app_id ORDER BY w.next_attempt_at, w.id) AS app_rank
				FROM (
					SELECT d.id, d.app_id, d.next_attempt_at,
						ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS webhook_rank,
						COALESCE((SELECT value::int FROM json_each_text(?6::json) WHERE key = d.webhook_id), ?8) AS webhook_cap
					FROM (SELECT d.id, d.app_id, d.webhook_id, d.next_attempt_at FROM deliveries d
						JOIN webhooks w ON w.id = d.webhook_id
						WHERE d.status = 'pending' AND d.held = 0 AND d.next_attempt_at <= ?2 AND w.status = 'active'
						AND d.app_id NOT IN (SELECT key FROM json_each_text(?5::json) WHERE value::int <= 0)
						AND d.webhook_id NOT IN (SELECT key FROM json_each_text(?6::json) WHERE value::int <= 0)
						ORDER BY d.next_attempt_at
						LIMIT ?3
						FOR UPDATE OF d SKIP LOCKED) AS d) AS w
				WHERE w.webhook_rank <= w.webhook_cap) AS a
			WHERE a.app_rank <= COALESCE((SELECT value::int FROM json_each_text(?5::json) WHERE key = a.app_id), ?7))
		RETURNING `,
}

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// storageError marks PostgreSQL's disk_full (SQLSTATE 53100) as
// herald.ErrStorageFull.
func storageError(err error) error {
	if sqlState(err) == "53100" {
		return fmt.Errorf("%w: %w", herald.ErrStorageFull, err)
	}
	return err
}

// runs reports how many times in all a transaction that failed with err
// may run: several after losing a race for locks; a few after a duplicate
// key, which another transaction may just have inserted (the next run sees
// it) or may be a plain conflict (every run fails); once otherwise.
func runs(err error) int {
	switch sqlState(err) {
	case "40001", "40P01":
		return 10
	case "23505":
		return 3
	}
	return 1
}

// Open connects to the database at url (postgres://…), brings its schema
// up to date and starts listening for other nodes' changes. It refuses a
// database whose schema is newer than this build knows.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 32
	}
	if opts.MaxRequests <= 0 {
		opts.MaxRequests = DefaultMaxRequests
	}
	config, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := stdlib.OpenDB(*config)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, config: config, requests: make(chan struct{}, opts.MaxRequests), keys: opts.Keyring}
	err = s.Update(herald.WithPriority(ctx), func(tx herald.Tx) (err error) {
		s.sealed, err = tx.(*writeTx).SealSecrets(ctx)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := s.startNotifier(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Sealed returns how many secrets Open sealed.
func (s *Store) Sealed() int { return s.sealed }

// Migrate brings the schema of db up to date, refusing a schema newer than
// this build knows. Nodes starting together take turns (a session advisory
// lock).
func Migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	if err := sqlstore.Migrate(ctx, db, goose.DialectPostgres, sub, goose.WithSessionLocker(locker)); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Close stops listening and closes the connections.
func (s *Store) Close() error {
	s.stopNotifier()
	return s.db.Close()
}

// admit waits until a request may start a transaction, and returns the
// function that ends its turn; work with priority goes at once.
func (s *Store) admit(ctx context.Context) (done func(), err error) {
	if herald.HasPriority(ctx) {
		return func() {}, nil
	}
	select {
	case s.requests <- struct{}{}:
		return func() { <-s.requests }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// View runs fn in a read-only transaction on one snapshot.
func (s *Store) View(ctx context.Context, fn func(herald.Queries) error) error {
	done, err := s.admit(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return storageError(err)
	}
	defer tx.Rollback()
	// A read that sorts or hashes more than work_mem writes temporary
	// files, and fails too when the disk is full.
	return storageError(fn(sqlstore.New(tx, dialect, sqlstore.Options{Keyring: s.keys})))
}

type writeTx struct {
	*sqlstore.Queries
	after []func()
}

func (t *writeTx) AfterCommit(f func()) { t.after = append(t.after, f) }

// Update runs fn in a transaction and commits it, running it again from
// the start if it lost a race with a concurrent transaction (fn must not
// depend on what a previous run left in variables it does not set).
func (s *Store) Update(ctx context.Context, fn func(herald.Tx) error) error {
	for run := 1; ; run++ {
		done, err := s.admit(ctx)
		if err != nil {
			return err
		}
		tx, err := s.update(ctx, fn)
		done()
		if err == nil {
			for _, f := range tx.after {
				f()
			}
			return nil
		}
		if run >= runs(err) || ctx.Err() != nil {
			return storageError(err)
		}
		// Let the winner of the race commit before running again.
		time.Sleep(time.Duration(rand.IntN(run*2000)+100) * time.Microsecond)
	}
}

func (s *Store) update(ctx context.Context, fn func(herald.Tx) error) (_ *writeTx, err error) {
	// A connection of the pool rather than a database/sql transaction, so
	// that the end of the transaction can be sent as one pipeline (below).
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			// A connection left inside a transaction is discarded when it
			// goes back to the pool, should this fail too.
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	q := sqlstore.New(conn, dialect, sqlstore.Options{Write: true, DeferEvents: true, DeferWrites: true, Keyring: s.keys})
	tx := &writeTx{Queries: q}
	if err := run(fn, tx); err != nil {
		if werr := q.WriteError(); werr != nil {
			// The statement failed because a write deferred before it did.
			return nil, werr
		}
		return nil, err
	}
	var changes []string
	var bits uint32
	events := q.PendingEvents()
	if len(events) > 0 {
		changes, bits = append(changes, tokenEvents), bits|pendingEvents
	}
	if q.DeliveriesDue() {
		changes, bits = append(changes, tokenDeliveries), bits|pendingDeliveries
	}
	notify := len(changes) > 0 && s.peers()
	// The events go in with their lock and the notification (delivered to
	// the listeners at commit, and only if it commits), and COMMIT follows
	// in the same round trip: the events lock, held until the commit so
	// that events commit in seq order, is held for as long as PostgreSQL
	// takes to run two statements, whatever the latency of this process.
	batch := &pgx.Batch{}
	// The writes that nothing read go first, in the same round trip.
	for _, w := range q.PendingWrites() {
		batch.Queue(w.Query, w.Args...)
	}
	if len(events) > 0 {
		first, firstArgs := `SELECT pg_advisory_xact_lock(?, ?)`, []any{lockNamespace, eventsLock}
		if notify {
			first, firstArgs = first+`, pg_notify(?, ?)`, append(firstArgs, s.n.channel, s.payload(changes))
		}
		query, args := dialect.EventsInsert(events, first, firstArgs...)
		seqs := sqlstore.EventSeqs(events)
		batch.Queue(query, args...).Query(func(rows pgx.Rows) error {
			var id string
			var seq int64
			_, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
				seqs.Set(id, seq)
				return nil
			})
			return err
		})
	} else if notify {
		batch.Queue(`SELECT pg_notify($1, $2)`, s.n.channel, s.payload(changes))
	}
	batch.Queue("COMMIT")
	err = conn.Raw(func(dc any) error {
		return dc.(*stdlib.Conn).Conn().SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return nil, err
	}
	s.observeCommit(start)
	s.post(bits)
	if len(changes) > 0 && !notify && s.peers() {
		// A node joined while this committed: it may have missed the
		// hello's nudge.
		go s.db.ExecContext(context.Background(), `SELECT pg_notify($1, $2)`, s.n.channel, s.payload(changes))
	}
	return tx, nil
}

// run calls fn, turning a panic into an error.
func run(fn func(herald.Tx) error, tx herald.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("postgres: update panicked: %v", p)
		}
	}()
	return fn(tx)
}

// Watch registers f to be called for every change any node commits.
func (s *Store) Watch(f func(herald.Change)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, f)
}
