package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// ContactInput creates or changes a contact, with Callbell's field names.
// On update, nil fields stay as they are.
type ContactInput struct {
	// Identifier is the contact's address on the channel (its phone
	// number on WhatsApp); it cannot change.
	Identifier   *string         `json:"identifier"`
	Source       *string         `json:"source"`
	ChannelUUID  *string         `json:"channel_uuid"`
	Name         *string         `json:"name"`
	AvatarURL    *string         `json:"avatar_url"`
	Tags         []string        `json:"tags"`
	CustomFields json.RawMessage `json:"custom_fields"`
	AssignedUser *string         `json:"assigned_user"`
	UnassignUser bool            `json:"unassign_user"`
	// TeamUUID is the team inbox of the contact's conversation; "" on
	// update takes the contact out of its team.
	TeamUUID *string `json:"team_uuid"`
	// Bsuid is the contact's WhatsApp Business Suite User ID; a contact
	// may be created with it instead of an identifier.
	Bsuid *string `json:"bsuid"`
	// Note is a free-text note of at most 1000 characters; "" clears it.
	Note *string `json:"note"`
	// BotStatus is bot_start or bot_end.
	BotStatus *string `json:"bot_status"`
	// Blocked blocks (true) or unblocks (false) the contact: Herald's
	// extension, as Callbell's API has no way to block a contact.
	Blocked *bool `json:"blocked"`
}

// Limits of a contact's fields.
const (
	maxTags         = 100
	maxTagLength    = 100
	maxCustomFields = 100
	maxCustomField  = 4096
)

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return "", herald.PropertyError(herald.EInvalidProperty, "name", "name must be non-empty UTF-8 of at most 255 bytes.")
	}
	return name, nil
}

func checkTags(tags []string) ([]string, error) {
	if len(tags) > maxTags {
		return nil, herald.PropertyError(herald.EInvalidProperty, "tags", "tags may hold at most %d tags.", maxTags)
	}
	out := make([]string, 0, len(tags))
	seen := map[string]bool{}
	for i, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || len(t) > maxTagLength || !utf8.ValidString(t) {
			return nil, herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("tags[%d]", i),
				"tags[%d] must be non-empty UTF-8 of at most %d bytes.", i, maxTagLength)
		}
		if k := strings.ToLower(t); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// checkCustomFields accepts an object whose values are strings or arrays of
// strings, as Callbell's custom field types are, or numbers, which are kept
// as their text: Callbell's own PATCH example (contacts_api/patch_contacts.md)
// sends "orderNumber": 123 while its table gives number fields string values.
// typedCustomFields then checks the values against the app's definitions.
func checkCustomFields(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if raw[0] != '{' || dec.Decode(&fields) != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "custom_fields", "custom_fields must be a JSON object of strings, numbers or string arrays.")
	}
	if len(fields) > maxCustomFields {
		return nil, herald.PropertyError(herald.EInvalidProperty, "custom_fields", "custom_fields may hold at most %d fields.", maxCustomFields)
	}
	for k, v := range fields {
		where := "custom_fields." + k
		switch v := v.(type) {
		case json.Number:
			fields[k] = v.String()
		case string:
			if len(v) > maxCustomField {
				return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s is longer than %d bytes.", where, maxCustomField)
			}
		case []any:
			for _, e := range v {
				if _, ok := e.(string); !ok {
					return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s must be a string, a number or an array of strings.", where)
				}
			}
		default:
			return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s must be a string, a number or an array of strings.", where)
		}
	}
	return fields, nil
}

func checkAvatarURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	return raw, checkURL("avatar_url", raw)
}

func checkEmail(property, s string) (string, error) {
	s = strings.TrimSpace(s)
	if at := strings.IndexByte(s, '@'); at <= 0 || at == len(s)-1 || len(s) > 255 || strings.ContainsAny(s, " \t\r\n") {
		return "", herald.PropertyError(herald.EInvalidProperty, property, "%s must be an email address, not %q.", property, s)
	}
	return s, nil
}

// CreateContact adds a contact on a channel (channel_uuid, or the main
// channel of source), with its identity and its conversation, open.
func (s *Service) CreateContact(ctx context.Context, appID string, in ContactInput) (out *herald.Contact, err error) {
	if in.Name == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "name", "name is required.")
	}
	name, err := checkName(*in.Name)
	if err != nil {
		return nil, err
	}
	if in.Identifier == nil && deref(in.Bsuid) == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "identifier", "identifier is required: the contact's address on the channel (its phone number on WhatsApp), or give bsuid.")
	}
	crm, err := checkCRMInput(in)
	if err != nil {
		return nil, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	fields, err := checkCustomFields(in.CustomFields)
	if err != nil {
		return nil, err
	}
	var avatar, assigned string
	if in.AvatarURL != nil {
		if avatar, err = checkAvatarURL(*in.AvatarURL); err != nil {
			return nil, err
		}
	}
	if in.AssignedUser != nil {
		if assigned, err = checkEmail("assigned_user", *in.AssignedUser); err != nil {
			return nil, err
		}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		ch, err := resolveChannel(ctx, tx, appID, "channel_uuid", deref(in.ChannelUUID), "source", deref(in.Source))
		if err != nil {
			return err
		}
		if err := checkChannelLive(ch); err != nil {
			return err
		}
		address := ""
		if in.Identifier != nil {
			if address, err = normaliseAddress("identifier", ch.Type, *in.Identifier); err != nil {
				return err
			}
		}
		typed, err := typedCustomFields(ctx, tx, appID, fields)
		if err != nil {
			return err
		}
		team, err := checkTeamAndAgent(ctx, tx, appID, in.TeamUUID, &assigned)
		if err != nil {
			return err
		}
		c := &herald.Contact{Name: name, PhoneNumber: address, AvatarURL: avatar, Tags: tags, CustomFields: typed, AssignedUser: assigned}
		if team != nil {
			c.TeamUUID, c.Team = team.UUID, team
		}
		crm.apply(c, s.now())
		if c.Bsuid != "" {
			if existing, err := tx.ContactByBsuid(ctx, appID, ch.UUID, c.Bsuid); err == nil {
				return &herald.Error{ID: herald.EConflict,
					Message: fmt.Sprintf("Contact %s already has the BSUID %q on channel %s.", existing.UUID, c.Bsuid, ch.UUID),
					Data:    map[string]any{"property": "bsuid", "contact": existing.UUID}}
			} else if !herald.IsNotFound(err) {
				return err
			}
		}
		out, err = s.addContact(ctx, tx, appID, ch, c)
		return err
	})
	return out, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// addContact stores c, a new contact on ch, with its identity and its
// conversation, and records contact.created, conversation.created and
// conversation.opened.
func (s *Service) addContact(ctx context.Context, tx herald.Tx, appID string, ch *herald.Channel, c *herald.Contact) (*herald.Contact, error) {
	if c.PhoneNumber == "" {
		// A contact known only by its BSUID.
	} else if existing, err := tx.ContactByAddress(ctx, appID, ch.UUID, c.PhoneNumber); err == nil {
		return nil, &herald.Error{ID: herald.EConflict,
			Message: fmt.Sprintf("Contact %s already has the address %q on channel %s.", existing.UUID, c.PhoneNumber, ch.UUID),
			Data:    map[string]any{"property": "identifier", "contact": existing.UUID}}
	} else if !herald.IsNotFound(err) {
		return nil, err
	}
	now := s.now()
	c.UUID, c.AppID, c.ChannelUUID, c.Source = newUUID(), appID, ch.UUID, ch.Type
	c.CreatedAt, c.UpdatedAt, c.OpenedAt = now, now, now
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Name == "" {
		c.Name = c.Bsuid
	}
	conv := &herald.Conversation{ID: NewID(), AppID: appID, Participants: []string{c.UUID}, CreatedAt: now, ContactUUID: c.UUID}
	c.ConversationID = conv.ID
	if err := tx.CreateConversation(ctx, conv, ""); err != nil {
		return nil, err
	}
	id := contactIdentity(c, nil, now)
	if err := tx.PutIdentity(ctx, id); err != nil {
		return nil, err
	}
	if err := tx.CreateContact(ctx, c); err != nil {
		return nil, err
	}
	if err := s.recordContact(ctx, tx, herald.EventContactCreated, c, ch, conv, id); err != nil {
		return nil, err
	}
	if err := s.recordConversation(ctx, tx, herald.EventConversationCreated, nil, conv,
		&herald.EventData{Contact: c, Channel: ch}); err != nil {
		return nil, err
	}
	return c, s.recordContact(ctx, tx, herald.EventConversationOpened, c, ch, conv, nil)
}

// contactIdentity is the identity of the domain model that stands for a
// contact: its user id is the contact's UUID.
func contactIdentity(c *herald.Contact, old *herald.Identity, now time.Time) *herald.Identity {
	id := &herald.Identity{AppID: c.AppID, UserID: c.UUID, CreatedAt: now}
	if old != nil {
		*id = *old
	}
	id.DisplayName, id.AvatarURL, id.UpdatedAt = c.Name, c.AvatarURL, now
	if c.Source == "email" {
		id.EmailAddress = c.PhoneNumber
	} else if phoneChannel(c.Source) {
		id.PhoneNumber = "+" + c.PhoneNumber
	}
	return id
}

// recordContact records an event about a contact or its conversation, with
// the contact, its channel and its conversation as they are now.
func (s *Service) recordContact(ctx context.Context, tx herald.Tx, typ string, c *herald.Contact, ch *herald.Channel, conv *herald.Conversation, id *herald.Identity) error {
	var err error
	if ch == nil {
		if ch, err = tx.Channel(ctx, c.AppID, c.ChannelUUID); err != nil {
			return err
		}
	}
	if conv == nil {
		if conv, err = tx.Conversation(ctx, c.AppID, c.ConversationID); err != nil {
			return err
		}
	}
	return s.record(ctx, tx, c.AppID, typ, nil, &herald.EventData{Contact: c, Channel: ch, Conversation: conv, Identity: id})
}

func contactByID(ctx context.Context, q herald.Queries, appID, id string) (*herald.Contact, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("contact", id)
	}
	return q.Contact(ctx, appID, herald.CompactUUID(u))
}

// Contact returns one of an app's contacts.
func (s *Service) Contact(ctx context.Context, appID, id string) (c *herald.Contact, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err = contactByID(ctx, q, appID, id)
		return err
	})
	return c, err
}

// ContactsPageSize is the number of contacts in a page of the list.
const ContactsPageSize = 50

// Contacts lists a page (from 1) of an app's contacts, newest first, and
// the number of pages.
func (s *Service) Contacts(ctx context.Context, appID string, f herald.ContactFilter, page int) (cs []*herald.Contact, pages int, err error) {
	if page < 1 {
		return nil, 0, herald.PropertyError(herald.EInvalidProperty, "page", "page must be a number from 1.")
	}
	if f.Source != "" {
		if err := checkChannelType("source", f.Source); err != nil {
			return nil, 0, err
		}
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if f.TeamUUID != "" {
			t, err := teamByID(ctx, q, appID, f.TeamUUID)
			if herald.IsNotFound(err) {
				return herald.PropertyError(herald.EInvalidProperty, "team_uuid", "team_uuid %q is not a team of the app.", f.TeamUUID)
			} else if err != nil {
				return err
			}
			f.TeamUUID = t.UUID
		}
		var total int
		cs, total, err = q.Contacts(ctx, appID, f, herald.PageOffset(page, ContactsPageSize), ContactsPageSize)
		pages = max(1, (total+ContactsPageSize-1)/ContactsPageSize)
		return err
	})
	return cs, pages, err
}

// UpdateContact changes a contact's name, avatar, tags, custom fields or
// assigned user, and records contact.updated when something changed.
func (s *Service) UpdateContact(ctx context.Context, appID, id string, in ContactInput) (out *herald.Contact, err error) {
	if in.Identifier != nil || in.Source != nil {
		prop := "identifier"
		if in.Source != nil {
			prop = "source"
		}
		return nil, herald.PropertyError(herald.EInvalidProperty, prop,
			"A contact's %s cannot change: it is the contact's address. Create another contact.", prop)
	}
	crm, err := checkCRMInput(in)
	if err != nil {
		return nil, err
	}
	if in.AssignedUser != nil && in.UnassignUser {
		return nil, herald.PropertyError(herald.EInvalidProperty, "unassign_user", "Give assigned_user or unassign_user, not both.")
	}
	var name, avatar, assigned string
	if in.Name != nil {
		if name, err = checkName(*in.Name); err != nil {
			return nil, err
		}
	}
	if in.AvatarURL != nil {
		if avatar, err = checkAvatarURL(*in.AvatarURL); err != nil {
			return nil, err
		}
	}
	if in.AssignedUser != nil {
		if assigned, err = checkEmail("assigned_user", *in.AssignedUser); err != nil {
			return nil, err
		}
	}
	var tags []string
	if in.Tags != nil {
		if tags, err = checkTags(in.Tags); err != nil {
			return nil, err
		}
	}
	fields, err := checkCustomFields(in.CustomFields)
	if err != nil {
		return nil, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := contactByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		before, _ := json.Marshal(c)
		team, err := checkTeamAndAgent(ctx, tx, appID, in.TeamUUID, &assigned)
		if err != nil {
			return err
		}
		if in.TeamUUID != nil {
			setTeam(c, team)
		}
		if in.ChannelUUID != nil {
			if err := moveContact(ctx, tx, c, *in.ChannelUUID); err != nil {
				return err
			}
		}
		typed, err := typedCustomFields(ctx, tx, appID, fields)
		if err != nil {
			return err
		}
		crm.apply(c, s.now())
		if in.Name != nil {
			c.Name = name
		}
		if in.AvatarURL != nil {
			c.AvatarURL = avatar
		}
		if in.AssignedUser != nil {
			c.AssignedUser = assigned
		}
		if in.UnassignUser {
			c.AssignedUser = ""
		}
		if in.Tags != nil {
			c.Tags = tags
		}
		if len(bytes.TrimSpace(in.CustomFields)) > 0 {
			c.CustomFields = typed
		}
		out = c
		if after, _ := json.Marshal(c); bytes.Equal(before, after) {
			return nil
		}
		return s.saveContact(ctx, tx, c)
	})
	return out, err
}

// saveContact stores a contact's changes, with its identity, and records
// contact.updated.
func (s *Service) saveContact(ctx context.Context, tx herald.Tx, c *herald.Contact) error {
	now := s.now()
	c.UpdatedAt = now
	if err := tx.UpdateContact(ctx, c); err != nil {
		return err
	}
	old, err := tx.Identity(ctx, c.AppID, c.UUID)
	if err != nil && !herald.IsNotFound(err) {
		return err
	}
	ident := contactIdentity(c, old, now)
	if err := tx.PutIdentity(ctx, ident); err != nil {
		return err
	}
	return s.recordContact(ctx, tx, herald.EventContactUpdated, c, nil, nil, ident)
}

// DeleteContact removes a contact, its identity and its conversation, as
// Callbell does, recording conversation.deleted and contact.deleted.
func (s *Service) DeleteContact(ctx context.Context, appID, id string) error {
	var blobs []string
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := contactByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		conv, err := tx.Conversation(ctx, appID, c.ConversationID)
		if err != nil {
			return err
		}
		now := s.now()
		conv.DeletedAt = &now
		if err := tx.UpdateConversation(ctx, conv, conversationKey(conv)); err != nil {
			return err
		}
		if blobs, err = tx.DropContent(ctx, appID, conv.ID, now); err != nil {
			return err
		}
		ch, err := tx.Channel(ctx, appID, c.ChannelUUID)
		if err != nil {
			return err
		}
		if err := s.recordConversation(ctx, tx, herald.EventConversationDeleted, nil, conv,
			&herald.EventData{Contact: c, Channel: ch}); err != nil {
			return err
		}
		return s.dropContact(ctx, tx, c, ch, conv)
	})
	if err != nil {
		return err
	}
	s.deleteBlobs(ctx, blobs)
	return nil
}

// dropContact removes a contact whose conversation was just deleted, with
// its identity, and records contact.deleted.
func (s *Service) dropContact(ctx context.Context, tx herald.Tx, c *herald.Contact, ch *herald.Channel, conv *herald.Conversation) error {
	if err := tx.DeleteContact(ctx, c.AppID, c.UUID); err != nil {
		return err
	}
	if err := tx.DeleteIdentity(ctx, c.AppID, c.UUID); err != nil && !herald.IsNotFound(err) {
		return err
	}
	return s.recordContact(ctx, tx, herald.EventContactDeleted, c, ch, conv, nil)
}

// CloseConversation closes a contact's conversation, with an optional
// reason, and records conversation.closed. Closing a closed conversation
// changes nothing.
func (s *Service) CloseConversation(ctx context.Context, appID, id, reason string) (out *herald.Contact, err error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > 255 || !utf8.ValidString(reason) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "closing_reason", "closing_reason must be UTF-8 of at most 255 bytes.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := contactByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = c
		if c.ClosedAt != nil {
			return nil
		}
		now := s.now()
		c.ClosedAt, c.ClosingReason, c.UpdatedAt = &now, reason, now
		if err := tx.UpdateContact(ctx, c); err != nil {
			return err
		}
		return s.recordContact(ctx, tx, herald.EventConversationClosed, c, nil, nil, nil)
	})
	return out, err
}

// OpenConversation opens a contact's closed conversation again and records
// conversation.opened. Opening an open conversation changes nothing.
func (s *Service) OpenConversation(ctx context.Context, appID, id string) (out *herald.Contact, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := contactByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = c
		return s.reopen(ctx, tx, c, nil, nil)
	})
	return out, err
}

// reopen opens c's conversation if it is closed.
func (s *Service) reopen(ctx context.Context, tx herald.Tx, c *herald.Contact, ch *herald.Channel, conv *herald.Conversation) error {
	if c.ClosedAt == nil {
		return nil
	}
	now := s.now()
	c.ClosedAt, c.ClosingReason, c.OpenedAt, c.UpdatedAt = nil, "", now, now
	if err := tx.UpdateContact(ctx, c); err != nil {
		return err
	}
	return s.recordContact(ctx, tx, herald.EventConversationOpened, c, ch, conv, nil)
}
