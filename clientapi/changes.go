package clientapi

import (
	"encoding/json"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layerapi"
)

// Change packets ([P1.1] client/websockets/change-packet.md, 2.0 draft;
// the reference's §6.5): create carries the whole object as the recipient
// sees it, update a Layer-Patch list, delete what the deletion was.

type objectRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	URL  string `json:"url,omitempty"`
}

type changeBody struct {
	Operation string    `json:"operation"`
	Object    objectRef `json:"object"`
	Data      any       `json:"data"`
}

// patchOp is one Layer-Patch operation. Ops on objects (participants,
// last_message) name them by id and give them whole as value, so that the
// SDK's parser finds the object in its cache or makes it (layer-patch).
type patchOp struct {
	Operation string `json:"operation"`
	Property  string `json:"property"`
	ID        string `json:"id,omitempty"`
	Value     any    `json:"value,omitempty"`
}

// setOp sets a property to a value, null included.
type setOp struct {
	Operation string `json:"operation"`
	Property  string `json:"property"`
	Value     any    `json:"value"`
}

// audience names the users an event concerns (everyone: every user of the
// app, each socket deciding for itself, for identity changes whose
// followers only the store knows).
func audience(e *herald.Event, d *herald.EventData) (users []string, everyone bool) {
	switch e.Type {
	case herald.EventMessageSent, herald.EventMessageDelivered, herald.EventMessageRead, herald.EventMessageDeleted,
		herald.EventMessagePartCreated, herald.EventMessagePartUpdated, herald.EventMessagePartDeleted:
		if d.Conversation != nil {
			users = append(users, d.Conversation.Participants...)
		}
		if d.Message != nil {
			for u := range d.Message.RecipientStatus {
				users = append(users, u)
			}
		}
	case herald.EventConversationCreated, herald.EventConversationUpdatedP, herald.EventConversationUpdatedM,
		herald.EventConversationDeleted:
		if d.Conversation != nil {
			users = append(users, d.Conversation.Participants...)
		}
		users = append(users, d.Removed...)
	case herald.EventAnnouncementSent:
		if d.Announcement != nil {
			for u := range d.Announcement.RecipientStatus {
				users = append(users, u)
			}
		}
	case herald.EventMessageDeletedForUser, herald.EventConversationDeletedForUser, herald.EventAnnouncementDeletedForUser,
		herald.EventAnnouncementRead, herald.EventAnnouncementDelivered, herald.EventUserFollowed, herald.EventUserUnfollowed:
		users = []string{d.UserID}
	case herald.EventIdentityCreated, herald.EventIdentityUpdated, herald.EventIdentityDeleted, herald.EventPresenceUpdated:
		return nil, true
	}
	return users, false
}

// concerns reports whether an event concerns a user, as audience has it.
func concerns(e *herald.Event, d *herald.EventData, user string) bool {
	users, everyone := audience(e, d)
	if everyone {
		return true
	}
	for _, u := range users {
		if u == user {
			return true
		}
	}
	return false
}

// ref names a rendered object in a change packet, by the id and url it
// was rendered with.
func ref(typ string, rendered any) (objectRef, error) {
	b, err := json.Marshal(rendered)
	if err != nil {
		return objectRef{}, err
	}
	var r objectRef
	if err := json.Unmarshal(b, &r); err != nil {
		return objectRef{}, err
	}
	r.Type = typ
	return r, nil
}

// escapeKey escapes a Layer-Patch path segment: a dot in an identity id
// used as a key ("recipient_status.layer:///identities/fred\.flinstone",
// [P2.0 draft] client/websockets/change-packet.md).
func escapeKey(k string) string { return strings.ReplaceAll(k, ".", `\.`) }

func change(op string, obj objectRef, data any, at packet) packet {
	at.typ, at.body = packetChange, changeBody{Operation: op, Object: obj, Data: data}
	return at
}

// changes renders the change packets an event makes for the socket's
// user, but those a fanout renders for all sockets at once (shared); none
// when it does not concern them.
func (s *socket) changes(e *herald.Event, d *herald.EventData) ([]packet, error) {
	viewer := s.sess.UserID
	if !concerns(e, d, viewer) {
		return nil, nil
	}
	ctx, app := s.ctx, s.sess.AppID
	svc := s.hub.api.service()
	cv := layerapi.NewClientView(s.hub.api.srv, ctx, app, s.version, viewer)
	knowIdentities(cv, e, d)
	at := packet{at: e.CreatedAt}

	switch e.Type {
	case herald.EventMessageDeleted, herald.EventMessageDeletedForUser:
		if d.Message == nil {
			return nil, nil
		}
		mref, err := ref("Message", cv.Message(d.Message))
		if err != nil {
			return nil, err
		}
		mode := "all_participants"
		if e.Type == herald.EventMessageDeletedForUser {
			mode = "my_devices"
		}
		return []packet{change("delete", mref, map[string]any{"mode": mode}, at)}, nil

	case herald.EventMessagePartCreated, herald.EventMessagePartUpdated, herald.EventMessagePartDeleted:
		return s.partChanges(e, d, cv, at)

	case herald.EventConversationUpdatedP:
		c := d.Conversation
		if c == nil {
			return nil, nil
		}
		for _, u := range d.Added {
			if u == viewer {
				// New to the viewer: the whole conversation.
				return s.conversationCreate(cv, c, at)
			}
		}
		if err := cv.LoadUsers(append(append([]string{}, d.Added...), d.Removed...)...); err != nil {
			return nil, err
		}
		cref, err := ref("Conversation", cv.Conversation(&herald.UserConversation{Conversation: c, UserID: viewer}))
		if err != nil {
			return nil, err
		}
		var ops []patchOp
		for _, u := range d.Added {
			b := cv.BasicIdentity(u)
			idref, err := ref("Identity", b)
			if err != nil {
				return nil, err
			}
			ops = append(ops, patchOp{Operation: "add", Property: "participants", ID: idref.ID, Value: b})
		}
		for _, u := range d.Removed {
			idref, err := ref("Identity", cv.BasicIdentity(u))
			if err != nil {
				return nil, err
			}
			ops = append(ops, patchOp{Operation: "remove", Property: "participants", ID: idref.ID})
		}
		if len(ops) == 0 {
			return nil, nil
		}
		return []packet{change("update", cref, ops, at)}, nil

	case herald.EventConversationUpdatedM:
		c := d.Conversation
		if c == nil || !c.HasParticipant(viewer) {
			return nil, nil
		}
		cref, err := ref("Conversation", cv.Conversation(&herald.UserConversation{Conversation: c, UserID: viewer}))
		if err != nil {
			return nil, err
		}
		var meta any = map[string]any{}
		if len(c.Metadata) > 0 {
			meta = c.Metadata
		}
		return []packet{change("update", cref, []setOp{{Operation: "set", Property: "metadata", Value: meta}}, at)}, nil

	case herald.EventConversationDeleted, herald.EventConversationDeletedForUser:
		c := d.Conversation
		if c == nil {
			return nil, nil
		}
		cref, err := ref("Conversation", cv.Conversation(&herald.UserConversation{Conversation: c, UserID: viewer}))
		if err != nil {
			return nil, err
		}
		// my_devices with from_position: the SDK drops the messages up to
		// it and keeps the conversation (the reference's §6.5).
		data := map[string]any{"mode": "all_participants", "from_position": nil}
		if e.Type == herald.EventConversationDeletedForUser {
			data = map[string]any{"mode": "my_devices", "from_position": c.LastPosition}
		}
		return []packet{change("delete", cref, data, at)}, nil

	case herald.EventAnnouncementSent:
		a := d.Announcement
		if a == nil {
			return nil, nil
		}
		if err := cv.LoadAnnouncements(a); err != nil {
			return nil, err
		}
		rendered := cv.Announcement(a)
		aref, err := ref("Announcement", rendered)
		if err != nil {
			return nil, err
		}
		return []packet{change("create", aref, rendered, at)}, nil

	case herald.EventAnnouncementRead, herald.EventAnnouncementDelivered, herald.EventAnnouncementDeletedForUser:
		a := d.Announcement
		if a == nil {
			return nil, nil
		}
		aref, err := ref("Announcement", cv.Announcement(a))
		if err != nil {
			return nil, err
		}
		if e.Type == herald.EventAnnouncementDeletedForUser {
			return []packet{change("delete", aref, map[string]any{}, at)}, nil
		}
		idref, err := ref("Identity", cv.BasicIdentity(viewer))
		if err != nil {
			return nil, err
		}
		return []packet{change("update", aref, []setOp{{Operation: "set",
			Property: "recipient_status." + escapeKey(idref.ID), Value: a.RecipientStatus[viewer]}}, at)}, nil

	case herald.EventUserFollowed, herald.EventUserUnfollowed:
		var out []packet
		users := d.Added
		if e.Type == herald.EventUserUnfollowed {
			users = d.Removed
		}
		for _, u := range users {
			if e.Type == herald.EventUserUnfollowed {
				iref, err := ref("Identity", cv.BasicIdentity(u))
				if err != nil {
					return nil, err
				}
				out = append(out, change("delete", iref, nil, at))
				continue
			}
			id, err := svc.Identity(ctx, app, u)
			if herald.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			full := cv.Identity(id)
			iref, err := ref("Identity", full)
			if err != nil {
				return nil, err
			}
			out = append(out, change("create", iref, full, at))
		}
		return out, nil
	}
	return nil, nil
}

// conversationCreate is the create of a conversation, as the viewer sees it
// now.
func (s *socket) conversationCreate(cv *layerapi.ClientView, c *herald.Conversation, at packet) ([]packet, error) {
	if c == nil {
		return nil, nil
	}
	uc, err := s.hub.api.service().UserConversation(s.ctx, s.sess.AppID, s.sess.UserID, c.ID)
	if herald.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := cv.LoadConversations(uc); err != nil {
		return nil, err
	}
	rendered := cv.Conversation(uc)
	cref, err := ref("Conversation", rendered)
	if err != nil {
		return nil, err
	}
	return []packet{change("create", cref, rendered, at)}, nil
}

// identityOps sets each property of a full identity, as rendered, but
// those that name it.
func identityOps(full any) ([]setOp, error) {
	b, err := json.Marshal(full)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	var ops []setOp
	for _, k := range sortedKeys(fields) {
		switch k {
		case "id", "url", "user_id":
			continue
		}
		ops = append(ops, setOp{Operation: "set", Property: k, Value: fields[k]})
	}
	return ops, nil
}

// presenceChange is an Identity update with the presence a viewer sees:
// the status set for the user themself (invisible included), what others
// see otherwise ("invisible … appears as offline", Layer's presence docs).
// The Web SDK reads presence only from these two ops (identity.js).
func presenceChange(cv *layerapi.ClientView, p *herald.Presence, viewer string) (changeBody, error) {
	iref, err := ref("Identity", cv.BasicIdentity(p.UserID))
	if err != nil {
		return changeBody{}, err
	}
	status := p.Shown()
	if p.UserID == viewer && p.Status != "" {
		status = p.Status
	}
	var seen any
	if p.LastSeenAt != nil {
		seen = herald.FormatTime(*p.LastSeenAt)
	}
	return changeBody{Operation: "update", Object: iref, Data: []setOp{
		{Operation: "set", Property: "presence.status", Value: status},
		{Operation: "set", Property: "presence.last_seen_at", Value: seen}}}, nil
}

// partChanges renders a change of one part of a message after its send,
// for 3.0 sockets: 3.0 made parts objects with ids of their own, which the
// Web XDK patches as Layer sent them (its layer-parser.js and models'
// _handlePatchEvent): a part added or removed is an update of the
// message's parts naming the part by id, a part changed an update of the
// MessagePart itself. A 2.0 socket names parts by index, which a change
// of parts renumbers; it learns of them when it reads the message again.
func (s *socket) partChanges(e *herald.Event, d *herald.EventData, cv *layerapi.ClientView, at packet) ([]packet, error) {
	if s.version != layerapi.V30 || d.Message == nil || d.Part == nil {
		return nil, nil
	}
	hidden, err := s.hub.api.messageHidden(s.ctx, s.sess.AppID, d.Message.ID, s.sess.UserID)
	if err != nil || hidden {
		return nil, err
	}
	if err := cv.LoadMessages(d.Message); err != nil {
		return nil, err
	}
	var rendered struct {
		objectRef
		Parts     []json.RawMessage `json:"parts"`
		UpdatedAt *string           `json:"updated_at"`
	}
	b, err := json.Marshal(cv.Message(d.Message))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &rendered); err != nil {
		return nil, err
	}
	mref := objectRef{Type: "Message", ID: rendered.ID, URL: rendered.URL}
	partID := rendered.ID + "/parts/" + d.Part.ID
	var part json.RawMessage
	for _, raw := range rendered.Parts {
		var p struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &p) == nil && p.ID == partID {
			part = raw
		}
	}
	var updatedAt any
	if rendered.UpdatedAt != nil {
		updatedAt = *rendered.UpdatedAt
	}
	switch e.Type {
	case herald.EventMessagePartCreated:
		if part == nil {
			return nil, nil
		}
		return []packet{change("update", mref, []any{
			patchOp{Operation: "add", Property: "parts", ID: partID, Value: part},
			setOp{Operation: "set", Property: "updated_at", Value: updatedAt},
		}, at)}, nil
	case herald.EventMessagePartDeleted:
		return []packet{change("update", mref, []any{
			patchOp{Operation: "remove", Property: "parts", ID: partID},
			setOp{Operation: "set", Property: "updated_at", Value: updatedAt},
		}, at)}, nil
	}
	if part == nil {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(part, &fields); err != nil {
		return nil, err
	}
	var ops []any
	for _, name := range []string{"mime_type", "body", "encoding", "content", "updated_at"} {
		if v, ok := fields[name]; ok {
			ops = append(ops, setOp{Operation: "set", Property: name, Value: v})
		} else if name == "body" || name == "content" {
			// A part turned from inline to rich content, or back.
			ops = append(ops, setOp{Operation: "set", Property: name, Value: nil})
		}
	}
	return []packet{change("update", objectRef{Type: "MessagePart", ID: partID, URL: mref.URL + "/parts/" + d.Part.ID}, ops, at)}, nil
}
