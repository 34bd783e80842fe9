package callbell

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Time layouts of Callbell's payloads, always rendered in UTC.
const (
	// TimeFormat is a contact's createdAt and a conversation's
	// createdAt and closedAt: seconds, "Z".
	TimeFormat = "2006-01-02T15:04:05Z"
	// messageTime is a message's createdAt: milliseconds and a numeric
	// offset, "+00:00" in UTC.
	messageTime = "2006-01-02T15:04:05.000-07:00"
	// deletedTime is contact_deleted's deleted: milliseconds, "Z".
	deletedTime = "2006-01-02T15:04:05.000Z"
)

// render renders e as the body of a Callbell delivery for a webhook of the
// given version with the given config. URLs, among them the signed download
// URLs of attachments, are built by u at render time, so that a retried
// delivery carries URLs that are still valid.
func render(e *herald.Event, d *herald.EventData, version string, config json.RawMessage, u *urls.Builder) ([]byte, bool, error) {
	name := EventName(e.Type)
	if name == "" {
		return nil, false, nil
	}
	if version != "" && version != Version {
		return nil, false, fmt.Errorf("callbell: unknown webhook payload version %q (want %q)", version, Version)
	}
	cfg, err := parseConfig(config)
	if err != nil {
		return nil, false, fmt.Errorf("callbell: webhook config: %w", err)
	}
	if u == nil {
		return nil, false, fmt.Errorf("callbell: event %s: no URL builder", e.ID)
	}
	r := &renderer{e: e, d: d, u: u, cfg: cfg}
	var p any
	switch e.Type {
	case herald.EventMessageSent:
		if d.Message == nil {
			return nil, false, fmt.Errorf("callbell: %s event %s carries no message", e.Type, e.ID)
		}
		if d.Message.Channel == nil || d.Message.Channel.Direction == herald.DirectionNote {
			// A message of an ordinary conversation, not a contact's, or
			// an internal note, which Callbell's message_created (status
			// "received" or "sent" only) does not carry.
			return nil, false, nil
		}
		p, err = r.messageCreated()
	case herald.EventMessageStatusUpdated:
		p, err = r.messageStatusUpdated()
	case herald.EventContactCreated, herald.EventContactUpdated:
		p, err = r.contact()
	case herald.EventContactDeleted:
		p, err = r.contactDeleted()
	case herald.EventConversationOpened, herald.EventConversationClosed:
		p, err = r.conversation()
	case herald.EventAgentStatusUpdated, herald.EventAgentSessionUpdated, herald.EventTeamMembershipUpdated:
		p, err = r.agentEvent()
	}
	if err != nil {
		return nil, false, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Signed download URLs and Google Maps links hold '&'; escaping it as
	// \u0026 would be valid JSON but needlessly unreadable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope{Event: name, Payload: p}); err != nil {
		return nil, false, fmt.Errorf("callbell: event %s: %w", e.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true, nil
}

// The types below are Callbell's payload JSON. Field order follows
// Callbell's documented payloads.

type envelope struct {
	Event   string `json:"event"`
	Payload any    `json:"payload"`
}

// ContactObject is Callbell's contact object (object_types/contact.md), as
// webhook payloads and the API carry it. The first fields are those of the
// docs' webhook examples, in their order; the rest follow the object's
// table. Absent values are null, but bsuid, which the table says is "only
// present" when known.
type ContactObject struct {
	Href             string         `json:"href"`
	ConversationHref string         `json:"conversationHref"`
	Name             string         `json:"name"`
	Tags             []string       `json:"tags"`
	UUID             string         `json:"uuid"`
	Source           string         `json:"source"`
	AvatarURL        *string        `json:"avatarUrl"`
	CreatedAt        string         `json:"createdAt"`
	PhoneNumber      string         `json:"phoneNumber"`
	AssignedUser     *string        `json:"assignedUser"`
	CustomFields     map[string]any `json:"customFields"`
	ClosedAt         *string        `json:"closedAt"`
	BlockedAt        *string        `json:"blockedAt"`
	FunnelID         *string        `json:"funnelId"`
	Team             *TeamObject    `json:"team"`
	Channel          *ChannelObject `json:"channel"`
	Bsuid            string         `json:"bsuid,omitempty"`
	Note             *string        `json:"note"`
}

// TeamObject is Callbell's team object (object_types/team.md).
type TeamObject struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	Default   bool   `json:"default"`
	Members   int    `json:"members"`
}

// ChannelObject is Callbell's channel object (object_types/channel.md).
// discardedAt is when the channel was discarded, null while it is active:
// the docs' table says String, its example shows booleans; a time, as every
// other *At field of Callbell's objects is, says both whether and when, and
// its null is falsy as false is for clients that test it.
type ChannelObject struct {
	UUID        string  `json:"uuid"`
	Title       string  `json:"title"`
	Type        string  `json:"type"`
	Main        bool    `json:"main"`
	DiscardedAt *string `json:"discardedAt"`
}

// Channel renders a channel as Callbell's objects carry it.
func Channel(ch *herald.Channel) ChannelObject {
	return ChannelObject{UUID: herald.CompactUUID(ch.UUID), Title: ch.Title, Type: ch.Type, Main: ch.Main,
		DiscardedAt: timeOrNull(ch.DiscardedAt)}
}

func timeOrNull(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(TimeFormat)
	return &s
}

func stringOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type messageCreatedJSON struct {
	To                     string            `json:"to"`
	From                   string            `json:"from"`
	Text                   string            `json:"text"`
	Attachments            []string          `json:"attachments,omitempty"`
	Status                 string            `json:"status"`
	Channel                string            `json:"channel"`
	Contact                *ContactObject    `json:"contact"`
	MessageLocation        json.RawMessage   `json:"messageLocation,omitempty"`
	MessageContactCard     json.RawMessage   `json:"messageContactCard,omitempty"`
	MessageReplyButton     json.RawMessage   `json:"messageReplyButton,omitempty"`
	MessageInteractiveList json.RawMessage   `json:"messageInteractiveList,omitempty"`
	MessageContext         *contextJSON      `json:"messageContext,omitempty"`
	MesageContext          *contextJSON      `json:"mesageContext,omitempty"`
	MessageForward         *forwardJSON      `json:"messageForward,omitempty"`
	CreatedAt              string            `json:"createdAt"`
	Metadata               map[string]string `json:"metadata,omitempty"`
}

// contextJSON is Callbell's MessageContext: the message replied to.
type contextJSON struct {
	Target    targetJSON `json:"target"`
	Text      string     `json:"text"`
	CreatedAt string     `json:"createdAt"`
	Status    string     `json:"status"`
}

type targetJSON struct {
	UUID      string `json:"uuid"`
	Text      string `json:"text"`
	Status    string `json:"status"`
	Channel   string `json:"channel"`
	From      string `json:"from"`
	To        string `json:"to"`
	CreatedAt string `json:"createdAt"`
}

type forwardJSON struct {
	Forwarded bool `json:"forwarded"`
}

type messageStatusJSON struct {
	UUID                 string            `json:"uuid"`
	Status               string            `json:"status"`
	Contact              *ContactObject    `json:"contact"`
	MessageStatusPayload json.RawMessage   `json:"messageStatusPayload,omitempty"`
	Metadata             map[string]string `json:"metadata,omitempty"`
}

type contactDeletedJSON struct {
	UUID    string `json:"uuid"`
	Deleted string `json:"deleted"`
}

type conversationJSON struct {
	Source  string         `json:"source"`
	Href    string         `json:"href"`
	Contact *ContactObject `json:"contact"`
	// ClosingReason is only in conversation_closed, null when no reason
	// was given.
	ClosingReason json.RawMessage `json:"closingReason,omitempty"`
	CreatedAt     string          `json:"createdAt"`
	ClosedAt      string          `json:"closedAt,omitempty"`
}

type renderer struct {
	e   *herald.Event
	d   *herald.EventData
	u   *urls.Builder
	cfg Config
}

func (r *renderer) errorf(format string, args ...any) error {
	return fmt.Errorf("callbell: %s event %s: %s", r.e.Type, r.e.ID, fmt.Sprintf(format, args...))
}

// ContactHref is the URL of a contact in Herald's Callbell-compatible API.
func ContactHref(u *urls.Builder, uuid string) string {
	return u.Base + "/v1/contacts/" + herald.CompactUUID(uuid)
}

// ConversationHref is the Layer-compatible API URL of a contact's
// conversation.
func ConversationHref(u *urls.Builder, appID string, c *herald.Contact) string {
	return u.Conversation(appID, c.ConversationID)
}

// ContactOn renders a contact on its channel ch (nil when unknown, for a
// null channel).
func ContactOn(u *urls.Builder, appID string, c *herald.Contact, ch *herald.Channel) ContactObject {
	out := Contact(u, appID, c)
	if ch != nil {
		obj := Channel(ch)
		out.Channel = &obj
	}
	return out
}

// Contact renders a contact as webhook payloads carry it, without its
// channel (see ContactOn).
func Contact(u *urls.Builder, appID string, c *herald.Contact) ContactObject {
	out := ContactObject{
		Href:             ContactHref(u, c.UUID),
		ConversationHref: ConversationHref(u, appID, c),
		Name:             c.Name,
		Tags:             append([]string{}, c.Tags...),
		UUID:             herald.CompactUUID(c.UUID),
		Source:           c.Source,
		CreatedAt:        c.CreatedAt.UTC().Format(TimeFormat),
		PhoneNumber:      c.PhoneNumber,
		AvatarURL:        stringOrNull(c.AvatarURL),
		AssignedUser:     stringOrNull(c.AssignedUser),
		CustomFields:     c.CustomFields,
		ClosedAt:         timeOrNull(c.ClosedAt),
		BlockedAt:        timeOrNull(c.BlockedAt),
		FunnelID:         stringOrNull(c.FunnelUUID),
		Bsuid:            c.Bsuid,
		Note:             stringOrNull(c.Note),
	}
	if out.CustomFields == nil {
		out.CustomFields = map[string]any{}
	}
	if t := c.Team; t != nil {
		out.Team = &TeamObject{UUID: herald.CompactUUID(t.UUID), Name: t.Name, CreatedAt: t.CreatedAt.UTC().Format(TimeFormat),
			Default: t.Default, Members: t.Members}
	}
	return out
}

func (r *renderer) contactObject() (*ContactObject, error) {
	c := r.d.Contact
	if c == nil {
		return nil, r.errorf("carries no contact")
	}
	if c.ConversationID == "" {
		if r.d.Conversation == nil {
			return nil, r.errorf("contact %s has no conversation", c.UUID)
		}
		withConv := *c
		withConv.ConversationID = r.d.Conversation.ID
		c = &withConv
	}
	out := ContactOn(r.u, r.e.AppID, c, r.d.Channel)
	return &out, nil
}

func (r *renderer) contact() (any, error) { return r.contactObject() }

func (r *renderer) contactDeleted() (any, error) {
	if r.d.Contact == nil {
		return nil, r.errorf("carries no contact")
	}
	return contactDeletedJSON{
		UUID:    herald.CompactUUID(r.d.Contact.UUID),
		Deleted: r.e.CreatedAt.UTC().Format(deletedTime),
	}, nil
}

func (r *renderer) conversation() (any, error) {
	contact, err := r.contactObject()
	if err != nil {
		return nil, err
	}
	c := r.d.Contact
	out := conversationJSON{
		Source:    c.Source,
		Href:      contact.ConversationHref,
		Contact:   contact,
		CreatedAt: c.OpenedAt.UTC().Format(TimeFormat),
	}
	if r.e.Type == herald.EventConversationClosed {
		if c.ClosedAt == nil {
			return nil, r.errorf("contact %s has no closed_at", c.UUID)
		}
		out.ClosingReason = json.RawMessage("null")
		if c.ClosingReason != "" {
			out.ClosingReason = jsonString(c.ClosingReason)
		}
		out.ClosedAt = c.ClosedAt.UTC().Format(TimeFormat)
	}
	return out, nil
}

func (r *renderer) messageStatusUpdated() (any, error) {
	m := r.d.Message
	if m == nil {
		return nil, r.errorf("carries no message")
	}
	if m.Channel == nil {
		return nil, r.errorf("message %s has no channel", m.ID)
	}
	contact, err := r.contactObject()
	if err != nil {
		return nil, err
	}
	out := messageStatusJSON{
		UUID:     herald.CompactUUID(m.ID),
		Status:   m.Channel.Status,
		Contact:  contact,
		Metadata: m.Channel.Metadata,
	}
	if p := bytes.TrimSpace(m.Channel.StatusPayload); len(p) > 0 && string(p) != "null" {
		out.MessageStatusPayload = p
	}
	return out, nil
}

func (r *renderer) messageCreated() (any, error) {
	m := r.d.Message
	ch := m.Channel
	contact, err := r.contactObject()
	if err != nil {
		return nil, err
	}
	out := &messageCreatedJSON{
		To:        ch.To,
		From:      ch.From,
		Status:    ch.Direction,
		Channel:   ch.Channel,
		Contact:   contact,
		CreatedAt: m.SentAt.UTC().Format(messageTime),
		Metadata:  ch.Metadata,
	}
	var texts []string
	for i, p := range m.Parts {
		if p.Content != nil {
			download, _ := r.u.ContentDownload(p.Content.ID)
			out.Attachments = append(out.Attachments, download)
			continue
		}
		body, err := partBody(p)
		if err != nil {
			return nil, r.errorf("message %s, part %d: %v", m.ID, i, err)
		}
		var field *json.RawMessage
		switch mediaType(p.MimeType) {
		case herald.MimeText:
			texts = append(texts, string(body))
			continue
		case herald.MimeURIList:
			out.Attachments = append(out.Attachments, uriList(body)...)
			continue
		case herald.MimeLocation:
			field = &out.MessageLocation
		case herald.MimeContactCard:
			field = &out.MessageContactCard
		case herald.MimeReplyButtons:
			field = &out.MessageReplyButton
		case herald.MimeInteractiveList:
			if body, err = interactiveList(body); err != nil {
				return nil, r.errorf("message %s, part %d (%s): %v", m.ID, i, p.MimeType, err)
			}
			field = &out.MessageInteractiveList
		default:
			// Other inline parts have no place in Callbell's payload.
			continue
		}
		if !json.Valid(body) {
			return nil, r.errorf("message %s, part %d (%s): the body is not JSON", m.ID, i, p.MimeType)
		}
		if *field == nil { // a second part of the same kind has no place either
			*field = body
		}
	}
	out.Text = strings.Join(texts, "\n")
	if ref := ch.ReplyTo; ref != nil {
		at := ref.SentAt.UTC().Format(messageTime)
		c := &contextJSON{
			Target: targetJSON{UUID: herald.CompactUUID(ref.ID), Text: ref.Text, Status: ref.Direction,
				Channel: ref.Channel, From: ref.From, To: ref.To, CreatedAt: at},
			Text: ref.Text, CreatedAt: at, Status: ref.Direction,
		}
		message, mesage := r.cfg.contextKeys()
		if message {
			out.MessageContext = c
		}
		if mesage {
			out.MesageContext = c
		}
	}
	if ch.Forwarded {
		out.MessageForward = &forwardJSON{Forwarded: true}
	}
	return out, nil
}

// mediaType is a MIME type without its parameters, in lower case.
func mediaType(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// partBody is the decoded body of an inline part.
func partBody(p herald.Part) ([]byte, error) {
	switch p.Encoding {
	case "":
		return []byte(p.Body), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(p.Body)
		if err != nil {
			return nil, fmt.Errorf("the body is not base64: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", p.Encoding)
}

// uriList returns the URLs of a text/uri-list body (RFC 2483): one a line,
// lines starting with # being comments.
func uriList(body []byte) []string {
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// interactiveList returns an interactive-list part body as Callbell sends
// it: its metadata member is a JSON-encoded string, so metadata stored as an
// object or array is encoded to one. Every member keeps its place.
func interactiveList(body []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("the body is not a JSON object")
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for n := 0; dec.More(); n++ {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("the body is not a JSON object: %w", err)
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("the body is not a JSON object: %w", err)
		}
		v = bytes.TrimSpace(v)
		if key == "metadata" && len(v) > 0 && (v[0] == '{' || v[0] == '[') {
			var compact bytes.Buffer
			if err := json.Compact(&compact, v); err != nil {
				return nil, err
			}
			v = jsonString(compact.String())
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(jsonString(key))
		buf.WriteByte(':')
		buf.Write(v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("the body is not a JSON object: %w", err)
	}
	buf.WriteByte('}')
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("the body has data after its JSON object")
	}
	return buf.Bytes(), nil
}

// jsonString encodes s as a JSON string, without HTML escaping.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
