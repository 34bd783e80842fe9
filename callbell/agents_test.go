package callbell_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// The agent of Callbell's agent event examples (webhooks/agent_events/*.md).
func johnTheAgent(t *testing.T) *herald.Agent {
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	statusAt := at("2025-02-04T20:21:31Z")
	return &herald.Agent{UUID: "6f1b0d0c2c8a4a4f9d2b6c1e8a7f5e3d", AppID: appID, Email: "john.doe@gmail.com", Name: "John Doe",
		Role: "agent", AvailableUpdatedAt: at("2024-02-21T12:02:47Z"), CustomStatusUUID: "0d6041a28b8849eca99ba88a078a16c1",
		CustomStatusUpdatedAt: &statusAt, CustomStatus: &herald.CustomStatus{UUID: "0d6041a28b8849eca99ba88a078a16c1",
			AppID: appID, Name: "Vacationing", Emoji: "🌴"}}
}

// compact strips a documented example of its layout.
func compact(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// agent_status_updated and agent_session_updated, byte for byte as the
// examples of Callbell's docs, from an agent with their values.
func TestAgentEvents(t *testing.T) {
	john := johnTheAgent(t)
	body := render(t, event(t, herald.EventAgentStatusUpdated, herald.EventData{Agents: &herald.AgentChange{Agent: john}}), "")
	if want := compact(t, `{
  "event": "agent_status_updated",
  "payload": {
    "email": "john.doe@gmail.com",
    "name": "John Doe",
    "available": false,
    "lastUpdatedAt": "2024-02-21T12:02:47Z",
    "userCustomStatus": {
      "updatedAt": "2025-02-04T20:21:31Z",
      "id": "0d6041a2-8b88-49ec-a99b-a88a078a16c1",
      "name": "Vacationing",
      "emoji": "🌴"
    }
  }
}`); string(body) != want {
		t.Errorf("agent_status_updated:\n got %s\nwant %s", body, want)
	}

	john.CustomStatusUUID, john.CustomStatus, john.CustomStatusUpdatedAt = "", nil, nil
	body = render(t, event(t, herald.EventAgentSessionUpdated,
		herald.EventData{Agents: &herald.AgentChange{Agent: john, Action: "user_logged_in"}}), "")
	if want := compact(t, `{
  "event": "agent_session_updated",
  "payload": {
    "action": "user_logged_in",
    "user": {
      "email": "john.doe@gmail.com",
      "name": "John Doe",
      "available": false,
      "lastUpdatedAt": "2024-02-21T12:02:47Z"
    }
  }
}`); string(body) != want {
		t.Errorf("agent_session_updated:\n got %s\nwant %s", body, want)
	}
}

// team_membership_updated: the team as the Team object, the user as the
// TeamMember object (the docs' example user has lastUpdateAt and no name,
// which the TeamMember object it links to does not), and the time of the
// change.
func TestTeamMembershipEvent(t *testing.T) {
	john := johnTheAgent(t)
	john.Available = true
	team := &herald.Team{UUID: "35402552d90c4041b6bcb9a3249c0263", AppID: appID, Name: "Support Team", Members: 3,
		CreatedAt: time.Date(2024, 2, 16, 10, 12, 55, 0, time.UTC)}
	body := render(t, event(t, herald.EventTeamMembershipUpdated,
		herald.EventData{Agents: &herald.AgentChange{Agent: john, Team: team, Action: herald.TeamAgentAdded}}), "")
	wantJSON(t, body, `{"uuid":"35402552d90c4041b6bcb9a3249c0263","name":"Support Team","createdAt":"2024-02-16T10:12:55Z","default":false,"members":3}`,
		"payload", "team")
	wantString(t, body, "agent_added", "payload", "reason")
	wantString(t, body, eventAt.UTC().Format("2006-01-02T15:04:05Z"), "payload", "lastUpdateAt")
	wantKeys(t, body, []string{"email", "name", "available", "lastUpdatedAt", "userCustomStatus"}, "payload", "user")

	// An event without its agent is an error, not an empty payload.
	if _, _, err := format().Render(event(t, herald.EventTeamMembershipUpdated, herald.EventData{}),
		&herald.EventData{}, webhook("")); err == nil {
		t.Error("an event without its agent rendered")
	}
	// The other agent and team events have no Callbell event.
	for _, typ := range []string{herald.EventAgentCreated, herald.EventTeamUpdated, herald.EventCustomStatusDeleted} {
		if _, ok, err := format().Render(event(t, typ, herald.EventData{Agents: &herald.AgentChange{Agent: john}}),
			&herald.EventData{Agents: &herald.AgentChange{Agent: john}}, webhook("")); ok || err != nil {
			t.Errorf("%s rendered: %v, %v", typ, ok, err)
		}
	}
}
