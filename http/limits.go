package http

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults of the bounds on what one connection may hold of the server.
const (
	// HeaderTimeout bounds the time a request's headers may take to arrive.
	HeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout is the default Server.BodyTimeout.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultWriteTimeout is the default time a response may take to leave
	// (http.Server.WriteTimeout).
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 2 * time.Minute
	// MinTransferRate is the slowest an upload or a download may go on
	// average, in bytes per second: their deadlines move by the time their
	// bytes take at this rate as the bytes go through, so a 256 MiB upload
	// may take up to 30 s plus about 68 minutes. One that stalls for the
	// body (or write) timeout is cut, however far ahead of that pace.
	MinTransferRate = 64 << 10
)

// requestBody is a request's body as the handlers read it. It lifts the
// body's deadline once the body has arrived, so that a handler that runs
// long afterwards is not cut by it (Go's server cancels the request's
// context when a read deadline passes), and notes whether the body was
// read to its end and whether the deadline cut it.
type requestBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	deadline bool // a body deadline is set
	done     bool // read to its end
	timedOut bool // the deadline passed before the end
	// A paced body's deadline moves with what arrived (see paceBody).
	paced    bool
	start    time.Time
	grace    time.Duration
	received int64
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.paced {
		b.rc.SetReadDeadline(paceDeadline(b.start, b.grace, b.received, 0))
	}
	n, err := b.ReadCloser.Read(p)
	b.received += int64(n)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		if b.deadline {
			b.rc.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut = true
	}
	return n, err
}

// bound sets the deadlines of a request before its handler runs: its body
// must arrive within BodyTimeout. (Its response's deadline is the
// http.Server's WriteTimeout, which the server sets itself.)
func (s *Server) bound(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	b := &requestBody{ReadCloser: r.Body, rc: http.NewResponseController(w)}
	if s.BodyTimeout > 0 {
		// Without a deadline of its own, a request that states its body is
		// bounded neither by the header timeout nor by the write timeout:
		// a client sending a byte a second holds its connection for ever.
		b.deadline = b.rc.SetReadDeadline(time.Now().Add(s.BodyTimeout)) == nil
	}
	r.Body = b
}

// paceBody gives a large body (an upload) the time its bytes take at
// MinTransferRate, on top of BodyTimeout: its deadline moves as its bytes
// arrive, and it may not stall for longer than BodyTimeout. A deadline set
// once from the declared size would let a client that declares 256 MiB
// trickle a byte a second for over an hour.
func (s *Server) paceBody(r *http.Request) {
	if b, ok := r.Body.(*requestBody); ok && b.deadline {
		b.paced, b.start, b.grace = true, time.Now(), s.BodyTimeout
	}
}

// renewWriteDeadline gives a response the server's whole WriteTimeout from
// now, for a handler that spent the first one reading a long body.
func renewWriteDeadline(w http.ResponseWriter, r *http.Request) {
	if d := writeTimeout(r); d > 0 {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
	}
}

// pacedResponse returns w as a writer whose deadline moves with what it
// wrote, for a large response (a download): WriteTimeout, plus the time
// the bytes written take at MinTransferRate.
func pacedResponse(w http.ResponseWriter, r *http.Request) io.Writer {
	d := writeTimeout(r)
	if d <= 0 {
		return w
	}
	return &pacedWriter{w: w, rc: http.NewResponseController(w), start: time.Now(), grace: d}
}

type pacedWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	start   time.Time
	grace   time.Duration
	written int64
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	p.rc.SetWriteDeadline(p.deadline(int64(len(b))))
	n, err := p.w.Write(b)
	p.written += int64(n)
	return n, err
}

// deadline is when the next n bytes must have gone: on average at
// MinTransferRate since the start, and each write within the grace plus
// its own bytes' time. (What the kernel buffers counts as gone, so the
// average alone would let a client that reads nothing hold a few
// megabytes' worth of minutes.)
func (p *pacedWriter) deadline(n int64) time.Time {
	return paceDeadline(p.start, p.grace, p.written, n)
}

// paceDeadline is when the next n bytes of a transfer that started at
// start and moved done bytes must have moved: no later than the average
// pace allows, nor than grace past now plus their own time.
func paceDeadline(start time.Time, grace time.Duration, done, n int64) time.Time {
	average := start.Add(grace + transferTime(done+n))
	stall := time.Now().Add(grace + transferTime(n))
	if stall.Before(average) {
		return stall
	}
	return average
}

// ReadFrom keeps the response writer's own ReadFrom (sendfile for a file)
// for each chunk of src, with a deadline per chunk.
func (p *pacedWriter) ReadFrom(src io.Reader) (int64, error) {
	const chunk = 128 << 10
	var total int64
	for {
		p.rc.SetWriteDeadline(p.deadline(chunk))
		n, err := io.Copy(p.w, io.LimitReader(src, chunk))
		p.written += n
		total += n
		if err != nil || n < chunk {
			return total, err
		}
	}
}

func writeTimeout(r *http.Request) time.Duration {
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		return srv.WriteTimeout
	}
	return 0
}

// transferTime is how long size bytes take at MinTransferRate.
func transferTime(size int64) time.Duration {
	return time.Duration(size) * time.Second / MinTransferRate
}

// refusedBodyGrace is how long the rest of a body is read, after an
// answer given before it arrived: long enough for a client that sent it
// whole to finish sending (closing a connection with unread bytes resets
// it, and the client may lose the answer), too short to hold the
// connection.
const refusedBodyGrace = time.Second

// refuseBody makes an answer given before the request's body arrived the
// connection's last. Go's server would otherwise read what remains of a
// small body (up to 256 KiB) before it sends the answer, to keep the
// connection: a client trickling that body would hold the connection, and
// wait for its answer, for as long as it trickles, token or no token. The
// answer goes out at once instead, and the connection closes once the rest
// of the body has arrived or refusedBodyGrace has passed.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	b, ok := r.Body.(*requestBody)
	if !ok || b.done {
		return
	}
	w.Header().Set("Connection", "close")
	if !b.timedOut {
		b.rc.SetReadDeadline(time.Now().Add(refusedBodyGrace))
	}
}

// bodyTimedOut returns the error for a request whose body did not arrive
// before its deadline, whatever the handler made of the failed read.
func (s *Server) bodyTimedOut(r *http.Request) (*herald.Error, bool) {
	b, ok := r.Body.(*requestBody)
	if !ok || !b.timedOut {
		return nil, false
	}
	return herald.Errorf(herald.ERequestTimeout,
		"The request body did not arrive in time: a body must arrive within %s (uploads get more, by their size).", s.BodyTimeout), true
}
