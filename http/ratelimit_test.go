package http_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
)

func withRateLimit(perSecond float64) apiOption {
	return func(s *heraldhttp.Server) { s.RateLimit = perSecond }
}

// Over its rate limit, a token gets 429 rate_limit_exceeded (Layer's code 7)
// with Retry-After, on the Layer paths and on /v1 alike: one bucket per
// token, whichever API it calls. Another token of the same app has its own.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	// Half a request a second, with a burst of one: the second request
	// within two seconds is over the limit, however slow the machine.
	limitsForEachEngine(t, []apiOption{withRateLimit(0.5)}, func(t *testing.T, a *api) {
		a.do("GET", "/conversations", nil).must(t, 200)
		for _, res := range []*response{
			a.do("GET", "/conversations", nil),
			a.doAs(a.Token, "GET", a.URL+"/v1/contacts", nil),
		} {
			e := res.wantError(t, 429, "rate_limit_exceeded", "")
			if e["code"] != 7.0 || e["url"] != a.URL+"/errors#rate_limit_exceeded" {
				t.Fatalf("429 body %s", res.Body)
			}
			retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || retry < 1 || retry > 2 {
				t.Fatalf("Retry-After %q, want 1 or 2 whole seconds", res.Header.Get("Retry-After"))
			}
		}

		// A second token of the app: a bucket of its own.
		_, token, err := a.Service.CreateToken(context.Background(), a.AppID, "second")
		if err != nil {
			t.Fatal(err)
		}
		a.doAs(token, "GET", "/conversations", nil).must(t, 200)
		a.doAs(token, "GET", "/conversations", nil).wantError(t, 429, "rate_limit_exceeded", "")

		// Once the Retry-After has passed, the token is served again (its
		// event log here); a write it sends too soon is refused, not
		// written, and its body is not awaited.
		time.Sleep(2 * time.Second)
		before := len(a.events())
		body := `{"participants": ["a", "b"]}`
		client := startRequest(t, "POST", a.URL+"/apps/"+a.AppID+"/conversations", "Authorization", "Bearer "+a.Token,
			"Content-Length", strconv.Itoa(len(body)))
		res, answer := client.response(2 * time.Second)
		if res.StatusCode != 429 || !strings.Contains(string(answer), `"id":"rate_limit_exceeded"`) || !res.Close {
			t.Fatalf("a write over the limit: %d (close %v) %s; want 429 rate_limit_exceeded and the connection closed",
				res.StatusCode, res.Close, answer)
		}
		time.Sleep(2 * time.Second)
		if n := len(a.events()); n != before {
			t.Fatalf("%d events after a refused write, want %d", n, before)
		}
		a.doAs(a.Token, "GET", a.URL+"/v1/contacts", nil).wantError(t, 429, "rate_limit_exceeded", "")
	})
}

func withTokenConcurrency(n int) apiOption {
	return func(s *heraldhttp.Server) { s.TokenConcurrency = n }
}

// A token may have only so many requests in progress: one that holds its
// requests open (slow bodies) cannot take every connection of the server.
// Over the bound it gets 429 rate_limit_exceeded; another token of the app
// is not affected, and once a request ends the token is served again.
func TestTokenConcurrency(t *testing.T) {
	t.Parallel()
	limitsForEachEngine(t, []apiOption{withTokenConcurrency(2)}, func(t *testing.T, a *api) {
		start := func() *slowClient {
			c := startRequest(t, "POST", a.URL+"/v1/contacts", "Authorization", "Bearer "+a.Token, "Content-Length", "100")
			c.send([]byte(`{"name": `))
			return c
		}
		slow := []*slowClient{start(), start()}
		// The two are in their handlers once a third is refused. One of
		// them may itself have been refused, if it came while the
		// handler of an earlier request of the token was still
		// releasing its place: it has an answer, and is sent again.
		var res *response
		eventually(t, func() bool {
			res = a.do("GET", "/conversations", nil)
			if res.Status == 429 {
				return true
			}
			for i, c := range slow {
				c.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, err := c.rd.Peek(1); err == nil {
					c.conn.Close()
					slow[i] = start()
				}
				c.conn.SetReadDeadline(time.Time{})
			}
			return false
		}, "the third request to be refused")
		e := res.wantError(t, 429, "rate_limit_exceeded", "")
		if !strings.Contains(e["message"].(string), "2 requests in progress") || res.Header.Get("Retry-After") != "1" {
			t.Fatalf("429 %s, Retry-After %q", res.Body, res.Header.Get("Retry-After"))
		}

		_, token, err := a.Service.CreateToken(context.Background(), a.AppID, "second")
		if err != nil {
			t.Fatal(err)
		}
		a.doAs(token, "GET", "/conversations", nil).must(t, 200)

		slow[0].conn.Close()
		eventually(t, func() bool {
			return a.do("GET", "/conversations", nil).Status == 200
		}, "the token to be served once a request ended")
	})
}

// With the limit off (0), a token may send as fast as it likes.
func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	limitsForEachEngine(t, []apiOption{withRateLimit(0), withTokenConcurrency(0)}, func(t *testing.T, a *api) {
		for range 200 {
			a.do("GET", "/conversations", nil).must(t, 200)
		}
	})
}
