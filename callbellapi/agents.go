package callbellapi

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// agentRoutes are the users (agents), teams, custom statuses and account
// of Callbell's API, with Herald's extensions that manage what Callbell
// manages in its dashboard: creating, changing and deleting users and
// teams, team members, and agents' sessions.
func (a *API) agentRoutes(h func(string, heraldhttp.AppHandler)) {
	h("GET /v1/auth/me", a.authMe)
	h("GET /v1/plan", a.plan)

	// Herald's extension: Callbell's users are made in its dashboard.
	h("POST /v1/users", a.createUser)
	h("GET /v1/users", a.listUsers)
	h("GET /v1/users/{uuid}", a.getUser)
	h("PATCH /v1/users/{uuid}", a.patchUser)
	h("DELETE /v1/users/{uuid}", a.deleteUser)
	h("POST /v1/users/{uuid}/session", a.userSession)
	// Callbell's users_api.
	h("PUT /v1/users/{uuid}/status", a.putUserStatus)
	h("DELETE /v1/users/{uuid}/status", a.deleteUserStatus)

	h("GET /v1/teams", a.listTeams)
	h("GET /v1/teams/{uuid}", a.getTeam)
	h("PATCH /v1/teams/{uuid}", a.patchTeam)
	h("GET /v1/teams/{uuid}/members", a.teamMembers)
	// Herald's extension.
	h("POST /v1/teams", a.createTeam)
	h("DELETE /v1/teams/{uuid}", a.deleteTeam)
	h("PUT /v1/teams/{uuid}/members/{user}", a.addTeamMember)
	h("DELETE /v1/teams/{uuid}/members/{user}", a.removeTeamMember)

	h("GET /v1/custom_statuses", a.listCustomStatuses)
	h("POST /v1/custom_statuses", a.createCustomStatus)
	h("GET /v1/custom_statuses/{id}", a.getCustomStatus)
	h("PUT /v1/custom_statuses/{id}", a.putCustomStatus)
	h("DELETE /v1/custom_statuses/{id}", a.deleteCustomStatus)
}

// Account.

// authMe is Callbell's GET /auth/me (auth_api/me.md). Herald's tokens
// belong to an app, not to a person: user_email is null, user_name is the
// app's name, and api_key is the token's prefix, the part of it that may
// be shown. app_id and token_name are Herald's additions.
func (a *API) authMe(w http.ResponseWriter, r *http.Request, app string) error {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	acct, err := a.srv.Service.AccountOf(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "user_email": nil, "user_name": acct.App.Name,
		"api_key": acct.Token.Prefix, "app_id": acct.App.ID, "token_name": acct.Token.Name})
	return nil
}

// plan is Callbell's GET /plan (plan_api/get_plan.md). Herald sells no
// plans and sets no seat or channel limits, so it says what the app has:
// plan "herald", includedChannels its channels in use (not discarded),
// licenses and activeUsers its users (agents), and its teams.
func (a *API) plan(w http.ResponseWriter, r *http.Request, app string) error {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	acct, err := a.srv.Service.AccountOf(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return err
	}
	teams := make([]callbell.TeamObject, 0, len(acct.Teams))
	for _, t := range acct.Teams {
		teams = append(teams, callbell.Team(t))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"plan": "herald", "includedChannels": acct.Channels,
		"licenses": acct.Agents, "activeUsers": acct.Agents, "teams": teams})
	return nil
}

// Users.

// userJSON is a user as Herald's extension shows it: Callbell's
// TeamMember, with the user's uuid, role, last session action and times.
type userJSON struct {
	UUID string `json:"uuid"`
	callbell.TeamMemberObject
	Role      string  `json:"role"`
	Session   *string `json:"session"`
	CreatedAt string  `json:"createdAt"`
	UpdatedAt string  `json:"updatedAt"`
}

func renderUser(u *herald.Agent) userJSON {
	return userJSON{UUID: herald.CompactUUID(u.UUID), TeamMemberObject: callbell.TeamMember(u), Role: u.Role,
		Session: heraldhttp.OrNull(u.Session), CreatedAt: u.CreatedAt.UTC().Format(callbell.TimeFormat),
		UpdatedAt: u.UpdatedAt.UTC().Format(callbell.TimeFormat)}
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.AgentInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.srv.Service.CreateAgent(r.Context(), app, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, map[string]any{"user": renderUser(u)})
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, app string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	f, err := availabilityFilter(r)
	if err != nil {
		return err
	}
	us, pages, err := a.srv.Service.Agents(r.Context(), app, f, page)
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, renderUser(u))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"users": out, "meta": pageMeta{page, pages}})
	return nil
}

// availabilityFilter reads the status parameter of teams_api/
// get_team_members.md: available or away.
func availabilityFilter(r *http.Request) (herald.AgentFilter, error) {
	var f herald.AgentFilter
	switch v := r.URL.Query().Get("status"); v {
	case "":
	case "available", "away":
		available := v == "available"
		f.Available = &available
	default:
		return f, herald.PropertyError(herald.EInvalidProperty, "status", "status must be available or away, not %q.", v)
	}
	return f, nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, app string) error {
	u, err := a.srv.Service.Agent(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	teams, err := a.srv.Service.AgentTeams(r.Context(), app, u.UUID)
	if err != nil {
		return err
	}
	out := struct {
		userJSON
		Teams []callbell.TeamObject `json:"teams"`
	}{renderUser(u), []callbell.TeamObject{}}
	for _, t := range teams {
		out.Teams = append(out.Teams, callbell.Team(t))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"user": out})
	return nil
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.AgentInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.srv.Service.UpdateAgent(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"user": renderUser(u)})
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteAgent(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "user was destroyed"})
	return nil
}

func (a *API) userSession(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Action string `json:"action"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.srv.Service.RecordAgentSession(r.Context(), app, r.PathValue("uuid"), in.Action)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"user": renderUser(u)})
	return nil
}

// statusTime is the layout of users_api/put_user_status.md's times:
// milliseconds and a numeric offset, "+00:00" in UTC.
const statusTime = "2006-01-02T15:04:05.000-07:00"

func (a *API) putUserStatus(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.StatusInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.srv.Service.SetAgentStatus(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	type customStatus struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		LastUpdatedAt string `json:"last_updated_at"`
	}
	var cs *customStatus
	if u.CustomStatus != nil && u.CustomStatusUpdatedAt != nil {
		cs = &customStatus{callbell.CustomStatusID(u.CustomStatus.UUID), u.CustomStatus.Name,
			u.CustomStatusUpdatedAt.UTC().Format(statusTime)}
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"user_status": map[string]any{
		"custom_status": cs,
		"appearance": map[string]any{"available": u.Available,
			"last_updated_at": u.AvailableUpdatedAt.UTC().Format(statusTime)},
	}})
	return nil
}

// deleteUserStatus answers nothing: "API response is empty"
// (users_api/delete_user_status.md).
func (a *API) deleteUserStatus(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.ClearAgentStatus(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Teams.

func (a *API) listTeams(w http.ResponseWriter, r *http.Request, app string) error {
	ts, err := a.srv.Service.Teams(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]callbell.TeamObject, 0, len(ts))
	for _, t := range ts {
		out = append(out, callbell.Team(t))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"teams": out, "meta": pageMeta{1, 1}})
	return nil
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request, app string) error {
	t, err := a.srv.Service.Team(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"team": callbell.Team(t)})
	return nil
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.TeamInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.srv.Service.CreateTeam(r.Context(), app, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, map[string]any{"team": callbell.Team(t)})
	return nil
}

func (a *API) patchTeam(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.TeamInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.srv.Service.UpdateTeam(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"team": callbell.Team(t)})
	return nil
}

func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteTeam(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "team was destroyed"})
	return nil
}

func (a *API) teamMembers(w http.ResponseWriter, r *http.Request, app string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	f, err := availabilityFilter(r)
	if err != nil {
		return err
	}
	f.TeamUUID = r.PathValue("uuid")
	us, pages, err := a.srv.Service.Agents(r.Context(), app, f, page)
	if err != nil {
		return err
	}
	out := make([]callbell.TeamMemberObject, 0, len(us))
	for _, u := range us {
		out = append(out, callbell.TeamMember(u))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"users": out, "meta": pageMeta{page, pages}})
	return nil
}

func (a *API) addTeamMember(w http.ResponseWriter, r *http.Request, app string) error {
	t, err := a.srv.Service.AddTeamMember(r.Context(), app, r.PathValue("uuid"), r.PathValue("user"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"team": callbell.Team(t)})
	return nil
}

func (a *API) removeTeamMember(w http.ResponseWriter, r *http.Request, app string) error {
	t, err := a.srv.Service.RemoveTeamMember(r.Context(), app, r.PathValue("uuid"), r.PathValue("user"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"team": callbell.Team(t)})
	return nil
}

// Custom statuses.

// customStatusJSON is Callbell's CustomStatus (object_types/
// custom_status.md), its times in the layout of the API's examples.
type customStatusJSON struct {
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	Emoji     string `json:"emoji"`
	ID        string `json:"id"`
}

// customStatusTime is the layout of custom_status_api/*.md's examples.
const customStatusTime = "2006-01-02 15:04:05 -0700"

func renderCustomStatus(cs *herald.CustomStatus) customStatusJSON {
	return customStatusJSON{Name: cs.Name, CreatedAt: cs.CreatedAt.UTC().Format(customStatusTime),
		UpdatedAt: cs.UpdatedAt.UTC().Format(customStatusTime), Emoji: cs.Emoji, ID: callbell.CustomStatusID(cs.UUID)}
}

func (a *API) listCustomStatuses(w http.ResponseWriter, r *http.Request, app string) error {
	css, err := a.srv.Service.CustomStatuses(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]customStatusJSON, 0, len(css))
	for _, cs := range css {
		out = append(out, renderCustomStatus(cs))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"customStatuses": out, "meta": pageMeta{1, 1}})
	return nil
}

func (a *API) createCustomStatus(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.CustomStatusInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	cs, err := a.srv.Service.CreateCustomStatus(r.Context(), app, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, map[string]any{"customStatus": renderCustomStatus(cs)})
	return nil
}

func (a *API) getCustomStatus(w http.ResponseWriter, r *http.Request, app string) error {
	cs, err := a.srv.Service.CustomStatus(r.Context(), app, r.PathValue("id"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"customStatus": renderCustomStatus(cs)})
	return nil
}

func (a *API) putCustomStatus(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.CustomStatusInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	cs, err := a.srv.Service.UpdateCustomStatus(r.Context(), app, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"customStatus": renderCustomStatus(cs)})
	return nil
}

func (a *API) deleteCustomStatus(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteCustomStatus(r.Context(), app, r.PathValue("id")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "custom status was destroyed"})
	return nil
}
