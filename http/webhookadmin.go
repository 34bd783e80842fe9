package http

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
)

// patchableWebhookFields are the properties PATCH takes: a misspelt one
// would otherwise change nothing, silently.
var patchableWebhookFields = []string{"config", "events", "retry_schedule", "secret", "target_url", "timeout_seconds", "version"}

// patchWebhook changes a webhook's settings, a JSON object of the
// properties to change (a merge, as RFC 7396 reads one: absent is kept,
// null removes the config).
func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	var fields map[string]json.RawMessage
	if err := decode(w, r, &fields); err != nil {
		return err
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(patchableWebhookFields, name) {
			return herald.PropertyError(herald.EInvalidProperty, name, "%s is not a webhook setting that can be changed; the settings are %s.",
				name, strings.Join(patchableWebhookFields, ", "))
		}
		if string(fields[name]) == "null" && name != "config" {
			return herald.PropertyError(herald.EInvalidProperty, name, "%s may be changed, not removed.", name)
		}
	}
	var in delivery.WebhookPatch
	b, _ := json.Marshal(fields)
	if err := decodeBytes(b, &in); err != nil {
		return err
	}
	if raw, ok := fields["config"]; ok {
		// Kept as sent, null included: null removes the config.
		in.Config = raw
	}
	wh, err := s.Engine.UpdateWebhook(r.Context(), app, webhookID(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderWebhook(wh))
	return nil
}

// maxTestResponseBody is how much of the receiver's answer to a test event
// is shown: an excerpt, enough for an error page's message.
const maxTestResponseBody = 2 << 10

// WebhookTestJSON is the outcome of a webhook's test event as the API
// renders it; the command line renders a test it runs on the data the
// same way.
type WebhookTestJSON struct {
	ID              string          `json:"id"`
	EventType       string          `json:"event_type"`
	Delivered       bool            `json:"delivered"`
	StartedAt       string          `json:"started_at"`
	DurationMS      float64         `json:"duration_ms"`
	StatusCode      int             `json:"status_code"`
	ResponseHeaders http.Header     `json:"response_headers"`
	ResponseBody    string          `json:"response_body"`
	Error           string          `json:"error"`
	RequestHeaders  http.Header     `json:"request_headers"`
	Payload         json.RawMessage `json:"payload"`
}

// testWebhook sends a signed test event to the webhook's receiver now and
// answers with the outcome; a receiver that fails still makes a 200: the
// test ran.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	res, err := s.Engine.TestWebhook(r.Context(), app, webhookID(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RenderWebhookTest(res))
	return nil
}

// RenderWebhookTest renders a test event's outcome, with an excerpt of the
// receiver's answer.
func RenderWebhookTest(res *delivery.TestResult) WebhookTestJSON {
	a := res.Attempt
	body := a.ResponseBody
	if len(body) > maxTestResponseBody {
		body = body[:maxTestResponseBody]
	}
	headers := a.ResponseHeaders
	if headers == nil {
		headers = http.Header{}
	}
	return WebhookTestJSON{ID: res.ID, EventType: res.EventType, Delivered: res.Delivered,
		StartedAt: herald.FormatTime(a.StartedAt), DurationMS: float64(a.Duration.Microseconds()) / 1000,
		StatusCode: a.StatusCode, ResponseHeaders: headers, ResponseBody: strings.ToValidUTF8(string(body), "\uFFFD"),
		Error: a.Error, RequestHeaders: res.RequestHeaders, Payload: res.Body}
}

// deliveryFilter reads the delivery log's filters: status, event_type,
// conversation (bare or as its Layer id) and the window since/until (RFC
// 3339) of the deliveries' creation.
func deliveryFilter(r *http.Request) (herald.DeliveryFilter, error) {
	q := r.URL.Query()
	conv := q.Get("conversation")
	f := herald.DeliveryFilter{Status: q.Get("status"), EventType: q.Get("event_type"),
		Conversation: conv[strings.LastIndex(conv, "/")+1:]}
	for _, bound := range []struct {
		name string
		dst  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(bound.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, herald.PropertyError(herald.EInvalidProperty, bound.name, "%s must be an RFC 3339 time, not %q.", bound.name, v)
		}
		*bound.dst = &t
	}
	return f, nil
}
