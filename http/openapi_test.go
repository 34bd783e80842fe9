package http_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/openapi"
)

// spec is the OpenAPI document, loaded and validated once for every test.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document())
	if err != nil {
		return nil, fmt.Errorf("loading the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	return doc, nil
})

// The document is OpenAPI 3.1, valid, and describes exactly the routes the
// server registers: a route added without its description fails here.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s, want 3.1", doc.OpenAPI)
	}
	a := startAPI(t, engines[0].Open(t))
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	patterns := a.Server.Patterns()
	for _, p := range patterns {
		if p == "/" {
			continue // the catch-all: 404 invalid_endpoint, 405 method_not_allowed
		}
		method, path, _ := strings.Cut(p, " ")
		oaPath, _ := openapi.PathOf(path)
		if !described[method+" "+oaPath] {
			t.Errorf("route %q has no operation in the OpenAPI document (openapi/*.go)", p)
		}
		delete(described, method+" "+oaPath)
	}
	for op := range described {
		t.Errorf("the OpenAPI document describes %q, which is no route of the server", op)
	}

	res := a.do("GET", "//openapi.json", nil).must(t, 200)
	if !bytes.Equal(res.Body, openapi.Document()) || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %s %.200s", res.Header.Get("Content-Type"), res.Body)
	}
}

// maxChecked bounds the bodies the check reads: larger ones (uploads,
// downloads, exports) are passed through unchecked.
const maxChecked = 1 << 20

// checkedAgainstSpec wraps the API's handler so that every request a test
// sends and every response it gets are checked against the OpenAPI
// document: the route must have an operation, the status must be one it
// lists (errors fall to its default, the error object), and the body must
// match the schema of its content type. A request the server took (2xx)
// must match the operation's parameters and body; refused requests are the
// tests' malformed ones. A mismatch fails the test that made the request.
func checkedAgainstSpec(t *testing.T, srv *heraldhttp.Server) http.Handler {
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	routes := routeMatcher(srv.Patterns())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is kept as the handler reads it: reading it first
		// would change what the tests see (100 Continue, body timeouts).
		var reqBody capped
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, &reqBody), r.Body}
		}
		orig := r.Clone(r.Context())
		route := routes(r)
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.hijacked {
			return
		}
		if err := checkExchange(doc, route, orig, reqBody.Bytes(), !reqBody.overflow, rec); err != nil {
			t.Errorf("OpenAPI: %s %s → %d: %v", orig.Method, orig.URL.RequestURI(), rec.status(), err)
		}
	})
}

// matchedRoute is the route a request is served by, and its path values.
type matchedRoute struct {
	pattern string
	values  map[string]string
}

// routeMatcher finds the route of a request as the server's mux does,
// after the server's method override and ids' rewriting (Server.serve): the server's own
// request, which the mux names the route on, is not the one it was handed.
func routeMatcher(patterns []string) func(r *http.Request) matchedRoute {
	type found struct{ route *matchedRoute }
	mux := http.NewServeMux()
	for _, p := range patterns {
		_, path, _ := strings.Cut(p, " ")
		_, names := openapi.PathOf(path)
		mux.HandleFunc(p, func(_ http.ResponseWriter, r *http.Request) {
			m := &matchedRoute{pattern: p, values: map[string]string{}}
			for _, n := range names {
				m.values[n] = r.PathValue(n)
			}
			r.Context().Value(found{}).(*found).route = m
		})
	}
	return func(r *http.Request) matchedRoute {
		f := &found{}
		probe := r.Clone(context.WithValue(r.Context(), found{}, f))
		probe.Body = http.NoBody
		if probe.Method == http.MethodPost && strings.EqualFold(probe.Header.Get("X-HTTP-Method-Override"), http.MethodPatch) {
			probe.Method = http.MethodPatch
		}
		heraldhttp.CanonicalIDs(probe)
		mux.ServeHTTP(httptest.NewRecorder(), probe)
		if f.route == nil {
			return matchedRoute{}
		}
		return *f.route
	}
}

func checkExchange(doc *openapi3.T, route matchedRoute, orig *http.Request, reqBody []byte, checkBody bool, rec *recorder) error {
	status := rec.status()
	pattern := route.pattern
	if pattern == "" || pattern == "/" {
		// No route took the request: the catch-all's error.
		return checkError(doc, rec)
	}
	method, path, _ := strings.Cut(pattern, " ")
	oaPath, _ := openapi.PathOf(path)
	item := doc.Paths.Value(oaPath)
	if item == nil || item.GetOperation(method) == nil {
		return fmt.Errorf("route %s has no operation", pattern)
	}
	operation := item.GetOperation(method)
	if status < 400 && operation.Responses.Status(status) == nil {
		return fmt.Errorf("status %d is not one of %s's responses", status, operation.OperationID)
	}
	pathParams := route.values
	req := orig.Clone(orig.Context())
	req.Method = method // after X-HTTP-Method-Override
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams,
		Route:   &routers.Route{Spec: doc, Path: oaPath, PathItem: item, Method: method, Operation: operation},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if status < 300 {
		in.Options.ExcludeRequestBody = !checkBody || !isJSON(orig.Header.Get("Content-Type")) && len(bytes.TrimSpace(reqBody)) > 0
		if err := openapi3filter.ValidateRequest(orig.Context(), in); err != nil {
			return fmt.Errorf("the request taken is not the one %s describes: %w", operation.OperationID, err)
		}
	}
	if rec.overflow {
		return nil
	}
	resp := operation.Responses.Status(status)
	if resp == nil {
		resp = operation.Responses.Default()
	}
	if resp != nil && len(resp.Value.Content) == 0 && rec.body.Len() > 0 {
		return fmt.Errorf("%s answers %d without a body, but the response has one: %.200s", operation.OperationID, status, rec.body.Bytes())
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(orig.Context(), out); err != nil {
		return fmt.Errorf("the response is not the one %s describes: %w; body %.300s", operation.OperationID, err, rec.body.Bytes())
	}
	return nil
}

// checkError checks a response of no operation: an error object.
func checkError(doc *openapi3.T, rec *recorder) error {
	if rec.status() < 400 {
		return fmt.Errorf("%d outside every route", rec.status())
	}
	var v any
	if err := json.Unmarshal(rec.body.Bytes(), &v); err != nil || !isJSON(rec.Header().Get("Content-Type")) {
		return fmt.Errorf("not a JSON error: %.200s", rec.body.Bytes())
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// capped keeps the first maxChecked bytes written to it.
type capped struct {
	bytes.Buffer
	overflow bool
}

func (c *capped) Write(b []byte) (int, error) {
	if !c.overflow && c.Len()+len(b) <= maxChecked {
		c.Buffer.Write(b)
	} else {
		c.overflow = true
	}
	return len(b), nil
}

// recorder passes a response through and keeps its status and the first
// maxChecked bytes of its body.
type recorder struct {
	http.ResponseWriter
	code     int
	body     bytes.Buffer
	overflow bool
	hijacked bool
}

func (rec *recorder) status() int {
	if rec.code == 0 {
		return http.StatusOK
	}
	return rec.code
}

func (rec *recorder) WriteHeader(code int) {
	if rec.code == 0 && code >= 200 {
		rec.code = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if !rec.overflow {
		if rec.body.Len()+len(b) > maxChecked {
			rec.overflow = true
		} else {
			rec.body.Write(b)
		}
	}
	return rec.ResponseWriter.Write(b)
}

func (rec *recorder) Flush() {
	if f, ok := rec.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rec.hijacked = true
	return rec.ResponseWriter.(http.Hijacker).Hijack()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
