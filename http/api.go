package http

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald"
)

// An API is a family of routes served beside the server's own: Layer's
// server API (package layerapi), Callbell's /v1, and so on. Each family is
// a rendering of the same domain operations (package messaging) in the
// shapes its clients expect; the server gives them what they share:
// authentication, limits, request checks, JSON decoding and errors.
type API interface {
	// Routes registers the family's routes on s, through HandleApp.
	Routes(s *Server)
}

// AppHandler serves a request authenticated for the app in its path. An
// error it returns is answered in Layer's error shape.
type AppHandler func(w http.ResponseWriter, r *http.Request, app string) error

// HandleApp registers an app route, for API.Routes: the request is
// authenticated, counted against its token's limits, and its path and
// query checked (see checkRequest) before h runs.
func (s *Server) HandleApp(pattern string, h AppHandler) {
	s.building.HandleFunc(pattern, s.withApp(h))
}

// HandleToken registers a route whose app is its token's, for API.Routes:
// Callbell's /v1 has no app in its paths. The request is authenticated,
// counted against its token's limits, and its path and query checked
// before h runs.
func (s *Server) HandleToken(pattern string, h AppHandler) {
	s.building.HandleFunc(pattern, s.withToken(h))
}

// withToken authenticates a request whose app is its token's.
func (s *Server) withToken(h AppHandler) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		app, release, err := s.authenticate(w, r)
		if err != nil {
			return err
		}
		defer release()
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r, app)
	})
}

// Now is the time responses are rendered at: the clock of s.URLs, which
// tests move.
func (s *Server) Now() time.Time { return s.renderTime() }

// WriteJSON answers v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// Decode reads a JSON request body of at most MaxBodySize bytes into v, and
// refuses text that the storage engines would not take alike.
func Decode(w http.ResponseWriter, r *http.Request, v any) error { return decode(w, r, v) }

// DecodeOptional is Decode for a body that may be absent: an empty one
// leaves v as it is.
func DecodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeOptional(w, r, v)
}

// DecodeBytes decodes a body already read into v, as Decode does.
func DecodeBytes(body []byte, v any) error { return decodeBytes(body, v) }

// CheckText checks a body already decoded into v as Decode does.
func CheckText(body []byte, v any) error { return checkText(body, v) }

// ParsePage reads Layer's paging parameters, page_size and from_id.
func ParsePage(r *http.Request) (herald.Page, error) { return page(r) }

// WritePage answers a page of a listing, with a Link to the next page when
// the page is full.
func WritePage[T, J any](s *Server, w http.ResponseWriter, r *http.Request, p herald.Page, items []T,
	id func(T) string, render func(T) J) {
	writePage(s, w, r, p, items, id, render)
}

// DataError is an application error whose data is rendered as it is, in
// place of the error's own: Layer's 409 on a distinct conversation has the
// existing conversation itself as data.
type DataError struct {
	Err  *herald.Error
	Data any
}

func (e *DataError) Error() string { return e.Err.Error() }
func (e *DataError) Unwrap() error { return e.Err }
