package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// testGone: a deleted conversation, a message deleted for all, and the
// messages of a deleted conversation are told apart from objects that never
// existed, and from those of another app.
func testGone(t *testing.T, s herald.Store) {
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, app := range []string{"app-1", "app-2"} {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
		}
		for _, id := range []string{"live", "dead"} {
			c := &herald.Conversation{ID: id, AppID: "app-1", Participants: []string{"a"}, CreatedAt: at(0)}
			if err := tx.CreateConversation(ctx, c, ""); err != nil {
				return err
			}
			for i, m := range []string{id + "-kept", id + "-deleted"} {
				msg := &herald.Message{ID: m, AppID: "app-1", ConversationID: id, Position: int64(i + 1),
					Sender: herald.Sender{UserID: "a"}, Parts: []herald.Part{{MimeType: "text/plain", Body: "x"}},
					SentAt: at(i), RecipientStatus: map[string]string{"a": herald.StatusRead}}
				if err := tx.CreateMessage(ctx, msg); err != nil {
					return err
				}
				if i == 1 {
					deleted := at(5)
					msg.DeletedAt = &deleted
					if err := tx.UpdateMessage(ctx, msg); err != nil {
						return err
					}
				}
			}
		}
		c, err := tx.Conversation(ctx, "app-1", "dead")
		if err != nil {
			return err
		}
		deleted := at(9)
		c.DeletedAt = &deleted
		return tx.UpdateConversation(ctx, c, "")
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for _, tc := range []struct {
			app, id string
			want    bool
		}{{"app-1", "live", false}, {"app-1", "dead", true}, {"app-1", "never", false}, {"app-2", "dead", false}} {
			got, err := q.ConversationDeleted(ctx, tc.app, tc.id)
			if err != nil {
				return err
			}
			if got != tc.want {
				t.Errorf("ConversationDeleted(%s, %s) = %v, want %v", tc.app, tc.id, got, tc.want)
			}
		}
		for _, tc := range []struct {
			app, id string
			want    bool
		}{{"app-1", "live-kept", false}, {"app-1", "live-deleted", true}, {"app-1", "dead-kept", true},
			{"app-1", "dead-deleted", true}, {"app-1", "never", false}, {"app-2", "live-deleted", false}} {
			got, err := q.MessageDeleted(ctx, tc.app, tc.id)
			if err != nil {
				return err
			}
			if got != tc.want {
				t.Errorf("MessageDeleted(%s, %s) = %v, want %v", tc.app, tc.id, got, tc.want)
			}
		}
		// IDTaken looks across apps and deletions.
		for _, tc := range []struct {
			kind, id string
			want     bool
		}{{"conversation", "dead", true}, {"conversation", "live", true}, {"conversation", "never", false},
			{"message", "dead-deleted", true}, {"message", "never", false}, {"announcement", "live", false}} {
			got, err := q.IDTaken(ctx, tc.kind, tc.id)
			if err != nil {
				return err
			}
			if got != tc.want {
				t.Errorf("IDTaken(%s, %s) = %v, want %v", tc.kind, tc.id, got, tc.want)
			}
		}
		if _, err := q.IDTaken(ctx, "webhook", "x"); err == nil {
			t.Error("IDTaken of an unknown kind answered")
		}
		return nil
	})
}
