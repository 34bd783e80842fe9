package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Users' inboxes (herald.InboxQueries): the rows of conversation_inbox are
// written by the writes of conversations and messages, in their
// transaction (see the inbox* methods below, called from queries.go).

// unreadStatus is the condition that the recipient status of user ?1 in
// the message m is neither read nor absent, written for the dialect.
func (q *Queries) unreadStatus() string {
	return `EXISTS (SELECT 1 FROM ` + strings.Replace(q.d.JSONObject, "?", "m.recipient_status", 1) +
		` WHERE key = ?1 AND value IN ('sent', 'delivered'))`
}

// notHidden is the condition that user, an expression, has not deleted the
// message m from their devices.
func notHidden(user string) string {
	return `NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = m.id AND h.user_id = ` + user + `)`
}

func unread(status string) bool {
	return status == herald.StatusSent || status == herald.StatusDelivered
}

// inboxConversationCreated gives every participant of a new conversation
// their row.
func (q *Queries) inboxConversationCreated(ctx context.Context, c *herald.Conversation) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO conversation_inbox (conversation_id, user_id, app_id, member, joined_at, active_at, created_at)
		SELECT ?, value, ?, 1, ?, ?, ? FROM `+q.d.JSONArray+` WHERE TRUE ON CONFLICT DO NOTHING`,
		c.ID, c.AppID, micros(c.CreatedAt), micros(c.CreatedAt), micros(c.CreatedAt), mustJSON(c.Participants))
	return err
}

// inboxParticipantsChanged brings the rows of a conversation in line with
// its participants, before being those of the JSON array before: those
// who left keep theirs, out of their listings; those added get theirs, or
// get it back, and their last message.
func (q *Queries) inboxParticipantsChanged(ctx context.Context, c *herald.Conversation, before string) error {
	if c.DeletedAt != nil {
		_, err := q.db.ExecContext(ctx, `DELETE FROM conversation_inbox WHERE conversation_id = ?`, c.ID)
		return err
	}
	var was []string
	if err := json.Unmarshal([]byte(before), &was); err != nil {
		return err
	}
	member := make(map[string]bool, len(was))
	for _, u := range was {
		member[u] = true
	}
	var added []string
	for _, u := range c.Participants {
		if !member[u] {
			added = append(added, u)
		}
		delete(member, u)
	}
	var removed []string
	for u := range member {
		removed = append(removed, u)
	}
	if len(removed) > 0 {
		if _, err := q.db.ExecContext(ctx, `UPDATE conversation_inbox SET member = 0
			WHERE conversation_id = ? AND user_id IN (SELECT value FROM `+q.d.JSONArray+`)`, c.ID, mustJSON(removed)); err != nil {
			return err
		}
	}
	if len(added) == 0 {
		return nil
	}
	joined := c.ChangedAt
	if joined.IsZero() {
		joined = time.Now()
	}
	if _, err := q.db.ExecContext(ctx, `INSERT INTO conversation_inbox (conversation_id, user_id, app_id, member, joined_at, active_at, created_at)
		SELECT ?, value, ?, 1, ?, ?, ? FROM `+q.d.JSONArray+` WHERE TRUE
		ON CONFLICT (conversation_id, user_id) DO UPDATE SET member = 1, joined_at = excluded.joined_at`,
		c.ID, c.AppID, micros(joined), micros(c.CreatedAt), micros(c.CreatedAt), mustJSON(added)); err != nil {
		return err
	}
	// The messages sent while they were away are not counted for them (they
	// are none of their recipients), but the newest is theirs to see.
	return q.inboxRecomputeLast(ctx, c.ID, math64, `user_id IN (SELECT value FROM `+q.d.JSONArray+`)`, mustJSON(added))
}

const math64 = int64(1<<63 - 1)

// inboxRecomputeLast sets the last message of the rows of a conversation
// that where selects (a condition on conversation_inbox with its own
// arguments, which come after the conversation id and the position) to the
// newest live message below position that each user sees.
func (q *Queries) inboxRecomputeLast(ctx context.Context, conversationID string, below int64, where string, args ...any) error {
	query, args := inboxRecomputeLastQuery(conversationID, below, "", where, args...)
	_, err := q.db.ExecContext(ctx, query, args...)
	return err
}

// inboxRecomputeLastQuery is the statement of inboxRecomputeLast and its
// arguments; set, when not empty, is more of the SET clause, whose
// placeholders are numbered after the condition's.
func inboxRecomputeLastQuery(conversationID string, below int64, set, where string, args ...any) (string, []any) {
	const newest = `(SELECT MAX(m.position) FROM messages m WHERE m.conversation_id = ?1 AND m.position < ?2
		AND m.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM message_hidden h
			WHERE h.message_id = m.id AND h.user_id = conversation_inbox.user_id))`
	// Both SET expressions read the row as it was, so active_at finds the
	// new last message through the same subquery.
	query := `UPDATE conversation_inbox SET ` + set + ` last_position = COALESCE(` + newest + `, 0),
		active_at = COALESCE((SELECT s.sent_at FROM messages s WHERE s.conversation_id = ?1 AND s.position = ` + newest + `),
			(SELECT c.created_at FROM conversations c WHERE c.id = ?1))
		WHERE conversation_id = ?1 AND ` + renumber(where, 2)
	return query, append([]any{conversationID, below}, args...)
}

// renumber rewrites the bare ? placeholders of a condition as ?N, from
// after+1, so that it can follow numbered ones.
func renumber(cond string, after int) string {
	var sb strings.Builder
	for i := 0; i < len(cond); i++ {
		if cond[i] == '?' && (i+1 == len(cond) || cond[i+1] < '0' || cond[i+1] > '9') {
			after++
			sb.WriteString("?" + strconv.Itoa(after))
			continue
		}
		sb.WriteByte(cond[i])
	}
	return sb.String()
}

// inboxMessageCreated makes a new message the last of every participant,
// and unread for its recipients that have not read it.
func (q *Queries) inboxMessageCreated(ctx context.Context, m *herald.Message) error {
	var unreadBy []string
	for u, s := range m.RecipientStatus {
		if unread(s) {
			unreadBy = append(unreadBy, u)
		}
	}
	if m.DeletedAt != nil {
		return nil
	}
	// The recipients are given one by one for the few of most messages,
	// so that each count of them keeps one prepared statement.
	var cond string
	args := []any{m.Position, micros(m.SentAt), m.ConversationID}
	if len(unreadBy) <= maxUserLookups {
		if len(unreadBy) == 0 {
			cond = `FALSE`
		} else {
			marks := make([]string, len(unreadBy))
			for i, u := range unreadBy {
				marks[i] = "?" + strconv.Itoa(4+i)
				args = append(args, u)
			}
			cond = `user_id IN (` + strings.Join(marks, ", ") + `)`
		}
	} else {
		cond = `user_id IN (SELECT value FROM ` + strings.Replace(q.d.JSONArray, "?", "?4", 1) + `)`
		args = append(args, mustJSON(unreadBy))
	}
	return q.execDeferrable(ctx, `UPDATE conversation_inbox SET last_position = ?1, active_at = ?2,
		unread_count = unread_count + CASE WHEN `+cond+` THEN 1 ELSE 0 END, listed = 1
		WHERE conversation_id = ?3 AND member = 1`, args...)
}

// inboxMessageUpdated follows a message's change from before to m: a
// recipient's status read or unread, the message deleted.
func (q *Queries) inboxMessageUpdated(ctx context.Context, before, m *herald.Message) error {
	if before.DeletedAt != nil {
		return nil
	}
	deleted := m.DeletedAt != nil
	deltas := map[string]int{}
	for u, s := range before.RecipientStatus {
		if unread(s) {
			deltas[u]--
		}
	}
	if !deleted {
		for u, s := range m.RecipientStatus {
			if unread(s) {
				deltas[u]++
			}
		}
	}
	for u, d := range deltas {
		if d == 0 {
			delete(deltas, u)
		}
	}
	if len(deltas) == 1 {
		for u, d := range deltas {
			if _, err := q.db.ExecContext(ctx, `UPDATE conversation_inbox SET unread_count = unread_count + ?
				WHERE conversation_id = ? AND user_id = ?
				AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = ? AND h.user_id = ?)`,
				d, m.ConversationID, u, m.ID, u); err != nil {
				return err
			}
		}
	} else if len(deltas) > 1 {
		by := make(map[string]string, len(deltas))
		for u, d := range deltas {
			by[u] = strconv.Itoa(d)
		}
		if _, err := q.db.ExecContext(ctx, `UPDATE conversation_inbox SET unread_count = unread_count + CAST(d.value AS INTEGER)
			FROM (SELECT key, value FROM `+q.d.JSONObject+`) AS d
			WHERE conversation_inbox.conversation_id = ? AND conversation_inbox.user_id = d.key
			AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = ? AND h.user_id = d.key)`,
			mustJSON(by), m.ConversationID, m.ID); err != nil {
			return err
		}
	}
	if !deleted {
		return nil
	}
	return q.inboxRecomputeLast(ctx, m.ConversationID, m.Position, `last_position = ?`, m.Position)
}

// inboxMessageHidden follows a message deleted from one user's devices.
func (q *Queries) inboxMessageHidden(ctx context.Context, messageID, userID string) error {
	var conversationID, status string
	var position int64
	err := q.db.QueryRowContext(ctx, `SELECT conversation_id, position, recipient_status FROM messages
		WHERE id = ? AND deleted_at IS NULL`, messageID).Scan(&conversationID, &position, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	var statuses map[string]string
	if err := json.Unmarshal([]byte(status), &statuses); err != nil {
		return err
	}
	if unread(statuses[userID]) {
		if _, err := q.db.ExecContext(ctx, `UPDATE conversation_inbox SET unread_count = unread_count - 1
			WHERE conversation_id = ? AND user_id = ?`, conversationID, userID); err != nil {
			return err
		}
	}
	return q.inboxRecomputeLast(ctx, conversationID, position, `user_id = ? AND last_position = ?`, userID, position)
}

// Reads.

const userConversationColumns = `i.user_id, i.unread_count, i.joined_at, i.active_at`

// userConversationSelect joins a user's rows with their conversations and
// last messages; its WHERE clause goes on.
func userConversationSelect() string {
	var cols []string
	for _, c := range strings.Split(conversationColumns, ",") {
		cols = append(cols, "c."+strings.TrimSpace(c))
	}
	var mcols []string
	for _, c := range strings.Split(messageColumns, ",") {
		mcols = append(mcols, "m."+strings.TrimSpace(c))
	}
	return `SELECT ` + strings.Join(cols, ", ") + `, ` + userConversationColumns + `, ` + strings.Join(mcols, ", ") + `
		FROM conversation_inbox i JOIN conversations c ON c.id = i.conversation_id
		LEFT JOIN messages m ON m.conversation_id = i.conversation_id AND m.position = i.last_position AND i.last_position > 0
		WHERE c.deleted_at IS NULL AND i.member = 1 AND i.listed = 1 AND i.app_id = ?1 AND i.user_id = ?2`
}

var userConversationQuery = userConversationSelect()

func scanUserConversation(appID string, row scanner) (*herald.UserConversation, error) {
	uc := &herald.UserConversation{}
	var joined, active int64
	var mID, mConv, mSenderUser, mSenderName, mParts, mStatus sql.NullString
	var mNotification, mChannel sql.NullString
	var mPosition, mSent, mDeleted sql.NullInt64
	c, err := scanConversation(appID, scanAlso{row, []any{&uc.UserID, &uc.UnreadMessageCount, &joined, &active,
		&mID, &mConv, &mPosition, &mSenderUser, &mSenderName, &mParts, &mNotification, &mSent, &mStatus, &mDeleted, &mChannel}})
	if err != nil {
		return nil, err
	}
	uc.Conversation = c
	uc.JoinedAt, uc.ActiveAt = fromMicros(joined), fromMicros(active)
	if mID.Valid {
		m, err := scanMessage(appID, fixedRow{mID.String, mConv.String, mPosition.Int64, mSenderUser.String, mSenderName.String,
			mParts.String, mNotification, mSent.Int64, mStatus.String, mDeleted, mChannel})
		if err != nil {
			return nil, err
		}
		uc.LastMessage = m
	}
	return uc, nil
}

// scanAlso scans the columns a scan function reads, and those after them
// into also.
type scanAlso struct {
	row  scanner
	also []any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.also...)...) }

// fixedRow is a row already read, for a scan function to decode.
type fixedRow []any

func (r fixedRow) Scan(dest ...any) error {
	for i, d := range dest {
		switch p := d.(type) {
		case *string:
			*p = r[i].(string)
		case *int64:
			*p = r[i].(int64)
		case *sql.NullString:
			*p = r[i].(sql.NullString)
		case *sql.NullInt64:
			*p = r[i].(sql.NullInt64)
		default:
			return errors.New("herald store: fixedRow: unexpected destination")
		}
	}
	return nil
}

func (q *Queries) FormerParticipant(ctx context.Context, appID, userID, conversationID string) (bool, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT 1 FROM conversation_inbox i JOIN conversations c ON c.id = i.conversation_id
		WHERE i.conversation_id = ? AND i.user_id = ? AND i.app_id = ? AND i.member = 0 AND c.deleted_at IS NULL`,
		conversationID, userID, appID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (q *Queries) UserConversation(ctx context.Context, appID, userID, conversationID string) (*herald.UserConversation, error) {
	uc, err := scanUserConversation(appID, q.db.QueryRowContext(ctx, userConversationQuery+` AND i.conversation_id = ?3`,
		appID, userID, conversationID))
	if err != nil {
		return nil, notFound(err, "conversation", conversationID)
	}
	return uc, nil
}

func (q *Queries) UserConversations(ctx context.Context, appID, userID, sort string, p herald.Page) ([]*herald.UserConversation, error) {
	query := userConversationQuery
	args := []any{appID, userID}
	// Newest first by creation (ids may be a client's UUIDs, which say
	// nothing of time), or by last message.
	order := ` ORDER BY i.created_at DESC, i.conversation_id DESC`
	if sort == herald.SortLastMessage {
		order = ` ORDER BY i.active_at DESC, i.conversation_id DESC`
	}
	if p.Before != "" {
		var active, created int64
		err := q.db.QueryRowContext(ctx, `SELECT active_at, created_at FROM conversation_inbox
			WHERE conversation_id = ? AND user_id = ? AND app_id = ? AND member = 1 AND listed = 1`, p.Before, userID, appID).Scan(&active, &created)
		if err != nil {
			return nil, notFound(err, "conversation", p.Before)
		}
		if sort == herald.SortLastMessage {
			query += ` AND (i.active_at < ?3 OR (i.active_at = ?3 AND i.conversation_id < ?4))`
			args = append(args, active, p.Before)
		} else {
			query += ` AND (i.created_at < ?3 OR (i.created_at = ?3 AND i.conversation_id < ?4))`
			args = append(args, created, p.Before)
		}
	}
	query += order + ` LIMIT ?` + strconv.Itoa(len(args)+1)
	args = append(args, p.Limit)
	return collect(func(r scanner) (*herald.UserConversation, error) { return scanUserConversation(appID, r) })(
		q.db.QueryContext(ctx, query, args...))
}

func (q *Queries) CountUserConversations(ctx context.Context, appID, userID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversation_inbox i JOIN conversations c ON c.id = i.conversation_id
		WHERE i.app_id = ? AND i.user_id = ? AND i.member = 1 AND i.listed = 1 AND c.deleted_at IS NULL`, appID, userID).Scan(&n)
	return n, err
}

func (q *Queries) CountConversations(ctx context.Context, appID string) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversations WHERE app_id = ? AND deleted_at IS NULL`, appID).Scan(&n)
	return n, err
}

func (q *Queries) CountMessages(ctx context.Context, appID, conversationID, viewer string) (int, error) {
	query := `SELECT COUNT(*) FROM messages m WHERE conversation_id = ?1 AND app_id = ?2 AND deleted_at IS NULL`
	args := []any{conversationID, appID}
	if viewer != "" {
		query += ` AND ` + notHidden("?3")
		args = append(args, viewer)
	}
	var n int
	err := q.db.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

func (q *Queries) UnreadMessages(ctx context.Context, appID, conversationID, userID string, before int64, limit int) ([]*herald.Message, error) {
	var cols []string
	for _, c := range strings.Split(messageColumns, ",") {
		cols = append(cols, "m."+strings.TrimSpace(c))
	}
	return collect(func(r scanner) (*herald.Message, error) { return scanMessage(appID, r) })(q.db.QueryContext(ctx,
		`SELECT `+strings.Join(cols, ", ")+` FROM messages m
		WHERE m.conversation_id = ?2 AND m.app_id = ?3 AND m.position < ?4 AND m.deleted_at IS NULL
		AND `+q.unreadStatus()+` AND `+notHidden("?1")+`
		ORDER BY m.position DESC LIMIT ?5`+q.lock, userID, conversationID, appID, before, limit))
}

func (q *Queries) Badge(ctx context.Context, appID, userID string) (*herald.Badge, error) {
	b := &herald.Badge{}
	if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(i.unread_count), 0)
		FROM conversation_inbox i JOIN conversations c ON c.id = i.conversation_id
		WHERE i.app_id = ? AND i.user_id = ? AND i.member = 1 AND i.unread_count > 0 AND c.deleted_at IS NULL`,
		appID, userID).Scan(&b.UnreadConversationCount, &b.UnreadMessageCount); err != nil {
		return nil, err
	}
	err := q.db.QueryRowContext(ctx, `SELECT external_unread_count FROM user_badges WHERE app_id = ? AND user_id = ?`,
		appID, userID).Scan(&b.ExternalUnreadCount)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return b, nil
}

func (q *Queries) SetExternalUnreadCount(ctx context.Context, appID, userID string, n int) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO user_badges (app_id, user_id, external_unread_count) VALUES (?, ?, ?)
		ON CONFLICT (app_id, user_id) DO UPDATE SET external_unread_count = excluded.external_unread_count`, appID, userID, n)
	return err
}
