package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// testUnboundContent: content declared for no conversation is read like
// any other, bound once to a conversation, and dropped with its bytes and
// from its app's total once too old, unless it was bound.
func testUnboundContent(t *testing.T, s herald.Store) {
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, app := range []string{"app-1", "app-2"} {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
		}
		if err := tx.CreateConversation(ctx, &herald.Conversation{ID: "conv", AppID: "app-1", Participants: []string{"u"},
			CreatedAt: at(0)}, ""); err != nil {
			return err
		}
		for i, c := range []struct{ id, app string }{{"bound", "app-1"}, {"old", "app-1"}, {"old-2", "app-2"}, {"new", "app-1"}} {
			created := at(1)
			if c.id == "new" {
				created = at(10)
			}
			if err := tx.CreateContent(ctx, &herald.Content{ID: c.id, AppID: c.app, UserID: "u", MimeType: "image/png",
				Size: int64(10 * (i + 1)), CreatedAt: created}); err != nil {
				return err
			}
			if err := tx.MarkContentUploaded(ctx, c.app, c.id, c.id+".blob", created); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		c, err := q.Content(ctx, "app-1", "old")
		if err != nil {
			return err
		}
		if c.ConversationID != "" || c.UserID != "u" || c.UploadedAt == nil {
			t.Errorf("unbound content read as %+v", c)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.BindContent(ctx, "app-2", "bound", "conv"); !herald.IsNotFound(err) {
			t.Errorf("binding another app's content: %v", err)
		}
		return tx.BindContent(ctx, "app-1", "bound", "conv")
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		// Bound already: left as it is.
		return tx.BindContent(ctx, "app-1", "bound", "elsewhere")
	})
	var dropped []string
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		dropped, err = tx.DropUnboundContent(ctx, at(5), at(20), 10)
		return err
	})
	sameSet(t, "blobs of dropped content", dropped, []string{"old.blob", "old-2.blob"})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		c, err := q.Content(ctx, "app-1", "bound")
		if err != nil || c.ConversationID != "conv" {
			t.Errorf("bound content after the drop: %+v, %v", c, err)
		}
		if _, err := q.Content(ctx, "app-1", "old"); !herald.IsNotFound(err) {
			t.Errorf("old unbound content after the drop: %v", err)
		}
		if _, err := q.Content(ctx, "app-1", "new"); err != nil {
			t.Errorf("new unbound content after the drop: %v", err)
		}
		keys, err := q.BlobsToDelete(ctx, "", 10)
		if err != nil {
			return err
		}
		sameSet(t, "blobs to delete", keys, []string{"old.blob", "old-2.blob"})
		for app, want := range map[string]int64{"app-1": 10 + 40, "app-2": 0} {
			uploaded, _, err := q.ContentUsage(ctx, app, at(0))
			if err != nil {
				return err
			}
			if uploaded != want {
				t.Errorf("%s has %d bytes uploaded after the drop, want %d", app, uploaded, want)
			}
		}
		return nil
	})
}
