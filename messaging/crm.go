package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// maxNote is the length of a contact's note, in characters
// (contacts_api/post_contacts.md: "up to 1000 characters").
const maxNote = 1000

// crmInput is the checked CRM part of a ContactInput.
type crmInput struct {
	bsuid, note, bot *string
	blocked          *bool
}

func checkBsuid(property, raw string) (string, error) {
	b := strings.TrimSpace(raw)
	if b == "" || len(b) > 255 || !utf8.ValidString(b) || strings.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", herald.PropertyError(herald.EInvalidProperty, property, "%s must be printable UTF-8 of 1 to 255 bytes.", property)
	}
	return b, nil
}

func checkCRMInput(in ContactInput) (crmInput, error) {
	out := crmInput{blocked: in.Blocked}
	if in.Bsuid != nil {
		b, err := checkBsuid("bsuid", *in.Bsuid)
		if err != nil {
			return out, err
		}
		out.bsuid = &b
	}
	if in.Note != nil {
		n := strings.TrimSpace(*in.Note)
		if !utf8.ValidString(n) || utf8.RuneCountInString(n) > maxNote {
			return out, herald.PropertyError(herald.EInvalidProperty, "note", "note must be UTF-8 of at most %d characters.", maxNote)
		}
		out.note = &n
	}
	if in.BotStatus != nil {
		st, err := botStatus("bot_status", *in.BotStatus)
		if err != nil {
			return out, err
		}
		out.bot = &st
	}
	return out, nil
}

// botStatus maps Callbell's bot_start and bot_end to the bot's status.
func botStatus(property, s string) (string, error) {
	switch s {
	case "bot_start":
		return herald.BotStarted, nil
	case "bot_end":
		return herald.BotEnded, nil
	}
	return "", herald.PropertyError(herald.EInvalidProperty, property, "%s must be bot_start or bot_end, not %q.", property, s)
}

// apply sets the CRM fields the input gives on c; blocking a blocked
// contact keeps the time it was first blocked.
func (in crmInput) apply(c *herald.Contact, now time.Time) {
	if in.bsuid != nil {
		c.Bsuid = *in.bsuid
	}
	if in.note != nil {
		c.Note = *in.note
	}
	if in.bot != nil {
		c.BotStatus = *in.bot
	}
	if in.blocked != nil {
		switch {
		case *in.blocked && c.BlockedAt == nil:
			c.BlockedAt = &now
		case !*in.blocked:
			c.BlockedAt = nil
		}
	}
}

// checkChannelLive refuses a discarded channel.
func checkChannelLive(ch *herald.Channel) error {
	if ch.DiscardedAt == nil {
		return nil
	}
	return &herald.Error{ID: herald.EInvalidOperation,
		Message: fmt.Sprintf("Channel %s was discarded at %s: it sends and receives nothing more.", ch.UUID, herald.FormatTime(*ch.DiscardedAt)),
		Data:    map[string]any{"property": "channel_uuid", "channel": ch.UUID}}
}

// checkNotBlocked refuses messages to and from a blocked contact.
func checkNotBlocked(c *herald.Contact) error {
	if c.BlockedAt == nil {
		return nil
	}
	return &herald.Error{ID: herald.EInvalidOperation,
		Message: fmt.Sprintf("Contact %s is blocked since %s: unblock it (PATCH with \"blocked\": false) to exchange messages.", c.UUID, herald.FormatTime(*c.BlockedAt)),
		Data:    map[string]any{"contact": c.UUID}}
}

// moveContact puts c on another live channel of the same type: its address
// means the same there.
func moveContact(ctx context.Context, tx herald.Tx, c *herald.Contact, id string) error {
	ch, err := resolveChannel(ctx, tx, c.AppID, "channel_uuid", id, "source", "")
	if err != nil {
		return err
	}
	if ch.UUID == c.ChannelUUID {
		return nil
	}
	if ch.Type != c.Source {
		return herald.PropertyError(herald.EInvalidProperty, "channel_uuid",
			"channel_uuid: channel %s is a %s channel; contact %s is on %s and can move only to another %s channel.", ch.UUID, ch.Type, c.UUID, c.Source, c.Source)
	}
	if err := checkChannelLive(ch); err != nil {
		return err
	}
	c.ChannelUUID = ch.UUID
	return nil
}

// Custom fields.

// typedCustomFields checks custom field values against the app's
// definitions, normalising them: a number field's value is its text, a
// checkbox's the list of options chosen. A field without a definition keeps
// the free form Herald always accepted (a string or an array of strings).
// It returns a new map and leaves fields as they came: a store may run an
// update again (SQLite reruns a batch that one of its updates failed), and
// the second run must check what the request sent, not what the first
// made of it.
func typedCustomFields(ctx context.Context, q herald.Queries, appID string, fields map[string]any) (map[string]any, error) {
	if len(fields) == 0 {
		return fields, nil
	}
	defs, err := q.ContactFields(ctx, appID)
	if err != nil {
		return nil, err
	}
	typed := maps.Clone(fields)
	for _, d := range defs {
		v, ok := fields[d.Name]
		if !ok {
			continue
		}
		if typed[d.Name], err = typedValue(d, v); err != nil {
			return nil, err
		}
	}
	return typed, nil
}

func typedValue(d *herald.ContactField, v any) (any, error) {
	where := "custom_fields." + d.Name
	s, isString := v.(string)
	if d.Type == "checkbox" {
		list, ok := v.([]any)
		if !ok {
			return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s is a checkbox field: its value is an array of options among %s.", where, quoteAll(d.Options))
		}
		for _, e := range list {
			if !slices.Contains(d.Options, e.(string)) {
				return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s: %q is not one of its options, %s.", where, e, quoteAll(d.Options))
			}
		}
		return list, nil
	}
	if !isString {
		return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s is a %s field: its value is a string.", where, d.Type)
	}
	if s == "" {
		// Clears the field's value, whatever its type.
		return s, nil
	}
	switch d.Type {
	case "email":
		if _, err := checkEmail(where, s); err != nil {
			return nil, err
		}
	case "number":
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s is a number field, and %q is not a number.", where, s)
		}
		return strings.TrimSpace(s), nil
	case "date":
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s is a date field: its value is YYYY-MM-DD, not %q.", where, s)
		}
	case "dropdown":
		if !slices.Contains(d.Options, s) {
			return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s: %q is not one of its options, %s.", where, s, quoteAll(d.Options))
		}
	}
	return s, nil
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// ContactFieldInput defines a custom field.
type ContactFieldInput struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Options []string `json:"options"`
}

// PutContactField defines (or redefines) one of an app's custom fields:
// Herald's extension, as Callbell defines them in its dashboard. Values
// already stored are not checked again; the next write of the field is.
func (s *Service) PutContactField(ctx context.Context, appID string, in ContactFieldInput) (out *herald.ContactField, err error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "name", "name must be non-empty UTF-8 of at most 255 bytes.")
	}
	if !slices.Contains(herald.ContactFieldTypes, in.Type) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "type", "type must be one of %s, not %q.", strings.Join(herald.ContactFieldTypes, ", "), in.Type)
	}
	choice := in.Type == "dropdown" || in.Type == "checkbox"
	switch {
	case choice && len(in.Options) == 0:
		return nil, herald.PropertyError(herald.EMissingProperty, "options", "options is required for a %s field: the values it may take.", in.Type)
	case !choice && len(in.Options) > 0:
		return nil, herald.PropertyError(herald.EInvalidProperty, "options", "Only dropdown and checkbox fields have options.")
	case len(in.Options) > maxTags:
		return nil, herald.PropertyError(herald.EInvalidProperty, "options", "A field has at most %d options.", maxTags)
	}
	for i, o := range in.Options {
		if o == "" || len(o) > maxTagLength || !utf8.ValidString(o) || slices.Index(in.Options, o) != i {
			where := fmt.Sprintf("options[%d]", i)
			return nil, herald.PropertyError(herald.EInvalidProperty, where, "%s must be distinct non-empty UTF-8 of at most %d bytes.", where, maxTagLength)
		}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		out = &herald.ContactField{AppID: appID, Name: name, Type: in.Type, Options: in.Options, CreatedAt: s.now()}
		if err := tx.PutContactField(ctx, out); err != nil {
			return err
		}
		defs, err := tx.ContactFields(ctx, appID)
		for _, d := range defs {
			if d.Name == name {
				out = d
			}
		}
		return err
	})
	return out, err
}

// ContactFields lists an app's custom field definitions.
func (s *Service) ContactFields(ctx context.Context, appID string) (out []*herald.ContactField, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		out, err = q.ContactFields(ctx, appID)
		return err
	})
	return out, err
}

// DeleteContactField forgets a custom field's definition; contacts keep
// their values, free-form from then on.
func (s *Service) DeleteContactField(ctx context.Context, appID, name string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error { return tx.DeleteContactField(ctx, appID, name) })
}

// Funnels.

// FunnelInput creates a funnel stage.
type FunnelInput struct {
	Name     string `json:"name"`
	Emoji    string `json:"emoji"`
	Position *int   `json:"position"`
}

// CreateFunnel adds a stage to an app's funnel: Herald's extension, as
// Callbell's funnels are made in its dashboard. Without a position it goes
// after the last one.
func (s *Service) CreateFunnel(ctx context.Context, appID string, in FunnelInput) (out *herald.Funnel, err error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "name", "name must be non-empty UTF-8 of at most 255 bytes.")
	}
	if utf8.RuneCountInString(in.Emoji) > 16 || !utf8.ValidString(in.Emoji) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "emoji", "emoji must be UTF-8 of at most 16 characters.")
	}
	if in.Position != nil && (*in.Position < 0 || *in.Position > 1_000_000) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "position", "position must be a whole number from 0 to 1000000.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		out = &herald.Funnel{UUID: uuid.NewString(), AppID: appID, Name: name, Emoji: in.Emoji, CreatedAt: s.now()}
		if in.Position != nil {
			out.Position = *in.Position
		} else {
			all, err := tx.Funnels(ctx, appID)
			if err != nil {
				return err
			}
			out.Position = 1
			if len(all) > 0 {
				out.Position = all[len(all)-1].Position + 1
			}
		}
		return tx.CreateFunnel(ctx, out)
	})
	return out, err
}

// Funnels lists an app's funnel stages by position.
func (s *Service) Funnels(ctx context.Context, appID string) (out []*herald.Funnel, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		out, err = q.Funnels(ctx, appID)
		return err
	})
	return out, err
}

func funnelByID(ctx context.Context, q herald.Queries, appID, property, id string) (*herald.Funnel, error) {
	u := herald.ParseUUID(id)
	var f *herald.Funnel
	err := error(herald.NotFound("funnel", id))
	if u != "" {
		f, err = q.Funnel(ctx, appID, u)
	}
	if herald.IsNotFound(err) && property != "" {
		return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s: no funnel %q exists in this app (GET /v1/funnels lists them).", property, id)
	}
	return f, err
}

// DeleteFunnel removes a funnel stage no contact is in.
func (s *Service) DeleteFunnel(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		f, err := funnelByID(ctx, tx, appID, "", id)
		if err != nil {
			return err
		}
		used, err := tx.FunnelInUse(ctx, appID, f.UUID)
		if err != nil {
			return err
		}
		if used {
			return &herald.Error{ID: herald.EConflict,
				Message: fmt.Sprintf("Funnel %s still has contacts: move them to another funnel first (PUT /v1/contacts/:uuid/conversation/update_funnel).", f.UUID),
				Data:    map[string]any{"funnel": f.UUID}}
		}
		return tx.DeleteFunnel(ctx, appID, f.UUID)
	})
}

// changeContact applies change to a contact and, when it changed anything,
// saves it and records contact.updated.
func (s *Service) changeContact(ctx context.Context, appID, id string, change func(tx herald.Tx, c *herald.Contact) error) (out *herald.Contact, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := contactByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		before, _ := json.Marshal(c)
		if err := change(tx, c); err != nil {
			return err
		}
		out = c
		if after, _ := json.Marshal(c); bytes.Equal(before, after) {
			return nil
		}
		c.UpdatedAt = s.now()
		if err := tx.UpdateContact(ctx, c); err != nil {
			return err
		}
		return s.recordContact(ctx, tx, herald.EventContactUpdated, c, nil, nil, nil)
	})
	return out, err
}

// UpdateFunnel puts a contact's conversation in a funnel stage ("" takes
// it out of any), recording contact.updated.
func (s *Service) UpdateFunnel(ctx context.Context, appID, id string, funnelID *string) (*herald.Contact, error) {
	if funnelID == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "funnel_id", "funnel_id is required: a funnel's uuid (GET /v1/funnels), or \"\" to take the contact out of its funnel.")
	}
	return s.changeContact(ctx, appID, id, func(tx herald.Tx, c *herald.Contact) error {
		if *funnelID == "" {
			c.FunnelUUID = ""
			return nil
		}
		f, err := funnelByID(ctx, tx, appID, "funnel_id", *funnelID)
		if err != nil {
			return err
		}
		c.FunnelUUID = f.UUID
		return nil
	})
}

// SetBot starts (bot_start) or ends (bot_end) the bot of a contact's
// conversation, recording contact.updated.
func (s *Service) SetBot(ctx context.Context, appID, id, status string) (*herald.Contact, error) {
	if status == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "status", "status is required: bot_start or bot_end.")
	}
	st, err := botStatus("status", status)
	if err != nil {
		return nil, err
	}
	return s.changeContact(ctx, appID, id, func(_ herald.Tx, c *herald.Contact) error {
		c.BotStatus = st
		return nil
	})
}

// Lookups.

// lookupChannel is the channel a lookup names, or the app's main WhatsApp
// channel, as contacts_api/get_contact_by_phone.md says of a lookup
// without channel_uuid.
func lookupChannel(ctx context.Context, q herald.Queries, appID, id string) (*herald.Channel, error) {
	if id != "" {
		return resolveChannel(ctx, q, appID, "channel_uuid", id, "", "")
	}
	ch, err := resolveChannel(ctx, q, appID, "channel_uuid", "", "channel_uuid", "whatsapp")
	if e, ok := herald.AsError(err); ok && e.ID == herald.EInvalidProperty {
		return nil, herald.PropertyError(herald.EMissingProperty, "channel_uuid", "channel_uuid is required: this app has no main WhatsApp channel to look the contact up on.")
	}
	return ch, err
}

// ContactByPhone finds a contact by its phone number (its address) on a
// channel, by default the main WhatsApp channel.
func (s *Service) ContactByPhone(ctx context.Context, appID, number, channelID string) (c *herald.Contact, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ch, err := lookupChannel(ctx, q, appID, channelID)
		if err != nil {
			return err
		}
		address, err := normaliseAddress("phone_number", ch.Type, number)
		if err != nil {
			return err
		}
		if c, err = q.ContactByAddress(ctx, appID, ch.UUID, address); herald.IsNotFound(err) {
			return herald.NotFound("contact", number)
		}
		return err
	})
	return c, err
}

// ContactByBsuid finds a contact by its BSUID on a channel, by default the
// main WhatsApp channel.
func (s *Service) ContactByBsuid(ctx context.Context, appID, bsuid, channelID string) (c *herald.Contact, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ch, err := lookupChannel(ctx, q, appID, channelID)
		if err != nil {
			return err
		}
		c, err = q.ContactByBsuid(ctx, appID, ch.UUID, strings.TrimSpace(bsuid))
		return err
	})
	return c, err
}

// Notes and the contact's messages.

// AddNote writes an internal note in a contact's conversation: a message
// of the conversation whose direction is "note", sent by nobody in
// particular. It is never sent to the contact: connectors send only
// DirectionSent messages, and Callbell's message_created is not rendered
// for it. Layer-compatible clients and webhooks see it as a message of the
// conversation. A note does not reopen a closed conversation.
func (s *Service) AddNote(ctx context.Context, appID, id, text string) (out *herald.Message, err error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "text", "text is required: the note.")
	}
	parts, err := channelParts("", ChannelContent{Text: text})
	if err != nil {
		return nil, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := contactByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		ch, err := tx.Channel(ctx, appID, c.ChannelUUID)
		if err != nil {
			return err
		}
		conv, err := tx.NextMessagePosition(ctx, appID, c.ConversationID)
		if err != nil {
			return err
		}
		status := make(map[string]string, len(conv.Participants))
		for _, p := range conv.Participants {
			status[p] = herald.StatusSent
		}
		mc := &herald.MessageChannel{ChannelUUID: ch.UUID, Channel: ch.Type, ContactUUID: c.UUID,
			Direction: herald.DirectionNote, From: ch.Identifier, To: ch.Identifier}
		m := &herald.Message{ID: NewID(), AppID: appID, ConversationID: conv.ID, Position: conv.LastPosition,
			Sender: herald.Sender{Name: "Note"}, Parts: parts, SentAt: s.now(), RecipientStatus: status, Channel: mc}
		if err := tx.CreateMessage(ctx, m); err != nil {
			return err
		}
		out = m
		return s.recordMessage(ctx, tx, herald.EventMessageSent, nil, m, conv, &herald.EventData{Contact: c, Channel: ch})
	})
	return out, err
}

// ContactMessagesPageSize is the number of messages in a page of a
// contact's messages.
const ContactMessagesPageSize = 50

// ContactMessages lists a page (from 1) of a contact's messages, newest
// first; status (sent, received or note) keeps only those of that
// direction.
func (s *Service) ContactMessages(ctx context.Context, appID, id, status string, page int) (out []*herald.Message, err error) {
	if status != "" && status != herald.DirectionSent && status != herald.DirectionReceived && status != herald.DirectionNote {
		return nil, herald.PropertyError(herald.EInvalidProperty, "status", "status must be sent, received or note, not %q.", status)
	}
	skip := herald.PageOffset(page, ContactMessagesPageSize)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err := contactByID(ctx, q, appID, id)
		if err != nil {
			return err
		}
		// Messages pages by cursor; a page number walks the newer pages.
		p := herald.Page{Limit: 200}
		for {
			batch, err := q.Messages(ctx, appID, c.ConversationID, "", p)
			if err != nil {
				return err
			}
			for _, m := range batch {
				if m.Channel == nil || (status != "" && m.Channel.Direction != status) {
					continue
				}
				if skip > 0 {
					skip--
					continue
				}
				out = append(out, m)
				if len(out) == ContactMessagesPageSize {
					return nil
				}
			}
			if len(batch) < p.Limit {
				return nil
			}
			p.Before = batch[len(batch)-1].ID
		}
	})
	return out, err
}

// Channels.

// ChannelFilter selects channels: by type, and by whether they are active
// (not discarded); nil selects both.
type ChannelFilter struct {
	Type   string
	Active *bool
}

// ChannelsPageSize is the number of channels in a page of the list.
const ChannelsPageSize = 50

// ChannelsPage lists a page (from 1) of an app's channels, oldest first,
// and the number of pages.
func (s *Service) ChannelsPage(ctx context.Context, appID string, f ChannelFilter, page int) (out []*herald.Channel, pages int, err error) {
	if f.Type != "" {
		if err := checkChannelType("type", f.Type); err != nil {
			return nil, 0, err
		}
	}
	all, err := s.Channels(ctx, appID)
	if err != nil {
		return nil, 0, err
	}
	// An app has a handful of channels: they are filtered here.
	var kept []*herald.Channel
	for _, c := range all {
		if (f.Type == "" || c.Type == f.Type) && (f.Active == nil || *f.Active == (c.DiscardedAt == nil)) {
			kept = append(kept, c)
		}
	}
	pages = max(1, (len(kept)+ChannelsPageSize-1)/ChannelsPageSize)
	if from := herald.PageOffset(page, ChannelsPageSize); from < len(kept) {
		out = kept[from:min(len(kept), from+ChannelsPageSize)]
	}
	return out, pages, nil
}

// DiscardChannel discards a channel: Herald's extension (Callbell discards
// channels in its dashboard). It keeps its contacts and messages, stops
// being its type's main channel, and refuses sends, inbound messages and
// new contacts from then on. Discarding a discarded channel changes
// nothing.
func (s *Service) DiscardChannel(ctx context.Context, appID, id string) (out *herald.Channel, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := channelByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = c
		if c.DiscardedAt != nil {
			return nil
		}
		now := s.now()
		c.DiscardedAt, c.Main = &now, false
		return tx.UpdateChannel(ctx, c)
	})
	return out, err
}
