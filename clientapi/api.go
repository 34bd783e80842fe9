package clientapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
)

// API serves the Client API's WebSocket. It is a heraldhttp.API: pass it to
// heraldhttp.New beside layerapi.API.
type API struct {
	// Node names this node's sockets among the nodes sharing the store; a
	// new random name when empty.
	Node string
	// QueueSize bounds what may wait to be sent to one socket (events to
	// render, signals); a socket further behind is closed. DefaultQueueSize
	// when 0.
	QueueSize int

	srv      *heraldhttp.Server
	hub      *hub
	nodeOnce sync.Once
}

// DefaultQueueSize is a socket's queue by default: far more than a person's
// conversations produce while a healthy connection writes.
const DefaultQueueSize = 1024

// Subprotocols of the Client API's WebSocket and the versions they speak
// (the reference's §6.1 and §10: layer-websdk offers layer-2.0, the Web
// XDK layer-3.0).
var subprotocols = map[string]layerapi.Version{"layer-2.0": layerapi.V20, "layer-3.0": layerapi.V30}

// Routes registers the socket's paths: the server's root, as the Web SDK
// reaches it when its websocketUrl is the API's url, and /websocket, as
// Layer's 2.0 docs named it. Only the root itself: every other path stays
// the catch-all's.
func (a *API) Routes(s *heraldhttp.Server) {
	a.srv = s
	a.hub = newHub(a)
	s.Metrics.CountSockets(a.hub.open)
	// This node's commits wake the tail at once; the store tells it of the
	// other nodes' (see hub.start).
	prev := s.Service.Notify
	s.Service.Notify = func() {
		if prev != nil {
			prev()
		}
		a.hub.notify()
	}
	watching := s.Service.Watching
	s.Service.Watching = func(app string, users []string) bool {
		return a.hub.watching(app, users) || watching != nil && watching(app, users)
	}
	for _, p := range []string{"GET /{$}", "GET /websocket", "GET /websocket/{$}"} {
		s.HandleOpen(p, a.root)
	}
}

// Close closes every socket of this node and stops following the log.
func (a *API) Close() {
	if a.hub != nil {
		a.hub.close()
	}
}

// ConnectedUsers returns those of userIDs who have a socket open on any
// live node: those a push notification need not reach.
func (a *API) ConnectedUsers(ctx context.Context, appID string, userIDs []string) ([]string, error) {
	return a.service().ConnectedUsers(ctx, appID, userIDs)
}

func (a *API) service() *messaging.Service { return a.srv.Service }
func (a *API) store() herald.Store         { return a.srv.Service.Store }
func (a *API) logger() *slog.Logger        { return a.srv.Logger }

func (a *API) now() time.Time {
	if a.srv.Service.Now != nil {
		return a.srv.Service.Now()
	}
	return time.Now()
}

func (a *API) queueSize() int {
	if a.QueueSize > 0 {
		return a.QueueSize
	}
	return DefaultQueueSize
}

func (a *API) node() string {
	a.nodeOnce.Do(func() {
		if a.Node == "" {
			a.Node = uuid.NewString()
		}
	})
	return a.Node
}

// root serves GET / and /websocket: a WebSocket upgrade opens a socket;
// ?action=validateConnectionForWebsocket is the Web SDK's check, before it
// reconnects, that its session still holds (the reference's §3: 2xx, or 401
// with a nonce that starts the challenge).
func (a *API) root(w http.ResponseWriter, r *http.Request) error {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return a.upgrade(w, r)
	}
	if r.URL.Query().Get("action") == "validateConnectionForWebsocket" {
		if _, err := a.srv.Authenticated(r, sessionToken(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return herald.Errorf(herald.EInvalidEndpoint,
		"The endpoint '%s %s' takes WebSocket upgrades, and ?action=validateConnectionForWebsocket.", r.Method, r.URL.Path)
}

// sessionToken is the socket's session token: the session_token query
// parameter, as the Web SDK sends it, or the Authorization header, which
// Layer's docs also allowed on the upgrade.
func sessionToken(r *http.Request) string {
	if t := r.URL.Query().Get("session_token"); t != "" {
		return t
	}
	return heraldhttp.SessionToken(r)
}

// offeredSubprotocol picks, of the subprotocols the client offers, the
// first Herald speaks.
func offeredSubprotocol(r *http.Request) (string, bool) {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			p = strings.TrimSpace(p)
			if _, ok := subprotocols[p]; ok {
				return p, true
			}
		}
	}
	return "", false
}

func (a *API) upgrade(w http.ResponseWriter, r *http.Request) error {
	proto, ok := offeredSubprotocol(r)
	if !ok {
		return herald.Errorf(herald.EInvalidRequest,
			"The Client API's WebSocket speaks the subprotocols layer-2.0 and layer-3.0; offer one in Sec-WebSocket-Protocol.")
	}
	sess, err := a.srv.Authenticated(r, sessionToken(r))
	if err != nil {
		return err
	}
	if err := a.hub.start(r.Context()); err != nil {
		return err
	}
	// The server's deadlines bound requests, not a socket's life: each
	// write of the socket has its own (writeTimeout).
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	var since int64
	if err := a.store().View(r.Context(), func(q herald.Queries) (err error) {
		since, err = q.LastEventSeq(r.Context())
		return err
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &socket{hub: a.hub, sess: sess, version: subprotocols[proto], since: since, ctx: ctx, cancel: cancel}
	// Registered before the handshake ends, so that every change committed
	// once the client sees the socket open reaches it: what comes in
	// meanwhile waits in its queue.
	n := a.hub.register(s)
	// The session token authenticates the socket, not cookies, so a page
	// of another origin opening it gains nothing a script holding the
	// token would not have: Layer's socket took any origin, as browsers
	// running the Web SDK on the app's own site need.
	cw := &corkingWriter{ResponseWriter: w}
	conn, err := websocket.Accept(cw, r, &websocket.AcceptOptions{Subprotocols: []string{proto}, InsecureSkipVerify: true})
	if err != nil {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		cancel()
		a.hub.unregister(s)
		return nil // Accept answered.
	}
	conn.SetReadLimit(heraldhttp.MaxBodySize)
	if s.opened(conn, cw.conn) {
		// Its session ended, or it fell behind, during the handshake.
		conn.Close(websocket.StatusPolicyViolation, "closed")
		return nil
	}
	if err := a.service().SetSockets(ctx, a.node(), sess.AppID, sess.UserID, n); err != nil {
		a.logger().ErrorContext(ctx, "recording a socket", "user", sess.UserID, "err", err)
	}
	expiry := time.AfterFunc(sess.ExpiresAt.Sub(a.now()), func() { s.close(websocket.StatusPolicyViolation, "session expired") })
	// Read by a goroutine of its own, and the request's ends: its stack,
	// grown deep in the server's handlers, and the request would be kept
	// for the socket's whole life (some 12 KiB a socket).
	go func() {
		defer expiry.Stop()
		s.read()
	}()
	return nil
}

// socketClosed records, once a socket closed, how many sockets its user
// still has on this node: with none on any node, they go offline.
func (a *API) socketClosed(s *socket, left int) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.service().SetSockets(ctx, a.node(), s.sess.AppID, s.sess.UserID, left); err != nil {
			a.logger().Error("recording a closed socket", "user", s.sess.UserID, "err", err)
		}
	}()
}

// touchSockets says that this node's sockets are still open, and closes
// those whose session ended by the clock.
func (a *API) touchSockets(ctx context.Context) error {
	now := a.now()
	for _, s := range a.hub.all() {
		if !s.sess.ExpiresAt.After(now) {
			s.close(websocket.StatusPolicyViolation, "session expired")
		}
	}
	return a.service().TouchSockets(ctx, a.node())
}

func (a *API) forgetDeadSockets(ctx context.Context) error {
	return a.service().ForgetDeadSockets(ctx)
}

// messageHidden reports whether a message is hidden from a user (blocks,
// deletion from their devices).
func (a *API) messageHidden(ctx context.Context, app, messageID, user string) (hidden bool, err error) {
	err = a.store().View(ctx, func(q herald.Queries) error {
		hidden, err = q.MessageHidden(ctx, app, messageID, user)
		return err
	})
	return hidden, err
}
