package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxStatements bounds each statement cache. Herald's queries are a fixed
// set, with variants for optional clauses and multi-row inserts of up to
// 64 rows; past the bound, statements run unprepared.
const maxStatements = 1024

// SQLite parses every statement it is handed; the parse costs as much as a
// simple query. The writer's connection and the read pool therefore keep
// each query prepared.

// writerStmts is the writer connection's cache, used by the writer
// goroutine only.
type writerStmts struct {
	conn *sql.Conn
	m    map[string]*sql.Stmt
}

func (w *writerStmts) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := w.m[query]; ok {
		return s, nil
	}
	if len(w.m) >= maxStatements {
		return nil, nil
	}
	s, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.m[query] = s
	return s, nil
}

func (w *writerStmts) close() {
	for _, s := range w.m {
		s.Close()
	}
}

// readerStmts is the read pool's cache: a statement prepared on the pool is
// prepared once per connection, then bound to each read transaction.
type readerStmts struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt
	n  atomic.Int64
	// preparing holds the queries being prepared on the pool.
	preparing sync.Map

	// The preparations on the pool run in goroutines of their own, which
	// close cancels (stop) and waits for: one finishing after the store
	// closed would open a connection to its files. mu orders their start
	// with close.
	mu       sync.Mutex
	inFlight sync.WaitGroup
	stop     context.Context
	cancel   context.CancelFunc
}

func newReaderStmts(db *sql.DB) *readerStmts {
	r := &readerStmts{db: db}
	r.stop, r.cancel = context.WithCancel(context.Background())
	return r
}

func (r *readerStmts) forTx(tx *sql.Tx) func(context.Context, string) (*sql.Stmt, error) {
	return func(ctx context.Context, query string) (*sql.Stmt, error) {
		if s, ok := r.m.Load(query); ok {
			return tx.StmtContext(ctx, s.(*sql.Stmt)), nil
		}
		if r.n.Load() >= maxStatements {
			return nil, nil
		}
		// Preparing on the pool takes a connection of its own, which this
		// transaction, holding one, must not wait for: with every
		// connection held by a transaction waiting so, none would come
		// free. The query is prepared on the pool beside it, for the
		// transactions to come, and on this one's connection for now.
		r.prepareOnPool(query)
		return tx.PrepareContext(ctx, query)
	}
}

// prepareOnPool prepares a query on the pool and caches it, in a goroutine
// that holds no connection while it waits for one.
func (r *readerStmts) prepareOnPool(query string) {
	if _, busy := r.preparing.LoadOrStore(query, true); busy {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop.Err() != nil {
		r.preparing.Delete(query)
		return
	}
	r.inFlight.Add(1)
	go func() {
		defer r.inFlight.Done()
		defer r.preparing.Delete(query)
		p, err := r.db.PrepareContext(r.stop, query)
		if err != nil {
			// The pool is closed, or the query does not prepare, which
			// the transactions running it report.
			return
		}
		if _, ok := r.m.LoadOrStore(query, p); ok {
			p.Close()
		} else {
			r.n.Add(1)
		}
	}()
}

func (r *readerStmts) close() {
	r.mu.Lock()
	r.cancel()
	r.mu.Unlock()
	r.inFlight.Wait()
	r.m.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
}
