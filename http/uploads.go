package http

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
)

// The signed upload URL of rich content speaks what Layer's clients spoke
// to the Google Cloud Storage resumable upload URL that Layer handed out
// (platform/messages/rich-content.md): a PUT of the whole body
// (layer-websdk's MessagePart), GCS's resumable protocol (a PUT per range
// of bytes with Content-Range, 308 Resume Incomplete with the Range
// received until the last, a PUT with Content-Range: bytes */SIZE asking
// for the Range), and a multipart/form-data POST (laravel-layer-sdk's
// RequestService::uploadFile). Herald does not require GCS's 256 KiB
// multiples of ranges: any range that starts at or before the end of the
// bytes received is taken.

func (s *Server) upload(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.Service.ContentByID(r.Context(), id)
	if err != nil {
		return err
	}
	allowOrigin(w.Header(), c)
	start, n := int64(0), c.Size
	if v := r.Header.Get("Content-Range"); v != "" {
		first, last, total, err := parseContentRange(v)
		if err != nil {
			return err
		}
		if total >= 0 && total != c.Size {
			return &herald.Error{ID: herald.EUploadMismatch,
				Message: "Content-Range names " + strconv.FormatInt(total, 10) + " bytes in all, not the " +
					strconv.FormatInt(c.Size, 10) + " declared in Upload-Content-Length.",
				Data: map[string]any{"expected": c.Size, "property": "Content-Range"}}
		}
		if first < 0 {
			// A status query: its body is empty.
			if r.ContentLength > 0 {
				return herald.PropertyError(herald.EInvalidProperty, "Content-Range",
					"Content-Range: bytes */%d asks how many bytes arrived, and comes without a body; name the range of the bytes sent (bytes FIRST-LAST/%d).", c.Size, c.Size)
			}
			received, done, err := s.Service.ContentUploadStatus(r.Context(), c)
			if err != nil {
				return err
			}
			return s.uploadProgress(w, c, received, done)
		}
		start, n = first, last-first+1
	}
	if r.ContentLength >= 0 && r.ContentLength != n {
		what := "the " + strconv.FormatInt(n, 10) + " bytes declared in Upload-Content-Length."
		if start != 0 || n != c.Size {
			what = "the " + strconv.FormatInt(n, 10) + " bytes that Content-Range names."
		}
		return &herald.Error{ID: herald.EUploadMismatch,
			Message: "Content-Length " + strconv.FormatInt(r.ContentLength, 10) + " differs from " + what,
			Data:    map[string]any{"expected": n, "property": "Content-Length"}}
	}
	s.paceBody(r)
	received, done, err := s.Service.UploadContentRange(r.Context(), c, start, n, r.Body)
	if err != nil {
		return err
	}
	renewWriteDeadline(w, r)
	return s.uploadProgress(w, c, received, done)
}

// uploadProgress answers an upload request: the content once it is
// uploaded, or else 308 with the Range of the bytes received, none when
// none were (as GCS answered).
func (s *Server) uploadProgress(w http.ResponseWriter, c *herald.Content, received int64, done *herald.Content) error {
	if done != nil {
		out := s.RenderContent(done.AppID, done.ID, done.Size, true)
		out.MimeType = done.MimeType
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	if received > 0 {
		w.Header().Set("Range", "bytes=0-"+strconv.FormatInt(received-1, 10))
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusPermanentRedirect) // GCS's "308 Resume Incomplete"
	return nil
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" and "bytes */TOTAL"
// (first is -1), TOTAL being "*" (total is -1) when the sender does not
// know it yet.
func parseContentRange(v string) (first, last, total int64, err error) {
	bad := herald.PropertyError(herald.EInvalidProperty, "Content-Range",
		"Content-Range %q is neither bytes FIRST-LAST/TOTAL nor bytes */TOTAL (TOTAL may be *).", v)
	unit, spec, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return 0, 0, 0, bad
	}
	rng, size, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return 0, 0, 0, bad
	}
	number := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0 && s[0] != '+'
	}
	total = -1
	if size != "*" {
		if total, ok = number(size); !ok {
			return 0, 0, 0, bad
		}
	}
	if rng == "*" {
		return -1, -1, total, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	first, ok1 := number(a)
	last, ok2 := number(b)
	if !ok1 || !ok2 || last < first || (total >= 0 && last >= total) {
		return 0, 0, 0, bad
	}
	return first, last, total, nil
}

// formEnvelope bounds what a form upload may hold besides its file: part
// headers, boundaries and small fields.
const formEnvelope = 64 << 10

// uploadForm takes the file of a multipart/form-data POST: the part named
// file, or else the first with a file name. The file is spooled to a
// temporary file first, since its size is known only at its end.
func (s *Server) uploadForm(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.Service.ContentByID(r.Context(), id)
	if err != nil {
		return err
	}
	allowOrigin(w.Header(), c)
	if c.UploadedAt != nil {
		return herald.Errorf(herald.EConflict, "Content %s was already uploaded; create new content to upload other bytes.", c.ID)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return herald.PropertyError(herald.EInvalidProperty, "Content-Type",
			"A POST to an upload URL is a multipart/form-data form with the file in a part named file; PUT the bytes themselves otherwise.")
	}
	limit := c.Size + formEnvelope
	tooMuch := &herald.Error{ID: herald.EUploadMismatch,
		Message: "The form holds more than the " + strconv.FormatInt(c.Size, 10) + " bytes declared in Upload-Content-Length and a form's envelope.",
		Data:    map[string]any{"expected": c.Size, "property": "Content-Length"}}
	if r.ContentLength > limit {
		return tooMuch
	}
	s.paceBody(r)
	body := &countingReader{r: io.LimitReader(r.Body, limit+1)}
	spool, err := os.CreateTemp("", "herald-form-*")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	fileSize := int64(-1)
	form := multipart.NewReader(body, params["boundary"])
	for {
		part, err := form.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formError(body, err, limit, tooMuch)
		}
		if fileSize >= 0 || (part.FormName() != "file" && part.FileName() == "") {
			if _, err := io.Copy(io.Discard, part); err != nil {
				return formError(body, err, limit, tooMuch)
			}
			continue
		}
		if fileSize, err = io.Copy(spool, io.LimitReader(part, c.Size+1)); err != nil {
			return formError(body, err, limit, tooMuch)
		}
		if fileSize > c.Size {
			return tooMuch
		}
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return formError(body, err, limit, tooMuch)
	}
	if body.n > limit {
		return tooMuch
	}
	if fileSize < 0 {
		return herald.PropertyError(herald.EMissingProperty, "file", "The form has no file: send it in a part named file.")
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	done, err := s.Service.UploadContentForm(r.Context(), c, spool, fileSize, body.n)
	if err != nil {
		return err
	}
	renewWriteDeadline(w, r)
	return s.uploadProgress(w, c, done.Size, done)
}

// formError tells a body that failed to arrive (which the request's own
// error reports) and one too long from a malformed form.
func formError(body *countingReader, err error, limit int64, tooMuch error) error {
	switch {
	case body.err != nil && !errors.Is(body.err, io.EOF):
		return body.err
	case body.n > limit:
		return tooMuch
	}
	return herald.Errorf(herald.EInvalidRequest, "The multipart/form-data body is malformed: %v.", err)
}

// countingReader counts the bytes read through it and keeps its reader's
// error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// uploadPreflight answers a browser's CORS preflight of an upload from the
// content's Upload-Origin; without one, no origin is allowed.
func (s *Server) uploadPreflight(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.Service.ContentByID(r.Context(), id)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Allow", "OPTIONS, POST, PUT")
	if c.UploadOrigin != "" {
		allowOrigin(h, c)
		h.Set("Access-Control-Allow-Methods", "PUT, POST")
		h.Set("Access-Control-Allow-Headers", preflightHeaders(r.Header.Get("Access-Control-Request-Headers")))
		h.Set("Access-Control-Max-Age", "3600")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadHeaders are the request headers an upload may send besides the
// CORS-safelisted ones: GCS's, and the Upload-* that layer-websdk sends.
const uploadHeaders = "Content-Type, Content-Range, Content-MD5, Upload-Content-Type, Upload-Content-Length, X-Upload-Content-Type, X-Upload-Content-Length, X-Requested-With"

// preflightHeaders allows the headers a preflight asks for, when they are
// a list of header names, and uploadHeaders otherwise: a signed upload URL
// is its own authorization, so no header grants more.
func preflightHeaders(requested string) string {
	names := strings.Split(requested, ",")
	for i, name := range names {
		names[i] = strings.TrimSpace(name)
		if names[i] == "" || strings.ContainsFunc(names[i], func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
		}) {
			return uploadHeaders
		}
	}
	return strings.Join(names, ", ")
}

// allowOrigin lets scripts of content's Upload-Origin read the answers of
// its upload and download URLs, and the Range of a 308.
func allowOrigin(h http.Header, c *herald.Content) {
	if c.UploadOrigin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", c.UploadOrigin)
	h.Set("Access-Control-Expose-Headers", "Range")
}
