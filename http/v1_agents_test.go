package http_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
)

// Tests of Callbell's users (agents), teams, custom statuses, auth/me and
// plan, of contacts' team, and of the agent and team webhook events.

// agUser creates a user and returns it.
func (a *api) agUser(t *testing.T, email, name string) map[string]any {
	t.Helper()
	res := a.v1tDo("POST", "/users", map[string]any{"email": email, "name": name}).must(t, 201).Map(t)
	wantKeys(t, "user creation", res, "user")
	return obj(t, res["user"])
}

// agTeam creates a team and returns it.
func (a *api) agTeam(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	return obj(t, a.v1tDo("POST", "/teams", body).must(t, 201).Map(t)["team"])
}

// agStatus creates a custom status and returns it.
func (a *api) agStatus(t *testing.T, name, emoji string) map[string]any {
	t.Helper()
	return obj(t, a.v1tDo("POST", "/custom_statuses", map[string]any{"name": name, "emoji": emoji}).must(t, 201).Map(t)["customStatus"])
}

// agEvents returns the data of the app's events of a type, oldest first.
func (a *api) agEvents(t *testing.T, typ string) []*herald.EventData {
	t.Helper()
	var out []*herald.EventData
	err := a.Store.View(context.Background(), func(q herald.Queries) error {
		es, err := q.Events(context.Background(), a.AppID, 0, 10000)
		for _, e := range es {
			if e.Type != typ {
				continue
			}
			d, err := e.DecodeData()
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestV1Users(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ann := a.agUser(t, "Ann@Example.com", "Ann")
		wantKeys(t, "user", ann, "uuid", "email", "name", "available", "lastUpdatedAt", "role", "session", "createdAt", "updatedAt")
		if len(ann["uuid"].(string)) != 32 || ann["email"] != "Ann@Example.com" || ann["available"] != true || ann["role"] != "agent" ||
			ann["session"] != nil {
			t.Fatalf("created user %v", ann)
		}
		v1tTime(t, "lastUpdatedAt", ann["lastUpdatedAt"])
		id := ann["uuid"].(string)

		// Refusals name the field; none writes anything.
		before := len(a.agEvents(t, herald.EventAgentCreated))
		for _, tc := range []struct {
			body      map[string]any
			status    int
			errID     string
			property  string
			operation string
		}{
			{map[string]any{"email": "ann@example.COM", "name": "Ann Two"}, 409, "conflict", "email", "duplicate email"},
			{map[string]any{"name": "Nobody"}, 422, "missing_property", "email", "no email"},
			{map[string]any{"email": "not-an-email", "name": "X"}, 422, "invalid_property", "email", "bad email"},
			{map[string]any{"email": "x@example.com"}, 422, "missing_property", "name", "no name"},
			{map[string]any{"email": "x@example.com", "name": "X", "role": "owner"}, 422, "invalid_property", "role", "bad role"},
		} {
			a.v1tDo("POST", "/users", tc.body).wantError(t, tc.status, tc.errID, tc.property)
		}
		if n := len(a.agEvents(t, herald.EventAgentCreated)); n != before {
			t.Fatalf("refused creations recorded %d agent.created", n-before)
		}

		bob := obj(t, a.v1tDo("POST", "/users", map[string]any{"email": "bob@example.com", "name": "Bob", "role": "admin", "available": false}).
			must(t, 201).Map(t)["user"])
		if bob["available"] != false || bob["role"] != "admin" {
			t.Fatalf("bob %v", bob)
		}
		res := a.v1tDo("GET", "/users", nil).must(t, 200).Map(t)
		users := arr(t, res["users"])
		if len(users) != 2 || obj(t, users[0])["uuid"] != id {
			t.Fatalf("users %v", users)
		}
		v1tMeta(t, "users", obj(t, res["meta"]), 1, 1)
		if away := arr(t, a.v1tDo("GET", "/users?status=away", nil).must(t, 200).Map(t)["users"]); len(away) != 1 || obj(t, away[0])["name"] != "Bob" {
			t.Fatalf("away users %v", away)
		}
		a.v1tDo("GET", "/users?status=busy", nil).wantError(t, 422, "invalid_property", "status")

		// GET by either UUID form, with the user's teams.
		got := obj(t, a.v1tDo("GET", "/users/"+v1tDashed(t, id), nil).must(t, 200).Map(t)["user"])
		wantJSON(t, "GET user", got, withKey(ann, "teams", []any{}))
		a.v1tDo("GET", "/users/"+v1tUUID32(), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/users/nope", nil).wantError(t, 404, "not_found", "")

		patched := obj(t, a.v1tDo("PATCH", "/users/"+id, map[string]any{"name": "Annie", "role": "supervisor"}).must(t, 200).Map(t)["user"])
		if patched["name"] != "Annie" || patched["role"] != "supervisor" || patched["email"] != "Ann@Example.com" {
			t.Fatalf("patched %v", patched)
		}
		a.v1tDo("PATCH", "/users/"+id, map[string]any{"available": false}).wantError(t, 422, "invalid_property", "available")
		a.v1tDo("PATCH", "/users/"+id, map[string]any{"email": "BOB@example.com"}).wantError(t, 409, "conflict", "email")
		a.v1tDo("PATCH", "/users/"+id, map[string]any{"role": "king"}).wantError(t, 422, "invalid_property", "role")
		if n := len(a.agEvents(t, herald.EventAgentUpdated)); n != 1 {
			t.Fatalf("%d agent.updated, want 1", n)
		}

		// Sessions are recorded, their action checked.
		a.v1tDo("POST", "/users/"+id+"/session", map[string]any{"action": "dozed_off"}).wantError(t, 422, "invalid_property", "action")
		a.v1tDo("POST", "/users/"+id+"/session", map[string]any{}).wantError(t, 422, "missing_property", "action")
		s := obj(t, a.v1tDo("POST", "/users/"+id+"/session", map[string]any{"action": "user_logged_in"}).must(t, 200).Map(t)["user"])
		if s["session"] != "user_logged_in" {
			t.Fatalf("after login %v", s)
		}

		wantJSON(t, "delete", a.v1tDo("DELETE", "/users/"+id, nil).must(t, 200).Map(t), map[string]any{"status": "user was destroyed"})
		a.v1tDo("GET", "/users/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1tDo("DELETE", "/users/"+id, nil).wantError(t, 404, "not_found", "")
		if d := a.agEvents(t, herald.EventAgentDeleted); len(d) != 1 || d[0].Agents.Agent.Email != "Ann@Example.com" {
			t.Fatalf("agent.deleted %v", d)
		}
	})
}

func TestV1CustomStatusesAndUserStatus(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		lunch := a.agStatus(t, "Lunch", "🍙")
		wantKeys(t, "custom status", lunch, "name", "createdAt", "updatedAt", "emoji", "id")
		id := lunch["id"].(string)
		if len(id) != 36 || lunch["name"] != "Lunch" || lunch["emoji"] != "🍙" {
			t.Fatalf("custom status %v", lunch)
		}
		if _, err := time.Parse("2006-01-02 15:04:05 -0700", lunch["createdAt"].(string)); err != nil {
			t.Fatalf("createdAt %v: %v", lunch["createdAt"], err)
		}
		a.v1tDo("POST", "/custom_statuses", map[string]any{"emoji": "x"}).wantError(t, 422, "missing_property", "name")
		a.v1tDo("POST", "/custom_statuses", map[string]any{"name": "X", "emoji": "far too long for one emoji, surely"}).
			wantError(t, 422, "invalid_property", "emoji")
		trip := a.agStatus(t, "Trip", "🚌")

		res := a.v1tDo("GET", "/custom_statuses", nil).must(t, 200).Map(t)
		wantJSON(t, "list", res, map[string]any{"customStatuses": []any{lunch, trip}, "meta": map[string]any{"page": 1, "pages": 1}})
		wantJSON(t, "GET by 32 digits", a.v1tDo("GET", "/custom_statuses/"+herald.CompactUUID(id), nil).must(t, 200).Map(t),
			map[string]any{"customStatus": lunch})
		put := obj(t, a.v1tDo("PUT", "/custom_statuses/"+id, map[string]any{"name": "Back in a bit", "emoji": "⭐️"}).must(t, 200).Map(t)["customStatus"])
		if put["name"] != "Back in a bit" || put["emoji"] != "⭐️" || put["id"] != id || put["createdAt"] != lunch["createdAt"] {
			t.Fatalf("PUT %v", put)
		}
		a.v1tDo("PUT", "/custom_statuses/"+v1tUUID32(), map[string]any{"name": "X"}).wantError(t, 404, "not_found", "")

		// A user's status: availability and custom status, in Callbell's
		// user_status shape.
		u := a.agUser(t, "ann@example.com", "Ann")
		uid := u["uuid"].(string)
		st := a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"available": false, "custom_status_uuid": id}).must(t, 200).Map(t)
		us := obj(t, st["user_status"])
		cs, app := obj(t, us["custom_status"]), obj(t, us["appearance"])
		wantKeys(t, "custom_status", cs, "id", "name", "last_updated_at")
		if cs["id"] != id || cs["name"] != "Back in a bit" || app["available"] != false {
			t.Fatalf("user_status %v", st)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000-07:00", app["last_updated_at"].(string)); err != nil {
			t.Fatalf("appearance last_updated_at: %v", err)
		}
		got := obj(t, a.v1tDo("GET", "/users/"+uid, nil).must(t, 200).Map(t)["user"])
		ucs := obj(t, got["userCustomStatus"])
		if got["available"] != false || ucs["id"] != id || ucs["name"] != "Back in a bit" || ucs["emoji"] != "⭐️" {
			t.Fatalf("user after PUT status %v", got)
		}
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"custom_status_uuid": v1tUUID32()}).
			wantError(t, 422, "invalid_property", "custom_status_uuid")
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"custom_status_uuid": 7}).
			wantError(t, 422, "invalid_property", "custom_status_uuid")
		a.v1tDo("PUT", "/users/"+v1tUUID32()+"/status", map[string]any{"available": true}).wantError(t, 404, "not_found", "")
		// Nothing changed: no event.
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"available": false}).must(t, 200)
		if n := len(a.agEvents(t, herald.EventAgentStatusUpdated)); n != 1 {
			t.Fatalf("%d agent.status_updated, want 1", n)
		}
		// null unassigns.
		st = a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"custom_status_uuid": nil}).must(t, 200).Map(t)
		if obj(t, st["user_status"])["custom_status"] != nil {
			t.Fatalf("after null: %v", st)
		}
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"custom_status_uuid": trip["id"]}).must(t, 200)
		if res := a.v1tDo("DELETE", "/users/"+uid+"/status", nil).must(t, 204); len(res.Body) != 0 {
			t.Fatalf("DELETE status answered %s", res.Body)
		}
		if got := obj(t, a.v1tDo("GET", "/users/"+uid, nil).must(t, 200).Map(t)["user"]); got["userCustomStatus"] != nil {
			t.Fatalf("after DELETE status: %v", got)
		}

		// Deleting a custom status takes it off the users showing it.
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"custom_status_uuid": trip["id"]}).must(t, 200)
		wantJSON(t, "delete", a.v1tDo("DELETE", "/custom_statuses/"+trip["id"].(string), nil).must(t, 200).Map(t),
			map[string]any{"status": "custom status was destroyed"})
		if got := obj(t, a.v1tDo("GET", "/users/"+uid, nil).must(t, 200).Map(t)["user"]); got["userCustomStatus"] != nil {
			t.Fatalf("user of a deleted status: %v", got)
		}
		a.v1tDo("GET", "/custom_statuses/"+trip["id"].(string), nil).wantError(t, 404, "not_found", "")
		if n := len(a.agEvents(t, herald.EventCustomStatusDeleted)); n != 1 {
			t.Fatalf("%d custom_status.deleted", n)
		}
	})
}

func TestV1Teams(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		general := a.agTeam(t, map[string]any{"name": "General"})
		wantKeys(t, "team", general, "uuid", "name", "createdAt", "default", "members")
		if general["default"] != true || general["members"] != 0.0 || len(general["uuid"].(string)) != 32 {
			t.Fatalf("first team %v", general)
		}
		support := a.agTeam(t, map[string]any{"name": "Support"})
		if support["default"] != false {
			t.Fatalf("second team %v", support)
		}
		gid, sid := general["uuid"].(string), support["uuid"].(string)
		a.v1tDo("POST", "/teams", map[string]any{}).wantError(t, 422, "missing_property", "name")

		ann, bob := a.agUser(t, "ann@example.com", "Ann"), a.agUser(t, "bob@example.com", "Bob")
		a.v1tDo("PUT", "/users/"+bob["uuid"].(string)+"/status", map[string]any{"available": false}).must(t, 200)
		for _, u := range []string{ann["uuid"].(string), bob["uuid"].(string)} {
			a.v1tDo("PUT", "/teams/"+sid+"/members/"+u, nil).must(t, 200)
		}
		// Adding again changes nothing.
		if tm := obj(t, a.v1tDo("PUT", "/teams/"+sid+"/members/"+ann["uuid"].(string), nil).must(t, 200).Map(t)["team"]); tm["members"] != 2.0 {
			t.Fatalf("team after adding twice %v", tm)
		}
		a.v1tDo("PUT", "/teams/"+sid+"/members/"+v1tUUID32(), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("PUT", "/teams/"+v1tUUID32()+"/members/"+ann["uuid"].(string), nil).wantError(t, 404, "not_found", "")

		res := a.v1tDo("GET", "/teams", nil).must(t, 200).Map(t)
		wantJSON(t, "teams", res, map[string]any{"teams": []any{general, withKey(support, "members", 2)},
			"meta": map[string]any{"page": 1, "pages": 1}})
		members := a.v1tDo("GET", "/teams/"+sid+"/members", nil).must(t, 200).Map(t)
		wantKeys(t, "members", members, "users", "meta")
		ms := arr(t, members["users"])
		if len(ms) != 2 || obj(t, ms[0])["email"] != "ann@example.com" {
			t.Fatalf("members %v", ms)
		}
		wantKeys(t, "member", obj(t, ms[0]), "email", "name", "available", "lastUpdatedAt")
		if av := arr(t, a.v1tDo("GET", "/teams/"+sid+"/members?status=available", nil).must(t, 200).Map(t)["users"]); len(av) != 1 {
			t.Fatalf("available members %v", av)
		}
		a.v1tDo("GET", "/teams/"+sid+"/members?status=asleep", nil).wantError(t, 422, "invalid_property", "status")
		a.v1tDo("GET", "/teams/"+v1tUUID32()+"/members", nil).wantError(t, 404, "not_found", "")
		if teams := arr(t, obj(t, a.v1tDo("GET", "/users/"+bob["uuid"].(string), nil).must(t, 200).Map(t)["user"])["teams"]); len(teams) != 1 ||
			obj(t, teams[0])["uuid"] != sid {
			t.Fatalf("bob's teams %v", teams)
		}

		patched := obj(t, a.v1tDo("PATCH", "/teams/"+sid, map[string]any{"name": "Care"}).must(t, 200).Map(t)["team"])
		if patched["name"] != "Care" || patched["members"] != 2.0 {
			t.Fatalf("patched %v", patched)
		}
		wantJSON(t, "GET team", a.v1tDo("GET", "/teams/"+v1tDashed(t, sid), nil).must(t, 200).Map(t), map[string]any{"team": patched})
		a.v1tDo("PATCH", "/teams/"+gid, map[string]any{"default": false}).wantError(t, 422, "invalid_property", "default")
		a.v1tDo("PATCH", "/teams/"+gid, map[string]any{"name": ""}).wantError(t, 422, "invalid_property", "name")
		// Making Care the default takes it from General.
		a.v1tDo("PATCH", "/teams/"+sid, map[string]any{"default": true}).must(t, 200)
		if g := obj(t, a.v1tDo("GET", "/teams/"+gid, nil).must(t, 200).Map(t)["team"]); g["default"] != false {
			t.Fatalf("General after Care took the default: %v", g)
		}
		a.v1tDo("DELETE", "/teams/"+sid, nil).wantError(t, 409, "conflict", "")

		// Removing a member, then deleting a team with members and
		// contacts.
		if tm := obj(t, a.v1tDo("DELETE", "/teams/"+sid+"/members/"+bob["uuid"].(string), nil).must(t, 200).Map(t)["team"]); tm["members"] != 1.0 {
			t.Fatalf("after removing bob %v", tm)
		}
		a.v1tDo("DELETE", "/teams/"+sid+"/members/"+bob["uuid"].(string), nil).wantError(t, 404, "not_found", "")
		// A deleted user leaves their teams, each change recorded.
		cy := a.agUser(t, "cy@example.com", "Cy")
		a.v1tDo("PUT", "/teams/"+sid+"/members/"+cy["uuid"].(string), nil).must(t, 200)
		a.v1tDo("DELETE", "/users/"+cy["uuid"].(string), nil).must(t, 200)
		changes := a.agEvents(t, herald.EventTeamMembershipUpdated)
		if last := changes[len(changes)-1].Agents; last.Action != herald.TeamAgentRemoved || last.Agent.Email != "cy@example.com" ||
			last.Team.UUID != sid || last.Team.Members != 1 {
			t.Fatalf("the deleted user's membership change %+v", last)
		}
		a.v1tDo("PUT", "/teams/"+gid+"/members/"+ann["uuid"].(string), nil).must(t, 200)
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		c := a.v1tContact(t, map[string]any{"identifier": "331100000001", "source": "whatsapp", "name": "Jo", "team_uuid": gid})
		wantJSON(t, "delete", a.v1tDo("DELETE", "/teams/"+gid, nil).must(t, 200).Map(t), map[string]any{"status": "team was destroyed"})
		a.v1tDo("GET", "/teams/"+gid, nil).wantError(t, 404, "not_found", "")
		if ids, _ := a.v1tList(t, "?team_uuid="+sid); len(ids) != 0 {
			t.Fatalf("contacts of Care %v", ids)
		}
		updates := a.agEvents(t, herald.EventContactUpdated)
		if last := updates[len(updates)-1].Contact; last.UUID != c["uuid"] || last.TeamUUID != "" || last.Team != nil {
			t.Fatalf("the contact of a deleted team: %+v", last)
		}
		// The last team may go, default or not.
		a.v1tDo("DELETE", "/teams/"+sid, nil).must(t, 200)
		if ts := arr(t, a.v1tDo("GET", "/teams", nil).must(t, 200).Map(t)["teams"]); len(ts) != 0 {
			t.Fatalf("teams left %v", ts)
		}
	})
}

func TestV1ContactTeamAndAssignee(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		// Before the app has users, any email is taken.
		free := a.v1tContact(t, map[string]any{"identifier": "331100000001", "source": "whatsapp", "name": "Free",
			"assigned_user": "someone@example.com"})
		if free["assignedUser"] != "someone@example.com" {
			t.Fatalf("assignee without users: %v", free)
		}

		team := a.agTeam(t, map[string]any{"name": "Support"})
		tid := team["uuid"].(string)
		a.v1tDo("POST", "/contacts", map[string]any{"identifier": "331100000002", "source": "whatsapp", "name": "Jo",
			"team_uuid": v1tUUID32()}).wantError(t, 422, "invalid_property", "team_uuid")
		a.v1tDo("POST", "/contacts", map[string]any{"identifier": "331100000002", "source": "whatsapp", "name": "Jo",
			"team_uuid": "nope"}).wantError(t, 422, "invalid_property", "team_uuid")
		jo := a.v1tContact(t, map[string]any{"identifier": "331100000002", "source": "whatsapp", "name": "Jo", "team_uuid": v1tDashed(t, tid)})
		joID := jo["uuid"].(string)
		created := a.agEvents(t, herald.EventContactCreated)
		if c := created[len(created)-1].Contact; c.UUID != joID || c.TeamUUID != tid || c.Team == nil || c.Team.Name != "Support" {
			t.Fatalf("contact.created carries %+v", c)
		}
		// The events of the contact's messages carry its team too.
		a.openWindow(t, joID)
		a.cbSendText(t, "331100000002", "Hello Jo")
		sent := a.agEvents(t, herald.EventMessageSent)
		if c := sent[len(sent)-1].Contact; c == nil || c.UUID != joID || c.Team == nil || c.Team.UUID != tid {
			t.Fatalf("message.sent carries the contact %+v", c)
		}
		if ids, _ := a.v1tList(t, "?team_uuid="+tid); len(ids) != 1 || ids[0] != joID {
			t.Fatalf("contacts of the team %v", ids)
		}
		a.v1tDo("GET", "/contacts?team_uuid="+v1tUUID32(), nil).wantError(t, 422, "invalid_property", "team_uuid")

		// A renamed team shows in the next snapshot of its contacts.
		a.v1tDo("PATCH", "/teams/"+tid, map[string]any{"name": "Care"}).must(t, 200)
		a.v1tDo("PATCH", "/contacts/"+joID, map[string]any{"name": "Joanna"}).must(t, 200)
		updated := a.agEvents(t, herald.EventContactUpdated)
		if c := updated[len(updated)-1].Contact; c.Team == nil || c.Team.Name != "Care" || c.Name != "Joanna" {
			t.Fatalf("contact.updated carries %+v", c)
		}
		a.v1tDo("PATCH", "/contacts/"+joID, map[string]any{"team_uuid": v1tUUID32()}).wantError(t, 422, "invalid_property", "team_uuid")
		a.v1tDo("PATCH", "/contacts/"+joID, map[string]any{"team_uuid": ""}).must(t, 200)
		updated = a.agEvents(t, herald.EventContactUpdated)
		if c := updated[len(updated)-1].Contact; c.TeamUUID != "" || c.Team != nil {
			t.Fatalf("contact taken out of its team: %+v", c)
		}

		// Once the app has users, assigned_user is one's email, stored as
		// the user spells it.
		ann := a.agUser(t, "Ann@example.com", "Ann")
		a.v1tDo("PATCH", "/contacts/"+joID, map[string]any{"assigned_user": "someone@example.com"}).
			wantError(t, 422, "invalid_property", "assigned_user")
		a.v1tDo("POST", "/contacts", map[string]any{"identifier": "331100000003", "source": "whatsapp", "name": "Max",
			"assigned_user": "nobody@example.com"}).wantError(t, 422, "invalid_property", "assigned_user")
		got := obj(t, a.v1tDo("PATCH", "/contacts/"+joID, map[string]any{"assigned_user": "ann@EXAMPLE.com"}).must(t, 200).Map(t)["contact"])
		if got["assignedUser"] != "Ann@example.com" {
			t.Fatalf("assignee %v", got["assignedUser"])
		}
		// The user's new email follows them to their contacts; deleting
		// them unassigns their contacts.
		a.v1tDo("PATCH", "/users/"+ann["uuid"].(string), map[string]any{"email": "ann@example.org"}).must(t, 200)
		if c := a.v1tGetContact(t, joID); c["assignedUser"] != "ann@example.org" {
			t.Fatalf("assignee after the email change %v", c["assignedUser"])
		}
		a.v1tDo("DELETE", "/users/"+ann["uuid"].(string), nil).must(t, 200)
		if c := a.v1tGetContact(t, joID); c["assignedUser"] != nil {
			t.Fatalf("assignee after the user's deletion %v", c["assignedUser"])
		}
		if c := a.v1tGetContact(t, free["uuid"].(string)); c["assignedUser"] != "someone@example.com" {
			t.Fatalf("another contact's assignee %v", c["assignedUser"])
		}
	})
}

func TestV1AuthMeAndPlan(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		me := a.v1tDo("GET", "/auth/me", nil).must(t, 200).Map(t)
		wantKeys(t, "me", me, "status", "user_email", "user_name", "api_key", "app_id", "token_name")
		if me["status"] != "ok" || me["user_email"] != nil || me["user_name"] != "test" || me["app_id"] != a.AppID ||
			len(me["api_key"].(string)) < 4 || a.Token[:len(me["api_key"].(string))] != me["api_key"] {
			t.Fatalf("auth/me %v", me)
		}
		a.doAs("", "GET", "//v1/auth/me", nil).wantError(t, 401, "authentication_required", "")
		a.doAs("bogus", "GET", "//v1/plan", nil).wantError(t, 401, "authentication_required", "")

		wantJSON(t, "empty plan", a.v1tDo("GET", "/plan", nil).must(t, 200).Map(t), map[string]any{"plan": "herald",
			"includedChannels": 0, "licenses": 0, "activeUsers": 0, "teams": []any{}})
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		a.agUser(t, "ann@example.com", "Ann")
		a.agUser(t, "bob@example.com", "Bob")
		team := a.agTeam(t, map[string]any{"name": "Support"})
		wantJSON(t, "plan", a.v1tDo("GET", "/plan", nil).must(t, 200).Map(t), map[string]any{"plan": "herald",
			"includedChannels": 1, "licenses": 2, "activeUsers": 2, "teams": []any{team}})
	})
}

// The three agent and team events reach a Callbell webhook subscribed to
// all ten of Callbell's events, in the documented payloads; the log's
// success is an answer of 200.
func TestV1AgentWebhookEvents(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		rc.script(func(h *hit) reply {
			// A 204 is delivered, but only a 200 is Callbell's success.
			if cbwEventName(h) == callbell.AgentSessionUpdated {
				return reply{Status: 204}
			}
			return reply{Status: 200}
		})
		all := []string{"message_created", "message_status_updated", "contact_created", "contact_updated", "contact_deleted",
			"conversation_opened", "conversation_closed", "agent_status_updated", "agent_session_updated", "team_membership_updated"}
		wh := obj(t, a.cbwSubscribe(t, 201, rc.URL, all...)["webhook"])
		wantJSON(t, "subscriptions", wh["subscriptions"], all)

		status := a.agStatus(t, "Vacationing", "🌴")
		ann := a.agUser(t, "ann@example.com", "Ann")
		uid := ann["uuid"].(string)
		team := a.agTeam(t, map[string]any{"name": "Support"})
		a.v1tDo("PUT", "/users/"+uid+"/status", map[string]any{"available": false, "custom_status_uuid": status["id"]}).must(t, 200)
		a.v1tDo("POST", "/users/"+uid+"/session", map[string]any{"action": "user_logged_out"}).must(t, 200)
		a.v1tDo("PUT", "/teams/"+team["uuid"].(string)+"/members/"+uid, nil).must(t, 200)
		a.v1tDo("DELETE", "/teams/"+team["uuid"].(string)+"/members/"+uid, nil).must(t, 200)

		hits := rc.waitAccepted(t, 4)
		rc.quiet(t, 4, 300*time.Millisecond)
		// Agents' events have no order among themselves: each goes as soon
		// as it can. They are taken by name, and by reason.
		slices.SortFunc(hits, func(x, y *hit) int {
			return strings.Compare(cbwEventName(x)+string(x.Body), cbwEventName(y)+string(y.Body))
		})
		wantJSON(t, "events", cbwEventNames(hits), []string{"agent_session_updated", "agent_status_updated",
			"team_membership_updated", "team_membership_updated"})
		hits[0], hits[1] = hits[1], hits[0]

		user := obj(t, a.v1tDo("GET", "/users/"+uid, nil).must(t, 200).Map(t)["user"])
		member := map[string]any{"email": "ann@example.com", "name": "Ann", "available": false, "lastUpdatedAt": user["lastUpdatedAt"],
			"userCustomStatus": map[string]any{"updatedAt": obj(t, user["userCustomStatus"])["updatedAt"], "id": status["id"],
				"name": "Vacationing", "emoji": "🌴"}}
		v1tTime(t, "userCustomStatus.updatedAt", obj(t, member["userCustomStatus"])["updatedAt"])
		wantJSON(t, "agent_status_updated", hits[0].payload(t), map[string]any{"event": "agent_status_updated", "payload": member})
		wantJSON(t, "agent_session_updated", hits[1].payload(t), map[string]any{"event": "agent_session_updated",
			"payload": map[string]any{"action": "user_logged_out", "user": member}})
		for i, tc := range []struct {
			reason  string
			members int
		}{{"agent_removed", 0}, {"agent_added", 1}} {
			// Sorted by body, the team with no member comes first.
			p := obj(t, hits[2+i].payload(t)["payload"])
			v1tTime(t, "lastUpdateAt", p["lastUpdateAt"])
			wantJSON(t, "team_membership_updated", p, map[string]any{"team": withKey(team, "members", tc.members), "user": member,
				"reason": tc.reason, "lastUpdateAt": p["lastUpdateAt"]})
		}

		log, _ := a.cbwLog(t, "")
		if len(log) != 4 {
			t.Fatalf("log %v", log)
		}
		for _, e := range log {
			code := obj(t, e["response"])["code"]
			if want := code == 200.0; e["success"] != want {
				t.Fatalf("log entry %s answered %v: success %v", e["event"], code, e["success"])
			}
		}
		if ok, _ := a.cbwLog(t, "?status=success"); len(ok) != 3 {
			t.Fatalf("%d successes, want 3", len(ok))
		}
		if failed, _ := a.cbwLog(t, "?status=failed"); len(failed) != 1 || failed[0]["event"] != "agent_session_updated" {
			t.Fatalf("failures %v", failed)
		}
	})
}
