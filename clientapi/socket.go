package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
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

// socket is one open WebSocket: its session's user, what waits to be sent
// to it, and what reads it (requests, signals: the goroutine that opened
// it) and writes it (change packets, relayed signals: a goroutine started
// when something is queued, which ends once the queue is empty, so that
// thousands of idle sockets hold one goroutine each). What others hand a
// socket is queued, up to the hub's queue size; a socket that falls
// further behind is closed, and its client replays what it missed once it
// reconnects, so that no socket slows the hub or another socket.
type socket struct {
	hub     *hub
	conn    *websocket.Conn
	sess    *herald.Session
	version layerapi.Version
	// since is the last event in the log when the socket opened: older
	// changes reach it only by Event.replay. A node whose tail lags the
	// log would otherwise send them live on top of the replay that a
	// reconnecting client asks for.
	since int64

	ctx    context.Context
	cancel context.CancelFunc
	// corked is the connection under conn, which the packets of one
	// change are written to at once.
	corked *corkConn

	mu sync.Mutex
	// events are the events routed to the socket and not rendered yet;
	// signals the signals relayed to it and not sent yet.
	events  []*fanout
	signals []packet
	closed  bool
	// open is set once the handshake is done: writes may start.
	open bool
	// writing is set while a goroutine writes the queue out, or the hub's
	// tail writes a change (writeInline). What the connection did not take
	// of the tail's write stays pending in corked, and goes first.
	writing bool
	// subscribed is set by Presence.subscribe.
	subscribed bool
	pinger     *time.Timer

	// writeMu orders the writes, so that counters follow them.
	writeMu sync.Mutex
	counter int64
}

// writeTimeout bounds one write: a client that reads nothing for that long
// is gone, or too slow to keep up.
const writeTimeout = 10 * time.Second

// pingInterval is how often a socket is pinged, so that a peer that
// vanished without closing is noticed.
const pingInterval = 30 * time.Second

// enqueueEvent hands the socket an event to render and send; false when
// the socket is closed, or was closed for falling too far behind.
func (s *socket) enqueueEvent(f *fanout) bool {
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
	s.events = append(s.events, f)
	s.startWriting()
	s.mu.Unlock()
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
	s.startWriting()
	s.mu.Unlock()
}

// startWriting starts a writer, unless one runs, once the socket is open
// and has something queued. s.mu is held.
func (s *socket) startWriting() {
	if s.open && !s.writing && !s.closed && (len(s.events)+len(s.signals) > 0 || s.corked.pending()) {
		s.writing = true
		go s.write()
	}
}

// opened lets writes start once the handshake is done, with what was
// queued meanwhile, and starts pinging.
func (s *socket) opened(conn *websocket.Conn, corked *corkConn) (closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn, s.corked = conn, corked
	if s.closed {
		return true
	}
	s.open = true
	s.pinger = time.AfterFunc(pingInterval, s.ping)
	s.startWriting()
	return false
}

// write renders and sends what is queued for the socket, signals first
// (they go stale within seconds), until the queue is empty or the socket
// closes.
func (s *socket) write() {
	// What the connection did not take from the tail goes first.
	s.writeMu.Lock()
	err := s.corked.flush(writeTimeout)
	s.writeMu.Unlock()
	if err != nil {
		s.close(websocket.StatusGoingAway, "write failed")
		return
	}
	for {
		s.mu.Lock()
		var sig *packet
		var f *fanout
		if len(s.signals) > 0 {
			sig = &s.signals[0]
			s.signals = s.signals[1:]
		} else if len(s.events) > 0 {
			f = s.events[0]
			s.events[0] = nil
			s.events = s.events[1:]
		}
		if (sig == nil && f == nil) || s.closed {
			s.writing = false
			if len(s.events) == 0 {
				// Not kept for the next burst: most sockets are idle.
				s.events = nil
			}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if sig != nil {
			if s.send(*sig) != nil {
				return
			}
			continue
		}
		ps, ok := s.render(f)
		if !ok {
			return
		}
		if len(ps) > 0 && s.send(ps...) != nil {
			return
		}
	}
}

// render is what a fanout sends the socket; false when the socket closed
// meanwhile.
func (s *socket) render(f *fanout) ([]packet, bool) {
	ps, err := f.packets(s)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, false
		}
		// The client misses this change until it reloads or replays: a
		// defect to log, not a reason to stop.
		s.hub.logger().Error("rendering a change for a socket", "event", f.e.ID, "type", f.e.Type,
			"user", s.sess.UserID, "err", err)
	}
	return ps, true
}

// inlineWriteTimeout is how long the hub's tail may wait for a socket's
// connection to take a change (see writeInline): most take it at once.
const inlineWriteTimeout = 100 * time.Microsecond

// writeInline sends an event's change to an idle socket from the hub's
// tail, which routes the events in log order, rather than from a goroutine
// started for it: each message reaches many sockets, and a goroutine each,
// started, scheduled and woken behind the fanout's read, would crowd the
// cores that the API's requests run on. The connection gets the change
// within inlineWriteTimeout, or keeps what it has not taken for the
// socket's own goroutine to send, so that a peer that reads slowly holds
// up no other socket. False when the socket is busy: queue the event.
func (s *socket) writeInline(f *fanout) bool {
	s.mu.Lock()
	// A socket still in its handshake has no connection yet.
	if !s.open || s.closed || s.writing || len(s.events)+len(s.signals) > 0 || s.corked.pending() || !s.writeMu.TryLock() {
		s.mu.Unlock()
		return false
	}
	// Writing, so that what is routed meanwhile queues behind it.
	s.writing = true
	s.mu.Unlock()
	ps, ok := s.render(f)
	if ok && len(ps) > 0 {
		err := s.frames(ps)
		// A timeout leaves the rest pending, for the socket's goroutine.
		if uerr := s.corked.uncork(inlineWriteTimeout); err == nil && !errors.Is(uerr, os.ErrDeadlineExceeded) {
			err = uerr
		}
		if err != nil {
			s.writeMu.Unlock()
			s.close(websocket.StatusGoingAway, "write failed")
			return true
		}
	}
	s.writeMu.Unlock()
	s.mu.Lock()
	s.writing = false
	s.startWriting()
	s.mu.Unlock()
	return true
}

// ping checks that the peer is still there, every pingInterval.
func (s *socket) ping() {
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	err := s.conn.Ping(ctx)
	cancel()
	if err != nil {
		s.close(websocket.StatusGoingAway, "no pong")
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.pinger.Reset(pingInterval)
	}
	s.mu.Unlock()
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
	if len(s.events) > 0 && s.events[0].e.CreatedAt.Before(now) {
		now = s.events[0].e.CreatedAt
	}
	return now
}

// frames holds the buffers packets are framed in, between writes.
var frames = sync.Pool{New: func() any { return new([]byte) }}

// send writes packets, each in its envelope ([P1.1]
// client/websockets/overview.md: type, counter, counting the connection's
// packets from 0, timestamp, when the packet's content happened, see
// stamp, and body), in one write to the connection; an error closes the
// socket. A body marshalled already (json.RawMessage, or a fanout's
// changeJSON), goes as it is.
//
// The frames are corked: the WebSocket library writes each into memory,
// and the connection gets them all at once, within writeTimeout. So no
// write of the library waits on the peer, and it needs no deadline of its
// own, which would cost it a timer per frame.
func (s *socket) send(ps ...packet) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := s.frames(ps)
	if uerr := s.corked.uncork(writeTimeout); err == nil {
		err = uerr
	}
	if err != nil {
		s.close(websocket.StatusGoingAway, "write failed")
	}
	return err
}

// frames writes packets to the corked connection, which holds them until
// uncork. s.writeMu is held.
func (s *socket) frames(ps []packet) error {
	s.corked.cork()
	for _, p := range ps {
		if err := s.frame(p); err != nil {
			return err
		}
	}
	return nil
}

// frame writes one packet in its envelope to the corked connection.
// s.writeMu is held.
func (s *socket) frame(p packet) error {
	if r, ok := p.body.(response); ok {
		if _, ok := r.Data.(counterReply); ok {
			r.Data = map[string]int64{"counter": s.counter - 1}
			p.body = r
		}
	}
	var body, tail []byte
	switch b := p.body.(type) {
	case json.RawMessage:
		body = b
	case changeJSON:
		body, tail = b.head, b.tail
	default:
		var err error
		if body, err = json.Marshal(p.body); err != nil {
			s.hub.logger().Error("encoding a packet", "type", p.typ, "err", err)
			return nil
		}
	}
	buf := frames.Get().(*[]byte)
	defer frames.Put(buf)
	// Neither the type nor the timestamp has anything to escape.
	b := append((*buf)[:0], `{"type":"`...)
	b = append(b, p.typ...)
	b = append(b, `","counter":`...)
	b = strconv.AppendInt(b, s.counter, 10)
	b = append(b, `,"timestamp":"`...)
	b = append(b, herald.FormatTime(s.stamp(p))...)
	b = append(b, `","body":`...)
	b = append(b, body...)
	b = append(b, tail...)
	b = append(b, '}')
	*buf = b
	if err := s.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
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
	if s.pinger != nil {
		s.pinger.Stop()
	}
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
