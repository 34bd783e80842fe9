package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
)

// readPool lends the read connections, each pinned with the statements
// prepared on it, to one read transaction at a time.
//
// A read transaction runs BEGIN and ROLLBACK on its connection rather than
// being a database/sql Tx: a Tx starts a goroutine to watch its context,
// and another for each Rows read in it, whatever the context. The Client
// API's fan-out reads once per message sent; at hundreds a second those
// goroutines crowded the run queues that the API's requests wait in. On a
// pinned connection, a read whose context cannot end starts none.
type readPool struct {
	db *sql.DB
	// free holds a token per connection: an open one, or nil for one not
	// opened yet (or closed after it failed).
	free      chan *readConn
	closed    chan struct{}
	closeOnce sync.Once
}

type readConn struct {
	conn  *sql.Conn
	stmts *connStmts
}

func newReadPool(db *sql.DB, size int) *readPool {
	p := &readPool{db: db, free: make(chan *readConn, size), closed: make(chan struct{})}
	for range size {
		p.free <- nil
	}
	return p
}

// take waits for a connection, opening it on its first use.
func (p *readPool) take(ctx context.Context) (*readConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c := <-p.free:
		if c != nil {
			return c, nil
		}
		conn, err := p.db.Conn(ctx)
		if err != nil {
			p.free <- nil
			return nil, err
		}
		return &readConn{conn: conn, stmts: newConnStmts(conn)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closed:
		return nil, ErrClosed
	}
}

// give returns a connection; one a transaction could not end is
// discarded, and opened anew by the next to take its place.
func (p *readPool) give(c *readConn, broken bool) {
	if broken {
		c.discard()
		c = nil
	}
	p.free <- c
}

// close returns the connection to the database/sql pool, which closes it
// as that pool closes.
func (c *readConn) close() {
	c.stmts.close()
	c.conn.Close()
}

// discard closes the connection itself: returned to the database/sql pool,
// it would be handed out again in whatever state it is in.
func (c *readConn) discard() {
	c.stmts.close()
	c.conn.Raw(func(any) error { return driver.ErrBadConn })
}

// view runs fn in a read transaction on a connection of the pool.
func (p *readPool) view(ctx context.Context, fn func(*readConn) error) error {
	c, err := p.take(ctx)
	if err != nil {
		return err
	}
	// BEGIN and ROLLBACK run whatever ctx becomes: a ROLLBACK left
	// undone would leave the next transaction of the connection inside
	// this one.
	if err := c.stmts.exec(context.Background(), "BEGIN"); err != nil {
		p.give(c, true)
		return err
	}
	ended := false
	defer func() {
		if !ended {
			// fn panicked: the connection's state is unknown.
			c.stmts.exec(context.Background(), "ROLLBACK")
			p.give(c, true)
		}
	}()
	err = fn(c)
	rerr := c.stmts.exec(context.Background(), "ROLLBACK")
	ended = true
	p.give(c, rerr != nil)
	return err
}

// close waits for the transactions in flight, refuses new ones, and closes
// the connections. Only its first call does anything.
func (p *readPool) close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		for range cap(p.free) {
			if c := <-p.free; c != nil {
				c.close()
			}
		}
	})
}
