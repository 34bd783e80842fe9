package herald

import (
	"context"
	"time"
)

// A ContentChunk is one piece of a resumable upload, received and kept
// until the whole content has arrived: Size bytes from Offset, in the blob
// BlobKey. The chunks of content are contiguous from byte 0.
type ContentChunk struct {
	Offset  int64
	Size    int64
	BlobKey string
}

// ContentUploadQueries keep the pieces of uploads in progress, so that an
// upload interrupted, by the client or by a restart of the server, resumes
// where it stopped.
type ContentUploadQueries interface {
	// ContentChunks returns the chunks received of content, in order.
	ContentChunks(ctx context.Context, appID, id string) ([]ContentChunk, error)
	// AddContentChunk records a chunk of content that is not uploaded yet.
	// It fails with a conflict unless the chunk starts where those already
	// received end (a concurrent upload of the same bytes was recorded
	// first), and with invalid_operation if it would end past the
	// content's size.
	AddContentChunk(ctx context.Context, appID, id string, c ContentChunk) error
	// ReleaseContentChunks forgets content's chunks and lists their blobs
	// for deletion (see BlobsToDelete), returning their keys.
	ReleaseContentChunks(ctx context.Context, appID, id string, at time.Time) ([]string, error)
	// ReleaseStaleContentChunks does the same for up to limit chunks of
	// content declared before declaredBefore and never uploaded: their
	// upload URLs have expired, so they can no longer be completed.
	ReleaseStaleContentChunks(ctx context.Context, declaredBefore, at time.Time, limit int) ([]string, error)
	// ShrinkContent sets the size of content not uploaded yet to size, at
	// most its declared size, for an upload whose declaration counted more
	// than its bytes (a form's envelope).
	ShrinkContent(ctx context.Context, appID, id string, size int64) error
}
