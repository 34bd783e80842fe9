package receiver

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Layer-format payload versions.
const (
	LayerVersion1 = "1.0"
	LayerVersion2 = "2.0"
	LayerVersion3 = "3.0"
)

// Layer event types of payload versions 1.0 and 2.0.
const (
	LayerMessageSent                     = "message.sent"
	LayerMessageDelivered                = "message.delivered"
	LayerMessageRead                     = "message.read"
	LayerMessageDeleted                  = "message.deleted"
	LayerConversationCreated             = "conversation.created"
	LayerConversationUpdatedParticipants = "conversation.updated.participants"
	LayerConversationUpdatedMetadata     = "conversation.updated.metadata"
	LayerConversationDeleted             = "conversation.deleted"
)

// Layer event types of payload version 3.0, which has names of its own.
const (
	Layer3MessageCreated      = "Message.created"
	Layer3MessageDeleted      = "Message.deleted"
	Layer3ReceiptCreated      = "Receipt.created"
	Layer3MessagePartCreated  = "MessagePart.created"
	Layer3MessagePartUpdated  = "MessagePart.updated"
	Layer3MessagePartDeleted  = "MessagePart.deleted"
	Layer3ConversationCreated = "Conversation.created"
	Layer3ConversationUpdated = "Conversation.updated"
	Layer3ConversationDeleted = "Conversation.deleted"
)

// LayerEventTypes lists the event types a Layer-format webhook of the
// payload version may subscribe to; nil for an unknown version.
func LayerEventTypes(version string) []string {
	switch version {
	case LayerVersion1, LayerVersion2:
		return []string{LayerMessageSent, LayerMessageDelivered, LayerMessageRead, LayerMessageDeleted,
			LayerConversationCreated, LayerConversationUpdatedParticipants, LayerConversationUpdatedMetadata,
			LayerConversationDeleted}
	case LayerVersion3:
		return []string{Layer3MessageCreated, Layer3MessageDeleted, Layer3ReceiptCreated,
			Layer3MessagePartCreated, Layer3MessagePartUpdated, Layer3MessagePartDeleted,
			Layer3ConversationCreated, Layer3ConversationUpdated, Layer3ConversationDeleted}
	}
	return nil
}

// LayerEvent is the body of a Layer-format delivery, in any payload
// version. Which of Message, Conversation, MessagePart and Receipt are set
// depends on the event type:
//
//   - message.* (1.0, 2.0), Message.created, Message.deleted: Message.
//   - conversation.* (1.0, 2.0), Conversation.*: Conversation.
//   - Receipt.created: Message (as the receipt left it), Conversation and
//     Receipt.
//   - MessagePart.*: MessagePart and Message (after the change).
type LayerEvent struct {
	// Version is the payload version ("1.0", "2.0" or "3.0"), read from
	// the delivery's Content-Type; it is no part of the body.
	Version string         `json:"-"`
	Event   LayerEventInfo `json:"event"`
	// Actor, in 3.0, is who caused the event (a receipt's sender for
	// Receipt.created); 1.0 and 2.0 have it in Event.Actor.
	Actor        *Identity     `json:"actor,omitempty"`
	Conversation *Conversation `json:"conversation,omitempty"`
	MessagePart  *Part         `json:"message_part,omitempty"`
	Message      *Message      `json:"message,omitempty"`
	Receipt      *Receipt      `json:"receipt,omitempty"`
	// Config is the webhook's config object, echoed in every payload of a
	// webhook registered with one.
	Config json.RawMessage `json:"config,omitempty"`
}

// LayerEventInfo is a Layer body's "event" object.
type LayerEventInfo struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	// Actor is who caused the event, in 1.0 and 2.0: for receipts, the user
	// who sent the receipt.
	Actor *Identity `json:"actor,omitempty"`
}

// Identity is a user or a system sender. In 1.0 a user is a bare user_id
// and a system sender a name; in 2.0 and 3.0 both are Basic Identities,
// a system sender's with a display_name and no id or user_id.
type Identity struct {
	ID          string `json:"id,omitempty"`
	URL         string `json:"url,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
	// Name is a 1.0 system sender's name.
	Name string `json:"name,omitempty"`
}

// UnmarshalJSON reads a user as an object or, as 1.0 lists participants,
// as a bare user id.
func (i *Identity) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*i = Identity{}
		return json.Unmarshal(b, &i.UserID)
	}
	type plain Identity
	return json.Unmarshal(b, (*plain)(i))
}

// IsUser reports whether the identity is a user, not a system sender.
func (i Identity) IsUser() bool { return i.UserID != "" }

// Message is a Layer message.
type Message struct {
	ID string `json:"id"`
	// URL is set on every 3.0 message, and in 1.0 and 2.0 on
	// message.deleted only.
	URL          string          `json:"url,omitempty"`
	Conversation ConversationRef `json:"conversation"`
	Parts        []Part          `json:"parts"`
	SentAt       time.Time       `json:"sent_at"`
	Sender       Identity        `json:"sender"`
	// RecipientStatus maps each recipient (its user id in 1.0, its
	// identity id in 2.0 and 3.0) to "sent", "delivered" or "read".
	RecipientStatus map[string]string `json:"recipient_status"`
	// Position is the message's place in its conversation (3.0).
	Position int64 `json:"position,omitempty"`
}

// ConversationRef names a message's conversation.
type ConversationRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Part is a message part: inline (Body, with Encoding "base64" for binary
// data) or rich content (Content).
type Part struct {
	// ID is "layer:///messages/<m>/parts/<index or part id>"; a removed 3.0
	// part that had no id of its own has none.
	ID       string   `json:"id,omitempty"`
	MimeType string   `json:"mime_type"`
	Body     string   `json:"body,omitempty"`
	Encoding string   `json:"encoding,omitempty"`
	Content  *Content `json:"content,omitempty"`
}

// Content is a rich-content part's upload: DownloadURL works until
// Expiration; RefreshURL (with the app's token) gives a fresh one.
type Content struct {
	ID          string    `json:"id"`
	DownloadURL string    `json:"download_url"`
	Expiration  time.Time `json:"expiration"`
	RefreshURL  string    `json:"refresh_url"`
	Size        int64     `json:"size"`
}

// Conversation is a Layer conversation. A 3.0 Receipt.created may carry
// only its ID and URL.
type Conversation struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	CreatedAt    time.Time  `json:"created_at"`
	MessagesURL  string     `json:"messages_url"`
	Distinct     bool       `json:"distinct"`
	Participants []Identity `json:"participants"`
	// Metadata is the conversation's free-form metadata object.
	Metadata json.RawMessage `json:"metadata"`
}

// Receipt is a 3.0 Receipt.created's receipt: Type "Delivery" or "Read",
// for the messages at Positions From to To.
type Receipt struct {
	Type      string `json:"type"`
	Positions struct {
		From int64 `json:"from"`
		To   int64 `json:"to"`
	} `json:"positions"`
}

// EventType is event.type.
func (e *LayerEvent) EventType() string { return e.Event.Type }

// EventID is event.id: deduplicate on it.
func (e *LayerEvent) EventID() string { return e.Event.ID }

// ConversationID is the Layer id of the conversation the event is about.
func (e *LayerEvent) ConversationID() string {
	switch {
	case e.Conversation != nil && e.Conversation.ID != "":
		return e.Conversation.ID
	case e.Message != nil:
		return e.Message.Conversation.ID
	}
	return ""
}

// Who is the event's actor, whichever version placed it; nil when none.
func (e *LayerEvent) Who() *Identity {
	if e.Actor != nil {
		return e.Actor
	}
	return e.Event.Actor
}

func (*LayerEvent) isEvent() {}

// layerVersion reads the payload version from a delivery's Content-Type
// ("application/vnd.layer.webhooks+json; version=2.0") or User-Agent
// ("layer-webhooks/2.0"); "" when neither is Layer's.
func layerVersion(contentType, userAgent string) string {
	if mt, params, ok := strings.Cut(contentType, ";"); ok && strings.TrimSpace(mt) == "application/vnd.layer.webhooks+json" {
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "version") {
				return strings.Trim(v, `"`)
			}
		}
	}
	if v, ok := strings.CutPrefix(userAgent, "layer-webhooks/"); ok {
		return v
	}
	return ""
}
