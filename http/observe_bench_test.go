package http

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/metrics"
)

// discardWriter is a ResponseWriter that costs nothing, so that the
// benchmark measures what observe adds to a request.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkObserve is what every request pays for its id, its metrics and
// its access log line when that is off (info level).
func BenchmarkObserve(b *testing.B) {
	s := &Server{Metrics: metrics.New(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	r := httptest.NewRequest("GET", "/apps/a/conversations", nil)
	r.Pattern = "GET /apps/{app}/conversations"
	w := &discardWriter{h: http.Header{}}
	handler := func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = "GET /apps/{app}/conversations"
		w.WriteHeader(200)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.observe(w, r, handler)
	}
}
