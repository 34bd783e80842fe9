package clientapi

import (
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
)

// Requests and responses ([P1.1] client/websockets/request-packet.md; the
// reference's §6.4): a response echoes request_id and method, and carries
// the result or Layer's error object in data.

type request struct {
	Method    string          `json:"method"`
	RequestID string          `json:"request_id"`
	ObjectID  string          `json:"object_id"`
	Data      json.RawMessage `json:"data"`
}

type response struct {
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	Success   bool   `json:"success"`
	Data      any    `json:"data"`
}

// counterReply marks the data of Counter.read's response: the counter of
// the last packet sent before it, known only as it is written.
type counterReply struct{}

// failure is a request's answer when it fails: Layer's error object, whose
// data may be an object the client adopts (id_in_use, conflict).
type failure struct {
	err  error
	data any
}

// read reads the client's packets until the socket closes.
func (s *socket) read() {
	defer s.close(websocket.StatusNormalClosure, "")
	for {
		typ, b, err := s.conn.Read(s.ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var p struct {
			Type string          `json:"type"`
			Body json.RawMessage `json:"body"`
		}
		if json.Unmarshal(b, &p) != nil {
			continue
		}
		switch p.Type {
		case packetRequest:
			var req request
			if err := json.Unmarshal(p.Body, &req); err != nil {
				s.respond(request{}, nil, &failure{err: herald.Errorf(herald.EInvalidRequest, "A request's body must be an object.")})
				continue
			}
			data, f := s.handle(req)
			if s.respond(req, data, f) != nil {
				return
			}
		case packetSignal:
			s.relaySignal(p.Body)
		}
	}
}

func (s *socket) respond(req request, data any, f *failure) error {
	r := response{RequestID: req.RequestID, Method: req.Method, Success: f == nil, Data: data}
	if f != nil {
		r.Data = s.hub.api.errorObject(f)
	}
	return s.send(packet{typ: packetResponse, body: r})
}

// errorObject renders an error as Layer's error object, as the HTTP API
// answers it.
func (a *API) errorObject(f *failure) map[string]any {
	e, ok := herald.AsError(f.err)
	if !ok {
		a.logger().Error("WebSocket request failed", "err", f.err)
		e = herald.Errorf(herald.EInternal, "Herald could not complete the request; the server log has the details.")
	}
	out := map[string]any{"id": e.ID, "code": e.Code(), "message": e.Message, "url": a.srv.URLs.Base + "/errors#" + string(e.ID)}
	if f.data != nil {
		out["data"] = f.data
	} else if len(e.Data) > 0 {
		out["data"] = e.Data
	}
	return out
}

func fail(err error) (any, *failure) { return nil, &failure{err: err} }

func (s *socket) handle(req request) (any, *failure) {
	switch req.Method {
	case "Counter.read":
		return counterReply{}, nil
	case "Presence.subscribe":
		s.mu.Lock()
		s.subscribed = true
		s.mu.Unlock()
		return nil, nil
	case "Presence.update":
		return s.presenceUpdate(req.Data)
	case "Presence.sync":
		return s.presenceSync(req.Data)
	case "Message.create":
		return s.messageCreate(req)
	case "Conversation.create":
		return s.conversationCreateRequest(req.Data)
	case "Event.replay":
		return s.replay(req.Data)
	case "Channel.create":
		// Herald's conversations are Layer's; its channels are contacts'
		// conversations, not Layer's Channels (the reference's §5.11).
		return fail(herald.Errorf(herald.EInvalidEndpoint, "Herald has no Layer channels; create a conversation instead."))
	}
	return fail(herald.Errorf(herald.EInvalidEndpoint, "The WebSocket has no method %q.", req.Method))
}

func (s *socket) isSubscribed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribed
}

func decodeData(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return herald.PropertyError(herald.EMissingProperty, "data", "The request needs data.")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return herald.PropertyError(herald.EInvalidProperty, "data", "The request's data is not what the method takes: %v.", err)
	}
	return nil
}

// localObjectID takes a client-chosen Layer id (layer:///messages/<uuid>)
// as the object's id: a UUID, which the object keeps (the reference's
// §1.2).
func localObjectID(property, id, prefix string) (string, error) {
	if id == "" {
		return "", nil
	}
	u, err := uuid.Parse(herald.LocalID(id, prefix))
	if err != nil || !strings.HasPrefix(id, prefix) {
		return "", herald.PropertyError(herald.EInvalidProperty, property, "id must be %s<uuid>, not %q.", prefix, id)
	}
	return u.String(), nil
}

// userID is the user an identity id names; the Web SDK percent-encodes
// user ids in identity ids (encodeURIComponent).
func userID(id string) string {
	u := herald.LocalID(id, herald.IdentityIDPrefix)
	if dec, err := url.PathUnescape(u); err == nil {
		return dec
	}
	return u
}

func (s *socket) view(ctx context.Context) *layerapi.ClientView {
	return layerapi.NewClientView(s.hub.api.srv, ctx, s.sess.AppID, s.version, s.sess.UserID)
}

// userConversation is a conversation as the socket's user sees it; one they
// deleted from their devices they see as it is.
func (s *socket) userConversation(c *herald.Conversation) (*herald.UserConversation, error) {
	uc, err := s.hub.api.service().UserConversation(s.ctx, s.sess.AppID, s.sess.UserID, c.ID)
	if herald.IsNotFound(err) {
		return &herald.UserConversation{Conversation: c, UserID: s.sess.UserID}, nil
	}
	return uc, err
}

// messageCreate sends a message as the socket's user, under the id the
// client chose, as the Client API proxy's send does: a retry of a send
// that went through finds the message (id_in_use, with it as data, which
// the SDK takes for success; the reference's §4 and §5.10).
func (s *socket) messageCreate(req request) (any, *failure) {
	var in struct {
		ID           string                `json:"id"`
		Parts        []messaging.PartInput `json:"parts"`
		Notification json.RawMessage       `json:"notification"`
	}
	if err := decodeData(req.Data, &in); err != nil {
		return fail(err)
	}
	if strings.HasPrefix(req.ObjectID, "layer:///channels/") {
		return fail(herald.NotFound("channel", req.ObjectID))
	}
	if req.ObjectID == "" {
		return fail(herald.PropertyError(herald.EMissingProperty, "object_id", "object_id names the conversation to send to."))
	}
	id, err := localObjectID("id", in.ID, herald.MessageIDPrefix)
	if err != nil {
		return fail(err)
	}
	svc := s.hub.api.service()
	m, replay, err := svc.SendMessageAs(s.ctx, s.sess.AppID, s.sess.UserID, herald.LocalID(req.ObjectID, herald.ConversationIDPrefix),
		messaging.MessageInput{Parts: in.Parts, Notification: in.Notification}, id)
	if err != nil {
		return fail(err)
	}
	uc, err := svc.UserConversation(s.ctx, s.sess.AppID, s.sess.UserID, m.ConversationID)
	if err != nil && !herald.IsNotFound(err) {
		return fail(err)
	}
	cv := s.view(s.ctx)
	if err := cv.LoadMessages(m); err != nil {
		return fail(err)
	}
	var rendered any
	if uc != nil {
		rendered = cv.UserMessage(uc, m)
	} else {
		rendered = cv.Message(m)
	}
	if replay {
		return nil, &failure{err: herald.Errorf(herald.EIDInUse, "A message with id %s was sent already.", in.ID), data: rendered}
	}
	return rendered, nil
}

// conversationCreateRequest creates a conversation as the socket's user
// under the id the client chose. A distinct conversation of the same
// participants is the answer when there is one (the SDK reports it as
// Found); with other metadata it is a conflict with that conversation as
// data (FoundMismatch); a retry of a create that went through is id_in_use
// with the conversation (the reference's §6.4).
func (s *socket) conversationCreateRequest(raw json.RawMessage) (any, *failure) {
	var in struct {
		ID           string          `json:"id"`
		Participants []string        `json:"participants"`
		Distinct     *bool           `json:"distinct"`
		Metadata     json.RawMessage `json:"metadata"`
	}
	if err := decodeData(raw, &in); err != nil {
		return fail(err)
	}
	id, err := localObjectID("id", in.ID, herald.ConversationIDPrefix)
	if err != nil {
		return fail(err)
	}
	ci := messaging.ConversationInput{Distinct: in.Distinct, RequestID: id}
	if in.Participants != nil {
		ci.Participants = make([]string, len(in.Participants))
		for i, p := range in.Participants {
			ci.Participants[i] = userID(p)
		}
	}
	if string(in.Metadata) != "null" {
		ci.Metadata = in.Metadata
	}
	c, created, err := s.hub.api.service().CreateConversationAs(s.ctx, s.sess.AppID, s.sess.UserID, ci)
	if e, ok := herald.AsError(err); ok && e.ID == herald.EConflict {
		if existing, ok := e.Data["conversation"].(*herald.Conversation); ok {
			rendered, rerr := s.renderConversation(existing)
			if rerr != nil {
				return fail(rerr)
			}
			return nil, &failure{err: herald.Errorf(herald.EConflict, "%s", e.Message), data: rendered}
		}
	}
	if err != nil {
		return fail(err)
	}
	rendered, err := s.renderConversation(c)
	if err != nil {
		return fail(err)
	}
	if !created && id != "" && c.ID == id {
		return nil, &failure{err: herald.Errorf(herald.EIDInUse, "A conversation with id %s exists already.", in.ID), data: rendered}
	}
	return rendered, nil
}

func (s *socket) renderConversation(c *herald.Conversation) (any, error) {
	uc, err := s.userConversation(c)
	if err != nil {
		return nil, err
	}
	cv := s.view(s.ctx)
	if err := cv.LoadConversations(uc); err != nil {
		return nil, err
	}
	return cv.Conversation(uc), nil
}

// replaySkew reaches back before from_timestamp: events are stamped as
// their transaction runs and committed a moment later, so one may reach
// the log after an event stamped later was sent. What was sent already
// comes again, which the SDK takes as it is: creates and sets are
// idempotent (the reference's §6.3).
const replaySkew = 2 * time.Second

// replay re-sends, as change packets, every change for the user since
// from_timestamp, then answers ([P1.1] client/websockets/recovery.md).
func (s *socket) replay(raw json.RawMessage) (any, *failure) {
	var in struct {
		From string `json:"from_timestamp"`
	}
	if err := decodeData(raw, &in); err != nil {
		return fail(err)
	}
	from, err := time.Parse(time.RFC3339Nano, in.From)
	if err != nil {
		return fail(herald.PropertyError(herald.EInvalidProperty, "from_timestamp", "from_timestamp must be an ISO 8601 time, not %q.", in.From))
	}
	until := s.hub.now().Add(time.Millisecond)
	var after int64
	for {
		var events []*herald.Event
		err := s.hub.api.store().View(s.ctx, func(q herald.Queries) (err error) {
			events, err = q.EventsBetween(s.ctx, s.sess.AppID, from.Add(-replaySkew), until, after, tailBatch)
			return err
		})
		if err != nil {
			return fail(err)
		}
		for _, e := range events {
			after = e.Seq
			d, err := e.DecodeData()
			if err != nil {
				return fail(err)
			}
			ps, err := newFanout(s.hub, e, d, []*socket{s}).packets(s)
			if err != nil {
				return fail(err)
			}
			if len(ps) > 0 {
				if err := s.send(ps...); err != nil {
					return fail(err)
				}
			}
		}
		if len(events) < tailBatch {
			return nil, nil
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
