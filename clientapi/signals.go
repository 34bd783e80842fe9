package clientapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layerapi"
)

// Typing indicators ([P2.0 draft] client/websockets/signal-packet.md; the
// reference's §6.7): a client tells the server it started, paused or
// finished typing in a conversation; the server relays the signal to the
// conversation's other participants with data.sender, the typist's Basic
// Identity. Signals are not stored: a node relays them to its sockets, and
// through the store's SignalBus to the other nodes'.

type signalIn struct {
	Type   string `json:"type"`
	Object struct {
		ID string `json:"id"`
	} `json:"object"`
	Data struct {
		Action string `json:"action"`
	} `json:"data"`
}

// relayedSignal is a signal on its way between nodes: who typed where,
// and the users to tell.
type relayedSignal struct {
	App          string   `json:"app"`
	Sender       string   `json:"sender"`
	Conversation string   `json:"conversation"`
	Action       string   `json:"action"`
	Users        []string `json:"users"`
}

var typingActions = map[string]bool{"started": true, "paused": true, "finished": true}

// relaySignal relays a typing indicator from the socket's user, who must
// take part in the conversation; other signals, and malformed ones, are
// dropped, as signals have no response to carry an error.
func (s *socket) relaySignal(raw json.RawMessage) {
	var in signalIn
	if json.Unmarshal(raw, &in) != nil || in.Type != "typing_indicator" || !typingActions[in.Data.Action] {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	c, err := s.hub.api.service().UserConversation(ctx, s.sess.AppID, s.sess.UserID, herald.LocalID(in.Object.ID, herald.ConversationIDPrefix))
	if err != nil {
		return
	}
	sig := relayedSignal{App: s.sess.AppID, Sender: s.sess.UserID, Conversation: c.ID, Action: in.Data.Action}
	for _, u := range c.Participants {
		if u != s.sess.UserID {
			sig.Users = append(sig.Users, u)
		}
	}
	s.hub.deliverSignal(sig)
	if bus, ok := s.hub.api.store().(herald.SignalBus); ok {
		b, err := json.Marshal(sig)
		if err == nil {
			err = bus.Signal(ctx, b)
		}
		if err != nil && s.ctx.Err() == nil {
			s.hub.logger().Error("relaying a signal to the other nodes", "err", err)
		}
	}
}

// receiveSignal takes a signal another node relayed.
func (h *hub) receiveSignal(payload []byte) {
	var sig relayedSignal
	if json.Unmarshal(payload, &sig) != nil {
		return
	}
	h.deliverSignal(sig)
}

// deliverSignal hands a signal to this node's sockets of its users. The
// sender and the conversation render alike in 2.0 and 3.0, so once for
// all of them.
func (h *hub) deliverSignal(sig relayedSignal) {
	sockets := h.userSockets(sig.App, sig.Users, false)
	if len(sockets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cv := layerapi.NewClientView(h.api.srv, ctx, sig.App, layerapi.V20, "")
	if err := cv.LoadUsers(sig.Sender); err != nil {
		h.logger().Error("looking up a typist's identity", "err", err)
	}
	conv, err := ref("Conversation", cv.Conversation(&herald.UserConversation{
		Conversation: &herald.Conversation{ID: sig.Conversation, AppID: sig.App}}))
	if err != nil {
		return
	}
	body := map[string]any{
		"type":   "typing_indicator",
		"object": conv,
		"data":   map[string]any{"action": sig.Action, "sender": cv.BasicIdentity(sig.Sender)},
	}
	for _, s := range sockets {
		s.enqueueSignal(packet{typ: packetSignal, body: body})
	}
}
