package callbell

import (
	"github.com/heraldhq/herald"
)

// TeamMemberObject is Callbell's TeamMember (object_types/team_member.md),
// an agent as the agent and team events and GET /teams/:uuid/members show
// it.
type TeamMemberObject struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Available     bool   `json:"available"`
	LastUpdatedAt string `json:"lastUpdatedAt"`
	// UserCustomStatus is absent when the agent shows none, as in the
	// first member of teams_api/get_team_members.md.
	UserCustomStatus *UserCustomStatusObject `json:"userCustomStatus,omitempty"`
}

// UserCustomStatusObject is the custom status an agent shows, with when
// they took it on.
type UserCustomStatusObject struct {
	UpdatedAt string `json:"updatedAt"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Emoji     string `json:"emoji"`
}

// CustomStatusID is a custom status's id as Callbell writes it: a UUID of
// 36 characters, unlike the other objects' 32 (custom_status_api/*.md).
func CustomStatusID(uuid string) string {
	if u := herald.ParseUUID(uuid); u != "" {
		return u
	}
	return uuid
}

// TeamMember renders an agent as a TeamMember. lastUpdatedAt is when the
// agent's availability last changed: the custom status has its own
// updatedAt.
func TeamMember(a *herald.Agent) TeamMemberObject {
	out := TeamMemberObject{Email: a.Email, Name: a.Name, Available: a.Available,
		LastUpdatedAt: a.AvailableUpdatedAt.UTC().Format(TimeFormat)}
	if cs := a.CustomStatus; cs != nil && a.CustomStatusUUID != "" {
		at := a.UpdatedAt
		if a.CustomStatusUpdatedAt != nil {
			at = *a.CustomStatusUpdatedAt
		}
		out.UserCustomStatus = &UserCustomStatusObject{UpdatedAt: at.UTC().Format(TimeFormat), ID: CustomStatusID(cs.UUID),
			Name: cs.Name, Emoji: cs.Emoji}
	}
	return out
}

// Team renders a team.
func Team(t *herald.Team) TeamObject {
	return TeamObject{UUID: herald.CompactUUID(t.UUID), Name: t.Name, CreatedAt: t.CreatedAt.UTC().Format(TimeFormat),
		Default: t.Default, Members: t.Members}
}

type agentSessionJSON struct {
	Action string           `json:"action"`
	User   TeamMemberObject `json:"user"`
}

type teamMembershipJSON struct {
	Team   TeamObject       `json:"team"`
	User   TeamMemberObject `json:"user"`
	Reason string           `json:"reason"`
	// LastUpdateAt, so spelled in webhooks/team_events/
	// team_membership_updated.md, is when the membership changed.
	LastUpdateAt string `json:"lastUpdateAt"`
}

func (r *renderer) agentEvent() (any, error) {
	ch := r.d.Agents
	if ch == nil || ch.Agent == nil {
		return nil, r.errorf("carries no agent")
	}
	switch r.e.Type {
	case herald.EventAgentSessionUpdated:
		return agentSessionJSON{Action: ch.Action, User: TeamMember(ch.Agent)}, nil
	case herald.EventTeamMembershipUpdated:
		if ch.Team == nil {
			return nil, r.errorf("carries no team")
		}
		return teamMembershipJSON{Team: Team(ch.Team), User: TeamMember(ch.Agent), Reason: ch.Action,
			LastUpdateAt: r.e.CreatedAt.UTC().Format(TimeFormat)}, nil
	}
	return TeamMember(ch.Agent), nil
}
