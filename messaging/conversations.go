package messaging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// ConversationInput creates a conversation.
type ConversationInput struct {
	Participants []string
	// Distinct defaults to true, as in Layer: one conversation per set of
	// participants.
	Distinct *bool
	Metadata json.RawMessage
	// RequestID is the request's deduplication key (If-None-Match), a
	// UUID: the conversation created takes it as its id, as on Layer
	// ([P1.1] platform/introduction/deduplication.md), and a retry finds
	// it there instead of creating another.
	RequestID string
}

// newObjectID returns the id of an object about to be created: the
// request's deduplication key, in canonical form, when it has one (retry
// reports that it does: the object may exist already), a new id otherwise.
func newObjectID(key string) (id string, retry bool, err error) {
	if id, err = requestID(key); err != nil || id != "" {
		return id, id != "", err
	}
	return NewID(), false, nil
}

// requestID checks a deduplication key and returns it in canonical form.
func requestID(key string) (string, error) {
	if key == "" {
		return "", nil
	}
	u, err := uuid.Parse(strings.Trim(key, `"`))
	if err != nil {
		return "", herald.PropertyError(herald.EInvalidRequestID, "If-None-Match", "If-None-Match must be a UUID, got %q.", key)
	}
	return u.String(), nil
}

// distinctKey identifies a set of participants, whatever their order.
func distinctKey(participants []string) string {
	sorted := slices.Clone(participants)
	slices.Sort(sorted)
	h := sha256.Sum256([]byte(strings.Join(sorted, "\x00")))
	return hex.EncodeToString(h[:])
}

func conversationKey(c *herald.Conversation) string {
	if !c.Distinct {
		return ""
	}
	return distinctKey(c.Participants)
}

// CreateConversation creates a conversation. For a distinct conversation
// whose participants already have one, it returns that one instead
// (created == false), or a conflict error if the metadata given differs.
func (s *Service) CreateConversation(ctx context.Context, appID string, actor *herald.Actor, in ConversationInput) (out *herald.Conversation, created bool, err error) {
	if in.Participants == nil {
		return nil, false, herald.PropertyError(herald.EMissingProperty, "participants", "A conversation needs a participants list.")
	}
	participants, err := checkUserIDs("participants", in.Participants)
	if err != nil {
		return nil, false, err
	}
	if len(participants) == 0 {
		return nil, false, herald.PropertyError(herald.EInvalidProperty, "participants", "A conversation needs at least one participant.")
	}
	meta, err := checkMetadata("metadata", in.Metadata)
	if err != nil {
		return nil, false, err
	}
	distinct := in.Distinct == nil || *in.Distinct
	key := ""
	if distinct {
		key = distinctKey(participants)
	}
	id, retry, err := newObjectID(in.RequestID)
	if err != nil {
		return nil, false, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if retry {
			// A retry: the first request's conversation, whatever this
			// one asks, as Layer "will not re-execute the request".
			existing, err := tx.Conversation(ctx, appID, id)
			if err == nil {
				out = existing
				return nil
			}
			if !herald.IsNotFound(err) {
				return err
			}
			if err := keyUnused(ctx, tx, "conversation", id); err != nil {
				return err
			}
		}
		if err := checkNotBlocking(ctx, tx, appID, actor, participants); err != nil {
			return err
		}
		if distinct {
			existing, err := tx.DistinctConversation(ctx, appID, key)
			if err == nil {
				if in.Metadata != nil && !sameJSON(existing.Metadata, meta) {
					return &herald.Error{ID: herald.EConflict,
						Message: "A distinct conversation with these participants already exists with different metadata.",
						Data:    map[string]any{"conversation": existing}}
				}
				out = existing
				return nil
			}
			if !herald.IsNotFound(err) {
				return err
			}
		}
		c := &herald.Conversation{ID: id, AppID: appID, Participants: participants, Distinct: distinct,
			Metadata: meta, CreatedAt: s.now()}
		if err := tx.CreateConversation(ctx, c, key); err != nil {
			return err
		}
		out, created = c, true
		return s.recordConversation(ctx, tx, herald.EventConversationCreated, actor, c, nil)
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

func (s *Service) recordConversation(ctx context.Context, tx herald.Tx, typ string, actor *herald.Actor, c *herald.Conversation, data *herald.EventData) error {
	if data == nil {
		data = &herald.EventData{}
	}
	data.Conversation = c
	users := c.Participants
	if actor != nil && actor.UserID != "" && !c.HasParticipant(actor.UserID) {
		// The actor may have just left the conversation; the event still
		// mentions them, so it carries their identity too.
		users = append(slices.Clone(users), actor.UserID)
	}
	ids, err := tx.Identities(ctx, c.AppID, users)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		data.Identities = ids
	}
	return s.record(ctx, tx, c.AppID, typ, actor, data)
}

// Conversation returns a live conversation.
func (s *Service) Conversation(ctx context.Context, appID, id string) (c *herald.Conversation, err error) {
	id = herald.LocalID(id, herald.ConversationIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err = q.Conversation(ctx, appID, id)
		return conversationGone(ctx, q, appID, id, err)
	})
	return c, err
}

// conversationGone turns the not_found error of a conversation that was
// deleted into a gone error.
func conversationGone(ctx context.Context, q herald.Queries, appID, id string, err error) error {
	if !herald.IsNotFound(err) {
		return err
	}
	deleted, qerr := q.ConversationDeleted(ctx, appID, id)
	if qerr != nil {
		return qerr
	}
	if deleted {
		return herald.Gone("conversation", id)
	}
	return err
}

// Conversations lists an app's conversations, or one user's, newest first.
func (s *Service) Conversations(ctx context.Context, appID, userID string, p herald.Page) (cs []*herald.Conversation, err error) {
	p.Before = herald.LocalID(p.Before, herald.ConversationIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		cs, err = q.Conversations(ctx, appID, userID, p)
		return err
	})
	return cs, err
}

// PatchOperation is one operation of a Layer-Patch document
// (application/vnd.layer-patch+json).
type PatchOperation struct {
	Operation string          `json:"operation"`
	Property  string          `json:"property"`
	Value     json.RawMessage `json:"value"`
	// Index is accepted for Layer compatibility; participants are a set.
	Index *int `json:"index,omitempty"`
}

// UpdateConversation applies Layer-Patch operations to a conversation's
// participants and metadata, recording conversation.updated.participants
// and conversation.updated.metadata events for what actually changed.
func (s *Service) UpdateConversation(ctx context.Context, appID, id string, actor *herald.Actor, ops []PatchOperation) (out *herald.Conversation, err error) {
	id = herald.LocalID(id, herald.ConversationIDPrefix)
	if len(ops) == 0 {
		return nil, herald.Errorf(herald.EInvalidRequest, "The patch holds no operations.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		out, err = s.updateConversation(ctx, tx, appID, id, actor, ops)
		return err
	})
	return out, err
}

// updateConversation is UpdateConversation within a transaction. An actor
// who is a user acts as a participant: one who is not gets not_found, as
// Layer's Client API answered for a conversation the user is not in.
func (s *Service) updateConversation(ctx context.Context, tx herald.Tx, appID, id string, actor *herald.Actor, ops []PatchOperation) (*herald.Conversation, error) {
	c, err := tx.Conversation(ctx, appID, id)
	if err != nil {
		return nil, conversationGone(ctx, tx, appID, id, err)
	}
	if actor != nil && actor.UserID != "" && !c.HasParticipant(actor.UserID) {
		return nil, herald.NotFound("conversation", id)
	}
	if err := s.applyConversationPatch(ctx, tx, appID, c, actor, ops); err != nil {
		return nil, err
	}
	return c, nil
}

// applyConversationPatch applies ops to c, saves it and records what
// changed.
func (s *Service) applyConversationPatch(ctx context.Context, tx herald.Tx, appID string, c *herald.Conversation, actor *herald.Actor, ops []PatchOperation) error {
	before := slices.Clone(c.Participants)
	var meta any = map[string]any{}
	if len(c.Metadata) > 0 {
		if err := json.Unmarshal(c.Metadata, &meta); err != nil {
			return err
		}
	}
	for i, op := range ops {
		if err := applyOperation(c, &meta, op, fmt.Sprintf("[%d]", i)); err != nil {
			return err
		}
	}
	if len(c.Participants) == 0 {
		return herald.PropertyError(herald.EInvalidProperty, "participants", "A conversation needs at least one participant.")
	}
	newMeta, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if err := checkDepth("metadata", newMeta); err != nil {
		return err
	}
	if string(newMeta) == "{}" {
		newMeta = nil
	}
	added, removed := diff(before, c.Participants)
	if err := checkNotBlocking(ctx, tx, appID, actor, added); err != nil {
		return err
	}
	participantsChanged := len(added) > 0 || len(removed) > 0
	metaChanged := !sameJSON(c.Metadata, newMeta)
	c.Metadata = newMeta
	if participantsChanged {
		// A distinct conversation stands for one set of participants;
		// once that set changes it is an ordinary conversation.
		c.Distinct = false
		c.ChangedAt = s.now()
	}
	if err := tx.UpdateConversation(ctx, c, conversationKey(c)); err != nil {
		return err
	}
	if participantsChanged {
		if err := s.recordConversation(ctx, tx, herald.EventConversationUpdatedP, actor, c,
			&herald.EventData{Added: added, Removed: removed}); err != nil {
			return err
		}
	}
	if metaChanged {
		return s.recordConversation(ctx, tx, herald.EventConversationUpdatedM, actor, c, nil)
	}
	return nil
}

func diff(before, after []string) (added, removed []string) {
	for _, p := range after {
		if !slices.Contains(before, p) {
			added = append(added, p)
		}
	}
	for _, p := range before {
		if !slices.Contains(after, p) {
			removed = append(removed, p)
		}
	}
	return added, removed
}

func applyOperation(c *herald.Conversation, meta *any, op PatchOperation, where string) error {
	prop := func() string { return "operations" + where + ".property" }
	value := func() string { return "operations" + where + ".value" }
	switch {
	case op.Property == "participants":
		switch op.Operation {
		case "add", "remove":
			var ids []string
			var one string
			if json.Unmarshal(op.Value, &one) == nil {
				ids = []string{one}
			} else if json.Unmarshal(op.Value, &ids) != nil {
				return herald.PropertyError(herald.EInvalidProperty, value(), "%s must be a user id or a list of them.", value())
			}
			ids, err := checkUserIDs(value(), ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				has := slices.Contains(c.Participants, id)
				if op.Operation == "add" && !has {
					c.Participants = append(c.Participants, id)
				} else if op.Operation == "remove" && has {
					c.Participants = slices.DeleteFunc(c.Participants, func(p string) bool { return p == id })
				}
			}
		case "set":
			var ids []string
			if json.Unmarshal(op.Value, &ids) != nil {
				return herald.PropertyError(herald.EInvalidProperty, value(), "%s must be a list of user ids.", value())
			}
			ids, err := checkUserIDs(value(), ids)
			if err != nil {
				return err
			}
			c.Participants = ids
		default:
			return herald.PropertyError(herald.EInvalidProperty, "operations"+where+".operation",
				"participants take the operations add, remove and set, not %q.", op.Operation)
		}
		if len(c.Participants) > MaxParticipants {
			return herald.PropertyError(herald.EInvalidProperty, "participants", "A conversation has at most %d participants.", MaxParticipants)
		}
		return nil
	case op.Property == "metadata" || strings.HasPrefix(op.Property, "metadata."):
		var path []string
		if op.Property != "metadata" {
			path = strings.Split(strings.TrimPrefix(op.Property, "metadata."), ".")
			if slices.Contains(path, "") {
				return herald.PropertyError(herald.EInvalidProperty, prop(), "%q is not a valid metadata path.", op.Property)
			}
			// Checked on the result too; refused here before a path of
			// thousands of levels is built.
			if len(path) >= MaxMetadataDepth {
				return depthError("metadata")
			}
		}
		switch op.Operation {
		case "set":
			var v any
			if len(op.Value) == 0 || json.Unmarshal(op.Value, &v) != nil {
				return herald.PropertyError(herald.EMissingProperty, value(), "set needs a value.")
			}
			if path == nil {
				if _, ok := v.(map[string]any); !ok && v != nil {
					return herald.PropertyError(herald.EInvalidProperty, value(), "metadata must be a JSON object.")
				}
				if v == nil {
					v = map[string]any{}
				}
				*meta = v
				return nil
			}
			return setPath(meta, path, v, prop())
		case "delete":
			if path == nil {
				*meta = map[string]any{}
				return nil
			}
			deletePath(*meta, path)
			return nil
		default:
			return herald.PropertyError(herald.EInvalidProperty, "operations"+where+".operation",
				"metadata takes the operations set and delete, not %q.", op.Operation)
		}
	default:
		return herald.PropertyError(herald.EInvalidProperty, prop(),
			"Only participants and metadata can be changed, not %q.", op.Property)
	}
}

func setPath(root *any, path []string, v any, prop string) error {
	m, ok := (*root).(map[string]any)
	if !ok {
		m = map[string]any{}
		*root = m
	}
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			if _, exists := m[k]; exists {
				return herald.PropertyError(herald.EInvalidProperty, prop, "metadata.%s is not an object.", k)
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
	return nil
}

func deletePath(root any, path []string) {
	m, ok := root.(map[string]any)
	for _, k := range path[:len(path)-1] {
		if !ok {
			return
		}
		m, ok = m[k].(map[string]any)
	}
	if ok {
		delete(m, path[len(path)-1])
	}
}

// DeleteConversation deletes a conversation, and with it its messages, for
// every participant, and its content, bytes included. An actor who is a
// user must be one of the participants.
func (s *Service) DeleteConversation(ctx context.Context, appID, id string, actor *herald.Actor) error {
	id = herald.LocalID(id, herald.ConversationIDPrefix)
	var blobs []string
	err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		c, err := tx.Conversation(ctx, appID, id)
		if err != nil {
			// "Deleting an already-deleted conversation is treated as a
			// success" (Layer's Platform API changelog, 2015-09-30).
			if herald.IsNotFound(err) {
				if deleted, qerr := tx.ConversationDeleted(ctx, appID, id); qerr != nil || deleted {
					return qerr
				}
			}
			return err
		}
		if actor != nil && actor.UserID != "" && !c.HasParticipant(actor.UserID) {
			return herald.NotFound("conversation", id)
		}
		now := s.now()
		c.DeletedAt = &now
		if err := tx.UpdateConversation(ctx, c, conversationKey(c)); err != nil {
			return err
		}
		if blobs, err = tx.DropContent(ctx, appID, c.ID, now); err != nil {
			return err
		}
		// Deleting a contact's conversation deletes the contact, as in
		// Callbell.
		if c.ContactUUID == "" {
			return s.recordConversation(ctx, tx, herald.EventConversationDeleted, actor, c, nil)
		}
		contact, err := tx.Contact(ctx, appID, c.ContactUUID)
		if err != nil {
			return err
		}
		ch, err := tx.Channel(ctx, appID, contact.ChannelUUID)
		if err != nil {
			return err
		}
		if err := s.recordConversation(ctx, tx, herald.EventConversationDeleted, actor, c,
			&herald.EventData{Contact: contact, Channel: ch}); err != nil {
			return err
		}
		return s.dropContact(ctx, tx, contact, ch, c)
	})
	if err != nil {
		return err
	}
	s.deleteBlobs(ctx, blobs)
	return nil
}

// keyUnused checks that a deduplication key, about to become a new
// object's id, is no object's id yet: not one deleted since, nor one of
// another app (ids are unique across apps).
func keyUnused(ctx context.Context, q herald.Queries, kind, id string) error {
	taken, err := q.IDTaken(ctx, kind, id)
	if err != nil || !taken {
		return err
	}
	return herald.PropertyError(herald.EIDInUse, "If-None-Match",
		"If-None-Match %s was already used for another request; send a new UUID.", id)
}
