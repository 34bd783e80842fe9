package sqlite

import (
	"context"
	"database/sql"
)

// maxStatements bounds each statement cache. Herald's queries are a fixed
// set, with variants for optional clauses and multi-row inserts of up to
// 64 rows; past the bound, statements run unprepared.
const maxStatements = 1024

// SQLite parses every statement it is handed; the parse costs as much as a
// simple query. Each connection therefore keeps each query prepared.

// connStmts is a connection's statement cache, used by whoever holds the
// connection: the writer goroutine, or a read transaction.
type connStmts struct {
	conn *sql.Conn
	m    map[string]*sql.Stmt
}

func newConnStmts(conn *sql.Conn) *connStmts {
	return &connStmts{conn: conn, m: map[string]*sql.Stmt{}}
}

func (c *connStmts) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.m[query]; ok {
		return s, nil
	}
	if len(c.m) >= maxStatements {
		return nil, nil
	}
	s, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = s
	return s, nil
}

// exec runs a statement without arguments, prepared.
func (c *connStmts) exec(ctx context.Context, query string) error {
	st, err := c.prepare(ctx, query)
	if err == nil {
		_, err = st.ExecContext(ctx)
	}
	return err
}

func (c *connStmts) close() {
	for _, s := range c.m {
		s.Close()
	}
}
