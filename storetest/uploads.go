package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/heraldhq/herald"
)

// testContentChunks checks the pieces of uploads in progress: they are
// added only where the received ones end and within the content, read back
// in order, released to the blob deletions with their content's upload,
// when their upload URL has expired or with their conversation; and that
// content keeps its upload origin and shrinks only before its upload.
func testContentChunks(t *testing.T, s herald.Store) {
	errID := func(err error) herald.ErrorID {
		if e, ok := herald.AsError(err); ok {
			return e.ID
		}
		return herald.ErrorID(fmt.Sprint(err))
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, conv := range []string{"conv", "gone"} {
			if err := tx.CreateConversation(ctx, &herald.Conversation{ID: conv, AppID: "app", Participants: []string{"u"},
				CreatedAt: at(0)}, ""); err != nil {
				return err
			}
		}
		for _, c := range []*herald.Content{
			{ID: "c1", ConversationID: "conv", Size: 10, CreatedAt: at(1), UploadOrigin: "https://app.example"},
			{ID: "c2", ConversationID: "conv", Size: 5, CreatedAt: at(1)},
			{ID: "old", ConversationID: "conv", Size: 5, CreatedAt: at(1)},
			{ID: "new", ConversationID: "conv", Size: 5, CreatedAt: at(10)},
			{ID: "done", ConversationID: "conv", Size: 5, CreatedAt: at(1)},
			{ID: "g", ConversationID: "gone", Size: 5, CreatedAt: at(10)},
		} {
			c.AppID, c.MimeType = "app", "image/png"
			if err := tx.CreateContent(ctx, c); err != nil {
				return err
			}
		}
		return tx.MarkContentUploaded(ctx, "app", "done", "done.blob", at(2))
	})
	chunks := func(id string) (out []herald.ContentChunk) {
		t.Helper()
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			out, err = q.ContentChunks(ctx, "app", id)
			return err
		})
		return out
	}
	add := func(id string, c herald.ContentChunk) (err error) {
		t.Helper()
		s.Update(context.Background(), func(tx herald.Tx) error {
			err = tx.AddContentChunk(context.Background(), "app", id, c)
			return err
		})
		return err
	}
	if got := chunks("c1"); len(got) != 0 {
		t.Fatalf("chunks before any: %v", got)
	}
	if err := add("c1", herald.ContentChunk{Offset: 0, Size: 4, BlobKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	for what, c := range map[string]herald.ContentChunk{
		"from byte 0 again":       {Offset: 0, Size: 3, BlobKey: "x1"},
		"leaving a gap":           {Offset: 5, Size: 2, BlobKey: "x2"},
		"before the received end": {Offset: 3, Size: 2, BlobKey: "x3"},
	} {
		if err := add("c1", c); errID(err) != herald.EConflict {
			t.Fatalf("a chunk %s: %v, want a conflict", what, err)
		}
	}
	if err := add("c1", herald.ContentChunk{Offset: 4, Size: 7, BlobKey: "x4"}); errID(err) != herald.EInvalidOperation {
		t.Fatalf("a chunk past the content's end: %v, want invalid_operation", err)
	}
	if err := add("done", herald.ContentChunk{Offset: 0, Size: 1, BlobKey: "x5"}); errID(err) != herald.EConflict {
		t.Fatalf("a chunk of uploaded content: %v, want a conflict", err)
	}
	wantNotFound(t, "a chunk of other content", add("missing", herald.ContentChunk{Offset: 0, Size: 1, BlobKey: "x6"}))
	// A chunk added by an update that fails is not kept.
	failed := errors.New("rolled back")
	if err := s.Update(context.Background(), func(tx herald.Tx) error {
		if err := tx.AddContentChunk(context.Background(), "app", "c1", herald.ContentChunk{Offset: 4, Size: 1, BlobKey: "x7"}); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("the failing update: %v", err)
	}
	if err := add("c1", herald.ContentChunk{Offset: 4, Size: 6, BlobKey: "k2"}); err != nil {
		t.Fatal(err)
	}
	want := []herald.ContentChunk{{Offset: 0, Size: 4, BlobKey: "k1"}, {Offset: 4, Size: 6, BlobKey: "k2"}}
	if got := chunks("c1"); !slices.Equal(got, want) {
		t.Fatalf("chunks of c1: %v, want %v", got, want)
	}
	var c1 *herald.Content
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		c1, err = q.ContentByID(ctx, "c1")
		return err
	})
	if c1.UploadOrigin != "https://app.example" {
		t.Fatalf("upload origin %q", c1.UploadOrigin)
	}

	// Shrinking, before the upload only, and never growing.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.ShrinkContent(ctx, "app", "c2", 6); errID(err) != herald.EInvalidOperation {
			return fmt.Errorf("growing content: %v, want invalid_operation", err)
		}
		if err := tx.ShrinkContent(ctx, "app", "done", 1); errID(err) != herald.EConflict {
			return fmt.Errorf("shrinking uploaded content: %v, want a conflict", err)
		}
		if err := tx.ShrinkContent(ctx, "app", "c2", 3); err != nil {
			return err
		}
		c, err := tx.Content(ctx, "app", "c2")
		if err == nil && c.Size != 3 {
			err = fmt.Errorf("shrunk content has %d bytes, want 3", c.Size)
		}
		return err
	})

	var released []string
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		released, err = tx.ReleaseContentChunks(ctx, "app", "c1", at(20))
		return err
	})
	if !slices.Equal(released, []string{"k1", "k2"}) || len(chunks("c1")) != 0 {
		t.Fatalf("released %v, left %v", released, chunks("c1"))
	}

	// Stale chunks: those of content whose upload URL expired.
	for _, id := range []string{"old", "new", "g"} {
		if err := add(id, herald.ContentChunk{Offset: 0, Size: 2, BlobKey: id + ".k"}); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		released, err = tx.ReleaseStaleContentChunks(ctx, at(5), at(20), 10)
		return err
	})
	if !slices.Equal(released, []string{"old.k"}) || len(chunks("new")) != 1 {
		t.Fatalf("stale chunks released: %v; new content's chunks %v", released, chunks("new"))
	}
	// Dropping a conversation lists its chunks with its blobs.
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		released, err = tx.DropContent(ctx, "app", "gone", at(21))
		return err
	})
	if !slices.Equal(released, []string{"g.k"}) {
		t.Fatalf("dropping the conversation listed %v", released)
	}
	var toDelete []string
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		toDelete, err = q.BlobsToDelete(ctx, "", 10)
		return err
	})
	if want := []string{"g.k", "k1", "k2", "old.k"}; !slices.Equal(toDelete, want) {
		t.Fatalf("blobs to delete: %v, want %v", toDelete, want)
	}
}
