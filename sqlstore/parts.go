package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// Message parts.

func (q *Queries) UpdateMessageParts(ctx context.Context, m *herald.Message) error {
	res, err := q.db.ExecContext(ctx, `UPDATE messages SET parts = ? WHERE id = ? AND app_id = ? AND deleted_at IS NULL`,
		mustJSON(m.Parts), m.ID, m.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("message", m.ID)
	}
	return nil
}

// Scheduled messages. The row keeps the whole message as JSON; its columns
// are what the queries select on.

func scanScheduledMessage(row scanner) (*herald.ScheduledMessage, error) {
	var appID, body string
	if err := row.Scan(&appID, &body); err != nil {
		return nil, err
	}
	m := &herald.ScheduledMessage{}
	if err := json.Unmarshal([]byte(body), m); err != nil {
		return nil, fmt.Errorf("herald store: scheduled message: %w", err)
	}
	m.AppID = appID
	return m, nil
}

func (q *Queries) CreateScheduledMessage(ctx context.Context, m *herald.ScheduledMessage) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO scheduled_messages (id, app_id, conversation_id, send_at, created_at, message)
		VALUES (?, ?, ?, ?, ?, ?)`, m.ID, m.AppID, m.ConversationID, micros(m.SendAt), micros(m.CreatedAt), mustJSON(m))
	return err
}

func (q *Queries) ScheduledMessage(ctx context.Context, appID, id string) (*herald.ScheduledMessage, error) {
	m, err := scanScheduledMessage(q.db.QueryRowContext(ctx, `SELECT app_id, message FROM scheduled_messages
		WHERE id = ? AND app_id = ?`, id, appID))
	if err != nil {
		return nil, notFound(err, "scheduled message", id)
	}
	return m, nil
}

func (q *Queries) DueScheduledMessages(ctx context.Context, now time.Time, limit int) ([]*herald.ScheduledMessage, error) {
	return collect(scanScheduledMessage)(q.db.QueryContext(ctx, `SELECT app_id, message FROM scheduled_messages
		WHERE send_at <= ? ORDER BY send_at, id LIMIT ?`, micros(now), limit))
}

func (q *Queries) NextScheduledMessage(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT MIN(send_at) FROM scheduled_messages`).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !at.Valid) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return fromMicros(at.Int64), true, nil
}

func (q *Queries) DeleteScheduledMessage(ctx context.Context, appID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM scheduled_messages WHERE id = ? AND app_id = ?`, id, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("scheduled message", id)
	}
	return nil
}
