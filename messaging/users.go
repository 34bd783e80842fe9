package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald"
)

// Bounds of user management. Layer documented none; Herald keeps each
// user's lists, and each request, small enough to read and write in one
// transaction.
const (
	// MaxBlocks bounds a user's block list.
	MaxBlocks = 10000
	// MaxFollows bounds the users one user follows.
	MaxFollows = 10000
	// MaxUserOperations bounds the operations of one Layer-Patch document
	// on a user or an app. Layer accepted "one or 10,000 operations"
	// ([P1.1] platform/users/blocking.md).
	MaxUserOperations = 10000
	// DefaultFollowingPageSize is the page size of follow listings when
	// none is asked for, Layer's default ([P2] platform/users/following.md).
	DefaultFollowingPageSize = 500
	// MaxFollowingPageSize bounds the page size of follow listings.
	MaxFollowingPageSize = 500
)

// Session time to live bounds, Layer's ([P1.1] platform/users/session.md),
// and the TTL of an app that never set one. Layer did not document its
// default; 30 days keeps a mobile user signed in between uses.
const (
	MinSessionTTL     = 30 * time.Second
	MaxSessionTTL     = 31536000 * time.Second
	DefaultSessionTTL = 30 * 24 * time.Hour
)

// UserOperation is one operation of a Layer-Patch document on a user
// (blocks, suspended) or an app (session_ttl_in_seconds). The user an
// operation on blocks names is given as value (Platform API 1.x, a bare
// user id) or as id (2.0 and later, an identity id); either is accepted
// in every version.
type UserOperation struct {
	Operation string          `json:"operation"`
	Property  string          `json:"property"`
	Value     json.RawMessage `json:"value"`
	ID        string          `json:"id"`
}

// UserView is a user as GET /apps/:app/users/:user shows them.
type UserView struct {
	UserID    string
	Suspended bool
	// Identity is nil for a user without one.
	Identity *herald.Identity
}

// checkUserList validates user ids given as property and returns them
// without duplicates, in first-seen order; identity ids are taken for the
// user ids they name.
func checkUserList(property string, ids []string, max int) ([]string, error) {
	if len(ids) > max {
		e := herald.PropertyError(herald.EQuotaExceeded, property, "%s may list at most %d users.", property, max)
		e.Data["limit"] = max
		return nil, e
	}
	return distinctUserIDs(property, ids)
}

// operationUser is the one user an add or remove operation on blocks
// names, in id or value.
func operationUser(op UserOperation, where string) (string, error) {
	property := "operations" + where + ".id"
	id := op.ID
	if id != "" && len(op.Value) > 0 && string(op.Value) != "null" {
		return "", herald.PropertyError(herald.EInvalidProperty, property, "%s gives both id and value; give one.", "operations"+where)
	}
	if id == "" {
		property = "operations" + where + ".value"
		if len(op.Value) == 0 || string(op.Value) == "null" {
			return "", herald.PropertyError(herald.EMissingProperty, property,
				"%s needs the user to %s: \"id\": \"layer:///identities/<user_id>\" or \"value\": \"<user_id>\".", op.Operation, op.Operation)
		}
		if json.Unmarshal(op.Value, &id) != nil {
			return "", herald.PropertyError(herald.EInvalidProperty, property, "%s must be a user id.", property)
		}
	}
	id = herald.LocalID(id, herald.IdentityIDPrefix)
	return id, checkUserID(property, id)
}

func checkOperations(ops []UserOperation) error {
	if len(ops) == 0 {
		return herald.Errorf(herald.EInvalidRequest, "The patch holds no operations.")
	}
	if len(ops) > MaxUserOperations {
		e := herald.PropertyError(herald.EQuotaExceeded, "operations", "A patch holds at most %d operations; send the rest in another request.", MaxUserOperations)
		e.Data["limit"] = MaxUserOperations
		return e
	}
	return nil
}

// userPatch is what a Layer-Patch document on a user asks for.
type userPatch struct {
	// blocks are the block operations, applied in order by apply.
	blocks    []blockStep
	suspended *bool
}

// blockStep adds or removes one user, or replaces the list (set).
type blockStep struct {
	op  string
	ids []string
}

// apply returns list as the steps leave it. Users keep their place in the
// list; those added come after, in the order of the steps.
func (p *userPatch) apply(list []string) []string {
	has := make(map[string]bool, len(list))
	for _, u := range list {
		has[u] = true
	}
	order := list
	for _, st := range p.blocks {
		switch st.op {
		case "add":
			if !has[st.ids[0]] {
				has[st.ids[0]] = true
				order = append(order, st.ids[0])
			}
		case "remove":
			delete(has, st.ids[0])
		case "set":
			clear(has)
			for _, u := range st.ids {
				has[u] = true
			}
			order = append(order, st.ids...)
		}
	}
	out := make([]string, 0, len(has))
	for _, u := range order {
		if has[u] {
			out = append(out, u)
			delete(has, u)
		}
	}
	return out
}

func parseUserPatch(owner string, ops []UserOperation) (*userPatch, error) {
	if err := checkOperations(ops); err != nil {
		return nil, err
	}
	p := &userPatch{}
	for i, op := range ops {
		where := fmt.Sprintf("[%d]", i)
		switch op.Property {
		case "blocks":
			switch op.Operation {
			case "add", "remove":
				id, err := operationUser(op, where)
				if err != nil {
					return nil, err
				}
				if id == owner && op.Operation == "add" {
					return nil, herald.PropertyError(herald.EInvalidProperty, "operations"+where,
						"A user cannot block themselves.")
				}
				p.blocks = append(p.blocks, blockStep{op.Operation, []string{id}})
			case "set":
				// 1.x replaced the list with value; 2.0 documented set only
				// to empty it ([P2] platform/users/blocking.md). Any list
				// is taken, which covers both.
				property := "operations" + where + ".value"
				var ids []string
				if json.Unmarshal(op.Value, &ids) != nil || ids == nil {
					return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s must be a list of user ids.", property)
				}
				ids, err := checkUserList(property, ids, MaxBlocks)
				if err != nil {
					return nil, err
				}
				if slices.Contains(ids, owner) {
					return nil, herald.PropertyError(herald.EInvalidProperty, property, "A user cannot block themselves.")
				}
				p.blocks = append(p.blocks, blockStep{"set", ids})
			default:
				return nil, herald.PropertyError(herald.EInvalidProperty, "operations"+where+".operation",
					"blocks take the operations add, remove and set, not %q.", op.Operation)
			}
		case "suspended":
			if op.Operation != "set" {
				return nil, herald.PropertyError(herald.EInvalidProperty, "operations"+where+".operation",
					"suspended takes the operation set, not %q.", op.Operation)
			}
			var v bool
			if json.Unmarshal(op.Value, &v) != nil {
				return nil, herald.PropertyError(herald.EInvalidProperty, "operations"+where+".value",
					"suspended must be set to true or false.")
			}
			p.suspended = &v
		case "":
			return nil, herald.PropertyError(herald.EMissingProperty, "operations"+where+".property",
				"Each operation needs a property: blocks or suspended.")
		default:
			return nil, herald.PropertyError(herald.EInvalidProperty, "operations"+where+".property",
				"A user's properties are blocks and suspended, not %q.", op.Property)
		}
	}
	return p, nil
}

// PatchUser applies Layer-Patch operations to a user's block list and
// suspension, all or none of them. It records user.blocked and
// user.unblocked events with the users it blocked and unblocked in all
// (so a set that leaves a user blocked records nothing for them), and
// user.suspended or user.unsuspended when the suspension changed.
// Suspending a user voids their sessions, as Layer's suspension cleared
// "all session tokens for the target user" ([P1.1]
// platform/users/suspension.md).
func (s *Service) PatchUser(ctx context.Context, appID, userID string, ops []UserOperation) error {
	if err := checkUserID("user_id", userID); err != nil {
		return err
	}
	p, err := parseUserPatch(userID, ops)
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		u, err := s.ensureUser(ctx, tx, appID, userID, now)
		if err != nil {
			return err
		}
		if len(p.blocks) > 0 {
			if err := s.applyBlocks(ctx, tx, appID, userID, p.apply, now); err != nil {
				return err
			}
		}
		if p.suspended == nil || u.Suspended == *p.suspended {
			return nil
		}
		u.Suspended, u.UpdatedAt = *p.suspended, now
		typ := herald.EventUserUnsuspended
		if u.Suspended {
			u.SessionsRevokedAt = &now
			typ = herald.EventUserSuspended
		}
		if err := tx.PutUser(ctx, u); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, typ, nil, &herald.EventData{User: u, UserID: userID})
	})
}

// userRecord returns a user's record, or a new one when none was made.
func userRecord(ctx context.Context, q herald.Queries, appID, userID string) (*herald.User, error) {
	u, err := q.User(ctx, appID, userID)
	if herald.IsNotFound(err) {
		return &herald.User{AppID: appID, UserID: userID}, nil
	}
	return u, err
}

// ensureUser returns a user's record, making it first if none was: a user
// whose lists or suspension the app changed is known to Herald from then
// on, as Layer created the users such requests named ([P2]
// platform/users/following.md).
func (s *Service) ensureUser(ctx context.Context, tx herald.Tx, appID, userID string, now time.Time) (*herald.User, error) {
	u, err := tx.User(ctx, appID, userID)
	if !herald.IsNotFound(err) {
		return u, err
	}
	u = &herald.User{AppID: appID, UserID: userID, UpdatedAt: now}
	return u, tx.PutUser(ctx, u)
}

// setDiff returns what after has that before lacks, and what before has
// that after lacks, each in its list's order.
func setDiff(before, after []string) (added, removed []string) {
	in := func(l []string) map[string]bool {
		m := make(map[string]bool, len(l))
		for _, v := range l {
			m[v] = true
		}
		return m
	}
	b, a := in(before), in(after)
	for _, v := range after {
		if !b[v] {
			added = append(added, v)
		}
	}
	for _, v := range before {
		if !a[v] {
			removed = append(removed, v)
		}
	}
	return added, removed
}

// applyBlocks changes owner's block list to what change makes of it, and
// records what it added and removed.
func (s *Service) applyBlocks(ctx context.Context, tx herald.Tx, appID, owner string, change func([]string) []string, now time.Time) error {
	before, err := tx.Blocks(ctx, appID, owner)
	if err != nil {
		return err
	}
	after := change(slices.Clone(before))
	if len(after) > MaxBlocks {
		return &herald.Error{ID: herald.EQuotaExceeded,
			Message: fmt.Sprintf("A user blocks at most %d users; %q would block %d.", MaxBlocks, owner, len(after)),
			Data:    map[string]any{"property": "blocks", "limit": MaxBlocks}}
	}
	added, removed := setDiff(before, after)
	if err := tx.AddBlocks(ctx, appID, owner, added, now); err != nil {
		return err
	}
	if err := tx.RemoveBlocks(ctx, appID, owner, removed); err != nil {
		return err
	}
	if len(added) > 0 {
		if err := s.record(ctx, tx, appID, herald.EventUserBlocked, nil, &herald.EventData{UserID: owner, Added: added}); err != nil {
			return err
		}
	}
	if len(removed) > 0 {
		return s.record(ctx, tx, appID, herald.EventUserUnblocked, nil, &herald.EventData{UserID: owner, Removed: removed})
	}
	return nil
}

// Block makes owner block userID (Platform API 1.x POST …/blocks); a user
// blocked already stays as they are.
func (s *Service) Block(ctx context.Context, appID, owner, userID string) error {
	if userID == "" {
		// Layer's answer to a body without user_id (cakejelly/layer-api
		// spec/cassettes/block_error.yml).
		return herald.PropertyError(herald.EMissingProperty, "user_id", "Object is missing required member 'user_id'.")
	}
	v, _ := json.Marshal(userID)
	return s.PatchUser(ctx, appID, owner, []UserOperation{{Operation: "add", Property: "blocks", Value: v}})
}

// Unblock makes owner stop blocking userID (Platform API 1.x DELETE
// …/blocks/:user). Unblocking a user who is not blocked succeeds, as it
// did on Layer (cakejelly/layer-api spec/cassettes/blocks.yml).
func (s *Service) Unblock(ctx context.Context, appID, owner, userID string) error {
	v, _ := json.Marshal(userID)
	return s.PatchUser(ctx, appID, owner, []UserOperation{{Operation: "remove", Property: "blocks", Value: v}})
}

// Blocks lists the users owner blocks, in the order they were blocked, with
// the identities of those that have one.
func (s *Service) Blocks(ctx context.Context, appID, owner string) (ids []string, identities map[string]*herald.Identity, err error) {
	if err := checkUserID("user_id", owner); err != nil {
		return nil, nil, err
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if ids, err = q.Blocks(ctx, appID, owner); err != nil {
			return err
		}
		identities, err = q.Identities(ctx, appID, ids)
		return err
	})
	return ids, identities, err
}

// checkNotBlocking refuses a change made by actor that would put them in a
// conversation with someone they block: Layer "prevents Alice from creating
// new conversations with Bob or adding Bob to conversations" ([P1.1]
// client/rest/errors.md). Changes made by the app, without a user actor,
// are not refused: Layer put a blocker and the user they block in a
// conversation another user made, and hid their messages from each other
// (support.layer.com, "What happens when I apply a Block policy?").
func checkNotBlocking(ctx context.Context, q herald.Queries, appID string, actor *herald.Actor, users []string) error {
	if actor == nil || actor.UserID == "" || len(users) == 0 {
		return nil
	}
	blocked, err := q.BlockedAmong(ctx, appID, actor.UserID, users)
	if err != nil || len(blocked) == 0 {
		return err
	}
	return &herald.Error{ID: herald.EParticipantBlocked,
		Message: fmt.Sprintf("User %q blocks %q; unblock them first to have them in a conversation together.", actor.UserID, blocked[0]),
		Data:    map[string]any{"property": "participants", "blocked": blocked}}
}

// hideFromBlocks hides a message a user sent from the participants who
// block them or whom they block, as Layer did: messages between a blocker
// and the user they block are hidden from both, silently, in any
// conversation they share (support.layer.com, "What happens when I apply a
// Block policy?"; [P1.1] client/rest/errors.md). The message stays in
// their recipient status, so that the sender learns nothing of the block.
func hideFromBlocks(ctx context.Context, tx herald.Tx, m *herald.Message, c *herald.Conversation) error {
	if m.Sender.UserID == "" || len(c.Participants) < 2 {
		return nil
	}
	return tx.HideFromBlocks(ctx, m)
}

// User returns a user as GET /apps/:app/users/:user shows them. A user
// Herald knows nothing of (no identity, no record, no conversation) is
// not_found, as Layer answered for an unknown user
// (andriiosmak/laravel-layer-sdk tests/Integrational/UserServiceTest.php).
func (s *Service) User(ctx context.Context, appID, userID string) (out *UserView, err error) {
	if err := checkUserID("user_id", userID); err != nil {
		return nil, err
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		u, err := knownUser(ctx, q, appID, userID)
		if err != nil {
			return err
		}
		out = &UserView{UserID: userID, Suspended: u.Suspended}
		id, err := q.Identity(ctx, appID, userID)
		if err == nil {
			out.Identity = id
		} else if !herald.IsNotFound(err) {
			return err
		}
		return nil
	})
	return out, err
}

// knownUser returns a user's record (a new one when none was made yet),
// or not_found for a user Herald knows nothing of.
func knownUser(ctx context.Context, q herald.Queries, appID, userID string) (*herald.User, error) {
	u, err := q.User(ctx, appID, userID)
	if !herald.IsNotFound(err) {
		return u, err
	}
	u = &herald.User{AppID: appID, UserID: userID}
	if _, err := q.Identity(ctx, appID, userID); !herald.IsNotFound(err) {
		return u, err
	}
	cs, err := q.Conversations(ctx, appID, userID, herald.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, herald.NotFound("user", userID)
	}
	return u, nil
}

// RevokeSessions voids every session issued to a user until now (DELETE
// /apps/:app/users/:user/sessions). Herald's Client API checks it with
// CheckSession.
func (s *Service) RevokeSessions(ctx context.Context, appID, userID string) error {
	if err := checkUserID("user_id", userID); err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		u, err := knownUser(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		now := s.now()
		u.SessionsRevokedAt, u.UpdatedAt = &now, now
		if err := tx.PutUser(ctx, u); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventUserSessionsRevoked, nil, &herald.EventData{User: u, UserID: userID})
	})
}

// CheckSession reports whether a session issued to a user at issuedAt is
// still valid: not once the user is suspended (user_suspended), nor once
// their sessions were revoked after it was issued or the app's session TTL
// has passed since (authentication_required).
func (s *Service) CheckSession(ctx context.Context, appID, userID string, issuedAt time.Time) error {
	return s.Store.View(ctx, func(q herald.Queries) error {
		return s.checkSession(ctx, q, appID, userID, issuedAt)
	})
}

// checkSession is CheckSession within q.
func (s *Service) checkSession(ctx context.Context, q herald.Queries, appID, userID string, issuedAt time.Time) error {
	u, err := userRecord(ctx, q, appID, userID)
	if err != nil {
		return err
	}
	if u.Suspended {
		return herald.Errorf(herald.EUserSuspended, "User %q is suspended.", userID)
	}
	if u.SessionsRevokedAt != nil && !issuedAt.After(*u.SessionsRevokedAt) {
		return herald.Errorf(herald.EAuthRequired, "The session was revoked; authenticate again.")
	}
	ttl, err := sessionTTL(ctx, q, appID)
	if err != nil {
		return err
	}
	if !s.now().Before(issuedAt.Add(ttl)) {
		return herald.Errorf(herald.EAuthRequired, "The session expired; authenticate again.")
	}
	return nil
}

func sessionTTL(ctx context.Context, q herald.Queries, appID string) (time.Duration, error) {
	ttl, err := q.SessionTTL(ctx, appID)
	if err != nil || ttl > 0 {
		return ttl, err
	}
	return DefaultSessionTTL, nil
}

// SessionTTL returns how long the sessions of an app's users last.
func (s *Service) SessionTTL(ctx context.Context, appID string) (ttl time.Duration, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ttl, err = sessionTTL(ctx, q, appID)
		return err
	})
	return ttl, err
}

// PatchApp applies Layer-Patch operations to an app's settings: set
// session_ttl_in_seconds, within Layer's bounds of 30 seconds to a year
// ([P1.1] platform/users/session.md). A TTL set to what it is records
// nothing.
func (s *Service) PatchApp(ctx context.Context, appID string, ops []UserOperation) error {
	if err := checkOperations(ops); err != nil {
		return err
	}
	var ttl time.Duration
	for i, op := range ops {
		where := fmt.Sprintf("operations[%d]", i)
		if op.Property != "session_ttl_in_seconds" {
			return herald.PropertyError(herald.EInvalidProperty, where+".property",
				"An app's only property is session_ttl_in_seconds, not %q.", op.Property)
		}
		if op.Operation != "set" {
			return herald.PropertyError(herald.EInvalidProperty, where+".operation",
				"session_ttl_in_seconds takes the operation set, not %q.", op.Operation)
		}
		var seconds int64
		if json.Unmarshal(op.Value, &seconds) != nil {
			return herald.PropertyError(herald.EInvalidProperty, where+".value",
				"session_ttl_in_seconds must be a whole number of seconds.")
		}
		ttl = time.Duration(seconds) * time.Second
		if seconds < int64(MinSessionTTL/time.Second) || seconds > int64(MaxSessionTTL/time.Second) {
			e := herald.PropertyError(herald.EInvalidProperty, where+".value",
				"session_ttl_in_seconds must be from %d to %d, not %d.", int64(MinSessionTTL/time.Second), int64(MaxSessionTTL/time.Second), seconds)
			e.Data["min"], e.Data["max"] = int64(MinSessionTTL/time.Second), int64(MaxSessionTTL/time.Second)
			return e
		}
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		if _, err := tx.App(ctx, appID); err != nil {
			return err
		}
		old, err := tx.SessionTTL(ctx, appID)
		if err != nil || old == ttl {
			return err
		}
		if err := tx.SetSessionTTL(ctx, appID, ttl, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventAppSessionTTLUpdated, nil, &herald.EventData{SessionTTL: int64(ttl / time.Second)})
	})
}
