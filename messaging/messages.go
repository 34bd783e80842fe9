package messaging

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
)

// PartInput is one part of a message or announcement being sent.
type PartInput struct {
	// ID is the id a client asks for a message's part (Server API 3.0),
	// bare or as layer:///messages/<message>/parts/<uuid>; see partID.
	ID       string             `json:"id"`
	MimeType string             `json:"mime_type"`
	Body     *string            `json:"body"`
	Encoding string             `json:"encoding"`
	Content  *herald.ContentRef `json:"content"`
}

// MessageInput sends a message.
type MessageInput struct {
	Sender       herald.Sender
	Parts        []PartInput
	Notification json.RawMessage
	// asParticipant makes a sender who is not a participant not_found
	// rather than an invalid sender (see SendMessageAs).
	asParticipant bool
}

// checkParts validates parts against Layer's rules (see checkPart). A
// message's parts (withIDs) each get an id: the one asked for when it is a
// UUID (see partID), a new one otherwise.
func checkParts(ctx context.Context, q herald.Queries, appID, conversationID, sender string, in []PartInput, withIDs bool) ([]herald.Part, error) {
	if len(in) == 0 {
		return nil, herald.PropertyError(herald.EMissingProperty, "parts", "A message needs at least one part.")
	}
	parts := make([]herald.Part, len(in))
	taken := map[string]int{}
	for i, p := range in {
		where := fmt.Sprintf("parts[%d]", i)
		part, err := checkPart(ctx, q, appID, conversationID, sender, where, p)
		if err != nil {
			return nil, err
		}
		if withIDs {
			if part.ID = partID(p.ID); part.ID == "" {
				part.ID = NewID()
			} else if j, dup := taken[part.ID]; dup {
				return nil, herald.PropertyError(herald.EIDInUse, where+".id", "%s.id %s is the id of parts[%d] too; each part needs an id of its own.", where, part.ID, j)
			}
			taken[part.ID] = i
		}
		parts[i] = part
	}
	return parts, nil
}

// checkPart validates a part against Layer's rules: a MIME type, an inline
// body of at most 2 KiB once decoded, or uploaded rich content of the app
// (and, for messages, of the conversation). where names the part in errors.
func checkPart(ctx context.Context, q herald.Queries, appID, conversationID, sender, where string, p PartInput) (herald.Part, error) {
	if strings.TrimSpace(p.MimeType) == "" {
		return herald.Part{}, herald.PropertyError(herald.EMissingProperty, where+".mime_type", "%s.mime_type is required.", where)
	}
	part := herald.Part{MimeType: p.MimeType}
	switch {
	case p.Body != nil && p.Content != nil:
		return herald.Part{}, herald.PropertyError(herald.EInvalidProperty, where, "%s has both a body and content; give one.", where)
	case p.Content != nil:
		if p.Encoding != "" {
			return herald.Part{}, herald.PropertyError(herald.EInvalidProperty, where+".encoding", "%s.encoding applies to inline bodies only.", where)
		}
		ref, err := checkContentRef(ctx, q, appID, conversationID, sender, where, p.Content)
		if err != nil {
			return herald.Part{}, err
		}
		part.Content = ref
	case p.Body != nil:
		size := len(*p.Body)
		switch p.Encoding {
		case "":
		case "base64":
			b, err := base64.StdEncoding.DecodeString(*p.Body)
			if err != nil {
				return herald.Part{}, herald.PropertyError(herald.EInvalidProperty, where+".body", "%s.body is not valid base64: %v.", where, err)
			}
			size = len(b)
		default:
			return herald.Part{}, herald.PropertyError(herald.EInvalidProperty, where+".encoding", "%s.encoding must be \"base64\" or absent, not %q.", where, p.Encoding)
		}
		if size > herald.MaxPartBodySize {
			e := herald.PropertyError(herald.EInvalidProperty, where+".body",
				"%s.body is %d bytes; inline bodies are limited to %d bytes. Upload larger content with POST /apps/{app_id}/conversations/{conversation_id}/content and send it as a part with {\"mime_type\", \"content\": {\"id\", \"size\"}}.",
				where, size, herald.MaxPartBodySize)
			e.Data["size"] = size
			e.Data["limit"] = herald.MaxPartBodySize
			return herald.Part{}, e
		}
		part.Body, part.Encoding = *p.Body, p.Encoding
	default:
		return herald.Part{}, herald.PropertyError(herald.EMissingProperty, where+".body", "%s needs a body or content.", where)
	}
	return part, nil
}

func checkContentRef(ctx context.Context, q herald.Queries, appID, conversationID, sender, where string, ref *herald.ContentRef) (*herald.ContentRef, error) {
	id := herald.LocalID(ref.ID, herald.ContentIDPrefix)
	if id == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, where+".content.id", "%s.content.id is required.", where)
	}
	c, err := q.Content(ctx, appID, id)
	if herald.IsNotFound(err) {
		return nil, herald.PropertyError(herald.EInvalidProperty, where+".content.id", "%s.content.id: no content %q exists in this app.", where, ref.ID)
	}
	if err != nil {
		return nil, err
	}
	if conversationID == "" && c.ConversationID == "" {
		return nil, herald.PropertyError(herald.EInvalidProperty, where+".content.id",
			"%s.content.id: content %q belongs to no conversation yet; a message binds it to one first.", where, ref.ID)
	}
	if conversationID != "" && c.ConversationID == "" {
		// Content a user declared for no conversation yet: the first
		// message that uses it, theirs or the app's, binds it here.
		if sender != "" && c.UserID != sender {
			return nil, herald.PropertyError(herald.EInvalidProperty, where+".content.id", "%s.content.id: content %q was declared by another user.", where, ref.ID)
		}
		if err := q.BindContent(ctx, appID, c.ID, conversationID); err != nil {
			return nil, err
		}
		c.ConversationID = conversationID
	}
	if conversationID != "" && c.ConversationID != conversationID {
		return nil, herald.PropertyError(herald.EInvalidProperty, where+".content.id", "%s.content.id: content %q belongs to another conversation.", where, ref.ID)
	}
	if c.UploadedAt == nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, where+".content.id", "%s.content.id: content %q has not been uploaded yet; PUT its bytes to its upload_url first.", where, ref.ID)
	}
	if ref.Size != c.Size {
		e := herald.PropertyError(herald.EInvalidProperty, where+".content.size", "%s.content.size is %d but content %q holds %d bytes.", where, ref.Size, ref.ID, c.Size)
		e.Data["expected"] = c.Size
		return nil, e
	}
	return &herald.ContentRef{ID: id, Size: c.Size}, nil
}

func checkSender(sender herald.Sender) error {
	switch {
	case sender.UserID != "" && sender.Name != "":
		return herald.PropertyError(herald.EInvalidProperty, "sender", "sender takes either user_id or name, not both.")
	case sender.UserID != "":
		return checkUserID("sender.user_id", sender.UserID)
	case strings.TrimSpace(sender.Name) != "":
		return nil
	}
	return herald.PropertyError(herald.EMissingProperty, "sender", "sender needs a user_id or a name.")
}

// checkSend checks what a send or a scheduled send gives before any
// transaction: the conversation's bare id, the deduplication key in
// canonical form, the sender and the notification.
func checkSend(conversationID string, in MessageInput, dedupKey string) (conv, key string, notification json.RawMessage, err error) {
	if key, err = requestID(dedupKey); err != nil {
		return "", "", nil, err
	}
	if err := checkSender(in.Sender); err != nil {
		return "", "", nil, err
	}
	if notification, err = checkNotification(in.Notification); err != nil {
		return "", "", nil, err
	}
	return herald.LocalID(conversationID, herald.ConversationIDPrefix), key, notification, nil
}

// SendMessage adds a message to a conversation. A non-empty dedupKey (the
// If-None-Match UUID of the request) makes retries return the first message
// (replay == true) instead of sending it again.
func (s *Service) SendMessage(ctx context.Context, appID, conversationID string, in MessageInput, dedupKey string) (out *herald.Message, replay bool, err error) {
	conversationID, dedupKey, notification, err := checkSend(conversationID, in, dedupKey)
	if err != nil {
		return nil, false, err
	}
	if _, shared := s.Store.(herald.SharedStore); shared && dedupKey == "" {
		out, err := s.sends.send(s, &pendingSend{ctx: ctx, appID: appID, conversationID: conversationID,
			in: in, notification: notification})
		return out, false, err
	}
	return s.sendMessage(ctx, appID, conversationID, in, dedupKey, notification)
}

// sendMessage is SendMessage in a transaction of its own.
func (s *Service) sendMessage(ctx context.Context, appID, conversationID string, in MessageInput, dedupKey string,
	notification json.RawMessage) (out *herald.Message, replay bool, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if dedupKey != "" {
			id, err := tx.RequestMessage(ctx, appID, dedupKey)
			if err != nil {
				return err
			}
			if id != "" {
				m, err := tx.Message(ctx, appID, id)
				if herald.IsNotFound(err) || (err == nil && m.ConversationID != conversationID) {
					return herald.PropertyError(herald.EIDInUse, "If-None-Match",
						"If-None-Match %s was already used for another request.", dedupKey)
				}
				out, replay = m, true
				return err
			}
		}
		// Taking the position first reads the conversation and, on
		// PostgreSQL, locks it: one statement instead of a read, a re-read
		// and an update. A refused message rolls the increment back.
		c, err := tx.NextMessagePosition(ctx, appID, conversationID)
		if err != nil {
			return err
		}
		if err := checkParticipant(c, in.Sender); err != nil {
			if in.asParticipant {
				// Sent as the user (the Client API proxy): a conversation
				// the user is not in is none of theirs.
				return herald.NotFound("conversation", c.ID)
			}
			return err
		}
		parts, err := checkParts(ctx, tx, appID, c.ID, in.Sender.UserID, in.Parts, true)
		if err != nil {
			return err
		}
		// A message sent with a deduplication key takes it as its id, as
		// on Layer (live responses in cakejelly/layer-api's
		// spec/cassettes/conversation_messages.yml).
		id := dedupKey
		if id != "" {
			// Unless another app's message has it: the request table
			// still makes retries find this one.
			if taken, err := tx.IDTaken(ctx, "message", id); err != nil {
				return err
			} else if taken {
				id = ""
			}
		}
		if id == "" {
			id = NewID()
		}
		m, err := s.createMessage(ctx, tx, c, id, in.Sender, parts, notification, nil)
		if err != nil {
			return err
		}
		if dedupKey != "" {
			if err := tx.PutRequestMessage(ctx, appID, dedupKey, m.ID, m.SentAt); err != nil {
				return err
			}
		}
		out = m
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, replay, nil
}

func checkParticipant(c *herald.Conversation, sender herald.Sender) error {
	if sender.UserID != "" && !c.HasParticipant(sender.UserID) {
		return herald.PropertyError(herald.EInvalidProperty, "sender.user_id",
			"sender.user_id %q is not a participant of conversation %s.", sender.UserID, c.ID)
	}
	return nil
}

// createMessage writes a checked message at the position just taken in c
// (see NextMessagePosition), and records message.sent. ids, when not nil,
// keeps the identities of c's participants for the next message of the
// same transaction to c (see sendTogether).
func (s *Service) createMessage(ctx context.Context, tx herald.Tx, c *herald.Conversation, id string, sender herald.Sender,
	parts []herald.Part, notification json.RawMessage, ids *participantIdentities) (*herald.Message, error) {
	status := make(map[string]string, len(c.Participants))
	for _, p := range c.Participants {
		status[p] = herald.StatusSent
	}
	if sender.UserID != "" {
		status[sender.UserID] = herald.StatusRead
	}
	// A message in a contact's conversation is a channel message too: it
	// opens the conversation if closed, and its connector sends it on.
	contact, ch, mc, err := channelOf(ctx, tx, c.AppID, c, sender)
	if err != nil {
		return nil, err
	}
	data := &herald.EventData{}
	now := s.now()
	if contact != nil {
		// The contact writing opens WhatsApp's window; anyone else writes
		// free-form, which needs it open (Layer's API sends no template).
		if mc.Direction == herald.DirectionReceived {
			err = tx.SetContactLastInbound(ctx, c.AppID, contact.UUID, now)
		} else {
			err = s.checkWindow(ctx, tx, contact, ch)
		}
		if err != nil {
			return nil, err
		}
		if err := s.reopen(ctx, tx, contact, ch, c); err != nil {
			return nil, err
		}
		data.Contact, data.Channel = contact, ch
	}
	m := &herald.Message{ID: id, AppID: c.AppID, ConversationID: c.ID, Position: c.LastPosition,
		Sender: sender, Parts: parts, Notification: notification, SentAt: now, RecipientStatus: status,
		Channel: mc}
	// Read before the message is written, so that on PostgreSQL the
	// insert goes with the COMMIT rather than in a round trip of its
	// own.
	// A participant's message names the participants alone: those of the
	// transaction's other messages to c.
	if ids != nil && (sender.UserID != "" && !c.HasParticipant(sender.UserID)) {
		ids = nil
	}
	if ids != nil && ids.read {
		data.Identities = ids.m
	} else if data.Identities, err = messageIdentities(ctx, tx, m, c); err != nil {
		return nil, err
	} else if ids != nil {
		ids.m, ids.read = data.Identities, true
	}
	if err := tx.CreateMessage(ctx, m); err != nil {
		return nil, err
	}
	if err := hideFromBlocks(ctx, tx, m, c); err != nil {
		return nil, err
	}
	if len(c.Participants) <= maxCarriedInboxes && mc == nil && s.Watching != nil && s.Watching(c.AppID, c.Participants) {
		if data.Inboxes, data.HiddenFrom, _, err = tx.MessageInboxes(ctx, m); err != nil {
			return nil, err
		}
	}
	data.Message, data.Conversation = m, c
	return m, s.record(ctx, tx, m.AppID, herald.EventMessageSent, &m.Sender, data)
}

// maxCarriedInboxes bounds the participants whose inbox entries a
// message's event carries (EventData.Inboxes): about 90 bytes each. The
// Client API's sockets read those of larger conversations. Reading them
// costs the writer about a tenth of a message, so they are read only when
// a socket will show them (Service.Watching).
const maxCarriedInboxes = 25

func checkNotification(raw json.RawMessage) (json.RawMessage, error) {
	n, err := checkMetadata("notification", raw)
	if err != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "notification", "notification must be a JSON object such as {\"text\": \"…\"}.")
	}
	return n, nil
}

// recordMessage records a message event with the conversation and the
// identities of its participants as they are now.
func (s *Service) recordMessage(ctx context.Context, tx herald.Tx, typ string, actor *herald.Actor, m *herald.Message, c *herald.Conversation, data *herald.EventData) error {
	if data == nil {
		data = &herald.EventData{}
	}
	data.Message = m
	data.Conversation = c
	ids, err := messageIdentities(ctx, tx, m, c)
	if err != nil {
		return err
	}
	data.Identities = ids
	return s.record(ctx, tx, m.AppID, typ, actor, data)
}

// messageIdentities reads the identities of a message's conversation's
// participants and its sender; nil when none has one.
func messageIdentities(ctx context.Context, tx herald.Tx, m *herald.Message, c *herald.Conversation) (map[string]*herald.Identity, error) {
	users := c.Participants
	if m.Sender.UserID != "" && !c.HasParticipant(m.Sender.UserID) {
		users = append(append([]string(nil), users...), m.Sender.UserID)
	}
	ids, err := tx.Identities(ctx, m.AppID, users)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return ids, nil
}

// Message returns a live message. With conversationID set, the message must
// belong to that conversation; with userID set, the user must be one of its
// recipients and must not have deleted it from their devices.
func (s *Service) Message(ctx context.Context, appID, conversationID, userID, id string) (m *herald.Message, err error) {
	id = herald.LocalID(id, herald.MessageIDPrefix)
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		m, err = q.Message(ctx, appID, id)
		if herald.IsNotFound(err) {
			deleted, qerr := q.MessageDeleted(ctx, appID, id)
			if qerr != nil {
				return qerr
			}
			if deleted {
				return herald.Gone("message", id)
			}
		}
		if err != nil {
			return err
		}
		return visible(ctx, q, m, conversationID, userID)
	})
	return m, err
}

func visible(ctx context.Context, q herald.Queries, m *herald.Message, conversationID, userID string) error {
	if conversationID != "" && m.ConversationID != conversationID {
		return herald.NotFound("message", m.ID)
	}
	if userID != "" {
		// A user sees the messages of the conversations they take part in
		// now, as in the conversation's message list.
		if _, ok := m.RecipientStatus[userID]; !ok {
			return herald.NotFound("message", m.ID)
		}
		c, err := q.Conversation(ctx, m.AppID, m.ConversationID)
		if err != nil {
			return err
		}
		if !c.HasParticipant(userID) {
			return herald.NotFound("message", m.ID)
		}
		hidden, err := q.MessageHidden(ctx, m.AppID, m.ID, userID)
		if err != nil {
			return err
		}
		if hidden {
			return herald.NotFound("message", m.ID)
		}
	}
	return nil
}

// Messages lists a conversation's messages, newest first; with userID set,
// as that user sees them.
func (s *Service) Messages(ctx context.Context, appID, conversationID, userID string, p herald.Page) (ms []*herald.Message, err error) {
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	p.Before = herald.LocalID(p.Before, herald.MessageIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err := q.Conversation(ctx, appID, conversationID)
		if err != nil {
			return conversationGone(ctx, q, appID, conversationID, err)
		}
		if userID != "" && !c.HasParticipant(userID) {
			return herald.NotFound("conversation", conversationID)
		}
		if p.Before != "" {
			before, err := q.Message(ctx, appID, p.Before)
			if err != nil || before.ConversationID != c.ID {
				return herald.PropertyError(herald.EInvalidProperty, "from_id", "from_id %q is not a message of this conversation.", p.Before)
			}
		}
		ms, err = q.Messages(ctx, appID, c.ID, userID, p)
		return err
	})
	return ms, err
}

// Receipt types.
const (
	ReceiptDelivery = "delivery"
	ReceiptRead     = "read"
)

// PostReceipt records that a user received or read a message (or an
// announcement). Statuses only move forward: sent, delivered, read; a
// receipt that would not advance changes nothing and records no event.
func (s *Service) PostReceipt(ctx context.Context, appID, userID, id, typ string) error {
	status, err := receiptStatus(typ)
	if err != nil {
		return err
	}
	event := herald.EventMessageDelivered
	if status == herald.StatusRead {
		event = herald.EventMessageRead
	}
	id = herald.LocalID(herald.LocalID(id, herald.MessageIDPrefix), herald.AnnouncementIDPrefix)
	actor := &herald.Actor{UserID: userID}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		m, err := tx.Message(ctx, appID, id)
		if herald.IsNotFound(err) {
			return s.announcementReceipt(ctx, tx, appID, userID, id, status)
		}
		if err != nil {
			return err
		}
		if err := visible(ctx, tx, m, "", userID); err != nil {
			return err
		}
		if herald.StatusRank(status) <= herald.StatusRank(m.RecipientStatus[userID]) {
			return nil
		}
		m.RecipientStatus[userID] = status
		if err := tx.UpdateMessage(ctx, m); err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, appID, m.ConversationID)
		if err != nil {
			return err
		}
		return s.recordMessage(ctx, tx, event, actor, m, c, &herald.EventData{UserID: userID, Receipt: typ})
	})
}

// receiptStatus is the status a receipt of type typ moves its recipient to.
func receiptStatus(typ string) (string, error) {
	switch typ {
	case ReceiptDelivery:
		return herald.StatusDelivered, nil
	case ReceiptRead:
		return herald.StatusRead, nil
	case "":
		return "", herald.PropertyError(herald.EMissingProperty, "type", "type is required: \"delivery\" or \"read\".")
	}
	return "", herald.PropertyError(herald.EInvalidProperty, "type", "type must be \"delivery\" or \"read\", not %q.", typ)
}

// DeleteMessage deletes a message for every participant (Layer's
// all_participants mode). With conversationID set the message must belong to
// it; with actor.UserID set the actor must be one of its recipients.
func (s *Service) DeleteMessage(ctx context.Context, appID, conversationID, id string, actor *herald.Actor) error {
	id = herald.LocalID(id, herald.MessageIDPrefix)
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		m, err := tx.Message(ctx, appID, id)
		if err != nil {
			return err
		}
		userID := ""
		if actor != nil {
			userID = actor.UserID
		}
		if err := visible(ctx, tx, m, conversationID, userID); err != nil {
			return err
		}
		now := s.now()
		m.DeletedAt = &now
		if err := tx.UpdateMessage(ctx, m); err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, appID, m.ConversationID)
		if err != nil {
			return err
		}
		return s.recordMessage(ctx, tx, herald.EventMessageDeleted, actor, m, c, nil)
	})
}

// HideMessage deletes a message from one user's devices only (Layer's
// my_devices mode); the other participants still see it.
func (s *Service) HideMessage(ctx context.Context, appID, userID, id string) error {
	id = herald.LocalID(id, herald.MessageIDPrefix)
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		m, err := tx.Message(ctx, appID, id)
		if err != nil {
			return err
		}
		if err := visible(ctx, tx, m, "", userID); err != nil {
			return err
		}
		now := s.now()
		if err := tx.HideMessage(ctx, appID, m.ID, userID, now); err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, appID, m.ConversationID)
		if err != nil {
			return err
		}
		return s.recordMessage(ctx, tx, herald.EventMessageDeletedForUser, &herald.Actor{UserID: userID}, m, c,
			&herald.EventData{UserID: userID})
	})
}
