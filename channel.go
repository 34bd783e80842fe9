package herald

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Channel is a way an app reaches its customers: a WhatsApp number, an SMS
// sender, an Instagram account, a mailbox. Identifier is the business's own
// address on it (its phone number, handle or email address).
type Channel struct {
	UUID       string `json:"uuid"`
	AppID      string `json:"-"`
	Type       string `json:"type"`
	Identifier string `json:"identifier"`
	Title      string `json:"title"`
	// Main marks the channel used for its type when a request names the
	// type ("whatsapp") rather than a channel.
	Main      bool      `json:"main"`
	CreatedAt time.Time `json:"created_at"`
	// DiscardedAt is when the channel was discarded: it keeps its contacts
	// and messages but sends and receives nothing more.
	DiscardedAt *time.Time `json:"discarded_at,omitempty"`
}

// ChannelTypes are the kinds of channel an app may configure.
var ChannelTypes = []string{"whatsapp", "sms", "instagram", "facebook", "messenger", "telegram", "email", "webchat"}

// Contact is a customer reached on a channel. A contact is also an identity
// of the domain model, whose user id is the contact's UUID, and it has one
// conversation of the domain model (ConversationID), with the contact as
// participant, that is open or closed (ClosedAt).
type Contact struct {
	UUID        string `json:"uuid"`
	AppID       string `json:"-"`
	ChannelUUID string `json:"channel_uuid"`
	// Source is the type of the contact's channel.
	Source string `json:"source"`
	Name   string `json:"name"`
	// PhoneNumber is the contact's address on the channel: a phone number
	// on WhatsApp and SMS, a handle or an email address elsewhere.
	PhoneNumber  string         `json:"phone_number"`
	AvatarURL    string         `json:"avatar_url,omitempty"`
	Tags         []string       `json:"tags"`
	CustomFields map[string]any `json:"custom_fields,omitempty"`
	AssignedUser string         `json:"assigned_user,omitempty"`
	// Bsuid is the contact's WhatsApp Business Suite User ID, when the
	// channel's provider reported one.
	Bsuid string `json:"bsuid,omitempty"`
	// Note is the business's free-text note on the contact.
	Note      string     `json:"note,omitempty"`
	BlockedAt *time.Time `json:"blocked_at,omitempty"`
	// FunnelUUID is the funnel stage of the contact's conversation.
	FunnelUUID string `json:"funnel_uuid,omitempty"`
	// BotStatus is the state of the contact's bot conversation:
	// "in_progress", "started", "ended", or empty when none ran.
	BotStatus string `json:"bot_status,omitempty"`
	// TeamUUID is the team inbox the contact's conversation belongs to;
	// Team is that team as it was when the contact was read.
	TeamUUID  string    `json:"team_uuid,omitempty"`
	Team      *Team     `json:"team,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	ConversationID string `json:"conversation_id"`
	// OpenedAt is when the conversation was last opened.
	OpenedAt      time.Time  `json:"opened_at"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	ClosingReason string     `json:"closing_reason,omitempty"`
}

// Directions of a channel message, named as Callbell's message status.
const (
	DirectionSent     = "sent"     // from the business to the contact
	DirectionReceived = "received" // from the contact to the business
)

// Channel statuses of an outgoing message, in the order they advance; a
// status never moves back, except to failed.
const (
	ChannelEnqueued = "enqueued"
	// ChannelMismatch is WhatsApp's correction of the contact's number when
	// the message went out: the status payload carries the corrected
	// address (Callbell's webhooks/message_events/message_status_updated.md).
	// It comes before the message reaches the device, so sent, delivered
	// and read still follow it.
	ChannelMismatch  = "mismatch"
	ChannelSent      = "sent"
	ChannelDelivered = "delivered"
	ChannelRead      = "read"
	ChannelFailed    = "failed"
)

// ChannelStatusRank orders channel statuses; 0 for an unknown one.
func ChannelStatusRank(s string) int {
	switch s {
	case ChannelEnqueued:
		return 1
	case ChannelMismatch:
		return 2
	case ChannelSent:
		return 3
	case ChannelDelivered:
		return 4
	case ChannelRead:
		return 5
	case ChannelFailed:
		return 6
	}
	return 0
}

// MessageChannel is what a message of a contact's conversation carries
// about the channel: which one, which way, its addresses and its status.
type MessageChannel struct {
	ChannelUUID string `json:"channel_uuid"`
	// Channel is the channel's type ("whatsapp").
	Channel     string `json:"channel"`
	ContactUUID string `json:"contact_uuid"`
	// Direction is DirectionSent or DirectionReceived.
	Direction string `json:"direction"`
	// Status is the channel status of an outgoing message; empty for an
	// incoming one.
	Status string `json:"status,omitempty"`
	// StatusPayload is the connector's raw payload of the last status.
	StatusPayload json.RawMessage `json:"status_payload,omitempty"`
	From          string          `json:"from"`
	To            string          `json:"to"`
	// Metadata is the app's own key-value pairs, echoed in webhooks.
	Metadata  map[string]string `json:"metadata,omitempty"`
	Forwarded bool              `json:"forwarded,omitempty"`
	// ReplyTo describes the message this one answers, as it was then.
	ReplyTo *MessageRef `json:"reply_to,omitempty"`
	// Template is the message template the message was sent with.
	Template *MessageTemplate `json:"template,omitempty"`
	// ExternalID is the provider's id of the message, when the connector
	// gave one; it makes inbound messages idempotent.
	ExternalID string `json:"external_id,omitempty"`
}

// MessageTemplate is the WhatsApp message template a channel message was
// sent with, as a connector needs it to send the message: the template's
// name and language on the provider, and the values of its placeholders
// ({{1}}, {{2}}, … in order). The message's text is the rendered template.
type MessageTemplate struct {
	UUID     string   `json:"uuid"`
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Values   []string `json:"values,omitempty"`
}

// Team is a team inbox of agents.
type Team struct {
	UUID    string `json:"uuid"`
	AppID   string `json:"-"`
	Name    string `json:"name"`
	Default bool   `json:"default"`
	// Members is the number of agents in the team.
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// MessageRef is a snapshot of a message that another one refers to.
type MessageRef struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	Direction string    `json:"direction"`
	Channel   string    `json:"channel"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	SentAt    time.Time `json:"sent_at"`
}

// MIME types of the message parts that carry channel content. Every channel
// message is also a message of the domain model; these parts are how its
// rich content reaches Layer-compatible clients and webhooks. Each body is
// a JSON object in the shape of the matching Callbell field.
const (
	MimeText            = "text/plain"
	MimeURIList         = "text/uri-list" // an attachment by URL
	MimeLocation        = "application/vnd.herald.location+json"
	MimeContactCard     = "application/vnd.herald.contact-card+json"
	MimeReplyButtons    = "application/vnd.herald.reply-buttons+json"
	MimeInteractiveList = "application/vnd.herald.interactive-list+json"
)

// CompactUUID writes a UUID as 32 hex digits, as Callbell's API does.
func CompactUUID(id string) string { return strings.ReplaceAll(id, "-", "") }

// ParseUUID reads a UUID in its 32- or 36-character form, or at the end
// of a Layer URI (layer:///messages/<uuid>: the Layer API's id of the same
// object), and returns it in the 36-character form Herald stores, or ""
// when s is none of these.
func ParseUUID(s string) string {
	if rest, ok := strings.CutPrefix(s, "layer:///"); ok {
		s = rest[strings.LastIndexByte(rest, '/')+1:]
	}
	u, err := uuid.Parse(s)
	if err != nil || (len(s) != 32 && len(s) != 36) {
		return ""
	}
	return u.String()
}
