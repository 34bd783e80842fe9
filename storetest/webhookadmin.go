package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// UpdateWebhookSettings saves the settings an owner may change, and leaves
// the keys, the cursor, the format and the creation time; a webhook marked
// deleted or of another app is not found.
func testUpdateWebhookSettings(t *testing.T, s herald.Store) {
	w := newWebhook("app", "w1")
	w.Cursor = 5
	seed(t, s, []*herald.Webhook{w}, nil)
	changed := *w
	changed.Version, changed.TargetURL = "3.0", "https://example.com/new"
	changed.Events, changed.Config = []string{herald.EventMessageSent, herald.EventConversationCreated}, json.RawMessage(`{"env":"prod"}`)
	changed.RetrySchedule, changed.Timeout = []time.Duration{2 * time.Second, 90 * time.Second}, 1500*time.Millisecond
	changed.Status, changed.StatusReason, changed.UpdatedAt = herald.WebhookUnverified, "", at(3)
	// Not saved: they have their own ways.
	ignored := changed
	ignored.Secret, ignored.SigningKey, ignored.Cursor, ignored.Format, ignored.CreatedAt = "other", "whsec_other", 99, herald.FormatCallbell, at(9)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.UpdateWebhookSettings(ctx, &ignored) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Webhook(ctx, "app", "w1")
		if err != nil {
			return err
		}
		same(t, "webhook after UpdateWebhookSettings", got, &changed)
		return nil
	})
	other := changed
	other.AppID = "other-app"
	err := s.Update(context.Background(), func(tx herald.Tx) error { return tx.UpdateWebhookSettings(context.Background(), &other) })
	wantNotFound(t, "settings of another app's webhook", err)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.MarkWebhookDeleted(ctx, "app", "w1") })
	err = s.Update(context.Background(), func(tx herald.Tx) error { return tx.UpdateWebhookSettings(context.Background(), &changed) })
	wantNotFound(t, "settings of a deleted webhook", err)
}

// FilteredDeliveries applies each filter, and all of them together, newest
// first and a page at a time.
func testFilteredDeliveries(t *testing.T, s herald.Store) {
	w, other := newWebhook("app", "w1"), newWebhook("app", "w2")
	var ds []*herald.Delivery
	for i := range 8 {
		conv := "conv-a"
		if i%2 == 1 {
			conv = "conv-b"
		}
		d := newDelivery(i+1, "w1", conv)
		d.CreatedAt = at(i)
		if i >= 4 {
			d.EventType = herald.EventConversationCreated
		}
		ds = append(ds, d)
	}
	ds = append(ds, newDelivery(20, "w2", "conv-a"))
	seed(t, s, []*herald.Webhook{w, other}, ds)
	complete(t, s, ds[2], herald.DeliveryDelivered, at(10), at(10))
	complete(t, s, ds[5], herald.DeliveryDelivered, at(10), at(10))
	since, until := at(2), at(6)
	for _, c := range []struct {
		name string
		f    herald.DeliveryFilter
		want []int // indexes in ds, newest first
	}{
		{"none", herald.DeliveryFilter{}, []int{7, 6, 5, 4, 3, 2, 1, 0}},
		{"status", herald.DeliveryFilter{Status: herald.DeliveryDelivered}, []int{5, 2}},
		{"event type", herald.DeliveryFilter{EventType: herald.EventConversationCreated}, []int{7, 6, 5, 4}},
		{"conversation", herald.DeliveryFilter{Conversation: "conv-b"}, []int{7, 5, 3, 1}},
		{"window", herald.DeliveryFilter{Since: &since, Until: &until}, []int{5, 4, 3, 2}},
		{"all", herald.DeliveryFilter{Status: herald.DeliveryPending, EventType: herald.EventMessageSent,
			Conversation: "conv-b", Since: &since, Until: &until}, []int{3}},
		{"nothing", herald.DeliveryFilter{Conversation: "conv-c"}, nil},
	} {
		var got []string
		before := ""
		for range 10 {
			var page []*herald.Delivery
			view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
				page, err = q.FilteredDeliveries(ctx, "w1", c.f, herald.Page{Before: before, Limit: 3})
				return err
			})
			for _, d := range page {
				got = append(got, d.ID)
			}
			if len(page) < 3 {
				break
			}
			before = page[len(page)-1].ID
		}
		var want []string
		for _, i := range c.want {
			want = append(want, ds[i].ID)
		}
		sameList(t, c.name, got, want)
	}
}
