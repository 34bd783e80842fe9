package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
)

// The fan-out's reads (herald.FanOutQueries): one conversation, many of its
// users.

// userListCondition is the condition that the expression column is one of
// users, whose arguments follow the first n: one placeholder a user for
// the few of most conversations (a prepared statement for each count), a
// JSON array beyond.
func (q *Queries) userListCondition(column string, n int, users []string) (string, []any) {
	if len(users) <= maxUserLookups {
		marks := make([]string, len(users))
		args := make([]any, len(users))
		for i, u := range users {
			marks[i] = "?" + strconv.Itoa(n+1+i)
			args[i] = u
		}
		return column + ` IN (` + strings.Join(marks, ", ") + `)`, args
	}
	return column + ` IN (SELECT value FROM ` + strings.Replace(q.d.JSONArray, "?", "?"+strconv.Itoa(n+1), 1) + `)`,
		[]any{mustJSON(users)}
}

func (q *Queries) UserConversationsOf(ctx context.Context, appID, conversationID string, users []string) ([]*herald.UserConversation, error) {
	if len(users) == 0 {
		return nil, nil
	}
	c, err := q.Conversation(ctx, appID, conversationID)
	if herald.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cond, args := q.userListCondition("user_id", 2, users)
	rows, err := q.db.QueryContext(ctx, `SELECT user_id, unread_count, joined_at, active_at, last_position
		FROM conversation_inbox WHERE conversation_id = ?1 AND app_id = ?2 AND member = 1 AND listed = 1 AND `+cond,
		append([]any{conversationID, appID}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*herald.UserConversation
	lastOf := map[*herald.UserConversation]int64{}
	for rows.Next() {
		uc := &herald.UserConversation{Conversation: c}
		var joined, active, last int64
		if err := rows.Scan(&uc.UserID, &uc.UnreadMessageCount, &joined, &active, &last); err != nil {
			return nil, err
		}
		uc.JoinedAt, uc.ActiveAt = fromMicros(joined), fromMicros(active)
		out = append(out, uc)
		if last > 0 {
			lastOf[uc] = last
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// Most users of a conversation share its newest message: each last
	// message is read once.
	messages := map[int64]*herald.Message{}
	for uc, pos := range lastOf {
		m, ok := messages[pos]
		if !ok {
			m, err = scanMessage(appID, q.db.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages
				WHERE conversation_id = ? AND position = ?`, conversationID, pos))
			if errors.Is(err, sql.ErrNoRows) {
				// As UserConversation's join has it: no last message.
				m, err = nil, nil
			}
			if err != nil {
				return nil, err
			}
			messages[pos] = m
		}
		uc.LastMessage = m
	}
	return out, nil
}

func (q *Queries) MessageHiddenFrom(ctx context.Context, appID, messageID string, users []string) ([]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	cond, args := q.userListCondition("user_id", 1, users)
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT user_id FROM message_hidden WHERE message_id = ?1 AND `+cond,
		append([]any{messageID}, args...)...))
}

func (q *Queries) MessageInboxes(ctx context.Context, m *herald.Message) ([]herald.InboxEntry, []string, bool, error) {
	if q.writes != nil {
		// Reading would send the deferred writes first.
		return nil, nil, false, nil
	}
	rows, err := q.db.QueryContext(ctx, `SELECT i.user_id, i.unread_count, i.joined_at, h.user_id IS NOT NULL
		FROM conversation_inbox i LEFT JOIN message_hidden h ON h.message_id = ?2 AND h.user_id = i.user_id
		WHERE i.conversation_id = ?1 AND i.member = 1 AND i.listed = 1`, m.ConversationID, m.ID)
	if err != nil {
		return nil, nil, false, err
	}
	defer rows.Close()
	var entries []herald.InboxEntry
	var hidden []string
	for rows.Next() {
		var e herald.InboxEntry
		var joined int64
		var isHidden bool
		if err := rows.Scan(&e.UserID, &e.UnreadMessageCount, &joined, &isHidden); err != nil {
			return nil, nil, false, err
		}
		e.JoinedAt = fromMicros(joined)
		entries = append(entries, e)
		if isHidden {
			hidden = append(hidden, e.UserID)
		}
	}
	return entries, hidden, true, rows.Err()
}

func (q *Queries) AcquaintedWith(ctx context.Context, appID, userID string, viewers []string) ([]string, error) {
	if len(viewers) == 0 {
		return nil, nil
	}
	// Follows are probed by their key, follower first; the conversations
	// are the user's own, with whoever takes part in them.
	followers, args := q.userListCondition("f.follower_id", 2, viewers)
	partners, _ := q.userListCondition("a.user_id", 2, viewers)
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT f.follower_id FROM user_follows f
		WHERE f.app_id = ?1 AND f.followed_id = ?2 AND `+followers+`
		UNION
		SELECT a.user_id FROM conversation_inbox b
		JOIN conversation_inbox a ON a.conversation_id = b.conversation_id AND a.member = 1
		JOIN conversations c ON c.id = b.conversation_id AND c.deleted_at IS NULL
		WHERE b.app_id = ?1 AND b.user_id = ?2 AND b.member = 1 AND `+partners,
		append([]any{appID, userID}, args...)...))
}
