package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/logs"
	"github.com/heraldhq/herald/push"
)

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON lines logged so far.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the lines with the message whose attributes have the
// given values.
func (b *logBuffer) find(t *testing.T, msg string, attrs map[string]any) []map[string]any {
	var out []map[string]any
lines:
	for _, l := range b.lines(t) {
		if l["msg"] != msg {
			continue
		}
		for k, v := range attrs {
			if l[k] != v {
				continue lines
			}
		}
		out = append(out, l)
	}
	return out
}

// withJSONLogs has the server and its engine log JSON lines of every level
// into b, as serve --log-format json --log-level debug does.
func withJSONLogs(b *logBuffer) apiOption {
	return func(srv *heraldhttp.Server) {
		logger, err := logs.New(b, logs.JSON, slog.LevelDebug)
		if err != nil {
			panic(err)
		}
		srv.Logger, srv.Engine.Logger = logger, logger
	}
}

// scrape reads the server's metrics through GET /metrics, as Prometheus
// does.
func (a *api) scrape(t *testing.T, headers ...string) map[string]*dto.MetricFamily {
	t.Helper()
	r := a.do("GET", "//metrics", nil, headers...).must(t, 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("metrics served as %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("parsing the metrics: %v\n%s", err, r.Body)
	}
	return families
}

// metric returns the value of the sample of a family with the labels
// (a counter's or gauge's value, a histogram's count); ok is false when
// there is none.
func metric(families map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
samples:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue samples
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func wantMetric(t *testing.T, families map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	if v, ok := metric(families, name, labels...); !ok || v != want {
		t.Errorf("%s%v = %v (present: %v), want %v", name, labels, v, ok, want)
	}
}

// /metrics after real traffic: requests counted by route and status,
// deliveries to a receiver on 127.0.0.1 by format and outcome, and the
// backlog of a webhook whose receiver is down growing; the log lines, in
// JSON, carry the id of the API request from the request to the delivery
// attempts of the event it recorded.
func TestMetricsAndRequestIDs(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			var logged logBuffer
			a := startAPI(t, e.Open(t), withJSONLogs(&logged))
			// Each scrape reads the backlogs anew.
			a.Server.Metrics.QueueCacheFor = 0
			const sendRoute = "POST /apps/{app}/conversations/{conv}/messages"
			before := a.scrape(t)
			if _, ok := metric(before, "go_goroutines"); !ok {
				t.Error("no Go runtime metrics")
			}
			if _, ok := metric(before, "herald_webhook_deliveries_total"); ok {
				t.Error("deliveries counted before any")
			}

			up := newReceiver(t)
			upHook := localID(a.verifiedWebhook(t, hookBody(up.URL, "message.sent"))["id"])
			conv := a.newConversation(t, "alice", "bob")
			for i := range 3 {
				r := a.do("POST", "/conversations/"+conv+"/messages", text(user("alice"), fmt.Sprint("m", i)),
					"X-Request-Id", fmt.Sprintf("send-%d", i)).must(t, 201)
				if got := r.Header.Get("X-Request-Id"); got != fmt.Sprintf("send-%d", i) {
					t.Fatalf("request id echoed as %q", got)
				}
			}
			up.waitAccepted(t, 3)
			a.waitDeliveries(t, upHook, "delivered", 3)
			m := a.scrape(t)
			wantMetric(t, m, 3, "herald_webhook_deliveries_total", "format", "layer-1.0", "outcome", "delivered")
			wantMetric(t, m, 3, "herald_webhook_attempt_duration_seconds", "format", "layer-1.0", "answer", "2xx")
			wantMetric(t, m, 3, "herald_http_requests_total", "route", sendRoute, "code", "201")
			wantMetric(t, m, 3, "herald_http_request_duration_seconds", "route", sendRoute)
			wantMetric(t, m, 1, "herald_http_requests_total", "route", "POST /apps/{app}/webhooks", "code", "201")
			wantMetric(t, m, 0, "herald_clientapi_sockets_open")
			wantMetric(t, m, 0, "herald_webhook_queue_scan_truncated")
			if _, ok := metric(m, "herald_webhook_queue_depth", "webhook", upHook); ok {
				t.Error("a queue depth for a webhook with nothing pending")
			}
			if n, _ := metric(m, "herald_store_commit_updates"); n < 4 {
				t.Errorf("%v commits counted, want one at least for each message and the webhook", n)
			}
			// An unknown route is counted under the catch-all pattern.
			a.do("GET", "//no/such/route", nil).must(t, 404)
			wantMetric(t, a.scrape(t), 1, "herald_http_requests_total", "route", "/", "code", "404")

			// A receiver that answers 503: its webhook's backlog grows.
			down := newReceiver(t)
			down.script(func(*hit) reply { return reply{Status: 503} })
			body := hookBody(down.URL, "message.sent")
			body["retry_schedule"] = []float64{60}
			downHook := localID(a.verifiedWebhook(t, body)["id"])
			a.do("POST", "/conversations/"+conv+"/messages", text(user("bob"), "d0"), "X-Request-Id", "down-0").must(t, 201)
			down.waitHits(t, 1)
			a.waitDeliveries(t, upHook, "delivered", 4)
			eventually(t, func() bool {
				v, _ := metric(a.scrape(t), "herald_webhook_deliveries_total", "format", "layer-1.0", "outcome", "retry")
				return v == 1
			}, "the failed attempt to be counted")
			m = a.scrape(t)
			wantMetric(t, m, 1, "herald_webhook_queue_depth", "webhook", downHook)
			wantMetric(t, m, 1, "herald_webhook_failing_streak", "webhook", downHook)
			wantMetric(t, m, 4, "herald_webhook_deliveries_total", "format", "layer-1.0", "outcome", "delivered")
			wantMetric(t, m, 1, "herald_webhook_attempt_duration_seconds", "format", "layer-1.0", "answer", "5xx")
			if _, ok := metric(m, "herald_webhook_failing_streak", "webhook", upHook); ok {
				t.Error("a failing streak for a webhook whose attempts succeed")
			}
			age, _ := metric(m, "herald_webhook_oldest_pending_age_seconds", "webhook", downHook)
			time.Sleep(300 * time.Millisecond)
			for i := range 2 {
				a.do("POST", "/conversations/"+conv+"/messages", text(user("bob"), fmt.Sprint("d", i+1))).must(t, 201)
			}
			a.waitDeliveries(t, downHook, "pending", 3)
			m = a.scrape(t)
			wantMetric(t, m, 3, "herald_webhook_queue_depth", "webhook", downHook)
			if later, _ := metric(m, "herald_webhook_oldest_pending_age_seconds", "webhook", downHook); later < age+0.3 {
				t.Errorf("oldest pending age %v s, then %v s 0.3 s later: it does not grow", age, later)
			}

			// The example alerts use only metrics that are there.
			rules, err := os.ReadFile("../deploy/prometheus/herald-alerts.yml")
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range regexp.MustCompile(`herald_[a-z_]+`).FindAllString(string(rules), -1) {
				if m[name] == nil {
					t.Errorf("the example alerts use %s, which is not served", name)
				}
			}

			// The request's own log lines and the attempts of its event's
			// deliveries, to both receivers, name it.
			if got := logged.find(t, "request", map[string]any{"request_id": "send-1", "route": sendRoute, "status": 201.0}); len(got) != 1 {
				t.Errorf("access log lines of send-1: %v", got)
			}
			if got := logged.find(t, "delivery attempt", map[string]any{"request_id": "send-1", "webhook": upHook,
				"outcome": "delivered", "status": 204.0, "level": "DEBUG"}); len(got) != 1 {
				t.Errorf("delivery attempt lines of send-1: %v", got)
			}
			if got := logged.find(t, "delivery attempt", map[string]any{"request_id": "down-0", "webhook": downHook,
				"outcome": "retry", "status": 503.0, "level": "INFO"}); len(got) != 1 {
				t.Errorf("failed attempt lines of down-0: %v", got)
			}
			if got := logged.find(t, "delivery attempt", map[string]any{"request_id": "down-0", "webhook": upHook}); len(got) != 1 {
				t.Errorf("delivery attempt lines of down-0 to the receiver up: %v", got)
			}
			// A request without a sane id of its own gets one.
			for _, sent := range []string{"", "has space", strings.Repeat("x", 200), "quote\"d"} {
				id := a.do("GET", "//health", nil, "X-Request-Id", sent).Header.Get("X-Request-Id")
				if len(id) != 32 || id == sent {
					t.Errorf("request id %q for a request that sent %q", id, sent)
				}
			}
		})
	}
}

// A metrics token keeps /metrics from those without it.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	a := startAPI(t, engines[0].Open(t), func(srv *heraldhttp.Server) { srv.MetricsToken = "scrape-me" })
	a.doAs("", "GET", "//metrics", nil).wantError(t, 401, "authentication_required", "")
	a.doAs("", "GET", "//metrics", nil, "Authorization", "Bearer wrong").wantError(t, 401, "authentication_required", "")
	// An app token is not the metrics token.
	a.do("GET", "//metrics", nil).wantError(t, 401, "authentication_required", "")
	if _, ok := metric(a.scrape(t, "Authorization", "Bearer scrape-me"), "herald_http_requests_total", "route", "GET /metrics", "code", "401"); !ok {
		t.Error("refused scrapes not counted")
	}
}

// Push sends are counted by outcome.
func TestMetricsPushSends(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		s := newPushServers(t)
		s.sender(t, a, func(snd *push.Sender) { snd.Metrics = a.Server.Metrics })
		fine := &pushReceiver{t: t}
		fineTS := httptest.NewServer(fine)
		defer fineTS.Close()
		fine.secret = a.do("PUT", "/push_providers/webhook", map[string]any{"url": fineTS.URL}).must(t, 200).Map(t)["secret"].(string)
		for _, u := range []string{"ann", "ben"} {
			registerDevice(t, a, u, u+"-phone", "apns", u+"-token")
		}
		a.do("POST", "/notifications", map[string]any{"recipients": []any{"ann", "ben"}, "notification": map[string]any{"text": "hi"}}).must(t, 202)
		eventually(t, func() bool { return len(fine.pushes()) == 2 }, "the pushes")
		eventually(t, func() bool {
			v, _ := metric(a.scrape(t), "herald_push_sends_total", "outcome", "sent")
			return v == 2
		}, "two pushes counted as sent")
	})
}
