package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald"
)

// Funnels.

const funnelColumns = `uuid, app_id, name, emoji, position, created_at`

func scanFunnel(row scanner) (*herald.Funnel, error) {
	f := &herald.Funnel{}
	var created int64
	if err := row.Scan(&f.UUID, &f.AppID, &f.Name, &f.Emoji, &f.Position, &created); err != nil {
		return nil, err
	}
	f.CreatedAt = fromMicros(created)
	return f, nil
}

func (q *Queries) CreateFunnel(ctx context.Context, f *herald.Funnel) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO funnels (`+funnelColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		f.UUID, f.AppID, f.Name, f.Emoji, f.Position, micros(f.CreatedAt))
	return err
}

func (q *Queries) Funnel(ctx context.Context, appID, uuid string) (*herald.Funnel, error) {
	f, err := scanFunnel(q.db.QueryRowContext(ctx, `SELECT `+funnelColumns+` FROM funnels
		WHERE uuid = ? AND app_id = ?`+q.lock, uuid, appID))
	if err != nil {
		return nil, notFound(err, "funnel", uuid)
	}
	return f, nil
}

func (q *Queries) Funnels(ctx context.Context, appID string) ([]*herald.Funnel, error) {
	return collect(scanFunnel)(q.db.QueryContext(ctx, `SELECT `+funnelColumns+` FROM funnels WHERE app_id = ?
		ORDER BY position, created_at, uuid`, appID))
}

func (q *Queries) DeleteFunnel(ctx context.Context, appID, uuid string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM funnels WHERE uuid = ? AND app_id = ?`, uuid, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("funnel", uuid)
	}
	return nil
}

func (q *Queries) FunnelInUse(ctx context.Context, appID, uuid string) (bool, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM contacts
		WHERE app_id = ? AND funnel_uuid = ? LIMIT 1) used`, appID, uuid).Scan(&n)
	return n > 0, err
}

// Custom contact fields.

func scanContactField(row scanner) (*herald.ContactField, error) {
	f := &herald.ContactField{}
	var options string
	var created int64
	if err := row.Scan(&f.AppID, &f.Name, &f.Type, &options, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(options), &f.Options); err != nil {
		return nil, fmt.Errorf("herald store: custom field %q options: %w", f.Name, err)
	}
	if len(f.Options) == 0 {
		f.Options = nil
	}
	f.CreatedAt = fromMicros(created)
	return f, nil
}

func (q *Queries) PutContactField(ctx context.Context, f *herald.ContactField) error {
	options := f.Options
	if options == nil {
		options = []string{}
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO contact_fields (app_id, name, type, options, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, name) DO UPDATE SET type = excluded.type, options = excluded.options`,
		f.AppID, f.Name, f.Type, mustJSON(options), micros(f.CreatedAt))
	return err
}

func (q *Queries) ContactFields(ctx context.Context, appID string) ([]*herald.ContactField, error) {
	return collect(scanContactField)(q.db.QueryContext(ctx, `SELECT app_id, name, type, options, created_at
		FROM contact_fields WHERE app_id = ? ORDER BY name`, appID))
}

func (q *Queries) DeleteContactField(ctx context.Context, appID, name string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM contact_fields WHERE app_id = ? AND name = ?`, appID, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("custom field", name)
	}
	return nil
}

func (q *Queries) ContactByBsuid(ctx context.Context, appID, channelUUID, bsuid string) (*herald.Contact, error) {
	c, err := scanContact(q.db.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE app_id = ? AND channel_uuid = ? AND bsuid = ? AND bsuid != ''`+q.lock, appID, channelUUID, bsuid))
	if err != nil {
		return nil, notFound(err, "contact", bsuid)
	}
	return c, nil
}
