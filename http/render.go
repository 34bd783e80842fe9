package http

import (
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/heraldhq/herald"
)

// The types below are the API's JSON, in Layer's Platform API shape. Field
// order is Layer's.

type identityJSON struct {
	ID           string          `json:"id"`
	URL          string          `json:"url"`
	UserID       string          `json:"user_id"`
	DisplayName  *string         `json:"display_name"`
	AvatarURL    *string         `json:"avatar_url"`
	FirstName    *string         `json:"first_name"`
	LastName     *string         `json:"last_name"`
	PhoneNumber  *string         `json:"phone_number"`
	EmailAddress *string         `json:"email_address"`
	Metadata     json.RawMessage `json:"metadata"`
	CreatedAt    string          `json:"created_at"`
	UpdatedAt    string          `json:"updated_at"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

func (s *Server) renderIdentity(app string, id *herald.Identity) identityJSON {
	return identityJSON{
		ID:           herald.IdentityIDPrefix + id.UserID,
		URL:          s.URLs.Identity(app, id.UserID),
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
	Participants []string        `json:"participants"`
	Distinct     bool            `json:"distinct"`
	Metadata     json.RawMessage `json:"metadata"`
}

func (s *Server) renderConversation(app string, c *herald.Conversation) conversationJSON {
	u := s.URLs.Conversation(app, c.ID)
	return conversationJSON{
		ID: herald.ConversationIDPrefix + c.ID, URL: u, MessagesURL: u + "/messages",
		CreatedAt: herald.FormatTime(c.CreatedAt), Participants: c.Participants, Distinct: c.Distinct,
		Metadata: objectOrEmpty(c.Metadata),
	}
}

type senderJSON struct {
	UserID *string `json:"user_id"`
	Name   *string `json:"name,omitempty"`
}

func renderSender(sd herald.Sender) senderJSON {
	return senderJSON{UserID: orNull(sd.UserID), Name: orNull(sd.Name)}
}

type contentJSON struct {
	ID          string  `json:"id"`
	DownloadURL *string `json:"download_url"`
	Expiration  *string `json:"expiration"`
	RefreshURL  string  `json:"refresh_url"`
	Size        int64   `json:"size"`
	MimeType    string  `json:"mime_type,omitempty"`
	UploadURL   string  `json:"upload_url,omitempty"`
}

// renderContent gives content a download URL valid for the server's TTL.
func (s *Server) renderContent(app, id string, size int64, uploaded bool) contentJSON {
	c := contentJSON{ID: herald.ContentIDPrefix + id, RefreshURL: s.URLs.ContentRefresh(app, id), Size: size}
	if uploaded {
		u, exp := s.URLs.ContentDownload(id)
		e := herald.FormatTime(exp)
		c.DownloadURL, c.Expiration = &u, &e
	}
	return c
}

type partJSON struct {
	ID       string       `json:"id"`
	MimeType string       `json:"mime_type"`
	Body     *string      `json:"body,omitempty"`
	Encoding string       `json:"encoding,omitempty"`
	Content  *contentJSON `json:"content,omitempty"`
}

func (s *Server) renderParts(app, idBase string, parts []herald.Part) []partJSON {
	out := make([]partJSON, len(parts))
	for i, p := range parts {
		out[i] = partJSON{ID: idBase + "/parts/" + strconv.Itoa(i), MimeType: p.MimeType, Encoding: p.Encoding}
		if p.Content != nil {
			c := s.renderContent(app, p.Content.ID, p.Content.Size, true)
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
	ID              string            `json:"id"`
	URL             string            `json:"url"`
	Conversation    refJSON           `json:"conversation"`
	Parts           []partJSON        `json:"parts"`
	SentAt          string            `json:"sent_at"`
	Sender          senderJSON        `json:"sender"`
	RecipientStatus map[string]string `json:"recipient_status"`
	Position        int64             `json:"position"`
	IsUnread        *bool             `json:"is_unread,omitempty"`
}

// renderMessage renders m; with viewer set, as that user sees it.
func (s *Server) renderMessage(app string, m *herald.Message, viewer string) messageJSON {
	id := herald.MessageIDPrefix + m.ID
	out := messageJSON{
		ID:  id,
		URL: s.URLs.Message(app, m.ID),
		Conversation: refJSON{ID: herald.ConversationIDPrefix + m.ConversationID,
			URL: s.URLs.Conversation(app, m.ConversationID)},
		Parts:           s.renderParts(app, id, m.Parts),
		SentAt:          herald.FormatTime(m.SentAt),
		Sender:          renderSender(m.Sender),
		RecipientStatus: m.RecipientStatus,
		Position:        m.Position,
	}
	if viewer != "" {
		unread := m.RecipientStatus[viewer] != herald.StatusRead
		out.IsUnread = &unread
	}
	return out
}

type announcementJSON struct {
	ID              string            `json:"id"`
	URL             string            `json:"url,omitempty"`
	Parts           []partJSON        `json:"parts"`
	SentAt          string            `json:"sent_at"`
	Sender          senderJSON        `json:"sender"`
	RecipientStatus map[string]string `json:"recipient_status"`
	IsUnread        *bool             `json:"is_unread,omitempty"`
}

// renderAnnouncement renders a; with viewer set, as that recipient sees it.
func (s *Server) renderAnnouncement(app string, a *herald.Announcement, viewer string) announcementJSON {
	id := herald.AnnouncementIDPrefix + a.ID
	out := announcementJSON{ID: id, Parts: s.renderParts(app, id, a.Parts), SentAt: herald.FormatTime(a.SentAt),
		Sender: renderSender(a.Sender), RecipientStatus: a.RecipientStatus}
	if viewer != "" {
		out.URL = s.URLs.App(app) + "/users/" + url.PathEscape(viewer) + "/announcements/" + a.ID
		unread := a.RecipientStatus[viewer] != herald.StatusRead
		out.IsUnread = &unread
	}
	return out
}

type eventJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	Actor     *herald.Actor   `json:"actor"`
	Data      json.RawMessage `json:"data"`
}

func renderEvent(e *herald.Event) eventJSON {
	return eventJSON{ID: e.ID, Type: e.Type, CreatedAt: herald.FormatTime(e.CreatedAt), Actor: e.Actor, Data: e.Data}
}
