package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

func (q *Queries) LastEventSeq(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM events`).Scan(&seq)
	return seq.Int64, err
}

func (q *Queries) EventsSince(ctx context.Context, afterSeq int64, limit int) ([]*herald.Event, error) {
	return collect(scanEvent)(q.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit))
}

func (q *Queries) EventsBetween(ctx context.Context, appID string, since, until time.Time, afterSeq int64, limit int) ([]*herald.Event, error) {
	return collect(scanEvent)(q.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE app_id = ? AND seq > ? AND created_at >= ? AND created_at < ? ORDER BY seq LIMIT ?`,
		appID, afterSeq, micros(since), micros(until), limit))
}

// Webhooks.

const webhookColumns = `id, app_id, format, version, target_url, events, secret, signing_key, config, status,
	status_reason, retry_schedule, timeout_ms, cursor, health_checked_at, health_failing_since, created_at, updated_at,
	asymmetric_key, previous_signing_key, previous_asymmetric_key, previous_keys_until`

// webhookSecrets are the columns of a webhook that hold secrets, sealed
// with the webhook's id and the column's name as associated data, and the
// fields they load.
var webhookSecrets = []struct {
	column string
	field  func(w *herald.Webhook) *string
}{
	{"secret", func(w *herald.Webhook) *string { return &w.Secret }},
	{"signing_key", func(w *herald.Webhook) *string { return &w.SigningKey }},
	{"asymmetric_key", func(w *herald.Webhook) *string { return &w.AsymmetricKey }},
	{"previous_signing_key", func(w *herald.Webhook) *string { return &w.PreviousSigningKey }},
	{"previous_asymmetric_key", func(w *herald.Webhook) *string { return &w.PreviousAsymmetricKey }},
}

// secretAD is what a webhook's secret is sealed with: a sealed value copied
// to another row or column does not open there.
func secretAD(column, webhookID string) string { return "webhooks." + column + "/" + webhookID }

// sealedSecrets returns the webhook's secrets sealed, in the order of
// webhookSecrets.
func (q *Queries) sealedSecrets(w *herald.Webhook) []any {
	out := make([]any, len(webhookSecrets))
	for i, c := range webhookSecrets {
		out[i] = q.keys.Seal(*c.field(w), secretAD(c.column, w.ID))
	}
	return out
}

func (q *Queries) scanWebhook(row scanner) (*herald.Webhook, error) {
	w := &herald.Webhook{}
	var events, schedule string
	var config sql.NullString
	var timeoutMS, created, updated int64
	var checked, failing, keysUntil sql.NullInt64
	if err := row.Scan(&w.ID, &w.AppID, &w.Format, &w.Version, &w.TargetURL, &events, &w.Secret, &w.SigningKey,
		&config, &w.Status, &w.StatusReason, &schedule, &timeoutMS, &w.Cursor, &checked, &failing,
		&created, &updated, &w.AsymmetricKey, &w.PreviousSigningKey, &w.PreviousAsymmetricKey, &keysUntil); err != nil {
		return nil, err
	}
	for _, c := range webhookSecrets {
		f := c.field(w)
		v, err := q.keys.Open(*f, secretAD(c.column, w.ID))
		if err != nil {
			return nil, fmt.Errorf("herald store: webhook %s %s: %w", w.ID, c.column, err)
		}
		*f = v
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("herald store: webhook %s events: %w", w.ID, err)
	}
	var ms []int64
	if err := json.Unmarshal([]byte(schedule), &ms); err != nil {
		return nil, fmt.Errorf("herald store: webhook %s retry schedule: %w", w.ID, err)
	}
	for _, m := range ms {
		w.RetrySchedule = append(w.RetrySchedule, time.Duration(m)*time.Millisecond)
	}
	if config.Valid {
		w.Config = json.RawMessage(config.String)
	}
	w.Timeout = time.Duration(timeoutMS) * time.Millisecond
	w.HealthCheckedAt, w.HealthFailingSince = fromNullMicros(checked), fromNullMicros(failing)
	w.PreviousKeysUntil = fromNullMicros(keysUntil)
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return w, nil
}

func scheduleJSON(d []time.Duration) string {
	ms := make([]int64, len(d))
	for i, x := range d {
		ms[i] = x.Milliseconds()
	}
	return mustJSON(ms)
}

func (q *Queries) CreateWebhook(ctx context.Context, w *herald.Webhook) error {
	sealed := q.sealedSecrets(w)
	_, err := q.db.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.AppID, w.Format, w.Version, w.TargetURL, mustJSON(w.Events), sealed[0], sealed[1],
		nullJSON(w.Config), w.Status, w.StatusReason, scheduleJSON(w.RetrySchedule), w.Timeout.Milliseconds(),
		w.Cursor, nullMicros(w.HealthCheckedAt), nullMicros(w.HealthFailingSince), micros(w.CreatedAt),
		micros(w.UpdatedAt), sealed[2], sealed[3], sealed[4], nullMicros(w.PreviousKeysUntil))
	return err
}

func (q *Queries) UpdateWebhookKeys(ctx context.Context, w *herald.Webhook) error {
	sealed := q.sealedSecrets(w)
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET secret = ?, signing_key = ?, asymmetric_key = ?,
		previous_signing_key = ?, previous_asymmetric_key = ?, previous_keys_until = ?, updated_at = ?
		WHERE id = ? AND app_id = ? AND status != `+webhookDeleted,
		sealed[0], sealed[1], sealed[2], sealed[3], sealed[4], nullMicros(w.PreviousKeysUntil), micros(w.UpdatedAt),
		w.ID, w.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("webhook", w.ID)
	}
	return nil
}

func (q *Queries) DropExpiredWebhookKeys(ctx context.Context, now time.Time) (int, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET previous_signing_key = '', previous_asymmetric_key = '',
		previous_keys_until = NULL WHERE previous_keys_until <= ?`, micros(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// webhookDeleted is, as an SQL literal, the status of a webhook marked
// deleted, whose rows are being removed: no read or write of webhooks but
// the removal's sees it.
const webhookDeleted = "'deleted'"

func (q *Queries) Webhook(ctx context.Context, appID, id string) (*herald.Webhook, error) {
	w, err := q.scanWebhook(q.db.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id = ? AND app_id = ? AND status != `+webhookDeleted+q.lock, id, appID))
	if err != nil {
		return nil, notFound(err, "webhook", id)
	}
	return w, nil
}

func (q *Queries) Webhooks(ctx context.Context, appID string) ([]*herald.Webhook, error) {
	query, args := `SELECT `+webhookColumns+` FROM webhooks WHERE status != `+webhookDeleted+` ORDER BY id`, []any{}
	if appID != "" {
		query, args = `SELECT `+webhookColumns+` FROM webhooks WHERE app_id = ? AND status != `+webhookDeleted+`
			ORDER BY id`, []any{appID}
	}
	return collect(q.scanWebhook)(q.db.QueryContext(ctx, query, args...))
}

func (q *Queries) ListWebhooks(ctx context.Context, appID string, p herald.Page) ([]*herald.Webhook, error) {
	query := `SELECT ` + webhookColumns + ` FROM webhooks WHERE app_id = ? AND status != ` + webhookDeleted
	args := []any{appID}
	if p.Before != "" {
		query += ` AND id < ?`
		args = append(args, p.Before)
	}
	return collect(q.scanWebhook)(q.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, p.Limit)...))
}

func (q *Queries) CountWebhooks(ctx context.Context, appID string) (int, error) {
	if err := q.lockApp(ctx, appID); err != nil {
		return 0, err
	}
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks WHERE app_id = ? AND status != `+webhookDeleted,
		appID).Scan(&n)
	return n, err
}

// lockApp makes the writers that count what an app has, to check a quota,
// wait for each other: on the app's row, where writers are not serialized
// anyway.
func (q *Queries) lockApp(ctx context.Context, appID string) error {
	if q.lock == "" {
		return nil
	}
	var id string
	err := q.db.QueryRowContext(ctx, `SELECT id FROM apps WHERE id = ?`+q.lock, appID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

func (q *Queries) WebhooksByID(ctx context.Context, ids []string) ([]*herald.Webhook, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return collect(q.scanWebhook)(q.db.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id IN (SELECT value FROM `+q.d.JSONArray+`) AND status != `+webhookDeleted, mustJSON(ids)))
}

func (q *Queries) UpdateWebhook(ctx context.Context, w *herald.Webhook) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET target_url = ?, events = ?, config = ?, status = ?,
		status_reason = ?, health_checked_at = ?, health_failing_since = ?, updated_at = ?
		WHERE id = ? AND app_id = ? AND status != `+webhookDeleted,
		w.TargetURL, mustJSON(w.Events), nullJSON(w.Config), w.Status, w.StatusReason,
		nullMicros(w.HealthCheckedAt), nullMicros(w.HealthFailingSince), micros(w.UpdatedAt), w.ID, w.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("webhook", w.ID)
	}
	return nil
}

func (q *Queries) AdvanceWebhookCursor(ctx context.Context, id string, from, to int64) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET cursor = ? WHERE id = ? AND cursor = ?
		AND status != `+webhookDeleted, to, id, from)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) MarkWebhookDeleted(ctx context.Context, appID, id string) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET status = `+webhookDeleted+`
		WHERE id = ? AND app_id = ? AND status != `+webhookDeleted, id, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("webhook", id)
	}
	return nil
}

func (q *Queries) DeletedWebhooks(ctx context.Context) ([]*herald.Webhook, error) {
	return collect(q.scanWebhook)(q.db.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE status = `+webhookDeleted+` ORDER BY id`))
}

func (q *Queries) DeleteWebhookDeliveries(ctx context.Context, webhookID string, limit int) (int, error) {
	// In the order of deliveries_webhook: by id alone, PostgreSQL may walk
	// the primary key through every webhook's deliveries to find these.
	ids, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM deliveries WHERE webhook_id = ?
		ORDER BY webhook_id, id LIMIT ?`, webhookID, limit))
	if err != nil {
		return 0, err
	}
	return q.removeDeliveries(ctx, ids, "")
}

func (q *Queries) DeleteWebhook(ctx context.Context, appID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ? AND app_id = ?`, id, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("webhook", id)
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM attempts WHERE delivery_id IN
		(SELECT id FROM deliveries WHERE webhook_id = ?)`, id); err != nil {
		return err
	}
	rows, err := q.db.QueryContext(ctx, `DELETE FROM deliveries WHERE webhook_id = ? RETURNING payload_id`, id)
	refs, err := countStrings(rows, err)
	if err != nil {
		return err
	}
	return q.releasePayloads(ctx, refs)
}

// countStrings counts the values of rows of one string column.
func countStrings(rows *sql.Rows, err error) (map[string]int, error) {
	ids, err := collect(scanString)(rows, err)
	if err != nil {
		return nil, err
	}
	n := make(map[string]int, len(ids))
	for _, id := range ids {
		n[id]++
	}
	return n, nil
}

// Deliveries.

// deliveryInsertColumns are the columns of a delivery row; its body is in
// payloads.
const deliveryInsertColumns = `id, app_id, webhook_id, event_id, event_seq, event_type, ordering_key, held, status,
	attempts, next_attempt_at, lease_until, last_status_code, last_error, created_at, delivered_at, lease_owner,
	payload_id, request_id`

// deliveryColumns reads a delivery with its body, in the order scanDelivery
// takes them: a scalar subquery rather than a join, as SQLite's RETURNING
// cannot join.
var deliveryColumns = deliveryColumnsOf("deliveries")

// deliveryColumnsOf is deliveryColumns for a deliveries table named t.
func deliveryColumnsOf(t string) string {
	return qualify(t, `id, app_id, webhook_id, event_id, event_seq, event_type, ordering_key, held`) +
		`, (SELECT payloads.body FROM payloads WHERE payloads.id = ` + t + `.payload_id), ` +
		qualify(t, `status, attempts, next_attempt_at, lease_until, last_status_code, last_error, created_at,
			delivered_at, lease_owner, payload_id, request_id`)
}

func scanDelivery(row scanner) (*herald.Delivery, error) {
	d := &herald.Delivery{}
	var next, created int64
	var lease, delivered sql.NullInt64
	var owner sql.NullString
	if err := row.Scan(&d.ID, &d.AppID, &d.WebhookID, &d.EventID, &d.EventSeq, &d.EventType, &d.OrderingKey,
		&d.Held, &d.Body, &d.Status, &d.Attempts, &next, &lease, &d.LastStatusCode, &d.LastError, &created, &delivered,
		&owner, &d.PayloadID, &d.RequestID); err != nil {
		return nil, err
	}
	d.LeaseOwner = owner.String
	d.NextAttemptAt, d.CreatedAt = fromMicros(next), fromMicros(created)
	d.LeaseUntil, d.DeliveredAt = fromNullMicros(lease), fromNullMicros(delivered)
	return d, nil
}

// queue is a webhook's deliveries of one ordering key.
type queue struct{ webhook, key string }

// queuesOf returns the queues of the deliveries that have an ordering key,
// each once, in the order they first come.
func queuesOf(ds iter.Seq[*herald.Delivery]) []queue {
	var queues []queue
	seen := map[queue]bool{}
	for d := range ds {
		if k := (queue{d.WebhookID, d.OrderingKey}); d.OrderingKey != "" && !seen[k] {
			seen[k] = true
			queues = append(queues, k)
		}
	}
	return queues
}

// delivered yields the deliveries of the completions that delivered them
// and that keep accepts.
func delivered(cs []herald.Completion, keep func(*herald.Delivery) bool) iter.Seq[*herald.Delivery] {
	return func(yield func(*herald.Delivery) bool) {
		for _, c := range cs {
			if c.Delivery.Status == herald.DeliveryDelivered && keep(c.Delivery) && !yield(c.Delivery) {
				return
			}
		}
	}
}

// busyQueues returns which of the queues have an unfinished delivery: one
// statement per chunk of queues, not one per queue.
func (q *Queries) busyQueues(ctx context.Context, queues []queue) (map[queue]bool, error) {
	busy := make(map[queue]bool, len(queues))
	const chunk = 64
	for len(queues) > 0 {
		n := min(chunk, len(queues))
		var sb strings.Builder
		sb.WriteString(`SELECT v.column1, v.column2 FROM (VALUES `)
		args := make([]any, 0, 2*n)
		for i, k := range queues[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(`(CAST(? AS TEXT), CAST(? AS TEXT))`)
			args = append(args, k.webhook, k.key)
		}
		sb.WriteString(`) AS v WHERE (SELECT 1 FROM deliveries d WHERE d.webhook_id = v.column1
			AND d.ordering_key = v.column2 AND d.status IN ('pending', 'failed') LIMIT 1) IS NOT NULL`)
		rows, err := q.db.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k queue
			if err := rows.Scan(&k.webhook, &k.key); err != nil {
				rows.Close()
				return nil, err
			}
			busy[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		queues = queues[n:]
	}
	return busy, nil
}

func (q *Queries) CreateDeliveries(ctx context.Context, ds []*herald.Delivery) error {
	// A delivery is held if its queue (webhook, ordering key) already has an
	// unfinished delivery: in the store, or earlier in this batch.
	queues := queuesOf(slices.Values(ds))
	if err := q.lockQueues(ctx, queues); err != nil {
		return err
	}
	busy, err := q.busyQueues(ctx, queues)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.OrderingKey == "" {
			continue
		}
		k := queue{d.WebhookID, d.OrderingKey}
		d.Held = busy[k]
		busy[k] = true
	}
	for _, d := range ds {
		if d.LeaseOwner == "" || d.LeaseUntil == nil || d.Held {
			d.LeaseOwner, d.LeaseUntil = "", nil
		} else {
			// As a claim leaves it: due again when the lease ends.
			d.NextAttemptAt = *d.LeaseUntil
		}
		// What its creator leased is for no other node to claim.
		q.due = q.due || (!d.Held && d.LeaseOwner == "")
	}
	if err := q.createPayloads(ctx, ds); err != nil {
		return err
	}
	// Multi-row inserts: one statement per chunk instead of one per row.
	const chunk = 64
	for len(ds) > 0 {
		n := min(chunk, len(ds))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO deliveries (` + deliveryInsertColumns + `) VALUES `)
		args := make([]any, 0, n*19)
		for i, d := range ds[:n] {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, d.ID, d.AppID, d.WebhookID, d.EventID, d.EventSeq, d.EventType, d.OrderingKey,
				flag(d.Held), d.Status, d.Attempts, micros(d.NextAttemptAt), nullMicros(d.LeaseUntil), d.LastStatusCode,
				d.LastError, micros(d.CreatedAt), nullMicros(d.DeliveredAt), nullString(d.LeaseOwner), d.PayloadID, d.RequestID)
		}
		if _, err := q.db.ExecContext(ctx, sb.String(), args...); err != nil {
			return err
		}
		ds = ds[n:]
	}
	return nil
}

// createPayloads stores the bodies of new deliveries, each once however
// many of them share it, counting the deliveries that refer to each. A
// delivery without a PayloadID gets a body of its own, named after it.
func (q *Queries) createPayloads(ctx context.Context, ds []*herald.Delivery) error {
	type payload struct {
		body []byte
		refs int
	}
	payloads := make(map[string]*payload, len(ds))
	var ids []string
	for _, d := range ds {
		if d.PayloadID == "" {
			d.PayloadID = d.ID
		}
		if p := payloads[d.PayloadID]; p != nil {
			p.refs++
			continue
		}
		payloads[d.PayloadID] = &payload{body: d.Body, refs: 1}
		ids = append(ids, d.PayloadID)
	}
	const chunk = 64
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO payloads (id, body, refs) VALUES `)
		args := make([]any, 0, 3*n)
		for i, id := range ids[:n] {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?)")
			p := payloads[id]
			body := p.body
			if body == nil {
				body = []byte{}
			}
			args = append(args, id, body, p.refs)
		}
		// A body shared with deliveries created earlier in the
		// transaction (another webhook's) gains references.
		sb.WriteString(` ON CONFLICT (id) DO UPDATE SET refs = payloads.refs + excluded.refs`)
		if _, err := q.db.ExecContext(ctx, sb.String(), args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// releasePayloads drops references to payloads, refs[id] each, and removes
// the payloads no delivery refers to any more.
func (q *Queries) releasePayloads(ctx context.Context, refs map[string]int) error {
	// Grouped by count, one pair of statements per group: nearly always one
	// group (every body sent by as many deliveries as there are webhooks).
	groups := map[int][]string{}
	for id, n := range refs {
		groups[n] = append(groups[n], id)
	}
	for n, ids := range groups {
		slices.Sort(ids)
		list := mustJSON(ids)
		// Deleted first, so that the last references are not rewritten
		// into a row about to go.
		if _, err := q.db.ExecContext(ctx, `DELETE FROM payloads WHERE id IN (SELECT value FROM `+q.d.JSONArray+`)
			AND refs <= ?`, list, n); err != nil {
			return err
		}
		if _, err := q.db.ExecContext(ctx, `UPDATE payloads SET refs = refs - ? WHERE id IN (SELECT value FROM `+
			q.d.JSONArray+`)`, n, list); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queries) ClaimDeliveries(ctx context.Context, node string, now, leaseUntil time.Time, limit int, caps herald.ClaimCaps) ([]*herald.Delivery, error) {
	if caps.IsZero() {
		return collect(scanDelivery)(q.db.QueryContext(ctx, q.d.ClaimDeliveries+deliveryColumns,
			micros(leaseUntil), micros(now), limit, node))
	}
	bound := func(n int) int {
		if n <= 0 {
			return limit
		}
		return n
	}
	return collect(scanDelivery)(q.db.QueryContext(ctx, q.d.ClaimDeliveriesCapped+deliveryColumns,
		micros(leaseUntil), micros(now), limit, node, roomsJSON(caps.Apps), roomsJSON(caps.Webhooks),
		bound(caps.App), bound(caps.Webhook)))
}

// roomsJSON is a JSON object of ids and numbers, {} for none.
func roomsJSON(m map[string]int) string {
	if len(m) == 0 {
		return "{}"
	}
	return mustJSON(m)
}

func (q *Queries) ReturnDeliveries(ctx context.Context, node string, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	q.due = true
	_, err := q.db.ExecContext(ctx, `UPDATE deliveries SET lease_until = NULL, lease_owner = NULL, next_attempt_at = ?
		WHERE id IN (SELECT value FROM `+q.d.JSONArray+`) AND lease_owner = ? AND status = 'pending'`,
		micros(now), mustJSON(ids), node)
	return err
}

// completionChunk bounds the rows of one completion statement, and so the
// variants of those statements kept prepared.
const completionChunk = 64

func (q *Queries) CompleteDeliveries(ctx context.Context, cs []herald.Completion, lease herald.Lease) (leased []*herald.Delivery, released int, err error) {
	// The queues whose next delivery the completions may release, locked
	// all at once, before the first chunk: locks taken chunk by chunk
	// would come out of order, and could deadlock with a fan-out.
	if q.d.LockQueues != "" {
		all := func(*herald.Delivery) bool { return true }
		if err := q.lockQueues(ctx, queuesOf(delivered(cs, all))); err != nil {
			return nil, 0, err
		}
	}
	// Every outcome is recorded before any release: the completions of
	// one queue may come several at once (see HeldDeliveries), and a
	// release between two chunks would take the next delivery of the
	// queue for a held one when a later chunk records it delivered.
	found := make(map[string]bool, len(cs))
	for rest := cs; len(rest) > 0; {
		n := min(completionChunk, len(rest))
		ids, err := q.recordOutcomes(ctx, rest[:n])
		if err != nil {
			return nil, 0, err
		}
		// Deliveries deleted with their webhook while their attempt was
		// in flight have no row left to record it against.
		for _, id := range ids {
			found[id] = true
		}
		rest = rest[n:]
	}
	queues := queuesOf(delivered(cs, func(d *herald.Delivery) bool { return found[d.ID] }))
	if len(queues) > 0 && q.d.HeldIndex {
		// Nearly always no delivery is held anywhere, which the partial
		// index deliveries_held tells at once: then there is nothing to
		// release, and the release statement (2 % of the CPU of a busy
		// SQLite node) is not run.
		var held int
		err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
			WHERE held = 1 LIMIT 1) AS h`).Scan(&held)
		if err != nil {
			return nil, 0, err
		}
		if held == 0 {
			queues = nil
		}
	}
	// The caller's bounds, spent chunk by chunk.
	lease.Webhooks = maps.Clone(lease.Webhooks)
	for len(queues) > 0 {
		n := min(completionChunk, len(queues))
		l, r, err := q.releaseNext(ctx, queues[:n], lease)
		leased = append(leased, l...)
		lease.Limit -= len(l)
		if lease.Webhooks != nil {
			for _, d := range l {
				lease.Webhooks[d.WebhookID]--
			}
		}
		released += r
		if err != nil {
			return leased, released, err
		}
		queues = queues[n:]
	}
	return leased, released, nil
}

// recordOutcomes records up to completionChunk outcomes in one statement
// whatever their number, and returns the ids of the deliveries it found.
func (q *Queries) recordOutcomes(ctx context.Context, cs []herald.Completion) ([]string, error) {
	// A delivery's row carries its last attempt, the attempts table the
	// ones before it, which a trigger moves there as the next one is
	// recorded: most deliveries succeed at their first attempt, and then
	// no attempt row is written at all.
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	// Every value is cast so that PostgreSQL knows the types of the
	// VALUES columns; SQLite takes the casts as no-ops.
	var sb strings.Builder
	sb.WriteString(`UPDATE deliveries SET status = v.column2, attempts = v.column3, next_attempt_at = v.column4,
		held = 0, lease_until = NULL, lease_owner = NULL, last_status_code = v.column5, last_error = v.column6,
		delivered_at = v.column7, last_attempt_at = v.column8, last_attempt_us = v.column9,
		last_response_headers = v.column10, last_response_body = v.column11 FROM (VALUES `)
	args := make([]any, 0, 11*len(cs))
	for i, c := range cs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(`(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS INTEGER),
			CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT),
			CAST(? AS ` + q.d.Blob + `))`)
		d, a := c.Delivery, c.Attempt
		var headers any
		if len(a.ResponseHeaders) > 0 {
			headers = mustJSON(a.ResponseHeaders)
		}
		args = append(args, d.ID, d.Status, d.Attempts, micros(d.NextAttemptAt), d.LastStatusCode, d.LastError,
			nullMicros(d.DeliveredAt), micros(a.StartedAt), a.Duration.Microseconds(), headers, a.ResponseBody)
	}
	sb.WriteString(`) AS v WHERE deliveries.id = v.column1`)
	return q.updateDeliveries(ctx, sb.String(), args, ids)
}

// releaseNext releases the next held delivery of each of up to
// completionChunk queues, unless another one of it is already free (a
// resent or requeued one, or one to be retried), in one statement; and, in
// the first lease.Limit queues, leases it when it may be sent now.
func (q *Queries) releaseNext(ctx context.Context, queues []queue, lease herald.Lease) (leased []*herald.Delivery, released int, err error) {
	// A scalar subquery rather than NOT EXISTS: PostgreSQL would turn NOT
	// EXISTS into an anti-join that scans every free delivery, where this
	// looks each queue up in its index.
	lease.Limit = max(lease.Limit, 0)
	now, until := micros(lease.Now), micros(lease.Until)
	leasable := `r.leasable = 1 AND deliveries.status = 'pending' AND deliveries.next_attempt_at <= CAST(? AS BIGINT)`
	var sb strings.Builder
	sb.WriteString(`UPDATE deliveries SET held = 0,
		lease_owner = CASE WHEN ` + leasable + ` THEN CAST(? AS TEXT) END,
		lease_until = CASE WHEN ` + leasable + ` THEN CAST(? AS BIGINT) END,
		next_attempt_at = CASE WHEN ` + leasable + ` THEN CAST(? AS BIGINT) ELSE deliveries.next_attempt_at END
		FROM (SELECT (SELECT d.id FROM deliveries d WHERE d.webhook_id = v.column1 AND d.ordering_key = v.column2
				AND d.held = 1 AND d.status IN ('pending', 'failed') ORDER BY d.event_seq LIMIT 1) AS released,
			v.column3 * (SELECT COUNT(*) FROM webhooks w WHERE w.id = v.column1 AND w.status = 'active') AS leasable
			FROM (VALUES `)
	args := []any{now, lease.Node, now, until, now, until}
	offers := 0
	var offersTo map[string]int // per webhook, when lease.Webhooks bounds them
	if lease.Webhooks != nil {
		offersTo = make(map[string]int, len(lease.Webhooks))
	}
	for i, k := range queues {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(`(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER))`)
		offered := 0
		if offers < lease.Limit && lease.Node != "" &&
			(offersTo == nil || offersTo[k.webhook] < lease.Webhooks[k.webhook]) {
			offered = 1
			offers++
			if offersTo != nil {
				offersTo[k.webhook]++
			}
		}
		args = append(args, k.webhook, k.key, offered)
	}
	sb.WriteString(`) AS v WHERE (SELECT 1 FROM deliveries d WHERE d.webhook_id = v.column1
			AND d.ordering_key = v.column2 AND d.held = 0 AND d.status IN ('pending', 'failed') LIMIT 1) IS NULL) AS r
		WHERE deliveries.id = r.released
		RETURNING ` + deliveryColumns)
	ds, err := collect(scanDelivery)(q.db.QueryContext(ctx, sb.String(), args...))
	if err != nil {
		return nil, 0, err
	}
	for _, d := range ds {
		if d.LeaseOwner != "" {
			leased = append(leased, d)
		}
	}
	// Released without a lease: for a claim, on any node.
	q.due = q.due || len(ds) > len(leased)
	return leased, len(ds), nil
}

// updateDeliveries runs update, a statement that updates the deliveries of
// ids that still exist, and returns the ids of those it updated.
func (q *Queries) updateDeliveries(ctx context.Context, update string, args []any, ids []string) ([]string, error) {
	if !q.d.CostlyReturning {
		return collect(scanString)(q.db.QueryContext(ctx, update+` RETURNING deliveries.id`, args...))
	}
	res, err := q.db.ExecContext(ctx, update, args...)
	if err != nil {
		return nil, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	if int(n) == len(ids) {
		return ids, nil
	}
	// Some were deleted with their webhook: which ones is for a read to
	// tell, rarely.
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM deliveries WHERE id IN (SELECT value FROM `+
		q.d.JSONArray+`)`, mustJSON(ids)))
}

func (q *Queries) HeldDeliveries(ctx context.Context, webhookID, orderingKey string, afterSeq int64, limit int) ([]*herald.Delivery, error) {
	// Failed ones too, though they are never sent from here: a queue's
	// order stops at the first of them.
	return collect(scanDelivery)(q.db.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE webhook_id = ? AND ordering_key = ? AND held = 1 AND event_seq > ? AND status IN ('pending', 'failed')
		ORDER BY event_seq LIMIT ?`, webhookID, orderingKey, afterSeq, limit))
}

func (q *Queries) ReleaseLeases(ctx context.Context, now time.Time) error {
	q.due = true
	_, err := q.db.ExecContext(ctx, `UPDATE deliveries SET lease_until = NULL, lease_owner = NULL, next_attempt_at = ?
		WHERE lease_owner IS NOT NULL OR lease_until IS NOT NULL`, micros(now))
	return err
}

func (q *Queries) Heartbeat(ctx context.Context, node string, now time.Time) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO nodes (id, seen_at) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, node, micros(now))
	return err
}

func (q *Queries) RecoverLeases(ctx context.Context, now, deadBefore time.Time) (int, error) {
	q.due = true
	res, err := q.db.ExecContext(ctx, `UPDATE deliveries SET lease_until = NULL, lease_owner = NULL, next_attempt_at = ?
		WHERE lease_owner IS NOT NULL
		AND lease_owner NOT IN (SELECT id FROM nodes WHERE seen_at >= ?)`, micros(now), micros(deadBefore))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM nodes WHERE seen_at < ?`, micros(deadBefore))
	return int(n), err
}

func (q *Queries) ClaimJob(ctx context.Context, name string, now, next time.Time) (bool, error) {
	res, err := q.db.ExecContext(ctx, `INSERT INTO jobs (name, next_run_at) VALUES (?1, ?2)
		ON CONFLICT (name) DO UPDATE SET next_run_at = excluded.next_run_at WHERE jobs.next_run_at <= ?3`,
		name, micros(next), micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	ids, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM deliveries
		WHERE status = 'delivered' AND delivered_at < ? ORDER BY delivered_at LIMIT ?`, micros(before), limit))
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	// Resent meanwhile (pending again), a delivery stays with its
	// attempts.
	return q.removeDeliveries(ctx, ids, ` AND status = 'delivered'`)
}

// removeDeliveries removes those of the deliveries of ids that still meet
// cond (a condition on their rows, "" for none), with their attempts and
// their share of their bodies, and returns how many it removed.
func (q *Queries) removeDeliveries(ctx context.Context, ids []string, cond string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	// The deliveries go first, so that only the attempts of those removed
	// follow them.
	rows, err := q.db.QueryContext(ctx, `DELETE FROM deliveries
		WHERE id IN (SELECT value FROM `+q.d.JSONArray+`)`+cond+` RETURNING id, payload_id`, mustJSON(ids))
	if err != nil {
		return 0, err
	}
	ids = ids[:0]
	refs := map[string]int{}
	for rows.Next() {
		var id, payload string
		if err := rows.Scan(&id, &payload); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
		refs[payload]++
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM attempts WHERE delivery_id IN (SELECT value FROM `+
		q.d.JSONArray+`)`, mustJSON(ids)); err != nil {
		return 0, err
	}
	return len(ids), q.releasePayloads(ctx, refs)
}

// unfinished is the condition of the partial index deliveries_order, which
// a query must state as it is for the index to serve it.
const unfinished = `status IN ('pending', 'failed')`

func (q *Queries) QueuedEvents(ctx context.Context, webhookID string, events []herald.QueuedEvent) (map[int64]bool, error) {
	queued := map[int64]bool{}
	// Each event is looked up under its full key in deliveries_order
	// (webhook, ordering key, held, event): two probes per event, one per
	// value of held, rather than a scan of its queue (PostgreSQL filters
	// held IN (0, 1) along the queue instead). Scalar subqueries rather
	// than EXISTS, as in busyQueues.
	const chunk = 64
	for len(events) > 0 {
		n := min(chunk, len(events))
		var sb strings.Builder
		sb.WriteString(`SELECT v.column2 FROM (VALUES `)
		args := make([]any, 0, 2*n+1)
		for i, e := range events[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(`(CAST(? AS TEXT), CAST(? AS BIGINT))`)
			args = append(args, e.OrderingKey, e.Seq)
		}
		probe := func(held int) string {
			return fmt.Sprintf(`(SELECT 1 FROM deliveries d WHERE d.webhook_id = ? AND d.ordering_key = v.column1
				AND d.held = %d AND d.event_seq = v.column2 AND d.`+unfinished+` LIMIT 1)`, held)
		}
		sb.WriteString(`) AS v WHERE COALESCE(` + probe(0) + `, ` + probe(1) + `) IS NOT NULL`)
		seqs, err := collect(scanInt64)(q.db.QueryContext(ctx, sb.String(), append(args, webhookID, webhookID)...))
		if err != nil {
			return nil, err
		}
		for _, seq := range seqs {
			queued[seq] = true
		}
		events = events[n:]
	}
	return queued, nil
}

func (q *Queries) CountUnfinishedDeliveries(ctx context.Context, webhookID string, limit int) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
		WHERE webhook_id = ? AND `+unfinished+` LIMIT ?) AS u`, webhookID, limit).Scan(&n)
	return n, err
}

func (q *Queries) DropUnfinishedDeliveries(ctx context.Context, webhookID string, limit int) (int, error) {
	// Backwards along deliveries_order: of each queue, its held deliveries,
	// latest first, then its free ones.
	ids, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM deliveries
		WHERE webhook_id = ? AND `+unfinished+` AND lease_owner IS NULL
		ORDER BY ordering_key DESC, held DESC, event_seq DESC LIMIT ?`, webhookID, limit))
	if err != nil {
		return 0, err
	}
	return q.removeDeliveries(ctx, ids, ` AND `+unfinished+` AND lease_owner IS NULL`)
}

func (q *Queries) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	// An event no webhook has turned into deliveries yet, or not turned
	// into push jobs yet (when its app has a push provider), stays,
	// however old: nothing is lost to retention.
	res, err := q.db.ExecContext(ctx, `DELETE FROM events WHERE seq IN (
		SELECT seq FROM events WHERE created_at < ?
		AND seq <= COALESCE((SELECT MIN(cursor) FROM webhooks WHERE status != `+webhookDeleted+`),
			(SELECT MAX(seq) FROM events))
		AND (seq <= (SELECT seq FROM push_cursor WHERE id = 1) OR app_id NOT IN (SELECT app_id FROM push_providers))
		AND (seq <= (SELECT seq FROM connector_cursor WHERE id = 1) OR app_id NOT IN (SELECT app_id FROM connectors))
		ORDER BY seq LIMIT ?)`, micros(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (q *Queries) RequeueDeliveries(ctx context.Context, webhookID string, now time.Time) error {
	q.due = true
	_, err := q.db.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?1
		WHERE webhook_id = ?2 AND status IN ('pending', 'failed')
		AND (status = 'failed' OR (lease_until IS NULL AND next_attempt_at > ?1))`, micros(now), webhookID)
	return err
}

func (q *Queries) ResendDelivery(ctx context.Context, d *herald.Delivery, now time.Time) error {
	q.due = true
	// A resend is explicit: it goes out now, not behind its queue.
	_, err := q.db.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', held = 0, attempts = 0,
		next_attempt_at = ?, delivered_at = NULL WHERE id = ?`, micros(now), d.ID)
	return err
}

func (q *Queries) Delivery(ctx context.Context, appID, id string) (*herald.Delivery, error) {
	d, err := scanDelivery(q.db.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE id = ? AND app_id = ?`, id, appID))
	if err != nil {
		return nil, notFound(err, "delivery", id)
	}
	return d, nil
}

func (q *Queries) Deliveries(ctx context.Context, webhookID, status string, p herald.Page) ([]*herald.Delivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE webhook_id = ?`
	args := []any{webhookID}
	if status != "" {
		query += ` AND status = ?`
		args = append(args, status)
	}
	if p.Before != "" {
		query += ` AND id < ?`
		args = append(args, p.Before)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, p.Limit)
	return collect(scanDelivery)(q.db.QueryContext(ctx, query, args...))
}

func (q *Queries) Attempts(ctx context.Context, deliveryID string) ([]*herald.Attempt, error) {
	// The earlier attempts, in order, then the last one, in the delivery.
	return collect(scanAttempt)(q.db.QueryContext(ctx, `SELECT `+attemptColumns+` FROM (
		SELECT 0 AS k, id AS n, `+attemptColumns+` FROM attempts WHERE delivery_id = ?
		UNION ALL
		SELECT 1, 0, `+lastAttemptColumns+` FROM deliveries WHERE id = ? AND last_attempt_at IS NOT NULL) AS a
		ORDER BY k, n`, deliveryID, deliveryID))
}

// attemptColumns are the columns of a row of attempts, in the order
// attemptScan takes them.
const attemptColumns = `delivery_id, started_at, duration_us, status_code, response_headers, response_body, error`

// lastAttemptColumns are a delivery's last attempt, as attemptColumns.
const lastAttemptColumns = `id, last_attempt_at, last_attempt_us, last_status_code, last_response_headers,
	last_response_body, last_error`

// attemptScan holds what an attempt row is scanned into, so that a query
// joining deliveries and attempts can scan both at once.
type attemptScan struct {
	a            herald.Attempt
	started, dur int64
	headers      sql.NullString
}

func (s *attemptScan) dest() []any {
	return []any{&s.a.DeliveryID, &s.started, &s.dur, &s.a.StatusCode, &s.headers, &s.a.ResponseBody,
		&s.a.Error}
}

func (s *attemptScan) attempt() (*herald.Attempt, error) {
	a := s.a
	a.StartedAt, a.Duration = fromMicros(s.started), time.Duration(s.dur)*time.Microsecond
	if s.headers.Valid {
		a.ResponseHeaders = http.Header{}
		if err := json.Unmarshal([]byte(s.headers.String), &a.ResponseHeaders); err != nil {
			return nil, fmt.Errorf("herald store: an attempt of delivery %s: response headers: %w", a.DeliveryID, err)
		}
	}
	return &a, nil
}

func scanAttempt(row scanner) (*herald.Attempt, error) {
	var s attemptScan
	if err := row.Scan(s.dest()...); err != nil {
		return nil, err
	}
	return s.attempt()
}

// withExtra scans a row into the destinations given to Scan followed by
// extra ones: a scanner of one table's columns reads a join with another.
type withExtra struct {
	row   scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// qualify prefixes every column of a column list with a table alias.
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

var webhookEventColumns = deliveryColumnsOf("d") + ", " + qualify("d", lastAttemptColumns)

func (q *Queries) WebhookEvents(ctx context.Context, webhookID string, f herald.WebhookEventFilter, offset, limit int) ([]*herald.WebhookEvent, int, error) {
	// The log holds the deliveries that were attempted, each with its
	// last attempt; a resent one is out of it until attempted again.
	where := ` WHERE d.webhook_id = ? AND d.attempts > 0 AND d.last_attempt_at IS NOT NULL`
	args := []any{webhookID}
	if f.Success != nil {
		if *f.Success {
			where += ` AND d.last_status_code = 200`
		} else {
			where += ` AND (d.last_status_code IS NULL OR d.last_status_code != 200)`
		}
	}
	if len(f.EventTypes) > 0 {
		where += ` AND d.event_type IN (SELECT value FROM ` + q.d.JSONArray + `)`
		args = append(args, mustJSON(f.EventTypes))
	}
	var total int
	if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries d`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.QueryContext(ctx, `SELECT `+webhookEventColumns+` FROM deliveries d`+where+`
		ORDER BY d.id DESC LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*herald.WebhookEvent
	for rows.Next() {
		var as attemptScan
		d, err := scanDelivery(withExtra{rows, as.dest()})
		if err != nil {
			return nil, 0, err
		}
		a, err := as.attempt()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, &herald.WebhookEvent{Delivery: d, Attempt: a})
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// lockQueues takes the dialect's locks on delivery queues: one 32-bit key
// per queue, sorted, so that every transaction takes them in the same
// order. Two queues that share a key merely wait for each other.
func (q *Queries) lockQueues(ctx context.Context, queues []queue) error {
	if q.d.LockQueues == "" || len(queues) == 0 {
		return nil
	}
	keys := make([]int32, len(queues))
	for i, k := range queues {
		h := fnv.New32a()
		h.Write([]byte(k.webhook))
		h.Write([]byte{0})
		h.Write([]byte(k.key))
		keys[i] = int32(h.Sum32())
	}
	slices.Sort(keys)
	_, err := q.db.ExecContext(ctx, q.d.LockQueues, mustJSON(slices.Compact(keys)))
	return err
}
