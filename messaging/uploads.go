package messaging

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Uploads come in the three ways Layer's clients sent them to the Google
// Cloud Storage URL that Layer handed out as upload_url: the whole body at
// once (UploadContent), GCS's resumable protocol, one range of bytes after
// another (UploadContentRange, ContentUploadStatus), and a form
// (UploadContentForm). Content counts as uploaded, and content.uploaded is
// recorded, only once all of its bytes have arrived.

// uploadWhole stores size bytes read from r as content's bytes: each upload
// writes a blob of its own, and the first to be recorded in the store wins;
// a later or concurrent one gets a conflict and its blob is removed.
// Content is uploaded once and never changes afterwards, so that every
// message referring to it shows the same bytes.
func (s *Service) uploadWhole(ctx context.Context, c *herald.Content, r io.Reader, size int64) (*herald.Content, error) {
	if c.UploadedAt != nil {
		return nil, alreadyUploaded(c)
	}
	key := c.ID + "." + NewID()
	if err := s.Blobs.Put(ctx, key, r, size); err != nil {
		return nil, err
	}
	return s.commitUpload(ctx, c, key, size)
}

func alreadyUploaded(c *herald.Content) error {
	return herald.Errorf(herald.EConflict, "Content %s was already uploaded; create new content to upload other bytes.", c.ID)
}

// commitUpload records the blob key, of size bytes, as content's upload,
// with its event, and lets go of the chunks that made it up; the blob is
// removed if that fails.
func (s *Service) commitUpload(ctx context.Context, c *herald.Content, key string, size int64) (out *herald.Content, err error) {
	var released []string
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		if size != c.Size {
			if err := tx.ShrinkContent(ctx, c.AppID, c.ID, size); err != nil {
				return err
			}
		}
		if err := tx.MarkContentUploaded(ctx, c.AppID, c.ID, key, now); err != nil {
			return err
		}
		var err error
		if released, err = tx.ReleaseContentChunks(ctx, c.AppID, c.ID, now); err != nil {
			return err
		}
		if out, err = tx.Content(ctx, c.AppID, c.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, c.AppID, herald.EventContentUploaded, nil, &herald.EventData{Content: out})
	})
	if err != nil {
		s.Blobs.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	s.deleteBlobs(ctx, released)
	return out, nil
}

// ContentReceived returns how many of content's bytes have arrived, from
// byte 0: all of them once it is uploaded.
func (s *Service) ContentReceived(ctx context.Context, c *herald.Content) (int64, error) {
	if c.UploadedAt != nil {
		return c.Size, nil
	}
	var chunks []herald.ContentChunk
	err := s.Store.View(ctx, func(q herald.Queries) (err error) {
		chunks, err = q.ContentChunks(ctx, c.AppID, c.ID)
		return err
	})
	return receivedBytes(chunks), err
}

func receivedBytes(chunks []herald.ContentChunk) int64 {
	if len(chunks) == 0 {
		return 0
	}
	last := chunks[len(chunks)-1]
	return last.Offset + last.Size
}

// UploadContentRange stores n bytes of content from byte start, read from
// r, as a chunk of a resumable upload. It returns how many bytes have
// arrived, and the uploaded content once that is all of them. A range may
// begin before the end of the bytes received (a client resending what it
// did not know had arrived): those bytes are skipped. One that begins after
// it, or ends past the declared size, is refused: nothing is kept of it.
func (s *Service) UploadContentRange(ctx context.Context, c *herald.Content, start, n int64, r io.Reader) (received int64, done *herald.Content, err error) {
	if c.UploadedAt != nil {
		return 0, nil, alreadyUploaded(c)
	}
	if start < 0 || n < 0 || start+n > c.Size {
		return 0, nil, rangeError(fmt.Sprintf("Bytes %d to %d do not fit in the %d bytes declared in Upload-Content-Length.",
			start, start+n-1, c.Size), c.Size, -1)
	}
	if received, err = s.ContentReceived(ctx, c); err != nil {
		return 0, nil, err
	}
	if start > received {
		return 0, nil, rangeError(fmt.Sprintf("The range starts at byte %d, but only %d bytes have arrived: resume from byte %d (PUT with Content-Range: bytes */%d tells how many arrived).",
			start, received, received, c.Size), c.Size, received)
	}
	if start == 0 && n == c.Size && received == 0 {
		// The whole content at once needs no chunk.
		done, err = s.uploadWhole(ctx, c, r, n)
		return c.Size, done, err
	}
	if skip := min(received-start, n); skip > 0 {
		if copied, err := io.CopyN(io.Discard, r, skip); err != nil {
			return 0, nil, shortRange(copied, n, err)
		}
	}
	if end := start + n; end > received {
		key := c.ID + ".part." + NewID()
		if err := s.Blobs.Put(ctx, key, r, end-received); err != nil {
			if e, ok := herald.AsError(err); ok && e.ID == herald.EUploadMismatch {
				err = &herald.Error{ID: herald.EUploadMismatch,
					Message: fmt.Sprintf("The body's length differs from the %d bytes its Content-Range names.", n),
					Data:    map[string]any{"expected": n, "property": "Content-Range"}}
			}
			return 0, nil, err
		}
		err := s.Store.Update(ctx, func(tx herald.Tx) error {
			return tx.AddContentChunk(ctx, c.AppID, c.ID, herald.ContentChunk{Offset: received, Size: end - received, BlobKey: key})
		})
		if err != nil {
			s.Blobs.Delete(context.WithoutCancel(ctx), key)
			return 0, nil, err
		}
		received = end
	} else if extra, err := io.Copy(io.Discard, io.LimitReader(r, 1)); err != nil || extra > 0 {
		return 0, nil, moreThanRange(n, err)
	}
	if received < c.Size {
		return received, nil, nil
	}
	done, err = s.assemble(ctx, c)
	return received, done, err
}

// ContentUploadStatus answers a resumable upload's status query: how many
// bytes have arrived, and the uploaded content once that is all of them.
// Content whose last chunk arrived but was not put together (the server
// stopped in between) is put together now.
func (s *Service) ContentUploadStatus(ctx context.Context, c *herald.Content) (received int64, done *herald.Content, err error) {
	if c.UploadedAt != nil {
		return c.Size, c, nil
	}
	if received, err = s.ContentReceived(ctx, c); err != nil || received < c.Size {
		return received, nil, err
	}
	done, err = s.assemble(ctx, c)
	return received, done, err
}

// assemble puts content's chunks together into the blob of its upload.
// When concurrent requests both do, one wins and releases the chunks, which
// the other may then fail to read or to record: it answers the content the
// winner uploaded, the same bytes.
func (s *Service) assemble(ctx context.Context, c *herald.Content) (*herald.Content, error) {
	done, err := s.assembleChunks(ctx, c)
	if err != nil {
		if now, err2 := s.ContentByID(ctx, c.ID); err2 == nil && now.UploadedAt != nil {
			return now, nil
		}
	}
	return done, err
}

func (s *Service) assembleChunks(ctx context.Context, c *herald.Content) (*herald.Content, error) {
	var chunks []herald.ContentChunk
	if err := s.Store.View(ctx, func(q herald.Queries) (err error) {
		chunks, err = q.ContentChunks(ctx, c.AppID, c.ID)
		return err
	}); err != nil {
		return nil, err
	}
	if receivedBytes(chunks) != c.Size {
		return nil, fmt.Errorf("content %s: its chunks hold %d of its %d bytes", c.ID, receivedBytes(chunks), c.Size)
	}
	readers := make([]io.Reader, 0, len(chunks))
	for _, k := range chunks {
		body, err := s.Blobs.Open(ctx, k.BlobKey)
		if err != nil {
			return nil, fmt.Errorf("content %s: opening the chunk at byte %d: %w", c.ID, k.Offset, err)
		}
		defer body.Close()
		readers = append(readers, body)
	}
	return s.uploadWhole(ctx, c, io.MultiReader(readers...), c.Size)
}

// UploadContentForm stores the file of a multipart/form-data upload, read
// from file, fileSize bytes long, from a form of formSize bytes in all. The
// file must be of the declared size; or the form must, as declared by the
// PHP SDK (laravel-layer-sdk's RichContentService::requestUpload declares
// the file's size plus the form's envelope, which Google Cloud Storage
// stored along with the file): then the content is the file alone, and its
// size the file's.
func (s *Service) UploadContentForm(ctx context.Context, c *herald.Content, file io.Reader, fileSize, formSize int64) (*herald.Content, error) {
	if c.UploadedAt != nil {
		return nil, alreadyUploaded(c)
	}
	if fileSize <= 0 || (fileSize != c.Size && formSize != c.Size) {
		return nil, &herald.Error{ID: herald.EUploadMismatch,
			Message: fmt.Sprintf("The form's file has %d bytes and the form %d: one of them must be the %d bytes declared in Upload-Content-Length.",
				fileSize, formSize, c.Size),
			Data: map[string]any{"expected": c.Size, "property": "file"}}
	}
	return s.uploadWhole(ctx, c, file, fileSize)
}

func moreThanRange(n int64, err error) error {
	if err != nil {
		return err
	}
	return &herald.Error{ID: herald.EUploadMismatch,
		Message: fmt.Sprintf("The upload sent more bytes than the %d its Content-Range names.", n),
		Data:    map[string]any{"expected": n, "property": "Content-Range"}}
}

func rangeError(msg string, size, received int64) error {
	data := map[string]any{"expected": size, "property": "Content-Range"}
	if received >= 0 {
		data["received"] = received
	}
	return &herald.Error{ID: herald.EUploadMismatch, Message: msg, Data: data}
}

func shortRange(got, want int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &herald.Error{ID: herald.EUploadMismatch,
			Message: fmt.Sprintf("The upload sent fewer bytes than the %d its Content-Range names.", want),
			Data:    map[string]any{"expected": want, "property": "Content-Range"}}
	}
	return err
}

// checkUploadOrigin returns Upload-Origin as the origin a browser sends
// (scheme://host[:port], lower case), or "null", the origin of pages
// without one (file:, sandboxed): layer-websdk sends location.origin, which
// is "null" in such pages, and "" outside browsers.
func checkUploadOrigin(v string) (string, error) {
	if v == "" || v == "null" {
		return v, nil
	}
	bad := herald.PropertyError(herald.EInvalidProperty, "Upload-Origin",
		"Upload-Origin %q is not an origin: give scheme://host[:port] of the page uploading, as in http://mydomain.com.", v)
	if strings.ContainsFunc(v, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) {
		return "", bad
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?") ||
		strings.HasSuffix(v, "#") || u.Port() == "" && strings.HasSuffix(u.Host, ":") {
		return "", bad
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// staleUploadAge is the age past which declared content can no longer be
// uploaded: its chunks are of no more use.
const staleUploadAge = urls.UploadTTL

// releaseStaleChunks lists for deletion the chunks of uploads whose URLs
// have expired, a batch at a time.
func (s *Service) releaseStaleChunks(ctx context.Context) error {
	for {
		var keys []string
		err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
			now := s.now()
			keys, err = tx.ReleaseStaleContentChunks(ctx, now.Add(-staleUploadAge), now, blobSweepBatch)
			return err
		})
		if err != nil || len(keys) < blobSweepBatch {
			return err
		}
	}
}
