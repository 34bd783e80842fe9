package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// SealSecrets seals with the keyring's first key every secret that the
// database holds in plaintext (written before Herald sealed secrets, or by
// a store without a keyring) or under another key (the keys are being
// changed), and checks that every other one opens: a store opened without
// the key a secret needs fails at once, naming the key, rather than at the
// first delivery. It returns how many secrets it sealed. Each write is
// conditional on the value it replaces, so that nodes starting together,
// or a rotation meanwhile, lose nothing.
func (q *Queries) SealSecrets(ctx context.Context) (int, error) {
	columns := make([]string, len(webhookSecrets))
	for i, c := range webhookSecrets {
		columns[i] = c.column
	}
	type row struct {
		id     string
		values []string
	}
	rows, err := q.db.QueryContext(ctx, `SELECT id, `+strings.Join(columns, ", ")+` FROM webhooks ORDER BY id`)
	if err != nil {
		return 0, err
	}
	var webhooks []row
	for rows.Next() {
		r := row{values: make([]string, len(columns))}
		dest := []any{&r.id}
		for i := range r.values {
			dest = append(dest, &r.values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, err
		}
		webhooks = append(webhooks, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	sealed := 0
	for _, r := range webhooks {
		for i, column := range columns {
			ad := secretAD(column, r.id)
			n, err := q.sealOne(ctx, r.values[i], ad, `UPDATE webhooks SET `+column+` = ? WHERE id = ? AND `+column+` = ?`, r.id)
			if err != nil {
				return sealed, fmt.Errorf("webhook %s, %s: %w", r.id, column, err)
			}
			sealed += n
		}
	}
	sealed, err = q.sealPushSecrets(ctx, sealed)
	if err != nil {
		return sealed, err
	}
	if sealed, err = q.sealConnectorSecrets(ctx, sealed); err != nil {
		return sealed, err
	}
	for key := range secretSettings {
		var v string
		err := q.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return sealed, err
		}
		n, err := q.sealOne(ctx, v, settingAD(key), `UPDATE settings SET value = ? WHERE key = ? AND value = ?`, key)
		if err != nil {
			return sealed, fmt.Errorf("setting %s: %w", key, err)
		}
		sealed += n
	}
	return sealed, nil
}

// sealOne checks that v opens and, if it is stale, writes it sealed with
// update (parameters: the new value, id, the old value).
func (q *Queries) sealOne(ctx context.Context, v, ad, update, id string) (int, error) {
	plain, err := q.keys.Open(v, ad)
	if err != nil || !q.keys.Stale(v) {
		return 0, err
	}
	res, err := q.db.ExecContext(ctx, update, q.keys.Seal(plain, ad), id, v)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// sealPushSecrets does for push providers' secrets what SealSecrets does
// for webhooks'.
func (q *Queries) sealPushSecrets(ctx context.Context, sealed int) (int, error) {
	type row struct{ app, kind, secret string }
	rows, err := q.db.QueryContext(ctx, `SELECT app_id, kind, secret FROM push_providers ORDER BY app_id, kind`)
	if err != nil {
		return sealed, err
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.app, &r.kind, &r.secret); err != nil {
			rows.Close()
			return sealed, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sealed, err
	}
	for _, r := range all {
		n, err := q.sealOne(ctx, r.secret, pushSecretAD(r.app, r.kind),
			`UPDATE push_providers SET secret = ? WHERE app_id || '/' || kind = ? AND secret = ?`, r.app+"/"+r.kind)
		if err != nil {
			return sealed, fmt.Errorf("push provider %s/%s: %w", r.app, r.kind, err)
		}
		sealed += n
	}
	return sealed, nil
}
