package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func testChannels(t *testing.T, s herald.Store) {
	wa := &herald.Channel{UUID: "00000000-0000-4000-8000-000000000002", AppID: "app", Type: "whatsapp",
		Identifier: "+15550001", Title: "Support", Main: true, CreatedAt: at(0)}
	sms := &herald.Channel{UUID: "00000000-0000-4000-8000-000000000001", AppID: "app", Type: "sms",
		Identifier: "+15550002", Title: "Texts", CreatedAt: at(1)}
	other := &herald.Channel{UUID: "00000000-0000-4000-8000-000000000003", AppID: "other", Type: "email",
		Identifier: "help@example.com", CreatedAt: at(2)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, c := range []*herald.Channel{wa, sms, other} {
			if err := tx.CreateChannel(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Channel(ctx, "app", wa.UUID)
		if err != nil {
			return err
		}
		if got.AppID != "app" || !got.Main || !got.CreatedAt.Equal(wa.CreatedAt) {
			t.Fatalf("channel = %+v", got)
		}
		same(t, "channel", got, wa)
		_, err = q.Channel(ctx, "other", wa.UUID)
		wantNotFound(t, "channel of another app", err)
		_, err = q.Channel(ctx, "app", "nope")
		wantNotFound(t, "missing channel", err)
		list, err := q.Channels(ctx, "app")
		if err != nil {
			return err
		}
		// Oldest first, whatever the UUIDs.
		same(t, "channels", list, []*herald.Channel{wa, sms})
		return nil
	})

	wa.Identifier, wa.Title, wa.Main = "+15550009", "Sales", false
	wa.Type = "sms" // not saved: a channel keeps its type
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateChannel(ctx, wa) })
	wa.Type = "whatsapp"
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Channel(ctx, "app", wa.UUID)
		if err != nil {
			return err
		}
		same(t, "updated channel", got, wa)
		return nil
	})
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.UpdateChannel(context.Background(), &herald.Channel{UUID: "nope", AppID: "app"})
	})
	wantNotFound(t, "updating a missing channel", err)
}

const channelA, channelB = "c0000000-0000-4000-8000-00000000000a", "c0000000-0000-4000-8000-00000000000b"

func newContact(uuid, channel, address string, created time.Time) *herald.Contact {
	return &herald.Contact{UUID: uuid, AppID: "app", ChannelUUID: channel, Source: "whatsapp", Name: "Name " + uuid,
		PhoneNumber: address, Tags: []string{}, CreatedAt: created, UpdatedAt: created, ConversationID: "conv-" + uuid,
		OpenedAt: created}
}

func testContacts(t *testing.T, s herald.Store) {
	ann := newContact("u1", channelA, "+390001", at(0))
	ann.AvatarURL = "https://example.com/a.png"
	ann.Tags = []string{"vip", "Rome"}
	ann.CustomFields = map[string]any{"plan": "gold", "seats": float64(3), "flags": map[string]any{"beta": true}}
	ann.AssignedUser = "agent-1"
	bob := newContact("u2", channelA, "+390002", at(1))
	bob.Tags = nil // no tags (read back as []), no custom fields
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		if err := tx.CreateContact(ctx, ann); err != nil {
			return err
		}
		return tx.CreateContact(ctx, bob)
	})
	bob.Tags = []string{}

	// A second contact with Ann's address on the same channel is a
	// conflict, which leaves the rest of the update free to go on.
	dup := newContact("u3", channelA, ann.PhoneNumber, at(2))
	sameAddressElsewhere := newContact("u4", channelB, ann.PhoneNumber, at(3))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		err := tx.CreateContact(ctx, dup)
		e, ok := herald.AsError(err)
		if !ok || e.ID != herald.EConflict {
			t.Fatalf("duplicate address: err = %#v, want a conflict *herald.Error", err)
		}
		if !strings.Contains(e.Message, ann.PhoneNumber) {
			t.Fatalf("the conflict does not name the address: %q", e.Message)
		}
		if existing, _ := e.Data["contact"].(*herald.Contact); existing == nil || existing.UUID != ann.UUID {
			t.Fatalf("the conflict does not hold the existing contact: %#v", e.Data)
		}
		return tx.CreateContact(ctx, sameAddressElsewhere)
	})

	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Contact(ctx, "app", ann.UUID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got.CustomFields, ann.CustomFields) {
			t.Fatalf("custom fields = %#v, want %#v", got.CustomFields, ann.CustomFields)
		}
		same(t, "contact", got, ann)
		got, err = q.Contact(ctx, "app", bob.UUID)
		if err != nil {
			return err
		}
		if got.Tags == nil || len(got.Tags) != 0 {
			t.Fatalf("tags without any = %#v, want []", got.Tags)
		}
		if got.CustomFields != nil {
			t.Fatalf("custom fields without any = %#v, want nil", got.CustomFields)
		}
		if !strings.Contains(jsonOf(t, got), `"tags":[]`) {
			t.Fatalf("tags are not [] in %s", jsonOf(t, got))
		}
		_, err = q.Contact(ctx, "app", dup.UUID)
		wantNotFound(t, "contact refused as a duplicate", err)
		_, err = q.Contact(ctx, "other", ann.UUID)
		wantNotFound(t, "contact of another app", err)

		got, err = q.ContactByAddress(ctx, "app", channelA, ann.PhoneNumber)
		if err != nil {
			return err
		}
		same(t, "contact by address", got, ann)
		got, err = q.ContactByAddress(ctx, "app", channelB, ann.PhoneNumber)
		if err != nil {
			return err
		}
		same(t, "contact by address on the other channel", got, sameAddressElsewhere)
		_, err = q.ContactByAddress(ctx, "app", channelB, bob.PhoneNumber)
		wantNotFound(t, "address unknown on a channel", err)

		return nil
	})

	// Update every field that may change; the channel and creation time
	// stay.
	closed := at(30)
	ann.Name, ann.PhoneNumber, ann.AvatarURL = "Ann B.", "+390009", ""
	ann.Tags = []string{"gold"}
	ann.CustomFields = map[string]any{"plan": "platinum"}
	ann.AssignedUser, ann.UpdatedAt = "", at(30)
	ann.ConversationID, ann.OpenedAt = "conv-u1-b", at(20)
	ann.ClosedAt, ann.ClosingReason = &closed, "resolved"
	bob.Tags, bob.CustomFields = []string{"new"}, map[string]any{}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		changed := *ann
		changed.CreatedAt = at(99) // not saved; a move of channel is (see testCRMFields)
		if err := tx.UpdateContact(ctx, &changed); err != nil {
			return err
		}
		return tx.UpdateContact(ctx, bob)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Contact(ctx, "app", ann.UUID)
		if err != nil {
			return err
		}
		if got.ClosedAt == nil || !got.ClosedAt.Equal(closed) || got.ClosingReason != "resolved" {
			t.Fatalf("closing not saved: %+v", got)
		}
		same(t, "updated contact", got, ann)
		got, err = q.ContactByAddress(ctx, "app", channelA, "+390009")
		if err != nil {
			return err
		}
		same(t, "updated contact by address", got, ann)
		_, err = q.ContactByAddress(ctx, "app", channelA, "+390001")
		wantNotFound(t, "old address", err)
		got, err = q.Contact(ctx, "app", bob.UUID)
		if err != nil {
			return err
		}
		if got.CustomFields == nil || len(got.CustomFields) != 0 || !reflect.DeepEqual(got.Tags, []string{"new"}) {
			t.Fatalf("bob = %+v", got)
		}
		return nil
	})

	// Reopening clears the closing.
	ann.ClosedAt, ann.ClosingReason = nil, ""
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateContact(ctx, ann) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Contact(ctx, "app", ann.UUID)
		if err != nil {
			return err
		}
		if got.ClosedAt != nil {
			t.Fatalf("closed_at = %v after reopening", got.ClosedAt)
		}
		return nil
	})

	// Moving a contact onto another's address is a conflict too.
	err := s.Update(context.Background(), func(tx herald.Tx) error {
		c := *bob
		c.PhoneNumber = ann.PhoneNumber
		return tx.UpdateContact(context.Background(), &c)
	})
	if e, ok := herald.AsError(err); !ok || e.ID != herald.EConflict || !strings.Contains(e.Message, ann.PhoneNumber) {
		t.Fatalf("updating onto a taken address: err = %v", err)
	}
	err = s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.UpdateContact(context.Background(), newContact("nope", channelA, "+1", at(0)))
	})
	wantNotFound(t, "updating a missing contact", err)

	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteContact(ctx, "app", ann.UUID) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.Contact(ctx, "app", ann.UUID)
		wantNotFound(t, "deleted contact", err)
		_, err = q.ContactByAddress(ctx, "app", channelA, ann.PhoneNumber)
		wantNotFound(t, "deleted contact by address", err)
		return nil
	})
	err = s.Update(context.Background(), func(tx herald.Tx) error {
		return tx.DeleteContact(context.Background(), "app", ann.UUID)
	})
	wantNotFound(t, "deleting a deleted contact", err)
	// Its address is free again.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateContact(ctx, newContact("u5", channelA, ann.PhoneNumber, at(40)))
	})
}

func uuids(cs []*herald.Contact) string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.UUID)
	}
	return strings.Join(ids, ",")
}

func testContactsListing(t *testing.T, s herald.Store) {
	type spec struct {
		source string
		tags   []string
	}
	specs := []spec{
		{"whatsapp", []string{"VIP", "rome"}},      // c0, oldest
		{"sms", []string{"vip"}},                   // c1
		{"whatsapp", nil},                          // c2
		{"whatsapp", []string{"Vip", "Rome", "x"}}, // c3
		{"sms", []string{"ÄRGER", "rome"}},         // c4
		{"whatsapp", []string{"vip"}},              // c5
		{"whatsapp", []string{"ärger", "vip"}},     // c6, newest
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for i, sp := range specs {
			c := newContact(fmt.Sprintf("c%d", i), channelA, fmt.Sprintf("+1%d", i), at(i))
			c.Source, c.Tags = sp.source, sp.tags
			if err := tx.CreateContact(ctx, c); err != nil {
				return err
			}
		}
		// Another app's contact, which no listing shows.
		c := newContact("z", channelA, "+1", at(100))
		c.AppID, c.Tags = "other", []string{"vip"}
		return tx.CreateContact(ctx, c)
	})
	cases := []struct {
		name          string
		f             herald.ContactFilter
		offset, limit int
		want          string
		total         int
	}{
		{"all", herald.ContactFilter{}, 0, 100, "c6,c5,c4,c3,c2,c1,c0", 7},
		{"first page", herald.ContactFilter{}, 0, 3, "c6,c5,c4", 7},
		{"second page", herald.ContactFilter{}, 3, 3, "c3,c2,c1", 7},
		{"last page", herald.ContactFilter{}, 6, 3, "c0", 7},
		{"past the end", herald.ContactFilter{}, 7, 3, "", 7},
		{"source", herald.ContactFilter{Source: "sms"}, 0, 100, "c4,c1", 2},
		{"source paged", herald.ContactFilter{Source: "whatsapp"}, 1, 2, "c5,c3", 5},
		{"unknown source", herald.ContactFilter{Source: "email"}, 0, 100, "", 0},
		{"tag in any case", herald.ContactFilter{Tags: []string{"VIP"}}, 0, 100, "c6,c5,c3,c1,c0", 5},
		{"tag paged", herald.ContactFilter{Tags: []string{"vip"}}, 1, 2, "c5,c3", 5},
		{"tag last page", herald.ContactFilter{Tags: []string{"vip"}}, 4, 2, "c0", 5},
		{"tag past the end", herald.ContactFilter{Tags: []string{"vip"}}, 5, 2, "", 5},
		{"every tag", herald.ContactFilter{Tags: []string{"rome", "vip"}}, 0, 100, "c3,c0", 2},
		{"unicode case", herald.ContactFilter{Tags: []string{"Ärger"}}, 0, 100, "c6,c4", 2},
		{"tag and source", herald.ContactFilter{Source: "sms", Tags: []string{"ROME"}}, 0, 100, "c4", 1},
		{"no such tag", herald.ContactFilter{Tags: []string{"vip", "nope"}}, 0, 100, "", 0},
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for _, c := range cases {
			got, total, err := q.Contacts(ctx, "app", c.f, c.offset, c.limit)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if uuids(got) != c.want || total != c.total {
				t.Errorf("%s: got %q (total %d), want %q (total %d)", c.name, uuids(got), total, c.want, c.total)
			}
		}
		// Listed contacts are whole.
		got, _, err := q.Contacts(ctx, "app", herald.ContactFilter{Tags: []string{"x"}}, 0, 10)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Name != "Name c3" || !reflect.DeepEqual(got[0].Tags, specs[3].tags) ||
			!got[0].CreatedAt.Equal(at(3)) {
			t.Fatalf("listed contact = %+v", got)
		}
		got, _, err = q.Contacts(ctx, "app", herald.ContactFilter{Source: "whatsapp"}, 4, 1)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].UUID != "c0" || got[0].ConversationID != "conv-c0" {
			t.Fatalf("listed contact = %+v", got)
		}
		return nil
	})
}

func testMessageChannelRoundTrip(t *testing.T, s herald.Store) {
	conv := &herald.Conversation{ID: "conv", AppID: "app", Participants: []string{"contact-1", "agent"},
		CreatedAt: at(0), LastPosition: 2}
	in := &herald.Message{ID: "m1", AppID: "app", ConversationID: "conv", Position: 1,
		Sender: herald.Sender{UserID: "contact-1"}, Parts: []herald.Part{{MimeType: herald.MimeText, Body: "hi"}},
		SentAt: at(1), RecipientStatus: map[string]string{"contact-1": "read", "agent": "sent"},
		Channel: &herald.MessageChannel{ChannelUUID: channelA, Channel: "whatsapp", ContactUUID: "contact-1",
			Direction: herald.DirectionReceived, From: "+390001", To: "+15550001", ExternalID: "wamid.1"}}
	out := &herald.Message{ID: "m2", AppID: "app", ConversationID: "conv", Position: 2,
		Sender: herald.Sender{UserID: "agent"}, Parts: []herald.Part{{MimeType: herald.MimeText, Body: "hello"}},
		SentAt: at(2), RecipientStatus: map[string]string{"contact-1": "sent", "agent": "read"},
		Channel: &herald.MessageChannel{ChannelUUID: channelA, Channel: "whatsapp", ContactUUID: "contact-1",
			Direction: herald.DirectionSent, Status: herald.ChannelEnqueued, From: "+15550001", To: "+390001",
			Metadata: map[string]string{"order": "42"},
			ReplyTo: &herald.MessageRef{ID: "m1", Text: "hi", Direction: herald.DirectionReceived, Channel: "whatsapp",
				From: "+390001", To: "+15550001", SentAt: at(1)}}}
	plain := &herald.Message{ID: "m3", AppID: "app", ConversationID: "conv", Position: 3,
		Sender: herald.Sender{Name: "bot"}, Parts: []herald.Part{{MimeType: herald.MimeText, Body: "note"}},
		SentAt: at(3), RecipientStatus: map[string]string{}}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.CreateConversation(ctx, conv, ""); err != nil {
			return err
		}
		for _, m := range []*herald.Message{in, out, plain} {
			if err := tx.CreateMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	check := func(what string) {
		t.Helper()
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			for _, m := range []*herald.Message{in, out, plain} {
				got, err := q.Message(ctx, "app", m.ID)
				if err != nil {
					return err
				}
				same(t, what+": message "+m.ID, got, m)
			}
			list, err := q.Messages(ctx, "app", "conv", "", herald.Page{Limit: 10})
			if err != nil {
				return err
			}
			same(t, what+": messages", list, []*herald.Message{plain, out, in})
			if list[0].Channel != nil {
				t.Fatalf("%s: a message without channel has %+v", what, list[0].Channel)
			}
			return nil
		})
	}
	check("created")

	out.Channel.Status = herald.ChannelDelivered
	out.Channel.StatusPayload = json.RawMessage(`{"status":"delivered","timestamp":1741064767}`)
	out.RecipientStatus["contact-1"] = herald.StatusDelivered
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateMessage(ctx, out) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Message(ctx, "app", "m2")
		if err != nil {
			return err
		}
		if got.Channel == nil || got.Channel.Status != herald.ChannelDelivered ||
			string(got.Channel.StatusPayload) != `{"status":"delivered","timestamp":1741064767}` {
			t.Fatalf("channel status not saved: %+v", got.Channel)
		}
		return nil
	})
	check("updated")
}

// ConversationContact: a contact's conversation names its contact.
func testConversationContact(t *testing.T, s herald.Store) {
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, c := range []*herald.Conversation{
			{ID: "conv-contact", AppID: "app", Participants: []string{"u1"}, CreatedAt: at(0), ContactUUID: "u1"},
			{ID: "conv-plain", AppID: "app", Participants: []string{"a", "b"}, CreatedAt: at(0)},
		} {
			if err := tx.CreateConversation(ctx, c, ""); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for id, want := range map[string]string{"conv-contact": "u1", "conv-plain": ""} {
			c, err := q.Conversation(ctx, "app", id)
			if err != nil {
				return err
			}
			if c.ContactUUID != want {
				t.Errorf("conversation %s: contact %q, want %q", id, c.ContactUUID, want)
			}
		}
		return nil
	})
}

// What an update writes, the rest of it reads, whenever the engine sends the
// write; and a write that fails fails its update, however late the engine
// sends it, leaving nothing of the update behind.
func testMessageWritesWithinAnUpdate(t *testing.T, s herald.Store) {
	conv := &herald.Conversation{ID: "conv", AppID: "app", Participants: []string{"alice", "bob"},
		CreatedAt: at(0), LastPosition: 2}
	message := func(id string, position int64) *herald.Message {
		return &herald.Message{ID: id, AppID: "app", ConversationID: "conv", Position: position,
			Sender: herald.Sender{UserID: "alice"}, Parts: []herald.Part{{MimeType: herald.MimeText, Body: id}},
			SentAt: at(1), RecipientStatus: map[string]string{"alice": "read", "bob": "sent"}}
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.CreateConversation(ctx, conv, ""); err != nil {
			return err
		}
		m := message("m1", 1)
		if err := tx.CreateMessage(ctx, m); err != nil {
			return err
		}
		got, err := tx.Message(ctx, "app", "m1")
		if err != nil {
			return fmt.Errorf("reading a message written earlier in the update: %w", err)
		}
		same(t, "message read in its update", got, m)
		// And one written last.
		return tx.CreateMessage(ctx, message("m2", 2))
	})

	ctx := context.Background()
	// The same id again: refused, at the write or at the commit.
	err := s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.AppendEvent(ctx, &herald.Event{ID: "e-dup", AppID: "app", Type: herald.EventMessageSent,
			CreatedAt: at(2), Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		return tx.CreateMessage(ctx, message("m1", 3))
	})
	if err == nil {
		t.Fatal("a message with the id of another was written")
	}
	// The same again, followed by a read: the read fails, or the update.
	err = s.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateMessage(ctx, message("m1", 4)); err != nil {
			return err
		}
		_, err := tx.Message(ctx, "app", "m1")
		return err
	})
	if err == nil {
		t.Fatal("a message with the id of another was written, and an update read on after it")
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		events, err := q.EventsSince(ctx, 0, 10)
		if err != nil {
			return err
		}
		if len(events) != 0 {
			t.Fatalf("failed updates left %d events", len(events))
		}
		list, err := q.Messages(ctx, "app", "conv", "", herald.Page{Limit: 10})
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != "m2" || list[1].ID != "m1" {
			t.Fatalf("messages %+v, want m2 and m1 only", list)
		}
		return nil
	})
}
