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
	// slots holds a token per connection the pool may have open at once.
	slots chan struct{}
	// idle are the open connections no transaction holds, the one
	// returned last at the end: taken first, it is the likeliest to have
	// its pages cached still (SQLite drops a connection's cache when
	// another commits), as database/sql's pool does.
	mu        sync.Mutex
	idle      []*readConn
	closed    chan struct{}
	closeOnce sync.Once
}

type readConn struct {
	conn  *sql.Conn
	stmts *connStmts
}

func newReadPool(db *sql.DB, size int) *readPool {
	p := &readPool{db: db, slots: make(chan struct{}, size), closed: make(chan struct{})}
	for range size {
		p.slots <- struct{}{}
	}
	return p
}

// take waits for a connection, opening one when none is idle.
func (p *readPool) take(ctx context.Context) (*readConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-p.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closed:
		return nil, ErrClosed
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	conn, err := p.db.Conn(ctx)
	if err != nil {
		p.slots <- struct{}{}
		return nil, err
	}
	return &readConn{conn: conn, stmts: newConnStmts(conn)}, nil
}

// give returns a connection; one a transaction could not end is
// discarded, and opened anew by the next to take its place.
func (p *readPool) give(c *readConn, broken bool) {
	if broken {
		c.discard()
	} else {
		p.mu.Lock()
		p.idle = append(p.idle, c)
		p.mu.Unlock()
	}
	p.slots <- struct{}{}
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
			// fn panicked: the connection is closed, and its
			// transaction with it.
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
		for range cap(p.slots) {
			<-p.slots
		}
		for _, c := range p.idle {
			c.close()
		}
		p.idle = nil
	})
}
