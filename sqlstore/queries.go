package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

var _ herald.Queries = (*Queries)(nil)

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("herald store: marshal %T: %v", v, err))
	}
	return string(b)
}

// maxUserLookups is the longest list of users whose identities are read
// user by user; longer ones go as a JSON array, so that the statements
// prepared for each length stay few.
const maxUserLookups = 16

// identityLookups[n] reads the identities of n users, ?2 to ?n+1, of app ?1.
var identityLookups = func() (l [maxUserLookups + 1]string) {
	for n := 1; n <= maxUserLookups; n++ {
		if n > 1 {
			l[n] = l[n-1] + ` UNION ALL `
		}
		l[n] += `SELECT ` + identityColumns + ` FROM identities WHERE app_id = ?1 AND user_id = ?` + strconv.Itoa(n+1)
	}
	return l
}()

func notFound(err error, kind, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return herald.NotFound(kind, id)
	}
	return err
}

// Apps and tokens.

func (q *Queries) CreateApp(ctx context.Context, a *herald.App) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO apps (id, name, created_at) VALUES (?, ?, ?)`,
		a.ID, a.Name, micros(a.CreatedAt))
	return err
}

func (q *Queries) App(ctx context.Context, id string) (*herald.App, error) {
	a := &herald.App{ID: id}
	var created int64
	err := q.db.QueryRowContext(ctx, `SELECT name, created_at FROM apps WHERE id = ?`, id).Scan(&a.Name, &created)
	if err != nil {
		return nil, notFound(err, "app", id)
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

func (q *Queries) Apps(ctx context.Context) ([]*herald.App, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, name, created_at FROM apps ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var apps []*herald.App
	for rows.Next() {
		a := &herald.App{}
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = fromMicros(created)
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

func (q *Queries) CreateToken(ctx context.Context, t *herald.Token) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO app_tokens (hash, id, app_id, name, prefix, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.ID, t.AppID, t.Name, t.Prefix, micros(t.CreatedAt), nullMicros(t.LastUsedAt))
	return err
}

const tokenColumns = `id, app_id, name, prefix, hash, created_at, last_used_at`

func scanToken(row scanner) (*herald.Token, error) {
	t := &herald.Token{}
	var created int64
	var used sql.NullInt64
	if err := row.Scan(&t.ID, &t.AppID, &t.Name, &t.Prefix, &t.Hash, &created, &used); err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt = fromMicros(created), fromNullMicros(used)
	return t, nil
}

func (q *Queries) TokenByHash(ctx context.Context, hash string) (*herald.Token, error) {
	t, err := scanToken(q.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM app_tokens WHERE hash = ?`, hash))
	if err != nil {
		return nil, notFound(err, "token", "")
	}
	return t, nil
}

func (q *Queries) Token(ctx context.Context, appID, id string) (*herald.Token, error) {
	t, err := scanToken(q.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM app_tokens
		WHERE id = ?1 AND (app_id = ?2 OR ?2 = '')`+q.lock, id, appID))
	if err != nil {
		return nil, notFound(err, "token", id)
	}
	return t, nil
}

func (q *Queries) Tokens(ctx context.Context, appID string) ([]*herald.Token, error) {
	return collect(scanToken)(q.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM app_tokens
		WHERE app_id = ? ORDER BY created_at, id`+q.lock, appID))
}

func (q *Queries) DeleteToken(ctx context.Context, appID, id string) error {
	// The revision moves with the row, by the tables' triggers.
	res, err := q.db.ExecContext(ctx, `DELETE FROM app_tokens WHERE id = ? AND app_id = ?`, id, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("token", id)
	}
	return nil
}

func (q *Queries) TouchTokens(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	at := make(map[string]string, len(used))
	for id, t := range used {
		at[id] = strconv.FormatInt(micros(t), 10)
	}
	_, err := q.db.ExecContext(ctx, `UPDATE app_tokens SET last_used_at = CAST(u.value AS BIGINT)
		FROM (SELECT key, value FROM `+q.d.JSONObject+`) AS u
		WHERE app_tokens.id = u.key
			AND (app_tokens.last_used_at IS NULL OR app_tokens.last_used_at < CAST(u.value AS BIGINT))`, mustJSON(at))
	return err
}

func (q *Queries) TokenRevision(ctx context.Context) (int64, error) {
	var rev int64
	err := q.db.QueryRowContext(ctx, `SELECT CAST(value AS BIGINT) FROM settings WHERE key = 'token_revision'`).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		// Set by the first change a trigger sees.
		return 0, nil
	}
	return rev, err
}

// secretSettings are the settings whose values are secrets, sealed with
// settingAD.
var secretSettings = map[string]bool{"url_signing_key": true}

func settingAD(key string) string { return "settings." + key }

func (q *Queries) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := q.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil || !secretSettings[key] {
		return v, err
	}
	v, err = q.keys.Open(v, settingAD(key))
	if err != nil {
		return "", fmt.Errorf("herald store: setting %s: %w", key, err)
	}
	return v, nil
}

func (q *Queries) InitSetting(ctx context.Context, key, value string) (string, error) {
	if secretSettings[key] {
		value = q.keys.Seal(value, settingAD(key))
	}
	// A concurrent insert of the key makes this one wait for its outcome;
	// the read that follows then sees the winner's value.
	if _, err := q.db.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	return q.Setting(ctx, key)
}

// Identities.

const identityColumns = `user_id, display_name, avatar_url, first_name, last_name, phone_number,
	email_address, metadata, created_at, updated_at, public_key, identity_type`

func scanIdentity(appID string, row scanner) (*herald.Identity, error) {
	id := &herald.Identity{AppID: appID}
	var meta sql.NullString
	var created, updated int64
	if err := row.Scan(&id.UserID, &id.DisplayName, &id.AvatarURL, &id.FirstName, &id.LastName,
		&id.PhoneNumber, &id.EmailAddress, &meta, &created, &updated, &id.PublicKey, &id.IdentityType); err != nil {
		return nil, err
	}
	if meta.Valid {
		id.Metadata = json.RawMessage(meta.String)
	}
	id.CreatedAt, id.UpdatedAt = fromMicros(created), fromMicros(updated)
	return id, nil
}

func (q *Queries) Identity(ctx context.Context, appID, userID string) (*herald.Identity, error) {
	row := q.db.QueryRowContext(ctx, `SELECT `+identityColumns+` FROM identities WHERE app_id = ? AND user_id = ?`+q.lock,
		appID, userID)
	id, err := scanIdentity(appID, row)
	if err != nil {
		return nil, notFound(err, "identity", userID)
	}
	return id, nil
}

func (q *Queries) Identities(ctx context.Context, appID string, userIDs []string) (map[string]*herald.Identity, error) {
	out := make(map[string]*herald.Identity, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	// A short list is looked up user by user: SQLite's json_each, and the
	// temporary table behind an IN list, cost more than the lookups they
	// feed for the two or three users of most conversations.
	var rows *sql.Rows
	var err error
	if len(userIDs) <= maxUserLookups {
		args := make([]any, 0, 1+len(userIDs))
		args = append(args, appID)
		for _, u := range userIDs {
			args = append(args, u)
		}
		rows, err = q.db.QueryContext(ctx, identityLookups[len(userIDs)], args...)
	} else {
		rows, err = q.db.QueryContext(ctx, `SELECT `+identityColumns+` FROM identities
			WHERE app_id = ? AND user_id IN (SELECT value FROM `+q.d.JSONArray+`)`, appID, mustJSON(userIDs))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		id, err := scanIdentity(appID, rows)
		if err != nil {
			return nil, err
		}
		out[id.UserID] = id
	}
	return out, rows.Err()
}

func (q *Queries) PutIdentity(ctx context.Context, id *herald.Identity) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO identities (app_id, `+identityColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, user_id) DO UPDATE SET display_name = excluded.display_name,
			avatar_url = excluded.avatar_url, first_name = excluded.first_name,
			last_name = excluded.last_name, phone_number = excluded.phone_number,
			email_address = excluded.email_address, metadata = excluded.metadata,
			updated_at = excluded.updated_at, public_key = excluded.public_key,
			identity_type = excluded.identity_type`,
		id.AppID, id.UserID, id.DisplayName, id.AvatarURL, id.FirstName, id.LastName, id.PhoneNumber,
		id.EmailAddress, nullJSON(id.Metadata), micros(id.CreatedAt), micros(id.UpdatedAt), id.PublicKey, id.IdentityType)
	return err
}

func (q *Queries) DeleteIdentity(ctx context.Context, appID, userID string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM identities WHERE app_id = ? AND user_id = ?`, appID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("identity", userID)
	}
	return nil
}

// Conversations.

const conversationColumns = `id, participants, distinct_key, metadata, created_at, last_position, deleted_at, contact_uuid`

func scanConversation(appID string, row scanner) (*herald.Conversation, error) {
	c := &herald.Conversation{AppID: appID}
	var participants string
	var key, meta sql.NullString
	var created int64
	var deleted sql.NullInt64
	if err := row.Scan(&c.ID, &participants, &key, &meta, &created, &c.LastPosition, &deleted, &c.ContactUUID); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(participants), &c.Participants); err != nil {
		return nil, fmt.Errorf("herald store: conversation %s participants: %w", c.ID, err)
	}
	c.Distinct = key.Valid
	if meta.Valid {
		c.Metadata = json.RawMessage(meta.String)
	}
	c.CreatedAt = fromMicros(created)
	c.DeletedAt = fromNullMicros(deleted)
	return c, nil
}

func (q *Queries) CreateConversation(ctx context.Context, c *herald.Conversation, distinctKey string) error {
	if _, err := q.db.ExecContext(ctx, `INSERT INTO conversations (id, app_id, participants, distinct_key,
		metadata, created_at, last_position, contact_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.AppID, mustJSON(c.Participants), nullString(distinctKey), nullJSON(c.Metadata),
		micros(c.CreatedAt), c.LastPosition, c.ContactUUID); err != nil {
		return err
	}
	if err := q.setParticipants(ctx, c); err != nil {
		return err
	}
	return q.inboxConversationCreated(ctx, c)
}

func (q *Queries) setParticipants(ctx context.Context, c *herald.Conversation) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM conversation_participants WHERE conversation_id = ?`, c.ID); err != nil {
		return err
	}
	if c.DeletedAt != nil {
		return nil
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO conversation_participants (app_id, user_id, conversation_id)
		SELECT ?, value, ? FROM `+q.d.JSONArray+` WHERE TRUE ON CONFLICT DO NOTHING`, c.AppID, c.ID, mustJSON(c.Participants))
	return err
}

func (q *Queries) Conversation(ctx context.Context, appID, id string) (*herald.Conversation, error) {
	row := q.db.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE id = ? AND app_id = ? AND deleted_at IS NULL`+q.lock, id, appID)
	c, err := scanConversation(appID, row)
	if err != nil {
		return nil, notFound(err, "conversation", id)
	}
	return c, nil
}

func (q *Queries) NextMessagePosition(ctx context.Context, appID, id string) (*herald.Conversation, error) {
	return q.NextMessagePositions(ctx, appID, id, 1)
}

func (q *Queries) NextMessagePositions(ctx context.Context, appID, id string, n int) (*herald.Conversation, error) {
	if n < 1 {
		return nil, fmt.Errorf("sqlstore: %d message positions asked for", n)
	}
	const where = ` WHERE id = ?2 AND app_id = ?3 AND deleted_at IS NULL`
	if q.d.CostlyReturning {
		if _, err := q.db.ExecContext(ctx, `UPDATE conversations SET last_position = last_position + ?1`+where,
			n, id, appID); err != nil {
			return nil, err
		}
		c, err := scanConversation(appID, q.db.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE id = ? AND app_id = ? AND deleted_at IS NULL`, id, appID))
		if err != nil {
			return nil, notFound(err, "conversation", id)
		}
		return c, nil
	}
	row := q.db.QueryRowContext(ctx, `UPDATE conversations SET last_position = last_position + ?1`+where+
		` RETURNING `+conversationColumns, n, id, appID)
	c, err := scanConversation(appID, row)
	if err != nil {
		return nil, notFound(err, "conversation", id)
	}
	return c, nil
}

func (q *Queries) DistinctConversation(ctx context.Context, appID, key string) (*herald.Conversation, error) {
	row := q.db.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE app_id = ? AND distinct_key = ? AND deleted_at IS NULL`+q.lock, appID, key)
	c, err := scanConversation(appID, row)
	if err != nil {
		return nil, notFound(err, "conversation", "")
	}
	return c, nil
}

func (q *Queries) UpdateConversation(ctx context.Context, c *herald.Conversation, distinctKey string) error {
	var before struct{ participants string }
	if err := q.db.QueryRowContext(ctx, `SELECT participants FROM conversations WHERE id = ? AND app_id = ?`,
		c.ID, c.AppID).Scan(&before.participants); err != nil {
		return notFound(err, "conversation", c.ID)
	}
	if !c.Distinct {
		distinctKey = ""
	}
	after := mustJSON(c.Participants)
	if _, err := q.db.ExecContext(ctx, `UPDATE conversations SET participants = ?, distinct_key = ?, metadata = ?,
		last_position = ?, deleted_at = ? WHERE id = ? AND app_id = ?`,
		after, nullString(distinctKey), nullJSON(c.Metadata), c.LastPosition, nullMicros(c.DeletedAt),
		c.ID, c.AppID); err != nil {
		return err
	}
	if before.participants != after || c.DeletedAt != nil {
		if err := q.setParticipants(ctx, c); err != nil {
			return err
		}
		return q.inboxParticipantsChanged(ctx, c, before.participants)
	}
	return nil
}

func (q *Queries) Conversations(ctx context.Context, appID, userID string, p herald.Page) ([]*herald.Conversation, error) {
	var sb strings.Builder
	args := []any{appID}
	sb.WriteString(`SELECT ` + conversationColumns + ` FROM conversations WHERE app_id = ? AND deleted_at IS NULL`)
	if userID != "" {
		sb.WriteString(` AND id IN (SELECT conversation_id FROM conversation_participants WHERE app_id = ? AND user_id = ?)`)
		args = append(args, appID, userID)
	}
	if p.Before != "" {
		// Newest first by creation: ids may be a client's UUIDs (see
		// CreateConversation), which say nothing of time.
		var created int64
		if err := q.db.QueryRowContext(ctx, `SELECT created_at FROM conversations WHERE id = ? AND app_id = ?`,
			p.Before, appID).Scan(&created); err != nil {
			return nil, notFound(err, "conversation", p.Before)
		}
		sb.WriteString(` AND (created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, created, created, p.Before)
	}
	sb.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ?`)
	args = append(args, p.Limit)
	return collect(func(r scanner) (*herald.Conversation, error) { return scanConversation(appID, r) })(q.db.QueryContext(ctx, sb.String(), args...))
}

// Messages.

const messageColumns = `id, conversation_id, position, sender_user_id, sender_name, parts, notification,
	sent_at, recipient_status, deleted_at, channel`

func scanMessage(appID string, row scanner) (*herald.Message, error) {
	m := &herald.Message{AppID: appID}
	var parts, status string
	var notification, channel sql.NullString
	var sent int64
	var deleted sql.NullInt64
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Position, &m.Sender.UserID, &m.Sender.Name, &parts,
		&notification, &sent, &status, &deleted, &channel); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(parts), &m.Parts); err != nil {
		return nil, fmt.Errorf("herald store: message %s parts: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(status), &m.RecipientStatus); err != nil {
		return nil, fmt.Errorf("herald store: message %s recipient_status: %w", m.ID, err)
	}
	if notification.Valid {
		m.Notification = json.RawMessage(notification.String)
	}
	if channel.Valid {
		m.Channel = &herald.MessageChannel{}
		if err := json.Unmarshal([]byte(channel.String), m.Channel); err != nil {
			return nil, fmt.Errorf("herald store: message %s channel: %w", m.ID, err)
		}
	}
	m.SentAt = fromMicros(sent)
	m.DeletedAt = fromNullMicros(deleted)
	return m, nil
}

// messageChannelJSON is the channel column of a message: NULL when it has
// none.
func messageChannelJSON(c *herald.MessageChannel) any {
	if c == nil {
		return nil
	}
	return mustJSON(c)
}

func (q *Queries) CreateMessage(ctx context.Context, m *herald.Message) error {
	if err := q.execDeferrable(ctx, `INSERT INTO messages (app_id, `+messageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.AppID, m.ID, m.ConversationID, m.Position, m.Sender.UserID, m.Sender.Name, mustJSON(m.Parts),
		nullJSON(m.Notification), micros(m.SentAt), mustJSON(m.RecipientStatus), nullMicros(m.DeletedAt),
		messageChannelJSON(m.Channel)); err != nil {
		return err
	}
	return q.inboxMessageCreated(ctx, m)
}

func (q *Queries) Message(ctx context.Context, appID, id string) (*herald.Message, error) {
	row := q.db.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE id = ? AND app_id = ? AND deleted_at IS NULL
		AND conversation_id IN (SELECT id FROM conversations WHERE deleted_at IS NULL)`+q.lock, id, appID)
	m, err := scanMessage(appID, row)
	if err != nil {
		return nil, notFound(err, "message", id)
	}
	return m, nil
}

func (q *Queries) UpdateMessage(ctx context.Context, m *herald.Message) error {
	// What the message was, for the inboxes to follow the change.
	var status string
	var deleted sql.NullInt64
	if err := q.db.QueryRowContext(ctx, `SELECT recipient_status, deleted_at FROM messages WHERE id = ? AND app_id = ?`,
		m.ID, m.AppID).Scan(&status, &deleted); err != nil {
		return notFound(err, "message", m.ID)
	}
	before := &herald.Message{DeletedAt: fromNullMicros(deleted)}
	if err := json.Unmarshal([]byte(status), &before.RecipientStatus); err != nil {
		return fmt.Errorf("herald store: message %s recipient_status: %w", m.ID, err)
	}
	res, err := q.db.ExecContext(ctx, `UPDATE messages SET recipient_status = ?, deleted_at = ?, channel = ?
		WHERE id = ? AND app_id = ?`, mustJSON(m.RecipientStatus), nullMicros(m.DeletedAt),
		messageChannelJSON(m.Channel), m.ID, m.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("message", m.ID)
	}
	return q.inboxMessageUpdated(ctx, before, m)
}

func (q *Queries) HideMessage(ctx context.Context, appID, messageID, userID string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO message_hidden (message_id, user_id, hidden_at)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, messageID, userID, micros(at))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return q.inboxMessageHidden(ctx, messageID, userID)
}

func (q *Queries) MessageHidden(ctx context.Context, appID, messageID, userID string) (bool, error) {
	var one int
	err := q.db.QueryRowContext(ctx, `SELECT 1 FROM message_hidden WHERE message_id = ? AND user_id = ?`,
		messageID, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (q *Queries) Messages(ctx context.Context, appID, conversationID, viewer string, p herald.Page) ([]*herald.Message, error) {
	var sb strings.Builder
	args := []any{conversationID, appID}
	sb.WriteString(`SELECT ` + messageColumns + ` FROM messages m
		WHERE conversation_id = ? AND app_id = ? AND deleted_at IS NULL`)
	if viewer != "" {
		sb.WriteString(` AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = m.id AND h.user_id = ?)`)
		args = append(args, viewer)
	}
	if p.Before != "" {
		sb.WriteString(` AND position < (SELECT position FROM messages WHERE id = ? AND conversation_id = m.conversation_id)`)
		args = append(args, p.Before)
	}
	sb.WriteString(` ORDER BY position DESC LIMIT ?`)
	args = append(args, p.Limit)
	return collect(func(r scanner) (*herald.Message, error) { return scanMessage(appID, r) })(q.db.QueryContext(ctx, sb.String(), args...))
}

func (q *Queries) RequestMessage(ctx context.Context, appID, key string) (string, error) {
	var id string
	err := q.db.QueryRowContext(ctx, `SELECT message_id FROM request_keys WHERE app_id = ? AND key = ?`,
		appID, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func (q *Queries) PutRequestMessage(ctx context.Context, appID, key, messageID string, at time.Time) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO request_keys (app_id, key, message_id, created_at)
		VALUES (?, ?, ?, ?)`, appID, key, messageID, micros(at))
	return err
}

// Announcements.

func (q *Queries) CreateAnnouncement(ctx context.Context, a *herald.Announcement) error {
	if _, err := q.db.ExecContext(ctx, `INSERT INTO announcements (id, app_id, sender_name, sender_user_id, parts, notification, sent_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.ID, a.AppID, a.Sender.Name, a.Sender.UserID, mustJSON(a.Parts), nullJSON(a.Notification),
		micros(a.SentAt)); err != nil {
		return err
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO announcement_recipients (app_id, user_id, announcement_id, status)
		SELECT ?, key, ?, value FROM `+q.d.JSONObject+` WHERE TRUE ON CONFLICT DO NOTHING`, a.AppID, a.ID, mustJSON(a.RecipientStatus))
	return err
}

func scanAnnouncement(appID string, row scanner) (*herald.Announcement, error) {
	a := &herald.Announcement{AppID: appID}
	var parts, user, status string
	var notification sql.NullString
	var sent int64
	if err := row.Scan(&a.ID, &a.Sender.Name, &a.Sender.UserID, &parts, &notification, &sent, &user, &status); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(parts), &a.Parts); err != nil {
		return nil, fmt.Errorf("herald store: announcement %s parts: %w", a.ID, err)
	}
	if notification.Valid {
		a.Notification = json.RawMessage(notification.String)
	}
	a.SentAt = fromMicros(sent)
	a.RecipientStatus = map[string]string{user: status}
	return a, nil
}

const announcementSelect = `SELECT a.id, a.sender_name, a.sender_user_id, a.parts, a.notification, a.sent_at, r.user_id, r.status
	FROM announcement_recipients r JOIN announcements a ON a.id = r.announcement_id`

func (q *Queries) AnnouncementByID(ctx context.Context, appID, id string) (*herald.Announcement, error) {
	all, err := collect(func(r scanner) (*herald.Announcement, error) { return scanAnnouncement(appID, r) })(
		q.db.QueryContext(ctx, announcementSelect+` WHERE r.app_id = ? AND r.announcement_id = ?`+q.lock, appID, id))
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, herald.NotFound("announcement", id)
	}
	a := all[0]
	for _, r := range all[1:] {
		for u, st := range r.RecipientStatus {
			a.RecipientStatus[u] = st
		}
	}
	return a, nil
}

func (q *Queries) Announcement(ctx context.Context, appID, id, userID string) (*herald.Announcement, error) {
	row := q.db.QueryRowContext(ctx, announcementSelect+` WHERE r.app_id = ? AND r.user_id = ? AND r.announcement_id = ?`+q.lock,
		appID, userID, id)
	a, err := scanAnnouncement(appID, row)
	if err != nil {
		return nil, notFound(err, "announcement", id)
	}
	return a, nil
}

func (q *Queries) Announcements(ctx context.Context, appID, userID string, p herald.Page) ([]*herald.Announcement, error) {
	query := announcementSelect + ` WHERE r.app_id = ? AND r.user_id = ?`
	args := []any{appID, userID}
	if p.Before != "" {
		// Newest first by sending time: an announcement sent with a
		// deduplication key has the key, a client's UUID, as its id.
		var sent int64
		if err := q.db.QueryRowContext(ctx, `SELECT sent_at FROM announcements WHERE id = ? AND app_id = ?`,
			p.Before, appID).Scan(&sent); err != nil {
			return nil, notFound(err, "announcement", p.Before)
		}
		query += ` AND (a.sent_at < ? OR (a.sent_at = ? AND r.announcement_id < ?))`
		args = append(args, sent, sent, p.Before)
	}
	query += ` ORDER BY a.sent_at DESC, r.announcement_id DESC LIMIT ?`
	args = append(args, p.Limit)
	return collect(func(r scanner) (*herald.Announcement, error) { return scanAnnouncement(appID, r) })(q.db.QueryContext(ctx, query, args...))
}

func (q *Queries) SetAnnouncementStatus(ctx context.Context, appID, id, userID, status string) error {
	res, err := q.db.ExecContext(ctx, `UPDATE announcement_recipients SET status = ?
		WHERE app_id = ? AND user_id = ? AND announcement_id = ?`, status, appID, userID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("announcement", id)
	}
	return nil
}

// Rich content.

func (q *Queries) CreateContent(ctx context.Context, c *herald.Content) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO contents (id, app_id, conversation_id, mime_type, size, created_at, uploaded_at,
		upload_origin, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.AppID, c.ConversationID, c.MimeType, c.Size,
		micros(c.CreatedAt), nullMicros(c.UploadedAt), c.UploadOrigin, c.UserID)
	return err
}

func (q *Queries) content(ctx context.Context, where string, args ...any) (*herald.Content, error) {
	c := &herald.Content{}
	var created int64
	var uploaded sql.NullInt64
	var blobKey sql.NullString
	err := q.db.QueryRowContext(ctx, `SELECT id, app_id, conversation_id, mime_type, size, created_at, uploaded_at,
		blob_key, upload_origin, user_id FROM contents WHERE `+where+`
		AND (conversation_id = '' OR conversation_id IN (SELECT id FROM conversations WHERE deleted_at IS NULL))`+q.lock, args...).Scan(
		&c.ID, &c.AppID, &c.ConversationID, &c.MimeType, &c.Size, &created, &uploaded, &blobKey, &c.UploadOrigin, &c.UserID)
	if err != nil {
		return nil, err
	}
	c.BlobKey = blobKey.String
	c.CreatedAt = fromMicros(created)
	c.UploadedAt = fromNullMicros(uploaded)
	return c, nil
}

func (q *Queries) Content(ctx context.Context, appID, id string) (*herald.Content, error) {
	c, err := q.content(ctx, `id = ? AND app_id = ?`, id, appID)
	if err != nil {
		return nil, notFound(err, "content", id)
	}
	return c, nil
}

func (q *Queries) ContentByID(ctx context.Context, id string) (*herald.Content, error) {
	c, err := q.content(ctx, `id = ?`, id)
	if err != nil {
		return nil, notFound(err, "content", id)
	}
	return c, nil
}

func (q *Queries) MarkContentUploaded(ctx context.Context, appID, id, blobKey string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE contents SET uploaded_at = ?, blob_key = ?
		WHERE id = ? AND app_id = ? AND uploaded_at IS NULL`, micros(at), blobKey, id, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := q.Content(ctx, appID, id); err != nil {
			return err
		}
		return herald.Errorf(herald.EConflict, "Content %s was already uploaded.", id)
	}
	// A running total rather than a sum over the app's content at each
	// declaration, which would grow with the app.
	_, err = q.db.ExecContext(ctx, `UPDATE apps SET content_bytes = content_bytes +
		(SELECT size FROM contents WHERE id = ?) WHERE id = ?`, id, appID)
	return err
}

func (q *Queries) ContentUsage(ctx context.Context, appID string, pendingSince time.Time) (uploaded, pending int64, err error) {
	err = q.db.QueryRowContext(ctx, `SELECT content_bytes FROM apps WHERE id = ?`+q.lock, appID).Scan(&uploaded)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, err
	}
	// The declarations still waiting for their bytes, from the partial
	// index contents_pending.
	err = q.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM contents
		WHERE app_id = ? AND uploaded_at IS NULL AND created_at >= ?`, appID, micros(pendingSince)).Scan(&pending)
	return uploaded, pending, err
}

func (q *Queries) DropContent(ctx context.Context, appID, conversationID string, at time.Time) ([]string, error) {
	return q.dropContents(ctx, at, `conversation_id = ? AND app_id = ?`, conversationID, appID)
}

func (q *Queries) DropUnboundContent(ctx context.Context, createdBefore, at time.Time, limit int) ([]string, error) {
	ids, err := collect(scanString)(q.db.QueryContext(ctx, `SELECT id FROM contents
		WHERE conversation_id = '' AND created_at < ? ORDER BY created_at LIMIT ?`+q.lock, micros(createdBefore), limit))
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return q.dropContents(ctx, at, `id IN (SELECT value FROM `+q.d.JSONArray+`)`, mustJSON(ids))
}

func (q *Queries) BindContent(ctx context.Context, appID, id, conversationID string) error {
	res, err := q.db.ExecContext(ctx, `UPDATE contents SET conversation_id = ? WHERE id = ? AND app_id = ? AND conversation_id = ''`,
		conversationID, id, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err := q.Content(ctx, appID, id)
		return err
	}
	return nil
}

// dropContents deletes the content that where selects, uploaded or not,
// with the pieces of its uploads in progress, lists their blobs as to be
// deleted at at, and returns their keys.
func (q *Queries) dropContents(ctx context.Context, at time.Time, where string, args ...any) ([]string, error) {
	// Every row is locked first, uploaded or not, so that an upload marked
	// concurrently is either seen here, with its blob, or finds its content
	// gone.
	blobs, err := collect(func(r scanner) (k sql.NullString, err error) {
		err = r.Scan(&k)
		return k, err
	})(q.db.QueryContext(ctx, `SELECT blob_key FROM contents WHERE `+where+q.lock, args...))
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, b := range blobs {
		if b.Valid {
			keys = append(keys, b.String)
		}
	}
	// The pieces of uploads in progress go with their content.
	chunks, err := q.dropChunksOf(ctx, `content_id IN (SELECT id FROM contents WHERE `+where+`)`, args...)
	if err != nil {
		return nil, err
	}
	keys = append(keys, chunks...)
	for _, k := range keys {
		if _, err := q.db.ExecContext(ctx, `INSERT INTO blob_deletions (blob_key, queued_at) VALUES (?, ?)
			ON CONFLICT (blob_key) DO NOTHING`, k, micros(at)); err != nil {
			return nil, err
		}
	}
	// The bytes go from their apps' running totals with their rows, so
	// that a content quota counts only what an app still has.
	if _, err := q.db.ExecContext(ctx, `UPDATE apps SET content_bytes = content_bytes - (SELECT COALESCE(SUM(size), 0)
		FROM contents WHERE app_id = apps.id AND uploaded_at IS NOT NULL AND `+where+`)
		WHERE id IN (SELECT app_id FROM contents WHERE `+where+`)`, append(slices.Clone(args), args...)...); err != nil {
		return nil, err
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM contents WHERE `+where, args...)
	return keys, err
}

func (q *Queries) BlobsToDelete(ctx context.Context, after string, limit int) ([]string, error) {
	return collect(scanString)(q.db.QueryContext(ctx, `SELECT blob_key FROM blob_deletions
		WHERE blob_key > ? ORDER BY blob_key LIMIT ?`, after, limit))
}

func (q *Queries) ForgetBlobs(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := q.db.ExecContext(ctx, `DELETE FROM blob_deletions WHERE blob_key IN (SELECT value FROM `+q.d.JSONArray+`)`,
		mustJSON(keys))
	return err
}

// Events.

func (q *Queries) AppendEvent(ctx context.Context, e *herald.Event) error {
	if q.deferEvents {
		q.pending = append(q.pending, e)
		return nil
	}
	return q.InsertEvents(ctx, []*herald.Event{e}, "")
}

const eventColumns = `seq, id, app_id, type, created_at, actor, data, request_id`

func scanEvent(row scanner) (*herald.Event, error) {
	e := &herald.Event{}
	var created int64
	var actor sql.NullString
	var data string
	if err := row.Scan(&e.Seq, &e.ID, &e.AppID, &e.Type, &created, &actor, &data, &e.RequestID); err != nil {
		return nil, err
	}
	e.CreatedAt = fromMicros(created)
	if actor.Valid {
		e.Actor = &herald.Actor{}
		if err := json.Unmarshal([]byte(actor.String), e.Actor); err != nil {
			return nil, fmt.Errorf("herald store: event %s actor: %w", e.ID, err)
		}
	}
	e.Data = json.RawMessage(data)
	return e, nil
}

func (q *Queries) Events(ctx context.Context, appID string, afterSeq int64, limit int) ([]*herald.Event, error) {
	return collect(scanEvent)(q.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE app_id = ? AND seq > ? ORDER BY seq LIMIT ?`, appID, afterSeq, limit))
}

func (q *Queries) Event(ctx context.Context, appID, id string) (*herald.Event, error) {
	row := q.db.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ? AND app_id = ?`, id, appID)
	e, err := scanEvent(row)
	if err != nil {
		return nil, notFound(err, "event", id)
	}
	return e, nil
}

// flag is a boolean column's value: 0 or 1 on every engine, so that the
// same literals in queries match the engines' partial indexes.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (q *Queries) ConversationDeleted(ctx context.Context, appID, id string) (bool, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversations
		WHERE id = ? AND app_id = ? AND deleted_at IS NOT NULL`, id, appID).Scan(&n)
	return n > 0, err
}

func (q *Queries) MessageDeleted(ctx context.Context, appID, id string) (bool, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.id = ? AND m.app_id = ? AND (m.deleted_at IS NOT NULL OR c.deleted_at IS NOT NULL)`, id, appID).Scan(&n)
	return n > 0, err
}

func (q *Queries) IDTaken(ctx context.Context, kind, id string) (bool, error) {
	table := map[string]string{"conversation": "conversations", "message": "messages", "announcement": "announcements"}[kind]
	if table == "" {
		return false, fmt.Errorf("herald store: IDTaken: unknown kind %q", kind)
	}
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}
