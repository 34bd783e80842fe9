package sqlstore

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// The Client API Proxy's writes (herald.ProxyQueries).

func (q *Queries) DeleteConversationForUser(ctx context.Context, appID, conversationID, userID string, at time.Time) error {
	// Every message the user has is hidden, so their row counts none
	// unread and has no last message: it is set so here rather than
	// recounted.
	res, err := q.db.ExecContext(ctx, `UPDATE conversation_inbox SET listed = 0, unread_count = 0, last_position = 0,
		active_at = (SELECT c.created_at FROM conversations c WHERE c.id = conversation_inbox.conversation_id)
		WHERE app_id = ? AND conversation_id = ? AND user_id = ?`, appID, conversationID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("conversation", conversationID)
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO message_hidden (message_id, user_id, hidden_at)
		SELECT id, ?, ? FROM messages WHERE app_id = ? AND conversation_id = ? AND deleted_at IS NULL
		ON CONFLICT DO NOTHING`, userID, micros(at), appID, conversationID)
	return err
}

func (q *Queries) DeleteAnnouncementForUser(ctx context.Context, appID, announcementID, userID string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM announcement_recipients
		WHERE app_id = ? AND user_id = ? AND announcement_id = ?`, appID, userID, announcementID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

const pushTokenColumns = `user_id, device_id, type, token, apns_bundle_id, ios_version, gcm_sender_id, created_at, updated_at`

func scanPushToken(appID string, row scanner) (*herald.PushToken, error) {
	t := &herald.PushToken{AppID: appID}
	var created, updated int64
	if err := row.Scan(&t.UserID, &t.DeviceID, &t.Type, &t.Token, &t.APNSBundleID, &t.IOSVersion, &t.GCMSenderID,
		&created, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, nil
}

func (q *Queries) PutPushToken(ctx context.Context, t *herald.PushToken) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO push_tokens (app_id, `+pushTokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, user_id, device_id) DO UPDATE SET type = excluded.type, token = excluded.token,
			apns_bundle_id = excluded.apns_bundle_id, ios_version = excluded.ios_version,
			gcm_sender_id = excluded.gcm_sender_id, updated_at = excluded.updated_at`,
		t.AppID, t.UserID, t.DeviceID, t.Type, t.Token, t.APNSBundleID, t.IOSVersion, t.GCMSenderID,
		micros(t.CreatedAt), micros(t.UpdatedAt))
	return err
}

func (q *Queries) PushToken(ctx context.Context, appID, userID, deviceID string) (*herald.PushToken, error) {
	t, err := scanPushToken(appID, q.db.QueryRowContext(ctx, `SELECT `+pushTokenColumns+` FROM push_tokens
		WHERE app_id = ? AND user_id = ? AND device_id = ?`+q.lock, appID, userID, deviceID))
	if err != nil {
		return nil, notFound(err, "push_token", deviceID)
	}
	return t, nil
}

func (q *Queries) PushTokens(ctx context.Context, appID, userID string) ([]*herald.PushToken, error) {
	return collect(func(r scanner) (*herald.PushToken, error) { return scanPushToken(appID, r) })(q.db.QueryContext(ctx,
		`SELECT `+pushTokenColumns+` FROM push_tokens WHERE app_id = ? AND user_id = ?
		ORDER BY updated_at DESC, device_id`+q.lock, appID, userID))
}

func (q *Queries) DeletePushToken(ctx context.Context, appID, userID, deviceID string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM push_tokens WHERE app_id = ? AND user_id = ? AND device_id = ?`,
		appID, userID, deviceID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
