package clientapi

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layerapi"
)

// Packet types ([P1.1] client/websockets/overview.md; operation: the Web
// SDK's websocket-operations.js).
const (
	packetChange    = "change"
	packetResponse  = "response"
	packetSignal    = "signal"
	packetOperation = "operation"
	packetRequest   = "request"
)

// packet is a server packet before its envelope: the envelope's counter
// and timestamp are given as it is written, so that they follow the order
// packets leave in.
type packet struct {
	typ  string
	body any
	// at is the time of the change a change packet carries; zero for the
	// others.
	at time.Time
}

// envelope is every server packet ([P1.1] client/websockets/overview.md):
// counter counts the connection's packets from 0, timestamp is when the
// packet's content happened (see socket.stamp).
type envelope struct {
	Type      string `json:"type"`
	Counter   int64  `json:"counter"`
	Timestamp string `json:"timestamp"`
	Body      any    `json:"body"`
}

// socket is one open WebSocket: its session's user, what waits to be sent
// to it, and the goroutines that read it (requests, signals) and write it
// (change packets, relayed signals). What others hand a socket is queued,
// up to the hub's queue size; a socket that falls further behind is closed,
// and its client replays what it missed once it reconnects, so that no
// socket slows the hub or another socket.
type socket struct {
	hub     *hub
	conn    *websocket.Conn
	sess    *herald.Session
	version layerapi.Version

	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// events are the events routed to the socket and not rendered yet;
	// signals the signals relayed to it and not sent yet.
	events  []*herald.Event
	signals []packet
	closed  bool
	wake    chan struct{}
	// subscribed is set by Presence.subscribe.
	subscribed bool

	// writeMu orders the writes, so that counters follow them.
	writeMu sync.Mutex
	counter int64
}

// writeTimeout bounds one write: a client that reads nothing for that long
// is gone, or too slow to keep up.
const writeTimeout = 10 * time.Second

// pingInterval is how often a quiet socket is pinged, so that a peer that
// vanished without closing is noticed.
const pingInterval = 30 * time.Second

// enqueueEvent hands the socket an event to render and send; false when
// the socket is closed, or was closed for falling too far behind.
func (s *socket) enqueueEvent(e *herald.Event) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if len(s.events)+len(s.signals) >= s.hub.queueSize() {
		s.mu.Unlock()
		s.close(websocket.StatusPolicyViolation, "too far behind; replay the missed events after reconnecting")
		return false
	}
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.signalWake()
	return true
}

// enqueueSignal hands the socket a packet relayed from another client.
func (s *socket) enqueueSignal(p packet) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.events)+len(s.signals) >= s.hub.queueSize() {
		s.mu.Unlock()
		s.close(websocket.StatusPolicyViolation, "too far behind; replay the missed events after reconnecting")
		return
	}
	s.signals = append(s.signals, p)
	s.mu.Unlock()
	s.signalWake()
}

func (s *socket) signalWake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump renders and sends what is queued for the socket, signals first
// (they go stale within seconds), until the socket closes.
func (s *socket) pump() {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		s.mu.Lock()
		var sig *packet
		var ev *herald.Event
		if len(s.signals) > 0 {
			sig = &s.signals[0]
			s.signals = s.signals[1:]
		} else if len(s.events) > 0 {
			ev = s.events[0]
			s.events[0] = nil
			s.events = s.events[1:]
		}
		s.mu.Unlock()
		switch {
		case sig != nil:
			if s.send(*sig) != nil {
				return
			}
			continue
		case ev != nil:
			ps, err := s.changes(ev)
			if err != nil {
				if s.ctx.Err() != nil {
					return
				}
				// The client misses this change until it reloads or
				// replays: a defect to log, not a reason to stop.
				s.hub.logger().Error("rendering a change for a socket", "event", ev.ID, "type", ev.Type,
					"user", s.sess.UserID, "err", err)
			}
			for _, p := range ps {
				if s.send(p) != nil {
					return
				}
			}
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-ping.C:
			ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
			err := s.conn.Ping(ctx)
			cancel()
			if err != nil {
				s.close(websocket.StatusGoingAway, "no pong")
				return
			}
		}
	}
}

// stamp is the timestamp of a packet. A client that reconnects replays
// from the timestamp of the last packet it saw (Event.replay), so no packet
// may be stamped later than a change still waiting in its queue: a
// response sent before such a change carries that change's time.
func (s *socket) stamp(p packet) time.Time {
	now := s.hub.now()
	if !p.at.IsZero() && p.at.Before(now) {
		now = p.at
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) > 0 && s.events[0].CreatedAt.Before(now) {
		now = s.events[0].CreatedAt
	}
	return now
}

// send writes one packet in its envelope; an error closes the socket.
func (s *socket) send(p packet) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if r, ok := p.body.(response); ok {
		if _, ok := r.Data.(counterReply); ok {
			r.Data = map[string]int64{"counter": s.counter - 1}
			p.body = r
		}
	}
	b, err := json.Marshal(envelope{Type: p.typ, Counter: s.counter, Timestamp: herald.FormatTime(s.stamp(p)), Body: p.body})
	if err != nil {
		s.hub.logger().Error("encoding a packet", "type", p.typ, "err", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		s.close(websocket.StatusGoingAway, "write failed")
		return err
	}
	s.counter++
	return nil
}

// close closes the socket once, with a close frame saying why, and takes
// it off the hub.
func (s *socket) close(code websocket.StatusCode, reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.events, s.signals = nil, nil
	conn := s.conn
	s.mu.Unlock()
	s.cancel()
	if conn != nil {
		// The close handshake waits for the peer: not on the caller's
		// time.
		go conn.Close(code, reason)
	}
	s.hub.unregister(s)
}

func (s *socket) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
