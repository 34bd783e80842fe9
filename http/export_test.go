package http

import "net/http"

// Patterns returns the patterns of the server's routes, in the order they
// were registered, once its routes are built (Handler).
func (s *Server) Patterns() []string { return s.patterns }

// CanonicalIDs rewrites the ids in r's path as the server does before
// routing.
func CanonicalIDs(r *http.Request) { canonicalIDs(r) }
