package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/jsoncheck"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"id":"internal_server_error","code":100,"message":"response encoding failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorBody is Layer's error shape.
type errorBody struct {
	ID      herald.ErrorID `json:"id"`
	Code    int            `json:"code"`
	Message string         `json:"message"`
	URL     string         `json:"url"`
	Data    any            `json:"data,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if timeout, ok := s.bodyTimedOut(r); ok {
		err = timeout
	}
	refuseBody(w, r)
	e, ok := herald.AsError(err)
	switch {
	case ok:
	case errors.Is(err, herald.ErrStorageFull) || errors.Is(err, syscall.ENOSPC):
		s.storageFull(r, err)
		e = herald.Errorf(herald.EStorageFull,
			"The server's storage is full: nothing was written. Reads still work; retry the write once an operator has freed space.")
	default:
		s.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = herald.Errorf(herald.EInternal, "Herald could not complete the request; the server log has the details.")
	}
	body := errorBody{ID: e.ID, Code: e.Code(), Message: e.Message, URL: s.URLs.Base + "/errors#" + string(e.ID)}
	if len(e.Data) > 0 {
		body.Data = e.Data
	}
	var de *DataError
	if errors.As(err, &de) {
		body.Data = de.Data
	}
	writeJSON(w, e.Status(), body)
}

var errorDescriptions = map[herald.ErrorID]string{
	herald.EServiceUnavailable:   "Herald is shutting down or a backend is unavailable; retry later.",
	herald.EAuthRequired:         "The request carries no valid app token (Authorization: Bearer <token>).",
	herald.EInvalidOperation:     "The operation is not possible in the object's current state.",
	herald.EInvalidRequest:       "The request is structurally invalid, such as malformed JSON.",
	herald.EInternal:             "An unexpected failure; the server log has the details.",
	herald.EAccessDenied:         "The request is not allowed, such as a signed URL with a bad signature.",
	herald.ENotFound:             "The object does not exist in this app, or is not visible to this user.",
	herald.EMissingProperty:      "A required property is missing; data.property names it.",
	herald.EInvalidProperty:      "A property has an invalid value; data.property names it.",
	herald.EInvalidEndpoint:      "No such endpoint.",
	herald.EInvalidHeader:        "The Accept header names Layer's media type without a version Herald serves (1.0, 1.1, 2.0, 3.0).",
	herald.EInvalidRequestID:     "The If-None-Match header, a request's deduplication key, is not a UUID.",
	herald.EGone:                 "The object was deleted.",
	herald.EConflict:             "The request conflicts with an existing object; data holds it when there is one.",
	herald.EMethodNotAllowed:     "The endpoint does not support this HTTP method; the Allow header lists those it does.",
	herald.EIDInUse:              "The id or deduplication key was already used for another object.",
	herald.EPayloadTooLarge:      "The request body is larger than 1 MiB.",
	herald.EUploadMismatch:       "An upload's size differs from the size declared for it.",
	herald.EURLExpired:           "A signed URL has expired; fetch a fresh one.",
	herald.ERateLimitExceeded:    "The token sent more requests than its rate limit allows; wait for the Retry-After header's seconds.",
	herald.ERequestTimeout:       "The request body did not arrive in time; send it again, faster.",
	herald.EStorageFull:          "The server's storage is full; nothing was written. Retry once an operator has freed space.",
	herald.EQuotaExceeded:        "The request would take the app past one of its limits; data.limit gives the limit.",
	herald.EParticipantBlocked:   "A user may not start or join a conversation with someone they block; data.blocked lists whom they block.",
	herald.EUserSuspended:        "The user is suspended: no session of theirs is valid until they are unsuspended.",
	herald.EReengagementRequired: "WhatsApp's 24-hour window is closed: the contact never wrote, or wrote more than 24 hours ago; send an approved template (WhatsApp's error 131047).",
	herald.EInvalidAppID:         "The app_id names no app: give layer:///apps/staging/<uuid>, layer:///apps/production/<uuid> or the app's uuid.",
}

// storageFullLogInterval is how often, at most, a full storage is logged:
// while it is full every write fails, and a line for each would flood the
// log, on a disk that has no room for it.
const storageFullLogInterval = time.Minute

// storageFull logs a write refused for want of space, once per
// storageFullLogInterval with the number refused since the last line.
func (s *Server) storageFull(r *http.Request, err error) {
	refused := s.storageFullRefused.Add(1)
	now := time.Now().UnixNano()
	last := s.storageFullLogged.Load()
	if now-last < int64(storageFullLogInterval) || !s.storageFullLogged.CompareAndSwap(last, now) {
		return
	}
	s.storageFullRefused.Add(-refused)
	s.Logger.ErrorContext(r.Context(), "the storage is full: writes answer 507 insufficient_storage until space is freed",
		"refused", refused, "method", r.Method, "path", r.URL.Path, "err", err)
}

// errorCatalogue serves the list that error bodies' url fields point into.
func (s *Server) errorCatalogue(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		ID          herald.ErrorID `json:"id"`
		Code        int            `json:"code"`
		Status      int            `json:"status"`
		Description string         `json:"description"`
	}
	var out []entry
	for id, d := range errorDescriptions {
		e := &herald.Error{ID: id}
		out = append(out, entry{id, e.Code(), e.Status(), d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	writeJSON(w, http.StatusOK, out)
}

// decode reads a JSON request body of at most MaxBodySize bytes into v.
// decodeOptional is decode for a body that may be absent: an empty one
// leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	head, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err == nil && len(bytes.TrimSpace(head)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(head), r.Body))
	return decode(w, r, v)
}

// decode reads a JSON request body of at most MaxBodySize bytes into v, and
// refuses text that the storage engines would not take alike (see
// checkText).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &herald.Error{ID: herald.EPayloadTooLarge,
			Message: "The request body is larger than 1 MiB. Send large content as rich content.",
			Data:    map[string]any{"limit": MaxBodySize}}
	}
	if err != nil {
		return herald.Errorf(herald.EInvalidRequest, "The request body could not be read: %v.", err)
	}
	return decodeBytes(body, v)
}

// decodeBytes decodes a JSON body already read into v, as decode does.
func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return herald.Errorf(herald.EInvalidRequest, "The request needs a JSON body.")
	}
	err := json.Unmarshal(body, v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return checkText(body, v)
	case errors.As(err, &syntax):
		return &herald.Error{ID: herald.EInvalidRequest,
			Message: "The request body is not valid JSON: " + syntax.Error() + ".",
			Data:    map[string]any{"offset": syntax.Offset}}
	case errors.As(err, &typ):
		prop := typ.Field
		if prop == "" {
			return herald.Errorf(herald.EInvalidRequest, "The request body must be a JSON %s.", jsonKind(v))
		}
		return herald.PropertyError(herald.EInvalidProperty, prop, "%s must be a JSON %s, not %s.", prop, jsonType(typ.Type), jsonValue(typ.Value))
	default:
		var pe *herald.Error
		if errors.As(err, &pe) {
			return pe
		}
		return herald.Errorf(herald.EInvalidRequest, "The request body could not be decoded: %v.", err)
	}
}

// checkText refuses, in a body that v was decoded from, what Go's decoder
// would have changed silently or what an engine could not store: strings
// that are not UTF-8 or that escape half a surrogate pair (JSON text is
// UTF-8, RFC 8259; the decoder turns both into U+FFFD), a NUL character in
// a string decoded into a Go string (PostgreSQL refuses it in text), and
// values that nest deeper than jsoncheck.MaxDepth. JSON kept raw (metadata)
// may hold an escaped NUL: it is stored as the escape, on every engine.
func checkText(body []byte, v any) error {
	if p := jsoncheck.Scan(body, jsoncheck.MaxDepth+1); p != nil {
		return textError(p)
	}
	if bytes.Contains(body, []byte(`\u0000`)) {
		if path, ok := jsoncheck.NUL(v); ok {
			return nulError(path)
		}
	}
	return nil
}

func textError(p *jsoncheck.Problem) error {
	if p.Fault == jsoncheck.TooDeep {
		e := herald.PropertyError(herald.EInvalidProperty, p.Top, "%s nests deeper than %d levels of arrays and objects.",
			p.Top, jsoncheck.MaxDepth)
		e.Data["limit"] = jsoncheck.MaxDepth
		return e
	}
	what := "The request body"
	if p.Path != "" {
		what = p.Path
	}
	msg := "%s is not valid UTF-8, as JSON text must be."
	if p.Fault == jsoncheck.LoneSurrogate {
		msg = "%s escapes half of a UTF-16 surrogate pair (\\ud800 to \\udfff) without the other half, which stands for no character."
	}
	if p.Path == "" {
		return herald.Errorf(herald.EInvalidRequest, msg, what)
	}
	return herald.PropertyError(herald.EInvalidProperty, p.Path, msg, what)
}

func nulError(path string) error {
	return herald.PropertyError(herald.EInvalidProperty, path, "%s holds a NUL character (\\u0000), which text in Herald may not.", path)
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value"
}

// jsonValue names what the decoder found, from its UnmarshalTypeError's
// Value: "string", "bool", "number 1e400" (a number out of range).
func jsonValue(v string) string {
	switch v {
	case "bool":
		return "a boolean"
	case "array", "object":
		return "an " + v
	}
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return "the number " + n + ", out of range"
	}
	return "a " + v
}

func jsonKind(v any) string {
	switch v.(type) {
	case *[]any:
		return "array"
	}
	return "object"
}
