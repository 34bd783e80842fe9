package messaging

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// Presence over the Client API's WebSocket (docs.layer.com/reference/
// client_api/presence): a user sets a status, which their followers see
// while the user has a socket open on some node; when the last one closes,
// or its node goes silent, they appear offline, last seen then. Each change
// of what a user's presence shows is recorded (herald.EventPresenceUpdated),
// so that every node tells its sockets.

// SocketTimeout is how long a node may go without saying that its sockets
// are open (TouchSockets) before they count as closed.
const SocketTimeout = 30 * time.Second

// presenceStatuses are the statuses a client may set.
var presenceStatuses = map[string]bool{herald.PresenceAuto: true, herald.PresenceAvailable: true,
	herald.PresenceAway: true, herald.PresenceBusy: true, herald.PresenceOffline: true, herald.PresenceInvisible: true}

// SetPresence sets the status a user shows (Presence.update). auto restores
// the status last set, or available when none was ("auto for automatically
// restoring the last status", Layer's presence docs). The user is seen now.
func (s *Service) SetPresence(ctx context.Context, appID, userID, status string) (p *herald.Presence, err error) {
	if !presenceStatuses[status] {
		return nil, herald.PropertyError(herald.EInvalidProperty, "status",
			"status must be auto, available, away, busy, offline or invisible, not %q.", status)
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		ps, err := tx.Presences(ctx, appID, []string{userID})
		if err != nil {
			return err
		}
		now := s.now()
		old := ps[userID]
		p = &herald.Presence{AppID: appID, UserID: userID, Status: status, Online: true, LastSeenAt: &now}
		if status == herald.PresenceAuto {
			p.Status = herald.PresenceAvailable
			if old != nil && old.Status != "" {
				p.Status = old.Status
			}
		}
		if err := tx.PutPresence(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventPresenceUpdated, &herald.Actor{UserID: userID},
			&herald.EventData{Presence: p, UserID: userID})
	})
	return p, err
}

// Presences returns what is known of users' presence; users never seen
// have none.
func (s *Service) Presences(ctx context.Context, appID string, userIDs []string) (ps map[string]*herald.Presence, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ps, err = q.Presences(ctx, appID, userIDs)
		return err
	})
	return ps, err
}

// SetSockets records that a node has n sockets of a user open. With none
// left on any node, the user goes offline, last seen now.
func (s *Service) SetSockets(ctx context.Context, node, appID, userID string, n int) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		if err := tx.SetSockets(ctx, node, appID, userID, n, now); err != nil || n > 0 {
			return err
		}
		return s.goneOffline(ctx, tx, appID, []string{userID}, now)
	})
}

// goneOffline marks offline those of users who have no socket left on a
// live node and were online.
func (s *Service) goneOffline(ctx context.Context, tx herald.Tx, appID string, users []string, now time.Time) error {
	connected, err := tx.ConnectedUsers(ctx, appID, users, now.Add(-SocketTimeout))
	if err != nil {
		return err
	}
	still := map[string]bool{}
	for _, u := range connected {
		still[u] = true
	}
	ps, err := tx.Presences(ctx, appID, users)
	if err != nil {
		return err
	}
	for _, u := range users {
		p := ps[u]
		if still[u] || p == nil || !p.Online {
			continue
		}
		off := &herald.Presence{AppID: appID, UserID: u, Status: p.Status, LastSeenAt: &now}
		if err := tx.PutPresence(ctx, off); err != nil {
			return err
		}
		if err := s.record(ctx, tx, appID, herald.EventPresenceUpdated, nil, &herald.EventData{Presence: off, UserID: u}); err != nil {
			return err
		}
	}
	return nil
}

// TouchSockets records that a node's sockets are still open.
func (s *Service) TouchSockets(ctx context.Context, node string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error { return tx.TouchSockets(ctx, node, s.now()) })
}

// ForgetDeadSockets forgets the sockets of nodes silent for SocketTimeout,
// and marks offline the users left with none.
func (s *Service) ForgetDeadSockets(ctx context.Context) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		gone, err := tx.ForgetDeadSockets(ctx, now.Add(-SocketTimeout))
		if err != nil {
			return err
		}
		for app, users := range gone {
			if err := s.goneOffline(ctx, tx, app, users, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// ConnectedUsers returns those of userIDs who have a Client API socket
// open on some live node, in the order given: the users a push
// notification need not reach, since their devices hear of the change
// over their socket.
func (s *Service) ConnectedUsers(ctx context.Context, appID string, userIDs []string) (users []string, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		users, err = q.ConnectedUsers(ctx, appID, userIDs, s.now().Add(-SocketTimeout))
		return err
	})
	return users, err
}

// Acquainted returns those of userIDs whose identity changes viewer sees:
// those viewer follows or shares a live conversation with (Layer counted
// both as followed; its presence post "Add Presence to Your Conversations":
// "any users in a conversation together are implicitly following one
// another").
func (s *Service) Acquainted(ctx context.Context, appID, viewer string, userIDs []string) (users []string, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		users, err = q.Acquainted(ctx, appID, viewer, userIDs)
		return err
	})
	return users, err
}
