package storetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/heraldhq/herald"
)

// PayloadsMigration checks that the migration storing bodies apart from
// their deliveries (schema version 5) loses none: db is a database at
// version 4, and open opens it as a store, migrating it.
func PayloadsMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`,
		`INSERT INTO webhooks (id, app_id, format, version, target_url, events, secret, signing_key, status,
			retry_schedule, timeout_ms, cursor, created_at, updated_at)
			VALUES ('w', 'app', 'layer', '2.0', 'https://example.com/w', '["message.sent"]', 's', 'whsec_w',
			'active', '[]', 10000, 2, 0, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	bodies := map[string]string{deliveryID(1): `{"n":1}`, deliveryID(2): `{"n":2,"text":"é"}`}
	for id, body := range bodies {
		if _, err := db.ExecContext(ctx, `INSERT INTO deliveries (id, app_id, webhook_id, event_id, event_seq,
			event_type, ordering_key, body, status, next_attempt_at, created_at)
			VALUES ($1, 'app', 'w', $1, 1, 'message.sent', '', $2, 'pending', 0, 0)`, id, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := open(t)
	var ds []*herald.Delivery
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		ds, err = q.Deliveries(ctx, "w", "", herald.Page{Limit: 10})
		return err
	})
	if len(ds) != len(bodies) {
		t.Fatalf("%d deliveries after the migration, want %d", len(ds), len(bodies))
	}
	for _, d := range ds {
		if string(d.Body) != bodies[d.ID] || d.PayloadID != d.ID {
			t.Fatalf("delivery %s: body %s, payload %q after the migration; want %s, %q", d.ID, d.Body,
				d.PayloadID, bodies[d.ID], d.ID)
		}
	}
	// The moved bodies are counted: pruning the delivery removes its body.
	complete(t, s, ds[0], herald.DeliveryDelivered, at(1), at(1))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		_, err := tx.PruneDeliveries(ctx, at(5), 10)
		return err
	})
	again := newDelivery(9, "w", "")
	again.PayloadID, again.Body = ds[0].ID, []byte(`{"anew":9}`)
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreateDeliveries(ctx, []*herald.Delivery{again})
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		d, err := q.Delivery(ctx, "app", again.ID)
		if err == nil && string(d.Body) != `{"anew":9}` {
			t.Fatalf("a migrated body outlived its delivery: a new one under its id reads %s", d.Body)
		}
		return err
	})
}
