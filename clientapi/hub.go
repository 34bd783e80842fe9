package clientapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald"
)

// hub is a node's sockets, by app and user, and the tail of the event log
// that feeds them.
type hub struct {
	api *API

	mu      sync.Mutex
	sockets map[string]map[string]map[*socket]struct{} // app → user → sockets

	wake      chan struct{}
	startOnce sync.Once
	stop      chan struct{}
	stopOnce  sync.Once
	done      sync.WaitGroup
}

func newHub(a *API) *hub {
	return &hub{api: a, sockets: map[string]map[string]map[*socket]struct{}{},
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

func (h *hub) logger() *slog.Logger { return h.api.logger() }
func (h *hub) now() time.Time       { return h.api.now() }
func (h *hub) queueSize() int       { return h.api.queueSize() }

// notify wakes the tail: events were committed on this node.
func (h *hub) notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// start starts the tail from the end of the log, at the first socket: what
// was committed before it opened, the socket's client replays.
func (h *hub) start(ctx context.Context) error {
	var err error
	h.startOnce.Do(func() {
		var cursor int64
		err = h.api.store().View(ctx, func(q herald.Queries) error {
			cursor, err = q.LastEventSeq(ctx)
			return err
		})
		if err != nil {
			// The next socket tries again.
			h.startOnce = sync.Once{}
			return
		}
		if s, ok := h.api.store().(herald.SharedStore); ok {
			s.Watch(func(c herald.Change) {
				if c == herald.EventsAppended {
					h.notify()
				}
			})
		}
		if bus, ok := h.api.store().(herald.SignalBus); ok {
			bus.OnSignal(h.receiveSignal)
		}
		h.done.Add(2)
		go h.tail(cursor)
		go h.heartbeat()
	})
	return err
}

// close stops the tail and closes every socket.
func (h *hub) close() {
	h.stopOnce.Do(func() { close(h.stop) })
	h.done.Wait()
	for _, s := range h.all() {
		s.close(websocket.StatusGoingAway, "server stopping")
	}
}

// watching reports whether any of users has a socket open on this node.
func (h *hub) watching(app string, users []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	byUser := h.sockets[app]
	for _, u := range users {
		if len(byUser[u]) > 0 {
			return true
		}
	}
	return false
}

func (h *hub) all() []*socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*socket
	for _, users := range h.sockets {
		for _, set := range users {
			for s := range set {
				out = append(out, s)
			}
		}
	}
	return out
}

// register adds a socket, and returns how many sockets its user has on
// this node with it.
func (h *hub) register(s *socket) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	users := h.sockets[s.sess.AppID]
	if users == nil {
		users = map[string]map[*socket]struct{}{}
		h.sockets[s.sess.AppID] = users
	}
	set := users[s.sess.UserID]
	if set == nil {
		set = map[*socket]struct{}{}
		users[s.sess.UserID] = set
	}
	set[s] = struct{}{}
	return len(set)
}

// unregister takes a closed socket off the hub, and records what its user
// has left open on this node (see API.socketClosed).
func (h *hub) unregister(s *socket) {
	h.mu.Lock()
	set := h.sockets[s.sess.AppID][s.sess.UserID]
	if _, ok := set[s]; !ok {
		h.mu.Unlock()
		return
	}
	delete(set, s)
	left := len(set)
	if left == 0 {
		delete(h.sockets[s.sess.AppID], s.sess.UserID)
		if len(h.sockets[s.sess.AppID]) == 0 {
			delete(h.sockets, s.sess.AppID)
		}
	}
	h.mu.Unlock()
	h.api.socketClosed(s, left)
}

// userSockets returns the sockets of users of an app; every user's when
// users is nil.
func (h *hub) userSockets(app string, users []string, everyone bool) []*socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	byUser := h.sockets[app]
	if len(byUser) == 0 {
		return nil
	}
	var out []*socket
	if everyone {
		for _, set := range byUser {
			for s := range set {
				out = append(out, s)
			}
		}
		return out
	}
	seen := map[string]bool{}
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		for s := range byUser[u] {
			out = append(out, s)
		}
	}
	return out
}

// tailBatch is how many events the tail reads at once.
const tailBatch = 512

// pollInterval is the tail's backstop: commits wake it sooner.
const pollInterval = time.Second

// tail routes the events appended to the log to the sockets they concern,
// in log order. Woken by this node's commits, it takes their events from
// the store's memory when it holds them (herald.RecentEvents); the poll,
// and a wake-up from another node, read the log.
func (h *hub) tail(cursor int64) {
	defer h.done.Done()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	woken := false
	for {
		for {
			events, err := h.next(cursor, woken)
			if err != nil {
				h.logger().Error("reading the event log for the Client API's sockets", "err", err)
				break
			}
			for _, e := range events {
				h.route(e)
				cursor = e.Seq
			}
			if len(events) < tailBatch {
				break
			}
		}
		select {
		case <-h.stop:
			return
		case <-h.wake:
			woken = true
		case <-tick.C:
			woken = false
		}
	}
}

func (h *hub) next(after int64, recent bool) ([]*herald.Event, error) {
	if r, ok := h.api.store().(herald.RecentEvents); ok && recent {
		if events, held := r.RecentEventsSince(after, tailBatch); held {
			return events, nil
		}
	}
	var events []*herald.Event
	ctx := herald.WithPriority(context.Background())
	err := h.api.store().View(ctx, func(q herald.Queries) (err error) {
		events, err = q.EventsSince(ctx, after, tailBatch)
		return err
	})
	return events, err
}

// route hands an event to the sockets of the users it concerns, or closes
// the sockets whose session it ends. Those idle, whose connections take it
// at once, the tail writes it to itself (writeInline, see inlineWrites);
// the others queue it, for a goroutine of their own.
func (h *hub) route(e *herald.Event) {
	h.mu.Lock()
	any := len(h.sockets[e.AppID]) > 0
	h.mu.Unlock()
	if !any {
		return
	}
	d, err := e.DecodeData()
	if err != nil {
		h.logger().Error("decoding an event for the Client API's sockets", "event", e.ID, "err", err)
		return
	}
	if h.endsSessions(e, d) {
		return
	}
	users, everyone := audience(e, d)
	sockets := h.userSockets(e.AppID, users, everyone)
	if len(sockets) == 0 {
		return
	}
	live := sockets[:0]
	for _, s := range sockets {
		if e.Seq > s.since {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return
	}
	f := newFanout(h, e, d, live)
	inline := 0
	if !h.inlineWrites(e) {
		inline = maxInlineWrites
	}
	for _, s := range live {
		if inline < maxInlineWrites && s.writeInline(f) {
			inline++
			continue
		}
		s.enqueueEvent(f)
	}
}

// maxInlineWrites bounds the sockets the tail writes an event to itself:
// the rest of a large audience (an identity's or a presence's) is written
// by the sockets' own goroutines, so that one app's event holds up the
// next app's for a few milliseconds at most.
const maxInlineWrites = 64

// inlineWrites reports whether the tail writes an event to idle sockets
// itself: when the event is read and rendered once for all of them, and
// that read is this node's own (SQLite). A shared store's crosses the
// network, and a change rendered per socket reads for each; the tail would
// do them one after the other, where sockets' goroutines do them side by
// side.
func (h *hub) inlineWrites(e *herald.Event) bool {
	_, sharedStore := h.api.store().(herald.SharedStore)
	return shared[e.Type] && !sharedStore
}

// endsSessions closes the sockets of the sessions an event ends, and
// reports whether the event is one that ends sessions.
func (h *hub) endsSessions(e *herald.Event, d *herald.EventData) bool {
	switch e.Type {
	case herald.EventSessionDeleted:
		if d.Session == nil {
			return true
		}
		for _, s := range h.userSockets(e.AppID, []string{d.Session.UserID}, false) {
			if s.sess.ID == d.Session.ID {
				s.close(websocket.StatusPolicyViolation, "session deleted")
			}
		}
		return true
	case herald.EventUserSessionsRevoked, herald.EventUserSuspended:
		if d.User == nil {
			return true
		}
		for _, s := range h.userSockets(e.AppID, []string{d.User.UserID}, false) {
			revoked := d.User.SessionsRevokedAt
			if d.User.Suspended || (revoked != nil && !s.sess.CreatedAt.After(*revoked)) {
				s.close(websocket.StatusPolicyViolation, "session revoked")
			}
		}
		return true
	}
	return false
}

// heartbeatInterval is how often a node says its sockets are still open,
// and nodeTimeout how long it may stay silent before its sockets count as
// closed (their users go offline).
const (
	heartbeatInterval = 5 * time.Second
	nodeTimeout       = 30 * time.Second
)

// heartbeat keeps this node's record of its sockets alive, and forgets
// those of nodes gone silent: one node does each round.
func (h *hub) heartbeat() {
	defer h.done.Done()
	tick := time.NewTicker(heartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		ctx := herald.WithPriority(context.Background())
		if err := h.api.touchSockets(ctx); err != nil {
			h.logger().Error("recording the node's sockets as alive", "err", err)
		}
		if err := h.api.forgetDeadSockets(ctx); err != nil {
			h.logger().Error("forgetting the sockets of silent nodes", "err", err)
		}
	}
}
