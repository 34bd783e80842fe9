package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// ChannelContent is the content of a channel message. Each rich member is
// a JSON object in the shape of the matching field of Callbell's
// message_created payload, so a connector passes through what it gets.
type ChannelContent struct {
	Text string `json:"text"`
	// URL is one attachment; Attachments are several.
	URL         string   `json:"url"`
	Attachments []string `json:"attachments"`
	// Location is {"coordinates": {"x": lat, "y": lng}, "googleMapsLocation"}.
	Location json.RawMessage `json:"location"`
	// ContactCard is {"contactsInfo": [{"name", "phones": [...]}]}.
	ContactCard json.RawMessage `json:"contact_card"`
	// ReplyButtons is {"metadata": {"type", "content", "options": [...]}}.
	ReplyButtons json.RawMessage `json:"reply_buttons"`
	// InteractiveList is {"metadata": {"header", "body", "buttons",
	// "sections"}}, the metadata an object or a JSON-encoded string.
	InteractiveList json.RawMessage `json:"interactive_list"`
}

// SendInput sends a message to a contact, as Callbell's POST
// /v1/messages/send: to an address on a channel (from, the channel type, or
// channel_uuid).
type SendInput struct {
	To string `json:"to"`
	// Bsuid names the contact by its WhatsApp Business Suite User ID
	// when To is empty (messages_api/post_send_messages.md: "When both
	// are provided, to takes precedence").
	Bsuid       string          `json:"bsuid"`
	From        string          `json:"from"`
	ChannelUUID string          `json:"channel_uuid"`
	Type        string          `json:"type"`
	Content     ChannelContent  `json:"content"`
	Metadata    json.RawMessage `json:"metadata"`
	// ReplyTo is the UUID of the message this one answers.
	ReplyTo string `json:"reply_to"`
	Forward bool   `json:"forward"`
	TemplateSend
	// AssignedUser assigns the contact to the agent of this email,
	// TeamUUID puts it in a team inbox, and BotStatus (bot_start,
	// bot_end) starts or ends its bot, as PATCH /v1/contacts/:uuid does
	// (messages_api/post_send_messages.md).
	AssignedUser *string `json:"assigned_user"`
	TeamUUID     *string `json:"team_uuid"`
	BotStatus    *string `json:"bot_status"`
}

// InboundInput is a message a channel connector received from a contact.
type InboundInput struct {
	// From is the sender's address on the channel; To the address it was
	// sent to, the channel's identifier when absent.
	From string `json:"from"`
	To   string `json:"to"`
	// Contact identifies the contact when its address is not From, and
	// names a contact seen for the first time.
	Contact *struct {
		PhoneNumber string `json:"phone_number"`
		Name        string `json:"name"`
		AvatarURL   string `json:"avatar_url"`
		// Bsuid is the sender's WhatsApp Business Suite User ID: it
		// finds the contact first, and is recorded on a contact found
		// by address that had none. From may be empty when it is given.
		Bsuid string `json:"bsuid"`
	} `json:"contact"`
	Content   ChannelContent  `json:"content"`
	Metadata  json.RawMessage `json:"metadata"`
	ReplyTo   string          `json:"reply_to"`
	Forwarded bool            `json:"forwarded"`
	// ExternalID is the provider's message id; a message already received
	// with it is returned instead of being created again.
	ExternalID string `json:"external_id"`
}

// Message types of POST /v1/messages/send and the content each requires.
var messageTypes = map[string]string{
	"text": "text", "image": "url", "document": "url", "audio": "url", "video": "url",
	"location": "location", "contact_card": "contact_card", "reply_buttons": "reply_buttons",
	"interactive_list": "interactive_list",
}

// Limits of channel content.
const (
	maxChannelText     = 4096
	maxRichBody        = 16 << 10
	maxAttachments     = 10
	maxMetadataPairs   = 10
	maxMetadataKey     = 50
	maxMetadataValue   = 500
	maxReplyButtons    = 3
	maxListSections    = 10
	maxContactCardInfo = 20
)

func checkURL(property, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return herald.PropertyError(herald.EInvalidProperty, property, "%s must be an absolute http:// or https:// URL, not %q.", property, raw)
	}
	return nil
}

// decodeObject decodes a rich member that must be a JSON object.
func decodeObject(property string, raw json.RawMessage) (map[string]any, error) {
	var obj map[string]any
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s must be a JSON object.", property)
	}
	if len(raw) > maxRichBody {
		return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s is %d bytes; at most %d are accepted.", property, len(raw), maxRichBody)
	}
	return obj, nil
}

func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	json.Compact(&buf, raw)
	return buf.String()
}

// checkItems checks that list is an array of 1 to max objects (what names
// them), each with a non-empty string under key.
func checkItems(property string, list any, max int, what, key string) error {
	items, _ := list.([]any)
	if len(items) == 0 || len(items) > max {
		return herald.PropertyError(herald.EInvalidProperty, property, "%s must list 1 to %d %s.", property, max, what)
	}
	for i, item := range items {
		m, _ := item.(map[string]any)
		if s, ok := m[key].(string); !ok || strings.TrimSpace(s) == "" {
			where := fmt.Sprintf("%s[%d].%s", property, i, key)
			return herald.PropertyError(herald.EInvalidProperty, where, "%s is required.", where)
		}
	}
	return nil
}

// channelParts validates channel content and turns it into message parts.
func channelParts(prefix string, c ChannelContent) ([]herald.Part, error) {
	var parts []herald.Part
	if c.Text != "" {
		if len(c.Text) > maxChannelText || !utf8.ValidString(c.Text) {
			return nil, herald.PropertyError(herald.EInvalidProperty, prefix+"text", "%stext must be UTF-8 of at most %d bytes.", prefix, maxChannelText)
		}
		parts = append(parts, herald.Part{MimeType: herald.MimeText, Body: c.Text})
	}
	urls := c.Attachments
	if c.URL != "" {
		urls = append([]string{c.URL}, urls...)
	}
	if len(urls) > maxAttachments {
		return nil, herald.PropertyError(herald.EInvalidProperty, prefix+"attachments", "A message carries at most %d attachments.", maxAttachments)
	}
	for i, u := range c.Attachments {
		if err := checkURL(fmt.Sprintf("%sattachments[%d]", prefix, i), u); err != nil {
			return nil, err
		}
	}
	if c.URL != "" {
		if err := checkURL(prefix+"url", c.URL); err != nil {
			return nil, err
		}
	}
	for _, u := range urls {
		parts = append(parts, herald.Part{MimeType: herald.MimeURIList, Body: u})
	}
	if c.Location != nil {
		p := prefix + "location"
		obj, err := decodeObject(p, c.Location)
		if err != nil {
			return nil, err
		}
		coords, _ := obj["coordinates"].(map[string]any)
		x, okx := coords["x"].(float64)
		y, oky := coords["y"].(float64)
		if !okx || !oky || math.Abs(x) > 90 || math.Abs(y) > 180 {
			return nil, herald.PropertyError(herald.EInvalidProperty, p+".coordinates",
				"%s.coordinates must be {\"x\": latitude, \"y\": longitude}, numbers within ±90 and ±180.", p)
		}
		if g, ok := obj["googleMapsLocation"]; ok {
			if s, ok := g.(string); !ok || checkURL(p+".googleMapsLocation", s) != nil {
				return nil, herald.PropertyError(herald.EInvalidProperty, p+".googleMapsLocation", "%s.googleMapsLocation must be a URL.", p)
			}
			parts = append(parts, herald.Part{MimeType: herald.MimeLocation, Body: compact(c.Location)})
		} else {
			// A location reaches receivers with a map link, as Callbell's do.
			b, _ := json.Marshal(map[string]any{"coordinates": map[string]float64{"x": x, "y": y},
				"googleMapsLocation": fmt.Sprintf("https://www.google.com/maps/search/?api=1&query=%v,%v", x, y)})
			parts = append(parts, herald.Part{MimeType: herald.MimeLocation, Body: string(b)})
		}
	}
	if c.ContactCard != nil {
		p := prefix + "contact_card"
		obj, err := decodeObject(p, c.ContactCard)
		if err != nil {
			return nil, err
		}
		if err := checkItems(p+".contactsInfo", obj["contactsInfo"], maxContactCardInfo, "contacts", "name"); err != nil {
			return nil, err
		}
		parts = append(parts, herald.Part{MimeType: herald.MimeContactCard, Body: compact(c.ContactCard)})
	}
	if c.ReplyButtons != nil {
		p := prefix + "reply_buttons"
		obj, err := decodeObject(p, c.ReplyButtons)
		if err != nil {
			return nil, err
		}
		meta, _ := obj["metadata"].(map[string]any)
		if err := checkItems(p+".metadata.options", meta["options"], maxReplyButtons, "buttons", "title"); err != nil {
			return nil, err
		}
		parts = append(parts, herald.Part{MimeType: herald.MimeReplyButtons, Body: compact(c.ReplyButtons)})
	}
	if c.InteractiveList != nil {
		p := prefix + "interactive_list"
		obj, err := decodeObject(p, c.InteractiveList)
		if err != nil {
			return nil, err
		}
		meta, _ := obj["metadata"].(map[string]any)
		if s, ok := obj["metadata"].(string); ok {
			// Callbell sends the list as a JSON-encoded string.
			json.Unmarshal([]byte(s), &meta)
		}
		sections, _ := meta["sections"].([]any)
		if len(sections) == 0 || len(sections) > maxListSections {
			return nil, herald.PropertyError(herald.EInvalidProperty, p+".metadata.sections",
				"%s.metadata must be an object (or its JSON text) whose sections list 1 to %d sections.", p, maxListSections)
		}
		parts = append(parts, herald.Part{MimeType: herald.MimeInteractiveList, Body: compact(c.InteractiveList)})
	}
	if len(parts) == 0 {
		return nil, herald.PropertyError(herald.EMissingProperty, strings.TrimSuffix(prefix, "."),
			"%s is empty: give text, url, attachments, location, contact_card, reply_buttons or interactive_list.", strings.TrimSuffix(prefix, "."))
	}
	return parts, nil
}

// checkChannelMetadata applies Callbell's limits: at most 10 pairs, keys of
// at most 50 characters, string values of at most 500.
func checkChannelMetadata(raw json.RawMessage) (map[string]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var m map[string]string
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "metadata", "metadata must be a JSON object of string values.")
	}
	if len(m) > maxMetadataPairs {
		return nil, herald.PropertyError(herald.EInvalidProperty, "metadata", "metadata holds at most %d key-value pairs, not %d.", maxMetadataPairs, len(m))
	}
	for k, v := range m {
		if utf8.RuneCountInString(k) > maxMetadataKey || k == "" {
			return nil, herald.PropertyError(herald.EInvalidProperty, "metadata", "metadata key %q must have 1 to %d characters.", k, maxMetadataKey)
		}
		if utf8.RuneCountInString(v) > maxMetadataValue {
			return nil, herald.PropertyError(herald.EInvalidProperty, "metadata."+k, "metadata.%s is longer than %d characters.", k, maxMetadataValue)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// messageText is the text of a message: its text/plain parts.
func messageText(m *herald.Message) string {
	var texts []string
	for _, p := range m.Parts {
		if p.MimeType == herald.MimeText && p.Encoding == "" {
			texts = append(texts, p.Body)
		}
	}
	return strings.Join(texts, "\n")
}

// replyRef snapshots the message a channel message answers; it must be a
// live message of the same contact's conversation.
func replyRef(ctx context.Context, q herald.Queries, appID string, c *herald.Contact, id string) (*herald.MessageRef, error) {
	if id == "" {
		return nil, nil
	}
	u := herald.ParseUUID(id)
	var m *herald.Message
	var err error = herald.NotFound("message", id)
	if u != "" {
		m, err = q.Message(ctx, appID, u)
	}
	if herald.IsNotFound(err) || (err == nil && m.ConversationID != c.ConversationID) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "reply_to", "reply_to: no message %q exists in the conversation with contact %s.", id, c.UUID)
	}
	if err != nil {
		return nil, err
	}
	ref := &herald.MessageRef{ID: m.ID, Text: messageText(m), SentAt: m.SentAt}
	if m.Channel != nil {
		ref.Direction, ref.Channel, ref.From, ref.To = m.Channel.Direction, m.Channel.Channel, m.Channel.From, m.Channel.To
	}
	return ref, nil
}

// SendChannelMessage sends a message to a contact on a channel, creating
// the contact on first contact. The message starts enqueued; its channel
// connector reports how it goes with UpdateMessageStatus.
func (s *Service) SendChannelMessage(ctx context.Context, appID string, in SendInput) (out *herald.Message, err error) {
	need, ok := messageTypes[in.Type]
	switch {
	case in.Type == "":
		return nil, herald.PropertyError(herald.EMissingProperty, "type", "type is required: one of %s.", strings.Join(sortedKeys(messageTypes), ", "))
	case !ok:
		return nil, herald.PropertyError(herald.EInvalidProperty, "type", "type must be one of %s, not %q.", strings.Join(sortedKeys(messageTypes), ", "), in.Type)
	}
	var parts []herald.Part
	if in.TemplateUUID == "" {
		missing := map[string]bool{"text": in.Content.Text == "", "url": in.Content.URL == "", "location": in.Content.Location == nil,
			"contact_card": in.Content.ContactCard == nil, "reply_buttons": in.Content.ReplyButtons == nil,
			"interactive_list": in.Content.InteractiveList == nil}
		if missing[need] {
			return nil, herald.PropertyError(herald.EMissingProperty, "content."+need, "content.%s is required for a message of type %s.", need, in.Type)
		}
		if parts, err = channelParts("content.", in.Content); err != nil {
			return nil, err
		}
		if len(in.TemplateValues) > 0 {
			return nil, herald.PropertyError(herald.EInvalidProperty, "template_values", "template_values fill a template: give template_uuid too.")
		}
	} else if in.OptinContact == nil || !*in.OptinContact {
		// "In order to send template messages template_uuid and
		// optin_contact must be present in the payload"
		// (messages_api/post_send_messages.md); Herald takes only true,
		// the business's word that the contact agreed.
		return nil, herald.PropertyError(herald.EMissingProperty, "optin_contact",
			"optin_contact must be true to send a template: the contact must have agreed to receive messages.")
	}
	var assigned string
	if in.AssignedUser != nil {
		if assigned, err = checkEmail("assigned_user", *in.AssignedUser); err != nil {
			return nil, err
		}
	}
	var bot crmInput
	if in.BotStatus != nil {
		if bot, err = checkCRMInput(ContactInput{BotStatus: in.BotStatus}); err != nil {
			return nil, err
		}
	}
	meta, err := checkChannelMetadata(in.Metadata)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.To) == "" && strings.TrimSpace(in.Bsuid) == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "to", "to is required: the contact's address on the channel (its phone number on WhatsApp), or give bsuid.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		ch, err := resolveChannel(ctx, tx, appID, "channel_uuid", in.ChannelUUID, "from", in.From)
		if err != nil {
			return err
		}
		if err := checkChannelLive(ch); err != nil {
			return err
		}
		c, err := s.sendee(ctx, tx, appID, ch, in)
		if err != nil {
			return err
		}
		if err := checkNotBlocked(c); err != nil {
			return err
		}
		ref, err := replyRef(ctx, tx, appID, c, in.ReplyTo)
		if err != nil {
			return err
		}
		parts := parts
		var template *herald.MessageTemplate
		if in.TemplateUUID != "" {
			if parts, template, err = templateMessage(ctx, tx, appID, ch, in); err != nil {
				return err
			}
		} else if err := s.checkWindow(ctx, tx, c, ch); err != nil {
			return err
		}
		if c, err = s.sendContactFields(ctx, tx, c, in, assigned, bot); err != nil {
			return err
		}
		mc := &herald.MessageChannel{ChannelUUID: ch.UUID, Channel: ch.Type, ContactUUID: c.UUID,
			Direction: herald.DirectionSent, Status: herald.ChannelEnqueued, From: ch.Identifier, To: c.PhoneNumber,
			Metadata: meta, Forwarded: in.Forward, ReplyTo: ref, Template: template}
		out, err = s.addChannelMessage(ctx, tx, c, ch, herald.Sender{Name: ch.Title}, parts, mc)
		return err
	})
	return out, err
}

// sendContactFields applies a send's contact fields to its contact in the
// send's transaction, checked as PATCH /v1/contacts checks them, and
// records contact.updated when they change it. It changes a copy: the
// contact given may be the snapshot of an event recorded already, as that
// of a contact the send just created.
func (s *Service) sendContactFields(ctx context.Context, tx herald.Tx, c *herald.Contact, in SendInput, assigned string, bot crmInput) (*herald.Contact, error) {
	if in.AssignedUser == nil && in.TeamUUID == nil && in.BotStatus == nil {
		return c, nil
	}
	before, _ := json.Marshal(c)
	team, err := checkTeamAndAgent(ctx, tx, c.AppID, in.TeamUUID, &assigned)
	if err != nil {
		return nil, err
	}
	changed := *c
	c = &changed
	if in.TeamUUID != nil {
		setTeam(c, team)
	}
	if in.AssignedUser != nil {
		c.AssignedUser = assigned
	}
	bot.apply(c, s.now())
	if after, _ := json.Marshal(c); bytes.Equal(before, after) {
		return c, nil
	}
	return c, s.saveContact(ctx, tx, c)
}

// sendee is the contact a send names by its address (to) or its BSUID,
// created on first contact.
func (s *Service) sendee(ctx context.Context, tx herald.Tx, appID string, ch *herald.Channel, in SendInput) (*herald.Contact, error) {
	if strings.TrimSpace(in.To) == "" {
		bsuid, err := checkBsuid("bsuid", in.Bsuid)
		if err != nil {
			return nil, err
		}
		c, err := tx.ContactByBsuid(ctx, appID, ch.UUID, bsuid)
		if herald.IsNotFound(err) {
			return s.addContact(ctx, tx, appID, ch, &herald.Contact{Name: bsuid, Bsuid: bsuid})
		}
		return c, err
	}
	to, err := normaliseAddress("to", ch.Type, in.To)
	if err != nil {
		return nil, err
	}
	c, err := tx.ContactByAddress(ctx, appID, ch.UUID, to)
	if herald.IsNotFound(err) {
		return s.addContact(ctx, tx, appID, ch, &herald.Contact{Name: to, PhoneNumber: to})
	}
	return c, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ReceiveMessage records a message a contact sent on a channel, creating
// the contact on first contact and opening its conversation if closed. A
// message received before with the same external id is returned as it is
// (replay true).
func (s *Service) ReceiveMessage(ctx context.Context, appID, channelID string, in InboundInput) (out *herald.Message, replay bool, err error) {
	parts, err := channelParts("content.", in.Content)
	if err != nil {
		return nil, false, err
	}
	meta, err := checkChannelMetadata(in.Metadata)
	if err != nil {
		return nil, false, err
	}
	if len(in.ExternalID) > 255 {
		return nil, false, herald.PropertyError(herald.EInvalidProperty, "external_id", "external_id is at most 255 bytes.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		ch, err := channelByID(ctx, tx, appID, channelID)
		if err != nil {
			return err
		}
		if err := checkChannelLive(ch); err != nil {
			return err
		}
		key := ""
		if in.ExternalID != "" {
			key = "inbound:" + ch.UUID + ":" + in.ExternalID
			id, err := tx.RequestMessage(ctx, appID, key)
			if err != nil {
				return err
			}
			if id != "" {
				out, replay = nil, true
				out, err = tx.Message(ctx, appID, id)
				return err
			}
		}
		bsuid := ""
		if in.Contact != nil && in.Contact.Bsuid != "" {
			if bsuid, err = checkBsuid("contact.bsuid", in.Contact.Bsuid); err != nil {
				return err
			}
		}
		from := ""
		if in.From != "" || bsuid == "" {
			if from, err = normaliseAddress("from", ch.Type, in.From); err != nil {
				return err
			}
		}
		to := ch.Identifier
		if in.To != "" {
			if to, err = normaliseAddress("to", ch.Type, in.To); err != nil {
				return err
			}
		}
		address, name, avatar := from, from, ""
		if name == "" {
			name = bsuid
		}
		if in.Contact != nil {
			if in.Contact.PhoneNumber != "" {
				if address, err = normaliseAddress("contact.phone_number", ch.Type, in.Contact.PhoneNumber); err != nil {
					return err
				}
				name = address
			}
			if in.Contact.Name != "" {
				if name, err = checkName(in.Contact.Name); err != nil {
					return herald.PropertyError(herald.EInvalidProperty, "contact.name", "contact.name must be non-empty UTF-8 of at most 255 bytes.")
				}
			}
			if avatar, err = checkAvatarURL(in.Contact.AvatarURL); err != nil {
				return herald.PropertyError(herald.EInvalidProperty, "contact.avatar_url", "contact.avatar_url must be an absolute http:// or https:// URL.")
			}
		}
		c, err := s.sender(ctx, tx, ch, address, bsuid)
		if herald.IsNotFound(err) {
			c, err = s.addContact(ctx, tx, appID, ch, &herald.Contact{Name: name, PhoneNumber: address, AvatarURL: avatar, Bsuid: bsuid})
		}
		if err != nil {
			return err
		}
		if err := checkNotBlocked(c); err != nil {
			return err
		}
		ref, err := replyRef(ctx, tx, appID, c, in.ReplyTo)
		if err != nil {
			return err
		}
		mc := &herald.MessageChannel{ChannelUUID: ch.UUID, Channel: ch.Type, ContactUUID: c.UUID,
			Direction: herald.DirectionReceived, From: from, To: to, Metadata: meta, Forwarded: in.Forwarded,
			ReplyTo: ref, ExternalID: in.ExternalID}
		out, err = s.addChannelMessage(ctx, tx, c, ch, herald.Sender{UserID: c.UUID}, parts, mc)
		if err != nil {
			return err
		}
		if err := tx.SetContactLastInbound(ctx, appID, c.UUID, out.SentAt); err != nil {
			return err
		}
		if key != "" {
			return tx.PutRequestMessage(ctx, appID, key, out.ID, out.SentAt)
		}
		return nil
	})
	return out, replay, err
}

// sender finds the contact an inbound message is from: by BSUID first,
// then by address. A contact found by address learns its BSUID, recording
// contact.updated.
func (s *Service) sender(ctx context.Context, tx herald.Tx, ch *herald.Channel, address, bsuid string) (*herald.Contact, error) {
	if bsuid != "" {
		c, err := tx.ContactByBsuid(ctx, ch.AppID, ch.UUID, bsuid)
		if !herald.IsNotFound(err) {
			return c, err
		}
	}
	if address == "" {
		return nil, herald.NotFound("contact", bsuid)
	}
	c, err := tx.ContactByAddress(ctx, ch.AppID, ch.UUID, address)
	if err != nil || bsuid == "" || c.Bsuid == bsuid {
		return c, err
	}
	c.Bsuid, c.UpdatedAt = bsuid, s.now()
	if err := tx.UpdateContact(ctx, c); err != nil {
		return nil, err
	}
	return c, s.recordContact(ctx, tx, herald.EventContactUpdated, c, ch, nil, nil)
}

// addChannelMessage adds a message to a contact's conversation, opening it
// first if it is closed, and records message.sent.
func (s *Service) addChannelMessage(ctx context.Context, tx herald.Tx, c *herald.Contact, ch *herald.Channel, sender herald.Sender, parts []herald.Part, mc *herald.MessageChannel) (*herald.Message, error) {
	conv, err := tx.NextMessagePosition(ctx, c.AppID, c.ConversationID)
	if err != nil {
		return nil, err
	}
	if err := s.reopen(ctx, tx, c, ch, conv); err != nil {
		return nil, err
	}
	status := make(map[string]string, len(conv.Participants))
	for _, p := range conv.Participants {
		status[p] = herald.StatusSent
	}
	if sender.UserID != "" {
		status[sender.UserID] = herald.StatusRead
	}
	m := &herald.Message{ID: NewID(), AppID: c.AppID, ConversationID: conv.ID, Position: conv.LastPosition,
		Sender: sender, Parts: parts, SentAt: s.now(), RecipientStatus: status, Channel: mc}
	if err := tx.CreateMessage(ctx, m); err != nil {
		return nil, err
	}
	var actor *herald.Actor
	if sender.UserID != "" {
		actor = &sender
	}
	return m, s.recordMessage(ctx, tx, herald.EventMessageSent, actor, m, conv, &herald.EventData{Contact: c, Channel: ch})
}

// channelOf returns the contact and channel of a message's conversation
// when it is a contact's, and the MessageChannel a message sent in it by
// sender carries; all nil otherwise.
func channelOf(ctx context.Context, q herald.Queries, appID string, conv *herald.Conversation, sender herald.Sender) (*herald.Contact, *herald.Channel, *herald.MessageChannel, error) {
	if conv.ContactUUID == "" {
		return nil, nil, nil, nil
	}
	c, err := q.Contact(ctx, appID, conv.ContactUUID)
	if err != nil {
		return nil, nil, nil, err
	}
	ch, err := q.Channel(ctx, appID, c.ChannelUUID)
	if err != nil {
		return nil, nil, nil, err
	}
	// The Layer-compatible API sends on the channel as /v1 does, with the
	// same refusals.
	if err := checkChannelLive(ch); err != nil {
		return nil, nil, nil, err
	}
	if err := checkNotBlocked(c); err != nil {
		return nil, nil, nil, err
	}
	mc := &herald.MessageChannel{ChannelUUID: ch.UUID, Channel: ch.Type, ContactUUID: c.UUID,
		Direction: herald.DirectionSent, Status: herald.ChannelEnqueued, From: ch.Identifier, To: c.PhoneNumber}
	if sender.UserID == c.UUID {
		mc.Direction, mc.Status, mc.From, mc.To = herald.DirectionReceived, "", c.PhoneNumber, ch.Identifier
	}
	return c, ch, mc, nil
}

// ChannelStatuses are the statuses a connector may report.
var ChannelStatuses = []string{herald.ChannelEnqueued, herald.ChannelMismatch, herald.ChannelSent, herald.ChannelDelivered, herald.ChannelRead, herald.ChannelFailed}

// UpdateMessageStatus records the channel status of an outgoing message
// reported by its connector, with the connector's raw payload, and records
// message.status_updated; delivered and read also advance the contact's
// recipient status and record Layer's message.delivered or message.read.
// A status never moves back, except to failed; reporting the current status
// again changes nothing.
func (s *Service) UpdateMessageStatus(ctx context.Context, appID, id, status string, payload json.RawMessage) (out *herald.Message, err error) {
	if status == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "status", "status is required: one of %s.", strings.Join(ChannelStatuses, ", "))
	}
	if !slices.Contains(ChannelStatuses, status) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "status", "status must be one of %s, not %q.", strings.Join(ChannelStatuses, ", "), status)
	}
	payload = bytes.TrimSpace(payload)
	if bytes.Equal(payload, []byte("null")) {
		payload = nil
	}
	if len(payload) > 0 && !json.Valid(payload) {
		return nil, herald.PropertyError(herald.EInvalidProperty, "payload", "payload must be JSON.")
	}
	if len(payload) > maxRichBody {
		return nil, herald.PropertyError(herald.EInvalidProperty, "payload", "payload is %d bytes; at most %d are accepted.", len(payload), maxRichBody)
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		out, err = s.setChannelStatus(ctx, tx, appID, id, status, payload, "")
		return err
	})
	return out, err
}

// setChannelStatus is UpdateMessageStatus within tx, once the status and
// payload are checked; externalID, when set, is the provider's id of the
// message, which a connector learns when it sends it.
func (s *Service) setChannelStatus(ctx context.Context, tx herald.Tx, appID, id, status string, payload json.RawMessage, externalID string) (*herald.Message, error) {
	m, err := channelMessage(ctx, tx, appID, id)
	if err != nil {
		return m, err
	}
	if m.Channel.Direction != herald.DirectionSent {
		return m, herald.Errorf(herald.EInvalidOperation, "Message %s was received from the contact; only outgoing messages have a delivery status.", herald.CompactUUID(m.ID))
	}
	current := m.Channel.Status
	if externalID != "" && m.Channel.ExternalID != externalID {
		m.Channel.ExternalID = externalID
		if err := tx.PutExternalMessageID(ctx, appID, m.Channel.ChannelUUID, externalID, m.ID); err != nil {
			return nil, err
		}
		if current == status {
			return m, tx.UpdateMessage(ctx, m)
		}
	}
	if current == status {
		return m, nil
	}
	if current == herald.ChannelFailed || (status != herald.ChannelFailed && herald.ChannelStatusRank(status) < herald.ChannelStatusRank(current)) {
		return m, &herald.Error{ID: herald.EConflict,
			Message: fmt.Sprintf("Message %s is already %s; its status moves forward only (enqueued, mismatch, sent, delivered, read), or to failed.", herald.CompactUUID(m.ID), current),
			Data:    map[string]any{"property": "status", "status": current}}
	}
	// The payload is the connector's account of this status; an
	// earlier status's payload would mislead.
	m.Channel.Status, m.Channel.StatusPayload = status, nil
	if len(payload) > 0 {
		m.Channel.StatusPayload = json.RawMessage(compact(payload))
	}
	receipt := ""
	contact := m.Channel.ContactUUID
	if _, ok := m.RecipientStatus[contact]; ok {
		switch {
		case status == herald.ChannelDelivered && herald.StatusRank(m.RecipientStatus[contact]) < herald.StatusRank(herald.StatusDelivered):
			m.RecipientStatus[contact], receipt = herald.StatusDelivered, ReceiptDelivery
		case status == herald.ChannelRead && herald.StatusRank(m.RecipientStatus[contact]) < herald.StatusRank(herald.StatusRead):
			m.RecipientStatus[contact], receipt = herald.StatusRead, ReceiptRead
		}
	}
	if err := tx.UpdateMessage(ctx, m); err != nil {
		return m, err
	}
	conv, err := tx.Conversation(ctx, appID, m.ConversationID)
	if err != nil {
		return m, err
	}
	c, err := tx.Contact(ctx, appID, contact)
	if err != nil {
		return m, err
	}
	ch, err := tx.Channel(ctx, appID, c.ChannelUUID)
	if err != nil {
		return m, err
	}
	if err := s.recordMessage(ctx, tx, herald.EventMessageStatusUpdated, nil, m, conv, &herald.EventData{Contact: c, Channel: ch}); err != nil {
		return m, err
	}
	if receipt == "" {
		return m, nil
	}
	typ := herald.EventMessageDelivered
	if receipt == ReceiptRead {
		typ = herald.EventMessageRead
	}
	return m, s.recordMessage(ctx, tx, typ, &herald.Actor{UserID: contact}, m, conv,
		&herald.EventData{UserID: contact, Receipt: receipt, Contact: c, Channel: ch})
}

// channelMessage returns a live message of a contact's conversation.
func channelMessage(ctx context.Context, q herald.Queries, appID, id string) (*herald.Message, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("message", id)
	}
	m, err := q.Message(ctx, appID, u)
	if err != nil {
		return nil, err
	}
	if m.Channel == nil {
		return nil, herald.Errorf(herald.EInvalidOperation, "Message %s is not in a contact's conversation; it has no channel status.", id)
	}
	return m, nil
}

// ChannelMessage returns a message of a contact's conversation.
func (s *Service) ChannelMessage(ctx context.Context, appID, id string) (m *herald.Message, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		m, err = channelMessage(ctx, q, appID, id)
		return err
	})
	return m, err
}
