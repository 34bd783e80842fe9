package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func testTemplates(t *testing.T, s herald.Store) {
	tpl := func(n int, channel, name, status string) *herald.Template {
		return &herald.Template{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), AppID: "app", ChannelUUID: channel,
			Name: name, Language: "en_US", Title: "T" + name, Text: "Hello {{1}}", TemplateType: "text",
			Category: "UTILITY", Status: status, CreatedAt: at(n), UpdatedAt: at(n)}
	}
	// Created out of order: the listing is oldest first, whatever the UUIDs.
	t3, t1, t2 := tpl(3, "ch-a", "welcome", "approved"), tpl(1, "ch-a", "receipt", "pending"), tpl(2, "ch-b", "welcome", "approved")
	foreign := tpl(4, "ch-a", "other", "approved")
	foreign.AppID = "other"
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, x := range []*herald.Template{t3, t1, t2, foreign} {
			if err := tx.CreateTemplate(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	// The same name in another language is another template; in the same
	// language, a conflict that leaves the update usable.
	fr := tpl(5, "ch-a", "welcome", "approved")
	fr.Language = "fr"
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		dup := tpl(6, "ch-a", "welcome", "approved")
		err := tx.CreateTemplate(ctx, dup)
		if e, ok := herald.AsError(err); !ok || e.ID != herald.EConflict {
			t.Fatalf("duplicate name and language: err = %v, want conflict", err)
		}
		return tx.CreateTemplate(ctx, fr)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Template(ctx, "app", t3.UUID)
		if err != nil {
			return err
		}
		same(t, "template", got, t3)
		_, err = q.Template(ctx, "other", t3.UUID)
		wantNotFound(t, "template of another app", err)
		cases := []struct {
			f             herald.TemplateFilter
			offset, limit int
			want          []*herald.Template
			total         int
		}{
			{herald.TemplateFilter{}, 0, 10, []*herald.Template{t1, t2, t3, fr}, 4},
			{herald.TemplateFilter{}, 1, 2, []*herald.Template{t2, t3}, 4},
			{herald.TemplateFilter{ChannelUUID: "ch-a"}, 0, 10, []*herald.Template{t1, t3, fr}, 3},
			{herald.TemplateFilter{Status: "approved"}, 0, 10, []*herald.Template{t2, t3, fr}, 3},
			{herald.TemplateFilter{ChannelUUID: "ch-a", Status: "pending"}, 0, 10, []*herald.Template{t1}, 1},
			{herald.TemplateFilter{ChannelUUID: "ch-c"}, 0, 10, nil, 0},
		}
		for _, c := range cases {
			list, total, err := q.Templates(ctx, "app", c.f, c.offset, c.limit)
			if err != nil {
				return err
			}
			if total != c.total {
				t.Errorf("templates %+v: total %d, want %d", c.f, total, c.total)
			}
			same(t, fmt.Sprintf("templates %+v from %d", c.f, c.offset), list, c.want)
		}
		return nil
	})

	t1.Title, t1.Status, t1.UpdatedAt = "Receipt", "approved", at(9)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateTemplate(ctx, t1) })
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		renamed := *t1
		renamed.Name = "welcome"
		err := tx.UpdateTemplate(ctx, &renamed)
		if e, ok := herald.AsError(err); !ok || e.ID != herald.EConflict {
			t.Fatalf("rename onto another template: err = %v, want conflict", err)
		}
		missing := *t1
		missing.AppID = "other"
		wantNotFound(t, "update another app's template", tx.UpdateTemplate(ctx, &missing))
		wantNotFound(t, "delete another app's template", tx.DeleteTemplate(ctx, "other", t2.UUID))
		return tx.DeleteTemplate(ctx, "app", t2.UUID)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Template(ctx, "app", t1.UUID)
		if err != nil {
			return err
		}
		same(t, "updated template", got, t1)
		_, err = q.Template(ctx, "app", t2.UUID)
		wantNotFound(t, "deleted template", err)
		return nil
	})
}

func testContactLastInbound(t *testing.T, s herald.Store) {
	c := &herald.Contact{UUID: "00000000-0000-4000-8000-0000000000c1", AppID: "app", ChannelUUID: "ch",
		Source: "whatsapp", Name: "Ann", PhoneNumber: "15550001", Tags: []string{}, CreatedAt: at(0), UpdatedAt: at(0),
		ConversationID: "conv", OpenedAt: at(0)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.CreateContact(ctx, c) })
	last := func() *time.Time {
		var got *time.Time
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.ContactLastInbound(ctx, "app", c.UUID)
			return err
		})
		return got
	}
	if got := last(); got != nil {
		t.Fatalf("a contact who never wrote: last inbound %v, want none", got)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.SetContactLastInbound(ctx, "app", c.UUID, at(5))
	})
	// An earlier message recorded late does not move the time back.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.SetContactLastInbound(ctx, "app", c.UUID, at(3))
	})
	if got := last(); got == nil || !got.Equal(at(5)) {
		t.Fatalf("last inbound %v, want %v", got, at(5))
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.SetContactLastInbound(ctx, "app", c.UUID, at(8))
	})
	if got := last(); got == nil || !got.Equal(at(8)) {
		t.Fatalf("last inbound %v, want %v", got, at(8))
	}
	err := s.View(context.Background(), func(q herald.Queries) error {
		_, err := q.ContactLastInbound(context.Background(), "other", c.UUID)
		return err
	})
	wantNotFound(t, "another app's contact", err)
	err = s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.SetContactLastInbound(context.Background(), "app", "no-such-contact", at(9))
	})
	wantNotFound(t, "missing contact", err)
}

// LastInboundMigration checks that the migration adding contacts' last
// inbound time (SQLite's version 26, PostgreSQL's 27) gives each contact
// the time of the last message it sent, and none to a contact who never
// wrote: db is a database at version 23, before every migration of
// channels' CRM fields, and open opens it as a store, migrating it.
func LastInboundMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	exec := execer(t, db)
	exec(`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`)
	for _, c := range []string{"wrote", "silent"} {
		exec(`INSERT INTO contacts (uuid, app_id, channel_uuid, source, phone_number, created_at, updated_at, conversation_id, opened_at)
			VALUES ($1, 'app', 'ch', 'whatsapp', $2, 0, 0, $3, 0)`, c, "1555"+c, "conv-"+c)
	}
	for i, m := range []struct {
		conv, sender string
		at           time.Time
	}{
		{"conv-wrote", "wrote", at(1)}, {"conv-wrote", "wrote", at(5)}, {"conv-wrote", "", at(9)}, {"conv-silent", "", at(7)},
	} {
		exec(`INSERT INTO messages (id, app_id, conversation_id, position, sender_user_id, parts, sent_at, recipient_status)
			VALUES ($1, 'app', $2, $3, $4, '[]', $5, '{}')`, fmt.Sprintf("m%d", i), m.conv, i+1, m.sender, m.at.UnixMicro())
	}
	db.Close()

	s := open(t)
	for contact, want := range map[string]*time.Time{"wrote": ptr(at(5)), "silent": nil} {
		var got *time.Time
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.ContactLastInbound(ctx, "app", contact)
			return err
		})
		if (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
			t.Fatalf("contact %s after the migration: last inbound %v, want %v", contact, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
