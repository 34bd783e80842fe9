package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/heraldhq/herald"
)

// testDropContent checks that dropping a conversation's content deletes its
// rows, uploaded or not, lists the blobs of the uploaded ones until they are
// forgotten, and leaves other conversations' content alone.
func testDropContent(t *testing.T, s herald.Store) {
	type declared struct {
		c        *herald.Content
		uploaded bool
	}
	content := func(id, conv string, uploaded bool) declared {
		return declared{&herald.Content{ID: id, AppID: "app", ConversationID: conv, MimeType: "image/png", Size: 3,
			CreatedAt: at(1)}, uploaded}
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, conv := range []string{"gone", "kept"} {
			if err := tx.CreateConversation(ctx, &herald.Conversation{ID: conv, AppID: "app", Participants: []string{"u"},
				CreatedAt: at(0)}, ""); err != nil {
				return err
			}
		}
		for _, d := range []declared{content("c1", "gone", true), content("c2", "gone", false),
			content("c3", "gone", true), content("c4", "kept", true)} {
			if err := tx.CreateContent(ctx, d.c); err != nil {
				return err
			}
			if d.uploaded {
				if err := tx.MarkContentUploaded(ctx, "app", d.c.ID, d.c.ID+".blob", at(2)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	toDelete := func(after string, limit int) (keys []string) {
		t.Helper()
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			keys, err = q.BlobsToDelete(ctx, after, limit)
			return err
		})
		return keys
	}
	if keys := toDelete("", 10); len(keys) != 0 {
		t.Fatalf("blobs to delete before any content was dropped: %v", keys)
	}

	// Another app's conversation of the same id keeps its content.
	var dropped []string
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if dropped, err = tx.DropContent(ctx, "other", "gone", at(3)); err != nil || len(dropped) > 0 {
			return fmt.Errorf("another app's drop: %v, %w", dropped, err)
		}
		dropped, err = tx.DropContent(ctx, "app", "gone", at(3))
		return err
	})
	slices.Sort(dropped)
	if want := []string{"c1.blob", "c3.blob"}; !slices.Equal(dropped, want) {
		t.Fatalf("DropContent returned %v, want %v", dropped, want)
	}
	// The app's quota counts only what it still has: c4's 3 bytes.
	var uploaded, pending int64
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		uploaded, pending, err = q.ContentUsage(ctx, "app", at(0))
		return err
	})
	if uploaded != 3 || pending != 0 {
		t.Fatalf("content usage after the drop: %d bytes uploaded, %d pending; want 3, 0", uploaded, pending)
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if found(t, s, func(ctx context.Context, q herald.Queries) error { _, err := q.ContentByID(ctx, id); return err }) {
			t.Fatalf("content %s of the dropped conversation is still found", id)
		}
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		err := tx.MarkContentUploaded(ctx, "app", "c2", "late.blob", at(4))
		wantNotFound(t, "an upload of dropped content", err)
		return nil
	})
	if !found(t, s, func(ctx context.Context, q herald.Queries) error { _, err := q.Content(ctx, "app", "c4"); return err }) {
		t.Fatal("the other conversation's content is gone")
	}
	if keys := toDelete("", 10); !slices.Equal(keys, dropped) {
		t.Fatalf("blobs to delete: %v, want %v", keys, dropped)
	}
	if keys := toDelete("", 1); !slices.Equal(keys, dropped[:1]) {
		t.Fatalf("first blob to delete: %v, want %v", keys, dropped[:1])
	}
	if keys := toDelete(dropped[0], 10); !slices.Equal(keys, dropped[1:]) {
		t.Fatalf("blobs to delete after %s: %v, want %v", dropped[0], keys, dropped[1:])
	}
	// Dropping again finds nothing more, and lists nothing twice.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		again, err := tx.DropContent(ctx, "app", "gone", at(5))
		if err == nil && len(again) > 0 {
			return fmt.Errorf("dropping again returned %v", again)
		}
		return err
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.ForgetBlobs(ctx, nil); err != nil {
			return err
		}
		return tx.ForgetBlobs(ctx, []string{"c1.blob", "never.blob"})
	})
	if keys := toDelete("", 10); !slices.Equal(keys, []string{"c3.blob"}) {
		t.Fatalf("blobs to delete after forgetting c1's: %v", keys)
	}
}

// BlobDeletionsMigration checks that the upgrade listing blobs to delete
// (SQLite's schema version 10, PostgreSQL's 11) lists those of
// conversations deleted before it, and deletes their content: db is a
// database at version 9, and open opens it as a store, migrating it.
func BlobDeletionsMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	exec := execer(t, db)
	exec(`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`)
	exec(`INSERT INTO conversations (id, app_id, participants, created_at, deleted_at)
		VALUES ('gone', 'app', '["u"]', 0, 5), ('kept', 'app', '["u"]', 0, NULL)`)
	exec(`INSERT INTO contents (id, app_id, conversation_id, mime_type, size, created_at, uploaded_at, blob_key) VALUES
		('c1', 'app', 'gone', 'image/png', 3, 0, 1, 'c1.blob'), ('c2', 'app', 'gone', 'image/png', 3, 0, NULL, NULL),
		('c3', 'app', 'kept', 'image/png', 3, 0, 1, 'c3.blob')`)
	db.Close()

	s := open(t)
	var keys []string
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		keys, err = q.BlobsToDelete(ctx, "", 10)
		return err
	})
	if !slices.Equal(keys, []string{"c1.blob"}) {
		t.Fatalf("blobs to delete after the migration: %v, want [c1.blob]", keys)
	}
	if !found(t, s, func(ctx context.Context, q herald.Queries) error { _, err := q.Content(ctx, "app", "c3"); return err }) {
		t.Fatal("the content of a live conversation is gone after the migration")
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		dropped, err := tx.DropContent(ctx, "app", "gone", at(1))
		if err == nil && len(dropped) > 0 {
			return fmt.Errorf("content of a deleted conversation outlived the migration: %v", dropped)
		}
		return err
	})
}
