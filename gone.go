package herald

import "context"

// GoneQueries tell an object that was deleted from one that never existed:
// Layer answered 410 Gone for the first, 404 for the second.
type GoneQueries interface {
	// ConversationDeleted reports whether an app has a conversation of
	// that id that was deleted.
	ConversationDeleted(ctx context.Context, appID, id string) (bool, error)
	// MessageDeleted reports whether an app has a message of that id that
	// was deleted for all participants, or whose conversation was.
	MessageDeleted(ctx context.Context, appID, id string) (bool, error)
}

// Gone returns the error for an object of the given kind that was deleted.
func Gone(kind, id string) *Error {
	return &Error{ID: EGone, Message: "The " + kind + " " + id + " was deleted.",
		Data: map[string]any{"type": kind, "id": id}}
}
