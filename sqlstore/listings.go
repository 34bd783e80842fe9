package sqlstore

import "context"

func (q *Queries) CountAnnouncements(ctx context.Context, appID, userID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM announcement_recipients r
		JOIN announcements a ON a.id = r.announcement_id WHERE r.app_id = ? AND r.user_id = ?`, appID, userID).Scan(&n)
	return n, err
}
