package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald"
)

// Presence and the users with sockets open (herald.PresenceQueries).

func (q *Queries) Presences(ctx context.Context, appID string, userIDs []string) (map[string]*herald.Presence, error) {
	out := map[string]*herald.Presence{}
	if len(userIDs) == 0 {
		return out, nil
	}
	ps, err := collect(func(r scanner) (*herald.Presence, error) {
		p := &herald.Presence{AppID: appID}
		var online int
		var seen sql.NullInt64
		if err := r.Scan(&p.UserID, &p.Status, &online, &seen); err != nil {
			return nil, err
		}
		p.Online = online != 0
		if seen.Valid {
			t := fromMicros(seen.Int64)
			p.LastSeenAt = &t
		}
		return p, nil
	})(q.db.QueryContext(ctx, `SELECT user_id, status, online, last_seen_at FROM presence
		WHERE app_id = ? AND user_id IN (SELECT value FROM `+q.d.JSONArray+`)`+q.lock, appID, mustJSON(userIDs)))
	for _, p := range ps {
		out[p.UserID] = p
	}
	return out, err
}

func (q *Queries) PutPresence(ctx context.Context, p *herald.Presence) error {
	var seen any
	if p.LastSeenAt != nil {
		seen = micros(*p.LastSeenAt)
	}
	online := 0
	if p.Online {
		online = 1
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO presence (app_id, user_id, status, online, last_seen_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, user_id) DO UPDATE SET status = excluded.status, online = excluded.online,
			last_seen_at = excluded.last_seen_at`, p.AppID, p.UserID, p.Status, online, seen)
	return err
}

func (q *Queries) SetSockets(ctx context.Context, node, appID, userID string, n int, at time.Time) error {
	if n <= 0 {
		_, err := q.db.ExecContext(ctx, `DELETE FROM socket_users WHERE node = ? AND app_id = ? AND user_id = ?`,
			node, appID, userID)
		return err
	}
	if _, err := q.db.ExecContext(ctx, `INSERT INTO socket_users (node, app_id, user_id, sockets, seen_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (node, app_id, user_id) DO UPDATE SET sockets = excluded.sockets, seen_at = excluded.seen_at`,
		node, appID, userID, n, micros(at)); err != nil {
		return err
	}
	// The node is alive as of its newest socket, even before its first
	// heartbeat.
	return q.TouchSockets(ctx, node, at)
}

// TouchSockets records that a node's sockets are open as of at: one row
// for the node, however many sockets it holds (socket_nodes).
func (q *Queries) TouchSockets(ctx context.Context, node string, at time.Time) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO socket_nodes (node, seen_at) VALUES (?, ?)
		ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at WHERE socket_nodes.seen_at < excluded.seen_at`,
		node, micros(at))
	return err
}

func (q *Queries) ConnectedUsers(ctx context.Context, appID string, userIDs []string, aliveSince time.Time) ([]string, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	connected, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT DISTINCT su.user_id FROM socket_users su
		JOIN socket_nodes n ON n.node = su.node
		WHERE su.app_id = ? AND n.seen_at >= ? AND su.user_id IN (SELECT value FROM `+q.d.JSONArray+`)`,
		appID, micros(aliveSince), mustJSON(userIDs)))
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(connected))
	for _, u := range connected {
		set[u] = true
	}
	var out []string
	for _, u := range userIDs {
		if set[u] {
			out = append(out, u)
			delete(set, u)
		}
	}
	return out, nil
}

func (q *Queries) ForgetDeadSockets(ctx context.Context, deadBefore time.Time) (map[string][]string, error) {
	// Most rounds find every node alive: one read of the nodes' table.
	var deadNodes int
	if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM socket_nodes WHERE seen_at < ?`,
		micros(deadBefore)).Scan(&deadNodes); err != nil || deadNodes == 0 {
		return nil, err
	}
	type appUser struct{ app, user string }
	dead, err := collect(func(r scanner) (appUser, error) {
		var au appUser
		return au, r.Scan(&au.app, &au.user)
	})(q.db.QueryContext(ctx, `SELECT DISTINCT su.app_id, su.user_id FROM socket_nodes n
		JOIN socket_users su ON su.node = n.node
		WHERE n.seen_at < ? ORDER BY su.app_id, su.user_id`, micros(deadBefore)))
	if err != nil {
		return nil, err
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM socket_users
		WHERE node IN (SELECT node FROM socket_nodes WHERE seen_at < ?)`, micros(deadBefore)); err != nil {
		return nil, err
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM socket_nodes WHERE seen_at < ?`, micros(deadBefore)); err != nil {
		return nil, err
	}
	gone := map[string][]string{}
	for _, au := range dead {
		var left int
		if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM socket_users WHERE app_id = ? AND user_id = ?`,
			au.app, au.user).Scan(&left); err != nil {
			return nil, err
		}
		if left == 0 {
			gone[au.app] = append(gone[au.app], au.user)
		}
	}
	return gone, nil
}

func (q *Queries) Acquainted(ctx context.Context, appID, viewer string, userIDs []string) ([]string, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT value FROM `+q.d.JSONArray+`
		WHERE EXISTS (SELECT 1 FROM user_follows f WHERE f.app_id = ? AND f.follower_id = ? AND f.followed_id = value)
		OR EXISTS (SELECT 1 FROM conversation_inbox a
			JOIN conversation_inbox b ON b.conversation_id = a.conversation_id AND b.user_id = value AND b.member = 1
			JOIN conversations c ON c.id = a.conversation_id AND c.deleted_at IS NULL
			WHERE a.app_id = ? AND a.user_id = ? AND a.member = 1)
		ORDER BY value`, mustJSON(userIDs), appID, viewer, appID, viewer))
}
