package clientapi

import (
	"encoding/json"
	"time"

	"github.com/heraldhq/herald"
)

// presenceUpdate takes Layer-Patch operations on the user's presence
// ([{"operation":"set","property":"status","value":"auto"}], as the Web SDK
// sends on every connection and from identity.setStatus).
func (s *socket) presenceUpdate(raw json.RawMessage) (any, *failure) {
	var ops []struct {
		Operation string `json:"operation"`
		Property  string `json:"property"`
		Value     string `json:"value"`
	}
	if err := decodeData(raw, &ops); err != nil {
		return fail(err)
	}
	for _, op := range ops {
		if op.Operation != "set" || (op.Property != "status" && op.Property != "presence.status") {
			return fail(herald.PropertyError(herald.EInvalidProperty, op.Property, "Presence.update sets status, and nothing else."))
		}
		if _, err := s.hub.api.service().SetPresence(s.ctx, s.sess.AppID, s.sess.UserID, op.Value); err != nil {
			return fail(err)
		}
	}
	return nil, nil
}

// presenceSync answers the presence of identities: those named ({ids}),
// or those whose presence changed since a time ({since}) among the users
// the socket's user sees. data.changes is always a list: the Web SDK reads
// it without checking (the reference's §6.4).
func (s *socket) presenceSync(raw json.RawMessage) (any, *failure) {
	var in struct {
		IDs   []string `json:"ids"`
		Since string   `json:"since"`
	}
	if err := decodeData(raw, &in); err != nil {
		return fail(err)
	}
	svc := s.hub.api.service()
	var users []string
	switch {
	case in.IDs != nil:
		for _, id := range in.IDs {
			users = append(users, userID(id))
		}
	case in.Since != "":
		since, err := time.Parse(time.RFC3339Nano, in.Since)
		if err != nil {
			return fail(herald.PropertyError(herald.EInvalidProperty, "since", "since must be an ISO 8601 time, not %q.", in.Since))
		}
		changed := map[string]bool{}
		var after int64
		for {
			var events []*herald.Event
			err := s.hub.api.store().View(s.ctx, func(q herald.Queries) (err error) {
				events, err = q.EventsBetween(s.ctx, s.sess.AppID, since, s.hub.now().Add(time.Millisecond), after, tailBatch)
				return err
			})
			if err != nil {
				return fail(err)
			}
			for _, e := range events {
				after = e.Seq
				if e.Type != herald.EventPresenceUpdated {
					continue
				}
				if d, err := e.DecodeData(); err == nil && d.Presence != nil && !changed[d.Presence.UserID] {
					changed[d.Presence.UserID] = true
					users = append(users, d.Presence.UserID)
				}
			}
			if len(events) < tailBatch {
				break
			}
		}
		acquainted, err := svc.Acquainted(s.ctx, s.sess.AppID, s.sess.UserID, users)
		if err != nil {
			return fail(err)
		}
		users = acquainted
	default:
		return fail(herald.PropertyError(herald.EMissingProperty, "ids", "Presence.sync takes ids or since."))
	}
	ps, err := svc.Presences(s.ctx, s.sess.AppID, users)
	if err != nil {
		return fail(err)
	}
	cv := s.view(s.ctx)
	if err := cv.LoadUsers(users...); err != nil {
		return fail(err)
	}
	changes := []changeBody{}
	for _, u := range users {
		p := ps[u]
		if p == nil {
			p = &herald.Presence{AppID: s.sess.AppID, UserID: u}
		}
		c, err := presenceChange(cv, p, s.sess.UserID)
		if err != nil {
			return fail(err)
		}
		changes = append(changes, c)
	}
	return map[string]any{"changes": changes}, nil
}
