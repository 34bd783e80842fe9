package http

import (
	"io"
	"net/http"
	"strconv"
)

// HandleSigned registers a route, for API.Routes, whose authorization is a
// signed URL (see urls.Builder) rather than a token: for downloads handed
// to whoever holds the URL. signed names what the URL must be signed for,
// from the request; the request's path and query are checked as an app
// route's are before h runs.
func (s *Server) HandleSigned(pattern, purpose string, signed func(r *http.Request) string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.building.HandleFunc(pattern, s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.URLs.Verify(r.URL.Query(), purpose, signed(r)); err != nil {
			return err
		}
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r)
	}))
}

// ServeAttachment answers size bytes of body as a file to save under name,
// paced as content downloads are (see MinTransferRate).
func ServeAttachment(w http.ResponseWriter, r *http.Request, body io.Reader, size int64, contentType, name string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(pacedResponse(w, r), body)
	}
}
