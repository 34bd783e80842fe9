package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// Channel connectors and their jobs (herald.ConnectorQueries).

// connectorSecretAD binds a connector's sealed secrets to its channel: a
// secret copied to another row does not open.
func connectorSecretAD(channelUUID string) string { return "connectors.secret/" + channelUUID }

func (q *Queries) PutConnector(ctx context.Context, c *herald.Connector) error {
	settings, err := json.Marshal(c)
	if err != nil {
		return err
	}
	secrets, err := json.Marshal(c.Secrets)
	if err != nil {
		return err
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO connectors (channel_uuid, app_id, provider, settings, secret, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (channel_uuid) DO UPDATE SET provider = excluded.provider, settings = excluded.settings,
			secret = excluded.secret, updated_at = excluded.updated_at`,
		c.ChannelUUID, c.AppID, c.Provider, string(settings), q.keys.Seal(string(secrets), connectorSecretAD(c.ChannelUUID)),
		micros(c.CreatedAt), micros(c.UpdatedAt))
	return err
}

func (q *Queries) scanConnector(row scanner) (*herald.Connector, error) {
	var channel, appID, provider, settings, secret string
	var created, updated int64
	if err := row.Scan(&channel, &appID, &provider, &settings, &secret, &created, &updated); err != nil {
		return nil, err
	}
	c := &herald.Connector{}
	if err := json.Unmarshal([]byte(settings), c); err != nil {
		return nil, fmt.Errorf("connector of channel %s: %w", channel, err)
	}
	plain, err := q.keys.Open(secret, connectorSecretAD(channel))
	if err != nil {
		return nil, fmt.Errorf("connector of channel %s: %w", channel, err)
	}
	if err := json.Unmarshal([]byte(plain), &c.Secrets); err != nil {
		return nil, fmt.Errorf("connector of channel %s: %w", channel, err)
	}
	c.ChannelUUID, c.AppID, c.Provider = channel, appID, provider
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

func (q *Queries) Connector(ctx context.Context, appID, channelUUID string) (*herald.Connector, error) {
	c, err := q.scanConnector(q.db.QueryRowContext(ctx, `SELECT channel_uuid, app_id, provider, settings, secret,
		created_at, updated_at FROM connectors WHERE channel_uuid = ?1 AND (app_id = ?2 OR ?2 = '')`+q.lock,
		channelUUID, appID))
	if err != nil {
		return nil, notFound(err, "connector", channelUUID)
	}
	return c, nil
}

func (q *Queries) DeleteConnector(ctx context.Context, appID, channelUUID string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM connectors WHERE app_id = ? AND channel_uuid = ?`, appID, channelUUID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// sealConnectorSecrets does for connectors' secrets what SealSecrets does
// for webhooks'.
func (q *Queries) sealConnectorSecrets(ctx context.Context, sealed int) (int, error) {
	type row struct{ channel, secret string }
	all, err := collect(func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.channel, &x.secret)
	})(q.db.QueryContext(ctx, `SELECT channel_uuid, secret FROM connectors ORDER BY channel_uuid`))
	if err != nil {
		return sealed, err
	}
	for _, r := range all {
		n, err := q.sealOne(ctx, r.secret, connectorSecretAD(r.channel),
			`UPDATE connectors SET secret = ? WHERE channel_uuid = ? AND secret = ?`, r.channel)
		if err != nil {
			return sealed, fmt.Errorf("connector of channel %s: %w", r.channel, err)
		}
		sealed += n
	}
	return sealed, nil
}

func (q *Queries) ConnectorCursor(ctx context.Context) (int64, error) {
	var seq int64
	err := q.db.QueryRowContext(ctx, `SELECT seq FROM connector_cursor WHERE id = 1`).Scan(&seq)
	return seq, err
}

func (q *Queries) AdvanceConnectorCursor(ctx context.Context, from, to int64) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE connector_cursor SET seq = ? WHERE id = 1 AND seq = ?`, to, from)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) CreateConnectorJobs(ctx context.Context, jobs []*herald.ConnectorJob) error {
	for _, j := range jobs {
		if j.Status == "" {
			j.Status = herald.PushPending
		}
		_, err := q.db.ExecContext(ctx, `INSERT INTO connector_jobs (id, app_id, channel_uuid, contact_uuid, message_id,
			event_seq, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.AppID, j.ChannelUUID, j.ContactUUID, j.MessageID, j.EventSeq, j.Status, j.Attempts,
			micros(j.NextAttemptAt), j.LeaseOwner, micros(j.LeaseUntil), j.LastError, micros(j.CreatedAt))
		if err != nil {
			return err
		}
	}
	return nil
}

const connectorJobColumns = `id, app_id, channel_uuid, contact_uuid, message_id, event_seq, status, attempts,
	next_attempt_at, lease_owner, lease_until, last_error, created_at`

func scanConnectorJob(row scanner) (*herald.ConnectorJob, error) {
	j := &herald.ConnectorJob{}
	var next, lease, created int64
	if err := row.Scan(&j.ID, &j.AppID, &j.ChannelUUID, &j.ContactUUID, &j.MessageID, &j.EventSeq, &j.Status,
		&j.Attempts, &next, &j.LeaseOwner, &lease, &j.LastError, &created); err != nil {
		return nil, err
	}
	j.NextAttemptAt, j.LeaseUntil, j.CreatedAt = fromMicros(next), fromMicros(lease), fromMicros(created)
	return j, nil
}

func (q *Queries) ClaimConnectorJobs(ctx context.Context, node string, now, leaseUntil time.Time, limit, perApp int,
	skipApps []string) ([]*herald.ConnectorJob, error) {
	if skipApps == nil {
		skipApps = []string{}
	}
	// A contact's messages go one at a time, in the order they were sent:
	// only a contact's earliest pending job is due, and it holds the others
	// while it is leased or waits for its retry.
	ids, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM (
			SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY app_id ORDER BY next_attempt_at, id) AS n
			FROM connector_jobs j WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?
				AND app_id NOT IN (SELECT value FROM `+q.d.JSONArray+`)
				AND NOT EXISTS (SELECT 1 FROM connector_jobs e WHERE e.app_id = j.app_id
					AND e.contact_uuid = j.contact_uuid AND e.status = 'pending' AND e.event_seq < j.event_seq)
		) due WHERE n <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		micros(now), micros(now), mustJSON(skipApps), perApp, limit))
	if err != nil {
		return nil, err
	}
	var out []*herald.ConnectorJob
	for _, id := range ids {
		// Taken only if no other node took it meanwhile.
		res, err := q.db.ExecContext(ctx, `UPDATE connector_jobs SET lease_owner = ?, lease_until = ?
			WHERE id = ? AND status = 'pending' AND lease_until <= ?`, node, micros(leaseUntil), id, micros(now))
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		j, err := scanConnectorJob(q.db.QueryRowContext(ctx, `SELECT `+connectorJobColumns+` FROM connector_jobs WHERE id = ?`, id))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func (q *Queries) RetryConnectorJob(ctx context.Context, node string, j *herald.ConnectorJob) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE connector_jobs SET attempts = ?, next_attempt_at = ?, status = ?,
		last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`,
		j.Attempts, micros(j.NextAttemptAt), j.Status, j.LastError, j.ID, node)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) FinishConnectorJob(ctx context.Context, node, id string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM connector_jobs WHERE id = ? AND lease_owner = ?`, id, node)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) ReleaseConnectorLeases(ctx context.Context, node string) error {
	_, err := q.db.ExecContext(ctx, `UPDATE connector_jobs SET lease_owner = '', lease_until = 0
		WHERE lease_owner <> '' AND (lease_owner = ? OR ? = '')`, node, node)
	return err
}

func (q *Queries) ConnectorJobs(ctx context.Context, appID, status string, limit int) ([]*herald.ConnectorJob, error) {
	return collect(scanConnectorJob)(q.db.QueryContext(ctx, `SELECT `+connectorJobColumns+` FROM connector_jobs
		WHERE app_id = ? AND status = ? ORDER BY event_seq, id LIMIT ?`, appID, status, limit))
}

func (q *Queries) PutExternalMessageID(ctx context.Context, appID, channelUUID, externalID, messageID string) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO connector_message_ids (app_id, channel_uuid, external_id, message_id)
		VALUES (?, ?, ?, ?) ON CONFLICT (app_id, channel_uuid, external_id) DO UPDATE SET message_id = excluded.message_id`,
		appID, channelUUID, externalID, messageID)
	return err
}

func (q *Queries) MessageByExternalID(ctx context.Context, appID, channelUUID, externalID string) (string, error) {
	var id string
	err := q.db.QueryRowContext(ctx, `SELECT message_id FROM connector_message_ids
		WHERE app_id = ? AND channel_uuid = ? AND external_id = ?`, appID, channelUUID, externalID).Scan(&id)
	if err != nil {
		return "", notFound(err, "message", externalID)
	}
	return id, nil
}
