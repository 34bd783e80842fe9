package clientapi

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layerapi"
)

// fanout is one event on its way to the sockets it was routed to: decoded
// once, and, for the changes that come by the thousand (messages sent,
// their receipts, conversations created), read and rendered once for all
// of them by the first socket that writes it: what each user sees (their
// inbox, what is hidden from them) from the event when it carries it
// (EventData.Inboxes), else in one batched read, the users' identities
// from the event's own snapshot, and each distinct body
// rendered by layerapi's ClientView and marshalled once. A socket adds
// only the envelope. Rarer changes each socket renders itself
// (socket.changes).
type fanout struct {
	hub     *hub
	e       *herald.Event
	d       *herald.EventData
	sockets []*socket

	once sync.Once
	// bodies are the marshalled change bodies of each user's sockets, by
	// version; err is why there are none.
	bodies map[viewerKey][]changeJSON
	err    error
}

// changeJSON is a marshalled change body, sent as head then tail. The
// conversation updates that a message makes differ only in each user's
// unread count, at their very end: they share one head, and each has a
// tail of a few bytes of its own, where a whole body each, with the
// message in it, made most of what a message cost the fan-out in memory.
type changeJSON struct{ head, tail []byte }

type viewerKey struct {
	user    string
	version layerapi.Version
}

func newFanout(h *hub, e *herald.Event, d *herald.EventData, sockets []*socket) *fanout {
	return &fanout{hub: h, e: e, d: d, sockets: sockets}
}

// shared are the event types whose changes a fanout renders for all of its
// sockets at once.
var shared = map[string]bool{
	herald.EventMessageSent: true, herald.EventMessageDelivered: true, herald.EventMessageRead: true,
	herald.EventConversationCreated: true,
	herald.EventIdentityCreated:     true, herald.EventIdentityUpdated: true, herald.EventIdentityDeleted: true,
	herald.EventPresenceUpdated: true,
}

// prepareTimeout bounds a fanout's reads on a shared store, which no one
// socket's life bounds.
const prepareTimeout = 30 * time.Second

// readContext is the context of a fanout's reads. A shared store's cross
// the network, and are bounded by prepareTimeout. A store of this node's
// own (SQLite) answers them from its files, which no timeout would help
// with, and a context that can end costs two goroutines per statement
// there (database/sql and the driver each watch it): at hundreds of
// messages a second, with several statements each, they crowd the run
// queues that the API's requests wait in.
func (h *hub) readContext() (context.Context, context.CancelFunc) {
	if _, shared := h.api.store().(herald.SharedStore); shared {
		return context.WithTimeout(context.Background(), prepareTimeout)
	}
	return context.Background(), func() {}
}

// packets are the change packets the event makes for a socket; none when it
// does not concern its user.
func (f *fanout) packets(s *socket) ([]packet, error) {
	if !shared[f.e.Type] {
		return s.changes(f.e, f.d)
	}
	if f.e.Type == herald.EventPresenceUpdated && !s.isSubscribed() {
		return nil, nil
	}
	f.once.Do(f.prepare)
	if f.err != nil {
		return nil, f.err
	}
	bodies := f.bodies[viewerKey{s.sess.UserID, s.version}]
	if len(bodies) == 0 {
		return nil, nil
	}
	out := make([]packet, len(bodies))
	for i, b := range bodies {
		out[i] = packet{typ: packetChange, body: b, at: f.e.CreatedAt}
	}
	return out, nil
}

// renderer renders the event's objects in one version, each distinct body
// once.
type renderer struct {
	cv *layerapi.ClientView
	// messages are rendered messages, by message and what users see of
	// them differently (layerapi's UserMessageKey).
	messages map[messageKey]json.RawMessage
	// bodies are marshalled change bodies, by what tells them apart.
	bodies map[any]json.RawMessage
}

// messageRef names a message as it renders.
func (r *renderer) messageRef(m *herald.Message) objectRef {
	id, url := r.cv.MessageRef(m.ID)
	return objectRef{Type: "Message", ID: id, URL: url}
}

// messageKey is a message as some users see it: the message as read (the
// event's, the store's) and what users see of it differently.
type messageKey struct {
	m   *herald.Message
	key layerapi.UserMessageKey
}

// userMessage renders a message of uc's conversation as uc's user sees it.
func (r *renderer) userMessage(uc *herald.UserConversation, m *herald.Message) (json.RawMessage, error) {
	k := messageKey{m, r.cv.UserMessageKey(uc, m)}
	if b, ok := r.messages[k]; ok {
		return b, nil
	}
	b, err := json.Marshal(r.cv.UserMessage(uc, m))
	if err != nil {
		return nil, err
	}
	r.messages[k] = b
	return b, nil
}

// body marshals a change body once for every key that names it.
func (r *renderer) body(key any, make func() (changeBody, error)) (json.RawMessage, error) {
	if b, ok := r.bodies[key]; ok {
		return b, nil
	}
	c, err := make()
	if err != nil {
		return nil, err
	}
	b, err := marshalChange(c)
	if err != nil {
		return nil, err
	}
	r.bodies[key] = b
	return b, nil
}

// marshalChange marshals a change body. Data marshalled already (an
// object rendered, as json.Marshal wrote it) goes in as it is: encoding/json
// would check it and copy it once more, which for a message of a few
// kilobytes cost more than the rest of the body.
func marshalChange(c changeBody) (json.RawMessage, error) {
	data, ok := c.Data.(json.RawMessage)
	if !ok {
		return json.Marshal(c)
	}
	b, err := appendChangeHead(make([]byte, 0, len(data)+256), c.Operation, c.Object)
	if err != nil {
		return nil, err
	}
	b = append(b, data...)
	return append(b, '}'), nil
}

// appendChangeHead appends a change body up to its data:
// {"operation":…,"object":…,"data":
func appendChangeHead(b []byte, operation string, object objectRef) ([]byte, error) {
	head, err := json.Marshal(changeBody{Operation: operation, Object: object})
	if err != nil {
		return nil, err
	}
	// What follows "data": is its null and the closing brace.
	return append(b, head[:len(head)-len(`null}`)]...), nil
}

// prepare reads and renders what the event shows the users of its sockets.
func (f *fanout) prepare() {
	ctx, cancel := f.hub.readContext()
	defer cancel()
	f.bodies = map[viewerKey][]changeJSON{}
	// The sockets routed an event are its audience; one replaying the log
	// may not be.
	audience, everyone := audience(f.e, f.d)
	concerned := make(map[string]bool, len(audience))
	for _, u := range audience {
		concerned[u] = true
	}
	var users []string
	versions := map[string][]layerapi.Version{}
	for _, s := range f.sockets {
		u := s.sess.UserID
		if !everyone && !concerned[u] {
			continue
		}
		if f.e.Type == herald.EventPresenceUpdated && !s.isSubscribed() {
			continue
		}
		if _, ok := versions[u]; !ok {
			users = append(users, u)
		}
		if !containsVersion(versions[u], s.version) {
			versions[u] = append(versions[u], s.version)
		}
	}
	if len(users) == 0 {
		return
	}
	renderers := map[layerapi.Version]*renderer{}
	renderFor := func(v layerapi.Version) *renderer {
		r := renderers[v]
		if r == nil {
			cv := layerapi.NewClientView(f.hub.api.srv, ctx, f.e.AppID, v, "")
			knowIdentities(cv, f.e, f.d)
			r = &renderer{cv: cv, messages: map[messageKey]json.RawMessage{}, bodies: map[any]json.RawMessage{}}
			renderers[v] = r
		}
		return r
	}
	each := func(user string, fn func(r *renderer) ([]changeJSON, error)) error {
		for _, v := range versions[user] {
			bodies, err := fn(renderFor(v))
			if err != nil {
				return err
			}
			f.bodies[viewerKey{user, v}] = bodies
		}
		return nil
	}
	switch f.e.Type {
	case herald.EventMessageSent:
		f.err = f.messageSent(ctx, users, each)
	case herald.EventMessageDelivered, herald.EventMessageRead:
		f.err = f.receipt(ctx, users, each)
	case herald.EventConversationCreated:
		f.err = f.conversationCreated(ctx, users, each)
	case herald.EventIdentityCreated, herald.EventIdentityUpdated, herald.EventIdentityDeleted:
		f.err = f.identityChanged(ctx, users, each)
	case herald.EventPresenceUpdated:
		f.err = f.presenceUpdated(ctx, users, each)
	}
}

func containsVersion(vs []layerapi.Version, v layerapi.Version) bool {
	for _, w := range vs {
		if w == v {
			return true
		}
	}
	return false
}

// knowIdentities gives a view the identities of the event's snapshot. The
// snapshot of a message sent holds every participant's and the sender's
// (those without one have none); of other events, only the identities
// found are taken, the others are looked up.
func knowIdentities(cv *layerapi.ClientView, e *herald.Event, d *herald.EventData) {
	if len(d.Identities) > 0 {
		users := make([]string, 0, len(d.Identities))
		for u := range d.Identities {
			users = append(users, u)
		}
		cv.Know(d.Identities, users...)
	}
	if e.Type == herald.EventMessageSent && d.Conversation != nil && d.Message != nil {
		cv.Know(d.Identities, d.Conversation.Participants...)
		cv.Know(d.Identities, d.Message.Sender.UserID)
	}
}

// userConversations reads in one go what a conversation shows each of
// users, and which of them a message is hidden from.
func (f *fanout) userConversations(ctx context.Context, conversationID string, users []string, messageID string) (
	ucs []*herald.UserConversation, hidden map[string]bool, err error) {
	err = f.hub.api.store().View(ctx, func(q herald.Queries) error {
		if ucs, err = q.UserConversationsOf(ctx, f.e.AppID, conversationID, users); err != nil || messageID == "" {
			return err
		}
		from, err := q.MessageHiddenFrom(ctx, f.e.AppID, messageID, users)
		hidden = make(map[string]bool, len(from))
		for _, u := range from {
			hidden[u] = true
		}
		return err
	})
	return ucs, hidden, err
}

// carriedInboxes returns the conversation of a message sent as each of
// users sees it, and whom the message is hidden from, from what its event
// carries: nil when it carries none (EventData.Inboxes).
func (f *fanout) carriedInboxes(users []string) (ucs []*herald.UserConversation, hidden map[string]bool) {
	d := f.d
	if len(d.Inboxes) == 0 || d.Conversation == nil {
		return nil, nil
	}
	wanted := make(map[string]bool, len(users))
	for _, u := range users {
		wanted[u] = true
	}
	ucs = make([]*herald.UserConversation, 0, len(users))
	for _, e := range d.Inboxes {
		if wanted[e.UserID] {
			ucs = append(ucs, &herald.UserConversation{Conversation: d.Conversation, UserID: e.UserID,
				UnreadMessageCount: e.UnreadMessageCount, LastMessage: d.Message, JoinedAt: e.JoinedAt, ActiveAt: d.Message.SentAt})
		}
	}
	if len(d.HiddenFrom) > 0 {
		hidden = make(map[string]bool, len(d.HiddenFrom))
		for _, u := range d.HiddenFrom {
			hidden[u] = true
		}
	}
	return ucs, hidden
}

// messageSent: the message as each participant sees it, and the update it
// makes to their conversation (last_message, unread count).
func (f *fanout) messageSent(ctx context.Context, users []string, each func(string, func(*renderer) ([]changeJSON, error)) error) error {
	m := f.d.Message
	if m == nil || m.Channel != nil {
		return nil
	}
	ucs, hidden := f.carriedInboxes(users)
	if ucs == nil {
		var err error
		if ucs, hidden, err = f.userConversations(ctx, m.ConversationID, users, m.ID); err != nil {
			return err
		}
	}
	for _, uc := range ucs {
		if hidden[uc.UserID] {
			continue
		}
		err := each(uc.UserID, func(r *renderer) ([]changeJSON, error) {
			if err := r.cv.LoadMessages(m); err != nil {
				return nil, err
			}
			if err := r.cv.LoadConversations(uc); err != nil {
				return nil, err
			}
			msg, err := r.userMessage(uc, m)
			if err != nil {
				return nil, err
			}
			create, err := r.body(messageKey{m, r.cv.UserMessageKey(uc, m)}, func() (changeBody, error) {
				return changeBody{Operation: "create", Object: r.messageRef(m), Data: msg}, nil
			})
			if err != nil {
				return nil, err
			}
			// The new message is the last as the event made it, as the
			// create has it, and rendered once for both: what changed it
			// since comes after, in order.
			last := uc.LastMessage
			if last != nil && last.ID == m.ID {
				last = m
			}
			update, err := r.conversationUpdate(uc, last)
			if err != nil {
				return nil, err
			}
			return []changeJSON{{head: create}, update}, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// conversationUpdate is the update a new message makes to its
// conversation for uc's user: last_message, by id and whole, and the
// unread count (the reference's §6.5, observed with the Web SDK). The
// users who see the last message alike share all of it but the count.
func (r *renderer) conversationUpdate(uc *herald.UserConversation, lastMessage *herald.Message) (changeJSON, error) {
	var key lastMessageKey
	if lastMessage != nil {
		key.last = messageKey{lastMessage, r.cv.UserMessageKey(uc, lastMessage)}
	}
	head, ok := r.bodies[key]
	if !ok {
		var last, op []byte
		if lastMessage != nil {
			var err error
			if last, err = r.userMessage(uc, lastMessage); err != nil {
				return changeJSON{}, err
			}
			if op, err = json.Marshal(patchOp{Operation: "set", Property: "last_message", ID: r.messageRef(lastMessage).ID}); err != nil {
				return changeJSON{}, err
			}
		}
		b, err := appendChangeHead(make([]byte, 0, len(op)+len(last)+384), "update", r.conversationRef(uc))
		if err != nil {
			return changeJSON{}, err
		}
		b = append(b, '[')
		if lastMessage != nil {
			// The op up to its value, which is the message as rendered.
			b = append(b, op[:len(op)-1]...)
			b = append(b, `,"value":`...)
			b = append(b, last...)
			b = append(b, "},"...)
		}
		head = append(b, `{"operation":"set","property":"unread_message_count","value":`...)
		r.bodies[key] = head
	}
	tail := strconv.AppendInt(make([]byte, 0, 16), int64(uc.UnreadMessageCount), 10)
	return changeJSON{head: head, tail: append(tail, "}]}"...)}, nil
}

// lastMessageKey tells apart the heads of the conversation updates that a
// new message makes: by the last message as its users see it.
type lastMessageKey struct{ last messageKey }

// conversationRef names a conversation, as it renders for anyone.
func (r *renderer) conversationRef(uc *herald.UserConversation) objectRef {
	id, url := r.cv.ConversationRef(uc.ID)
	return objectRef{Type: "Conversation", ID: id, URL: url}
}

// receipt: the recipient's new status, for everyone the message concerns;
// and, to the reader, their conversation's unread count.
func (f *fanout) receipt(ctx context.Context, users []string, each func(string, func(*renderer) ([]changeJSON, error)) error) error {
	m, reader := f.d.Message, f.d.UserID
	if m == nil || reader == "" {
		return nil
	}
	var readers []*herald.UserConversation
	for _, u := range users {
		if u != reader {
			continue
		}
		// The reader's unread count went down.
		var err error
		if readers, _, err = f.userConversations(ctx, m.ConversationID, []string{reader}, ""); err != nil {
			return err
		}
	}
	for _, u := range users {
		err := each(u, func(r *renderer) ([]changeJSON, error) {
			// The objects are named by id: no identity need be loaded.
			status, err := r.body("status", func() (changeBody, error) {
				idref, err := ref("Identity", r.cv.BasicIdentity(reader))
				if err != nil {
					return changeBody{}, err
				}
				return changeBody{Operation: "update", Object: r.messageRef(m), Data: []setOp{{Operation: "set",
					Property: "recipient_status." + escapeKey(idref.ID), Value: m.RecipientStatus[reader]}}}, nil
			})
			if err != nil {
				return nil, err
			}
			out := []changeJSON{{head: status}}
			if u != reader || len(readers) == 0 {
				return out, nil
			}
			uc := readers[0]
			unread, err := r.body("unread", func() (changeBody, error) {
				return changeBody{Operation: "update", Object: r.conversationRef(uc), Data: []setOp{{Operation: "set",
					Property: "unread_message_count", Value: uc.UnreadMessageCount}}}, nil
			})
			return append(out, changeJSON{head: unread}), err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// conversationCreated: the conversation as each participant sees it now.
func (f *fanout) conversationCreated(ctx context.Context, users []string, each func(string, func(*renderer) ([]changeJSON, error)) error) error {
	c := f.d.Conversation
	if c == nil {
		return nil
	}
	ucs, _, err := f.userConversations(ctx, c.ID, users, "")
	if err != nil {
		return err
	}
	for _, uc := range ucs {
		err := each(uc.UserID, func(r *renderer) ([]changeJSON, error) {
			if err := r.cv.LoadConversations(uc); err != nil {
				return nil, err
			}
			rendered, err := json.Marshal(r.cv.Conversation(uc))
			if err != nil {
				return nil, err
			}
			b, err := marshalChange(changeBody{Operation: "create", Object: r.conversationRef(uc), Data: json.RawMessage(rendered)})
			return []changeJSON{{head: b}}, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// acquainted returns those of users who see the changes of subject's
// identity: subject, and those who follow them or share a conversation
// with them.
func (f *fanout) acquainted(ctx context.Context, subject string, users []string) (seers []string, err error) {
	others := make([]string, 0, len(users))
	for _, u := range users {
		if u == subject {
			seers = append(seers, u)
		} else {
			others = append(others, u)
		}
	}
	if len(others) == 0 {
		return seers, nil
	}
	var known []string
	err = f.hub.api.store().View(ctx, func(q herald.Queries) (err error) {
		known, err = q.AcquaintedWith(ctx, f.e.AppID, subject, others)
		return err
	})
	return append(seers, known...), err
}

// identityChanged: the identity, whole, to those who see it.
func (f *fanout) identityChanged(ctx context.Context, users []string, each func(string, func(*renderer) ([]changeJSON, error)) error) error {
	id := f.d.Identity
	if id == nil {
		return nil
	}
	seers, err := f.acquainted(ctx, id.UserID, users)
	if err != nil {
		return err
	}
	for _, u := range seers {
		err := each(u, func(r *renderer) ([]changeJSON, error) {
			b, err := r.body("identity", func() (changeBody, error) {
				full := r.cv.Identity(id)
				iref, err := ref("Identity", full)
				if err != nil || f.e.Type == herald.EventIdentityDeleted {
					return changeBody{Operation: "delete", Object: iref}, err
				}
				ops, err := identityOps(full)
				return changeBody{Operation: "update", Object: iref, Data: ops}, err
			})
			return []changeJSON{{head: b}}, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

type presenceKey struct{ self bool }

// presenceUpdated: the user's presence to the subscribed sockets of those
// who see it, the status set to the user themself.
func (f *fanout) presenceUpdated(ctx context.Context, users []string, each func(string, func(*renderer) ([]changeJSON, error)) error) error {
	p := f.d.Presence
	if p == nil {
		return nil
	}
	seers, err := f.acquainted(ctx, p.UserID, users)
	if err != nil {
		return err
	}
	for _, u := range seers {
		err := each(u, func(r *renderer) ([]changeJSON, error) {
			b, err := r.body(presenceKey{u == p.UserID}, func() (changeBody, error) { return presenceChange(r.cv, p, u) })
			return []changeJSON{{head: b}}, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
