package messaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/messaging"
)

// userTest is a Service on a real store, with one app and a clock the test
// moves.
type userTest struct {
	*testing.T
	s   *messaging.Service
	app string
	now time.Time
	ctx context.Context
}

// forEachStore runs f once on SQLite and once on PostgreSQL.
func forEachStore(t *testing.T, f func(u *userTest)) {
	for _, e := range enginetest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			store := e.Open(t)
			t.Cleanup(func() { store.Close() })
			u := &userTest{T: t, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ctx: context.Background()}
			u.s = &messaging.Service{Store: store, Now: func() time.Time { return u.now }}
			app, _, err := u.s.CreateApp(u.ctx, "users")
			if err != nil {
				t.Fatal(err)
			}
			u.app = app.ID
			f(u)
		})
	}
}

func (u *userTest) ok(err error) {
	u.Helper()
	if err != nil {
		u.Fatal(err)
	}
}

// refused checks that err is an *Error of that id naming that property.
func (u *userTest) refused(err error, id herald.ErrorID, property string) *herald.Error {
	u.Helper()
	e, ok := herald.AsError(err)
	if !ok || e.ID != id {
		u.Fatalf("err = %v, want %s", err, id)
	}
	if property != "" && e.Data["property"] != property {
		u.Fatalf("err = %v names %v, want %q", err, e.Data["property"], property)
	}
	return e
}

func (u *userTest) patch(user, ops string) error {
	var list []messaging.UserOperation
	if err := json.Unmarshal([]byte(ops), &list); err != nil {
		u.Fatal(err)
	}
	return u.s.PatchUser(u.ctx, u.app, user, list)
}

func (u *userTest) blocks(owner string) []string {
	u.Helper()
	ids, _, err := u.s.Blocks(u.ctx, u.app, owner)
	u.ok(err)
	return ids
}

// eventsSince returns the types and data of the app's events after the
// first skip.
func (u *userTest) events(skip int) []*herald.Event {
	u.Helper()
	es, err := u.s.Events(u.ctx, u.app, "", 1000)
	u.ok(err)
	return es[skip:]
}

func (u *userTest) eventCount() int { return len(u.events(0)) }

func data(t *testing.T, e *herald.Event) *herald.EventData {
	d, err := e.DecodeData()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s: got %s, want %s", what, g, w)
	}
}

// The Layer-Patch forms of block lists, in 1.x (value) and 2.0 (id) form,
// applied in order, all or none, with one event for what was blocked and
// one for what was unblocked in all.
func TestPatchUserBlocks(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		n := u.eventCount()
		u.ok(u.patch("ann", `[{"operation": "add", "property": "blocks", "value": "bob"},
			{"operation": "add", "property": "blocks", "id": "layer:///identities/cy"},
			{"operation": "add", "property": "blocks", "id": "dee"},
			{"operation": "remove", "property": "blocks", "value": "dee"}]`))
		same(u.T, "blocks", u.blocks("ann"), []string{"bob", "cy"})
		es := u.events(n)
		if len(es) != 1 || es[0].Type != herald.EventUserBlocked {
			u.Fatalf("events: %+v", es)
		}
		same(u.T, "blocked", data(u.T, es[0]), &herald.EventData{UserID: "ann", Added: []string{"bob", "cy"}})

		// set replaces the list; who stays blocked is in no event.
		n = u.eventCount()
		u.ok(u.patch("ann", `[{"operation": "set", "property": "blocks", "value": ["cy", "eve"]}]`))
		same(u.T, "after set", u.blocks("ann"), []string{"cy", "eve"})
		es = u.events(n)
		if len(es) != 2 {
			u.Fatalf("events: %d", len(es))
		}
		same(u.T, "set events", []any{es[0].Type, data(u.T, es[0]).Added, es[1].Type, data(u.T, es[1]).Removed},
			[]any{herald.EventUserBlocked, []string{"eve"}, herald.EventUserUnblocked, []string{"bob"}})

		// 2.0's way to replace it: empty it, then add.
		u.ok(u.patch("ann", `[{"operation": "set", "property": "blocks", "value": []},
			{"operation": "add", "property": "blocks", "id": "layer:///identities/eve"}]`))
		same(u.T, "after emptying and adding", u.blocks("ann"), []string{"eve"})

		// A patch that changes nothing records nothing.
		n = u.eventCount()
		u.ok(u.patch("ann", `[{"operation": "add", "property": "blocks", "value": "eve"},
			{"operation": "remove", "property": "blocks", "value": "zed"}]`))
		if got := u.eventCount(); got != n {
			u.Fatalf("a patch that changed nothing recorded %d events", got-n)
		}

		// A refused operation anywhere leaves the list as it was.
		for _, c := range []struct {
			ops      string
			id       herald.ErrorID
			property string
		}{
			{`[{"operation": "add", "property": "blocks", "value": "fay"}, {"operation": "add", "property": "blocks"}]`, herald.EMissingProperty, "operations[1].value"},
			{`[{"operation": "add", "property": "blocks", "value": "fay"}, {"operation": "add", "property": "blocks", "value": 7}]`, herald.EInvalidProperty, "operations[1].value"},
			{`[{"operation": "add", "property": "blocks", "value": "fay"}, {"operation": "add", "property": "blocks", "value": "ann"}]`, herald.EInvalidProperty, "operations[1]"},
			{`[{"operation": "move", "property": "blocks", "value": "fay"}]`, herald.EInvalidProperty, "operations[0].operation"},
			{`[{"operation": "set", "property": "blocks", "value": "fay"}]`, herald.EInvalidProperty, "operations[0].value"},
			{`[{"operation": "set", "property": "nickname", "value": "fay"}]`, herald.EInvalidProperty, "operations[0].property"},
			{`[{"operation": "add", "value": "fay"}]`, herald.EMissingProperty, "operations[0].property"},
			{`[{"operation": "add", "property": "blocks", "id": "layer:///conversations/x"}]`, herald.EInvalidProperty, "operations[0].id"},
			{`[{"operation": "remove", "property": "blocks", "id": "layer:///identities/eve", "value": "eve"}]`, herald.EInvalidProperty, "operations[0].id"},
			{`[{"operation": "add", "property": "suspended", "value": true}]`, herald.EInvalidProperty, "operations[0].operation"},
			{`[{"operation": "set", "property": "suspended", "value": "yes"}]`, herald.EInvalidProperty, "operations[0].value"},
			{`[]`, herald.EInvalidRequest, ""},
		} {
			u.refused(u.patch("ann", c.ops), c.id, c.property)
			same(u.T, "after "+c.ops, u.blocks("ann"), []string{"eve"})
		}
		if got := u.eventCount(); got != n {
			u.Fatalf("refused patches recorded %d events", got-n)
		}
	})
}

// A block list holds at most MaxBlocks users: a patch that would take it
// past that is refused whole, with the limit.
func TestBlockListLimit(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		ids := make([]string, messaging.MaxBlocks)
		for i := range ids {
			ids[i] = fmt.Sprintf("user-%05d", i)
		}
		set, _ := json.Marshal(ids)
		u.ok(u.s.PatchUser(u.ctx, u.app, "ann", []messaging.UserOperation{{Operation: "set", Property: "blocks", Value: set}}))
		if got := u.blocks("ann"); len(got) != messaging.MaxBlocks || got[0] != ids[0] {
			u.Fatalf("%d blocks", len(got))
		}
		e := u.refused(u.s.Block(u.ctx, u.app, "ann", "one-more"), herald.EQuotaExceeded, "blocks")
		if e.Data["limit"] != messaging.MaxBlocks || e.Status() != 422 {
			u.Fatalf("refusal: %+v, status %d", e.Data, e.Status())
		}
		// Replacing one keeps it at the limit; the one blocked last is
		// listed last.
		u.now = u.now.Add(time.Second)
		u.ok(u.patch("ann", `[{"operation": "remove", "property": "blocks", "value": "user-00000"},
			{"operation": "add", "property": "blocks", "value": "one-more"}]`))
		if got := u.blocks("ann"); len(got) != messaging.MaxBlocks || got[len(got)-1] != "one-more" {
			u.Fatalf("after replacing one: %d, last %q", len(got), got[len(got)-1])
		}
		over, _ := json.Marshal(append(ids, "x"))
		u.refused(u.s.PatchUser(u.ctx, u.app, "bob", []messaging.UserOperation{{Operation: "set", Property: "blocks", Value: over}}),
			herald.EQuotaExceeded, "operations[0].value")
	})
}

// The 1.x forms: Block without a user is Layer's missing_property
// user_id; Unblock of a user not blocked succeeds.
func TestBlockAndUnblock(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		u.refused(u.s.Block(u.ctx, u.app, "ann", ""), herald.EMissingProperty, "user_id")
		u.ok(u.s.Block(u.ctx, u.app, "ann", "bob"))
		u.ok(u.s.Block(u.ctx, u.app, "ann", "bob"))
		u.ok(u.s.Block(u.ctx, u.app, "ann", "cy"))
		same(u.T, "blocks", u.blocks("ann"), []string{"bob", "cy"})
		u.ok(u.s.Unblock(u.ctx, u.app, "ann", "bob"))
		u.ok(u.s.Unblock(u.ctx, u.app, "ann", "nobody"))
		same(u.T, "after unblocking", u.blocks("ann"), []string{"cy"})
		// The owner is a user Herald knows from then on.
		v, err := u.s.User(u.ctx, u.app, "ann")
		u.ok(err)
		if v.UserID != "ann" || v.Suspended || v.Identity != nil {
			u.Fatalf("user: %+v", v)
		}
	})
}

func (u *userTest) send(conv, sender, text string) *herald.Message {
	u.Helper()
	body := text
	m, _, err := u.s.SendMessage(u.ctx, u.app, conv, messaging.MessageInput{Sender: herald.Sender{UserID: sender},
		Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}, "")
	u.ok(err)
	return m
}

// seen returns the texts of a conversation's messages as user sees them,
// oldest first, and checks that each one alone is visible to them too.
func (u *userTest) seen(conv, user string) []string {
	u.Helper()
	ms, err := u.s.Messages(u.ctx, u.app, conv, user, herald.Page{Limit: 100})
	u.ok(err)
	var out []string
	for _, m := range slices.Backward(ms) {
		out = append(out, m.Parts[0].Body)
	}
	return out
}

// Messages between a blocker and the user they block are hidden from both,
// from the block on, wherever they talk; the others see everything, and
// the sender's recipient status keeps the user who does not see it.
func TestBlocksHideMessages(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		c, _, err := u.s.CreateConversation(u.ctx, u.app, nil, messaging.ConversationInput{Participants: []string{"ann", "bob", "cy"}})
		u.ok(err)
		u.send(c.ID, "bob", "before")
		u.ok(u.s.Block(u.ctx, u.app, "ann", "bob"))
		fromBob := u.send(c.ID, "bob", "bob after")
		u.send(c.ID, "ann", "ann after")
		u.send(c.ID, "cy", "cy after")
		same(u.T, "ann sees", u.seen(c.ID, "ann"), []string{"before", "ann after", "cy after"})
		same(u.T, "bob sees", u.seen(c.ID, "bob"), []string{"before", "bob after", "cy after"})
		same(u.T, "cy sees", u.seen(c.ID, "cy"), []string{"before", "bob after", "ann after", "cy after"})
		same(u.T, "the app sees", u.seen(c.ID, ""), []string{"before", "bob after", "ann after", "cy after"})
		if fromBob.RecipientStatus["ann"] != herald.StatusSent {
			u.Fatalf("recipient status: %v", fromBob.RecipientStatus)
		}
		_, err = u.s.Message(u.ctx, u.app, "", "ann", fromBob.ID)
		u.refused(err, herald.ENotFound, "")
		u.refused(u.s.PostReceipt(u.ctx, u.app, "ann", fromBob.ID, messaging.ReceiptRead), herald.ENotFound, "")

		// Unblocking shows what comes next, not what was hidden.
		u.ok(u.s.Unblock(u.ctx, u.app, "ann", "bob"))
		u.send(c.ID, "bob", "bob unblocked")
		same(u.T, "ann sees after unblocking", u.seen(c.ID, "ann"), []string{"before", "ann after", "cy after", "bob unblocked"})
	})
}

// A user may not start or join a conversation with someone they block
// (participant_blocked, 422, code 110); the app may, and the user they
// block may.
func TestParticipantBlocked(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		u.ok(u.s.Block(u.ctx, u.app, "ann", "bob"))
		ann := &herald.Actor{UserID: "ann"}
		_, _, err := u.s.CreateConversation(u.ctx, u.app, ann, messaging.ConversationInput{Participants: []string{"ann", "cy", "bob"}})
		e := u.refused(err, herald.EParticipantBlocked, "participants")
		if e.Code() != 110 || e.Status() != 422 {
			u.Fatalf("code %d, status %d", e.Code(), e.Status())
		}
		same(u.T, "blocked", e.Data["blocked"], []string{"bob"})
		_, _, err = u.s.CreateConversation(u.ctx, u.app, &herald.Actor{UserID: "bob"}, messaging.ConversationInput{Participants: []string{"ann", "bob"}})
		u.ok(err)
		c, _, err := u.s.CreateConversation(u.ctx, u.app, ann, messaging.ConversationInput{Participants: []string{"ann", "cy"}})
		u.ok(err)
		add := []messaging.PatchOperation{{Operation: "add", Property: "participants", Value: json.RawMessage(`"bob"`)}}
		_, err = u.s.UpdateConversation(u.ctx, u.app, c.ID, ann, add)
		u.refused(err, herald.EParticipantBlocked, "participants")
		got, err := u.s.Conversation(u.ctx, u.app, c.ID)
		u.ok(err)
		same(u.T, "participants", got.Participants, []string{"ann", "cy"})
		_, err = u.s.UpdateConversation(u.ctx, u.app, c.ID, nil, add)
		u.ok(err)
	})
}

// Suspension: set through the patch, shown on the user, recorded when it
// changes, and voiding the sessions issued before it; sessions issued once
// the user is unsuspended are valid.
func TestSuspension(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		_, err := u.s.User(u.ctx, u.app, "ann")
		u.refused(err, herald.ENotFound, "")
		name := "Ann"
		_, _, err = u.s.PutIdentity(u.ctx, u.app, "ann", messaging.IdentityInput{DisplayName: &name}, messaging.IdentityCreate)
		u.ok(err)
		v, err := u.s.User(u.ctx, u.app, "ann")
		u.ok(err)
		if v.Suspended || v.Identity == nil || v.Identity.DisplayName != "Ann" {
			u.Fatalf("user: %+v", v)
		}
		issued := u.now
		u.now = u.now.Add(time.Minute)
		u.ok(u.s.CheckSession(u.ctx, u.app, "ann", issued))

		n := u.eventCount()
		u.ok(u.patch("ann", `[{"operation": "set", "property": "suspended", "value": true}]`))
		u.ok(u.patch("ann", `[{"operation": "set", "property": "suspended", "value": true}]`))
		v, err = u.s.User(u.ctx, u.app, "ann")
		u.ok(err)
		if !v.Suspended {
			u.Fatal("not suspended")
		}
		es := u.events(n)
		if len(es) != 1 || es[0].Type != herald.EventUserSuspended || !data(u.T, es[0]).User.Suspended {
			u.Fatalf("events: %+v", es)
		}
		e := u.refused(u.s.CheckSession(u.ctx, u.app, "ann", u.now), herald.EUserSuspended, "")
		if e.Code() != 6 || e.Status() != 403 {
			u.Fatalf("code %d, status %d", e.Code(), e.Status())
		}

		u.now = u.now.Add(time.Minute)
		u.ok(u.patch("ann", `[{"operation": "set", "property": "suspended", "value": false}]`))
		if es := u.events(n + 1); len(es) != 1 || es[0].Type != herald.EventUserUnsuspended {
			u.Fatalf("events: %+v", es)
		}
		u.refused(u.s.CheckSession(u.ctx, u.app, "ann", issued), herald.EAuthRequired, "")
		u.ok(u.s.CheckSession(u.ctx, u.app, "ann", u.now))
	})
}

// Deleting a user's sessions voids those issued until then; a user Herald
// knows nothing of is not_found, one in a conversation is known.
func TestRevokeSessions(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		u.refused(u.s.RevokeSessions(u.ctx, u.app, "ann"), herald.ENotFound, "")
		_, _, err := u.s.CreateConversation(u.ctx, u.app, nil, messaging.ConversationInput{Participants: []string{"ann", "bob"}})
		u.ok(err)
		issued := u.now
		u.now = u.now.Add(time.Second)
		n := u.eventCount()
		u.ok(u.s.RevokeSessions(u.ctx, u.app, "ann"))
		es := u.events(n)
		if len(es) != 1 || es[0].Type != herald.EventUserSessionsRevoked || !data(u.T, es[0]).User.SessionsRevokedAt.Equal(u.now) {
			u.Fatalf("events: %+v", es)
		}
		u.refused(u.s.CheckSession(u.ctx, u.app, "ann", issued), herald.EAuthRequired, "")
		u.ok(u.s.CheckSession(u.ctx, u.app, "ann", u.now.Add(time.Millisecond)))
		u.ok(u.s.CheckSession(u.ctx, u.app, "bob", issued))
	})
}

// An app's session TTL: set within Layer's bounds, recorded when it
// changes, and ending the sessions older than it.
func TestSessionTTL(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		ttl, err := u.s.SessionTTL(u.ctx, u.app)
		u.ok(err)
		if ttl != messaging.DefaultSessionTTL {
			u.Fatalf("default TTL %v", ttl)
		}
		set := func(v string) error {
			return u.s.PatchApp(u.ctx, u.app, []messaging.UserOperation{{Operation: "set", Property: "session_ttl_in_seconds", Value: json.RawMessage(v)}})
		}
		for _, bad := range []string{`29`, `31536001`, `"3600"`, `36.5`, `null`} {
			e := u.refused(set(bad), herald.EInvalidProperty, "operations[0].value")
			if bad == `29` && (e.Data["min"] != int64(30) || e.Data["max"] != int64(31536000)) {
				u.Fatalf("bounds: %+v", e.Data)
			}
		}
		u.refused(u.s.PatchApp(u.ctx, u.app, []messaging.UserOperation{{Operation: "set", Property: "name", Value: json.RawMessage(`"x"`)}}),
			herald.EInvalidProperty, "operations[0].property")
		u.refused(u.s.PatchApp(u.ctx, "no-such-app", []messaging.UserOperation{{Operation: "set", Property: "session_ttl_in_seconds", Value: json.RawMessage(`60`)}}),
			herald.ENotFound, "")
		n := u.eventCount()
		u.ok(set(`3600`))
		u.ok(set(`3600`))
		es := u.events(n)
		if len(es) != 1 || es[0].Type != herald.EventAppSessionTTLUpdated || data(u.T, es[0]).SessionTTL != 3600 {
			u.Fatalf("events: %+v", es)
		}
		ttl, err = u.s.SessionTTL(u.ctx, u.app)
		u.ok(err)
		if ttl != time.Hour {
			u.Fatalf("TTL %v", ttl)
		}
		u.ok(u.s.CheckSession(u.ctx, u.app, "ann", u.now.Add(-time.Hour+time.Second)))
		u.refused(u.s.CheckSession(u.ctx, u.app, "ann", u.now.Add(-time.Hour)), herald.EAuthRequired, "")
	})
}

// Follows: one at a time or in a batch, checked, listed latest first in
// pages, unfollowed, each change recorded once.
func TestFollows(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		n := u.eventCount()
		u.ok(u.s.Follow(u.ctx, u.app, "ann", "bob"))
		u.ok(u.s.Follow(u.ctx, u.app, "ann", "layer:///identities/bob"))
		u.now = u.now.Add(time.Second)
		u.ok(u.s.FollowMany(u.ctx, u.app, "ann", []string{"layer:///identities/cy", "dee", "bob", "cy"}))
		es := u.events(n)
		if len(es) != 2 {
			u.Fatalf("%d events", len(es))
		}
		same(u.T, "events", []any{es[0].Type, data(u.T, es[0]).Added, es[1].Type, data(u.T, es[1]).Added},
			[]any{herald.EventUserFollowed, []string{"bob"}, herald.EventUserFollowed, []string{"cy", "dee"}})
		u.ok(u.s.IsFollowing(u.ctx, u.app, "ann", "layer:///identities/cy"))
		u.refused(u.s.IsFollowing(u.ctx, u.app, "cy", "ann"), herald.ENotFound, "")

		name := "Dee"
		_, _, err := u.s.PutIdentity(u.ctx, u.app, "dee", messaging.IdentityInput{DisplayName: &name}, messaging.IdentityCreate)
		u.ok(err)
		ids, identities, err := u.s.Following(u.ctx, u.app, "ann", "", 0)
		u.ok(err)
		same(u.T, "following", ids, []string{"dee", "cy", "bob"})
		if len(identities) != 1 || identities["dee"].DisplayName != "Dee" {
			u.Fatalf("identities: %v", identities)
		}
		ids, _, err = u.s.Following(u.ctx, u.app, "ann", "layer:///identities/dee", 1)
		u.ok(err)
		same(u.T, "page after dee", ids, []string{"cy"})
		_, _, err = u.s.Following(u.ctx, u.app, "ann", "zed", 0)
		u.refused(err, herald.EInvalidProperty, "from_id")
		_, _, err = u.s.Following(u.ctx, u.app, "ann", "", messaging.MaxFollowingPageSize+1)
		u.refused(err, herald.EInvalidProperty, "page_size")

		u.refused(u.s.Follow(u.ctx, u.app, "ann", "ann"), herald.EInvalidProperty, "followed_user_id")
		u.refused(u.s.FollowMany(u.ctx, u.app, "ann", []string{"eve", "ann"}), herald.EInvalidProperty, "[1]")
		u.refused(u.s.FollowMany(u.ctx, u.app, "ann", []string{"eve", "layer:///messages/x"}), herald.EInvalidProperty, "[1]")
		u.refused(u.s.IsFollowing(u.ctx, u.app, "ann", "eve"), herald.ENotFound, "")

		n = u.eventCount()
		u.ok(u.s.Unfollow(u.ctx, u.app, "ann", "cy"))
		u.ok(u.s.Unfollow(u.ctx, u.app, "ann", "cy"))
		es = u.events(n)
		if len(es) != 1 || es[0].Type != herald.EventUserUnfollowed || data(u.T, es[0]).Removed[0] != "cy" {
			u.Fatalf("events: %+v", es)
		}
		ids, _, err = u.s.Following(u.ctx, u.app, "ann", "", 0)
		u.ok(err)
		same(u.T, "after unfollowing", ids, []string{"dee", "bob"})
	})
}

// A user follows at most MaxFollows users: a batch that would take them
// past it is refused whole.
func TestFollowLimit(t *testing.T) {
	forEachStore(t, func(u *userTest) {
		ids := make([]string, messaging.MaxFollows-1)
		for i := range ids {
			ids[i] = fmt.Sprintf("user-%05d", i)
		}
		u.ok(u.s.FollowMany(u.ctx, u.app, "ann", ids))
		u.refused(u.s.FollowMany(u.ctx, u.app, "ann", []string{"x", "y"}), herald.EQuotaExceeded, "following")
		u.refused(u.s.IsFollowing(u.ctx, u.app, "ann", "x"), herald.ENotFound, "")
		u.ok(u.s.Follow(u.ctx, u.app, "ann", "x"))
		u.refused(u.s.Follow(u.ctx, u.app, "ann", "y"), herald.EQuotaExceeded, "following")
		u.refused(u.s.FollowMany(u.ctx, u.app, "bob", append(ids, "x", "y")), herald.EQuotaExceeded, "")
	})
}
