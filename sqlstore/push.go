package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// Push providers and push jobs (herald.PushQueries).

// pushSecretAD binds a provider's sealed secret to its app and kind: a
// secret copied to another row does not open.
func pushSecretAD(appID, kind string) string { return "push_providers.secret/" + appID + "/" + kind }

func (q *Queries) PutPushProvider(ctx context.Context, p *herald.PushProvider) error {
	settings, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO push_providers (app_id, kind, settings, secret, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, kind) DO UPDATE SET settings = excluded.settings, secret = excluded.secret,
			updated_at = excluded.updated_at`,
		p.AppID, p.Kind, string(settings), q.keys.Seal(p.Secret, pushSecretAD(p.AppID, p.Kind)),
		micros(p.CreatedAt), micros(p.UpdatedAt))
	return err
}

func (q *Queries) scanPushProvider(row scanner) (*herald.PushProvider, error) {
	var appID, kind, settings, secret string
	var created, updated int64
	if err := row.Scan(&appID, &kind, &settings, &secret, &created, &updated); err != nil {
		return nil, err
	}
	p := &herald.PushProvider{}
	if err := json.Unmarshal([]byte(settings), p); err != nil {
		return nil, fmt.Errorf("push provider %s/%s: %w", appID, kind, err)
	}
	plain, err := q.keys.Open(secret, pushSecretAD(appID, kind))
	if err != nil {
		return nil, fmt.Errorf("push provider %s/%s: %w", appID, kind, err)
	}
	p.AppID, p.Kind, p.Secret = appID, kind, plain
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return p, nil
}

const pushProviderColumns = `app_id, kind, settings, secret, created_at, updated_at`

func (q *Queries) PushProvider(ctx context.Context, appID, kind string) (*herald.PushProvider, error) {
	p, err := q.scanPushProvider(q.db.QueryRowContext(ctx, `SELECT `+pushProviderColumns+` FROM push_providers
		WHERE app_id = ? AND kind = ?`+q.lock, appID, kind))
	if err != nil {
		return nil, notFound(err, "push_provider", kind)
	}
	return p, nil
}

func (q *Queries) PushProviders(ctx context.Context, appID string) ([]*herald.PushProvider, error) {
	return collect(q.scanPushProvider)(q.db.QueryContext(ctx, `SELECT `+pushProviderColumns+` FROM push_providers
		WHERE app_id = ? OR ? = '' ORDER BY app_id, kind`, appID, appID))
}

func (q *Queries) DeletePushProvider(ctx context.Context, appID, kind string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM push_providers WHERE app_id = ? AND kind = ?`, appID, kind)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (q *Queries) PushCursor(ctx context.Context) (int64, error) {
	var seq int64
	err := q.db.QueryRowContext(ctx, `SELECT seq FROM push_cursor WHERE id = 1`).Scan(&seq)
	return seq, err
}

func (q *Queries) AdvancePushCursor(ctx context.Context, from, to int64) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE push_cursor SET seq = ? WHERE id = 1 AND seq = ?`, to, from)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) CreatePushJobs(ctx context.Context, jobs []*herald.PushJob) error {
	for _, j := range jobs {
		if j.Status == "" {
			j.Status = herald.PushPending
		}
		_, err := q.db.ExecContext(ctx, `INSERT INTO push_jobs (id, app_id, event_id, event_seq, user_id, provider,
			device_id, payload, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.AppID, j.EventID, j.EventSeq, j.UserID, j.Provider, j.DeviceID, string(j.Payload), j.Status,
			j.Attempts, micros(j.NextAttemptAt), j.LeaseOwner, micros(j.LeaseUntil), j.LastError, micros(j.CreatedAt))
		if err != nil {
			return err
		}
	}
	return nil
}

const pushJobColumns = `id, app_id, event_id, event_seq, user_id, provider, device_id, payload, status, attempts,
	next_attempt_at, lease_owner, lease_until, last_error, created_at`

func scanPushJob(row scanner) (*herald.PushJob, error) {
	j := &herald.PushJob{}
	var payload string
	var next, lease, created int64
	if err := row.Scan(&j.ID, &j.AppID, &j.EventID, &j.EventSeq, &j.UserID, &j.Provider, &j.DeviceID, &payload,
		&j.Status, &j.Attempts, &next, &j.LeaseOwner, &lease, &j.LastError, &created); err != nil {
		return nil, err
	}
	j.Payload = json.RawMessage(payload)
	j.NextAttemptAt, j.LeaseUntil, j.CreatedAt = fromMicros(next), fromMicros(lease), fromMicros(created)
	return j, nil
}

func (q *Queries) ClaimPushJobs(ctx context.Context, node string, now, leaseUntil time.Time, limit, perApp int,
	skipApps []string) ([]*herald.PushJob, error) {
	if skipApps == nil {
		skipApps = []string{}
	}
	// The earliest perApp of each app first, then the earliest of those:
	// an app with a backlog takes no more than its share of a claim.
	ids, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM (
			SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY app_id ORDER BY next_attempt_at, id) AS n
			FROM push_jobs WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?
				AND app_id NOT IN (SELECT value FROM `+q.d.JSONArray+`)
		) due WHERE n <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		micros(now), micros(now), mustJSON(skipApps), perApp, limit))
	if err != nil {
		return nil, err
	}
	var out []*herald.PushJob
	for _, id := range ids {
		// Taken only if no other node took it meanwhile.
		res, err := q.db.ExecContext(ctx, `UPDATE push_jobs SET lease_owner = ?, lease_until = ?
			WHERE id = ? AND status = 'pending' AND lease_until <= ?`, node, micros(leaseUntil), id, micros(now))
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		j, err := scanPushJob(q.db.QueryRowContext(ctx, `SELECT `+pushJobColumns+` FROM push_jobs WHERE id = ?`, id))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func (q *Queries) RetryPushJob(ctx context.Context, node string, j *herald.PushJob) (bool, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE push_jobs SET attempts = ?, next_attempt_at = ?, status = ?,
		last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`,
		j.Attempts, micros(j.NextAttemptAt), j.Status, j.LastError, j.ID, node)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) FinishPushJob(ctx context.Context, node, id string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM push_jobs WHERE id = ? AND lease_owner = ?`, id, node)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) ReleasePushLeases(ctx context.Context, node string) error {
	_, err := q.db.ExecContext(ctx, `UPDATE push_jobs SET lease_owner = '', lease_until = 0
		WHERE lease_owner <> '' AND (lease_owner = ? OR ? = '')`, node, node)
	return err
}

func (q *Queries) PushJobs(ctx context.Context, appID, status string, limit int) ([]*herald.PushJob, error) {
	return collect(scanPushJob)(q.db.QueryContext(ctx, `SELECT `+pushJobColumns+` FROM push_jobs
		WHERE app_id = ? AND status = ? ORDER BY created_at, id LIMIT ?`, appID, status, limit))
}
