package receiver

import (
	"encoding/json"
	"strings"
	"time"
)

// Callbell-format event names.
const (
	CallbellMessageCreatedEvent        = "message_created"
	CallbellMessageStatusUpdatedEvent  = "message_status_updated"
	CallbellContactCreatedEvent        = "contact_created"
	CallbellContactUpdatedEvent        = "contact_updated"
	CallbellContactDeletedEvent        = "contact_deleted"
	CallbellConversationOpenedEvent    = "conversation_opened"
	CallbellConversationClosedEvent    = "conversation_closed"
	CallbellAgentStatusUpdatedEvent    = "agent_status_updated"
	CallbellAgentSessionUpdatedEvent   = "agent_session_updated"
	CallbellTeamMembershipUpdatedEvent = "team_membership_updated"
)

// CallbellEventTypes lists the events a Callbell-format webhook may
// subscribe to.
func CallbellEventTypes() []string {
	return []string{CallbellMessageCreatedEvent, CallbellMessageStatusUpdatedEvent, CallbellContactCreatedEvent,
		CallbellContactUpdatedEvent, CallbellContactDeletedEvent, CallbellConversationOpenedEvent,
		CallbellConversationClosedEvent, CallbellAgentStatusUpdatedEvent, CallbellAgentSessionUpdatedEvent,
		CallbellTeamMembershipUpdatedEvent}
}

// CallbellEvent is the body of a Callbell-format delivery,
// {"event": NAME, "payload": {...}}. Payload is, by Event:
//
//   - message_created: *CallbellMessageCreated
//   - message_status_updated: *CallbellMessageStatusUpdated
//   - contact_created, contact_updated: *CallbellContact
//   - contact_deleted: *CallbellContactDeleted
//   - conversation_opened, conversation_closed: *CallbellConversation
//   - agent_status_updated: *CallbellTeamMember
//   - agent_session_updated: *CallbellAgentSession
//   - team_membership_updated: *CallbellTeamMembership
type CallbellEvent struct {
	Event   string
	Payload any
}

// EventType is the event's name.
func (e *CallbellEvent) EventType() string { return e.Event }

// ConversationID is the Layer id ("layer:///conversations/<id>") of the
// contact's conversation the event is about; "" for events about no
// contact's conversation.
func (e *CallbellEvent) ConversationID() string {
	href := ""
	switch p := e.Payload.(type) {
	case *CallbellMessageCreated:
		href = p.Contact.conversationHref()
	case *CallbellMessageStatusUpdated:
		href = p.Contact.conversationHref()
	case *CallbellContact:
		href = p.ConversationHref
	case *CallbellConversation:
		href = p.Href
	}
	if i := strings.LastIndex(href, "/conversations/"); i >= 0 {
		return "layer:///conversations/" + href[i+len("/conversations/"):]
	}
	return ""
}

// EventID is "" for Callbell's events, whose bodies have no id: the
// delivery's webhook-id header (Delivery.ID) names it.
func (e *CallbellEvent) EventID() string { return "" }

func (*CallbellEvent) isEvent() {}

// CallbellContact is Callbell's contact object, the payload of
// contact_created and contact_updated.
type CallbellContact struct {
	Href             string         `json:"href"`
	ConversationHref string         `json:"conversationHref"`
	Name             string         `json:"name"`
	Tags             []string       `json:"tags"`
	UUID             string         `json:"uuid"`
	Source           string         `json:"source"`
	AvatarURL        *string        `json:"avatarUrl"`
	CreatedAt        time.Time      `json:"createdAt"`
	PhoneNumber      string         `json:"phoneNumber"`
	AssignedUser     *string        `json:"assignedUser"`
	CustomFields     map[string]any `json:"customFields"`
	ClosedAt         *time.Time     `json:"closedAt"`
	BlockedAt        *time.Time     `json:"blockedAt"`
	FunnelID         *string        `json:"funnelId"`
	Team             *CallbellTeam  `json:"team"`
	// Channel is the contact's channel; nil when unknown.
	Channel *CallbellChannel `json:"channel"`
	// Bsuid is present only when known.
	Bsuid string  `json:"bsuid,omitempty"`
	Note  *string `json:"note"`
}

func (c *CallbellContact) conversationHref() string {
	if c == nil {
		return ""
	}
	return c.ConversationHref
}

// CallbellTeam is Callbell's team object.
type CallbellTeam struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	Default   bool      `json:"default"`
	Members   int       `json:"members"`
}

// CallbellChannel is Callbell's channel object; DiscardedAt is nil while
// the channel is in use.
type CallbellChannel struct {
	UUID        string     `json:"uuid"`
	Title       string     `json:"title"`
	Type        string     `json:"type"`
	Main        bool       `json:"main"`
	DiscardedAt *time.Time `json:"discardedAt"`
}

// CallbellMessageCreated is message_created: a message received from
// (Status "received") or sent to ("sent") a contact.
type CallbellMessageCreated struct {
	To          string           `json:"to"`
	From        string           `json:"from"`
	Text        string           `json:"text"`
	Attachments []string         `json:"attachments,omitempty"`
	Status      string           `json:"status"`
	Channel     string           `json:"channel"`
	Contact     *CallbellContact `json:"contact"`
	// The structured contents, each the JSON Callbell documents for it.
	MessageLocation        json.RawMessage `json:"messageLocation,omitempty"`
	MessageContactCard     json.RawMessage `json:"messageContactCard,omitempty"`
	MessageReplyButton     json.RawMessage `json:"messageReplyButton,omitempty"`
	MessageInteractiveList json.RawMessage `json:"messageInteractiveList,omitempty"`
	// MessageContext is the message replied to; MesageContext is the same
	// under the other spelling of Callbell's docs, sent to webhooks
	// configured for it (context_field).
	MessageContext *CallbellMessageContext `json:"messageContext,omitempty"`
	MesageContext  *CallbellMessageContext `json:"mesageContext,omitempty"`
	MessageForward *struct {
		Forwarded bool `json:"forwarded"`
	} `json:"messageForward,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// Context is the message replied to, under either spelling.
func (m *CallbellMessageCreated) Context() *CallbellMessageContext {
	if m.MessageContext != nil {
		return m.MessageContext
	}
	return m.MesageContext
}

// CallbellMessageContext is the message a message_created replies to.
type CallbellMessageContext struct {
	Target struct {
		UUID      string    `json:"uuid"`
		Text      string    `json:"text"`
		Status    string    `json:"status"`
		Channel   string    `json:"channel"`
		From      string    `json:"from"`
		To        string    `json:"to"`
		CreatedAt time.Time `json:"createdAt"`
	} `json:"target"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"createdAt"`
	Status    string    `json:"status"`
}

// CallbellMessageStatusUpdated is message_status_updated.
type CallbellMessageStatusUpdated struct {
	UUID    string           `json:"uuid"`
	Status  string           `json:"status"`
	Contact *CallbellContact `json:"contact"`
	// MessageStatusPayload is the provider's raw status report, when one
	// came.
	MessageStatusPayload json.RawMessage   `json:"messageStatusPayload,omitempty"`
	Metadata             map[string]string `json:"metadata,omitempty"`
}

// CallbellContactDeleted is contact_deleted.
type CallbellContactDeleted struct {
	UUID    string    `json:"uuid"`
	Deleted time.Time `json:"deleted"`
}

// CallbellConversation is conversation_opened and conversation_closed; the
// closed one has ClosedAt, and ClosingReason when one was given.
type CallbellConversation struct {
	Source        string           `json:"source"`
	Href          string           `json:"href"`
	Contact       *CallbellContact `json:"contact"`
	ClosingReason *string          `json:"closingReason,omitempty"`
	CreatedAt     time.Time        `json:"createdAt"`
	ClosedAt      *time.Time       `json:"closedAt,omitempty"`
}

// CallbellTeamMember is an agent: the payload of agent_status_updated.
type CallbellTeamMember struct {
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Available     bool      `json:"available"`
	LastUpdatedAt time.Time `json:"lastUpdatedAt"`
	// UserCustomStatus is the custom status the agent shows, if any.
	UserCustomStatus *struct {
		UpdatedAt time.Time `json:"updatedAt"`
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		Emoji     string    `json:"emoji"`
	} `json:"userCustomStatus,omitempty"`
}

// CallbellAgentSession is agent_session_updated: Action is
// user_logged_in, user_logged_out or system_logged_out.
type CallbellAgentSession struct {
	Action string             `json:"action"`
	User   CallbellTeamMember `json:"user"`
}

// CallbellTeamMembership is team_membership_updated: Reason says whether
// the agent was added to or removed from the team.
type CallbellTeamMembership struct {
	Team         CallbellTeam       `json:"team"`
	User         CallbellTeamMember `json:"user"`
	Reason       string             `json:"reason"`
	LastUpdateAt time.Time          `json:"lastUpdateAt"`
}

// callbellPayload returns a new value of the payload type of an event.
func callbellPayload(event string) any {
	switch event {
	case CallbellMessageCreatedEvent:
		return &CallbellMessageCreated{}
	case CallbellMessageStatusUpdatedEvent:
		return &CallbellMessageStatusUpdated{}
	case CallbellContactCreatedEvent, CallbellContactUpdatedEvent:
		return &CallbellContact{}
	case CallbellContactDeletedEvent:
		return &CallbellContactDeleted{}
	case CallbellConversationOpenedEvent, CallbellConversationClosedEvent:
		return &CallbellConversation{}
	case CallbellAgentStatusUpdatedEvent:
		return &CallbellTeamMember{}
	case CallbellAgentSessionUpdatedEvent:
		return &CallbellAgentSession{}
	case CallbellTeamMembershipUpdatedEvent:
		return &CallbellTeamMembership{}
	}
	return nil
}
