package layer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Payload version 3.0 is what Layer's last docs (docs.layer.com) offered,
// and the version Layer's own tooling registered. Its sources, named in the
// comments below:
//
//   - [S3] docs.layer.com/reference/webhooks/: payloads (headers, the
//     request body's common fields), message.obj, messagepart.obj.
//   - [PV] preview-docs.layer.com/reference/webhooks/: changelog (Release
//     v3.0: MessagePart.created/updated/deleted and part ids
//     layer:///messages/<uuid>/parts/<uuid>; Release v2.0 GA: event.actor
//     "moved up a level", receipts "part of Receipt.created event ... based
//     on a message position"), webhook.obj (events such as
//     "Message.created", "Conversation.created").
//   - [INT] Layer's own integrations, on GitHub under xircleag:
//     layer-integrations (src/api.js registers {"version": "3.0", "events":
//     <the integration's manifest>}), email-fallback-integration (manifest:
//     Message.created, Message.deleted, Receipt.created,
//     Conversation.deleted, Participation.deleted; aws/src/dynamo.js reads
//     each body) and url-enrichment-integration (Message.created), whose
//     test/mock/event.json are Message.created bodies.
//   - [GS] GetStream/layer-migration: src/commands/webhook.js registers
//     {"version": "3.0", "events": ["Message.created"]};
//     serverless/handler.js checks the signature and event.type, and reads
//     message.id, message.conversation.id, message.sender.user_id and
//     message.parts[].mime_type/body/content.download_url.
//
// A body is {"event": {id, type, created_at}, "actor"?: BasicIdentity,
// <object>, "config"?}: the actor beside the event, not in it ([INT] mocks,
// [PV] 2.0 changelog, [S3] payloads lists event.* and actor apart).

// EventTypes3 are the events a webhook of payload version 3.0 may subscribe
// to. Herald sends each event of its log under one name; those Layer 3.0
// had and Herald does not send are left out, so that subscribing to one
// fails at registration instead of waiting for deliveries that never come:
// Message.updated ([S3] payloads: "In the case of Message.updated, actor is
// the user who sent the receipt"; Herald sends receipts as Receipt.created,
// as Layer's own 3.0 integration received them), Participation.created and
// .deleted ([INT]: a body with "changes"; Herald records the participants
// added and removed by one change as one event, sent as
// Conversation.updated), channel and identity events.
var EventTypes3 = []string{
	Message3Created, Message3Deleted, Receipt3Created,
	MessagePart3Created, MessagePart3Updated, MessagePart3Deleted,
	Conversation3Created, Conversation3Updated, Conversation3Deleted,
}

// The 3.0 event names.
const (
	// Message3Created is a message sent ([GS], [INT], [PV] webhook.obj).
	Message3Created = "Message.created"
	// Message3Deleted is a message deleted for everyone ([INT]: reads
	// message.conversation.id, message.position, message.recipient_status).
	Message3Deleted = "Message.deleted"
	// Receipt3Created is a delivery or read receipt ([PV] changelog; [INT]:
	// reads actor.id, conversation.id, receipt.type "Read" and
	// receipt.positions.from/to).
	Receipt3Created = "Receipt.created"
	// MessagePart3Created, Updated and Deleted are one part of a sent
	// message added, replaced or removed ([PV] changelog, Release v3.0).
	MessagePart3Created = "MessagePart.created"
	MessagePart3Updated = "MessagePart.updated"
	MessagePart3Deleted = "MessagePart.deleted"
	// Conversation3Created is a conversation created ([PV] webhook.obj).
	Conversation3Created = "Conversation.created"
	// Conversation3Updated is a change of participants or metadata. No
	// source names it; Herald follows the names of the others.
	Conversation3Updated = "Conversation.updated"
	// Conversation3Deleted is a conversation deleted ([INT]: reads
	// conversation.id and conversation.participants[].id).
	Conversation3Deleted = "Conversation.deleted"
)

// names3 maps Herald's event types to their 3.0 names.
var names3 = map[string]string{
	herald.EventMessageSent:          Message3Created,
	herald.EventMessageDeleted:       Message3Deleted,
	herald.EventMessageDelivered:     Receipt3Created,
	herald.EventMessageRead:          Receipt3Created,
	herald.EventMessagePartCreated:   MessagePart3Created,
	herald.EventMessagePartUpdated:   MessagePart3Updated,
	herald.EventMessagePartDeleted:   MessagePart3Deleted,
	herald.EventConversationCreated:  Conversation3Created,
	herald.EventConversationUpdatedP: Conversation3Updated,
	herald.EventConversationUpdatedM: Conversation3Updated,
	herald.EventConversationDeleted:  Conversation3Deleted,
}

// Receipt types of Receipt.created: "Read" is [INT]'s; no source shows a
// delivery receipt's, so Herald capitalises the Client API's "delivery"
// the same way.
const (
	receipt3Read     = "Read"
	receipt3Delivery = "Delivery"
)

// payload3 is a 3.0 body. What an event is about sits between actor and
// config: receipts carry the conversation and the receipt ([INT]) and,
// Herald's addition, the message as the receipt left it, as 1.0 and 2.0
// receipts did; part events carry the part and the message it is in after
// the change (no source shows either body; Herald names the part
// message_part, after the type MessagePart of the Client API's change
// packets).
type payload3 struct {
	Event        event3          `json:"event"`
	Actor        any             `json:"actor,omitempty"`
	Conversation any             `json:"conversation,omitempty"`
	MessagePart  any             `json:"message_part,omitempty"`
	Message      *message3JSON   `json:"message,omitempty"`
	Receipt      *receipt3JSON   `json:"receipt,omitempty"`
	Config       json.RawMessage `json:"config,omitempty"`
}

// event3 has its keys in the order of [INT]'s bodies.
type event3 struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
}

// message3JSON is [S3] message.obj, as [INT]'s bodies have it: url on every
// message, under its conversation (a path Herald serves too), and the
// message's position in its conversation, which receipts refer to. message.obj's optional updated_at is left out: Herald keeps no
// such time.
type message3JSON struct {
	ID              string          `json:"id"`
	URL             string          `json:"url"`
	Conversation    refJSON         `json:"conversation"`
	Parts           []any           `json:"parts"`
	SentAt          string          `json:"sent_at"`
	Sender          any             `json:"sender"`
	RecipientStatus recipientStatus `json:"recipient_status"`
	Position        int64           `json:"position"`
}

// bodyPart3JSON and contentPart3JSON are [S3] messagepart.obj: the id first
// (missing only for a removed part that had none of its own, see render3).
// [INT]'s parts also have a url, for the Client API; Herald has no address
// for one part, and messagepart.obj lists none.
type bodyPart3JSON struct {
	ID       string `json:"id,omitempty"`
	MimeType string `json:"mime_type"`
	Body     string `json:"body"`
	Encoding string `json:"encoding,omitempty"`
}

type contentPart3JSON struct {
	ID       string      `json:"id,omitempty"`
	MimeType string      `json:"mime_type"`
	Content  contentJSON `json:"content"`
}

type receipt3JSON struct {
	Type      string            `json:"type"`
	Positions receiptPositions3 `json:"positions"`
}

// receiptPositions3 is the range of messages a receipt covers ([INT]: a
// range wider than one message marked a whole conversation read). Herald's
// receipts are for one message each: from and to are its position.
type receiptPositions3 struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// render3 is RenderData for payload version 3.0.
func render3(e *herald.Event, d *herald.EventData, config json.RawMessage, u *urls.Builder) ([]byte, bool, error) {
	name := names3[e.Type]
	if name == "" {
		return nil, false, nil
	}
	cfg, err := configObject(config)
	if err != nil {
		return nil, false, err
	}
	// 3.0 users are Basic Identities, as in 2.0.
	r := renderer{app: e.AppID, v2: true, u: u, ids: d.Identities}
	p := payload3{Event: event3{ID: e.ID, Type: name, CreatedAt: herald.FormatTime(e.CreatedAt)}, Config: cfg}
	receipt := e.Type == herald.EventMessageDelivered || e.Type == herald.EventMessageRead
	actor := e.Actor
	if receipt && d.UserID != "" {
		// [S3] payloads and [INT]: the actor of a receipt is its sender.
		actor = &herald.Actor{UserID: d.UserID}
	}
	if actor != nil && (actor.UserID != "" || actor.Name != "") {
		p.Actor = r.actor(*actor)
	}
	switch name {
	case Message3Created, Message3Deleted, Receipt3Created,
		MessagePart3Created, MessagePart3Updated, MessagePart3Deleted:
		if d.Message == nil {
			return nil, false, fmt.Errorf("layer: %s event %s carries no message", e.Type, e.ID)
		}
		p.Message = r.message3(d.Message, d.Conversation)
	default:
		if d.Conversation == nil {
			return nil, false, fmt.Errorf("layer: %s event %s carries no conversation", e.Type, e.ID)
		}
		p.Conversation = r.conversation(d.Conversation)
	}
	switch {
	case receipt:
		if d.Conversation != nil {
			p.Conversation = r.conversation(d.Conversation)
		} else {
			p.Conversation = p.Message.Conversation
		}
		typ := receipt3Delivery
		if e.Type == herald.EventMessageRead {
			typ = receipt3Read
		}
		pos := d.Message.Position
		p.Receipt = &receipt3JSON{Type: typ, Positions: receiptPositions3{From: pos, To: pos}}
	case name == MessagePart3Created || name == MessagePart3Updated || name == MessagePart3Deleted:
		if d.Part == nil {
			return nil, false, fmt.Errorf("layer: %s event %s carries no part", e.Type, e.ID)
		}
		// A part stored before parts had ids is named by its index, which
		// only the message tells: the first part equal to it. A removed one
		// is no longer there, and goes without an id.
		index := -1
		if d.Part.ID == "" {
			index = partIndex(d.Message.Parts, d.Part)
		}
		p.MessagePart = r.part3(herald.MessageIDPrefix+d.Message.ID, index, *d.Part)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, false, fmt.Errorf("layer: event %s: %w", e.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true, nil
}

func partIndex(parts []herald.Part, p *herald.Part) int {
	for i, q := range parts {
		if q.ID == "" && q.MimeType == p.MimeType && q.Body == p.Body && q.Encoding == p.Encoding &&
			(q.Content == nil) == (p.Content == nil) && (q.Content == nil || *q.Content == *p.Content) {
			return i
		}
	}
	return -1
}

// part3 renders a part of the message whose Layer id is messageID: named by
// its own id ([PV] changelog: layer:///messages/<uuid>/parts/<uuid>), or,
// for a part stored before parts had ids, by its index, as 1.0 and 2.0 name
// every part.
func (r *renderer) part3(messageID string, index int, p herald.Part) any {
	var partID string
	switch {
	case p.ID != "":
		partID = messageID + "/parts/" + p.ID
	case index >= 0:
		partID = messageID + "/parts/" + strconv.Itoa(index)
	}
	if p.Content == nil {
		return bodyPart3JSON{ID: partID, MimeType: p.MimeType, Body: p.Body, Encoding: p.Encoding}
	}
	download, exp := r.u.ContentDownload(p.Content.ID)
	return contentPart3JSON{ID: partID, MimeType: p.MimeType, Content: contentJSON{
		ID:          herald.ContentIDPrefix + p.Content.ID,
		DownloadURL: download,
		Expiration:  herald.FormatTime(exp),
		RefreshURL:  r.u.ContentRefresh(r.app, p.Content.ID),
		Size:        p.Content.Size,
	}}
}

func (r *renderer) message3(m *herald.Message, c *herald.Conversation) *message3JSON {
	id := herald.MessageIDPrefix + m.ID
	out := &message3JSON{
		ID:  id,
		URL: r.u.Conversation(r.app, m.ConversationID) + "/messages/" + m.ID,
		Conversation: refJSON{ID: herald.ConversationIDPrefix + m.ConversationID,
			URL: r.u.Conversation(r.app, m.ConversationID)},
		Parts:    make([]any, len(m.Parts)),
		SentAt:   herald.FormatTime(m.SentAt),
		Sender:   r.sender(m.Sender),
		Position: m.Position,
	}
	for i, p := range m.Parts {
		out.Parts[i] = r.part3(id, i, p)
	}
	var participants []string
	if c != nil {
		participants = c.Participants
	}
	out.RecipientStatus = r.recipientStatus(m.RecipientStatus, participants)
	return out
}
