// Package logs makes Herald's loggers: text or JSON lines through log/slog,
// each line of a request's work carrying the request's id.
package logs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/heraldhq/herald"
)

// Formats of the log lines.
const (
	Text = "text"
	JSON = "json"
)

// DefaultFormat is text when w is a terminal, where a person reads it, and
// JSON otherwise, where a collector (journald, Docker, Kubernetes) ingests
// it.
func DefaultFormat(w io.Writer) string {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return Text
		}
	}
	return JSON
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || strings.ContainsAny(s, "+-") {
		return 0, fmt.Errorf("%q is not a log level: debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing lines of the format ("text" or "json") at
// level and above to w. A line logged with a context (InfoContext...) that
// carries a request id (herald.WithRequestID) has it as request_id.
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case Text:
		h = slog.NewTextHandler(w, opts)
	case JSON:
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("%q is not a log format: text or json", format)
	}
	return slog.New(requestIDs{h}), nil
}

// requestIDs adds the request id of a line's context to the line.
type requestIDs struct{ slog.Handler }

func (h requestIDs) Handle(ctx context.Context, r slog.Record) error {
	if id := herald.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDs{h.Handler.WithAttrs(attrs)}
}

func (h requestIDs) WithGroup(name string) slog.Handler {
	return requestIDs{h.Handler.WithGroup(name)}
}
