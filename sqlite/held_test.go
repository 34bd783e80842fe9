package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// The count of held deliveries that completions read before releasing
// queue heads follows every write that holds, releases or removes a
// delivery, from the deliveries an older schema left held on.
func TestHeldCountFollowsDeliveries(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := sqlite.MigrateForTest(path, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Left by an older Herald: two held deliveries behind a free one.
	for _, q := range []string{
		`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`,
		`INSERT INTO webhooks (id, app_id, format, version, target_url, events, secret, signing_key, status,
			retry_schedule, timeout_ms, cursor, created_at, updated_at)
			VALUES ('w', 'app', 'layer', '2.0', 'https://example.com/w', '["message.sent"]', 's', 'whsec_w',
			'active', '[60000000000]', 10000, 0, 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for i, held := range []int{0, 1, 1} {
		if _, err := db.Exec(`INSERT INTO deliveries (id, app_id, webhook_id, event_id, event_seq, event_type,
			ordering_key, held, status, next_attempt_at, created_at, payload_id)
			VALUES (?, 'app', 'w', ?, ?, 'message.sent', 'old', ?, 'pending', 0, 0, '')`,
			fmt.Sprint("old-", i), fmt.Sprint("e", i), i+1, held); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	wantCount := func(when string, want int) {
		t.Helper()
		var n, held int
		if err := raw.QueryRow(`SELECT (SELECT n FROM held_deliveries), (SELECT COUNT(*) FROM deliveries WHERE held = 1)`).
			Scan(&n, &held); err != nil {
			t.Fatal(err)
		}
		if n != held || held != want {
			t.Fatalf("%s: count %d, %d deliveries held; want %d", when, n, held, want)
		}
	}
	update := func(fn func(tx herald.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	wantCount("after the migration", 2)

	now := time.Now().Truncate(time.Microsecond)
	var ds []*herald.Delivery
	for i := range 4 {
		ds = append(ds, &herald.Delivery{ID: fmt.Sprint("d", i), AppID: "app", WebhookID: "w", EventID: fmt.Sprint("e", 10+i),
			EventSeq: int64(10 + i), EventType: herald.EventMessageSent, OrderingKey: "k", Body: []byte(`{}`),
			Status: herald.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
	}
	update(func(tx herald.Tx) error { return tx.CreateDeliveries(ctx, ds) })
	wantCount("after creating a queue of four", 5)

	var claimed []*herald.Delivery
	update(func(tx herald.Tx) (err error) {
		claimed, err = tx.ClaimDeliveries(ctx, "n", now, now.Add(time.Hour), 10)
		return err
	})
	if len(claimed) != 2 {
		t.Fatalf("claimed %d deliveries, want the two heads", len(claimed))
	}
	for _, d := range claimed {
		at := now
		d.Status, d.Attempts, d.DeliveredAt, d.LastStatusCode = herald.DeliveryDelivered, 1, &at, 200
	}
	update(func(tx herald.Tx) error {
		_, _, err := tx.CompleteDeliveries(ctx, []herald.Completion{
			{Delivery: claimed[0], Attempt: &herald.Attempt{DeliveryID: claimed[0].ID, StartedAt: now, StatusCode: 200}},
			{Delivery: claimed[1], Attempt: &herald.Attempt{DeliveryID: claimed[1].ID, StartedAt: now, StatusCode: 200}},
		}, herald.Lease{})
		return err
	})
	wantCount("after both heads were delivered", 3)

	update(func(tx herald.Tx) error { return tx.ResendDelivery(ctx, ds[3], now) })
	wantCount("after a held delivery was resent", 2)

	update(func(tx herald.Tx) error { return tx.DeleteWebhook(ctx, "app", "w") })
	wantCount("after the webhook was deleted with its deliveries", 0)
}
