package http

import "net/http"

// HandleOpen registers a route that needs no app token, for API.Routes: a
// route that authenticates its requests itself, such as the Client API's
// WebSocket, whose session token comes in the query. The path and query are
// checked (see checkRequest) before h runs; an error h returns is answered
// in Layer's shape.
func (s *Server) HandleOpen(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.building.HandleFunc(pattern, s.handle(checked(h)))
}
