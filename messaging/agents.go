package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Agents, teams and custom statuses: the people of an app's team inbox.
// Callbell manages them in its dashboard and its API only reads them, sets
// statuses and renames teams; Herald's API also creates, changes and
// deletes them, since Herald has no dashboard. Every change is recorded,
// and the three that Callbell has webhook events for (an agent's status,
// an agent's session, a team's membership) are rendered by package
// callbell.

// AgentInput creates or changes an agent. On update, nil fields stay as
// they are; availability changes through SetAgentStatus.
type AgentInput struct {
	Email     *string `json:"email"`
	Name      *string `json:"name"`
	Role      *string `json:"role"`
	Available *bool   `json:"available"`
}

// all is the limit of a listing meant to have no limit.
const all = math.MaxInt32

// AgentsPageSize is the number of agents in a page of a list.
const AgentsPageSize = 50

func checkRole(role string) error {
	if !slices.Contains(herald.AgentRoles, role) {
		return herald.PropertyError(herald.EInvalidProperty, "role", "role must be one of %s, not %q.", strings.Join(herald.AgentRoles, ", "), role)
	}
	return nil
}

// agentByID finds an agent by its UUID in 32 or 36 characters.
func agentByID(ctx context.Context, q herald.Queries, appID, id string) (*herald.Agent, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("user", id)
	}
	return q.Agent(ctx, appID, herald.CompactUUID(u))
}

func (s *Service) recordAgent(ctx context.Context, tx herald.Tx, appID, typ string, ch *herald.AgentChange) error {
	return s.record(ctx, tx, appID, typ, nil, &herald.EventData{Agents: ch})
}

// CreateAgent adds an agent to an app. The email is required and unique in
// the app regardless of case; the role defaults to agent and availability
// to available.
func (s *Service) CreateAgent(ctx context.Context, appID string, in AgentInput) (out *herald.Agent, err error) {
	if in.Email == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "email", "email is required: the agent's email address, unique in the app.")
	}
	email, err := checkEmail("email", *in.Email)
	if err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "name", "name is required.")
	}
	name, err := checkName(*in.Name)
	if err != nil {
		return nil, err
	}
	role := "agent"
	if in.Role != nil {
		role = *in.Role
		if err := checkRole(role); err != nil {
			return nil, err
		}
	}
	available := in.Available == nil || *in.Available
	now := s.now()
	a := &herald.Agent{UUID: newUUID(), AppID: appID, Email: email, Name: name, Role: role, Available: available,
		AvailableUpdatedAt: now, CreatedAt: now, UpdatedAt: now}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateAgent(ctx, a); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventAgentCreated, &herald.AgentChange{Agent: a})
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Agent returns one of an app's agents.
func (s *Service) Agent(ctx context.Context, appID, id string) (a *herald.Agent, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		a, err = agentByID(ctx, q, appID, id)
		return err
	})
	return a, err
}

// AgentTeams returns the teams an agent is a member of.
func (s *Service) AgentTeams(ctx context.Context, appID, id string) (teams []*herald.Team, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		a, err := agentByID(ctx, q, appID, id)
		if err != nil {
			return err
		}
		ids, err := q.AgentTeams(ctx, appID, a.UUID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			t, err := q.Team(ctx, appID, id)
			if err != nil {
				return err
			}
			teams = append(teams, t)
		}
		return nil
	})
	return teams, err
}

// Agents lists a page (from 1) of the agents f selects, oldest first, and
// the number of pages.
func (s *Service) Agents(ctx context.Context, appID string, f herald.AgentFilter, page int) (as []*herald.Agent, pages int, err error) {
	if page < 1 {
		return nil, 0, herald.PropertyError(herald.EInvalidProperty, "page", "page must be a number from 1.")
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if f.TeamUUID != "" {
			t, err := teamByID(ctx, q, appID, f.TeamUUID)
			if err != nil {
				return err
			}
			f.TeamUUID = t.UUID
		}
		var total int
		as, total, err = q.Agents(ctx, appID, f, herald.PageOffset(page, AgentsPageSize), AgentsPageSize)
		pages = max(1, (total+AgentsPageSize-1)/AgentsPageSize)
		return err
	})
	return as, pages, err
}

// UpdateAgent changes an agent's email, name or role, and records
// agent.updated when something changed. A new email follows the agent to
// the contacts assigned to them, each recorded as contact.updated.
func (s *Service) UpdateAgent(ctx context.Context, appID, id string, in AgentInput) (out *herald.Agent, err error) {
	if in.Available != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "available",
			"An agent's availability changes with PUT /v1/users/{uuid}/status, which notifies agent_status_updated.")
	}
	var email, name string
	if in.Email != nil {
		if email, err = checkEmail("email", *in.Email); err != nil {
			return nil, err
		}
	}
	if in.Name != nil {
		if name, err = checkName(*in.Name); err != nil {
			return nil, err
		}
	}
	if in.Role != nil {
		if err := checkRole(*in.Role); err != nil {
			return nil, err
		}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		a, err := agentByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = a
		before := *a
		if in.Email != nil {
			a.Email = email
		}
		if in.Name != nil {
			a.Name = name
		}
		if in.Role != nil {
			a.Role = *in.Role
		}
		if a.Email == before.Email && a.Name == before.Name && a.Role == before.Role {
			return nil
		}
		a.UpdatedAt = s.now()
		if err := tx.UpdateAgent(ctx, a); err != nil {
			return err
		}
		if a.Email != before.Email {
			if err := s.reassignContacts(ctx, tx, appID, before.Email, a.Email); err != nil {
				return err
			}
		}
		return s.recordAgent(ctx, tx, appID, herald.EventAgentUpdated, &herald.AgentChange{Agent: a})
	})
	return out, err
}

// reassignContacts moves the contacts assigned to the email from to the
// email to ("": unassigns them), recording contact.updated for each.
func (s *Service) reassignContacts(ctx context.Context, tx herald.Tx, appID, from, to string) error {
	cs, _, err := tx.Contacts(ctx, appID, herald.ContactFilter{AssignedUser: from}, 0, all)
	if err != nil {
		return err
	}
	for _, c := range cs {
		c.AssignedUser, c.UpdatedAt = to, s.now()
		if err := tx.UpdateContact(ctx, c); err != nil {
			return err
		}
		if err := s.recordContact(ctx, tx, herald.EventContactUpdated, c, nil, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// DeleteAgent removes an agent: their contacts are unassigned (each
// recorded as contact.updated) and they leave their teams (each recorded
// as team.membership_updated, agent_removed), then agent.deleted.
func (s *Service) DeleteAgent(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		a, err := agentByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if err := s.reassignContacts(ctx, tx, appID, a.Email, ""); err != nil {
			return err
		}
		teams, err := tx.AgentTeams(ctx, appID, a.UUID)
		if err != nil {
			return err
		}
		for _, teamID := range teams {
			if err := s.removeMember(ctx, tx, appID, teamID, a); err != nil {
				return err
			}
		}
		if err := tx.DeleteAgent(ctx, appID, a.UUID); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventAgentDeleted, &herald.AgentChange{Agent: a})
	})
}

// StatusInput is Callbell's PUT /users/:uuid/status (users_api/
// put_user_status.md): availability, and the custom status's UUID, null
// to unassign it. Absent fields stay as they are.
type StatusInput struct {
	Available        *bool           `json:"available"`
	CustomStatusUUID json.RawMessage `json:"custom_status_uuid"`
}

// SetAgentStatus changes an agent's availability and custom status, and
// records agent.status_updated when either changed.
func (s *Service) SetAgentStatus(ctx context.Context, appID, id string, in StatusInput) (out *herald.Agent, err error) {
	var statusID *string
	if raw := strings.TrimSpace(string(in.CustomStatusUUID)); raw != "" {
		var v *string
		if json.Unmarshal(in.CustomStatusUUID, &v) != nil {
			return nil, herald.PropertyError(herald.EInvalidProperty, "custom_status_uuid",
				"custom_status_uuid must be the uuid of a custom status, or null to unassign it.")
		}
		if v == nil {
			v = new(string)
		}
		statusID = v
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		a, err := agentByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = a
		var cs *herald.CustomStatus
		if statusID != nil && *statusID != "" {
			if cs, err = customStatusByID(ctx, tx, appID, *statusID); herald.IsNotFound(err) {
				return herald.PropertyError(herald.EInvalidProperty, "custom_status_uuid",
					"custom_status_uuid %q is not a custom status of the app.", *statusID)
			} else if err != nil {
				return err
			}
		}
		return s.changeStatus(ctx, tx, a, in.Available, statusID != nil, cs)
	})
	return out, err
}

// changeStatus sets an agent's availability (when available is not nil)
// and custom status (when setStatus: cs, or none when nil), and records
// agent.status_updated if either changed.
func (s *Service) changeStatus(ctx context.Context, tx herald.Tx, a *herald.Agent, available *bool, setStatus bool, cs *herald.CustomStatus) error {
	now := s.now()
	changed := false
	if available != nil && *available != a.Available {
		a.Available, a.AvailableUpdatedAt, changed = *available, now, true
	}
	if setStatus {
		id := ""
		if cs != nil {
			id = cs.UUID
		}
		if id != a.CustomStatusUUID {
			a.CustomStatusUUID, a.CustomStatus, changed = id, cs, true
			if cs != nil {
				a.CustomStatusUpdatedAt = &now
			} else {
				a.CustomStatusUpdatedAt = nil
			}
		}
	}
	if !changed {
		return nil
	}
	a.UpdatedAt = now
	if err := tx.UpdateAgent(ctx, a); err != nil {
		return err
	}
	return s.recordAgent(ctx, tx, a.AppID, herald.EventAgentStatusUpdated, &herald.AgentChange{Agent: a})
}

// ClearAgentStatus unassigns an agent's custom status (Callbell's DELETE
// /users/:uuid/status), recording agent.status_updated if they had one.
func (s *Service) ClearAgentStatus(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		a, err := agentByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		return s.changeStatus(ctx, tx, a, nil, true, nil)
	})
}

// RecordAgentSession records that an agent logged in or out (one of
// herald.AgentSessionActions) as agent.session_updated. Herald holds no
// agent sessions of its own: the app's dashboard reports them.
func (s *Service) RecordAgentSession(ctx context.Context, appID, id, action string) (out *herald.Agent, err error) {
	if action == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "action", "action is required: one of %s.", strings.Join(herald.AgentSessionActions, ", "))
	}
	if !slices.Contains(herald.AgentSessionActions, action) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "action", "action must be one of %s, not %q.", strings.Join(herald.AgentSessionActions, ", "), action)
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		a, err := agentByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		a.Session, a.UpdatedAt = action, s.now()
		if err := tx.UpdateAgent(ctx, a); err != nil {
			return err
		}
		out = a
		return s.recordAgent(ctx, tx, appID, herald.EventAgentSessionUpdated, &herald.AgentChange{Agent: a, Action: action})
	})
	return out, err
}

// Teams.

// TeamInput creates or changes a team. On update, nil fields stay as they
// are.
type TeamInput struct {
	Name    *string `json:"name"`
	Default *bool   `json:"default"`
}

func teamByID(ctx context.Context, q herald.Queries, appID, id string) (*herald.Team, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("team", id)
	}
	return q.Team(ctx, appID, herald.CompactUUID(u))
}

// takeDefault makes t the app's default team: the team that was the
// default stops being it, recorded as team.updated.
func (s *Service) takeDefault(ctx context.Context, tx herald.Tx, t *herald.Team) error {
	teams, err := tx.Teams(ctx, t.AppID)
	if err != nil {
		return err
	}
	for _, other := range teams {
		if other.UUID == t.UUID || !other.Default {
			continue
		}
		other.Default = false
		if err := tx.UpdateTeam(ctx, other); err != nil {
			return err
		}
		if err := s.recordAgent(ctx, tx, t.AppID, herald.EventTeamUpdated, &herald.AgentChange{Team: other}); err != nil {
			return err
		}
	}
	t.Default = true
	return nil
}

// CreateTeam adds a team. An app's first team is its default one, as
// Callbell's General team is; a team created with default true takes that
// role from the other.
func (s *Service) CreateTeam(ctx context.Context, appID string, in TeamInput) (out *herald.Team, err error) {
	if in.Name == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "name", "name is required.")
	}
	name, err := checkName(*in.Name)
	if err != nil {
		return nil, err
	}
	t := &herald.Team{UUID: newUUID(), AppID: appID, Name: name, CreatedAt: s.now()}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		teams, err := tx.Teams(ctx, appID)
		if err != nil {
			return err
		}
		if len(teams) == 0 || (in.Default != nil && *in.Default) {
			if err := s.takeDefault(ctx, tx, t); err != nil {
				return err
			}
		}
		if err := tx.CreateTeam(ctx, t); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventTeamCreated, &herald.AgentChange{Team: t})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Team returns one of an app's teams.
func (s *Service) Team(ctx context.Context, appID, id string) (t *herald.Team, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		t, err = teamByID(ctx, q, appID, id)
		return err
	})
	return t, err
}

// Teams lists an app's teams, oldest first.
func (s *Service) Teams(ctx context.Context, appID string) (ts []*herald.Team, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ts, err = q.Teams(ctx, appID)
		return err
	})
	return ts, err
}

// UpdateTeam renames a team or makes it the default one, recording
// team.updated. An app always has a default team: making the default
// team not the default is refused.
func (s *Service) UpdateTeam(ctx context.Context, appID, id string, in TeamInput) (out *herald.Team, err error) {
	var name string
	if in.Name != nil {
		if name, err = checkName(*in.Name); err != nil {
			return nil, err
		}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		t, err := teamByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = t
		before := *t
		if in.Default != nil && !*in.Default && t.Default {
			return herald.PropertyError(herald.EInvalidProperty, "default",
				"Team %s is the app's default team; make another team the default instead.", t.UUID)
		}
		if in.Default != nil && *in.Default && !t.Default {
			if err := s.takeDefault(ctx, tx, t); err != nil {
				return err
			}
		}
		if in.Name != nil {
			t.Name = name
		}
		if *t == before {
			return nil
		}
		if err := tx.UpdateTeam(ctx, t); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventTeamUpdated, &herald.AgentChange{Team: t})
	})
	return out, err
}

// DeleteTeam removes a team: its members leave it (each recorded as
// team.membership_updated, agent_removed) and its contacts belong to no
// team any more (each recorded as contact.updated), then team.deleted.
// The default team can only go last.
func (s *Service) DeleteTeam(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		t, err := teamByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if t.Default {
			teams, err := tx.Teams(ctx, appID)
			if err != nil {
				return err
			}
			if len(teams) > 1 {
				return &herald.Error{ID: herald.EConflict,
					Message: fmt.Sprintf("Team %s is the app's default team; make another team the default before deleting it.", t.UUID)}
			}
		}
		members, _, err := tx.Agents(ctx, appID, herald.AgentFilter{TeamUUID: t.UUID}, 0, all)
		if err != nil {
			return err
		}
		for _, a := range members {
			if err := s.removeMember(ctx, tx, appID, t.UUID, a); err != nil {
				return err
			}
		}
		cs, _, err := tx.Contacts(ctx, appID, herald.ContactFilter{TeamUUID: t.UUID}, 0, all)
		if err != nil {
			return err
		}
		for _, c := range cs {
			c.TeamUUID, c.Team, c.UpdatedAt = "", nil, s.now()
			if err := tx.UpdateContact(ctx, c); err != nil {
				return err
			}
			if err := s.recordContact(ctx, tx, herald.EventContactUpdated, c, nil, nil, nil); err != nil {
				return err
			}
		}
		t.Members = 0
		if err := tx.DeleteTeam(ctx, appID, t.UUID); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventTeamDeleted, &herald.AgentChange{Team: t})
	})
}

// AddTeamMember makes an agent a member of a team, recording
// team.membership_updated (agent_added); adding a member again changes
// nothing.
func (s *Service) AddTeamMember(ctx context.Context, appID, teamID, agentID string) (out *herald.Team, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		t, err := teamByID(ctx, tx, appID, teamID)
		if err != nil {
			return err
		}
		a, err := agentByID(ctx, tx, appID, agentID)
		if err != nil {
			return err
		}
		out = t
		added, err := tx.AddTeamMember(ctx, appID, t.UUID, a.UUID, s.now())
		if err != nil || !added {
			return err
		}
		t.Members++
		return s.recordAgent(ctx, tx, appID, herald.EventTeamMembershipUpdated,
			&herald.AgentChange{Team: t, Agent: a, Action: herald.TeamAgentAdded})
	})
	return out, err
}

// RemoveTeamMember removes an agent from a team, recording
// team.membership_updated (agent_removed); an agent who is no member is
// not found.
func (s *Service) RemoveTeamMember(ctx context.Context, appID, teamID, agentID string) (out *herald.Team, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		t, err := teamByID(ctx, tx, appID, teamID)
		if err != nil {
			return err
		}
		a, err := agentByID(ctx, tx, appID, agentID)
		if err != nil {
			return err
		}
		if err := s.removeMember(ctx, tx, appID, t.UUID, a); err != nil {
			return err
		}
		out, err = tx.Team(ctx, appID, t.UUID)
		return err
	})
	return out, err
}

func (s *Service) removeMember(ctx context.Context, tx herald.Tx, appID, teamUUID string, a *herald.Agent) error {
	removed, err := tx.RemoveTeamMember(ctx, appID, teamUUID, a.UUID)
	if err != nil {
		return err
	}
	if !removed {
		return herald.NotFound("team member", a.UUID)
	}
	t, err := tx.Team(ctx, appID, teamUUID)
	if err != nil {
		return err
	}
	return s.recordAgent(ctx, tx, appID, herald.EventTeamMembershipUpdated,
		&herald.AgentChange{Team: t, Agent: a, Action: herald.TeamAgentRemoved})
}

// Custom statuses.

// CustomStatusInput creates or changes a custom status. On update, nil
// fields stay as they are.
type CustomStatusInput struct {
	Name  *string `json:"name"`
	Emoji *string `json:"emoji"`
}

func checkEmoji(e string) (string, error) {
	e = strings.TrimSpace(e)
	if len(e) > 32 || !utf8.ValidString(e) || strings.ContainsAny(e, " \t\r\n") {
		return "", herald.PropertyError(herald.EInvalidProperty, "emoji", "emoji must be one emoji, at most 32 bytes of UTF-8.")
	}
	return e, nil
}

func customStatusByID(ctx context.Context, q herald.Queries, appID, id string) (*herald.CustomStatus, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("custom_status", id)
	}
	return q.CustomStatus(ctx, appID, herald.CompactUUID(u))
}

// CreateCustomStatus adds a custom status, recording custom_status.created.
func (s *Service) CreateCustomStatus(ctx context.Context, appID string, in CustomStatusInput) (*herald.CustomStatus, error) {
	if in.Name == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "name", "name is required.")
	}
	name, err := checkName(*in.Name)
	if err != nil {
		return nil, err
	}
	var emoji string
	if in.Emoji != nil {
		if emoji, err = checkEmoji(*in.Emoji); err != nil {
			return nil, err
		}
	}
	now := s.now()
	cs := &herald.CustomStatus{UUID: newUUID(), AppID: appID, Name: name, Emoji: emoji, CreatedAt: now, UpdatedAt: now}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CreateCustomStatus(ctx, cs); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventCustomStatusCreated, &herald.AgentChange{CustomStatus: cs})
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// CustomStatus returns one of an app's custom statuses.
func (s *Service) CustomStatus(ctx context.Context, appID, id string) (cs *herald.CustomStatus, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		cs, err = customStatusByID(ctx, q, appID, id)
		return err
	})
	return cs, err
}

// CustomStatuses lists an app's custom statuses, oldest first.
func (s *Service) CustomStatuses(ctx context.Context, appID string) (out []*herald.CustomStatus, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		out, err = q.CustomStatuses(ctx, appID)
		return err
	})
	return out, err
}

// UpdateCustomStatus renames a custom status or changes its emoji,
// recording custom_status.updated when something changed.
func (s *Service) UpdateCustomStatus(ctx context.Context, appID, id string, in CustomStatusInput) (out *herald.CustomStatus, err error) {
	var name, emoji string
	if in.Name != nil {
		if name, err = checkName(*in.Name); err != nil {
			return nil, err
		}
	}
	if in.Emoji != nil {
		if emoji, err = checkEmoji(*in.Emoji); err != nil {
			return nil, err
		}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		cs, err := customStatusByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = cs
		before := *cs
		if in.Name != nil {
			cs.Name = name
		}
		if in.Emoji != nil {
			cs.Emoji = emoji
		}
		if *cs == before {
			return nil
		}
		cs.UpdatedAt = s.now()
		if err := tx.UpdateCustomStatus(ctx, cs); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventCustomStatusUpdated, &herald.AgentChange{CustomStatus: cs})
	})
	return out, err
}

// DeleteCustomStatus removes a custom status: the agents showing it show
// none any more (each recorded as agent.status_updated), then
// custom_status.deleted.
func (s *Service) DeleteCustomStatus(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		cs, err := customStatusByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		showing, _, err := tx.Agents(ctx, appID, herald.AgentFilter{CustomStatusUUID: cs.UUID}, 0, all)
		if err != nil {
			return err
		}
		for _, a := range showing {
			if err := s.changeStatus(ctx, tx, a, nil, true, nil); err != nil {
				return err
			}
		}
		if err := tx.DeleteCustomStatus(ctx, appID, cs.UUID); err != nil {
			return err
		}
		return s.recordAgent(ctx, tx, appID, herald.EventCustomStatusDeleted, &herald.AgentChange{CustomStatus: cs})
	})
}

// setTeam puts a contact in a team inbox, or in none when team is nil.
func setTeam(c *herald.Contact, team *herald.Team) {
	c.TeamUUID, c.Team = "", team
	if team != nil {
		c.TeamUUID = team.UUID
	}
}

// checkTeamAndAgent resolves a contact's team_uuid ("" for none) and
// assigned_user. Once an app has agents, assigned_user must be one's email
// (Callbell assigns contacts to its users by email, contacts_api/
// post_contacts.md), and is stored as the agent spells it; an app without
// agents keeps any email, as before it had any.
func checkTeamAndAgent(ctx context.Context, tx herald.Tx, appID string, teamID *string, assigned *string) (*herald.Team, error) {
	var team *herald.Team
	if teamID != nil && *teamID != "" {
		t, err := teamByID(ctx, tx, appID, *teamID)
		if herald.IsNotFound(err) {
			return nil, herald.PropertyError(herald.EInvalidProperty, "team_uuid", "team_uuid %q is not a team of the app.", *teamID)
		} else if err != nil {
			return nil, err
		}
		team = t
	}
	if assigned != nil && *assigned != "" {
		a, err := tx.AgentByEmail(ctx, appID, *assigned)
		switch {
		case err == nil:
			*assigned = a.Email
		case !herald.IsNotFound(err):
			return nil, err
		default:
			_, n, err := tx.Agents(ctx, appID, herald.AgentFilter{}, 0, 0)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				return nil, herald.PropertyError(herald.EInvalidProperty, "assigned_user",
					"assigned_user %q is not the email of one of the app's users.", *assigned)
			}
		}
	}
	return team, nil
}
