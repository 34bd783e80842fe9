package herald

import (
	"context"
	"time"
)

// A user's inbox: what each participant sees of their conversations,
// which Layer's user-perspective API renders (unread_message_count,
// last_message, received_at) and which badges count.
//
// A message is unread for a user while the user is one of its recipients
// (its RecipientStatus names them) with a status other than read, and it is
// neither deleted nor deleted from the user's devices (HideMessage). The
// sender's own status is read from the start, so their messages are never
// unread for them.

// Orders of a user's conversation listing, newest first.
const (
	// SortCreatedAt orders by creation, Layer's default: a fixed order
	// that paging walks without missing or repeating a conversation.
	SortCreatedAt = "created_at"
	// SortLastMessage orders by the sending time of the newest message
	// the user sees, and a conversation without one by its creation.
	SortLastMessage = "last_message"
)

// UserConversation is a conversation as one of its participants sees it.
type UserConversation struct {
	*Conversation
	UserID string
	// UnreadMessageCount counts the messages unread for the user.
	UnreadMessageCount int
	// LastMessage is the newest message the user sees; nil when none.
	LastMessage *Message
	// JoinedAt is when the user was last added to the conversation (its
	// creation, for those it was created with).
	JoinedAt time.Time
	// ActiveAt orders the conversation under SortLastMessage: the sending
	// time of LastMessage, or the conversation's creation when none.
	ActiveAt time.Time
}

// InboxEntry is a user's entry in their inbox for a conversation, as a
// change left it.
type InboxEntry struct {
	UserID             string    `json:"user_id"`
	UnreadMessageCount int       `json:"unread_message_count"`
	JoinedAt           time.Time `json:"joined_at"`
}

// ReceivedAt is when a message of the conversation reached the user. Herald
// puts a message in every participant's inbox in the transaction that sends
// it, so a participant receives it as it is sent; one added later receives
// the earlier messages as they are added. (Layer's docs show received_at
// trailing sent_at by milliseconds to seconds even for the sender, whose
// status is read without any receipt: the time its servers put the message
// in the user's stream, not that of a delivery receipt;
// platform/messages/retrieving-messages.md, retrieve-a-conversation.md.)
func (uc *UserConversation) ReceivedAt(m *Message) time.Time {
	if uc.JoinedAt.After(m.SentAt) {
		return uc.JoinedAt
	}
	return m.SentAt
}

// Badge is what a user's badge counts (Layer's users/badging.md).
type Badge struct {
	// ExternalUnreadCount is set by the app for what it counts itself;
	// Layer added it to the counts of the badge pushed to iOS devices.
	ExternalUnreadCount int `json:"external_unread_count"`
	// UnreadConversationCount counts the user's conversations that have
	// unread messages, and UnreadMessageCount those messages.
	UnreadConversationCount int `json:"unread_conversation_count"`
	UnreadMessageCount      int `json:"unread_message_count"`
}

// InboxQueries read users' inboxes. The store keeps them as messages are
// sent, receipted and deleted and as participants come and go, in the
// transaction of each change, so that none of these reads grows with the
// conversations' messages.
type InboxQueries interface {
	// UserConversation returns a live conversation as a participant sees
	// it, or not_found when the user does not take part in it.
	UserConversation(ctx context.Context, appID, userID, conversationID string) (*UserConversation, error)
	// FormerParticipant reports whether a user took part in a live
	// conversation and no longer does.
	FormerParticipant(ctx context.Context, appID, userID, conversationID string) (bool, error)
	// UserConversations lists the live conversations a user takes part
	// in, newest first in the order sort names (SortCreatedAt or
	// SortLastMessage); p.Before is a conversation of the list. A
	// p.Before the user does not take part in is a not_found *Error.
	UserConversations(ctx context.Context, appID, userID, sort string, p Page) ([]*UserConversation, error)
	// CountUserConversations counts the live conversations a user takes
	// part in; CountConversations counts an app's.
	CountUserConversations(ctx context.Context, appID, userID string) (int, error)
	CountConversations(ctx context.Context, appID string) (int, error)
	// CountMessages counts a conversation's live messages; with viewer
	// set, without those the viewer deleted from their devices, as
	// Messages lists them.
	CountMessages(ctx context.Context, appID, conversationID, viewer string) (int, error)
	// UnreadMessages returns up to limit messages of a conversation
	// unread for the user at positions below before, newest first.
	UnreadMessages(ctx context.Context, appID, conversationID, userID string, before int64, limit int) ([]*Message, error)

	// Badge returns a user's badge counts; a user Herald knows nothing of
	// has a badge of zeros.
	Badge(ctx context.Context, appID, userID string) (*Badge, error)
	// SetExternalUnreadCount sets the count a user's badge adds for the
	// app.
	SetExternalUnreadCount(ctx context.Context, appID, userID string, n int) error
}
