package http_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/openapi"
)

// checkDelivery checks a delivery a test's receiver got against the
// document's webhooks: the entry of its format, version and event, its
// required headers, and its body's schema. Health checks and bodiless
// probes are not deliveries.
func checkDelivery(t *testing.T, h http.Header, body []byte) {
	t.Helper()
	if h.Get("X-Herald-Health-Check") != "" || len(body) == 0 {
		return
	}
	if err := deliveryMatchesSpec(h, body); err != nil {
		t.Errorf("OpenAPI webhooks: %v; body %.300s", err, body)
	}
}

func deliveryMatchesSpec(h http.Header, body []byte) error {
	doc, err := spec()
	if err != nil {
		return err
	}
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %v", ct, err)
	}
	var name string
	switch {
	case mt == "application/vnd.layer.webhooks+json":
		name = openapi.WebhookName("layer", params["version"], h.Get("Layer-Webhook-Event-Type"))
	case mt == "application/json" && h.Get("User-Agent") == callbell.UserAgent:
		var env struct{ Event string }
		if err := json.Unmarshal(body, &env); err != nil {
			return fmt.Errorf("a Callbell delivery that is not JSON: %v", err)
		}
		name = openapi.WebhookName("callbell", callbell.Version, env.Event)
	default:
		return fmt.Errorf("a delivery of no known format (Content-Type %q, User-Agent %q)", ct, h.Get("User-Agent"))
	}
	item := doc.Webhooks[name]
	if item == nil || item.Post == nil {
		return fmt.Errorf("no webhooks entry %q in the document", name)
	}
	for _, p := range item.Post.Parameters {
		if p.Value.In != "header" {
			continue
		}
		v := h.Get(p.Value.Name)
		if v == "" && p.Value.Required {
			return fmt.Errorf("%s: the header %s is missing", name, p.Value.Name)
		}
		if err := p.Value.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); v != "" && err != nil {
			return fmt.Errorf("%s: header %s: %v", name, p.Value.Name, err)
		}
	}
	media := item.Post.RequestBody.Value.Content.Get(ct)
	if media == nil {
		return fmt.Errorf("%s: no body of type %q", name, ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: the body is not JSON: %v", name, err)
	}
	if err := media.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

// The document has a webhooks entry for every event of every format and
// version, and Layer's 3.0 golden payloads (layer/testdata/v3) match theirs.
func TestOpenAPIWebhooks(t *testing.T) {
	t.Parallel()
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, v := range layer.Versions {
		for _, e := range layer.EventTypesOf(v) {
			want[openapi.WebhookName("layer", v, e)] = true
		}
	}
	for _, e := range callbell.EventTypes {
		want[openapi.WebhookName("callbell", callbell.Version, e)] = true
	}
	for _, v := range layer.Versions {
		want[openapi.WebhookName("layer", v, delivery.TestEventLayer)] = true
	}
	want[openapi.WebhookName("callbell", callbell.Version, delivery.TestEventCallbell)] = true
	for name := range want {
		if doc.Webhooks[name] == nil {
			t.Errorf("no webhooks entry %q", name)
		}
	}
	for name := range doc.Webhooks {
		if !want[name] {
			t.Errorf("webhooks entry %q is no event Herald delivers", name)
		}
	}

	files, err := filepath.Glob("../layer/testdata/v3/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden payloads: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		event, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".json"), "-")
		h := http.Header{}
		layer.Headers(h, event, layer.Version3, "w", "r", "sig")
		h.Set("webhook-id", "d")
		h.Set("webhook-timestamp", "1")
		h.Set("webhook-signature", "v1,x")
		if err := deliveryMatchesSpec(h, b); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}
