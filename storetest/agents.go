package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// Agents, teams and custom statuses round-trip; an agent's email is unique
// in its app regardless of case; agents come with their custom status and
// teams with their number of members; deletions take memberships along;
// contacts keep their team, filter by it, and read it back as it is now.
func testAgentsTeamsStatuses(t *testing.T, s herald.Store) {
	lunch := &herald.CustomStatus{UUID: "cs-1", AppID: "app", Name: "Lunch", Emoji: "🍙", CreatedAt: at(0), UpdatedAt: at(0)}
	statusAt := at(2)
	ann := &herald.Agent{UUID: "ag-1", AppID: "app", Email: "Ann@example.com", Name: "Ann", Role: "admin", Available: true,
		AvailableUpdatedAt: at(1), CustomStatusUUID: "cs-1", CustomStatusUpdatedAt: &statusAt, Session: "user_logged_in",
		CreatedAt: at(1), UpdatedAt: at(2)}
	bob := &herald.Agent{UUID: "ag-2", AppID: "app", Email: "bob@example.com", Name: "Bob", Role: "agent",
		AvailableUpdatedAt: at(3), CreatedAt: at(3), UpdatedAt: at(3)}
	support := &herald.Team{UUID: "tm-1", AppID: "app", Name: "Support", Default: true, CreatedAt: at(0)}
	sales := &herald.Team{UUID: "tm-2", AppID: "app", Name: "Sales", CreatedAt: at(1)}
	cust := newContact("u1", channelA, "+390001", at(0))
	cust.TeamUUID = "tm-1"
	other := newContact("u2", channelA, "+390002", at(1))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		for _, err := range []error{tx.CreateCustomStatus(ctx, lunch), tx.CreateAgent(ctx, ann), tx.CreateAgent(ctx, bob),
			tx.CreateTeam(ctx, support), tx.CreateTeam(ctx, sales), tx.CreateContact(ctx, cust), tx.CreateContact(ctx, other)} {
			if err != nil {
				return err
			}
		}
		for _, m := range [][2]string{{"tm-1", "ag-1"}, {"tm-1", "ag-2"}, {"tm-2", "ag-2"}} {
			if added, err := tx.AddTeamMember(ctx, "app", m[0], m[1], at(4)); err != nil || !added {
				t.Fatalf("add %v: %v, %v", m, added, err)
			}
		}
		if added, err := tx.AddTeamMember(ctx, "app", "tm-1", "ag-1", at(5)); err != nil || added {
			t.Fatalf("adding a member again: %v, %v", added, err)
		}
		return nil
	})

	// A second agent with Ann's email in another case is a conflict
	// naming email, and the update goes on.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		second := &herald.Team{UUID: "tm-3", AppID: "app", Name: "Second default", Default: true, CreatedAt: at(2)}
		if e, ok := herald.AsError(tx.CreateTeam(ctx, second)); !ok || e.ID != herald.EConflict || e.Data["property"] != "default" {
			t.Fatalf("a second default team: %#v", e)
		}
		sales.Default = true
		if e, ok := herald.AsError(tx.UpdateTeam(ctx, sales)); !ok || e.ID != herald.EConflict {
			t.Fatalf("a second default team by update: %#v", e)
		}
		sales.Default = false
		dup := *bob
		dup.UUID, dup.Email = "ag-3", "ANN@example.com"
		e, ok := herald.AsError(tx.CreateAgent(ctx, &dup))
		if !ok || e.ID != herald.EConflict || e.Data["property"] != "email" {
			t.Fatalf("duplicate email: %#v", e)
		}
		dup.UUID, dup.Email = "ag-2", "ann@EXAMPLE.com"
		if e, ok := herald.AsError(tx.UpdateAgent(ctx, &dup)); !ok || e.ID != herald.EConflict {
			t.Fatalf("update to a taken email: %#v", e)
		}
		return nil
	})

	view(t, s, func(ctx context.Context, q herald.Queries) error {
		a, err := q.AgentByEmail(ctx, "app", "ann@EXAMPLE.COM")
		if err != nil {
			return err
		}
		if a.UUID != "ag-1" || a.Email != "Ann@example.com" || !a.Available || a.Role != "admin" || a.Session != "user_logged_in" ||
			!a.AvailableUpdatedAt.Equal(at(1)) || a.CustomStatusUpdatedAt == nil || !a.CustomStatusUpdatedAt.Equal(statusAt) ||
			a.CustomStatus == nil || a.CustomStatus.Name != "Lunch" || a.CustomStatus.Emoji != "🍙" {
			t.Fatalf("ann %+v, status %+v", a, a.CustomStatus)
		}
		if _, err := q.Agent(ctx, "other-app", "ag-1"); !herald.IsNotFound(err) {
			t.Fatalf("agent of another app: %v", err)
		}
		yes := true
		for _, c := range []struct {
			f     herald.AgentFilter
			limit int
			want  []string
			total int
		}{
			{herald.AgentFilter{}, -1, []string{"ag-1", "ag-2"}, 2},
			{herald.AgentFilter{}, 1, []string{"ag-1"}, 2},
			{herald.AgentFilter{TeamUUID: "tm-2"}, -1, []string{"ag-2"}, 1},
			{herald.AgentFilter{TeamUUID: "tm-1", Available: &yes}, -1, []string{"ag-1"}, 1},
			{herald.AgentFilter{CustomStatusUUID: "cs-1"}, -1, []string{"ag-1"}, 1},
		} {
			as, total, err := q.Agents(ctx, "app", c.f, 0, c.limit)
			if err != nil {
				return err
			}
			var got []string
			for _, a := range as {
				got = append(got, a.UUID)
			}
			if total != c.total || len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
				t.Fatalf("agents %+v: %v of %d, want %v of %d", c.f, got, total, c.want, c.total)
			}
		}
		teams, err := q.Teams(ctx, "app")
		if err != nil {
			return err
		}
		if len(teams) != 2 || teams[0].UUID != "tm-1" || teams[0].Members != 2 || !teams[0].Default || teams[1].Members != 1 || teams[1].Default {
			t.Fatalf("teams %+v %+v", teams[0], teams[1])
		}
		if ids, err := q.AgentTeams(ctx, "app", "ag-2"); err != nil || len(ids) != 2 || ids[0] != "tm-1" {
			t.Fatalf("bob's teams %v, %v", ids, err)
		}
		c, err := q.Contact(ctx, "app", "u1")
		if err != nil {
			return err
		}
		if c.TeamUUID != "tm-1" || c.Team == nil || c.Team.Name != "Support" || c.Team.Members != 2 {
			t.Fatalf("contact's team %q %+v", c.TeamUUID, c.Team)
		}
		cs, total, err := q.Contacts(ctx, "app", herald.ContactFilter{TeamUUID: "tm-1"}, 0, 10)
		if err != nil || total != 1 || len(cs) != 1 || cs[0].UUID != "u1" || cs[0].Team == nil {
			t.Fatalf("contacts of the team: %v of %d, %v", cs, total, err)
		}
		return nil
	})

	// Renaming a team shows in its contacts; deleting an agent or a team
	// takes its memberships along.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		support.Name, support.Default = "Care", false
		if err := tx.UpdateTeam(ctx, support); err != nil {
			return err
		}
		if removed, err := tx.RemoveTeamMember(ctx, "app", "tm-2", "ag-2"); err != nil || !removed {
			t.Fatalf("remove: %v, %v", removed, err)
		}
		if removed, err := tx.RemoveTeamMember(ctx, "app", "tm-2", "ag-2"); err != nil || removed {
			t.Fatalf("remove again: %v, %v", removed, err)
		}
		lunch.Name, lunch.UpdatedAt = "Long lunch", at(9)
		if err := tx.UpdateCustomStatus(ctx, lunch); err != nil {
			return err
		}
		other.TeamUUID = "tm-2"
		if err := tx.UpdateContact(ctx, other); err != nil {
			return err
		}
		if err := tx.DeleteAgent(ctx, "app", "ag-1"); err != nil {
			return err
		}
		return tx.DeleteTeam(ctx, "app", "tm-2")
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		c, err := q.Contact(ctx, "app", "u1")
		if err != nil {
			return err
		}
		if c.Team == nil || c.Team.Name != "Care" || c.Team.Default || c.Team.Members != 1 {
			t.Fatalf("renamed team %+v", c.Team)
		}
		if c, err := q.Contact(ctx, "app", "u2"); err != nil || c.TeamUUID != "tm-2" || c.Team != nil {
			t.Fatalf("contact of a deleted team: %+v, %v", c, err)
		}
		if ids, err := q.AgentTeams(ctx, "app", "ag-2"); err != nil || len(ids) != 1 {
			t.Fatalf("bob's teams %v, %v", ids, err)
		}
		if cs, err := q.CustomStatus(ctx, "app", "cs-1"); err != nil || cs.Name != "Long lunch" || !cs.UpdatedAt.Equal(at(9)) {
			t.Fatalf("custom status %+v, %v", cs, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.DeleteCustomStatus(ctx, "app", "nope"); !herald.IsNotFound(err) {
			t.Fatalf("delete an unknown status: %v", err)
		}
		if err := tx.DeleteCustomStatus(ctx, "app", "cs-1"); err != nil {
			return err
		}
		all, err := tx.CustomStatuses(ctx, "app")
		if err != nil || len(all) != 0 {
			t.Fatalf("statuses after delete %v, %v", all, err)
		}
		return nil
	})
}
