package herald

import "context"

// FanOutQueries read what one change shows each of many users at once: a
// node routing an event to the sockets of a conversation's participants
// reads their inboxes in one go rather than once per socket.
type FanOutQueries interface {
	// UserConversationsOf returns a live conversation as each of users
	// that takes part in it sees it (UserConversation), in no particular
	// order; users who do not take part, and all of them when the
	// conversation is deleted or unknown, are left out. The results share
	// one *Conversation, and those with the same last message share that
	// *Message: they are only to be read.
	UserConversationsOf(ctx context.Context, appID, conversationID string, users []string) ([]*UserConversation, error)
	// MessageHiddenFrom returns those of users from whom a message is
	// hidden (HideMessage, blocks; see MessageHidden), in no particular
	// order.
	MessageHiddenFrom(ctx context.Context, appID, messageID string, users []string) ([]string, error)
	// MessageInboxes returns, in the transaction that created m, the
	// inbox entries of the participants whose inboxes list its
	// conversation (those UserConversationsOf returns) as m left them,
	// and those of them from whom m is hidden, both in no particular
	// order, so that m's event can carry them (EventData.Inboxes). ok is
	// false when the store cannot read them without a round trip of their
	// own: PostgreSQL, whose writes go with the COMMIT.
	MessageInboxes(ctx context.Context, m *Message) (entries []InboxEntry, hiddenFrom []string, ok bool, err error)
	// AcquaintedWith returns those of viewers who follow userID or share
	// a live conversation with them (those whose Acquainted names
	// userID), in no particular order.
	AcquaintedWith(ctx context.Context, appID, userID string, viewers []string) ([]string, error)
}
