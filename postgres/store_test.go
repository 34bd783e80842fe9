package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func open(t *testing.T) herald.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// A node refuses a database migrated by a newer Herald rather than running
// on a schema it does not know.
func TestRefusesNewerSchema(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, url, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this Herald knows") {
		t.Fatalf("opening a newer schema: %v, want a refusal", err)
	}
}

// Events become visible in seq order although concurrent transactions
// append them: a reader that follows the log by seq, as the fan-out does,
// never steps over an event that commits after a later one.
func TestEventsCommitInSeqOrder(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const writers, each = 8, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				e := &herald.Event{ID: fmt.Sprintf("w%d-%d", w, i), AppID: "app", Type: herald.EventMessageSent,
					CreatedAt: time.Now(), Data: json.RawMessage(`{}`)}
				if err := s.Update(ctx, func(tx herald.Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	seen := map[string]bool{}
	var cursor int64
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < writers*each && time.Now().Before(deadline) {
		err := s.View(ctx, func(q herald.Queries) error {
			es, err := q.EventsSince(ctx, cursor, 100)
			for _, e := range es {
				seen[e.ID] = true
				cursor = e.Seq
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("the reader saw %d of %d events: it stepped over some that committed late", len(seen), writers*each)
	}
}

// Other nodes hear of deliveries only when there is something for them to
// claim: not of those that their creator leased to itself.
func TestOnlyClaimableDeliveriesAreAnnounced(t *testing.T) {
	s := open(t).(herald.SharedStore)
	ctx := context.Background()
	changes := make(chan herald.Change, 16)
	s.Watch(func(c herald.Change) { changes <- c })
	next := func(what string) herald.Change {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("no change announced after %s", what)
			return 0
		}
	}
	now := time.Now().Truncate(time.Microsecond)
	until := now.Add(time.Minute)
	update := func(fn func(tx herald.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	createDelivery := func(id, owner string) func(tx herald.Tx) error {
		d := &herald.Delivery{ID: id, AppID: "app", WebhookID: "w", EventID: "e-" + id, EventSeq: 1,
			EventType: herald.EventMessageSent, Body: []byte(`{}`), Status: herald.DeliveryPending,
			NextAttemptAt: now, CreatedAt: now}
		if owner != "" {
			d.LeaseOwner, d.LeaseUntil = owner, &until
		}
		return func(tx herald.Tx) error { return tx.CreateDeliveries(ctx, []*herald.Delivery{d}) }
	}
	update(func(tx herald.Tx) error {
		if err := tx.CreateApp(ctx, &herald.App{ID: "app", Name: "app", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, &herald.Webhook{ID: "w", AppID: "app", Format: herald.FormatLayer, Version: "2.0",
			TargetURL: "https://example.com/w", Events: []string{herald.EventMessageSent}, Secret: "s",
			SigningKey: "whsec_w", Status: herald.WebhookActive, RetrySchedule: []time.Duration{time.Minute},
			Timeout: time.Second, CreatedAt: now, UpdatedAt: now})
	})
	update(createDelivery("01900000-0000-7000-8000-000000000001", "n1"))
	// Notifications come in commit order: once the event's is in, the
	// leased delivery's would have come before it.
	update(func(tx herald.Tx) error {
		return tx.AppendEvent(ctx, &herald.Event{ID: "e", AppID: "app", Type: herald.EventMessageSent, CreatedAt: now,
			Data: json.RawMessage(`{}`)})
	})
	if c := next("a leased delivery and an event"); c != herald.EventsAppended {
		t.Fatalf("a delivery leased by its creator was announced as claimable (change %v)", c)
	}
	update(createDelivery("01900000-0000-7000-8000-000000000002", ""))
	if c := next("a claimable delivery"); c != herald.DeliveriesDue {
		t.Fatalf("a claimable delivery was announced as change %v", c)
	}
}

// Upgrading from the schema that kept bodies in deliveries loses none.
func TestPayloadsMigration(t *testing.T) {
	url := pgtest.URL(t)
	db, err := postgres.MigrateForTest(url, 4)
	if err != nil {
		t.Fatal(err)
	}
	storetest.PayloadsMigration(t, db, func(t *testing.T) herald.Store {
		s, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
