package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

// rerunStore runs every update twice, as SQLite runs again the updates of
// a batch that one of them failed, the failed one included: once in a
// transaction that is rolled back whatever fn returns, then for real.
type rerunStore struct{ herald.Store }

var errRolledBack = errors.New("rolled back to run again")

func (s rerunStore) Update(ctx context.Context, fn func(tx herald.Tx) error) error {
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		fn(tx)
		return errRolledBack
	})
	if !errors.Is(err, errRolledBack) {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// A contact's custom fields are checked against their definitions however
// often the store runs the update: a value refused the first time is
// refused again, and the contact keeps its fields.
func TestCustomFieldsCheckedOnEveryRun(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		u.s.Store = rerunStore{u.s.Store}
		typ, number := "whatsapp", "+33 6 12 34 56 78"
		_, err := u.s.CreateChannel(u.ctx, u.app, messaging.ChannelInput{Type: &typ, Identifier: &number})
		u.ok(err)
		_, err = u.s.PutContactField(u.ctx, u.app, messaging.ContactFieldInput{Name: "Seats", Type: "number"})
		u.ok(err)
		name, identifier := "Ada", "33700000001"
		_, err = u.s.CreateContact(u.ctx, u.app, messaging.ContactInput{Name: &name, Identifier: &identifier, Source: &typ,
			CustomFields: json.RawMessage(`{"Seats": "many"}`)})
		u.refused(err, herald.EInvalidProperty, "custom_fields.Seats")
		c, err := u.s.CreateContact(u.ctx, u.app, messaging.ContactInput{Name: &name, Identifier: &identifier, Source: &typ,
			CustomFields: json.RawMessage(`{"Seats": 42}`)})
		u.ok(err)
		if c.CustomFields["Seats"] != "42" {
			u.Fatalf("created with fields %v, want Seats 42", c.CustomFields)
		}
		_, err = u.s.UpdateContact(u.ctx, u.app, c.UUID, messaging.ContactInput{CustomFields: json.RawMessage(`{"Seats": "many"}`)})
		u.refused(err, herald.EInvalidProperty, "custom_fields.Seats")
		got, err := u.s.UpdateContact(u.ctx, u.app, c.UUID, messaging.ContactInput{CustomFields: json.RawMessage(`{"Seats": 7}`)})
		u.ok(err)
		if got.CustomFields["Seats"] != "7" {
			u.Fatalf("updated to fields %v, want Seats 7", got.CustomFields)
		}
	})
}
