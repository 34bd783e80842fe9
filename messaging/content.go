package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// CreateContent declares rich content to be uploaded for a conversation:
// its type and exact size. The bytes come afterwards, through UploadContent.
// Declared content counts against the app's MaxContentBytes from the
// start, for as long as its upload URL is valid, and once uploaded for
// good: so neither what the app stored nor what it may still upload can
// take it past the bound.
func (s *Service) CreateContent(ctx context.Context, appID, conversationID, mimeType string, size int64) (out *herald.Content, err error) {
	return s.CreateContentFrom(ctx, appID, conversationID, mimeType, size, "")
}

// CreateContentFrom is CreateContent for content uploaded from a web page
// of origin (Layer's Upload-Origin): its upload and download URLs let that
// origin's scripts use them. An empty origin allows none.
func (s *Service) CreateContentFrom(ctx context.Context, appID, conversationID, mimeType string, size int64, origin string) (out *herald.Content, err error) {
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	if conversationID == "" {
		return nil, herald.NotFound("conversation", conversationID)
	}
	return s.declareContent(ctx, &herald.Content{AppID: appID, ConversationID: conversationID}, mimeType, size, origin)
}

// UnboundContentTTL is how long content a user declared without a
// conversation waits for a message to use it before it is dropped, bytes
// and all. A day past its upload URL's lifetime gives a client that
// uploaded at the last moment a day to send.
const UnboundContentTTL = urls.UploadTTL + 24*time.Hour

// CreateUserContent declares content as a user, before naming the
// conversation it is for, as the Client API's POST /content does: the first
// message that uses it, which only that user or the app may send, binds it
// to that message's conversation. Content no message uses within
// UnboundContentTTL is dropped.
func (s *Service) CreateUserContent(ctx context.Context, appID, userID, mimeType string, size int64, origin string) (*herald.Content, error) {
	if err := checkUserID("user_id", userID); err != nil {
		return nil, err
	}
	return s.declareContent(ctx, &herald.Content{AppID: appID, UserID: userID}, mimeType, size, origin)
}

// UserContent returns content as a user may see it: content they declared,
// or content of a conversation they take part in.
func (s *Service) UserContent(ctx context.Context, appID, userID, id string) (c *herald.Content, err error) {
	id = herald.LocalID(id, herald.ContentIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if c, err = q.Content(ctx, appID, id); err != nil {
			return err
		}
		if c.ConversationID == "" {
			if c.UserID != userID {
				return herald.NotFound("content", id)
			}
			return nil
		}
		conv, err := q.Conversation(ctx, appID, c.ConversationID)
		if err != nil || !conv.HasParticipant(userID) {
			return herald.NotFound("content", id)
		}
		return nil
	})
	return c, err
}

// declareContent checks and records a declaration of content, whose app
// and conversation or user c gives.
func (s *Service) declareContent(ctx context.Context, c *herald.Content, mimeType string, size int64, origin string) (out *herald.Content, err error) {
	appID, conversationID := c.AppID, c.ConversationID
	origin, err = checkUploadOrigin(origin)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(mimeType) == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "Upload-Content-Type", "The Upload-Content-Type header is required.")
	}
	// Parameters may be quoted strings of any bytes; a MIME type is ASCII
	// (RFC 2045), and what is not would differ by engine once stored.
	printable := !strings.ContainsFunc(mimeType, func(r rune) bool { return r < 0x20 || r > 0x7e })
	if mt, _, err := mime.ParseMediaType(mimeType); err != nil || !strings.Contains(mt, "/") || !printable {
		return nil, herald.PropertyError(herald.EInvalidProperty, "Upload-Content-Type", "Upload-Content-Type %q is not a MIME type.", mimeType)
	}
	if size <= 0 || size > s.maxUpload() {
		return nil, herald.PropertyError(herald.EInvalidProperty, "Upload-Content-Length",
			"Upload-Content-Length must be between 1 and %d bytes.", s.maxUpload())
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if conversationID != "" {
			if _, err := tx.Conversation(ctx, appID, conversationID); err != nil {
				return err
			}
		}
		now := s.now()
		if err := s.checkContentQuota(ctx, tx, appID, size, now); err != nil {
			return err
		}
		c := &herald.Content{ID: NewID(), AppID: appID, ConversationID: conversationID, UserID: c.UserID, MimeType: mimeType,
			Size: size, CreatedAt: now, UploadOrigin: origin}
		if err := tx.CreateContent(ctx, c); err != nil {
			return err
		}
		out = c
		return s.record(ctx, tx, appID, herald.EventContentCreated, nil, &herald.EventData{Content: c})
	})
	return out, err
}

// checkContentQuota refuses a declaration of size bytes that would take an
// app past MaxContentBytes.
func (s *Service) checkContentQuota(ctx context.Context, tx herald.Tx, appID string, size int64, now time.Time) error {
	limit := s.MaxContentBytes
	if limit == 0 {
		limit = DefaultMaxContentBytes
	}
	if limit < 0 {
		return nil
	}
	// A declaration older than an upload URL's lifetime can no longer be
	// uploaded: it holds nothing back.
	uploaded, pending, err := tx.ContentUsage(ctx, appID, now.Add(-urls.UploadTTL))
	if err != nil || uploaded+pending+size <= limit {
		return err
	}
	return &herald.Error{ID: herald.EQuotaExceeded,
		Message: fmt.Sprintf("Upload-Content-Length %d would take this app's content past its %d bytes: it has %d bytes uploaded and %d declared and not uploaded yet.",
			size, limit, uploaded, pending),
		Data: map[string]any{"property": "Upload-Content-Length", "limit": limit, "uploaded": uploaded, "pending": pending}}
}

// Content returns an app's content.
func (s *Service) Content(ctx context.Context, appID, id string) (c *herald.Content, err error) {
	id = herald.LocalID(id, herald.ContentIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err = q.Content(ctx, appID, id)
		return err
	})
	return c, err
}

// ContentByID returns content by id alone, for requests authorised by a
// signed URL rather than a token.
func (s *Service) ContentByID(ctx context.Context, id string) (c *herald.Content, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err = q.ContentByID(ctx, id)
		return err
	})
	return c, err
}

// UploadContent stores the bytes of declared content, all at once. Exactly
// the declared size must arrive (see uploadWhole).
func (s *Service) UploadContent(ctx context.Context, c *herald.Content, r io.Reader) error {
	_, err := s.uploadWhole(ctx, c, r, c.Size)
	return err
}

// OpenContent returns the bytes of uploaded content.
func (s *Service) OpenContent(ctx context.Context, c *herald.Content) (io.ReadCloser, error) {
	if c.UploadedAt == nil {
		return nil, herald.Errorf(herald.ENotFound, "Content %s has not been uploaded yet.", c.ID)
	}
	return s.Blobs.Open(ctx, c.BlobKey)
}

// deleteBlobs deletes blobs whose content is gone, once the transaction
// that listed them (DropContent) has committed, and takes them off the
// list. What fails stays listed, for SweepBlobs; the caller's change is
// done whatever happens here.
func (s *Service) deleteBlobs(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	// The client may be gone; the bytes go all the same.
	ctx = context.WithoutCancel(ctx)
	deleted := make([]string, 0, len(keys))
	for _, k := range keys {
		if err := s.Blobs.Delete(ctx, k); err != nil {
			s.logger().Error("deleting a blob whose content is gone; the next sweep retries", "blob", k, "err", err)
			continue
		}
		deleted = append(deleted, k)
	}
	if err := s.Store.Update(ctx, func(tx herald.Tx) error { return tx.ForgetBlobs(ctx, deleted) }); err != nil {
		s.logger().Error("forgetting deleted blobs; the next sweep deletes them again", "err", err)
	}
}

// BlobSweepInterval is how often SweepBlobs should run: it finds only what
// a failure or a crash between a deletion's commit and its blobs' removal
// left behind.
const BlobSweepInterval = 10 * time.Minute

// blobSweepBatch bounds the blobs one round of a sweep deletes.
const blobSweepBatch = 100

// SweepBlobs deletes the blobs still listed as to be deleted (see
// herald.Queries.DropContent), whose content was deleted but whose bytes a
// failure or a crash kept. A blob it cannot delete stays listed, and does
// not keep it from the others. Several nodes may sweep at once: deleting a
// blob twice is harmless. It first lists the chunks of uploads whose URLs
// expired before they were complete.
func (s *Service) SweepBlobs(ctx context.Context) error {
	failed := errors.Join(s.releaseStaleChunks(ctx), s.dropUnboundContent(ctx))
	for after := ""; ; {
		var keys []string
		err := s.Store.View(ctx, func(q herald.Queries) (err error) {
			keys, err = q.BlobsToDelete(ctx, after, blobSweepBatch)
			return err
		})
		if err != nil || len(keys) == 0 {
			return errors.Join(failed, err)
		}
		after = keys[len(keys)-1]
		deleted := make([]string, 0, len(keys))
		for _, k := range keys {
			if err := s.Blobs.Delete(ctx, k); err != nil {
				failed = fmt.Errorf("deleting blob %s: %w", k, err)
				continue
			}
			deleted = append(deleted, k)
		}
		if err := s.Store.Update(ctx, func(tx herald.Tx) error { return tx.ForgetBlobs(ctx, deleted) }); err != nil {
			return errors.Join(failed, err)
		}
		if len(keys) < blobSweepBatch {
			return failed
		}
	}
}

// dropUnboundContent drops content no message used within
// UnboundContentTTL, a batch at a time, listing its blobs for the sweep
// that follows.
func (s *Service) dropUnboundContent(ctx context.Context) error {
	for range 100 {
		var keys []string
		n := 0
		err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
			now := s.now()
			keys, err = tx.DropUnboundContent(ctx, now.Add(-UnboundContentTTL), now, blobSweepBatch)
			n = len(keys)
			return err
		})
		if err != nil || n == 0 {
			return err
		}
	}
	return nil
}
