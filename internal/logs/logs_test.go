package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// A line logged with a request's context names the request; others do
// not; lines below the level are left out.
func TestRequestIDs(t *testing.T) {
	var buf bytes.Buffer
	logger, err := New(&buf, JSON, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	ctx := herald.WithRequestID(context.Background(), "req-7")
	logger.With("part", "api").InfoContext(ctx, "served")
	logger.Info("alone")
	logger.DebugContext(ctx, "hidden")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q, want 2", lines)
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "req-7" || first["part"] != "api" || second["request_id"] != nil {
		t.Errorf("lines %v and %v", first, second)
	}
	buf.Reset()
	text, _ := New(&buf, Text, slog.LevelDebug)
	text.DebugContext(ctx, "served")
	if !strings.Contains(buf.String(), "request_id=req-7") {
		t.Errorf("text line %q", buf.String())
	}
}

func TestFlags(t *testing.T) {
	for _, s := range []string{"debug", "info", "WARN", "error"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("level %q: %v", s, err)
		}
	}
	for _, s := range []string{"", "verbose", "info+2", "debug-1"} {
		if _, err := ParseLevel(s); err == nil {
			t.Errorf("level %q accepted", s)
		}
	}
	if _, err := New(&bytes.Buffer{}, "yaml", slog.LevelInfo); err == nil {
		t.Error("format yaml accepted")
	}
	if f := DefaultFormat(&bytes.Buffer{}); f != JSON {
		t.Errorf("default format %q for a buffer, want json", f)
	}
}
