package layerapi

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// view renders objects as a request's version shows them. In 2.0 and 3.0
// users appear as Basic Identity objects, so a view looks up the identities
// of the users it is about to render (load), once per request.
type view struct {
	ctx context.Context
	srv *heraldhttp.Server
	app string
	v   Version
	// urls names the objects' URLs: the server API's or the Client API's.
	urls urlScheme
	// client renders as the Client API does (see clientURLs).
	client bool
	// known holds the identities looked up so far; a user looked up without
	// one is there as nil.
	known map[string]*herald.Identity
}

func newView(srv *heraldhttp.Server, ctx context.Context, app string, v Version) *view {
	return &view{ctx: ctx, srv: srv, app: app, v: v, urls: serverURLs{srv.URLs, app}}
}

// load looks up the identities of users not looked up yet, when the version
// renders users as identities.
func (v *view) load(users ...string) error {
	var missing []string
	for _, u := range users {
		missing = v.unknown(missing, u)
	}
	return v.lookUp(missing)
}

// unknown appends user to missing when the version renders users as
// identities and the view has not looked them up yet, and takes them as
// looked up. The loads go through it user by user rather than gathering
// the users first: a change shown to many users loads the same few over
// and over, all known after the first.
func (v *view) unknown(missing []string, user string) []string {
	if user == "" || !v.v.identities() {
		return missing
	}
	if v.known == nil {
		v.known = map[string]*herald.Identity{}
	}
	if _, ok := v.known[user]; ok {
		return missing
	}
	v.known[user] = nil
	return append(missing, user)
}

// lookUp looks up the identities of users that unknown gathered.
func (v *view) lookUp(users []string) error {
	if len(users) == 0 {
		return nil
	}
	found, err := v.srv.Service.Identities(v.ctx, v.app, users)
	if err != nil {
		return err
	}
	for u, id := range found {
		v.known[u] = id
	}
	return nil
}

// know records a user's identity (nil: none) looked up by other means.
func (v *view) know(user string, id *herald.Identity) {
	if v.known == nil {
		v.known = map[string]*herald.Identity{}
	}
	v.known[user] = id
}

// loadConversations loads the participants of conversations.
func (v *view) loadConversations(cs ...*herald.Conversation) error {
	var missing []string
	for _, c := range cs {
		for _, u := range c.Participants {
			missing = v.unknown(missing, u)
		}
	}
	return v.lookUp(missing)
}

// loadMessages loads the senders of messages and their recipients.
func (v *view) loadMessages(ms ...*herald.Message) error {
	var missing []string
	for _, m := range ms {
		missing = v.senderAndRecipients(missing, m.Sender, m.RecipientStatus)
	}
	return v.lookUp(missing)
}

// senderAndRecipients appends to missing those of a message's or an
// announcement's sender and recipients that are unknown.
func (v *view) senderAndRecipients(missing []string, sender herald.Sender, status map[string]string) []string {
	missing = v.unknown(missing, sender.UserID)
	for u := range status {
		missing = v.unknown(missing, u)
	}
	return missing
}

var (
	orNull        = heraldhttp.OrNull
	objectOrEmpty = heraldhttp.ObjectOrEmpty
)

// basicIdentityJSON is Layer's Basic Identity: how 2.0 and 3.0 name a user
// inside other objects. A user without an identity has null names; a named
// system sender (1.x's sender.name) has a display name and nothing else.
type basicIdentityJSON struct {
	ID          *string `json:"id"`
	URL         *string `json:"url"`
	UserID      *string `json:"user_id"`
	DisplayName *string `json:"display_name"`
	AvatarURL   *string `json:"avatar_url"`
}

func (v *view) basicIdentity(user string) basicIdentityJSON {
	id, u := herald.IdentityIDPrefix+user, v.urls.identity(user)
	out := basicIdentityJSON{ID: &id, URL: &u, UserID: &user}
	if known := v.known[user]; known != nil {
		out.DisplayName, out.AvatarURL = orNull(known.DisplayName), orNull(known.AvatarURL)
	}
	return out
}

// user renders a user as the version names them in lists: a bare user id,
// or a Basic Identity.
func (v *view) user(user string) any {
	if v.v.identities() {
		return v.basicIdentity(user)
	}
	return user
}

func (v *view) users(users []string) []any {
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = v.user(u)
	}
	return out
}

// identityJSON is a user's full identity.
type identityJSON struct {
	ID           string  `json:"id"`
	URL          string  `json:"url"`
	UserID       string  `json:"user_id"`
	DisplayName  *string `json:"display_name"`
	AvatarURL    *string `json:"avatar_url"`
	FirstName    *string `json:"first_name"`
	LastName     *string `json:"last_name"`
	PhoneNumber  *string `json:"phone_number"`
	EmailAddress *string `json:"email_address"`
	IdentityType *string `json:"identity_type,omitempty"`
	// Type is the Client API's name of identity_type: Layer's Web SDK
	// reads type (layer-websdk identity.js), the Server API's docs name
	// identity_type; the Client API renders both.
	Type      *string         `json:"type,omitempty"`
	PublicKey *string         `json:"public_key"`
	Metadata  json.RawMessage `json:"metadata"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// identity renders a full identity; identity_type is 3.0's and the Client
// API's, which names it type too.
func (v *view) identity(id *herald.Identity) identityJSON {
	var typ, clientType *string
	if v.v == V30 || v.client {
		t := id.IdentityType
		if t == "" {
			t = "user"
		}
		typ = &t
		if v.client {
			clientType = &t
		}
	}
	return identityJSON{
		IdentityType: typ,
		Type:         clientType,
		PublicKey:    orNull(id.PublicKey),
		ID:           herald.IdentityIDPrefix + id.UserID,
		URL:          v.urls.identity(id.UserID),
		UserID:       id.UserID,
		DisplayName:  orNull(id.DisplayName),
		AvatarURL:    orNull(id.AvatarURL),
		FirstName:    orNull(id.FirstName),
		LastName:     orNull(id.LastName),
		PhoneNumber:  orNull(id.PhoneNumber),
		EmailAddress: orNull(id.EmailAddress),
		Metadata:     objectOrEmpty(id.Metadata),
		CreatedAt:    herald.FormatTime(id.CreatedAt),
		UpdatedAt:    herald.FormatTime(id.UpdatedAt),
	}
}

type conversationJSON struct {
	ID           string          `json:"id"`
	URL          string          `json:"url"`
	MessagesURL  string          `json:"messages_url"`
	CreatedAt    string          `json:"created_at"`
	Participants []any           `json:"participants"`
	Distinct     bool            `json:"distinct"`
	Metadata     json.RawMessage `json:"metadata"`
}

// conversation renders c; its participants must be loaded.
func (v *view) conversation(c *herald.Conversation) conversationJSON {
	u := v.urls.conversation(c.ID)
	return conversationJSON{
		ID: herald.ConversationIDPrefix + c.ID, URL: u, MessagesURL: u + "/messages",
		CreatedAt: herald.FormatTime(c.CreatedAt), Participants: v.users(c.Participants), Distinct: c.Distinct,
		Metadata: objectOrEmpty(c.Metadata),
	}
}

// senderJSON is 1.x's sender: a user, or a named system sender with a null
// user id.
type senderJSON struct {
	UserID *string `json:"user_id"`
	Name   *string `json:"name,omitempty"`
}

// sender renders who sent a message or an announcement.
func (v *view) sender(sd herald.Sender) any {
	if !v.v.identities() {
		return senderJSON{UserID: orNull(sd.UserID), Name: orNull(sd.Name)}
	}
	if sd.UserID == "" {
		// 2.0 dropped named senders; one sent through 1.x still shows
		// its name, as the 2.0 webhooks show it.
		return basicIdentityJSON{DisplayName: orNull(sd.Name)}
	}
	return v.basicIdentity(sd.UserID)
}

// recipientStatus keys statuses by user id (1.x) or identity id.
func (v *view) recipientStatus(status map[string]string) map[string]string {
	if !v.v.identities() {
		return status
	}
	out := make(map[string]string, len(status))
	for u, s := range status {
		out[herald.IdentityIDPrefix+u] = s
	}
	return out
}

type partJSON struct {
	ID       string                  `json:"id"`
	MimeType string                  `json:"mime_type"`
	Body     *string                 `json:"body,omitempty"`
	Encoding string                  `json:"encoding,omitempty"`
	Content  *heraldhttp.ContentJSON `json:"content,omitempty"`
	// UpdatedAt is when a part changed on its own after the send (3.0).
	UpdatedAt *string `json:"updated_at,omitempty"`
}

// parts renders the parts of a message or announcement whose id is idBase.
// A part is named by its own id in 3.0 when it has one, by its index
// otherwise (as 1.x and 2.0 name every part).
func (v *view) parts(idBase string, parts []herald.Part) []partJSON {
	out := make([]partJSON, len(parts))
	for i, p := range parts {
		name := strconv.Itoa(i)
		if v.v.partIDs() && p.ID != "" {
			name = p.ID
		}
		out[i] = partJSON{ID: idBase + "/parts/" + name, MimeType: p.MimeType, Encoding: p.Encoding}
		if v.v.partIDs() && p.UpdatedAt != nil {
			at := herald.FormatTime(*p.UpdatedAt)
			out[i].UpdatedAt = &at
		}
		if p.Content != nil {
			c := v.content(p.Content.ID, p.Content.Size, true)
			out[i].Content = &c
		} else {
			body := p.Body
			out[i].Body = &body
		}
	}
	return out
}

type refJSON struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

type messageJSON struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// ReceiptsURL is the Client API's ([P1.1] client/rest/messages.md).
	ReceiptsURL     string            `json:"receipts_url,omitempty"`
	Conversation    refJSON           `json:"conversation"`
	Parts           []partJSON        `json:"parts"`
	SentAt          string            `json:"sent_at"`
	Sender          any               `json:"sender"`
	RecipientStatus map[string]string `json:"recipient_status"`
	Position        int64             `json:"position"`
	IsUnread        *bool             `json:"is_unread,omitempty"`
	// UpdatedAt is when a part was last added or replaced after the send
	// (3.0, [PV] message.obj: "the last change to the message parts").
	UpdatedAt *string `json:"updated_at,omitempty"`
}

// message renders m; with viewer set, as that user sees it. Its users must
// be loaded.
func (v *view) message(m *herald.Message, viewer string) messageJSON {
	id := herald.MessageIDPrefix + m.ID
	out := messageJSON{
		ID:  id,
		URL: v.urls.message(m.ID),
		Conversation: refJSON{ID: herald.ConversationIDPrefix + m.ConversationID,
			URL: v.urls.conversation(m.ConversationID)},
		Parts:           v.parts(id, m.Parts),
		SentAt:          herald.FormatTime(m.SentAt),
		Sender:          v.sender(m.Sender),
		RecipientStatus: v.recipientStatus(m.RecipientStatus),
		Position:        m.Position,
	}
	if v.client {
		out.ReceiptsURL = out.URL + "/receipts"
	}
	if viewer != "" {
		unread := unreadFor(m.RecipientStatus, viewer)
		out.IsUnread = &unread
	}
	if v.v.partIDs() {
		var last *time.Time
		for _, p := range m.Parts {
			if p.UpdatedAt != nil && (last == nil || p.UpdatedAt.After(*last)) {
				last = p.UpdatedAt
			}
		}
		if last != nil {
			at := herald.FormatTime(*last)
			out.UpdatedAt = &at
		}
	}
	return out
}

type announcementJSON struct {
	ID              string            `json:"id"`
	URL             string            `json:"url,omitempty"`
	Parts           []partJSON        `json:"parts"`
	SentAt          string            `json:"sent_at"`
	Sender          any               `json:"sender"`
	RecipientStatus map[string]string `json:"recipient_status"`
	// Recipients lists whom the announcement went to, in the response that
	// sends it ([P1.1] send-an-announcement.md; the live response in
	// cakejelly/layer-api spec/cassettes/announcement_create.yml).
	Recipients []any `json:"recipients,omitempty"`
	IsUnread   *bool `json:"is_unread,omitempty"`
}

// announcement renders a; with viewer set, as that recipient sees it.
func (v *view) announcement(a *herald.Announcement, viewer string) announcementJSON {
	id := herald.AnnouncementIDPrefix + a.ID
	out := announcementJSON{ID: id, Parts: v.parts(id, a.Parts), SentAt: herald.FormatTime(a.SentAt),
		Sender: v.sender(a.Sender), RecipientStatus: v.recipientStatus(a.RecipientStatus)}
	out.URL = v.urls.announcement(a.ID, viewer)
	if viewer == "" {
		users := make([]string, 0, len(a.RecipientStatus))
		for u := range a.RecipientStatus {
			users = append(users, u)
		}
		slices.Sort(users)
		out.Recipients = v.users(users)
	} else {
		unread := unreadFor(a.RecipientStatus, viewer)
		out.IsUnread = &unread
	}
	return out
}

// loadAnnouncements loads the senders of announcements and their recipients.
func (v *view) loadAnnouncements(as ...*herald.Announcement) error {
	var missing []string
	for _, a := range as {
		missing = v.senderAndRecipients(missing, a.Sender, a.RecipientStatus)
	}
	return v.lookUp(missing)
}
