package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/callbellapi"
	"github.com/heraldhq/herald/clientapi"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/egress"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
)

// engines lists the storage engines the API tests run against. Every test
// that starts an API through startAPI runs once per engine.
var engines = enginetest.Engines

// api is a Herald API served over real HTTP on 127.0.0.1, with one app.
type api struct {
	t       *testing.T
	URL     string // root URL of the server
	AppID   string
	Token   string
	Server  *heraldhttp.Server
	Service *messaging.Service
	Engine  *delivery.Engine
	Store   herald.Store
	// Sockets is the Client API's WebSocket.
	Sockets *clientapi.API
	// The API's clock, which the test moves; copies of the api (in) share
	// it.
	*testClock
	// stop shuts the API down and closes its store, as the test's end
	// does, for a test that starts another on the same data.
	stop func()
}

type apiOption func(*heraldhttp.Server)

// loopback exempts the tests' receivers, which listen on 127.0.0.1, from
// the egress guard that keeps webhooks off internal addresses: every API
// the tests start has it, unless started with withoutExemption.
var loopback = egress.Loopback

// withoutExemption starts the API as a server starts by default: no
// internal address may be contacted, loopback included.
func withoutExemption(srv *heraldhttp.Server) { srv.Engine.AllowTargets = nil }

// forEachEngine runs f as a subtest per storage engine.
func forEachEngine(t *testing.T, f func(t *testing.T, a *api)) {
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			f(t, startAPI(t, e.Open(t)))
		})
	}
}

func startAPI(t *testing.T, store herald.Store, opts ...apiOption) *api {
	t.Helper()
	a := &api{t: t, Store: store, testClock: &testClock{}}
	now := a.now
	a.Service = &messaging.Service{Store: store, Blobs: blob.Dir{Root: t.TempDir()}, Now: now}
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil)
	a.Sockets = &clientapi.API{}
	srv, err := heraldhttp.New(ctx, a.Service, "http://"+ts.Listener.Addr().String(), &layerapi.API{}, &callbellapi.API{}, a.Sockets)
	if err != nil {
		t.Fatal(err)
	}
	srv.URLs.Now = now
	a.Engine = &delivery.Engine{Store: store, Formats: map[string]delivery.Format{
		herald.FormatLayer:    layer.Format{URLs: srv.URLs},
		herald.FormatCallbell: callbell.Format{URLs: srv.URLs},
	}, PollInterval: 100 * time.Millisecond, AllowTargets: loopback, Metrics: srv.Metrics,
		Jobs: []delivery.Job{{Name: "blob_sweep", Every: time.Second, Run: a.Service.SweepBlobs}},
		// Retries and timeouts of tens of milliseconds, so that tests see
		// them in well under a second.
		MinRetryDelay: time.Millisecond, MinTimeout: time.Millisecond}
	srv.Engine = a.Engine
	a.Service.Notify = a.Engine.Notify
	for _, o := range opts {
		o(srv)
	}
	if err := a.Engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = checkedAgainstSpec(t, srv)
	ts.Start()
	var stopOnce sync.Once
	a.stop = func() {
		stopOnce.Do(func() {
			ts.Close()
			a.Sockets.Close()
			a.Engine.Stop(context.Background())
			// As serve does on shutdown; no write of them comes after Close.
			if err := a.Service.FlushTokenUses(context.Background()); err != nil {
				t.Errorf("writing the last uses of tokens: %v", err)
			}
			checkRecentEvents(t, store, srv)
			store.Close()
		})
	}
	t.Cleanup(a.stop)
	app, token, err := a.Service.CreateApp(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	a.URL, a.AppID, a.Token, a.Server = ts.URL, app.ID, token, srv
	return a
}

// checkRecentEvents checks that the events a store hands its node's fan-out
// from memory, as the API made them, render in every format and version as
// they do read back from the log, as another node or a restarted one renders
// them.
func checkRecentEvents(t *testing.T, store herald.Store, srv *heraldhttp.Server) {
	t.Helper()
	r, ok := store.(herald.RecentEvents)
	if !ok {
		return
	}
	events, ok := r.RecentEventsSince(0, 1<<20)
	if !ok {
		return
	}
	// Signed URLs depend on the time of rendering: the same for both.
	u := *srv.URLs
	at := time.Now()
	u.Now = func() time.Time { return at }
	formats := map[string]delivery.Format{herald.FormatLayer: layer.Format{URLs: &u}, herald.FormatCallbell: callbell.Format{URLs: &u}}
	for _, e := range events {
		made, err := e.DecodeData()
		if err != nil {
			t.Fatal(err)
		}
		logged := &herald.Event{Seq: e.Seq, ID: e.ID, AppID: e.AppID, Type: e.Type, CreatedAt: e.CreatedAt,
			Actor: e.Actor, Data: e.Data}
		decoded, err := logged.DecodeData()
		if err != nil {
			t.Fatalf("event %d %s: %v", e.Seq, e.Type, err)
		}
		for name, f := range formats {
			for _, v := range f.Versions() {
				w := &herald.Webhook{ID: "w", AppID: e.AppID, Format: name, Version: v}
				want, wantOK, wantErr := f.Render(logged, decoded, w)
				got, gotOK, gotErr := f.Render(e, made, w)
				if !bytes.Equal(got, want) || gotOK != wantOK || (gotErr == nil) != (wantErr == nil) {
					t.Errorf("event %d %s in %s %s: from memory %s (%v, %v); from the log %s (%v, %v)",
						e.Seq, e.Type, name, v, got, gotOK, gotErr, want, wantOK, wantErr)
				}
			}
		}
	}
}

// newApp creates another app on the same server and returns its id and token.
func (a *api) newApp(name string) (string, string) {
	app, token, err := a.Service.CreateApp(context.Background(), name)
	if err != nil {
		a.t.Fatal(err)
	}
	return app.ID, token
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *response) Map(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// do sends a request. path is relative to the app ("/conversations") when
// it does not start with "http" or "//"; "//health" is relative to the
// server root. body is JSON-encoded unless it is a string or []byte.
// headers alternate names and values.
func (a *api) do(method, path string, body any, headers ...string) *response {
	a.t.Helper()
	return a.doAs(a.Token, method, path, body, headers...)
}

func (a *api) doAs(token, method, path string, body any, headers ...string) *response {
	a.t.Helper()
	url := path
	switch {
	case strings.HasPrefix(path, "http"):
	case strings.HasPrefix(path, "//"):
		url = a.URL + path[1:]
	default:
		url = a.URL + "/apps/" + a.AppID + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must checks the status and returns the response.
func (r *response) must(t *testing.T, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// wantError checks an error response: status, error id and, when property
// is not empty, data.property.
func (r *response) wantError(t *testing.T, status int, id, property string) map[string]any {
	t.Helper()
	r.must(t, status)
	m := r.Map(t)
	if m["id"] != id {
		t.Fatalf("error id %v, want %s; body: %s", m["id"], id, r.Body)
	}
	if _, ok := m["code"].(float64); !ok {
		t.Fatalf("error without numeric code: %s", r.Body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("error without message: %s", r.Body)
	}
	if property != "" {
		data, _ := m["data"].(map[string]any)
		if data["property"] != property {
			t.Fatalf("error property %v, want %s; body: %s", data["property"], property, r.Body)
		}
	}
	return m
}

// localID strips a Layer id's prefix: "layer:///messages/x" → "x".
func localID(id any) string {
	s, _ := id.(string)
	return s[strings.LastIndex(s, "/")+1:]
}

// events returns the app's whole event log.
func (a *api) events() []map[string]any {
	a.t.Helper()
	var out []map[string]any
	after := ""
	for range 1000 {
		path := "/events?limit=1000"
		if after != "" {
			path += "&after=" + after
		}
		var page []map[string]any
		a.do("GET", path, nil).must(a.t, 200).JSON(a.t, &page)
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		after = page[len(page)-1]["id"].(string)
	}
	a.t.Fatal("event log does not end")
	return nil
}

// testClock is an API's clock: the real time, or a time the test froze
// (freeze), plus an offset the test moves forward (advance, setClock) to
// expire URLs; frozen, what the API renders from the time (the expiration
// of signed URLs) is the same in every response. The server's background
// work reads it while the test moves it.
type testClock struct {
	mu     sync.Mutex
	at     time.Time
	offset time.Duration
}

// now is the API's clock.
func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() {
		return c.at.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// advance moves the API's clock forward by d.
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// setClock puts the API's clock d past the real time (or the frozen one).
func (c *testClock) setClock(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// freeze stops the real time the API's clock follows at at.
func (c *testClock) freeze(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = at
}
