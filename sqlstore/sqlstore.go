// Package sqlstore is the SQL that Herald's storage engines share:
// herald.Queries written once over database/sql, with the few places where
// SQLite and PostgreSQL differ kept in a Dialect. The engines (packages
// sqlite and postgres) own the connections, the transactions and the schema.
package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
)

// A Dialect is what sets one engine's SQL apart.
type Dialect struct {
	// Numbered placeholders: $1, $2… (PostgreSQL) instead of ? and ?N. The
	// queries are written with ?; they are rewritten once and cached.
	Numbered bool
	// JSONArray is a FROM item yielding a column "value" for each element
	// of a JSON array of strings passed as one parameter.
	JSONArray string
	// Blob is the type of binary values in casts: BLOB, BYTEA.
	Blob string
	// JSONObject is a FROM item yielding columns "key" and "value" for each
	// member of a JSON object of strings passed as one parameter.
	JSONObject string
	// IsUniqueViolation reports whether err is a duplicate refused by a
	// unique index.
	IsUniqueViolation func(err error) bool
	// FailedStatementAborts says a failed statement aborts the whole
	// transaction (PostgreSQL), so that statements whose failure is handled
	// run inside a savepoint.
	FailedStatementAborts bool
	// LockForUpdate is appended to the reads that a write transaction makes
	// before writing what it read (" FOR UPDATE"); "" where writers are
	// serialized anyway (SQLite).
	LockForUpdate string
	// LockQueues takes transaction-scoped locks on delivery queues (a
	// webhook's deliveries of one ordering key), given as a JSON array of
	// 32-bit keys, in the array's order; "" where writers are serialized
	// anyway. Creating deliveries and finishing them lock their queues: so
	// a delivery is never created held behind one that is finishing in
	// another transaction, with nothing left to release it. A lock per
	// queue rather than per webhook lets the fan-out and the completions of
	// different conversations of one webhook go side by side.
	LockQueues string
	// HeldIndex says the schema has deliveries_held, a partial index of
	// the held deliveries, with which a completion learns at once that
	// none is held, and skips looking for the next delivery of each queue
	// it frees (SQLite). PostgreSQL has none: its planner, with statistics
	// taken while hardly anything was held, chose it over deliveries_order
	// to find the next delivery of a queue, and so read every held
	// delivery for each queue a completion freed (4.8 ms per queue with
	// 8,400 held), and a backlog fed itself.
	HeldIndex bool
	// ClaimDeliveries is the claim statement; parameters: lease end, now,
	// limit, node.
	ClaimDeliveries string
	// ClaimDeliveriesCapped is the claim statement within caps (see
	// herald.ClaimCaps); parameters: lease end, now, limit, node, the
	// apps' and the webhooks' own caps (JSON objects of ids and numbers),
	// the cap of any other app, of any other webhook.
	ClaimDeliveriesCapped string
	// CostlyReturning says RETURNING costs a temporary table per statement
	// (SQLite), more than what the hot writes learn otherwise: keys from
	// the last insert's rowid (inserts are serialized, and AUTOINCREMENT
	// keys of one statement consecutive), matches from the count of rows
	// changed, a row from a read after the write.
	CostlyReturning bool
	// LimitsByValue says the engine plans a LIMIT or OFFSET that is a
	// bare parameter by the value bound, and so prepares the statement
	// again each time another value is bound (SQLite: half the cost of a
	// short read). Rebind then makes each such parameter an expression,
	// ?+0, which the engine evaluates as it runs the statement.
	LimitsByValue bool
}

// DB is what both a transaction and a pinned connection offer.
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries implements herald.Queries on one transaction or connection.
type Queries struct {
	db   DB
	d    *Dialect
	lock string // the dialect's LockForUpdate in a write transaction

	// Events appended by a transaction whose engine inserts them at commit
	// (DeferEvents); see PendingEvents.
	deferEvents bool
	pending     []*herald.Event
	// writes holds the statements deferred under DeferWrites.
	writes *deferred
	// due records that deliveries were created or became claimable.
	due bool
	// keys seals the secrets written and opens those read.
	keys *keyring.Keyring
}

// Options of a Queries.
type Options struct {
	// Write says the queries run in a write transaction: reads that precede
	// writes lock what they read, if the dialect needs it.
	Write bool
	// DeferEvents makes AppendEvent keep events for the engine to insert at
	// commit (see PendingEvents) instead of inserting them at once.
	DeferEvents bool
	// DeferWrites lets inserts whose outcome nothing in the transaction
	// reads (a new message's row) wait, to go with the next statement's
	// round trip or with the COMMIT's (see PendingWrites): for an engine
	// that pays a network round trip per statement. The next statement of
	// the transaction runs them first, so that it sees them.
	DeferWrites bool
	// Uncancelable makes the statements ignore the end of their context:
	// for a transaction that runs the updates of several callers (SQLite's
	// group commit), where one caller giving up must not interrupt, and so
	// roll back, a transaction that carries the others' updates. It also
	// spares the goroutine that the driver would start per statement to
	// watch the context.
	Uncancelable bool
	// Prepare, when set, returns the query prepared for the transaction or
	// connection, so that a driver that would parse every statement anew
	// (SQLite) parses each query once; nil, nil runs the query unprepared.
	Prepare func(ctx context.Context, query string) (*sql.Stmt, error)
	// Keyring seals the secrets the queries write (webhooks' keys, the
	// secret settings) and opens those they read; nil stores them as they
	// are, and refuses sealed ones.
	Keyring *keyring.Keyring
}

// New returns the queries of a dialect over db.
func New(db DB, d *Dialect, o Options) *Queries {
	b := bound{db: db, d: d, prepare: o.Prepare, uncancelable: o.Uncancelable}
	q := &Queries{d: d, deferEvents: o.DeferEvents, keys: o.Keyring}
	if o.DeferWrites {
		b.writes = &deferred{}
		q.writes = b.writes
	}
	q.db = b
	if o.Write {
		q.lock = d.LockForUpdate
	}
	return q
}

// PendingEvents returns the events appended since the last call, for an
// engine that inserts them itself at commit (Options.DeferEvents).
func (q *Queries) PendingEvents() []*herald.Event {
	p := q.pending
	q.pending = nil
	return p
}

// A Statement is a query, written for the dialect, and its arguments.
type Statement struct {
	Query string
	Args  []any
}

// deferred is the queue of a transaction's deferred writes.
type deferred struct {
	stmts []Statement
	err   error // the first deferred write that failed
}

// WriteError returns the error of the first deferred write that failed
// when a later statement ran it, if one did.
func (q *Queries) WriteError() error {
	if q.writes == nil {
		return nil
	}
	return q.writes.err
}

// PendingWrites returns the writes deferred since the last statement, for
// an engine that sends them itself before its COMMIT (Options.DeferWrites).
func (q *Queries) PendingWrites() []Statement {
	if q.writes == nil {
		return nil
	}
	w := q.writes.stmts
	q.writes.stmts = nil
	return w
}

// execDeferrable runs a write whose outcome nothing reads but its error:
// deferred under DeferWrites, at once otherwise.
func (q *Queries) execDeferrable(ctx context.Context, query string, args ...any) error {
	if q.writes != nil {
		q.writes.stmts = append(q.writes.stmts, Statement{q.d.Rebind(query), args})
		return nil
	}
	_, err := q.db.ExecContext(ctx, query, args...)
	return err
}

// DeliveriesDue reports whether the transaction made deliveries claimable
// (created or released them without leasing them to their creator), for an
// engine that tells other nodes.
func (q *Queries) DeliveriesDue() bool { return q.due }

// InsertEvents inserts events in one statement and sets their Seq: for an
// engine that appends at commit what AppendEvent kept (Options.DeferEvents).
//
// first, when not empty, is a query of one row that the same statement
// runs before the first event takes its seq, with firstArgs as its
// parameters: PostgreSQL takes the events lock and queues its notification
// there, rather than in statements of their own while it holds the lock.
func (q *Queries) InsertEvents(ctx context.Context, events []*herald.Event, first string, firstArgs ...any) error {
	if q.d.CostlyReturning && first == "" && len(events) > 0 {
		query, args := q.d.EventsInsert(events, "")
		res, err := q.db.ExecContext(ctx, strings.TrimSuffix(query, eventsReturning), args...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for i, e := range events {
			e.Seq = last - int64(len(events)-1-i)
		}
		return nil
	}
	query, args := q.d.EventsInsert(events, first, firstArgs...)
	// Already rebound: bound's Rebind leaves a query without ? as it is.
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	seqs := EventSeqs(events)
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return err
		}
		seqs.Set(id, seq)
	}
	return rows.Err()
}

// EventsInsert returns the statement that InsertEvents runs, written for
// the dialect, with its arguments, for an engine that sends it itself (e.g.
// in one round trip with its COMMIT). It returns rows of (id, seq).
func (d *Dialect) EventsInsert(events []*herald.Event, first string, firstArgs ...any) (string, []any) {
	var sb strings.Builder
	args := make([]any, 0, len(firstArgs)+7*len(events))
	row := "(?, ?, ?, ?, ?, ?, ?)"
	if first == "" {
		sb.WriteString(`INSERT INTO events (id, app_id, type, created_at, actor, data, request_id) VALUES `)
	} else {
		// Every row of the insert joins first's: it has run before the
		// first row, and with it the first seq, exists. The casts type the
		// VALUES columns, which no longer take their columns' types.
		sb.WriteString(`WITH first AS (` + first + `) INSERT INTO events (id, app_id, type, created_at, actor, data, request_id)
			SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM first, (VALUES `)
		args = append(args, firstArgs...)
		row = "(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT))"
	}
	for i, e := range events {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
		var actor any
		if e.Actor != nil {
			actor = mustJSON(e.Actor)
		}
		args = append(args, e.ID, e.AppID, e.Type, micros(e.CreatedAt), actor, string(e.Data), e.RequestID)
	}
	if first != "" {
		sb.WriteString(`) AS v`)
	}
	sb.WriteString(eventsReturning)
	return d.Rebind(sb.String()), args
}

const eventsReturning = ` RETURNING id, seq`

// EventSeqs sets the Seq of events from the (id, seq) rows of their insert.
type EventSeqs []*herald.Event

// Set gives the event id its seq.
func (es EventSeqs) Set(id string, seq int64) {
	for _, e := range es {
		if e.ID == id {
			e.Seq = seq
			return
		}
	}
}

// bound rewrites the placeholders of every query for its dialect, and runs
// it prepared when the engine prepares statements.
type bound struct {
	db      DB
	d       *Dialect
	prepare func(ctx context.Context, query string) (*sql.Stmt, error)
	// writes, under DeferWrites, run before any other statement.
	writes       *deferred
	uncancelable bool
}

// context returns the context a statement runs under.
func (b bound) context(ctx context.Context) context.Context {
	if b.uncancelable && ctx.Done() != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// flush runs the deferred writes.
func (b bound) flush(ctx context.Context) error {
	if b.writes == nil {
		return nil
	}
	for len(b.writes.stmts) > 0 {
		w := b.writes.stmts[0]
		b.writes.stmts = b.writes.stmts[1:]
		if _, err := b.db.ExecContext(ctx, w.Query, w.Args...); err != nil {
			if b.writes.err == nil {
				b.writes.err = err
			}
			return err
		}
	}
	return nil
}

func (b bound) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if b.prepare == nil {
		return nil, nil
	}
	return b.prepare(ctx, query)
}

func (b bound) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = b.context(ctx)
	if err := b.flush(ctx); err != nil {
		return nil, err
	}
	query = b.d.Rebind(query)
	if s, err := b.stmt(ctx, query); err != nil || s != nil {
		if err != nil {
			return nil, err
		}
		return s.ExecContext(ctx, args...)
	}
	return b.db.ExecContext(ctx, query, args...)
}

func (b bound) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = b.context(ctx)
	if err := b.flush(ctx); err != nil {
		return nil, err
	}
	query = b.d.Rebind(query)
	if s, err := b.stmt(ctx, query); err != nil || s != nil {
		if err != nil {
			return nil, err
		}
		return s.QueryContext(ctx, args...)
	}
	return b.db.QueryContext(ctx, query, args...)
}

func (b bound) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = b.context(ctx)
	// A Row cannot carry the error of a deferred write; the write failing
	// aborts the transaction, so the query fails too, and WriteError tells
	// why.
	b.flush(ctx)
	query = b.d.Rebind(query)
	if s, err := b.stmt(ctx, query); err == nil && s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	// A statement that cannot be prepared fails again here, with its error
	// in the Row.
	return b.db.QueryRowContext(ctx, query, args...)
}

var rebound sync.Map // query written with ? → query with $n

// Rebind rewrites a query written with ? and ?N placeholders for the
// dialect.
func (d *Dialect) Rebind(query string) string {
	if !d.Numbered {
		if d.LimitsByValue && (strings.Contains(query, "LIMIT ?") || strings.Contains(query, "OFFSET ?")) {
			return limitsAsExpressions(query)
		}
		return query
	}
	if !strings.Contains(query, "?") {
		return query
	}
	if r, ok := rebound.Load(query); ok {
		return r.(string)
	}
	var sb strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
			sb.WriteByte(c)
		case c == '?' && !quoted:
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			sb.WriteByte('$')
			if j > i+1 {
				sb.WriteString(query[i+1 : j])
				i = j - 1
			} else {
				n++
				sb.WriteString(strconv.Itoa(n))
			}
		default:
			sb.WriteByte(c)
		}
	}
	r := sb.String()
	rebound.Store(query, r)
	return r
}

var limitsRewritten sync.Map // query → query with LIMIT ?+0

// limitsAsExpressions rewrites each LIMIT and OFFSET of query whose value
// is a bare ? or ?N placeholder as that placeholder plus 0 (see
// Dialect.LimitsByValue).
func limitsAsExpressions(query string) string {
	if r, ok := limitsRewritten.Load(query); ok {
		return r.(string)
	}
	var sb strings.Builder
	rest := query
	for {
		i := indexLimitParameter(rest)
		if i < 0 {
			break
		}
		j := i + 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		sb.WriteString(rest[:j])
		sb.WriteString("+0")
		rest = rest[j:]
	}
	sb.WriteString(rest)
	r := sb.String()
	limitsRewritten.Store(query, r)
	return r
}

// indexLimitParameter is the index in s of the first placeholder that is a
// LIMIT's or an OFFSET's whole value, or -1.
func indexLimitParameter(s string) int {
	first := -1
	for _, kw := range []string{"LIMIT ?", "OFFSET ?"} {
		if i := strings.Index(s, kw); i >= 0 && (first < 0 || i+len(kw)-1 < first) {
			first = i + len(kw) - 1
		}
	}
	return first
}

// execMayFail runs a statement whose failure the caller handles, inside a
// savepoint where a failed statement would abort the transaction.
func (q *Queries) execMayFail(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !q.d.FailedStatementAborts {
		return q.db.ExecContext(ctx, query, args...)
	}
	if _, err := q.db.ExecContext(ctx, "SAVEPOINT may_fail"); err != nil {
		return nil, err
	}
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		if _, rerr := q.db.ExecContext(ctx, "ROLLBACK TO SAVEPOINT may_fail"); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	_, rerr := q.db.ExecContext(ctx, "RELEASE SAVEPOINT may_fail")
	return res, rerr
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect returns a function that scans every row of a query's result
// with scan, so that a listing reads collect(scanX)(q.db.QueryContext(…)).
func collect[T any](scan func(scanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

func scanString(r scanner) (s string, err error) {
	err = r.Scan(&s)
	return s, err
}

func scanInt64(r scanner) (n int64, err error) {
	err = r.Scan(&n)
	return n, err
}
