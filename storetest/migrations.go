package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
)

// Migrations are the checks of the schema upgrades that move data, each
// from the schema version before it: every engine runs each on a new
// database brought to From, and no further (see TestMigrations of each).
var Migrations = []struct {
	Name string
	From int64
	// Check fills db, a database at From, and checks what open, which
	// opens it as a store and so migrates it, makes of it.
	Check func(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store)
}{
	{"Payloads", 4, PayloadsMigration},
	{"LastAttempt", 6, LastAttemptMigration},
	{"Tokens", 7, TokensMigration},
	// Before the webhooks' key columns: version 9 on SQLite, 10 on
	// PostgreSQL; 8 is before both.
	{"SealSecrets", 8, SealSecretsMigration},
	// Before content deletions: version 10 on SQLite, 11 on PostgreSQL.
	{"BlobDeletions", 9, BlobDeletionsMigration},
	// Before content bytes per app: version 11 on SQLite, 12 on PostgreSQL.
	{"ContentBytes", 10, ContentBytesMigration},
	// Before users' inboxes: version 13 on SQLite, 14 on PostgreSQL.
	{"Inbox", 12, InboxMigration},
	{"LastInbound", 23, LastInboundMigration}, // templates.go
}

// TokensMigration checks that the migration giving tokens an id, a name and
// a last use (SQLite's version 8, PostgreSQL's 9) keeps every token valid
// and gives each an id of its own: db is a database at version 7, and open
// opens it as a store, migrating it.
func TokensMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	exec := execer(t, db)
	exec(`INSERT INTO apps (id, name, created_at) VALUES ('a', 'a', 0), ('b', 'b', 0)`)
	hashes := map[string]string{fmt.Sprintf("%064x", 1): "a", fmt.Sprintf("%064x", 2): "a", fmt.Sprintf("%064x", 3): "b"}
	for hash, app := range hashes {
		exec(`INSERT INTO app_tokens (hash, app_id, created_at) VALUES ($1, $2, $3)`, hash, app, at(1).UnixMicro())
	}
	db.Close()

	s := open(t)
	ids := map[string]bool{}
	for hash, app := range hashes {
		var tok *herald.Token
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			tok, err = q.TokenByHash(ctx, hash)
			return err
		})
		if _, err := uuid.Parse(tok.ID); err != nil || len(tok.ID) != 36 || ids[tok.ID] {
			t.Fatalf("migrated token %s has id %q: not a UUID of its own", hash, tok.ID)
		}
		ids[tok.ID] = true
		if tok.AppID != app || tok.Name != "default" || tok.Prefix != "" || !tok.CreatedAt.Equal(at(1)) || tok.LastUsedAt != nil {
			t.Fatalf("migrated token %s: %+v", hash, tok)
		}
	}
	var list []*herald.Token
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		list, err = q.Tokens(ctx, "a")
		return err
	})
	if len(list) != 2 {
		t.Fatalf("app a has %d tokens after the migration, want 2", len(list))
	}
	// The revision watches the migrated tokens.
	rev := tokenRevision(t, s)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.DeleteToken(ctx, "a", list[0].ID) })
	if got := tokenRevision(t, s); got == rev {
		t.Fatalf("deleting a migrated token left the revision at %d", rev)
	}
}

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

// LastAttemptMigration checks that the migration keeping each delivery's
// last attempt in its row (schema version 7) loses no attempt and keeps
// their order: db is a database at version 6, and open opens it as a
// store, migrating it.
func LastAttemptMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	exec := execer(t, db)
	exec(`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`)
	exec(`INSERT INTO webhooks (id, app_id, format, version, target_url, events, secret, signing_key, status,
		retry_schedule, timeout_ms, cursor, created_at, updated_at)
		VALUES ('w', 'app', 'layer', '2.0', 'https://example.com/w', '["message.sent"]', 's', 'whsec_w',
		'active', '[]', 10000, 2, 0, 0)`)
	// Delivery 1 was delivered at its third attempt, 2 failed its only
	// one, 3 was never attempted, and 4 was resent after an attempt.
	type row struct {
		status   string
		attempts int
		codes    []int
	}
	rows := map[int]row{1: {herald.DeliveryDelivered, 3, []int{500, 0, 200}}, 2: {herald.DeliveryFailed, 1, []int{410}},
		3: {herald.DeliveryPending, 0, nil}, 4: {herald.DeliveryPending, 0, []int{503}}}
	want := map[string][]*herald.Attempt{}
	for i := 1; i <= 4; i++ {
		r, id := rows[i], deliveryID(i)
		exec(`INSERT INTO payloads (id, body, refs) VALUES ($1, $2, 1)`, id, []byte(`{}`))
		last := 0
		if len(r.codes) > 0 {
			last = r.codes[len(r.codes)-1]
		}
		exec(`INSERT INTO deliveries (id, app_id, webhook_id, event_id, event_seq, event_type, ordering_key, status,
			attempts, next_attempt_at, last_status_code, created_at, payload_id)
			VALUES ($1, 'app', 'w', $1, $2, 'message.sent', '', $3, $4, 0, $5, 0, $1)`, id, i, r.status, r.attempts, last)
		for n, code := range r.codes {
			a := &herald.Attempt{DeliveryID: id, StartedAt: at(10*i + n), Duration: time.Duration(n+1) * time.Millisecond,
				StatusCode: code, ResponseHeaders: http.Header{"X-N": {fmt.Sprint(n)}},
				ResponseBody: []byte(fmt.Sprintf("attempt %d of %d", n, i))}
			if code == 0 {
				a.Error, a.ResponseHeaders, a.ResponseBody = "connection refused", nil, nil
			}
			var headers any
			if a.ResponseHeaders != nil {
				headers = jsonOf(t, a.ResponseHeaders)
			}
			exec(`INSERT INTO attempts (delivery_id, started_at, duration_us, status_code, response_headers,
				response_body, error) VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, a.StartedAt.UnixMicro(),
				a.Duration.Microseconds(), code, headers, a.ResponseBody, a.Error)
			want[id] = append(want[id], a)
		}
	}
	db.Close()

	s := open(t)
	attempts := func(id string) []*herald.Attempt {
		t.Helper()
		var as []*herald.Attempt
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			as, err = q.Attempts(ctx, id)
			return err
		})
		return as
	}
	for i := 1; i <= 4; i++ {
		id := deliveryID(i)
		same(t, fmt.Sprintf("attempts of delivery %d after the migration", i), attempts(id), want[id])
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		log, total, err := q.WebhookEvents(ctx, "w", herald.WebhookEventFilter{}, 0, 10)
		if err != nil {
			return err
		}
		if total != 2 || len(log) != 2 {
			t.Fatalf("the event log after the migration holds %d deliveries (total %d), want 2", len(log), total)
		}
		for _, e := range log {
			w := want[e.Delivery.ID]
			same(t, "last attempt of "+e.Delivery.ID, e.Attempt, w[len(w)-1])
		}
		return nil
	})
	// Attempted again, a migrated delivery keeps every earlier attempt,
	// the migrated last one among them, in order.
	d := readDelivery(t, s, deliveryID(4))
	complete(t, s, d, herald.DeliveryDelivered, at(99), at(99))
	got := attempts(d.ID)
	if len(got) != 2 || got[0].StatusCode != 503 || got[1].StatusCode != 200 || !got[1].StartedAt.Equal(at(99)) {
		t.Fatalf("attempts of a resent migrated delivery attempted again: %s", jsonOf(t, got))
	}
}

// SealSecretsMigration checks that the secrets a database held in
// plaintext, as Herald wrote them before it sealed any, are sealed with
// Keyring when it is opened, and read the same: db is a database from
// before, and open opens it as a store with Keyring.
func SealSecretsMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0)`,
		`INSERT INTO settings (key, value) VALUES ('url_signing_key', 'c0ffee'), ('other', 'plain')`,
		`INSERT INTO webhooks (id, app_id, format, version, target_url, events, secret, signing_key, status,
			retry_schedule, timeout_ms, cursor, created_at, updated_at)
			VALUES ('w', 'app', 'layer', '2.0', 'https://example.com/w', '["message.sent"]', 'a layer secret',
			'whsec_d2ViaG9vayB3', 'active', '[]', 10000, 2, 0, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Read again below, around the store: no connection stays open in
	// between.
	db.SetMaxIdleConns(0)
	s := open(t)
	w := readWebhook(t, s, "w")
	if w.Secret != "a layer secret" || w.SigningKey != "whsec_d2ViaG9vayB3" || w.AsymmetricKey != "" ||
		w.PreviousSigningKey != "" || w.PreviousKeysUntil != nil {
		t.Fatalf("the webhook after the migration: %+v", w)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		v, err := q.Setting(ctx, "url_signing_key")
		if err == nil && v != "c0ffee" {
			t.Fatalf("url_signing_key reads %q", v)
		}
		return err
	})
	var secret, signingKey, urlKey, other string
	if err := db.QueryRowContext(ctx, `SELECT secret, signing_key FROM webhooks WHERE id = 'w'`).Scan(&secret, &signingKey); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'url_signing_key'`).Scan(&urlKey); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'other'`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{secret, signingKey, urlKey} {
		if id, ok := keyring.Sealed(v); !ok || id != Keyring.ID() {
			t.Fatalf("a secret reads %q in the database once it is opened", v)
		}
	}
	if other != "plain" {
		t.Fatalf("a setting that is no secret was changed: %q", other)
	}
	db.Close()
}

// ContentBytesMigration checks that the migration keeping each app's total
// of uploaded content (SQLite's schema version 11, PostgreSQL's 12) counts
// what the apps had uploaded, and nothing else: db is a database before
// it, and open opens it as a store, migrating it.
func ContentBytesMigration(t *testing.T, db *sql.DB, open func(t *testing.T) herald.Store) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO apps (id, name, created_at) VALUES ('app', 'app', 0), ('other', 'other', 0), ('empty', 'empty', 0)`,
		`INSERT INTO contents (id, app_id, conversation_id, mime_type, size, created_at, uploaded_at, blob_key) VALUES
			('c1', 'app', 'conv', 'image/png', 1000, 0, 1, 'b1'),
			('c2', 'app', 'conv', 'image/png', 234, 0, 1, 'b2'),
			('c3', 'app', 'conv', 'image/png', 50000, 0, NULL, NULL),
			('c4', 'other', 'conv', 'image/png', 7, 0, 1, 'b4')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := open(t)
	for app, want := range map[string][2]int64{"app": {1234, 50000}, "other": {7, 0}, "empty": {0, 0}} {
		var up, pending int64
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			up, pending, err = q.ContentUsage(ctx, app, time.UnixMicro(0))
			return err
		})
		if up != want[0] || pending != want[1] {
			t.Fatalf("app %s after the migration: %d bytes uploaded, %d pending; want %d, %d", app, up, pending,
				want[0], want[1])
		}
	}
}

// execer returns a function that runs a statement on db, failing t if it
// fails.
func execer(t *testing.T, db *sql.DB) func(q string, args ...any) {
	return func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
}
