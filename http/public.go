package http

import "net/http"

// HandlePublic registers a route that takes no credentials, for
// API.Routes (a connectivity probe); its path and query are checked as an
// app route's are before h runs.
func (s *Server) HandlePublic(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.building.HandleFunc(pattern, s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r)
	}))
}
