package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// Templates.

const templateColumns = `uuid, app_id, channel_uuid, name, language, title, text, template_type, category, status,
	created_at, updated_at`

func scanTemplate(row scanner) (*herald.Template, error) {
	t := &herald.Template{}
	var created, updated int64
	if err := row.Scan(&t.UUID, &t.AppID, &t.ChannelUUID, &t.Name, &t.Language, &t.Title, &t.Text, &t.TemplateType,
		&t.Category, &t.Status, &created, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, nil
}

// templateConflict turns the refusal of a duplicate name and language into
// a conflict naming them.
func templateConflict(q *Queries, t *herald.Template, err error) error {
	if !q.d.IsUniqueViolation(err) {
		return err
	}
	return &herald.Error{ID: herald.EConflict,
		Message: fmt.Sprintf("Channel %s already has a template named %q in language %q.", t.ChannelUUID, t.Name, t.Language),
		Data:    map[string]any{"property": "name", "name": t.Name, "language": t.Language}}
}

func (q *Queries) CreateTemplate(ctx context.Context, t *herald.Template) error {
	_, err := q.execMayFail(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.UUID, t.AppID, t.ChannelUUID, t.Name, t.Language, t.Title, t.Text, t.TemplateType, t.Category, t.Status,
		micros(t.CreatedAt), micros(t.UpdatedAt))
	if err != nil {
		return templateConflict(q, t, err)
	}
	return nil
}

func (q *Queries) Template(ctx context.Context, appID, uuid string) (*herald.Template, error) {
	t, err := scanTemplate(q.db.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM templates
		WHERE uuid = ? AND app_id = ?`+q.lock, uuid, appID))
	if err != nil {
		return nil, notFound(err, "template", uuid)
	}
	return t, nil
}

func (q *Queries) Templates(ctx context.Context, appID string, f herald.TemplateFilter, offset, limit int) ([]*herald.Template, int, error) {
	where := ` WHERE app_id = ?`
	args := []any{appID}
	if f.ChannelUUID != "" {
		where += ` AND channel_uuid = ?`
		args = append(args, f.ChannelUUID)
	}
	if f.Status != "" {
		where += ` AND status = ?`
		args = append(args, f.Status)
	}
	var total int
	if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM templates`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	out, err := collect(scanTemplate)(q.db.QueryContext(ctx, `SELECT `+templateColumns+` FROM templates`+where+
		` ORDER BY created_at, uuid LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))...))
	return out, total, err
}

func (q *Queries) UpdateTemplate(ctx context.Context, t *herald.Template) error {
	res, err := q.execMayFail(ctx, `UPDATE templates SET name = ?, language = ?, title = ?, text = ?, template_type = ?,
		category = ?, status = ?, updated_at = ? WHERE uuid = ? AND app_id = ?`,
		t.Name, t.Language, t.Title, t.Text, t.TemplateType, t.Category, t.Status, micros(t.UpdatedAt), t.UUID, t.AppID)
	if err != nil {
		return templateConflict(q, t, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("template", t.UUID)
	}
	return nil
}

func (q *Queries) DeleteTemplate(ctx context.Context, appID, uuid string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM templates WHERE uuid = ? AND app_id = ?`, uuid, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("template", uuid)
	}
	return nil
}

// WhatsApp's window.

func (q *Queries) ContactLastInbound(ctx context.Context, appID, contactUUID string) (*time.Time, error) {
	var at sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT last_inbound_at FROM contacts WHERE uuid = ? AND app_id = ?`,
		contactUUID, appID).Scan(&at)
	if err != nil {
		return nil, notFound(err, "contact", contactUUID)
	}
	return fromNullMicros(at), nil
}

func (q *Queries) SetContactLastInbound(ctx context.Context, appID, contactUUID string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE contacts SET last_inbound_at = ?
		WHERE uuid = ? AND app_id = ? AND (last_inbound_at IS NULL OR last_inbound_at < ?)`,
		micros(at), contactUUID, appID, micros(at))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	// Nothing changed: a later time is recorded, or there is no contact.
	_, err = q.ContactLastInbound(ctx, appID, contactUUID)
	return err
}
