package clientapi

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkingWriter hands the WebSocket library, as it takes over the
// connection, one it can cork: the library flushes every frame to the
// connection as it ends, and a change usually comes as two packets (a
// message's create and its conversation's update), which would cost two
// write system calls, and two wake-ups of the reader, where one does.
type corkingWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// What was written before the hijack goes out first; the writer net/http
	// hands over is then pointed at the corkable connection.
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: conn}
	brw.Writer.Reset(w.conn)
	return w.conn, brw, nil
}

func (w *corkingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// corkConn is a connection whose writes can be held in memory and sent
// together with one write (cork, uncork). What a timed-out uncork could
// not send stays held, and goes before any later write.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	// held is what was written and not sent yet; nil when nothing is.
	held *[]byte
}

// corkBuffers are the buffers of held writes: a socket holds one only
// while it writes a change, or while its peer is slow to take it.
var corkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked || c.held != nil {
		c.hold(p)
		if c.corked {
			return len(p), nil
		}
		// A remainder is held: it goes first, with p. This write has no
		// deadline of its own, as a direct one would not: the library
		// bounds its own (pings, the close handshake) by closing the
		// connection.
		if err := c.sendHeld(time.Time{}); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold adds p to what is held. c.mu is held.
func (c *corkConn) hold(p []byte) {
	if c.held == nil {
		c.held = corkBuffers.Get().(*[]byte)
	}
	*c.held = append(*c.held, p...)
}

// cork holds the writes that follow until uncork.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = true
}

// uncork sends what is held in one write, which must end within timeout.
// If it does not, what was not sent stays held (os.ErrDeadlineExceeded),
// for flush or the next write. Writes from elsewhere (pings, the close
// handshake) wait for it, so that bytes leave in the order they were
// written.
func (c *corkConn) uncork(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.sendHeld(time.Now().Add(timeout))
}

// pending reports whether something is held outside a cork: what an
// uncork could not send in time.
func (c *corkConn) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held != nil && !c.corked
}

// flush sends what is held, within timeout.
func (c *corkConn) flush(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendHeld(time.Now().Add(timeout))
}

// sendHeld writes what is held by deadline (none when zero), and keeps
// what it could not write. c.mu is held.
func (c *corkConn) sendHeld(deadline time.Time) error {
	if c.held == nil {
		return nil
	}
	held := *c.held
	if len(held) > 0 {
		if err := c.Conn.SetWriteDeadline(deadline); err != nil {
			return err
		}
		n, err := c.Conn.Write(held)
		if !deadline.IsZero() {
			c.Conn.SetWriteDeadline(time.Time{})
		}
		if err != nil {
			*c.held = held[:copy(held, held[n:])]
			return err
		}
	}
	if cap(held) <= 64<<10 {
		*c.held = held[:0]
		corkBuffers.Put(c.held)
	}
	c.held = nil
	return nil
}
