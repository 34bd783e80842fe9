package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// Export keys.

func (q *Queries) PutExportKey(ctx context.Context, k *herald.ExportKey) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO export_keys (app_id, public_key, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET public_key = excluded.public_key, updated_at = excluded.updated_at`,
		k.AppID, k.PublicKey, micros(k.UpdatedAt))
	return err
}

func (q *Queries) ExportKey(ctx context.Context, appID string) (*herald.ExportKey, error) {
	k := &herald.ExportKey{AppID: appID}
	var updated int64
	err := q.db.QueryRowContext(ctx, `SELECT public_key, updated_at FROM export_keys WHERE app_id = ?`, appID).
		Scan(&k.PublicKey, &updated)
	if err != nil {
		return nil, notFound(err, "export key", appID)
	}
	k.UpdatedAt = fromMicros(updated)
	return k, nil
}

// Exports.

const exportColumns = `id, app_id, type, status, public_key, events, since_at, until_at, created_at, started_at,
	completed_at, expires_at, blob_key, size, encrypted_aes_key, aes_iv, error, lease_owner, lease_until`

func scanExport(row scanner) (*herald.Export, error) {
	e := &herald.Export{}
	var events, blobKey, owner sql.NullString
	var since, until, started, completed, expires, lease sql.NullInt64
	var created int64
	if err := row.Scan(&e.ID, &e.AppID, &e.Type, &e.Status, &e.PublicKey, &events, &since, &until, &created,
		&started, &completed, &expires, &blobKey, &e.Size, &e.EncryptedAESKey, &e.AESIV, &e.Error, &owner,
		&lease); err != nil {
		return nil, err
	}
	if events.Valid {
		if err := json.Unmarshal([]byte(events.String), &e.Events); err != nil {
			return nil, fmt.Errorf("herald store: export %s events: %w", e.ID, err)
		}
	}
	e.CreatedAt = fromMicros(created)
	e.Since, e.Until = fromNullMicros(since), fromNullMicros(until)
	e.StartedAt, e.CompletedAt, e.ExpiresAt = fromNullMicros(started), fromNullMicros(completed), fromNullMicros(expires)
	e.BlobKey, e.LeaseOwner = blobKey.String, owner.String
	e.LeaseUntil = fromNullMicros(lease)
	return e, nil
}

// eventsJSON is the events column: NULL for an export of everything.
func eventsJSON(events []string) any {
	if events == nil {
		return nil
	}
	return mustJSON(events)
}

func (q *Queries) CreateExport(ctx context.Context, e *herald.Export) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO exports (`+exportColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.AppID, e.Type, e.Status, e.PublicKey, eventsJSON(e.Events), nullMicros(e.Since), nullMicros(e.Until),
		micros(e.CreatedAt), nullMicros(e.StartedAt), nullMicros(e.CompletedAt), nullMicros(e.ExpiresAt),
		nullString(e.BlobKey), e.Size, e.EncryptedAESKey, e.AESIV, e.Error, nullString(e.LeaseOwner),
		nullMicros(e.LeaseUntil))
	return err
}

func (q *Queries) Export(ctx context.Context, appID, id string) (*herald.Export, error) {
	e, err := scanExport(q.db.QueryRowContext(ctx, `SELECT `+exportColumns+` FROM exports
		WHERE id = ? AND app_id = ?`+q.lock, id, appID))
	if err != nil {
		return nil, notFound(err, "export", id)
	}
	return e, nil
}

func (q *Queries) ExportByID(ctx context.Context, id string) (*herald.Export, error) {
	e, err := scanExport(q.db.QueryRowContext(ctx, `SELECT `+exportColumns+` FROM exports WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "export", id)
	}
	return e, nil
}

func (q *Queries) Exports(ctx context.Context, appID string, p herald.Page) ([]*herald.Export, error) {
	query, args := `SELECT `+exportColumns+` FROM exports WHERE app_id = ?`, []any{appID}
	if p.Before != "" {
		query += ` AND id < ?`
		args = append(args, p.Before)
	}
	return collect(scanExport)(q.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, p.Limit)...))
}

func (q *Queries) ActiveExports(ctx context.Context, appID, typ string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM exports
		WHERE app_id = ? AND type = ? AND status IN ('pending', 'executing')`, appID, typ).Scan(&n)
	return n, err
}

func (q *Queries) ClaimExport(ctx context.Context, owner string, now, leaseUntil time.Time) (*herald.Export, error) {
	// The candidate is read first and taken by a conditional update, which
	// another runner's claim of the same export makes match nothing: the
	// caller tries again at its next poll.
	id, err := scanString(q.db.QueryRowContext(ctx, `SELECT id FROM exports
		WHERE status IN ('pending', 'executing') AND (lease_until IS NULL OR lease_until < ?)
		ORDER BY id LIMIT 1`, micros(now)))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	res, err := q.db.ExecContext(ctx, `UPDATE exports SET status = 'executing',
		started_at = COALESCE(started_at, ?), lease_owner = ?, lease_until = ?
		WHERE id = ? AND status IN ('pending', 'executing') AND (lease_until IS NULL OR lease_until < ?)`,
		micros(now), owner, micros(leaseUntil), id, micros(now))
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	return scanExport(q.db.QueryRowContext(ctx, `SELECT `+exportColumns+` FROM exports WHERE id = ?`, id))
}

func (q *Queries) ExtendExportLease(ctx context.Context, id, owner string, leaseUntil time.Time) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE exports SET lease_until = ?
		WHERE id = ? AND lease_owner = ? AND status = 'executing'`, micros(leaseUntil), id, owner)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) FinishExport(ctx context.Context, e *herald.Export, owner string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE exports SET status = ?, completed_at = ?, expires_at = ?,
		blob_key = ?, size = ?, encrypted_aes_key = ?, aes_iv = ?, error = ?, lease_owner = NULL, lease_until = NULL
		WHERE id = ? AND lease_owner = ? AND status = 'executing'`,
		e.Status, nullMicros(e.CompletedAt), nullMicros(e.ExpiresAt), nullString(e.BlobKey), e.Size,
		e.EncryptedAESKey, e.AESIV, e.Error, e.ID, owner)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) DeleteExport(ctx context.Context, appID, id string, at time.Time) (*herald.Export, error) {
	e, err := q.Export(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM exports WHERE id = ? AND app_id = ?`, id, appID); err != nil {
		return nil, err
	}
	if e.BlobKey != "" {
		if _, err := q.db.ExecContext(ctx, `INSERT INTO blob_deletions (blob_key, queued_at) VALUES (?, ?)
			ON CONFLICT (blob_key) DO NOTHING`, e.BlobKey, micros(at)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (q *Queries) ExpiredExports(ctx context.Context, now time.Time, limit int) ([]*herald.Export, error) {
	return collect(scanExport)(q.db.QueryContext(ctx, `SELECT `+exportColumns+` FROM exports
		WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, micros(now), limit))
}

func (q *Queries) ConversationsAfter(ctx context.Context, appID, after string, limit int) ([]*herald.Conversation, error) {
	return collect(func(r scanner) (*herald.Conversation, error) { return scanConversation(appID, r) })(
		q.db.QueryContext(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE app_id = ? AND deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?`, appID, after, limit))
}

func (q *Queries) MessagesAfter(ctx context.Context, appID, conversationID string, afterPosition int64, limit int) ([]*herald.Message, error) {
	return collect(func(r scanner) (*herald.Message, error) { return scanMessage(appID, r) })(
		q.db.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE conversation_id = ? AND app_id = ? AND deleted_at IS NULL AND position > ?
			ORDER BY position LIMIT ?`, conversationID, appID, afterPosition, limit))
}

// Export schedules.

const exportScheduleColumns = `app_id, export_interval, events, next_export_at, last_export_at, last_export_id,
	updated_at`

func scanExportSchedule(row scanner) (*herald.ExportSchedule, error) {
	s := &herald.ExportSchedule{}
	var events string
	var next, last sql.NullInt64
	var lastID sql.NullString
	var updated int64
	if err := row.Scan(&s.AppID, &s.Interval, &events, &next, &last, &lastID, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &s.Events); err != nil {
		return nil, fmt.Errorf("herald store: export schedule of %s: events: %w", s.AppID, err)
	}
	s.NextExportAt, s.LastExportAt, s.LastExportID = fromNullMicros(next), fromNullMicros(last), lastID.String
	s.UpdatedAt = fromMicros(updated)
	return s, nil
}

func (q *Queries) PutExportSchedule(ctx context.Context, s *herald.ExportSchedule) error {
	events := s.Events
	if events == nil {
		events = []string{}
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO export_schedules (`+exportScheduleColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET export_interval = excluded.export_interval, events = excluded.events,
			next_export_at = excluded.next_export_at, last_export_at = excluded.last_export_at,
			last_export_id = excluded.last_export_id, updated_at = excluded.updated_at`,
		s.AppID, s.Interval, mustJSON(events), nullMicros(s.NextExportAt), nullMicros(s.LastExportAt),
		nullString(s.LastExportID), micros(s.UpdatedAt))
	return err
}

func (q *Queries) ExportSchedule(ctx context.Context, appID string) (*herald.ExportSchedule, error) {
	s, err := scanExportSchedule(q.db.QueryRowContext(ctx, `SELECT `+exportScheduleColumns+`
		FROM export_schedules WHERE app_id = ?`+q.lock, appID))
	if err != nil {
		return nil, notFound(err, "export schedule", appID)
	}
	return s, nil
}

func (q *Queries) DueExportSchedules(ctx context.Context, now time.Time, limit int) ([]*herald.ExportSchedule, error) {
	return collect(scanExportSchedule)(q.db.QueryContext(ctx, `SELECT `+exportScheduleColumns+`
		FROM export_schedules WHERE next_export_at IS NOT NULL AND next_export_at <= ?
		ORDER BY next_export_at, app_id LIMIT ?`, micros(now), limit))
}
