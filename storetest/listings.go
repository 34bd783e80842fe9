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

// Followed: explicit follows and conversation partners, once each, the
// latest first, paged; a partner who left stays followed, a conversation
// the follower left no longer counts.
func testFollowed(t *testing.T, s herald.Store) {
	// c1 at 0: ann, bob, cy. c2 at 0, then ann leaves: ann, dee.
	newInbox(t, s, "c1", "ann", "bob", "cy")
	c2 := newInbox(t, s, "c2", "ann", "dee")
	c2.setParticipants(1, "dee")
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if _, err := tx.AddFollows(ctx, "app", "ann", []string{"eve", "bob"}, at(5)); err != nil {
			return err
		}
		_, err := tx.AddFollows(ctx, "app", "bob", []string{"eve"}, at(6))
		return err
	})
	// cy leaves c1: ann still follows them.
	in := &inbox{t: t, s: s, conv: &herald.Conversation{ID: "c1", AppID: "app"}}
	in.setParticipants(2, "ann", "bob")
	page := func(user, after string, limit int) []string {
		var got []string
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.Followed(ctx, "app", user, after, limit)
			return err
		})
		return got
	}
	// eve and bob at 5 (explicit, bob's later than c1), cy at 0.
	same(t, "ann follows", page("ann", "", 10), []string{"eve", "bob", "cy"})
	same(t, "ann's second page", page("ann", "bob", 10), []string{"cy"})
	same(t, "ann's first two", page("ann", "", 2), []string{"eve", "bob"})
	same(t, "bob follows", page("bob", "", 10), []string{"eve", "cy", "ann"})
	same(t, "dee follows ann, who left", page("dee", "", 10), []string{"ann"})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		n, err := q.CountFollowed(ctx, "app", "ann")
		if err != nil {
			return err
		}
		same(t, "ann's count", n, 3)
		for user, want := range map[string]bool{"cy": true, "dee": false, "eve": true, "zed": false} {
			ok, err := q.IsFollowed(ctx, "app", "ann", user)
			if err != nil {
				return err
			}
			if ok != want {
				t.Errorf("ann follows %s: %v, want %v", user, ok, want)
			}
		}
		_, err = q.Followed(ctx, "app", "ann", "dee", 10)
		wantNotFound(t, "paging after a user not followed", err)
		return nil
	})
}
