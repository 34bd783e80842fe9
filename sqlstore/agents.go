package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Agents, teams and custom statuses.

const agentColumns = `uuid, app_id, email, name, role, available, available_updated_at, custom_status_uuid,
	custom_status_updated_at, session, created_at, updated_at`

func scanAgent(row interface{ Scan(...any) error }) (*herald.Agent, error) {
	a := &herald.Agent{}
	var availableAt, created, updated int64
	var statusAt sql.NullInt64
	if err := row.Scan(&a.UUID, &a.AppID, &a.Email, &a.Name, &a.Role, &a.Available, &availableAt, &a.CustomStatusUUID,
		&statusAt, &a.Session, &created, &updated); err != nil {
		return nil, err
	}
	a.AvailableUpdatedAt, a.CreatedAt, a.UpdatedAt = fromMicros(availableAt), fromMicros(created), fromMicros(updated)
	a.CustomStatusUpdatedAt = fromNullMicros(statusAt)
	return a, nil
}

// emailConflict turns the refusal of a duplicate email into a conflict
// naming the property.
func (q *Queries) emailConflict(a *herald.Agent, err error) error {
	if !q.d.IsUniqueViolation(err) {
		return err
	}
	return &herald.Error{ID: herald.EConflict, Message: "Another agent of the app has the email " + a.Email + ".",
		Data: map[string]any{"property": "email"}}
}

func (q *Queries) CreateAgent(ctx context.Context, a *herald.Agent) error {
	_, err := q.execMayFail(ctx, `INSERT INTO agents (`+agentColumns+`, email_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.UUID, a.AppID, a.Email, a.Name, a.Role, flag(a.Available), micros(a.AvailableUpdatedAt), a.CustomStatusUUID,
		nullMicros(a.CustomStatusUpdatedAt), a.Session, micros(a.CreatedAt), micros(a.UpdatedAt), strings.ToLower(a.Email))
	return q.emailConflict(a, err)
}

// withStatuses fills the agents' custom statuses.
func (q *Queries) withStatuses(ctx context.Context, as []*herald.Agent) error {
	for _, a := range as {
		if a.CustomStatusUUID == "" {
			continue
		}
		cs, err := q.CustomStatus(ctx, a.AppID, a.CustomStatusUUID)
		if err != nil {
			return err
		}
		a.CustomStatus = cs
	}
	return nil
}

func (q *Queries) agentWhere(ctx context.Context, where string, args ...any) (*herald.Agent, error) {
	a, err := scanAgent(q.db.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE `+where+q.lock, args...))
	if err != nil {
		return nil, err
	}
	return a, q.withStatuses(ctx, []*herald.Agent{a})
}

func (q *Queries) Agent(ctx context.Context, appID, uuid string) (*herald.Agent, error) {
	a, err := q.agentWhere(ctx, `uuid = ? AND app_id = ?`, uuid, appID)
	return a, notFound(err, "user", uuid)
}

func (q *Queries) AgentByEmail(ctx context.Context, appID, email string) (*herald.Agent, error) {
	a, err := q.agentWhere(ctx, `app_id = ? AND email_key = ?`, appID, strings.ToLower(email))
	return a, notFound(err, "user", email)
}

func (q *Queries) Agents(ctx context.Context, appID string, f herald.AgentFilter, offset, limit int) ([]*herald.Agent, int, error) {
	where := ` WHERE app_id = ?`
	args := []any{appID}
	if f.TeamUUID != "" {
		where += ` AND uuid IN (SELECT agent_uuid FROM team_members WHERE team_uuid = ?)`
		args = append(args, f.TeamUUID)
	}
	if f.Available != nil {
		where += ` AND available = ?`
		args = append(args, flag(*f.Available))
	}
	if f.CustomStatusUUID != "" {
		where += ` AND custom_status_uuid = ?`
		args = append(args, f.CustomStatusUUID)
	}
	var total int
	if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if limit < 0 {
		limit = math.MaxInt32
	}
	rows, err := q.db.QueryContext(ctx, `SELECT `+agentColumns+` FROM agents`+where+
		` ORDER BY created_at, uuid LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*herald.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	return out, total, q.withStatuses(ctx, out)
}

func (q *Queries) UpdateAgent(ctx context.Context, a *herald.Agent) error {
	res, err := q.execMayFail(ctx, `UPDATE agents SET email = ?, email_key = ?, name = ?, role = ?, available = ?,
		available_updated_at = ?, custom_status_uuid = ?, custom_status_updated_at = ?, session = ?, updated_at = ?
		WHERE uuid = ? AND app_id = ?`,
		a.Email, strings.ToLower(a.Email), a.Name, a.Role, flag(a.Available), micros(a.AvailableUpdatedAt),
		a.CustomStatusUUID, nullMicros(a.CustomStatusUpdatedAt), a.Session, micros(a.UpdatedAt), a.UUID, a.AppID)
	if err != nil {
		return q.emailConflict(a, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("user", a.UUID)
	}
	return nil
}

func (q *Queries) DeleteAgent(ctx context.Context, appID, uuid string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM agents WHERE uuid = ? AND app_id = ?`, uuid, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("user", uuid)
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM team_members WHERE agent_uuid = ? AND app_id = ?`, uuid, appID)
	return err
}

const teamColumns = `uuid, app_id, name, is_default, created_at,
	(SELECT COUNT(*) FROM team_members m WHERE m.team_uuid = teams.uuid)`

func scanTeam(row interface{ Scan(...any) error }) (*herald.Team, error) {
	t := &herald.Team{}
	var created int64
	if err := row.Scan(&t.UUID, &t.AppID, &t.Name, &t.Default, &created, &t.Members); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return t, nil
}

// defaultConflict turns the refusal of a second default team, which only
// concurrent changes can meet, into a conflict.
func (q *Queries) defaultConflict(err error) error {
	if err == nil || !q.d.IsUniqueViolation(err) {
		return err
	}
	return &herald.Error{ID: herald.EConflict, Message: "Another team of the app became its default at the same time; try again.",
		Data: map[string]any{"property": "default"}}
}

func (q *Queries) CreateTeam(ctx context.Context, t *herald.Team) error {
	_, err := q.execMayFail(ctx, `INSERT INTO teams (uuid, app_id, name, is_default, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.UUID, t.AppID, t.Name, flag(t.Default), micros(t.CreatedAt))
	return q.defaultConflict(err)
}

func (q *Queries) Team(ctx context.Context, appID, uuid string) (*herald.Team, error) {
	t, err := scanTeam(q.db.QueryRowContext(ctx, `SELECT `+teamColumns+` FROM teams WHERE uuid = ? AND app_id = ?`+q.lock,
		uuid, appID))
	return t, notFound(err, "team", uuid)
}

func (q *Queries) Teams(ctx context.Context, appID string) ([]*herald.Team, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT `+teamColumns+` FROM teams WHERE app_id = ? ORDER BY created_at, uuid`, appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*herald.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (q *Queries) UpdateTeam(ctx context.Context, t *herald.Team) error {
	res, err := q.execMayFail(ctx, `UPDATE teams SET name = ?, is_default = ? WHERE uuid = ? AND app_id = ?`,
		t.Name, flag(t.Default), t.UUID, t.AppID)
	if err != nil {
		return q.defaultConflict(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("team", t.UUID)
	}
	return nil
}

func (q *Queries) DeleteTeam(ctx context.Context, appID, uuid string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM teams WHERE uuid = ? AND app_id = ?`, uuid, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("team", uuid)
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM team_members WHERE team_uuid = ? AND app_id = ?`, uuid, appID)
	return err
}

func (q *Queries) AddTeamMember(ctx context.Context, appID, teamUUID, agentUUID string, at time.Time) (bool, error) {
	res, err := q.db.ExecContext(ctx, `INSERT INTO team_members (app_id, team_uuid, agent_uuid, added_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (team_uuid, agent_uuid) DO NOTHING`, appID, teamUUID, agentUUID, micros(at))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (q *Queries) RemoveTeamMember(ctx context.Context, appID, teamUUID, agentUUID string) (bool, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM team_members WHERE app_id = ? AND team_uuid = ? AND agent_uuid = ?`,
		appID, teamUUID, agentUUID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (q *Queries) AgentTeams(ctx context.Context, appID, agentUUID string) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT m.team_uuid FROM team_members m JOIN teams t ON t.uuid = m.team_uuid
		WHERE m.app_id = ? AND m.agent_uuid = ? ORDER BY t.created_at, t.uuid`, appID, agentUUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

const customStatusColumns = `uuid, app_id, name, emoji, created_at, updated_at`

func scanCustomStatus(row interface{ Scan(...any) error }) (*herald.CustomStatus, error) {
	cs := &herald.CustomStatus{}
	var created, updated int64
	if err := row.Scan(&cs.UUID, &cs.AppID, &cs.Name, &cs.Emoji, &created, &updated); err != nil {
		return nil, err
	}
	cs.CreatedAt, cs.UpdatedAt = fromMicros(created), fromMicros(updated)
	return cs, nil
}

func (q *Queries) CreateCustomStatus(ctx context.Context, cs *herald.CustomStatus) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO custom_statuses (`+customStatusColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		cs.UUID, cs.AppID, cs.Name, cs.Emoji, micros(cs.CreatedAt), micros(cs.UpdatedAt))
	return err
}

func (q *Queries) CustomStatus(ctx context.Context, appID, uuid string) (*herald.CustomStatus, error) {
	cs, err := scanCustomStatus(q.db.QueryRowContext(ctx, `SELECT `+customStatusColumns+` FROM custom_statuses
		WHERE uuid = ? AND app_id = ?`, uuid, appID))
	return cs, notFound(err, "custom_status", uuid)
}

func (q *Queries) CustomStatuses(ctx context.Context, appID string) ([]*herald.CustomStatus, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT `+customStatusColumns+` FROM custom_statuses WHERE app_id = ?
		ORDER BY created_at, uuid`, appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*herald.CustomStatus
	for rows.Next() {
		cs, err := scanCustomStatus(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
	return out, rows.Err()
}

func (q *Queries) UpdateCustomStatus(ctx context.Context, cs *herald.CustomStatus) error {
	res, err := q.db.ExecContext(ctx, `UPDATE custom_statuses SET name = ?, emoji = ?, updated_at = ?
		WHERE uuid = ? AND app_id = ?`, cs.Name, cs.Emoji, micros(cs.UpdatedAt), cs.UUID, cs.AppID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("custom_status", cs.UUID)
	}
	return nil
}

func (q *Queries) DeleteCustomStatus(ctx context.Context, appID, uuid string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM custom_statuses WHERE uuid = ? AND app_id = ?`, uuid, appID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return herald.NotFound("custom_status", uuid)
	}
	return nil
}

// Contacts' teams: the team_uuid column is written and read beside the
// contact's other columns, and the team filled in from it.

func (q *Queries) saveContactTeam(ctx context.Context, c *herald.Contact) error {
	_, err := q.db.ExecContext(ctx, `UPDATE contacts SET team_uuid = ? WHERE uuid = ? AND app_id = ?`, c.TeamUUID, c.UUID, c.AppID)
	return err
}

// withTeams fills the contacts' TeamUUID and Team as they are stored.
func (q *Queries) withTeams(ctx context.Context, cs ...*herald.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.UUID
	}
	rows, err := q.db.QueryContext(ctx, `SELECT uuid, team_uuid FROM contacts
		WHERE uuid IN (SELECT value FROM `+q.d.JSONArray+`) AND team_uuid != ''`, mustJSON(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	teamOf := map[string]string{}
	for rows.Next() {
		var id, team string
		if err := rows.Scan(&id, &team); err != nil {
			return err
		}
		teamOf[id] = team
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	teams := map[string]*herald.Team{}
	for _, c := range cs {
		c.TeamUUID, c.Team = teamOf[c.UUID], nil
		if c.TeamUUID == "" {
			continue
		}
		t, ok := teams[c.TeamUUID]
		if !ok {
			if t, err = q.Team(ctx, c.AppID, c.TeamUUID); err != nil && !herald.IsNotFound(err) {
				return err
			}
			teams[c.TeamUUID] = t
		}
		if t != nil {
			copied := *t
			c.Team = &copied
		}
	}
	return nil
}
