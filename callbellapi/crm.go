package callbellapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// boolParam reads an optional true/false query parameter; nil when absent.
func boolParam(r *http.Request, name string) (*bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, name, "%s must be true or false, not %q.", name, v)
	}
	return &b, nil
}

// writeContact answers {"contact": ...}. Callbell's docs show the contact
// as an object in the response tables and in close's example
// (contacts_api/post_contact_conversation_close.md), but as a one-element
// array in the examples of GET, POST, PATCH, open and update_funnel
// (contacts_api/get_contact.md, post_contacts.md, patch_contacts.md, ...).
// Herald answers the object; contact_shape=array gives the array form, for
// client code written against those examples.
func (a *API) writeContact(w http.ResponseWriter, r *http.Request, status int, app string, c *herald.Contact) error {
	types, err := a.fieldTypes(r, app)
	if err != nil {
		return err
	}
	var out any = a.renderContactTyped(app, c, types)
	switch shape := r.URL.Query().Get("contact_shape"); shape {
	case "", "object":
	case "array":
		out = []any{out}
	default:
		return herald.PropertyError(herald.EInvalidProperty, "contact_shape", "contact_shape must be object or array, not %q.", shape)
	}
	heraldhttp.WriteJSON(w, status, map[string]any{"contact": out})
	return nil
}

// customFieldTypeJSON is a custom field in customFieldsMetadata
// (contacts_api/get_contact.md).
type customFieldTypeJSON struct {
	Value   any      `json:"value"`
	Type    string   `json:"type"`
	Options []string `json:"options,omitempty"`
}

// fieldTypes returns the app's custom field definitions by name when the
// request asks for include_field_types, nil otherwise.
func (a *API) fieldTypes(r *http.Request, app string) (map[string]*herald.ContactField, error) {
	include, err := boolParam(r, "include_field_types")
	if err != nil || include == nil || !*include {
		return nil, err
	}
	defs, err := a.srv.Service.ContactFields(r.Context(), app)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*herald.ContactField, len(defs))
	for _, d := range defs {
		out[d.Name] = d
	}
	return out, nil
}

// renderContactTyped renders a contact, with customFieldsMetadata when
// types is not nil. A field the app has not defined is text, or checkbox
// (without options) when its value is a list.
func (a *API) renderContactTyped(app string, c *herald.Contact, types map[string]*herald.ContactField) contactJSON {
	out := a.renderContact(app, c)
	if types == nil {
		return out
	}
	out.CustomFieldsMetadata = map[string]customFieldTypeJSON{}
	for name, v := range out.CustomFields {
		meta := customFieldTypeJSON{Value: v, Type: "text"}
		if d := types[name]; d != nil {
			meta.Type, meta.Options = d.Type, d.Options
		} else if _, list := v.([]any); list {
			meta.Type = "checkbox"
		}
		out.CustomFieldsMetadata[name] = meta
	}
	return out
}

// discardChannel discards a channel: Herald's extension.
func (a *API) discardChannel(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := a.srv.Service.DiscardChannel(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"channel": renderChannel(c)})
	return nil
}

// getContactPath serves GET /v1/contacts/{first}/{second}: a contact
// looked up by phone number or BSUID, or a contact's messages or bot. A
// contact's uuid is never "phone" or "bsuid".
func (a *API) getContactPath(w http.ResponseWriter, r *http.Request, app string) error {
	first, second := r.PathValue("first"), r.PathValue("second")
	switch {
	case first == "phone":
		return a.contactByPhone(w, r, app, second)
	case first == "bsuid":
		return a.contactByBsuid(w, r, app, second)
	case second == "messages":
		return a.contactMessages(w, r, app, first)
	case second == "bot":
		return a.getBot(w, r, app, first)
	}
	return &herald.Error{ID: herald.EInvalidEndpoint, Message: "No endpoint GET " + r.URL.Path + " exists.",
		Data: map[string]any{"path": r.URL.Path}}
}

func (a *API) contactByPhone(w http.ResponseWriter, r *http.Request, app, number string) error {
	c, err := a.srv.Service.ContactByPhone(r.Context(), app, number, r.URL.Query().Get("channel_uuid"))
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

func (a *API) contactByBsuid(w http.ResponseWriter, r *http.Request, app, bsuid string) error {
	c, err := a.srv.Service.ContactByBsuid(r.Context(), app, bsuid, r.URL.Query().Get("channel_uuid"))
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

// contactMessageJSON is Callbell's message object (object_types/message.md),
// as contacts_api/get_contact_messages.md lists them; status is sent,
// received or note.
type contactMessageJSON struct {
	Text        string   `json:"text"`
	Attachments []string `json:"attachments,omitempty"`
	CreatedAt   string   `json:"createdAt"`
	UUID        string   `json:"uuid"`
	Status      string   `json:"status"`
	Channel     string   `json:"channel"`
	From        string   `json:"from"`
	To          string   `json:"to"`
}

func (a *API) contactMessages(w http.ResponseWriter, r *http.Request, app, contact string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	ms, err := a.srv.Service.ContactMessages(r.Context(), app, contact, r.URL.Query().Get("status"), page)
	if err != nil {
		return err
	}
	out := make([]contactMessageJSON, 0, len(ms))
	for _, m := range ms {
		j := contactMessageJSON{CreatedAt: m.SentAt.UTC().Format(callbell.TimeFormat), UUID: herald.CompactUUID(m.ID),
			Status: m.Channel.Direction, Channel: m.Channel.Channel, From: m.Channel.From, To: m.Channel.To}
		var texts []string
		for _, p := range m.Parts {
			switch {
			case p.Content != nil:
				u, _ := a.srv.URLs.ContentDownload(p.Content.ID)
				j.Attachments = append(j.Attachments, u)
			case p.MimeType == herald.MimeText && p.Encoding == "":
				texts = append(texts, p.Body)
			case p.MimeType == herald.MimeURIList && p.Encoding == "":
				j.Attachments = append(j.Attachments, strings.TrimSpace(p.Body))
			}
		}
		j.Text = strings.Join(texts, "\n")
		out = append(out, j)
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"messages": out})
	return nil
}

// botJSON is Callbell's bot object (object_types/bot.md). Herald runs no
// bot: it keeps the status an app's own bot honours, so the bot's uuid,
// name, start and versions are null.
type botJSON struct {
	UUID                  *string `json:"uuid"`
	Name                  *string `json:"name"`
	Status                string  `json:"status"`
	ConversationStartedAt *string `json:"conversationStartedAt"`
	Version               *int    `json:"version"`
	LatestBotVersion      *bool   `json:"latestBotVersion"`
}

func (a *API) getBot(w http.ResponseWriter, r *http.Request, app, contact string) error {
	c, err := a.srv.Service.Contact(r.Context(), app, contact)
	if err != nil {
		return err
	}
	if c.BotStatus == "" {
		return &herald.Error{ID: herald.ENotFound,
			Message: "Contact " + c.UUID + " has no bot conversation: start one with POST /v1/contacts/:uuid/bot {\"status\": \"bot_start\"}.",
			Data:    map[string]any{"type": "bot", "id": c.UUID}}
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"bot": botJSON{Status: c.BotStatus}})
	return nil
}

func (a *API) postBot(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.SetBot(r.Context(), app, r.PathValue("uuid"), in.Status)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"bot": botJSON{Status: c.BotStatus}})
	return nil
}

// addNote answers {"success": true}, as
// contacts_api/post_contact_conversation_create_note.md shows, with
// Herald's uuid of the note.
func (a *API) addNote(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Text string `json:"text"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	m, err := a.srv.Service.AddNote(r.Context(), app, r.PathValue("uuid"), in.Text)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "uuid": herald.CompactUUID(m.ID)})
	return nil
}

func (a *API) updateFunnel(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		FunnelID *string `json:"funnel_id"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.UpdateFunnel(r.Context(), app, r.PathValue("uuid"), in.FunnelID)
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

// funnelJSON is Callbell's funnel object (object_types/funnel.md); its
// uuid and createdAt are written as funnels_api/get_funnels.md shows them,
// a 36-character UUID and "2006-01-02 15:04:05 -0700".
type funnelJSON struct {
	Position  int    `json:"position"`
	Name      string `json:"name"`
	Emoji     string `json:"emoji"`
	CreatedAt string `json:"createdAt"`
	UUID      string `json:"uuid"`
}

func renderFunnel(f *herald.Funnel) funnelJSON {
	return funnelJSON{Position: f.Position, Name: f.Name, Emoji: f.Emoji, UUID: f.UUID,
		CreatedAt: f.CreatedAt.UTC().Format("2006-01-02 15:04:05 -0700")}
}

func (a *API) listFunnels(w http.ResponseWriter, r *http.Request, app string) error {
	fs, err := a.srv.Service.Funnels(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]funnelJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, renderFunnel(f))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"funnels": out})
	return nil
}

// createFunnel is Herald's extension.
func (a *API) createFunnel(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.FunnelInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	f, err := a.srv.Service.CreateFunnel(r.Context(), app, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, map[string]any{"funnel": renderFunnel(f)})
	return nil
}

// deleteFunnel is Herald's extension.
func (a *API) deleteFunnel(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteFunnel(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "funnel was destroyed"})
	return nil
}

type contactFieldJSON struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Options   []string `json:"options,omitempty"`
	CreatedAt string   `json:"createdAt"`
}

func renderContactField(f *herald.ContactField) contactFieldJSON {
	return contactFieldJSON{Name: f.Name, Type: f.Type, Options: f.Options, CreatedAt: f.CreatedAt.UTC().Format(callbell.TimeFormat)}
}

// listContactFields, putContactField and deleteContactField are Herald's
// extension: Callbell defines custom fields in its dashboard.
func (a *API) listContactFields(w http.ResponseWriter, r *http.Request, app string) error {
	fs, err := a.srv.Service.ContactFields(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]contactFieldJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, renderContactField(f))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"custom_fields": out})
	return nil
}

func (a *API) putContactField(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.ContactFieldInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	f, err := a.srv.Service.PutContactField(r.Context(), app, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"custom_field": renderContactField(f)})
	return nil
}

func (a *API) deleteContactField(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteContactField(r.Context(), app, r.PathValue("name")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "custom field was destroyed"})
	return nil
}
