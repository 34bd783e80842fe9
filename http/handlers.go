package http

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
)

const (
	defaultPageSize = 100
	maxPageSize     = 500
)

func page(r *http.Request) (herald.Page, error) {
	p := herald.Page{Before: r.URL.Query().Get("from_id"), Limit: defaultPageSize}
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, herald.PropertyError(herald.EInvalidProperty, "page_size", "page_size must be a whole number from 1 to %d.", maxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

// writePage renders a page of a listing, with a Link to the next page when
// the page is full.
func writePage[T, J any](s *Server, w http.ResponseWriter, r *http.Request, p herald.Page, items []T,
	id func(T) string, render func(T) J) {
	out := make([]J, len(items))
	for i, item := range items {
		out[i] = render(item)
	}
	if len(items) == p.Limit && len(items) > 0 {
		q := r.URL.Query()
		q.Set("from_id", id(items[len(items)-1]))
		q.Set("page_size", strconv.Itoa(p.Limit))
		w.Header().Set("Link", "<"+s.URLs.Base+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

// Rich content: the signed URLs that content is uploaded to and downloaded
// from.

func (s *Server) download(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.Service.ContentByID(r.Context(), id)
	if err != nil {
		return err
	}
	body, err := s.Service.OpenContent(r.Context(), c)
	if err != nil {
		return err
	}
	defer body.Close()
	h := w.Header()
	allowOrigin(h, c)
	h.Set("Content-Type", c.MimeType)
	h.Set("Content-Length", strconv.FormatInt(c.Size, 10))
	h.Set("Cache-Control", "private, max-age=3600")
	// Uploaded bytes are served from Herald's own origin, with the type
	// their uploader declared: nothing in them may run as a page of that
	// origin. Browsers take the declared type as it is, show only passive
	// types in place, save the others, and give whatever they render no
	// script, no plugin and no origin of its own.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	if !shownInline(c.MimeType) {
		h.Set("Content-Disposition", "attachment")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(pacedResponse(w, r), body)
	}
	return nil
}

// contentSecurityPolicy applies to every download: it loads nothing and
// runs nothing, and the sandbox gives what a browser renders an opaque
// origin. Inline style is for the page that browsers wrap around an image
// or a video.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// shownInline reports whether downloads of content of a MIME type are shown
// in place rather than saved as attachments: images in the formats browsers
// decode without scripts, audio, video and plain text. Everything else,
// HTML, XHTML, SVG, XML, JavaScript, PDF (whose viewers run scripts, and
// refuse to run sandboxed) and any type a browser may someday render
// actively, is an attachment.
func shownInline(mimeType string) bool {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		return false
	}
	switch mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "text/plain":
		return true
	}
	return strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/")
}

// Events.

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, app string) error {
	limit := defaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return herald.PropertyError(herald.EInvalidProperty, "limit", "limit must be a whole number from 1 to 1000.")
		}
		limit = n
	}
	events, err := s.Service.Events(r.Context(), app, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = renderEvent(e)
	}
	if len(events) == limit {
		q := url.Values{"after": {events[len(events)-1].ID}, "limit": {strconv.Itoa(limit)}}
		w.Header().Set("Link", "<"+s.URLs.Base+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
