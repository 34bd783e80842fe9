package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// testCRMFields checks a contact's CRM fields and a channel's discarding,
// and contacts known by BSUID with or without an address.
func testCRMFields(t *testing.T, s herald.Store) {
	blocked, discarded := at(5), at(6)
	ann := newContact("u1", channelA, "390001", at(0))
	ann.Bsuid, ann.Note, ann.BlockedAt, ann.FunnelUUID, ann.BotStatus = "bs-ann", "Prefers mornings", &blocked, "f-1", herald.BotStarted
	// Two contacts known only by BSUID: no address, which is not a
	// duplicate of the other's.
	nobody := newContact("u2", channelA, "", at(1))
	nobody.Bsuid = "bs-nobody"
	other := newContact("u3", channelA, "", at(2))
	other.Bsuid = "bs-other"
	sameBsuidElsewhere := newContact("u4", channelB, "390009", at(3))
	sameBsuidElsewhere.Bsuid = "bs-ann"
	ch := &herald.Channel{UUID: "00000000-0000-4000-8000-0000000000c1", AppID: "app", Type: "whatsapp",
		Identifier: "15550001", Title: "Support", Main: true, CreatedAt: at(0)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, c := range []*herald.Contact{ann, nobody, other, sameBsuidElsewhere} {
			if err := tx.CreateContact(ctx, c); err != nil {
				return err
			}
		}
		return tx.CreateChannel(ctx, ch)
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		dup := newContact("u5", channelA, "390005", at(4))
		dup.Bsuid = "bs-ann"
		err := tx.CreateContact(ctx, dup)
		if e, ok := herald.AsError(err); !ok || e.ID != herald.EConflict || e.Data["bsuid"] != "bs-ann" {
			t.Fatalf("duplicate BSUID: err = %#v, want a conflict naming the BSUID", err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Contact(ctx, "app", ann.UUID)
		if err != nil {
			return err
		}
		same(t, "contact with CRM fields", got, ann)
		got, err = q.ContactByBsuid(ctx, "app", channelA, "bs-nobody")
		if err != nil {
			return err
		}
		same(t, "contact by BSUID", got, nobody)
		got, err = q.ContactByBsuid(ctx, "app", channelB, "bs-ann")
		if err != nil {
			return err
		}
		same(t, "contact by BSUID on another channel", got, sameBsuidElsewhere)
		_, err = q.ContactByBsuid(ctx, "app", channelA, "")
		wantNotFound(t, "contact by an empty BSUID", err)
		_, err = q.ContactByBsuid(ctx, "other", channelA, "bs-ann")
		wantNotFound(t, "contact by BSUID of another app", err)
		_, err = q.ContactByAddress(ctx, "app", channelA, "")
		wantNotFound(t, "contact by an empty address", err)
		return nil
	})

	// A contact moves to another channel.
	ann.Bsuid, ann.Note, ann.BlockedAt, ann.FunnelUUID, ann.BotStatus = "bs-ann2", "", nil, "", herald.BotEnded
	ann.ChannelUUID = channelB
	ch.DiscardedAt, ch.Main = &discarded, false
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.UpdateContact(ctx, ann); err != nil {
			return err
		}
		return tx.UpdateChannel(ctx, ch)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Contact(ctx, "app", ann.UUID)
		if err != nil {
			return err
		}
		same(t, "contact with CRM fields cleared", got, ann)
		gotCh, err := q.Channel(ctx, "app", ch.UUID)
		if err != nil {
			return err
		}
		same(t, "discarded channel", gotCh, ch)
		return nil
	})
}

func testFunnels(t *testing.T, s herald.Store) {
	late := &herald.Funnel{UUID: "f-1", AppID: "app", Name: "Action", Emoji: "🎯", Position: 2, CreatedAt: at(0)}
	early := &herald.Funnel{UUID: "f-2", AppID: "app", Name: "Awareness", Position: 1, CreatedAt: at(1)}
	tie := &herald.Funnel{UUID: "f-0", AppID: "app", Name: "Interest", Position: 2, CreatedAt: at(2)}
	elsewhere := &herald.Funnel{UUID: "f-3", AppID: "other", Name: "Other", CreatedAt: at(3)}
	inFunnel := newContact("u1", channelA, "390001", at(0))
	inFunnel.FunnelUUID = tie.UUID
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, f := range []*herald.Funnel{late, early, tie, elsewhere} {
			if err := tx.CreateFunnel(ctx, f); err != nil {
				return err
			}
		}
		return tx.CreateContact(ctx, inFunnel)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Funnel(ctx, "app", late.UUID)
		if err != nil {
			return err
		}
		same(t, "funnel", got, late)
		_, err = q.Funnel(ctx, "other", late.UUID)
		wantNotFound(t, "funnel of another app", err)
		list, err := q.Funnels(ctx, "app")
		if err != nil {
			return err
		}
		// By position, then oldest first.
		same(t, "funnels", list, []*herald.Funnel{early, late, tie})
		for f, want := range map[string]bool{tie.UUID: true, late.UUID: false} {
			used, err := q.FunnelInUse(ctx, "app", f)
			if err != nil {
				return err
			}
			if used != want {
				t.Fatalf("FunnelInUse(%s) = %v, want %v", f, used, want)
			}
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteFunnel(ctx, "app", late.UUID) })
	err := s.Update(context.Background(), func(tx herald.Tx) error { return tx.DeleteFunnel(context.Background(), "app", late.UUID) })
	wantNotFound(t, "deleting a deleted funnel", err)
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		list, err := q.Funnels(ctx, "app")
		if err != nil {
			return err
		}
		same(t, "funnels after a deletion", list, []*herald.Funnel{early, tie})
		return nil
	})
}

func testContactFields(t *testing.T, s herald.Store) {
	plan := &herald.ContactField{AppID: "app", Name: "Plan", Type: "dropdown", Options: []string{"Gold", "Silver"}, CreatedAt: at(0)}
	email := &herald.ContactField{AppID: "app", Name: "Billing Email", Type: "email", CreatedAt: at(1)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, f := range []*herald.ContactField{plan, email, {AppID: "other", Name: "Plan", Type: "text", CreatedAt: at(2)}} {
			if err := tx.PutContactField(ctx, f); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(want ...*herald.ContactField) {
		t.Helper()
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			got, err := q.ContactFields(ctx, "app")
			if err != nil {
				return err
			}
			same(t, "custom fields", got, want)
			return nil
		})
	}
	list(email, plan)
	// Putting a field again replaces its type and options; it keeps its
	// creation time.
	replaced := &herald.ContactField{AppID: "app", Name: "Plan", Type: "checkbox", Options: []string{"A"}, CreatedAt: at(9)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutContactField(ctx, replaced) })
	replaced.CreatedAt = plan.CreatedAt
	list(email, replaced)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.DeleteContactField(ctx, "app", "Billing Email")
	})
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.DeleteContactField(context.Background(), "app", "Billing Email")
	})
	wantNotFound(t, "deleting a deleted custom field", err)
	list(replaced)
}
