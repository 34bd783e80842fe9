package herald

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrorID is the machine-readable identifier of an application error. The
// values and their numeric codes follow Layer's Platform API, so clients
// written for it recognise them; Herald's own additions start at 200.
type ErrorID string

const (
	EServiceUnavailable ErrorID = "service_unavailable"
	EInvalidAppID       ErrorID = "invalid_app_id" // Layer Client API errors, code 2
	EInvalidRequestID   ErrorID = "invalid_request_id"
	EUserSuspended      ErrorID = "user_suspended" // Layer Client API errors, code 6
	EAuthRequired       ErrorID = "authentication_required"
	ERateLimitExceeded  ErrorID = "rate_limit_exceeded"
	ERequestTimeout     ErrorID = "request_timeout"
	EInvalidOperation   ErrorID = "invalid_operation"
	EInvalidRequest     ErrorID = "invalid_request"
	EInternal           ErrorID = "internal_server_error"
	EAccessDenied       ErrorID = "access_denied"
	ENotFound           ErrorID = "not_found"
	EMissingProperty    ErrorID = "missing_property"
	EInvalidProperty    ErrorID = "invalid_property"
	EInvalidEndpoint    ErrorID = "invalid_endpoint"
	EInvalidHeader      ErrorID = "invalid_header"
	EConflict           ErrorID = "conflict"
	EMethodNotAllowed   ErrorID = "method_not_allowed"
	EParticipantBlocked ErrorID = "participant_blocked" // Layer client/rest/errors.md, code 110
	EIDInUse            ErrorID = "id_in_use"
	EPayloadTooLarge    ErrorID = "payload_too_large"
	EUploadMismatch     ErrorID = "upload_mismatch"
	EURLExpired         ErrorID = "url_expired"
	EStorageFull        ErrorID = "insufficient_storage"
	EQuotaExceeded      ErrorID = "quota_exceeded"
	EGone               ErrorID = "gone"
	// EReengagementRequired refuses a free-form message outside WhatsApp's
	// 24-hour customer service window, as WhatsApp's error 131047 does.
	EReengagementRequired ErrorID = "reengagement_required"
)

type errorKind struct {
	code   int
	status int
}

var errorKinds = map[ErrorID]errorKind{
	EServiceUnavailable: {1, http.StatusServiceUnavailable},
	EInvalidAppID:       {2, http.StatusForbidden},
	EInvalidRequestID:   {3, http.StatusBadRequest},
	EAuthRequired:       {4, http.StatusUnauthorized},
	EUserSuspended:      {6, http.StatusForbidden},
	ERateLimitExceeded:  {7, http.StatusTooManyRequests},
	ERequestTimeout:     {8, http.StatusRequestTimeout},
	EInvalidOperation:   {9, http.StatusUnprocessableEntity},
	EInvalidRequest:     {10, http.StatusBadRequest},
	EInternal:           {100, http.StatusInternalServerError},
	EAccessDenied:       {101, http.StatusForbidden},
	ENotFound:           {102, http.StatusNotFound},
	EMissingProperty:    {104, http.StatusUnprocessableEntity},
	EInvalidProperty:    {105, http.StatusUnprocessableEntity},
	EInvalidEndpoint:    {106, http.StatusNotFound},
	// Layer's only header error was an Accept header naming no version it
	// served: 406 Not Acceptable.
	EInvalidHeader:      {107, http.StatusNotAcceptable},
	EConflict:           {108, http.StatusConflict},
	EMethodNotAllowed:   {109, http.StatusMethodNotAllowed},
	EParticipantBlocked: {110, http.StatusUnprocessableEntity},
	EIDInUse:            {111, http.StatusConflict},
	EPayloadTooLarge:    {200, http.StatusRequestEntityTooLarge},
	EUploadMismatch:     {201, http.StatusBadRequest},
	EURLExpired:         {202, http.StatusForbidden},
	EStorageFull:        {203, http.StatusInsufficientStorage},
	EQuotaExceeded:      {204, http.StatusUnprocessableEntity},
	// Layer answered 410 with an empty body; Herald's body says what.
	EGone: {205, http.StatusGone},
	// 422, as Herald's other refusals of a well-formed request.
	EReengagementRequired: {210, http.StatusUnprocessableEntity},
}

// ErrStorageFull marks a store's failure for want of space (SQLite's
// SQLITE_FULL, PostgreSQL's disk_full): the write did not happen, and will
// not until an operator frees space. Engines wrap their own error with it.
var ErrStorageFull = errors.New("herald: the storage is full")

// Error is an application error: something the caller did or asked for that
// Herald declines, with enough detail for a program to react and a person to
// understand. Anything that is not an *Error is an internal failure.
type Error struct {
	ID      ErrorID
	Message string
	// Data carries the specifics: the offending "property", the existing
	// object on a conflict, and so on.
	Data map[string]any
}

func (e *Error) Error() string { return string(e.ID) + ": " + e.Message }

// Code is the numeric code that goes with the error's ID.
func (e *Error) Code() int { return errorKinds[e.ID].code }

// Status is the HTTP status that goes with the error's ID.
func (e *Error) Status() int {
	if k, ok := errorKinds[e.ID]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// Errorf returns an *Error with a formatted message.
func Errorf(id ErrorID, format string, args ...any) *Error {
	return &Error{ID: id, Message: fmt.Sprintf(format, args...)}
}

// PropertyError returns an error about one property of the request, named in
// Data["property"] with the dotted path a client would use (parts[1].body).
func PropertyError(id ErrorID, property, format string, args ...any) *Error {
	return &Error{ID: id, Message: fmt.Sprintf(format, args...), Data: map[string]any{"property": property}}
}

// NotFound returns the error for a missing object of the given kind.
func NotFound(kind, id string) *Error {
	return &Error{ID: ENotFound, Message: fmt.Sprintf("No %s with id %q exists in this app.", kind, id),
		Data: map[string]any{"type": kind, "id": id}}
}

// AsError returns err as an *Error if it is one, wrapped or not.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports whether err is a not_found application error.
func IsNotFound(err error) bool {
	e, ok := AsError(err)
	return ok && e.ID == ENotFound
}
