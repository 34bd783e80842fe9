package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// CountAnnouncements counts what Announcements lists: a user's, in their
// app, less those deleted for them.
func testCountAnnouncements(t *testing.T, s herald.Store) {
	announce := func(id string, users ...string) *herald.Announcement {
		a := &herald.Announcement{ID: id, AppID: "app", Sender: herald.Sender{Name: "Team"},
			Parts: []herald.Part{{MimeType: "text/plain", Body: "hi"}}, SentAt: at(1), RecipientStatus: map[string]string{}}
		for _, u := range users {
			a.RecipientStatus[u] = herald.StatusSent
		}
		return a
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, a := range []*herald.Announcement{announce("a1", "bob", "carol"), announce("a2", "bob"), announce("a3", "carol")} {
			if err := tx.CreateAnnouncement(ctx, a); err != nil {
				return err
			}
		}
		_, err := tx.DeleteAnnouncementForUser(ctx, "app", "a3", "carol")
		return err
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for user, want := range map[string]int{"bob": 2, "carol": 1, "dave": 0} {
			n, err := q.CountAnnouncements(ctx, "app", user)
			if err != nil {
				return err
			}
			as, err := q.Announcements(ctx, "app", user, herald.Page{Limit: 10})
			if err != nil {
				return err
			}
			if n != want || len(as) != want {
				t.Errorf("%s: counted %d, listed %d; want %d", user, n, len(as), want)
			}
		}
		return nil
	})
}
