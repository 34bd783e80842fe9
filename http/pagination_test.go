package http_test

import (
	"strings"
	"testing"
)

// A /v1 page past the last lists nothing, however far past: page numbers
// whose offset overflows (probe 3.12: page 9223372036854775807 listed page
// 1's contacts) are past the last too.
func TestV1PageOverflow(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		rc := newReceiver(t)
		a.cbwSubscribe(t, 201, rc.URL, "contact_created")
		for i, tags := range [][]string{{"vip"}, {"vip"}, nil} {
			a.v1tContact(t, map[string]any{"identifier": "3370000000" + string(rune('0'+i)), "source": "whatsapp", "name": "C", "tags": tags})
		}
		eventually(t, func() bool {
			log, _ := a.cbwLog(t, "")
			return len(log) == 3
		}, "3 entries in the events log")

		empty := func(path, list, page string) {
			t.Helper()
			res := a.do("GET", "//v1/"+path, nil).must(t, 200)
			m := res.Map(t)
			if items := arr(t, m[list]); len(items) != 0 {
				t.Fatalf("%s lists %d %s, want none", path, len(items), list)
			}
			if !strings.Contains(string(res.Body), `"meta":{"page":`+page+`,"pages":1}`) {
				t.Fatalf("%s: %s", path, res.Body)
			}
		}
		for _, page := range []string{
			"2",
			"9223372036854775807", // (page-1)*50 wrapped to -100, read as 0
			"368934881474191034",  // (page-1)*50 wrapped to 34
		} {
			empty("contacts?page="+page, "contacts", page)
			empty("contacts?tags=vip&page="+page, "contacts", page)
		}
		for _, q := range []struct{ page, items string }{
			{"2", "25"},
			{"9223372036854775807", "25"},
			{"288230376151711745", "64"}, // (page-1)*64 wrapped to 0: page 1
		} {
			empty("webhooks/events?items="+q.items+"&page="+q.page, "webhook_events", q.page)
		}
	})
}
