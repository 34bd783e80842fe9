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
	// IDTaken reports whether an object of a kind ("conversation",
	// "message" or "announcement") has that id in any app, deleted or
	// not: ids are unique across apps, and an id a client chose (a
	// deduplication key) may already be another's.
	IDTaken(ctx context.Context, kind, id string) (bool, error)
}

// Gone returns the error for an object of the given kind that was deleted.
func Gone(kind, id string) *Error {
	return &Error{ID: EGone, Message: "The " + kind + " " + id + " was deleted.",
		Data: map[string]any{"type": kind, "id": id}}
}
