package http

import (
	"net/http"
	"strings"
)

// CORS lets browser scripts of any origin call a family of routes with
// credentials, as Layer's Client API let its Web SDK do (its XHRs set
// withCredentials; the reference's §1.6): the Origin is echoed, since *
// is not allowed with credentials, and preflights are answered for the
// routes' paths. It holds for the paths given to AllowCORS only; signed
// content URLs answer for their content's Upload-Origin alone.
type CORS struct {
	// Methods and Headers are what a preflight allows; Expose lists the
	// response headers scripts may read.
	Methods, Headers, Expose []string
}

// corsRoutes matches the paths of routes that allow CORS.
type corsRoutes struct {
	mux      *http.ServeMux
	policies map[string]CORS
}

// AllowCORS lets browsers call the route of pattern ("GET
// /conversations/{conv}") under policy, for API.Routes: its responses
// carry the CORS headers, errors included, and an OPTIONS preflight of its
// path is answered 204. A path takes the policy first given for it.
func (s *Server) AllowCORS(pattern string, policy CORS) {
	if s.cors == nil {
		s.cors = &corsRoutes{mux: http.NewServeMux(), policies: map[string]CORS{}}
	}
	path := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		path = strings.TrimSpace(p)
	}
	if _, ok := s.cors.policies[path]; ok {
		return
	}
	s.cors.policies[path] = policy
	s.cors.mux.HandleFunc(path, func(http.ResponseWriter, *http.Request) {})
	s.building.HandleFunc("OPTIONS "+path, s.handle(checked(policy.preflight)))
}

// corsHeaders sets the CORS headers of a request to a CORS route.
func (s *Server) corsHeaders(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if s.cors == nil || origin == "" || r.URL.Query().Has("signature") {
		return
	}
	probe := r.Clone(r.Context())
	probe.Method = http.MethodGet
	_, pattern := s.cors.mux.Handler(probe)
	policy, ok := s.cors.policies[pattern]
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if len(policy.Expose) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(policy.Expose, ", "))
	}
	h.Add("Vary", "Origin")
}

func (p CORS) preflight(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	if r.Header.Get("Origin") != "" {
		h.Set("Access-Control-Allow-Methods", strings.Join(p.Methods, ", "))
		h.Set("Access-Control-Allow-Headers", strings.Join(p.Headers, ", "))
		h.Set("Access-Control-Max-Age", "3600")
	}
	h.Set("Allow", "OPTIONS, "+strings.Join(p.Methods, ", "))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
