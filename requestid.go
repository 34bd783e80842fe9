package herald

import "context"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the API request it serves:
// the log lines of the request and the events it records (Event.RequestID)
// carry it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id of the API request ctx serves, "" if none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
