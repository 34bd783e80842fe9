package layer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Render renders e as the body Layer sent to webhooks of payload version
// version (Version1, Version2 or Version3), with config, the webhook's
// free-form configuration object, added as "config" when it is not empty.
// ok is false for events that Layer did not send to webhooks of that
// version (see EventTypesOf). URLs, including the signed download URLs of
// rich content, are built by u at render time, so a retried delivery
// carries URLs that are still valid.
func Render(e *herald.Event, version string, config json.RawMessage, u *urls.Builder) (body []byte, ok bool, err error) {
	if EventName(e.Type, version) == "" {
		// Answered before any data is read: no need to decode it.
		return RenderData(e, nil, version, config, u)
	}
	d, err := e.DecodeData()
	if err != nil {
		return nil, false, fmt.Errorf("layer: %w", err)
	}
	return RenderData(e, d, version, config, u)
}

// RenderData is Render of an event whose data is already decoded (d is only
// read).
func RenderData(e *herald.Event, d *herald.EventData, version string, config json.RawMessage, u *urls.Builder) (body []byte, ok bool, err error) {
	if !IsVersion(version) {
		return nil, false, fmt.Errorf("layer: unknown webhook payload version %q (want %q, %q or %q)", version, Version1, Version2, Version3)
	}
	if version == Version3 {
		return render3(e, d, config, u)
	}
	if !IsEventType(e.Type) {
		return nil, false, nil
	}
	cfg, err := configObject(config)
	if err != nil {
		return nil, false, err
	}
	r := renderer{app: e.AppID, v2: version == Version2, u: u, ids: d.Identities}
	p := payload{
		Event:  eventJSON{CreatedAt: herald.FormatTime(e.CreatedAt), Type: e.Type, ID: e.ID},
		Config: cfg,
	}
	actor := e.Actor
	if (e.Type == herald.EventMessageDelivered || e.Type == herald.EventMessageRead) && d.UserID != "" {
		// Layer's actor of a receipt event is the user who sent the receipt.
		actor = &herald.Actor{UserID: d.UserID}
	}
	if actor != nil && (actor.UserID != "" || actor.Name != "") {
		p.Event.Actor = r.actor(*actor)
	}
	switch e.Type {
	case herald.EventMessageSent, herald.EventMessageDelivered, herald.EventMessageRead, herald.EventMessageDeleted:
		if d.Message == nil {
			return nil, false, fmt.Errorf("layer: %s event %s carries no message", e.Type, e.ID)
		}
		p.Message = r.message(e.Type, d.Message, d.Conversation)
	default:
		if d.Conversation == nil {
			return nil, false, fmt.Errorf("layer: %s event %s carries no conversation", e.Type, e.ID)
		}
		p.Conversation = r.conversation(d.Conversation)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Signed download URLs hold '&'; escaping it as \u0026 would be valid
	// JSON but needlessly unreadable in receivers' logs.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, false, fmt.Errorf("layer: event %s: %w", e.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true, nil
}

// configObject returns config compacted, or nil when there is nothing to
// add: Layer added config only to webhooks registered with one.
func configObject(config json.RawMessage) (json.RawMessage, error) {
	config = bytes.TrimSpace(config)
	if len(config) == 0 || string(config) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(config, &obj); err != nil {
		return nil, fmt.Errorf("layer: webhook config must be a JSON object: %w", err)
	}
	if len(obj) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, config); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The types below are Layer's payload JSON. Field order follows Layer's
// documented payloads, so that a delivery reads like Layer's own.

type payload struct {
	Event        eventJSON         `json:"event"`
	Message      *messageJSON      `json:"message,omitempty"`
	Conversation *conversationJSON `json:"conversation,omitempty"`
	Config       json.RawMessage   `json:"config,omitempty"`
}

type eventJSON struct {
	CreatedAt string `json:"created_at"`
	Type      string `json:"type"`
	ID        string `json:"id"`
	Actor     any    `json:"actor,omitempty"`
}

type refJSON struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

type messageJSON struct {
	ID string `json:"id"`
	// URL is set on message.deleted only: Layer's payloads carried it
	// there and nowhere else, in 1.0 and 2.0 alike.
	URL             string          `json:"url,omitempty"`
	Conversation    refJSON         `json:"conversation"`
	Parts           []any           `json:"parts"`
	SentAt          string          `json:"sent_at"`
	Sender          any             `json:"sender"`
	RecipientStatus recipientStatus `json:"recipient_status"`
}

type bodyPartJSON struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Body     string `json:"body"`
	Encoding string `json:"encoding,omitempty"`
}

// contentPartJSON puts mime_type first, as Layer's rich-content parts did.
type contentPartJSON struct {
	MimeType string      `json:"mime_type"`
	ID       string      `json:"id"`
	Content  contentJSON `json:"content"`
}

type contentJSON struct {
	ID          string `json:"id"`
	DownloadURL string `json:"download_url"`
	Expiration  string `json:"expiration"`
	RefreshURL  string `json:"refresh_url"`
	Size        int64  `json:"size"`
}

type conversationJSON struct {
	ID           string          `json:"id"`
	URL          string          `json:"url"`
	CreatedAt    string          `json:"created_at"`
	MessagesURL  string          `json:"messages_url"`
	Distinct     bool            `json:"distinct"`
	Participants any             `json:"participants"`
	Metadata     json.RawMessage `json:"metadata"`
}

// actor1 is a 1.0 actor: exactly one of user_id (a user) or name (a system
// sender).
type actor1 struct {
	UserID string `json:"user_id,omitempty"`
	Name   string `json:"name,omitempty"`
}

// namedSender1 is a 1.0 message sender that is not a user: Layer gave it an
// explicit null user_id, which receivers test to tell bots from people.
type namedSender1 struct {
	Name   string  `json:"name"`
	UserID *string `json:"user_id"`
}

type userSender1 struct {
	UserID string `json:"user_id"`
}

// basicIdentity is a 2.0 user: Layer's Basic Identity object.
type basicIdentity struct {
	ID          *string `json:"id"`
	URL         *string `json:"url"`
	UserID      *string `json:"user_id"`
	DisplayName *string `json:"display_name"`
	AvatarURL   *string `json:"avatar_url"`
}

// recipientStatus renders as a JSON object whose keys keep the order of the
// conversation's participants, as in Layer's payloads, instead of the sorted
// order of a Go map.
type recipientStatus []statusEntry

type statusEntry struct{ key, status string }

func (s recipientStatus) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, e := range s {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(e.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.status)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

type renderer struct {
	app string
	v2  bool
	u   *urls.Builder
	ids map[string]*herald.Identity
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// identity renders a user as a 2.0 Basic Identity. Herald users need no
// identity; one without has null display_name and avatar_url, as Layer
// rendered identities with those fields unset.
func (r *renderer) identity(userID string) basicIdentity {
	id := herald.IdentityIDPrefix + userID
	url := r.u.Identity(r.app, userID)
	b := basicIdentity{ID: &id, URL: &url, UserID: &userID}
	if i := r.ids[userID]; i != nil {
		b.DisplayName, b.AvatarURL = nullable(i.DisplayName), nullable(i.AvatarURL)
	}
	return b
}

// named renders a named system sender in 2.0. Layer 2.0 dropped named
// senders (a bot had to be an identity), so Herald keeps the Basic Identity
// shape that 2.0 receivers parse, shows the name as display_name, and leaves
// id and user_id null: no user may be mistaken for the bot, and receivers
// that skip senders without a user_id to avoid bot loops still do.
func named(name string) basicIdentity {
	return basicIdentity{DisplayName: &name}
}

func (r *renderer) actor(a herald.Actor) any {
	switch {
	case !r.v2:
		return actor1{UserID: a.UserID, Name: a.Name}
	case a.UserID != "":
		return r.identity(a.UserID)
	default:
		return named(a.Name)
	}
}

func (r *renderer) sender(s herald.Sender) any {
	switch {
	case s.UserID != "" && r.v2:
		return r.identity(s.UserID)
	case s.UserID != "":
		return userSender1{UserID: s.UserID}
	case r.v2:
		return named(s.Name)
	default:
		return namedSender1{Name: s.Name}
	}
}

func (r *renderer) userKey(userID string) string {
	if r.v2 {
		return herald.IdentityIDPrefix + userID
	}
	return userID
}

func (r *renderer) message(typ string, m *herald.Message, c *herald.Conversation) *messageJSON {
	id := herald.MessageIDPrefix + m.ID
	out := &messageJSON{
		ID: id,
		Conversation: refJSON{ID: herald.ConversationIDPrefix + m.ConversationID,
			URL: r.u.Conversation(r.app, m.ConversationID)},
		Parts:  make([]any, len(m.Parts)),
		SentAt: herald.FormatTime(m.SentAt),
		Sender: r.sender(m.Sender),
	}
	if typ == herald.EventMessageDeleted {
		out.URL = r.u.Message(r.app, m.ID)
	}
	for i, p := range m.Parts {
		partID := id + "/parts/" + strconv.Itoa(i)
		if p.Content == nil {
			out.Parts[i] = bodyPartJSON{ID: partID, MimeType: p.MimeType, Body: p.Body, Encoding: p.Encoding}
			continue
		}
		download, exp := r.u.ContentDownload(p.Content.ID)
		out.Parts[i] = contentPartJSON{MimeType: p.MimeType, ID: partID, Content: contentJSON{
			ID:          herald.ContentIDPrefix + p.Content.ID,
			DownloadURL: download,
			Expiration:  herald.FormatTime(exp),
			RefreshURL:  r.u.ContentRefresh(r.app, p.Content.ID),
			Size:        p.Content.Size,
		}}
	}
	var participants []string
	if c != nil {
		participants = c.Participants
	}
	out.RecipientStatus = r.recipientStatus(m.RecipientStatus, participants)
	return out
}

// recipientStatus orders statuses by participant, then any other recipients
// (users who left the conversation since) by user id, so that a payload is
// the same bytes every time it is rendered.
func (r *renderer) recipientStatus(status map[string]string, participants []string) recipientStatus {
	out := make(recipientStatus, 0, len(status))
	seen := make(map[string]bool, len(status))
	for _, p := range participants {
		if s, ok := status[p]; ok && !seen[p] {
			seen[p] = true
			out = append(out, statusEntry{r.userKey(p), s})
		}
	}
	var rest []string
	for u := range status {
		if !seen[u] {
			rest = append(rest, u)
		}
	}
	slices.Sort(rest)
	for _, u := range rest {
		out = append(out, statusEntry{r.userKey(u), status[u]})
	}
	return out
}

func (r *renderer) conversation(c *herald.Conversation) *conversationJSON {
	url := r.u.Conversation(r.app, c.ID)
	out := &conversationJSON{
		ID:          herald.ConversationIDPrefix + c.ID,
		URL:         url,
		CreatedAt:   herald.FormatTime(c.CreatedAt),
		MessagesURL: url + "/messages",
		Distinct:    c.Distinct,
		Metadata:    c.Metadata,
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("{}")
	}
	if r.v2 {
		ps := make([]basicIdentity, len(c.Participants))
		for i, p := range c.Participants {
			ps[i] = r.identity(p)
		}
		out.Participants = ps
	} else {
		out.Participants = append([]string{}, c.Participants...)
	}
	return out
}
