package messaging

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// partID returns the part UUID of an id a client gave a part, in its
// canonical form: a bare UUID, or a Layer part id
// (layer:///messages/<message>/parts/<uuid>), whose message is not
// checked. A client that sends a new message does not know its id yet
// (Layer's own examples put a placeholder there), and a part keeps its id
// whatever message its id names. Anything else gives "": the part gets an
// id of Herald's. That covers the index-named ids (…/parts/0) of 1.x and
// 2.0 payloads, which clients echo back in sends that worked before parts
// had ids of their own.
func partID(id string) string {
	if rest, ok := strings.CutPrefix(id, herald.MessageIDPrefix); ok {
		_, part, found := strings.Cut(rest, "/parts/")
		if !found {
			return ""
		}
		id = part
	}
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return ""
	}
	return u.String()
}

// PartRef names a part of a message in a request.
type PartRef struct {
	// Name is the part's id (3.0), or the index of a part stored before
	// parts had ids.
	Name string
	// ByIndex says Name is the part's index, whatever its id, as 1.x and
	// 2.0 name every part.
	ByIndex bool
}

// index returns the index of the part r names in m, -1 when there is none.
func (r PartRef) index(m *herald.Message) int {
	if r.ByIndex {
		i, err := strconv.Atoi(r.Name)
		if err != nil || i < 0 || i >= len(m.Parts) || strconv.Itoa(i) != r.Name {
			return -1
		}
		return i
	}
	name := r.Name
	if id := partID(name); id != "" {
		name = id
	}
	return m.PartIndex(name)
}

func (r PartRef) notFound() error { return herald.NotFound("message part", r.Name) }

// nameParts gives every part of m stored before parts had ids its index as
// its id, before m's parts change: it keeps the name it had, which removing
// a part before it would otherwise change.
func nameParts(m *herald.Message) {
	for i := range m.Parts {
		if m.Parts[i].ID == "" {
			m.Parts[i].ID = strconv.Itoa(i)
		}
	}
}

// Parts returns a live message of a conversation, whose parts the caller
// lists.
func (s *Service) Parts(ctx context.Context, appID, conversationID, messageID string) (*herald.Message, error) {
	return s.Message(ctx, appID, conversationID, "", messageID)
}

// Part returns a live message of a conversation and the index of the part
// ref names.
func (s *Service) Part(ctx context.Context, appID, conversationID, messageID string, ref PartRef) (*herald.Message, int, error) {
	m, err := s.Message(ctx, appID, conversationID, "", messageID)
	if err != nil {
		return nil, 0, err
	}
	i := ref.index(m)
	if i < 0 {
		return nil, 0, ref.notFound()
	}
	return m, i, nil
}

// editParts runs edit on a live message of a conversation in a write
// transaction, saves the parts it leaves and records the events it
// returns, each with the message as it is after the change and the part it
// concerns.
func (s *Service) editParts(ctx context.Context, appID, conversationID, messageID string,
	edit func(tx herald.Tx, m *herald.Message) ([]partEvent, error)) (out *herald.Message, err error) {
	messageID = herald.LocalID(messageID, herald.MessageIDPrefix)
	conversationID = herald.LocalID(conversationID, herald.ConversationIDPrefix)
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		m, err := tx.Message(ctx, appID, messageID)
		if err != nil {
			return messageGone(ctx, tx, appID, messageID, err)
		}
		if err := visible(ctx, tx, m, conversationID, ""); err != nil {
			return err
		}
		nameParts(m)
		events, err := edit(tx, m)
		if err != nil {
			return err
		}
		if len(m.Parts) == 0 {
			// As a send needs a part (checkParts), so does what it sent;
			// Layer's documentation says nothing of a message without.
			return herald.Errorf(herald.EInvalidOperation,
				"A message keeps at least one part: replace its last part (PUT …/parts/{part_id}) or delete the message.")
		}
		if len(m.Parts) > herald.MaxMessageParts {
			e := herald.Errorf(herald.EInvalidOperation, "The message would have %d parts, past the %d a message changed part by part may have.",
				len(m.Parts), herald.MaxMessageParts)
			e.Data = map[string]any{"parts": len(m.Parts), "limit": herald.MaxMessageParts}
			return e
		}
		if b, _ := json.Marshal(m.Parts); len(b) > herald.MaxMessagePartsSize {
			e := herald.Errorf(herald.EInvalidOperation,
				"The message's parts would take %d bytes, past the %d a message changed part by part may have; send large content as rich content.",
				len(b), herald.MaxMessagePartsSize)
			e.Data = map[string]any{"size": len(b), "limit": herald.MaxMessagePartsSize}
			return e
		}
		if err := tx.UpdateMessageParts(ctx, m); err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, appID, m.ConversationID)
		if err != nil {
			return err
		}
		for _, e := range events {
			part := e.part
			if err := s.recordMessage(ctx, tx, e.typ, nil, m, c, &herald.EventData{Part: &part}); err != nil {
				return err
			}
		}
		out = m
		return nil
	})
	return out, err
}

// messageGone turns the not_found error of a message that was deleted into
// Layer's 410 Gone.
func messageGone(ctx context.Context, q herald.Queries, appID, id string, err error) error {
	if !herald.IsNotFound(err) {
		return err
	}
	deleted, qerr := q.MessageDeleted(ctx, appID, id)
	if qerr != nil {
		return qerr
	}
	if deleted {
		return herald.Gone("message", id)
	}
	return err
}

// partEvent is an event of a part change: its type and the part, as it is
// after the change, or as it was for a removal.
type partEvent struct {
	typ  string
	part herald.Part
}

// AddPart adds a part to a live message of a conversation, after its other
// parts, and records message.part.created. It returns the message and the
// new part's index.
func (s *Service) AddPart(ctx context.Context, appID, conversationID, messageID string, in PartInput) (*herald.Message, int, error) {
	m, err := s.editParts(ctx, appID, conversationID, messageID, func(tx herald.Tx, m *herald.Message) ([]partEvent, error) {
		p, err := checkPart(ctx, tx, appID, m.ConversationID, "", "part", in)
		if err != nil {
			return nil, err
		}
		if p.ID = partID(in.ID); p.ID == "" {
			p.ID = NewID()
		} else if m.PartIndex(p.ID) >= 0 {
			return nil, herald.PropertyError(herald.EIDInUse, "id", "The message has a part with id %s already.", p.ID)
		}
		now := s.now()
		p.UpdatedAt = &now
		m.Parts = append(m.Parts, p)
		return []partEvent{{herald.EventMessagePartCreated, p}}, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return m, len(m.Parts) - 1, nil
}

// UpdatePart replaces the part ref names in a live message of a
// conversation, which keeps its id and its place, and records
// message.part.updated. It returns the message and the part's index.
func (s *Service) UpdatePart(ctx context.Context, appID, conversationID, messageID string, ref PartRef, in PartInput) (*herald.Message, int, error) {
	var at int
	m, err := s.editParts(ctx, appID, conversationID, messageID, func(tx herald.Tx, m *herald.Message) ([]partEvent, error) {
		if at = ref.index(m); at < 0 {
			return nil, ref.notFound()
		}
		p, err := checkPart(ctx, tx, appID, m.ConversationID, "", "part", in)
		if err != nil {
			return nil, err
		}
		// The path names the part; an id in the body is not a rename.
		p.ID = m.Parts[at].ID
		now := s.now()
		p.UpdatedAt = &now
		m.Parts[at] = p
		return []partEvent{{herald.EventMessagePartUpdated, p}}, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return m, at, nil
}

// ReplaceParts replaces every part of a live message of a conversation.
// Layer's documentation names the three part events but not those of a
// replacement; Herald records what changed, part by part, so that a
// receiver that follows parts through their events stays right: first a
// message.part.deleted for each part whose id is gone, in the order of the
// old parts, then, in the order of the new ones, a message.part.updated
// for each part whose id is kept and a message.part.created for each new
// one. A new part with no id, or one that is not a UUID, gets a new id, as
// in a send.
func (s *Service) ReplaceParts(ctx context.Context, appID, conversationID, messageID string, in []PartInput) (*herald.Message, error) {
	return s.editParts(ctx, appID, conversationID, messageID, func(tx herald.Tx, m *herald.Message) ([]partEvent, error) {
		parts, err := checkParts(ctx, tx, appID, m.ConversationID, "", in, true)
		if err != nil {
			return nil, err
		}
		now := s.now()
		kept := map[string]bool{}
		for i := range parts {
			parts[i].UpdatedAt = &now
			kept[parts[i].ID] = true
		}
		var events []partEvent
		for _, p := range m.Parts {
			if !kept[p.ID] {
				events = append(events, partEvent{herald.EventMessagePartDeleted, p})
			}
		}
		for _, p := range parts {
			typ := herald.EventMessagePartCreated
			if m.PartIndex(p.ID) >= 0 {
				typ = herald.EventMessagePartUpdated
			}
			events = append(events, partEvent{typ, p})
		}
		m.Parts = parts
		return events, nil
	})
}

// DeletePart removes the part ref names from a live message of a
// conversation and records message.part.deleted, with the part as it was.
// A message keeps at least one part.
func (s *Service) DeletePart(ctx context.Context, appID, conversationID, messageID string, ref PartRef) error {
	_, err := s.editParts(ctx, appID, conversationID, messageID, func(tx herald.Tx, m *herald.Message) ([]partEvent, error) {
		at := ref.index(m)
		if at < 0 {
			return nil, ref.notFound()
		}
		gone := m.Parts[at]
		m.Parts = append(m.Parts[:at:at], m.Parts[at+1:]...)
		return []partEvent{{herald.EventMessagePartDeleted, gone}}, nil
	})
	return err
}
