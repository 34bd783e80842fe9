// Package http serves Herald's API: Layer's Platform API shape over the
// messaging service, plus signed URLs for rich-content upload and download.
package http

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/metrics"
	"github.com/heraldhq/herald/openapi"
	"github.com/heraldhq/herald/urls"
)

// MaxBodySize bounds a JSON request body.
const MaxBodySize = 1 << 20

// Server is Herald's HTTP API.
type Server struct {
	Service *messaging.Service
	// Engine manages webhooks and delivers to them.
	Engine *delivery.Engine
	// URLs builds the url fields of objects and the signed content URLs;
	// its Base is the public root URL of the API (http://127.0.0.1:8080,
	// https://herald.example.com).
	URLs   *urls.Builder
	Logger *slog.Logger
	// Metrics counts the server's work, and GET /metrics serves it unless
	// MetricsElsewhere (the operator serves MetricsHandler on a listener
	// of its own); nil counts nothing and serves no /metrics. A non-empty
	// MetricsToken must come as the bearer token of every scrape.
	Metrics          *metrics.Metrics
	MetricsElsewhere bool
	MetricsToken     string
	// BodyTimeout bounds the time a request's body may take to arrive
	// (uploads get more, by their size: MinTransferRate); zero leaves it
	// unbounded. The time a response may take to leave is the
	// http.Server's WriteTimeout; downloads get more in the same way.
	BodyTimeout time.Duration
	// RateLimit is the requests per second each token may send, with a
	// burst of as many, and TokenConcurrency the requests it may have in
	// progress at once; zero means no limit. They are read once, at the
	// first authenticated request.
	RateLimit        float64
	TokenConcurrency int

	mux             *http.ServeMux
	tokenLimitsOnce sync.Once
	tokenLimits     *tokenLimits
	// Writes refused for want of space since the last log line, and when
	// that line was (unix nanoseconds).
	storageFullRefused, storageFullLogged atomic.Int64
	// patterns are the routes' patterns, as registered.
	patterns []string
	// APIs are the route families served beside the server's own.
	APIs []API
	// building is the mux that routes are being registered on.
	building *routeMux
	// contentRefresh serves GET /content/{id} without a signature
	// (HandleContentRefresh).
	contentRefresh SessionHandler
	// cors holds the routes that browsers may call (AllowCORS).
	cors *corsRoutes
}

// routeMux is a ServeMux that keeps the patterns it is given, so that
// every route can be walked (the tests send malformed requests to each).
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

// New returns a server for the service, serving the given API families
// beside its own routes. The signing key is loaded from the store (and
// created on first start).
func New(ctx context.Context, svc *messaging.Service, baseURL string, apis ...API) (*Server, error) {
	key, err := svc.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	m.WatchStore(svc.Store)
	return &Server{Service: svc, URLs: &urls.Builder{Base: strings.TrimRight(baseURL, "/"), Key: key},
		Logger: slog.Default(), APIs: apis, Metrics: m}, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.mux == nil {
		s.mux = s.routes()
	}
	s.observe(w, r, s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.bound(w, r)
	s.corsHeaders(w, r)
	// Layer let clients that cannot send PATCH tunnel it through POST.
	if r.Method == http.MethodPost && strings.EqualFold(r.Header.Get("X-HTTP-Method-Override"), http.MethodPatch) {
		r.Method = http.MethodPatch
	}
	canonicalIDs(r)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.Logger.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
			s.writeError(w, r, fmt.Errorf("panic: %v", p))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// Handler returns s with its routes built, for use as an http.Handler.
func (s *Server) Handler() http.Handler {
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := &routeMux{ServeMux: http.NewServeMux()}
	s.building, s.cors = mux, nil
	defer func() { s.patterns, s.building = mux.patterns, nil }()
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request, app string) error) {
		mux.HandleFunc(pattern, s.withApp(h))
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /errors", s.errorCatalogue)
	mux.HandleFunc("GET /openapi.json", openapi.Handler)
	if s.Metrics != nil && !s.MetricsElsewhere {
		mux.HandleFunc("GET /metrics", s.MetricsHandler().ServeHTTP)
	}

	for _, api := range s.APIs {
		api.Routes(s)
	}
	mux.HandleFunc("PUT /uploads/{id}", s.withSignature(urls.Upload, s.upload))
	mux.HandleFunc("POST /uploads/{id}", s.withSignature(urls.Upload, s.uploadForm))
	mux.HandleFunc("OPTIONS /uploads/{id}", s.withSignature(urls.Upload, s.uploadPreflight))
	mux.HandleFunc("GET /content/{id}", s.getContent)
	mux.HandleFunc("POST /nonces", s.handle(checked(s.createNonce)))
	mux.HandleFunc("POST /sessions", s.handle(checked(s.createSession)))
	mux.HandleFunc("DELETE /sessions/{token}", s.handle(checked(s.deleteSession)))

	handle("POST /apps/{app}/keys", s.createIdentityKey)
	handle("GET /apps/{app}/keys", s.listIdentityKeys)
	handle("DELETE /apps/{app}/keys/{id}", s.deleteIdentityKey)

	handle("GET /apps/{app}/events", s.listEvents)

	handle("GET /apps/{app}/tokens", s.listTokens)
	handle("POST /apps/{app}/tokens", s.createToken)
	handle("DELETE /apps/{app}/tokens/{id}", s.revokeToken)

	handle("POST /apps/{app}/webhooks", s.createWebhook)
	handle("GET /apps/{app}/webhooks", s.listWebhooks)
	handle("GET /apps/{app}/webhooks/{id}", s.getWebhook)
	handle("DELETE /apps/{app}/webhooks/{id}", s.deleteWebhook)
	handle("PATCH /apps/{app}/webhooks/{id}", s.patchWebhook)
	handle("POST /apps/{app}/webhooks/{id}/test", s.testWebhook)
	handle("POST /apps/{app}/webhooks/{id}/activate", s.activateWebhook)
	handle("POST /apps/{app}/webhooks/{id}/deactivate", s.deactivateWebhook)
	handle("POST /apps/{app}/webhooks/{id}/replay", s.replayWebhook)
	handle("POST /apps/{app}/webhooks/{id}/rotate_secret", s.rotateWebhookSecret)
	handle("GET /apps/{app}/webhooks/{id}/deliveries", s.listDeliveries)
	handle("GET /apps/{app}/webhooks/{id}/deliveries/{delivery}", s.getDelivery)
	handle("POST /apps/{app}/webhooks/{id}/deliveries/{delivery}/resend", s.resendDelivery)

	handle("GET /apps/{app}/push_providers", s.listPushProviders)
	handle("PUT /apps/{app}/push_providers/{kind}", s.putPushProvider)
	handle("DELETE /apps/{app}/push_providers/{kind}", s.deletePushProvider)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all also catches a known path with an unsupported method;
		// tell the two apart so the client learns which it was.
		var allowed []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeError(w, r, herald.Errorf(herald.EMethodNotAllowed, "%s is not allowed on %s; use %s.",
				r.Method, r.URL.Path, strings.Join(allowed, ", ")))
			return
		}
		s.writeError(w, r, herald.Errorf(herald.EInvalidEndpoint, "The endpoint '%s %s' does not exist.", r.Method, r.URL.Path))
	})
	return mux.ServeMux
}

// handle adapts a handler that returns an error.
func (s *Server) handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// withApp authenticates the request and checks that its token belongs to
// the app in the path. Another app's path answers 404, exactly as a missing
// app would, so that a token learns nothing about other apps.
func (s *Server) withApp(h func(w http.ResponseWriter, r *http.Request, app string) error) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		app, release, err := s.authenticate(w, r)
		if err != nil {
			return err
		}
		defer release()
		if r.PathValue("app") != app {
			return herald.NotFound("app", r.PathValue("app"))
		}
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r, app)
	})
}

// withSignature checks the signed URL of a request for content: the
// signature is the authorization, for the purpose and the content of the
// path's {id}.
func (s *Server) withSignature(purpose string, h func(w http.ResponseWriter, r *http.Request, id string) error) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := s.URLs.Verify(r.URL.Query(), purpose, id); err != nil {
			return err
		}
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r, id)
	})
}

// MaxIDLength bounds every id in a path, in bytes: user ids are at most as
// long, and the ids Herald makes are UUIDs.
const MaxIDLength = messaging.MaxUserIDLength

// checkRequest refuses, once the request is authorized and before any
// handler reads them, path values and query parameters that the storage
// engines would not answer alike: SQLite finds nothing for an id holding a
// NUL or invalid UTF-8, PostgreSQL fails on it. An id that is not
// printable UTF-8 of at most MaxIDLength bytes is no object's, so it is not
// found, as it would not be on SQLite; except the user named to write an
// identity, who is refused as the identity's invalid user_id. A query
// parameter must be UTF-8 without NUL.
func checkRequest(r *http.Request) error {
	for name := range pathWildcards(r.Pattern) {
		v := r.PathValue(name)
		if validID(v) {
			continue
		}
		if name == "user" && strings.HasSuffix(r.Pattern, "/identity") && r.Method != http.MethodGet && r.Method != http.MethodDelete {
			return messaging.CheckUserID("user_id", v)
		}
		return &herald.Error{ID: herald.ENotFound,
			Message: fmt.Sprintf("No %s has that id: ids are printable UTF-8 of at most %d bytes.", wildcardKind(r.Pattern, name), MaxIDLength),
			Data:    map[string]any{"type": wildcardKind(r.Pattern, name)}}
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for name, values := range r.URL.Query() {
		if !queryText(name) {
			return herald.PropertyError(herald.EInvalidProperty, strings.ToValidUTF8(name, "\uFFFD"),
				"A query parameter's name must be UTF-8 without NUL characters, not %q.", name)
		}
		for _, v := range values {
			if !queryText(v) {
				return herald.PropertyError(herald.EInvalidProperty, name, "The query parameter %s must be UTF-8 without NUL characters.", name)
			}
		}
	}
	return nil
}

func validID(id string) bool {
	return len(id) <= MaxIDLength && utf8.ValidString(id) &&
		!strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func queryText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// pathWildcards yields the names of a route pattern's wildcards ({conv}).
func pathWildcards(pattern string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for rest := pattern; ; {
			_, after, ok := strings.Cut(rest, "{")
			if !ok {
				return
			}
			name, tail, _ := strings.Cut(after, "}")
			if !yield(strings.TrimSuffix(name, "...")) {
				return
			}
			rest = tail
		}
	}
}

// wildcardKind names the kind of object a wildcard of a pattern stands for,
// from the path segment before it: /conversations/{conv} → conversation.
func wildcardKind(pattern, name string) string {
	before, _, _ := strings.Cut(pattern, "/{"+name+"}")
	kind := before[strings.LastIndex(before, "/")+1:]
	switch kind {
	case "uploads", "content":
		return "content"
	case "deliveries":
		return "delivery"
	case "":
		return name
	}
	return strings.TrimSuffix(kind, "s")
}

// authenticate returns the app of the request's bearer token, once the
// token's limits let the request in; the caller calls release when the
// request is done.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (app string, release func(), err error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
		return "", nil, herald.Errorf(herald.EAuthRequired, "Send an app token as 'Authorization: Bearer <token>'.")
	}
	token = strings.TrimSpace(token)
	app, err = s.Service.Authenticate(r.Context(), token)
	if err != nil {
		if e, ok := herald.AsError(err); ok && e.ID == herald.EAuthRequired {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
		}
		return "", nil, err
	}
	release, err = s.limit(w, token)
	if err != nil {
		return "", nil, err
	}
	return app, release, nil
}

// limit counts a request in against the token's limits, or answers how
// long the client should wait, in whole seconds (Retry-After cannot say
// less).
func (s *Server) limit(w http.ResponseWriter, token string) (release func(), err error) {
	s.tokenLimitsOnce.Do(func() {
		if s.RateLimit > 0 || s.TokenConcurrency > 0 {
			s.tokenLimits = newTokenLimits(s.RateLimit, s.TokenConcurrency)
		}
	})
	if s.tokenLimits == nil {
		return func() {}, nil
	}
	release, refused := s.tokenLimits.acquire(token, time.Now())
	if refused == nil {
		return release, nil
	}
	seconds := max(1, int((refused.wait+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	if refused.overRate {
		return nil, herald.Errorf(herald.ERateLimitExceeded,
			"This token sent more than %g requests per second; retry in %d s.", s.RateLimit, seconds)
	}
	return nil, herald.Errorf(herald.ERateLimitExceeded,
		"This token has %d requests in progress, as many as it may have at once; retry in %d s.", s.TokenConcurrency, seconds)
}
