package delivery

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/stdwebhooks"
)

// BenchmarkAttempt measures attempts of a Layer delivery end to end over
// loopback: Layer's headers and signature, the Standard Webhooks ones, the
// request on a pooled keep-alive connection, and the answer of a receiver
// that verifies the Standard Webhooks signature, 64 attempts at a time.
//
// Sender and receiver share the process, so cpu-ns/attempt (the process's
// CPU time per attempt) is what an attempt costs the machine at both ends:
// the floor under what a delivery costs, before anything is recorded.
func BenchmarkAttempt(b *testing.B) {
	key := stdwebhooks.NewSecret()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || stdwebhooks.Verify(key, r.Header, body, time.Now()) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e := &Engine{Workers: 64, AllowTargets: egress.Loopback, Formats: map[string]Format{herald.FormatLayer: layer.Format{}}}
	e.defaultClient()
	defer e.transport.CloseIdleConnections()
	w := &herald.Webhook{ID: "w", AppID: "app", TargetURL: srv.URL + "/hook", Format: herald.FormatLayer,
		Version: "2.0", Secret: "layer secret", SigningKey: key}
	// About the size of a rendered message event.
	body := []byte(`{"event":{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","type":"message.sent",` +
		`"created_at":"2025-03-04T05:06:07Z"},"message":{"id":"layer:///messages/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",` +
		`"sender":{"user_id":"alice"},"parts":[{"mime_type":"text/plain","body":"` +
		strings.Repeat("lorem ipsum ", 100) + `"}]}}`)
	// RunParallel starts SetParallelism goroutines per GOMAXPROCS.
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	cpu := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := &herald.Delivery{ID: uuid.Must(uuid.NewV7()).String(), AppID: "app", WebhookID: "w",
				EventType: "message.sent", Body: body}
			r := e.attempt(&job{d: d, w: w})
			if r.a.StatusCode != http.StatusNoContent {
				b.Errorf("attempt answered %d (%s)", r.a.StatusCode, r.a.Error)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/attempt")
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
