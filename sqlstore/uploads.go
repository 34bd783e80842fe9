package sqlstore

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// Pieces of resumable uploads in progress (herald.ContentUploadQueries).

func (q *Queries) ContentChunks(ctx context.Context, appID, id string) ([]herald.ContentChunk, error) {
	if _, err := q.Content(ctx, appID, id); err != nil {
		return nil, err
	}
	return collect(func(r scanner) (c herald.ContentChunk, err error) {
		err = r.Scan(&c.Offset, &c.Size, &c.BlobKey)
		return c, err
	})(q.db.QueryContext(ctx, `SELECT start_byte, size, blob_key FROM content_chunks
		WHERE content_id = ? ORDER BY start_byte`, id))
}

func (q *Queries) AddContentChunk(ctx context.Context, appID, id string, c herald.ContentChunk) error {
	// Reading the content locks its row in a write transaction: chunks of
	// the same content are added one after the other.
	content, err := q.Content(ctx, appID, id)
	if err != nil {
		return err
	}
	if content.UploadedAt != nil {
		return herald.Errorf(herald.EConflict, "Content %s was already uploaded.", id)
	}
	if c.Size <= 0 || c.Offset < 0 || c.Offset+c.Size > content.Size {
		return herald.Errorf(herald.EInvalidOperation, "A chunk of bytes %d to %d does not fit content %s of %d bytes.",
			c.Offset, c.Offset+c.Size, id, content.Size)
	}
	var received int64
	if err := q.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM content_chunks WHERE content_id = ?`,
		id).Scan(&received); err != nil {
		return err
	}
	if received != c.Offset {
		return &herald.Error{ID: herald.EConflict,
			Message: "Another upload of content " + id + " was recorded first; ask for the bytes received and resume from there.",
			Data:    map[string]any{"received": received}}
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO content_chunks (content_id, start_byte, size, blob_key) VALUES (?, ?, ?, ?)`,
		id, c.Offset, c.Size, c.BlobKey)
	return err
}

func (q *Queries) ReleaseContentChunks(ctx context.Context, appID, id string, at time.Time) ([]string, error) {
	if _, err := q.Content(ctx, appID, id); err != nil {
		return nil, err
	}
	return q.releaseChunks(ctx, `content_id = ?`, at, id)
}

func (q *Queries) ReleaseStaleContentChunks(ctx context.Context, declaredBefore, at time.Time, limit int) ([]string, error) {
	// Chunks whose content is gone count as stale too: DropContent takes
	// them with their content, but nothing else may keep them.
	return q.releaseChunks(ctx, `content_id IN (SELECT content_id FROM content_chunks k
		WHERE NOT EXISTS (SELECT 1 FROM contents c WHERE c.id = k.content_id AND c.uploaded_at IS NULL AND c.created_at >= ?)
		ORDER BY content_id LIMIT ?)`, at, micros(declaredBefore), limit)
}

// releaseChunks lists the blobs of the chunks that where selects for
// deletion and forgets the chunks.
func (q *Queries) releaseChunks(ctx context.Context, where string, at time.Time, args ...any) ([]string, error) {
	keys, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT blob_key FROM content_chunks WHERE `+where+` ORDER BY blob_key`, args...))
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	if _, err := q.db.ExecContext(ctx, `INSERT INTO blob_deletions (blob_key, queued_at)
		SELECT value, ? FROM `+q.d.JSONArray+` WHERE TRUE ON CONFLICT (blob_key) DO NOTHING`, micros(at), mustJSON(keys)); err != nil {
		return nil, err
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM content_chunks WHERE blob_key IN (SELECT value FROM `+q.d.JSONArray+`)`,
		mustJSON(keys))
	return keys, err
}

// dropChunksOf forgets the chunks that of selects and returns their blobs,
// for dropContents to list.
func (q *Queries) dropChunksOf(ctx context.Context, of string, args ...any) ([]string, error) {
	keys, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT blob_key FROM content_chunks WHERE `+of, args...))
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM content_chunks WHERE `+of, args...)
	return keys, err
}

func (q *Queries) ShrinkContent(ctx context.Context, appID, id string, size int64) error {
	content, err := q.Content(ctx, appID, id)
	if err != nil {
		return err
	}
	if content.UploadedAt != nil {
		return herald.Errorf(herald.EConflict, "Content %s was already uploaded.", id)
	}
	if size <= 0 || size > content.Size {
		return herald.Errorf(herald.EInvalidOperation, "Content %s of %d bytes cannot shrink to %d bytes.", id, content.Size, size)
	}
	_, err = q.db.ExecContext(ctx, `UPDATE contents SET size = ? WHERE id = ? AND app_id = ?`, size, id, appID)
	return err
}
