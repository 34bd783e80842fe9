package herald

import (
	"context"
	"time"
)

// Presence of Layer's Client API (docs.layer.com/reference/client_api/
// presence): the status a user set over their WebSocket, and when they were
// last seen. Presence lives with the sockets: a user with no socket open on
// any node is offline to others whatever they set, and one who set
// invisible appears offline to everyone but themselves.
const (
	// PresenceAuto is not kept: it restores the status last set, or
	// available when none was.
	PresenceAuto      = "auto"
	PresenceAvailable = "available"
	PresenceAway      = "away"
	PresenceBusy      = "busy"
	PresenceOffline   = "offline"
	PresenceInvisible = "invisible"
)

// Presence is what Herald keeps of a user's presence.
type Presence struct {
	AppID  string `json:"-"`
	UserID string `json:"user_id"`
	// Status is the status last set (never auto).
	Status string `json:"status"`
	// Online reports whether the user had a socket open, as of this
	// record.
	Online bool `json:"online"`
	// LastSeenAt is when the user last set a status or was last seen
	// connected; nil when never.
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
}

// Shown is the status others see: offline when the user has no socket
// open or is invisible.
func (p *Presence) Shown() string {
	if p == nil || !p.Online || p.Status == PresenceInvisible || p.Status == "" {
		return PresenceOffline
	}
	return p.Status
}

// EventPresenceUpdated records a change of what a user's presence shows
// (Presence): the Client API sends it to the sockets that follow them, on
// every node. Layer's webhooks never sent it.
const EventPresenceUpdated = "identity.presence_updated"

// PresenceQueries are the reads and writes of presence and of which users
// have sockets open on which node.
type PresenceQueries interface {
	// Presences returns the presence records of those of userIDs that have
	// one.
	Presences(ctx context.Context, appID string, userIDs []string) (map[string]*Presence, error)
	// PutPresence creates or replaces a user's presence record.
	PutPresence(ctx context.Context, p *Presence) error
	// SetSockets records that a node has n sockets of a user open (none:
	// forgets the user on the node), alive at at.
	SetSockets(ctx context.Context, node, appID, userID string, n int, at time.Time) error
	// TouchSockets records that a node is alive at at, for every user it
	// has sockets of.
	TouchSockets(ctx context.Context, node string, at time.Time) error
	// ConnectedUsers returns those of userIDs that have a socket open on a
	// node alive at or after aliveSince, in the order given.
	ConnectedUsers(ctx context.Context, appID string, userIDs []string, aliveSince time.Time) ([]string, error)
	// ForgetDeadSockets forgets the sockets of nodes not alive since
	// deadBefore, and returns the users, per app, left without a socket
	// on any node alive since then.
	ForgetDeadSockets(ctx context.Context, deadBefore time.Time) (map[string][]string, error)
	// Acquainted returns those of userIDs whom viewer follows or shares
	// a live conversation with: Layer's followed identities, explicit and
	// implicit, whose Identity changes a user receives.
	Acquainted(ctx context.Context, appID, viewer string, userIDs []string) ([]string, error)
}

// A SignalBus relays short-lived messages, such as typing indicators,
// between the nodes sharing a store; nothing of them is stored. A store
// without one belongs to a single node.
type SignalBus interface {
	// Signal sends payload to the other nodes' receivers.
	Signal(ctx context.Context, payload []byte) error
	// OnSignal registers f to receive, from one goroutine, the payloads
	// the other nodes send.
	OnSignal(f func(payload []byte))
}
