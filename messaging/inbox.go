package messaging

import (
	"context"
	"math"

	"github.com/heraldhq/herald"
)

// UserConversation returns a live conversation as one of its participants
// sees it: unread count, last message, and when they joined.
func (s *Service) UserConversation(ctx context.Context, appID, userID, id string) (uc *herald.UserConversation, err error) {
	id = herald.LocalID(id, herald.ConversationIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		uc, err = q.UserConversation(ctx, appID, userID, id)
		if herald.IsNotFound(err) {
			// Layer told a former participant apart from a stranger:
			// 403 access_denied "if no longer a participant", 404
			// otherwise (Client API 2.0 rest/conversations.md).
			former, ferr := q.FormerParticipant(ctx, appID, userID, id)
			if ferr != nil {
				return ferr
			}
			if former {
				return herald.Errorf(herald.EAccessDenied, "%s is no longer a participant of conversation %s.", userID, id)
			}
		}
		return conversationGone(ctx, q, appID, id, err)
	})
	return uc, err
}

// UserConversations lists the conversations a user takes part in, newest
// first by creation (herald.SortCreatedAt, also for "") or by last message
// (herald.SortLastMessage), with how many there are in all.
func (s *Service) UserConversations(ctx context.Context, appID, userID, sort string, p herald.Page) (ucs []*herald.UserConversation, total int, err error) {
	switch sort {
	case "":
		sort = herald.SortCreatedAt
	case herald.SortCreatedAt, herald.SortLastMessage:
	default:
		return nil, 0, herald.PropertyError(herald.EInvalidProperty, "sort_by",
			"sort_by must be %q or %q, not %q.", herald.SortCreatedAt, herald.SortLastMessage, sort)
	}
	p.Before = herald.LocalID(p.Before, herald.ConversationIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ucs, err = q.UserConversations(ctx, appID, userID, sort, p)
		if herald.IsNotFound(err) {
			return herald.PropertyError(herald.EInvalidProperty, "from_id", "from_id %q is not a conversation of this user.", p.Before)
		}
		if err != nil {
			return err
		}
		total, err = q.CountUserConversations(ctx, appID, userID)
		return err
	})
	return ucs, total, err
}

// ConversationCount counts an app's live conversations, or one user's.
func (s *Service) ConversationCount(ctx context.Context, appID, userID string) (n int, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if userID != "" {
			n, err = q.CountUserConversations(ctx, appID, userID)
		} else {
			n, err = q.CountConversations(ctx, appID)
		}
		return err
	})
	return n, err
}

// MessageCount counts a conversation's live messages; with userID set, as
// Messages lists them for that user.
func (s *Service) MessageCount(ctx context.Context, appID, conversationID, userID string) (n int, err error) {
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		n, err = q.CountMessages(ctx, appID, conversationID, userID)
		return err
	})
	return n, err
}

// MarkAllReadBatch is how many messages one transaction of MarkAllRead
// marks read at most: a conversation with more unread goes in several, each
// whole, so that no transaction grows with the conversation.
const MarkAllReadBatch = 200

// MarkAllRead marks read for a user every message of a conversation up to
// a position (the newest message when upTo is nil): each one unread for
// the user becomes read, and records message.read as a read receipt does
// (Layer's mark_all_read; its Web SDK sends the position of the last
// message it holds, or null). A conversation with many unread messages is
// done in batches; should one fail, those before it stay done and calling
// again finishes the rest.
func (s *Service) MarkAllRead(ctx context.Context, appID, userID, conversationID string, upTo *int64) error {
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	if upTo != nil && *upTo < 0 {
		return herald.PropertyError(herald.EInvalidProperty, "position", "position must not be negative.")
	}
	before := int64(math.MaxInt64)
	if upTo != nil && *upTo < math.MaxInt64 {
		before = *upTo + 1
	}
	actor := &herald.Actor{UserID: userID}
	for first := true; ; first = false {
		// An update may run more than once: each run starts from before
		// as it was, and leaves where the next batch starts in next.
		var more bool
		var next int64
		err := s.Store.Update(ctx, func(tx herald.Tx) error {
			more, next = false, before
			uc, err := tx.UserConversation(ctx, appID, userID, conversationID)
			if err != nil {
				return err
			}
			if upTo == nil && first {
				// Messages sent while a long marking goes on are not
				// among those it was asked to mark.
				next = uc.LastPosition + 1
			}
			if uc.UnreadMessageCount == 0 {
				return nil
			}
			ms, err := tx.UnreadMessages(ctx, appID, conversationID, userID, next, MarkAllReadBatch)
			if err != nil || len(ms) == 0 {
				return err
			}
			ids, err := tx.Identities(ctx, appID, uc.Participants)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				ids = nil
			}
			for _, m := range ms {
				m.RecipientStatus[userID] = herald.StatusRead
				if err := tx.UpdateMessage(ctx, m); err != nil {
					return err
				}
				data := &herald.EventData{Message: m, Conversation: uc.Conversation, Identities: ids,
					UserID: userID, Receipt: ReceiptRead}
				if m.Sender.UserID != "" && !uc.HasParticipant(m.Sender.UserID) {
					// A former participant's message names them.
					if data.Identities, err = messageIdentities(ctx, tx, m, uc.Conversation); err != nil {
						return err
					}
				}
				if err := s.record(ctx, tx, appID, herald.EventMessageRead, actor, data); err != nil {
					return err
				}
			}
			// The next batch starts below this one: what is above is read,
			// or was sent after the marking began.
			more, next = len(ms) == MarkAllReadBatch, ms[len(ms)-1].Position
			return nil
		})
		if err != nil || !more {
			return err
		}
		before = next
	}
}

// Badge returns a user's badge counts.
func (s *Service) Badge(ctx context.Context, appID, userID string) (b *herald.Badge, err error) {
	if err := checkUserID("user_id", userID); err != nil {
		return nil, err
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		b, err = q.Badge(ctx, appID, userID)
		return err
	})
	return b, err
}

// MaxExternalUnreadCount bounds the count an app sets on a badge: iOS
// shows badges up to that, and Layer's docs give no other bound.
const MaxExternalUnreadCount = math.MaxInt32

// SetExternalUnreadCount sets the count an app adds to a user's badge
// (Layer's PUT /users/:user/badge). No push goes out for it yet.
func (s *Service) SetExternalUnreadCount(ctx context.Context, appID, userID string, n *int64) error {
	if err := checkUserID("user_id", userID); err != nil {
		return err
	}
	if n == nil {
		return herald.PropertyError(herald.EMissingProperty, "external_unread_count", "external_unread_count is required.")
	}
	if *n < 0 || *n > MaxExternalUnreadCount {
		return herald.PropertyError(herald.EInvalidProperty, "external_unread_count",
			"external_unread_count must be a whole number from 0 to %d.", MaxExternalUnreadCount)
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		return tx.SetExternalUnreadCount(ctx, appID, userID, int(*n))
	})
}
