package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// open opens a database of the test's own, copied from a migrated one
// (see enginetest.PostgresURL): the tests of migrating open theirs
// themselves.
func open(t *testing.T) herald.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), enginetest.PostgresURL(t), postgres.Options{MaxConns: 8, Keyring: storetest.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Secrets are sealed in the database (see storetest.SecretsAtRest).
func TestSecretsAtRest(t *testing.T) {
	url := pgtest.URL(t)
	storetest.SecretsAtRest(t, func(t *testing.T, k *keyring.Keyring) (herald.Store, error) {
		return postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4, Keyring: k})
	}, func(t *testing.T) *sql.DB {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// Requests reach the database at most Options.MaxRequests at a time, taking
// turns; the delivery engine's work (herald.WithPriority) waits for none of
// them, so that requests cannot starve the deliveries of what they write.
func TestRequestsTakeTurnsPriorityWorkDoesNot(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{MaxConns: 4, MaxRequests: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// hold runs a request that keeps its turn until release is closed.
	hold := func() (release chan struct{}, done chan error) {
		release, done = make(chan struct{}), make(chan error, 1)
		holding := make(chan struct{})
		var once sync.Once
		go func() {
			done <- s.Update(ctx, func(tx herald.Tx) error {
				once.Do(func() { close(holding) })
				<-release
				return nil
			})
		}()
		<-holding
		return release, done
	}

	release, first := hold()
	second := make(chan error, 1)
	go func() { second <- s.View(ctx, func(q herald.Queries) error { return nil }) }()
	pctx, cancel := context.WithTimeout(herald.WithPriority(ctx), 10*time.Second)
	defer cancel()
	if err := s.Update(pctx, func(tx herald.Tx) error {
		return tx.CreateApp(pctx, &herald.App{ID: "engine", Name: "engine", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatalf("work with priority, while a request has the only turn: %v", err)
	}
	select {
	case err := <-second:
		t.Fatalf("a second request ran beside the first (MaxRequests 1): %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for _, done := range []chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	// A request that gives up while waiting for its turn leaves.
	release, first = hold()
	wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer wcancel()
	if err := s.View(wctx, func(q herald.Queries) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request that gave up waiting: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
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

// Upgrading the schema loses no data (see storetest.Migrations).
func TestMigrations(t *testing.T) {
	for _, m := range storetest.Migrations {
		t.Run(m.Name, func(t *testing.T) {
			url := pgtest.URL(t)
			db, err := postgres.MigrateForTest(url, m.From)
			if err != nil {
				t.Fatal(err)
			}
			m.Check(t, db, func(t *testing.T) herald.Store {
				s, err := postgres.Open(context.Background(), url, postgres.Options{Keyring: storetest.Keyring})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// A node alone notifies nobody of its changes (a NOTIFY locks the whole
// database at commit), its own watchers still hear of them at once, and a
// node that joins is told of every change from then on.
func TestNotifiesOnlyWhenOthersListen(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	openStore := func() *postgres.Store {
		s, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	watch := func(s *postgres.Store) chan herald.Change {
		c := make(chan herald.Change, 64)
		s.Watch(func(ch herald.Change) { c <- ch })
		return c
	}
	await := func(c chan herald.Change, want herald.Change, what string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case got := <-c:
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("%s: no change %v announced", what, want)
			}
		}
	}
	a := openStore()
	aChanges := watch(a)
	// A listener of the channel that is no node: it hears every NOTIFY,
	// and says no hello.
	spy, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spy.Close(context.Background()) })
	if _, err := spy.Exec(ctx, "LISTEN "+pgx.Identifier{a.Channel()}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	// changeNotified waits up to d for a notification of a change (not a
	// hello) and returns its payload, "" if none came.
	changeNotified := func(d time.Duration) string {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		for {
			n, err := spy.WaitForNotification(wctx)
			if err != nil {
				return ""
			}
			if strings.Contains(n.Payload, "events") {
				return n.Payload
			}
		}
	}
	n := 0
	appendEvent := func(s *postgres.Store) {
		t.Helper()
		n++
		if err := s.Update(ctx, func(tx herald.Tx) error {
			return tx.AppendEvent(ctx, &herald.Event{ID: fmt.Sprintf("e%d", n), AppID: "app", Type: herald.EventMessageSent,
				CreatedAt: time.Now(), Data: json.RawMessage(`{}`)})
		}); err != nil {
			t.Fatal(err)
		}
	}

	appendEvent(a)
	await(aChanges, herald.EventsAppended, "the node's own event")
	if p := changeNotified(500 * time.Millisecond); p != "" {
		t.Fatalf("a node alone notified %q", p)
	}

	b := openStore()
	bChanges := watch(b)
	// The newcomer's hello makes the first node nudge everyone: what it
	// committed unannounced, the newcomer looks for now.
	await(bChanges, herald.EventsAppended, "the nudge of a node that heard the newcomer")
	for changeNotified(200*time.Millisecond) != "" {
		// The nudge: it names deliveries too.
	}
	appendEvent(a)
	await(bChanges, herald.EventsAppended, "another node's event")
	if p := changeNotified(10 * time.Second); !strings.HasPrefix(p, "events,from=") {
		t.Fatalf("a node with another listening notified %q of an event, want events,from=…", p)
	}
}
