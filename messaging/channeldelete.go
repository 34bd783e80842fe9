package messaging

import (
	"context"

	"github.com/heraldhq/herald"
)

// DeleteChannelMessage deletes a message of a contact's conversation from
// Herald, as Callbell's DELETE /v1/messages/:uuid does: its text and
// attachments are gone for the app's users, but "It will not affect the
// original message sent on the device of the customer"
// (messages_api/delete_message.md), so no connector is asked to recall it.
// It records Layer's message.deleted, and message.status_updated with the
// status deleted, which Callbell's message_status_updated lists.
func (s *Service) DeleteChannelMessage(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		m, err := channelMessage(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		conv, err := tx.Conversation(ctx, appID, m.ConversationID)
		if err != nil {
			return err
		}
		c, err := tx.Contact(ctx, appID, m.Channel.ContactUUID)
		if err != nil {
			return err
		}
		ch, err := tx.Channel(ctx, appID, c.ChannelUUID)
		if err != nil {
			return err
		}
		now := s.now()
		m.DeletedAt = &now
		m.Channel.Status, m.Channel.StatusPayload = herald.ChannelDeleted, nil
		if err := tx.UpdateMessage(ctx, m); err != nil {
			return err
		}
		data := func() *herald.EventData { return &herald.EventData{Contact: c, Channel: ch} }
		if err := s.recordMessage(ctx, tx, herald.EventMessageDeleted, nil, m, conv, data()); err != nil {
			return err
		}
		return s.recordMessage(ctx, tx, herald.EventMessageStatusUpdated, nil, m, conv, data())
	})
}
