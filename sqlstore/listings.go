package sqlstore

import "context"

func (q *Queries) CountAnnouncements(ctx context.Context, appID, userID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM announcement_recipients r
		JOIN announcements a ON a.id = r.announcement_id WHERE r.app_id = ? AND r.user_id = ?`, appID, userID).Scan(&n)
	return n, err
}

// followed is whom ?2 follows in app ?1, each with when: explicit follows
// by their time, and the other members, past or present, of the
// conversations ?2 is a member of, by the conversation's creation. The
// follower's own past conversations are left out: the inbox indexes a
// user's conversations only while they are a member.
const followed = `WITH f (user_id, at) AS (
		SELECT followed_id, followed_at FROM user_follows WHERE app_id = ?1 AND follower_id = ?2
		UNION ALL
		SELECT b.user_id, c.created_at FROM conversation_inbox a
			JOIN conversation_inbox b ON b.conversation_id = a.conversation_id AND b.user_id <> a.user_id
			JOIN conversations c ON c.id = a.conversation_id
			WHERE a.app_id = ?1 AND a.user_id = ?2 AND a.member = 1
	), g (user_id, at) AS (SELECT user_id, MAX(at) FROM f GROUP BY user_id) `

func (q *Queries) Followed(ctx context.Context, appID, followerID, after string, limit int) ([]string, error) {
	if after == "" {
		return collect(scanString)(q.db.QueryContext(ctx, followed+`SELECT user_id FROM g
			ORDER BY at DESC, user_id DESC LIMIT ?3`, appID, followerID, limit))
	}
	var at int64
	err := q.db.QueryRowContext(ctx, followed+`SELECT at FROM g WHERE user_id = ?3`, appID, followerID, after).Scan(&at)
	if err != nil {
		return nil, notFound(err, "follow", after)
	}
	return collect(scanString)(q.db.QueryContext(ctx, followed+`SELECT user_id FROM g
		WHERE at < ?3 OR (at = ?3 AND user_id < ?4) ORDER BY at DESC, user_id DESC LIMIT ?5`,
		appID, followerID, at, after, limit))
}

func (q *Queries) CountFollowed(ctx context.Context, appID, followerID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, followed+`SELECT COUNT(*) FROM g`, appID, followerID).Scan(&n)
	return n, err
}

func (q *Queries) IsFollowed(ctx context.Context, appID, followerID, followedID string) (bool, error) {
	var n int
	err := q.db.QueryRowContext(ctx, followed+`SELECT COUNT(*) FROM g WHERE user_id = ?3`, appID, followerID, followedID).Scan(&n)
	return n > 0, err
}
