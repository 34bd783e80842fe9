package herald

import (
	"encoding/json"
	"fmt"
	"time"
)

// Identity is what Herald knows of a user of an app. Users need no identity
// to take part in conversations; one adds a display name, an avatar and the
// like to what webhooks and API responses show of them.
type Identity struct {
	AppID        string   `json:"-"`
	UserID       string   `json:"user_id"`
	DisplayName  string   `json:"display_name,omitempty"`
	AvatarURL    string   `json:"avatar_url,omitempty"`
	FirstName    string   `json:"first_name,omitempty"`
	LastName     string   `json:"last_name,omitempty"`
	PhoneNumber  string   `json:"phone_number,omitempty"`
	EmailAddress string   `json:"email_address,omitempty"`
	Metadata     Metadata `json:"metadata,omitempty"`
	// PublicKey is the user's key for end-to-end encryption, kept as the
	// app gave it.
	PublicKey string `json:"public_key,omitempty"`
	// IdentityType is "user" or "bot" (Server API 3.0); empty is a user.
	IdentityType string    `json:"identity_type,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Conversation is a set of participants exchanging messages.
type Conversation struct {
	ID           string    `json:"id"`
	AppID        string    `json:"-"`
	Participants []string  `json:"participants"`
	Distinct     bool      `json:"distinct"`
	Metadata     Metadata  `json:"metadata,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// LastPosition is the position of the newest message; the next message
	// gets LastPosition+1.
	LastPosition int64      `json:"last_position"`
	DeletedAt    *time.Time `json:"deleted_at,omitempty"`
	// ContactUUID is set on a contact's conversation; it never changes.
	ContactUUID string `json:"contact_uuid,omitempty"`
	// ChangedAt is when the change UpdateConversation saves is made: the
	// participants it adds join then (see UserConversation.JoinedAt).
	ChangedAt time.Time `json:"-"`
}

// HasParticipant reports whether userID takes part in c.
func (c *Conversation) HasParticipant(userID string) bool {
	for _, p := range c.Participants {
		if p == userID {
			return true
		}
	}
	return false
}

// Sender is who sent a message: a user (UserID) or a named system sender
// (Name) such as a bot or the app itself. Exactly one is set.
type Sender struct {
	UserID string `json:"user_id,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Actor is who caused an event: a user, a named system sender, or nobody in
// particular (the app acting through the API), when both are empty.
type Actor = Sender

// Recipient statuses of a message, in the only order they may advance.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

// StatusRank orders recipient statuses; a status never moves to a lower rank.
func StatusRank(s string) int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	}
	return 0
}

// MaxPartBodySize is the largest inline part body, in bytes once decoded.
// Anything larger goes through rich content, as in Layer.
const MaxPartBodySize = 2048

// Part is one piece of a message: an inline body, or a reference to rich
// content uploaded beforehand.
type Part struct {
	// ID is the part's own id, a UUID, since parts became objects of their
	// own (Server API 3.0: they are added, replaced and removed one by
	// one). Parts stored before that have none; they are named by their
	// index, as Layer's 1.x and 2.0 payloads named every part.
	ID       string      `json:"id,omitempty"`
	MimeType string      `json:"mime_type"`
	Body     string      `json:"body,omitempty"`
	Encoding string      `json:"encoding,omitempty"`
	Content  *ContentRef `json:"content,omitempty"`
	// UpdatedAt is when the part was last added or replaced on its own,
	// after the message was sent; nil for a part as it was sent.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// ContentRef points a part at uploaded rich content.
type ContentRef struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

// Message is a message in a conversation.
type Message struct {
	ID             string `json:"id"`
	AppID          string `json:"-"`
	ConversationID string `json:"conversation_id"`
	// Position orders the messages of a conversation, from 1.
	Position     int64           `json:"position"`
	Sender       Sender          `json:"sender"`
	Parts        []Part          `json:"parts"`
	Notification json.RawMessage `json:"notification,omitempty"`
	SentAt       time.Time       `json:"sent_at"`
	// RecipientStatus maps every participant's user id, sender included, to
	// sent, delivered or read.
	RecipientStatus map[string]string `json:"recipient_status"`
	DeletedAt       *time.Time        `json:"deleted_at,omitempty"`
	// Channel is set on the messages of a contact's conversation.
	Channel *MessageChannel `json:"channel,omitempty"`
}

// Announcement is a system message to a list of users, outside any
// conversation. Each recipient sees only their own status.
type Announcement struct {
	ID              string            `json:"id"`
	AppID           string            `json:"-"`
	Sender          Sender            `json:"sender"`
	Parts           []Part            `json:"parts"`
	Notification    json.RawMessage   `json:"notification,omitempty"`
	SentAt          time.Time         `json:"sent_at"`
	RecipientStatus map[string]string `json:"recipient_status"`
}

// Content is a rich-content blob: declared first (type and size), uploaded
// afterwards, then referenced from message parts of its conversation.
type Content struct {
	ID    string `json:"id"`
	AppID string `json:"-"`
	// ConversationID is empty for content a user declared before naming a
	// conversation, until a message uses it; UserID is that user.
	ConversationID string     `json:"conversation_id"`
	UserID         string     `json:"user_id,omitempty"`
	MimeType       string     `json:"mime_type"`
	Size           int64      `json:"size"`
	CreatedAt      time.Time  `json:"created_at"`
	UploadedAt     *time.Time `json:"uploaded_at,omitempty"`
	// BlobKey names the uploaded bytes in the BlobStore.
	BlobKey string `json:"-"`
	// UploadOrigin is the browser origin (Layer's Upload-Origin) allowed
	// to upload and download the content across origins; empty for none.
	UploadOrigin string `json:"-"`
}

// Event types. Every change Herald makes is recorded as one event of these
// types in the same transaction as the change. The message and conversation
// names are Layer's, so that webhook subscriptions can use them as they are.
const (
	EventIdentityCreated       = "identity.created"
	EventIdentityUpdated       = "identity.updated"
	EventIdentityDeleted       = "identity.deleted"
	EventConversationCreated   = "conversation.created"
	EventConversationUpdatedP  = "conversation.updated.participants"
	EventConversationUpdatedM  = "conversation.updated.metadata"
	EventConversationDeleted   = "conversation.deleted"
	EventMessageSent           = "message.sent"
	EventMessageDelivered      = "message.delivered"
	EventMessageRead           = "message.read"
	EventMessageDeleted        = "message.deleted"
	EventMessageDeletedForUser = "message.deleted_for_user"
	// Part events: one part of a message added, replaced or removed after
	// the message was sent. Their data holds the message as it is after
	// the change and the part (Part), as it is after, or as it was for a
	// removal.
	EventMessagePartCreated    = "message.part.created"
	EventMessagePartUpdated    = "message.part.updated"
	EventMessagePartDeleted    = "message.part.deleted"
	EventAnnouncementSent      = "announcement.sent"
	EventAnnouncementRead      = "announcement.read"
	EventAnnouncementDelivered = "announcement.delivered"
	EventContentCreated        = "content.created"
	EventContentUploaded       = "content.uploaded"

	// Channel events: contacts, the opening and closing of their
	// conversations, and the channel status of outgoing messages. A
	// channel message itself is a message.sent event whose message has
	// Channel set.
	EventContactCreated       = "contact.created"
	EventContactUpdated       = "contact.updated"
	EventContactDeleted       = "contact.deleted"
	EventConversationOpened   = "conversation.opened"
	EventConversationClosed   = "conversation.closed"
	EventMessageStatusUpdated = "message.status_updated"
)

// Event is one entry of an app's event log: what changed, when, by whom, and
// the state of the affected objects at that moment (Data), from which every
// webhook wire format is rendered.
type Event struct {
	// Seq orders the log; it is assigned by the store on append.
	Seq       int64
	ID        string
	AppID     string
	Type      string
	CreatedAt time.Time
	Actor     *Actor
	Data      json.RawMessage
	// RequestID is the id of the API request that recorded the event
	// (see WithRequestID), "" for events of other origins.
	RequestID string

	// data is what Data encodes, for an event made by NewEvent.
	data *EventData
}

// NewEvent returns an event whose Data encodes data. The event keeps data
// itself too, and DecodeData returns it as it is: the node that appends an
// event renders it for its webhooks without decoding it again (see
// RecentEvents). So data must not change once the event is made.
func NewEvent(id, appID, typ string, createdAt time.Time, actor *Actor, data *EventData) (*Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("event %s: data: %w", id, err)
	}
	return &Event{ID: id, AppID: appID, Type: typ, CreatedAt: createdAt, Actor: actor, Data: b, data: data}, nil
}

// DecodeData decodes the event's Data. Renderers take it decoded, so that an
// event rendered for several formats, versions or configs is decoded once.
// The result is only to be read: for an event made by NewEvent, it is the
// data the event was made from.
func (e *Event) DecodeData() (*EventData, error) {
	if e.data != nil {
		return e.data, nil
	}
	d := &EventData{}
	if err := json.Unmarshal(e.Data, d); err != nil {
		return nil, fmt.Errorf("event %s: data: %w", e.ID, err)
	}
	return d, nil
}

// EventData is the state an event carries. Only the members that concern the
// event's type are set.
type EventData struct {
	Identity     *Identity     `json:"identity,omitempty"`
	Conversation *Conversation `json:"conversation,omitempty"`
	Message      *Message      `json:"message,omitempty"`
	Announcement *Announcement `json:"announcement,omitempty"`
	Content      *Content      `json:"content,omitempty"`
	// Part is the part a part event concerns.
	Part *Part `json:"part,omitempty"`
	// Identities holds the identities, as they were, of the users the event
	// mentions (sender, participants, actor) that have one.
	Identities map[string]*Identity `json:"identities,omitempty"`
	// Added and Removed list the participants a participants update changed.
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// UserID is the user a per-user change (receipt, my_devices deletion)
	// applies to.
	UserID string `json:"user_id,omitempty"`
	// Receipt is "delivery" or "read" on receipt events.
	Receipt string `json:"receipt,omitempty"`
	// Contact and Channel are set on the events of a contact, of its
	// conversation and of the messages in it, as they were then.
	Contact *Contact `json:"contact,omitempty"`
	Channel *Channel `json:"channel,omitempty"`
	// User is set on suspension and session events (see users.go), and
	// SessionTTL, in seconds, on an app's session TTL change.
	User       *User `json:"user,omitempty"`
	SessionTTL int64 `json:"session_ttl_in_seconds,omitempty"`
	// Export is set on the events of exports, their key and schedule.
	Export *ExportChange `json:"export,omitempty"`
	// Notification is set on notification.sent.
	Notification *Notification `json:"notification,omitempty"`
	// PushToken is set on push token events.
	PushToken *PushToken `json:"push_token,omitempty"`
	// PushProvider is set on push provider events, without its secret.
	PushProvider *PushProvider `json:"push_provider,omitempty"`
	// Connector is set on connector events, without its secrets.
	Connector *Connector `json:"connector,omitempty"`
	// Presence is set on presence events, as it is after the change.
	Presence *Presence `json:"presence,omitempty"`
	// IdentityKey is set on identity key events, Session on session events.
	IdentityKey *IdentityKey `json:"identity_key,omitempty"`
	Session     *Session     `json:"session,omitempty"`
	// Agents is set on the events of agents, teams and custom statuses.
	Agents *AgentChange `json:"agents,omitempty"`
	// Template is set on template events, as it is after the change.
	Template *Template `json:"template,omitempty"`
	// Inboxes are, on message.sent, the inbox entries that the message
	// left the participants whose inboxes list its conversation (their
	// unread counts), and HiddenFrom those of them from whom it is
	// hidden: what the Client API's sockets show of a message needs no
	// read of their own, and shows the conversation as the message left
	// it, whatever came after (which comes after, in order). Events of
	// stores that cannot tell at no cost (FanOutQueries.MessageInboxes),
	// of conversations of many participants, and of earlier builds have
	// none.
	Inboxes    []InboxEntry `json:"inboxes,omitempty"`
	HiddenFrom []string     `json:"hidden_from,omitempty"`
}
