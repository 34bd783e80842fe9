package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
)

// Channels.

const channelColumns = `uuid, app_id, type, identifier, title, main, created_at, discarded_at`

func scanChannel(row scanner) (*herald.Channel, error) {
	c := &herald.Channel{}
	var created int64
	var discarded sql.NullInt64
	if err := row.Scan(&c.UUID, &c.AppID, &c.Type, &c.Identifier, &c.Title, &c.Main, &created, &discarded); err != nil {
		return nil, err
	}
	c.CreatedAt, c.DiscardedAt = fromMicros(created), fromNullMicros(discarded)
	return c, nil
}

func (q *Queries) CreateChannel(ctx context.Context, c *herald.Channel) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO channels (`+channelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.UUID, c.AppID, c.Type, c.Identifier, c.Title, flag(c.Main), micros(c.CreatedAt), nullMicros(c.DiscardedAt))
	return err
}

func (q *Queries) Channel(ctx context.Context, appID, uuid string) (*herald.Channel, error) {
	c, err := scanChannel(q.db.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels
		WHERE uuid = ? AND app_id = ?`+q.lock, uuid, appID))
	if err != nil {
		return nil, notFound(err, "channel", uuid)
	}
	return c, nil
}

func (q *Queries) Channels(ctx context.Context, appID string) ([]*herald.Channel, error) {
	return collect(scanChannel)(q.db.QueryContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE app_id = ?
		ORDER BY created_at, uuid`, appID))
}

func (q *Queries) UpdateChannel(ctx context.Context, c *herald.Channel) error {
	res, err := q.db.ExecContext(ctx, `UPDATE channels SET identifier = ?, title = ?, main = ?, discarded_at = ?
		WHERE uuid = ? AND app_id = ?`, c.Identifier, c.Title, flag(c.Main), nullMicros(c.DiscardedAt), c.UUID, c.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("channel", c.UUID)
	}
	return nil
}

// Contacts.

const contactColumns = `uuid, app_id, channel_uuid, source, name, phone_number, avatar_url, tags, custom_fields,
	assigned_user, created_at, updated_at, conversation_id, opened_at, closed_at, closing_reason,
	bsuid, note, blocked_at, funnel_uuid, bot_status`

func scanContact(row scanner) (*herald.Contact, error) {
	c := &herald.Contact{}
	var tags string
	var fields sql.NullString
	var created, updated, opened int64
	var closed, blocked sql.NullInt64
	if err := row.Scan(&c.UUID, &c.AppID, &c.ChannelUUID, &c.Source, &c.Name, &c.PhoneNumber, &c.AvatarURL,
		&tags, &fields, &c.AssignedUser, &created, &updated, &c.ConversationID, &opened, &closed,
		&c.ClosingReason, &c.Bsuid, &c.Note, &blocked, &c.FunnelUUID, &c.BotStatus); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return nil, fmt.Errorf("herald store: contact %s tags: %w", c.UUID, err)
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if fields.Valid {
		if err := json.Unmarshal([]byte(fields.String), &c.CustomFields); err != nil {
			return nil, fmt.Errorf("herald store: contact %s custom fields: %w", c.UUID, err)
		}
	}
	c.CreatedAt, c.UpdatedAt, c.OpenedAt = fromMicros(created), fromMicros(updated), fromMicros(opened)
	c.ClosedAt, c.BlockedAt = fromNullMicros(closed), fromNullMicros(blocked)
	return c, nil
}

// tagsJSON is the tags column: a JSON array, [] when there is no tag.
func tagsJSON(tags []string) string {
	if tags == nil {
		tags = []string{}
	}
	return mustJSON(tags)
}

// customFieldsJSON is the custom_fields column: NULL when there are none.
func customFieldsJSON(fields map[string]any) any {
	if fields == nil {
		return nil
	}
	return mustJSON(fields)
}

// addressConflict turns the refusal of a duplicate address into a conflict
// error holding the contact that has the address.
func (q *Queries) addressConflict(ctx context.Context, c *herald.Contact, err error) error {
	if !q.d.IsUniqueViolation(err) {
		return err
	}
	if existing, err := q.ContactByAddress(ctx, c.AppID, c.ChannelUUID, c.PhoneNumber); err == nil {
		return &herald.Error{ID: herald.EConflict,
			Message: fmt.Sprintf("A contact with the address %q already exists on channel %s.", c.PhoneNumber, c.ChannelUUID),
			Data:    map[string]any{"phone_number": c.PhoneNumber, "channel_uuid": c.ChannelUUID, "contact": existing}}
	}
	e := &herald.Error{ID: herald.EConflict,
		Message: fmt.Sprintf("A contact with the BSUID %q already exists on channel %s.", c.Bsuid, c.ChannelUUID),
		Data:    map[string]any{"bsuid": c.Bsuid, "channel_uuid": c.ChannelUUID}}
	if existing, err := q.ContactByBsuid(ctx, c.AppID, c.ChannelUUID, c.Bsuid); err == nil {
		e.Data["contact"] = existing
	}
	return e
}

func (q *Queries) CreateContact(ctx context.Context, c *herald.Contact) error {
	_, err := q.execMayFail(ctx, `INSERT INTO contacts (`+contactColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.UUID, c.AppID, c.ChannelUUID, c.Source, c.Name, c.PhoneNumber, c.AvatarURL, tagsJSON(c.Tags),
		customFieldsJSON(c.CustomFields), c.AssignedUser, micros(c.CreatedAt), micros(c.UpdatedAt),
		c.ConversationID, micros(c.OpenedAt), nullMicros(c.ClosedAt), c.ClosingReason,
		c.Bsuid, c.Note, nullMicros(c.BlockedAt), c.FunnelUUID, c.BotStatus)
	if err != nil {
		return q.addressConflict(ctx, c, err)
	}
	return q.saveContactTeam(ctx, c)
}

func (q *Queries) Contact(ctx context.Context, appID, uuid string) (*herald.Contact, error) {
	c, err := scanContact(q.db.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE uuid = ? AND app_id = ?`+q.lock, uuid, appID))
	if err != nil {
		return nil, notFound(err, "contact", uuid)
	}
	return c, q.withTeams(ctx, c)
}

func (q *Queries) ContactByAddress(ctx context.Context, appID, channelUUID, address string) (*herald.Contact, error) {
	c, err := scanContact(q.db.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE app_id = ? AND channel_uuid = ? AND phone_number = ? AND phone_number != ''`+q.lock, appID, channelUUID, address))
	if err != nil {
		return nil, notFound(err, "contact", "")
	}
	return c, q.withTeams(ctx, c)
}

func (q *Queries) UpdateContact(ctx context.Context, c *herald.Contact) error {
	res, err := q.execMayFail(ctx, `UPDATE contacts SET channel_uuid = ?, source = ?, name = ?, phone_number = ?, avatar_url = ?,
		tags = ?, custom_fields = ?, assigned_user = ?, updated_at = ?, conversation_id = ?, opened_at = ?,
		closed_at = ?, closing_reason = ?, bsuid = ?, note = ?, blocked_at = ?, funnel_uuid = ?, bot_status = ?
		WHERE uuid = ? AND app_id = ?`,
		c.ChannelUUID, c.Source, c.Name, c.PhoneNumber, c.AvatarURL, tagsJSON(c.Tags), customFieldsJSON(c.CustomFields),
		c.AssignedUser, micros(c.UpdatedAt), c.ConversationID, micros(c.OpenedAt), nullMicros(c.ClosedAt),
		c.ClosingReason, c.Bsuid, c.Note, nullMicros(c.BlockedAt), c.FunnelUUID, c.BotStatus, c.UUID, c.AppID)
	if err != nil {
		return q.addressConflict(ctx, c, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("contact", c.UUID)
	}
	return q.saveContactTeam(ctx, c)
}

func (q *Queries) DeleteContact(ctx context.Context, appID, uuid string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM contacts WHERE uuid = ? AND app_id = ?`, uuid, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("contact", uuid)
	}
	return nil
}

func (q *Queries) Contacts(ctx context.Context, appID string, f herald.ContactFilter, offset, limit int) ([]*herald.Contact, int, error) {
	offset = max(offset, 0)
	where := ` WHERE app_id = ?`
	args := []any{appID}
	if f.Source != "" {
		where += ` AND source = ?`
		args = append(args, f.Source)
	}
	if f.TeamUUID != "" {
		where += ` AND team_uuid = ?`
		args = append(args, f.TeamUUID)
	}
	if f.AssignedUser != "" {
		where += ` AND assigned_user = ?`
		args = append(args, f.AssignedUser)
	}
	const order = ` ORDER BY created_at DESC, uuid DESC`
	if len(f.Tags) == 0 {
		var total int
		if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM contacts`+where, args...).Scan(&total); err != nil {
			return nil, 0, err
		}
		out, err := q.scanContacts(q.db.QueryContext(ctx, `SELECT `+contactColumns+` FROM contacts`+where+order+
			` LIMIT ? OFFSET ?`, append(args, limit, offset)...))
		if err == nil {
			err = q.withTeams(ctx, out...)
		}
		return out, total, err
	}
	// Tags compare without regard to case, Unicode's included, which
	// SQLite's lower() does not know: the tags are matched here, on the
	// contacts of the app (and source) that have any.
	page, total, err := q.contactsWithTags(ctx, where+` AND tags != '[]'`+order, args, f.Tags, offset, limit)
	if err != nil || len(page) == 0 {
		return nil, total, err
	}
	out, err := q.scanContacts(q.db.QueryContext(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE uuid IN (SELECT value FROM `+q.d.JSONArray+`)`+order, mustJSON(page)))
	if err == nil {
		err = q.withTeams(ctx, out...)
	}
	return out, total, err
}

// contactsWithTags returns the UUIDs of the page [offset, offset+limit) of
// the contacts selected by where that have every one of tags, and how many
// have them in all. A negative limit, as in SQLite, means no limit.
func (q *Queries) contactsWithTags(ctx context.Context, where string, args []any, tags []string, offset, limit int) ([]string, int, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT uuid, tags FROM contacts`+where, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var page []string
	total := 0
	for rows.Next() {
		var uuid, js string
		if err := rows.Scan(&uuid, &js); err != nil {
			return nil, 0, err
		}
		var has []string
		if err := json.Unmarshal([]byte(js), &has); err != nil {
			return nil, 0, fmt.Errorf("herald store: contact %s tags: %w", uuid, err)
		}
		if !hasEveryTag(has, tags) {
			continue
		}
		if total >= offset && (limit < 0 || total-offset < limit) {
			page = append(page, uuid)
		}
		total++
	}
	return page, total, rows.Err()
}

// hasEveryTag reports whether has holds every one of want, regardless of
// case.
func hasEveryTag(has, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range has {
			if strings.EqualFold(h, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (q *Queries) scanContacts(rows *sql.Rows, err error) ([]*herald.Contact, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*herald.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
