package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"

	"github.com/heraldhq/herald"
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
	Data    map[string]any `json:"data,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := herald.AsError(err)
	if !ok {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = herald.Errorf(herald.EInternal, "Herald could not complete the request; the server log has the details.")
	}
	body := errorBody{ID: e.ID, Code: e.Code(), Message: e.Message, URL: s.URLs.Base + "/errors#" + string(e.ID), Data: e.Data}
	if app := r.PathValue("app"); app != "" {
		// Objects in error data (the existing conversation of a distinct
		// conflict) are rendered as the API renders them anywhere else.
		if c, ok := e.Data["conversation"].(*herald.Conversation); ok {
			body.Data = map[string]any{"conversation": s.renderConversation(app, c)}
		}
	}
	writeJSON(w, e.Status(), body)
}

var errorDescriptions = map[herald.ErrorID]string{
	herald.EServiceUnavailable: "Herald is shutting down or a backend is unavailable; retry later.",
	herald.EAuthRequired:       "The request carries no valid app token (Authorization: Bearer <token>).",
	herald.EInvalidOperation:   "The operation is not possible in the object's current state.",
	herald.EInvalidRequest:     "The request is structurally invalid, such as malformed JSON.",
	herald.EInternal:           "An unexpected failure; the server log has the details.",
	herald.EAccessDenied:       "The request is not allowed, such as a signed URL with a bad signature.",
	herald.ENotFound:           "The object does not exist in this app, or is not visible to this user.",
	herald.EMissingProperty:    "A required property is missing; data.property names it.",
	herald.EInvalidProperty:    "A property has an invalid value; data.property names it.",
	herald.EInvalidEndpoint:    "No such endpoint.",
	herald.EInvalidHeader:      "A request header has an invalid value; data.property names it.",
	herald.EConflict:           "The request conflicts with an existing object; data holds it when there is one.",
	herald.EMethodNotAllowed:   "The endpoint does not support this HTTP method; the Allow header lists those it does.",
	herald.EIDInUse:            "The id or deduplication key was already used for another object.",
	herald.EPayloadTooLarge:    "The request body is larger than 1 MiB.",
	herald.EUploadMismatch:     "An upload's size differs from the size declared for it.",
	herald.EURLExpired:         "A signed URL has expired; fetch a fresh one.",
	herald.EQuotaExceeded:      "The request would take the app past one of its limits; data.limit gives the limit.",
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
	if len(bytes.TrimSpace(body)) == 0 {
		return herald.Errorf(herald.EInvalidRequest, "The request needs a JSON body.")
	}
	err = json.Unmarshal(body, v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return &herald.Error{ID: herald.EInvalidRequest,
			Message: "The request body is not valid JSON: " + syntax.Error() + ".",
			Data:    map[string]any{"offset": syntax.Offset}}
	case errors.As(err, &typ):
		prop := typ.Field
		if prop == "" {
			return herald.Errorf(herald.EInvalidRequest, "The request body must be a JSON %s.", jsonKind(v))
		}
		return herald.PropertyError(herald.EInvalidProperty, prop, "%s must be a JSON %s, not %s.", prop, typ.Type.Kind(), typ.Value)
	default:
		var pe *herald.Error
		if errors.As(err, &pe) {
			return pe
		}
		return herald.Errorf(herald.EInvalidRequest, "The request body could not be decoded: %v.", err)
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case *[]any:
		return "array"
	}
	return "object"
}
