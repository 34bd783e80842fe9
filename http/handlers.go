package http

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

const (
	defaultPageSize = 100
	maxPageSize     = 500
)

func page(r *http.Request) (herald.Page, error) {
	p := herald.Page{Before: r.URL.Query().Get("from_id"), Limit: defaultPageSize}
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, herald.PropertyError(herald.EInvalidProperty, "page_size", "page_size must be a whole number from 1 to %d.", maxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

// writePage renders a page of a listing, with a Link to the next page when
// the page is full.
func writePage[T, J any](s *Server, w http.ResponseWriter, r *http.Request, p herald.Page, items []T,
	id func(T) string, render func(T) J) {
	out := make([]J, len(items))
	for i, item := range items {
		out[i] = render(item)
	}
	if len(items) == p.Limit && len(items) > 0 {
		q := r.URL.Query()
		q.Set("from_id", id(items[len(items)-1]))
		q.Set("page_size", strconv.Itoa(p.Limit))
		w.Header().Set("Link", "<"+s.URLs.Base+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

// Identities.

func (s *Server) putIdentity(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.IdentityInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	mode := map[string]messaging.IdentityMode{
		http.MethodPut: messaging.IdentityReplace, http.MethodPost: messaging.IdentityCreate,
		http.MethodPatch: messaging.IdentityPatch,
	}[r.Method]
	id, created, err := s.Service.PutIdentity(r.Context(), app, r.PathValue("user"), in, mode)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.renderIdentity(app, id))
	return nil
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request, app string) error {
	id, err := s.Service.Identity(r.Context(), app, r.PathValue("user"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderIdentity(app, id))
	return nil
}

func (s *Server) deleteIdentity(w http.ResponseWriter, r *http.Request, app string) error {
	if err := s.Service.DeleteIdentity(r.Context(), app, r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Conversations.

// userRefs accepts users as Layer clients name them: bare user ids,
// identity ids ("layer:///identities/u"), or objects with user_id or id.
type userRefs []string

func (u *userRefs) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, len(raw))
	for i, item := range raw {
		var s string
		if json.Unmarshal(item, &s) == nil {
			out[i] = s
			continue
		}
		var obj struct {
			UserID string `json:"user_id"`
			ID     string `json:"id"`
		}
		if json.Unmarshal(item, &obj) != nil {
			return herald.PropertyError(herald.EInvalidProperty, "["+strconv.Itoa(i)+"]", "entry %d must be a user id or an identity object.", i)
		}
		out[i] = obj.UserID
		if out[i] == "" {
			out[i] = obj.ID
		}
	}
	*u = out
	return nil
}

func (s *Server) createConversation(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Participants *userRefs       `json:"participants"`
		Distinct     *bool           `json:"distinct"`
		Metadata     json.RawMessage `json:"metadata"`
	}
	if err := decode(w, r, &in); err != nil {
		return prefixProperty(err, "participants")
	}
	ci := messaging.ConversationInput{Distinct: in.Distinct, Metadata: in.Metadata}
	if in.Participants != nil {
		ci.Participants = []string(*in.Participants)
		if ci.Participants == nil {
			ci.Participants = []string{}
		}
	}
	c, created, err := s.Service.CreateConversation(r.Context(), app, nil, ci)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.renderConversation(app, c))
	return nil
}

// prefixProperty names the list a userRefs entry error came from.
func prefixProperty(err error, list string) error {
	if e, ok := herald.AsError(err); ok {
		if p, _ := e.Data["property"].(string); strings.HasPrefix(p, "[") {
			e.Data["property"] = list + p
			e.Message = list + " " + e.Message
		}
	}
	return err
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request, app string) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	cs, err := s.Service.Conversations(r.Context(), app, r.PathValue("user"), p)
	if err != nil {
		return err
	}
	writePage(s, w, r, p, cs, func(c *herald.Conversation) string { return c.ID },
		func(c *herald.Conversation) conversationJSON { return s.renderConversation(app, c) })
	return nil
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := s.Service.Conversation(r.Context(), app, r.PathValue("conv"))
	if err != nil {
		return err
	}
	if user := r.PathValue("user"); user != "" && !c.HasParticipant(user) {
		return herald.NotFound("conversation", r.PathValue("conv"))
	}
	writeJSON(w, http.StatusOK, s.renderConversation(app, c))
	return nil
}

// patchConversation takes a Layer-Patch document (a list of operations,
// application/vnd.layer-patch+json) or, for convenience, a plain JSON object
// whose participants and metadata replace the current ones.
func (s *Server) patchConversation(w http.ResponseWriter, r *http.Request, app string) error {
	var raw json.RawMessage
	if err := decode(w, r, &raw); err != nil {
		return nameOperations(err)
	}
	var ops []messaging.PatchOperation
	var fields []string // the plain object's field of each operation
	if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
		if err := json.Unmarshal(raw, &ops); err != nil {
			return herald.Errorf(herald.EInvalidRequest, "A Layer-Patch body is a list of {operation, property, value} objects: %v.", err)
		}
		if err := checkText(raw, &ops); err != nil {
			return nameOperations(err)
		}
	} else {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return herald.Errorf(herald.EInvalidRequest, "The body must be a Layer-Patch list or a JSON object.")
		}
		if err := checkText(raw, &obj); err != nil {
			return err
		}
		for _, k := range []string{"participants", "metadata"} {
			if v, ok := obj[k]; ok {
				ops = append(ops, messaging.PatchOperation{Operation: "set", Property: k, Value: v})
				fields = append(fields, k)
				delete(obj, k)
			}
		}
		for k := range obj {
			return herald.PropertyError(herald.EInvalidProperty, k, "Only participants and metadata can be changed, not %q.", k)
		}
	}
	c, err := s.Service.UpdateConversation(r.Context(), app, r.PathValue("conv"), nil, ops)
	if err != nil {
		return nameFields(err, fields)
	}
	writeJSON(w, http.StatusOK, s.renderConversation(app, c))
	return nil
}

// nameOperations names the operations of a Layer-Patch list in an error
// about one of them: [0].value → operations[0].value.
func nameOperations(err error) error {
	if e, ok := herald.AsError(err); ok {
		if p, _ := e.Data["property"].(string); strings.HasPrefix(p, "[") {
			e.Data["property"] = "operations" + p
			e.Message = strings.Replace(e.Message, p, "operations"+p, 1)
		}
	}
	return err
}

// nameFields renames the operations a plain-object patch was turned into
// after the fields the client sent: operations[0].value[1] → participants[1].
func nameFields(err error, fields []string) error {
	e, ok := herald.AsError(err)
	if !ok {
		return err
	}
	p, _ := e.Data["property"].(string)
	for i, f := range fields {
		op := "operations[" + strconv.Itoa(i) + "].value"
		if rest, ok := strings.CutPrefix(p, op); ok {
			e.Data["property"] = f + rest
			e.Message = strings.ReplaceAll(e.Message, op, f)
		}
	}
	return err
}

func (s *Server) deleteConversation(w http.ResponseWriter, r *http.Request, app string) error {
	if err := s.Service.DeleteConversation(r.Context(), app, r.PathValue("conv"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Messages.

type senderInput struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	ID     string `json:"id"`
}

func (in *senderInput) sender() herald.Sender {
	if in == nil {
		return herald.Sender{}
	}
	sd := herald.Sender{UserID: in.UserID, Name: in.Name}
	if sd.UserID == "" && in.ID != "" {
		sd.UserID = herald.LocalID(in.ID, herald.IdentityIDPrefix)
	}
	return sd
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Sender       *senderInput          `json:"sender"`
		Parts        []messaging.PartInput `json:"parts"`
		Notification json.RawMessage       `json:"notification"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	m, replay, err := s.Service.SendMessage(r.Context(), app, r.PathValue("conv"),
		messaging.MessageInput{Sender: in.Sender.sender(), Parts: in.Parts, Notification: in.Notification},
		r.Header.Get("If-None-Match"))
	if err != nil {
		return err
	}
	if replay {
		w.Header().Set("Herald-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, s.renderMessage(app, m, ""))
	return nil
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, app string) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	user := r.PathValue("user")
	ms, err := s.Service.Messages(r.Context(), app, r.PathValue("conv"), user, p)
	if err != nil {
		return err
	}
	writePage(s, w, r, p, ms, func(m *herald.Message) string { return m.ID },
		func(m *herald.Message) messageJSON { return s.renderMessage(app, m, user) })
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, app string) error {
	user := r.PathValue("user")
	m, err := s.Service.Message(r.Context(), app, r.PathValue("conv"), user, r.PathValue("msg"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderMessage(app, m, user))
	return nil
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request, app string) error {
	if mode := r.URL.Query().Get("mode"); mode != "" && mode != "all_participants" {
		return herald.PropertyError(herald.EInvalidProperty, "mode",
			"This endpoint deletes for all participants; to delete for one user's devices use DELETE /apps/{app_id}/users/{user_id}/messages/{message_id}?mode=my_devices.")
	}
	if err := s.Service.DeleteMessage(r.Context(), app, r.PathValue("conv"), r.PathValue("msg"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteUserMessage(w http.ResponseWriter, r *http.Request, app string) error {
	user, msg := r.PathValue("user"), r.PathValue("msg")
	var err error
	switch mode := r.URL.Query().Get("mode"); mode {
	case "my_devices":
		err = s.Service.HideMessage(r.Context(), app, user, msg)
	case "all_participants":
		err = s.Service.DeleteMessage(r.Context(), app, "", msg, &herald.Actor{UserID: user})
	case "":
		err = herald.PropertyError(herald.EMissingProperty, "mode", "mode is required: my_devices or all_participants.")
	default:
		err = herald.PropertyError(herald.EInvalidProperty, "mode", "mode must be my_devices or all_participants, not %q.", mode)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) postReceipt(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Type string `json:"type"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := s.Service.PostReceipt(r.Context(), app, r.PathValue("user"), r.PathValue("msg"), in.Type); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Announcements.

func (s *Server) sendAnnouncement(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Recipients   *userRefs             `json:"recipients"`
		Sender       *senderInput          `json:"sender"`
		Parts        []messaging.PartInput `json:"parts"`
		Notification json.RawMessage       `json:"notification"`
	}
	if err := decode(w, r, &in); err != nil {
		return prefixProperty(err, "recipients")
	}
	ai := messaging.AnnouncementInput{Sender: in.Sender.sender(), Parts: in.Parts, Notification: in.Notification}
	if in.Recipients != nil {
		ai.Recipients = []string(*in.Recipients)
		if ai.Recipients == nil {
			ai.Recipients = []string{}
		}
	}
	a, err := s.Service.SendAnnouncement(r.Context(), app, ai)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, s.renderAnnouncement(app, a, ""))
	return nil
}

func (s *Server) listAnnouncements(w http.ResponseWriter, r *http.Request, app string) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	user := r.PathValue("user")
	as, err := s.Service.Announcements(r.Context(), app, user, p)
	if err != nil {
		return err
	}
	writePage(s, w, r, p, as, func(a *herald.Announcement) string { return a.ID },
		func(a *herald.Announcement) announcementJSON { return s.renderAnnouncement(app, a, user) })
	return nil
}

func (s *Server) getAnnouncement(w http.ResponseWriter, r *http.Request, app string) error {
	user := r.PathValue("user")
	a, err := s.Service.Announcement(r.Context(), app, user, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderAnnouncement(app, a, user))
	return nil
}

// Rich content.

func (s *Server) createContent(w http.ResponseWriter, r *http.Request, app string) error {
	size := int64(-1)
	if v := r.Header.Get("Upload-Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return herald.PropertyError(herald.EInvalidProperty, "Upload-Content-Length", "Upload-Content-Length must be a number of bytes, not %q.", v)
		}
		size = n
	} else {
		return herald.PropertyError(herald.EMissingProperty, "Upload-Content-Length", "The Upload-Content-Length header is required.")
	}
	c, err := s.Service.CreateContent(r.Context(), app, r.PathValue("conv"), r.Header.Get("Upload-Content-Type"), size)
	if err != nil {
		return err
	}
	out := s.renderContent(app, c.ID, c.Size, false)
	out.MimeType = c.MimeType
	out.UploadURL = s.URLs.ContentUpload(c.ID)
	w.Header().Set("Location", out.UploadURL)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getContent(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := s.Service.Content(r.Context(), app, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := s.renderContent(app, c.ID, c.Size, c.UploadedAt != nil)
	out.MimeType = c.MimeType
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.Service.ContentByID(r.Context(), id)
	if err != nil {
		return err
	}
	if r.ContentLength >= 0 && r.ContentLength != c.Size {
		return &herald.Error{ID: herald.EUploadMismatch,
			Message: "Content-Length " + strconv.FormatInt(r.ContentLength, 10) + " differs from the " +
				strconv.FormatInt(c.Size, 10) + " bytes declared in Upload-Content-Length.",
			Data: map[string]any{"expected": c.Size, "property": "Content-Length"}}
	}
	s.paceBody(r)
	if err := s.Service.UploadContent(r.Context(), c, r.Body); err != nil {
		return err
	}
	renewWriteDeadline(w, r)
	out := s.renderContent(c.AppID, c.ID, c.Size, true)
	out.MimeType = c.MimeType
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.Service.ContentByID(r.Context(), id)
	if err != nil {
		return err
	}
	body, err := s.Service.OpenContent(r.Context(), c)
	if err != nil {
		return err
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", c.MimeType)
	h.Set("Content-Length", strconv.FormatInt(c.Size, 10))
	h.Set("Cache-Control", "private, max-age=3600")
	// Uploaded bytes are served from Herald's own origin, with the type
	// their uploader declared: nothing in them may run as a page of that
	// origin. Browsers take the declared type as it is, show only passive
	// types in place, save the others, and give whatever they render no
	// script, no plugin and no origin of its own.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	if !shownInline(c.MimeType) {
		h.Set("Content-Disposition", "attachment")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(pacedResponse(w, r), body)
	}
	return nil
}

// contentSecurityPolicy applies to every download: it loads nothing and
// runs nothing, and the sandbox gives what a browser renders an opaque
// origin. Inline style is for the page that browsers wrap around an image
// or a video.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// shownInline reports whether downloads of content of a MIME type are shown
// in place rather than saved as attachments: images in the formats browsers
// decode without scripts, audio, video and plain text. Everything else,
// HTML, XHTML, SVG, XML, JavaScript, PDF (whose viewers run scripts, and
// refuse to run sandboxed) and any type a browser may someday render
// actively, is an attachment.
func shownInline(mimeType string) bool {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		return false
	}
	switch mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "text/plain":
		return true
	}
	return strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/")
}

// Events.

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, app string) error {
	limit := defaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return herald.PropertyError(herald.EInvalidProperty, "limit", "limit must be a whole number from 1 to 1000.")
		}
		limit = n
	}
	events, err := s.Service.Events(r.Context(), app, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = renderEvent(e)
	}
	if len(events) == limit {
		q := url.Values{"after": {events[len(events)-1].ID}, "limit": {strconv.Itoa(limit)}}
		w.Header().Set("Link", "<"+s.URLs.Base+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
