package http

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
)

// RequestIDHeader carries a request's id: taken from the client when it
// sends a sane one (a proxy in front of Herald that already named the
// request), else made here; echoed in the response either way.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLength bounds an incoming request id: enough for a UUID, a
// W3C trace id or an AWS ALB's Root=1-... id.
const maxRequestIDLength = 128

// saneRequestID reports whether a client's request id may go into logs and
// events as it is: printable ASCII without spaces, quotes or backslashes,
// so that it is one token in a text log line and cannot forge another.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observed is a request's response, as the metrics and the access log see
// it: its status, once written.
type observed struct {
	http.ResponseWriter
	status int
}

func (o *observed) WriteHeader(code int) {
	// Informational answers (103 Early Hints) come before the status;
	// 101 is the status of an upgrade.
	if (o.status == 0 && code >= 200) || code == http.StatusSwitchingProtocols {
		o.status = code
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *observed) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	return o.ResponseWriter.Write(b)
}

// ReadFrom keeps the connection's own ReadFrom (sendfile for a file, one
// buffer less otherwise), as downloads use it.
func (o *observed) ReadFrom(src io.Reader) (int64, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	if rf, ok := o.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{o.ResponseWriter}, src)
}

// Unwrap lets http.ResponseController reach the connection's writer
// (deadlines, flushes).
func (o *observed) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// Flush and Hijack are there for the code that asserts them: WebSocket
// upgrades hijack the connection.
func (o *observed) Flush() {
	if f, ok := o.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (o *observed) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := o.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("http: the connection cannot be hijacked")
	}
	if o.status == 0 {
		o.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// observe serves a request under its id, counting it by the pattern that
// served it (set on r by the mux) and its status.
func (s *Server) observe(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	id := r.Header.Get(RequestIDHeader)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set(RequestIDHeader, id)
	// The mux sets the pattern on this request, read below.
	r = r.WithContext(herald.WithRequestID(r.Context(), id))
	o := &observed{ResponseWriter: w}
	defer func() {
		took := time.Since(start)
		status := o.status
		if status == 0 {
			// A handler that wrote nothing answered 200, as net/http does,
			// unless it panicked: then the connection was cut.
			status = http.StatusOK
		}
		s.Metrics.Served(r.Pattern, status, took)
		if s.Logger.Enabled(r.Context(), slog.LevelDebug) {
			s.Logger.DebugContext(r.Context(), "request", "method", r.Method, "route", r.Pattern, "status", status,
				"duration_ms", float64(took.Microseconds())/1000)
		}
	}()
	serve(o, r)
}

// MetricsHandler serves the server's metrics to scrapes bearing
// MetricsToken, if one is set.
func (s *Server) MetricsHandler() http.Handler {
	h := s.Metrics.Handler()
	if s.MetricsToken == "" {
		return h
	}
	want := []byte("Bearer " + s.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald metrics"`)
			s.writeError(w, r, herald.Errorf(herald.EAuthRequired, "Send the metrics token as 'Authorization: Bearer <token>'."))
			return
		}
		h.ServeHTTP(w, r)
	})
}
