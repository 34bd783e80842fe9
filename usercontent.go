package herald

import (
	"context"
	"time"
)

// UnboundContentQueries keep content that a user declared before naming a
// conversation (Content.ConversationID empty): the first message that uses
// it binds it to its conversation, and content never used is dropped.
type UnboundContentQueries interface {
	// BindContent gives unbound content of an app its conversation, or
	// not_found when it is gone; content bound already is left as it is
	// (the caller checked whose it is).
	BindContent(ctx context.Context, appID, id, conversationID string) error
	// DropUnboundContent deletes up to limit pieces of content, of any
	// app, still unbound and declared before createdBefore, with what they
	// uploaded, listing their blobs as to be deleted at at (see
	// BlobsToDelete); it returns those blobs' keys.
	DropUnboundContent(ctx context.Context, createdBefore, at time.Time, limit int) ([]string, error)
}
