package herald

import (
	"context"
	"time"
)

// Agent is a user of an app's team inbox: someone of the business who
// answers contacts (Callbell's user, or TeamMember). Callbell makes agents
// in its dashboard; Herald's API creates them.
type Agent struct {
	UUID  string `json:"uuid"`
	AppID string `json:"-"`
	// Email is unique among an app's agents, without regard to case: it
	// is how contacts are assigned to the agent (Contact.AssignedUser).
	Email string `json:"email"`
	Name  string `json:"name"`
	// Role is one of AgentRoles.
	Role string `json:"role"`
	// Available is the agent's appearance: available, or away.
	Available bool `json:"available"`
	// AvailableUpdatedAt is when Available last changed.
	AvailableUpdatedAt time.Time `json:"available_updated_at"`
	// CustomStatusUUID is the custom status the agent shows, if any, set
	// at CustomStatusUpdatedAt; CustomStatus is that status as it was when
	// the agent was read.
	CustomStatusUUID      string        `json:"custom_status_uuid,omitempty"`
	CustomStatusUpdatedAt *time.Time    `json:"custom_status_updated_at,omitempty"`
	CustomStatus          *CustomStatus `json:"custom_status,omitempty"`
	// Session is the last session action recorded for the agent (one of
	// AgentSessionActions), empty when none was.
	Session   string    `json:"session,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AgentRoles are the roles an agent may have, Callbell's.
var AgentRoles = []string{"admin", "supervisor", "agent"}

// AgentSessionActions are the actions of Callbell's agent_session_updated
// (webhooks/agent_events/agent_session_updated.md).
var AgentSessionActions = []string{"user_logged_in", "user_logged_out", "system_logged_out"}

// Reasons of a team membership change, Callbell's
// (webhooks/team_events/team_membership_updated.md).
const (
	TeamAgentAdded   = "agent_added"
	TeamAgentRemoved = "agent_removed"
)

// CustomStatus is a status an agent may show beside their availability
// ("Vacationing", "Lunch").
type CustomStatus struct {
	UUID      string    `json:"uuid"`
	AppID     string    `json:"-"`
	Name      string    `json:"name"`
	Emoji     string    `json:"emoji"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AgentChange is what the events of agents, teams and custom statuses
// carry, as it was after the change (before it, for a deletion): the agent,
// the team or the custom status concerned, and Action, the session action
// of an agent.session_updated or the reason of a team.membership_updated.
type AgentChange struct {
	Agent        *Agent        `json:"agent,omitempty"`
	Team         *Team         `json:"team,omitempty"`
	CustomStatus *CustomStatus `json:"custom_status,omitempty"`
	Action       string        `json:"action,omitempty"`
}

// Event types of agents, teams and custom statuses. Layer has none of
// them; Callbell's webhooks render three: agent.status_updated (a change of
// an agent's availability or custom status), agent.session_updated and
// team.membership_updated.
const (
	EventAgentCreated          = "agent.created"
	EventAgentUpdated          = "agent.updated"
	EventAgentDeleted          = "agent.deleted"
	EventAgentStatusUpdated    = "agent.status_updated"
	EventAgentSessionUpdated   = "agent.session_updated"
	EventTeamCreated           = "team.created"
	EventTeamUpdated           = "team.updated"
	EventTeamDeleted           = "team.deleted"
	EventTeamMembershipUpdated = "team.membership_updated"
	EventCustomStatusCreated   = "custom_status.created"
	EventCustomStatusUpdated   = "custom_status.updated"
	EventCustomStatusDeleted   = "custom_status.deleted"
)

// AgentFilter selects agents. Empty members select everything.
type AgentFilter struct {
	// TeamUUID selects the members of a team.
	TeamUUID string
	// Available selects the available agents (true) or the away ones.
	Available *bool
	// CustomStatusUUID selects the agents showing a custom status.
	CustomStatusUUID string
}

// AgentQueries are the reads and writes of agents, teams and custom
// statuses. Agents come with their custom status (CustomStatus), teams with
// their number of members, as they are in the store.
type AgentQueries interface {
	// CreateAgent adds an agent; an agent with the same email (regardless
	// of case) in the app is a conflict naming email.
	CreateAgent(ctx context.Context, a *Agent) error
	Agent(ctx context.Context, appID, uuid string) (*Agent, error)
	// AgentByEmail finds an agent by email, regardless of case.
	AgentByEmail(ctx context.Context, appID, email string) (*Agent, error)
	// Agents lists the agents selected, oldest first, with the number
	// selected in all. A negative limit means no limit.
	Agents(ctx context.Context, appID string, f AgentFilter, offset, limit int) ([]*Agent, int, error)
	// UpdateAgent saves every field but the UUID, app and creation time.
	UpdateAgent(ctx context.Context, a *Agent) error
	// DeleteAgent removes an agent and its team memberships.
	DeleteAgent(ctx context.Context, appID, uuid string) error

	// CreateTeam adds a team. An app has at most one default team: a
	// second is a conflict naming default (UpdateTeam alike).
	CreateTeam(ctx context.Context, t *Team) error
	Team(ctx context.Context, appID, uuid string) (*Team, error)
	// Teams lists an app's teams, oldest first.
	Teams(ctx context.Context, appID string) ([]*Team, error)
	// UpdateTeam saves a team's name and default flag.
	UpdateTeam(ctx context.Context, t *Team) error
	// DeleteTeam removes a team and its memberships.
	DeleteTeam(ctx context.Context, appID, uuid string) error
	// AddTeamMember makes an agent a member of a team, and reports
	// whether it was not one already.
	AddTeamMember(ctx context.Context, appID, teamUUID, agentUUID string, at time.Time) (bool, error)
	// RemoveTeamMember removes an agent from a team, and reports whether
	// it was a member.
	RemoveTeamMember(ctx context.Context, appID, teamUUID, agentUUID string) (bool, error)
	// AgentTeams lists the UUIDs of the teams an agent is a member of.
	AgentTeams(ctx context.Context, appID, agentUUID string) ([]string, error)

	CreateCustomStatus(ctx context.Context, cs *CustomStatus) error
	CustomStatus(ctx context.Context, appID, uuid string) (*CustomStatus, error)
	// CustomStatuses lists an app's custom statuses, oldest first.
	CustomStatuses(ctx context.Context, appID string) ([]*CustomStatus, error)
	UpdateCustomStatus(ctx context.Context, cs *CustomStatus) error
	DeleteCustomStatus(ctx context.Context, appID, uuid string) error
}
