package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Users, block lists, follows and session settings.

func (q *Queries) User(ctx context.Context, appID, userID string) (*herald.User, error) {
	u := &herald.User{AppID: appID, UserID: userID}
	var suspended int
	var revoked sql.NullInt64
	var updated int64
	err := q.db.QueryRowContext(ctx, `SELECT suspended, sessions_revoked_at, updated_at FROM app_users
		WHERE app_id = ? AND user_id = ?`+q.lock, appID, userID).Scan(&suspended, &revoked, &updated)
	if err != nil {
		return nil, notFound(err, "user", userID)
	}
	u.Suspended = suspended != 0
	u.SessionsRevokedAt = fromNullMicros(revoked)
	u.UpdatedAt = fromMicros(updated)
	return u, nil
}

func (q *Queries) PutUser(ctx context.Context, u *herald.User) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO app_users (app_id, user_id, suspended, sessions_revoked_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, user_id) DO UPDATE SET suspended = excluded.suspended,
			sessions_revoked_at = excluded.sessions_revoked_at, updated_at = excluded.updated_at`,
		u.AppID, u.UserID, flag(u.Suspended), nullMicros(u.SessionsRevokedAt), micros(u.UpdatedAt))
	return err
}

func (q *Queries) Blocks(ctx context.Context, appID, ownerID string) ([]string, error) {
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT user_id FROM user_blocks
		WHERE app_id = ? AND owner_id = ? ORDER BY blocked_at, user_id`+q.lock, appID, ownerID))
}

func (q *Queries) CountBlocks(ctx context.Context, appID, ownerID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_blocks WHERE app_id = ? AND owner_id = ?`,
		appID, ownerID).Scan(&n)
	return n, err
}

func (q *Queries) AddBlocks(ctx context.Context, appID, ownerID string, userIDs []string, at time.Time) error {
	if len(userIDs) == 0 {
		return nil
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO user_blocks (app_id, owner_id, user_id, blocked_at)
		SELECT ?, ?, value, CAST(? AS BIGINT) FROM `+q.d.JSONArray+` WHERE TRUE ON CONFLICT DO NOTHING`,
		appID, ownerID, micros(at), mustJSON(userIDs))
	return err
}

func (q *Queries) RemoveBlocks(ctx context.Context, appID, ownerID string, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	_, err := q.db.ExecContext(ctx, `DELETE FROM user_blocks WHERE app_id = ? AND owner_id = ?
		AND user_id IN (SELECT value FROM `+q.d.JSONArray+`)`, appID, ownerID, mustJSON(userIDs))
	return err
}

func (q *Queries) BlockedAmong(ctx context.Context, appID, ownerID string, userIDs []string) ([]string, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT user_id FROM user_blocks WHERE app_id = ? AND owner_id = ?
		AND user_id IN (SELECT value FROM `+q.d.JSONArray+`) ORDER BY user_id`, appID, ownerID, mustJSON(userIDs)))
}

func (q *Queries) HideFromBlocks(ctx context.Context, m *herald.Message) error {
	// Both directions start from the sender's own rows of the two indexes
	// and probe the participants' primary key: a sender nobody blocks and
	// who blocks nobody costs two empty index lookups, whatever the size
	// of the conversation. Nothing in the transaction reads what it
	// writes, so on PostgreSQL it goes with the COMMIT's round trip. Two
	// users who block each other come out of both directions: ON
	// CONFLICT drops the second, which costs less than UNION's sorting
	// of every message's (nearly always empty) rows, on SQLite 10 % of
	// the statement (go test -bench HideFromBlocks ./sqlite).
	hide := `INSERT INTO message_hidden (message_id, user_id, hidden_at)
		SELECT ?4, hidden.user_id, CAST(?5 AS BIGINT) FROM (
			SELECT b.owner_id AS user_id FROM user_blocks b
				JOIN conversation_participants p ON p.app_id = b.app_id AND p.user_id = b.owner_id AND p.conversation_id = ?2
				WHERE b.app_id = ?1 AND b.user_id = ?3
			UNION ALL
			SELECT b.user_id FROM user_blocks b
				JOIN conversation_participants p ON p.app_id = b.app_id AND p.user_id = b.user_id AND p.conversation_id = ?2
				WHERE b.app_id = ?1 AND b.owner_id = ?3) AS hidden
		WHERE TRUE ON CONFLICT DO NOTHING`
	hideArgs := []any{m.AppID, m.ConversationID, m.Sender.UserID, m.ID, micros(m.SentAt)}
	if q.writes == nil {
		// Run at once, the insert tells whether it hid the message
		// from anyone: nearly always not, and then there is nothing to
		// recompute.
		res, err := q.db.ExecContext(ctx, hide, hideArgs...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return nil
		}
	} else if err := q.execDeferrable(ctx, hide, hideArgs...); err != nil {
		return err
	}
	// inboxMessageCreated made the message last and unread for every
	// member; those it is now hidden from get their previous last message
	// back, and lose the unread count it added. The rows are found from
	// the message's hidden rows, so that the common case, nobody hidden,
	// is one empty primary-key lookup.
	unreadBy := []string{} // a JSON array even when empty
	for u, st := range m.RecipientStatus {
		if unread(st) {
			unreadBy = append(unreadBy, u)
		}
	}
	query, args := inboxRecomputeLastQuery(m.ConversationID, m.Position,
		`unread_count = unread_count - CASE WHEN user_id IN (SELECT value FROM `+strings.Replace(q.d.JSONArray, "?", "?5", 1)+`) THEN 1 ELSE 0 END,`,
		`member = 1 AND last_position = ? AND user_id IN (SELECT h.user_id FROM message_hidden h WHERE h.message_id = ?)`,
		m.Position, m.ID)
	return q.execDeferrable(ctx, query, append(args, mustJSON(unreadBy))...)
}

func (q *Queries) Following(ctx context.Context, appID, followerID, after string, limit int) ([]string, error) {
	if after == "" {
		return collect(scanString)(q.db.QueryContext(ctx, `SELECT followed_id FROM user_follows
			WHERE app_id = ? AND follower_id = ? ORDER BY followed_at DESC, followed_id DESC LIMIT ?`,
			appID, followerID, limit))
	}
	var at int64
	err := q.db.QueryRowContext(ctx, `SELECT followed_at FROM user_follows
		WHERE app_id = ? AND follower_id = ? AND followed_id = ?`, appID, followerID, after).Scan(&at)
	if err != nil {
		return nil, notFound(err, "follow", after)
	}
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT followed_id FROM user_follows
		WHERE app_id = ?1 AND follower_id = ?2 AND (followed_at < ?3 OR (followed_at = ?3 AND followed_id < ?4))
		ORDER BY followed_at DESC, followed_id DESC LIMIT ?5`, appID, followerID, at, after, limit))
}

func (q *Queries) CountFollowing(ctx context.Context, appID, followerID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_follows WHERE app_id = ? AND follower_id = ?`,
		appID, followerID).Scan(&n)
	return n, err
}

func (q *Queries) IsFollowing(ctx context.Context, appID, followerID, followedID string) (bool, error) {
	var one int
	err := q.db.QueryRowContext(ctx, `SELECT 1 FROM user_follows WHERE app_id = ? AND follower_id = ? AND followed_id = ?`,
		appID, followerID, followedID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (q *Queries) AddFollows(ctx context.Context, appID, followerID string, followedIDs []string, at time.Time) ([]string, error) {
	if len(followedIDs) == 0 {
		return nil, nil
	}
	// Those followed already are read first, in the transaction that adds
	// the others, rather than taken from RETURNING, which SQLite makes
	// costly and neither engine orders.
	before, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT followed_id FROM user_follows
		WHERE app_id = ? AND follower_id = ? AND followed_id IN (SELECT value FROM `+q.d.JSONArray+`)`+q.lock,
		appID, followerID, mustJSON(followedIDs)))
	if err != nil {
		return nil, err
	}
	had := make(map[string]bool, len(before))
	for _, id := range before {
		had[id] = true
	}
	var added []string
	for _, id := range followedIDs {
		if !had[id] {
			had[id] = true
			added = append(added, id)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO user_follows (app_id, follower_id, followed_id, followed_at)
		SELECT ?, ?, value, CAST(? AS BIGINT) FROM `+q.d.JSONArray+` WHERE TRUE ON CONFLICT DO NOTHING`,
		appID, followerID, micros(at), mustJSON(added))
	return added, err
}

func (q *Queries) RemoveFollow(ctx context.Context, appID, followerID, followedID string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM user_follows WHERE app_id = ? AND follower_id = ? AND followed_id = ?`,
		appID, followerID, followedID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *Queries) SessionTTL(ctx context.Context, appID string) (time.Duration, error) {
	var s int64
	err := q.db.QueryRowContext(ctx, `SELECT session_ttl_seconds FROM app_sessions WHERE app_id = ?`, appID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return time.Duration(s) * time.Second, err
}

func (q *Queries) SetSessionTTL(ctx context.Context, appID string, ttl time.Duration, at time.Time) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO app_sessions (app_id, session_ttl_seconds, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET session_ttl_seconds = excluded.session_ttl_seconds, updated_at = excluded.updated_at`,
		appID, int64(ttl/time.Second), micros(at))
	return err
}
