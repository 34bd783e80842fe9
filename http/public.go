package http

import (
	"net/http"

	"github.com/heraldhq/herald/urls"
)

// HandlePublic registers a route that takes no credentials, for
// API.Routes (a connectivity probe); its path and query are checked as an
// app route's are before h runs.
func (s *Server) HandlePublic(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.building.HandleFunc(pattern, s.handle(checked(h)))
}

// HandleContentRefresh makes h, with a session, serve GET /content/{id}
// when the request is not signed: the path of a signed download URL is
// also where Layer's Client API refreshed content ([P1.1]
// client/rest/rich-content.md: GET /content/:content_uuid answers a fresh
// download_url), so one route tells the two apart by the signature.
func (s *Server) HandleContentRefresh(h SessionHandler) { s.contentRefresh = h }

// getContent is GET /content/{id}: a signed download, or else a refresh.
func (s *Server) getContent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.contentRefresh == nil || q.Has("signature") || q.Has("expires") {
		s.withSignature(urls.Download, s.download)(w, r)
		return
	}
	s.withSession(s.contentRefresh)(w, r)
}
