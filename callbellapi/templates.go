package callbellapi

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// templateJSON is Callbell's Template object (object_types/template.md, and
// the title its examples show), with Herald's additions: the channel, and
// the template's name and language on WhatsApp.
type templateJSON struct {
	UUID         string `json:"uuid"`
	Title        string `json:"title"`
	TemplateType string `json:"templateType"`
	Category     string `json:"category"`
	Status       string `json:"status"`
	Text         string `json:"text"`
	CreatedAt    string `json:"createdAt"`
	ChannelUUID  string `json:"channelUuid"`
	Name         string `json:"name"`
	Language     string `json:"language"`
}

func renderTemplate(t *herald.Template) templateJSON {
	return templateJSON{UUID: herald.CompactUUID(t.UUID), Title: t.Title, TemplateType: t.TemplateType, Category: t.Category,
		Status: t.Status, Text: t.Text, CreatedAt: t.CreatedAt.UTC().Format(callbell.TimeFormat),
		ChannelUUID: herald.CompactUUID(t.ChannelUUID), Name: t.Name, Language: t.Language}
}

// The template's responses are {"template": …}, as the response tables of
// get_template.md and patch_template.md say; patch_template.md's example
// shows "templates", which Herald takes for a slip.
func writeTemplate(w http.ResponseWriter, status int, t *herald.Template) {
	heraldhttp.WriteJSON(w, status, map[string]any{"template": renderTemplate(t)})
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request, app string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	// Callbell documents no filter; channel_uuid and status are Herald's.
	f := herald.TemplateFilter{ChannelUUID: r.URL.Query().Get("channel_uuid"), Status: r.URL.Query().Get("status")}
	ts, pages, err := a.srv.Service.Templates(r.Context(), app, f, page)
	if err != nil {
		return err
	}
	out := make([]templateJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, renderTemplate(t))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"templates": out, "meta": pageMeta{page, pages}})
	return nil
}

func (a *API) getTemplate(w http.ResponseWriter, r *http.Request, app string) error {
	t, err := a.srv.Service.Template(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	writeTemplate(w, http.StatusOK, t)
	return nil
}

func (a *API) patchTemplate(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.TemplateInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.srv.Service.UpdateTemplate(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	writeTemplate(w, http.StatusOK, t)
	return nil
}

// createTemplate and deleteTemplate are Herald's extension.
func (a *API) createTemplate(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.TemplateInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.srv.Service.CreateTemplate(r.Context(), app, in)
	if err != nil {
		return err
	}
	writeTemplate(w, http.StatusCreated, t)
	return nil
}

func (a *API) deleteTemplate(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteTemplate(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "template was destroyed"})
	return nil
}

// deleteMessage serves both forms Callbell documents: DELETE
// /v1/messages/:uuid (the title of messages_api/delete_message.md) and
// DELETE /v1/messages with {"uuid": …} (its curl example). It answers 204,
// as the page says.
func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request, app string) error {
	id := r.PathValue("uuid")
	if id == "" {
		var in struct {
			UUID string `json:"uuid"`
		}
		if err := heraldhttp.Decode(w, r, &in); err != nil {
			return err
		}
		if in.UUID == "" {
			return herald.PropertyError(herald.EMissingProperty, "uuid", "uuid is required: the message to delete.")
		}
		id = in.UUID
	}
	if err := a.srv.Service.DeleteChannelMessage(r.Context(), app, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
