package layerapi

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// createContent declares rich content (Layer's Upload-Content-Type,
// Upload-Content-Length and Upload-Origin headers) and answers where to
// upload it.
func (a *API) createContent(w http.ResponseWriter, r *http.Request, c *call) error {
	v := r.Header.Get("Upload-Content-Length")
	if v == "" {
		return herald.PropertyError(herald.EMissingProperty, "Upload-Content-Length", "The Upload-Content-Length header is required.")
	}
	size, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return herald.PropertyError(herald.EInvalidProperty, "Upload-Content-Length", "Upload-Content-Length must be a number of bytes, not %q.", v)
	}
	content, err := c.service().CreateContentFrom(r.Context(), c.app, r.PathValue("conv"), r.Header.Get("Upload-Content-Type"),
		size, r.Header.Get("Upload-Origin"))
	if err != nil {
		return err
	}
	out := a.srv.RenderContent(c.app, content.ID, content.Size, false)
	out.MimeType = content.MimeType
	out.UploadURL = a.srv.URLs.ContentUpload(content.ID)
	// Layer's Location is the content under its conversation, where GET
	// refreshes it (platform/messages/rich-content.md); absolute, as
	// Herald's other Locations are.
	w.Header().Set("Location", a.srv.URLs.Conversation(c.app, content.ConversationID)+"/content/"+content.ID)
	heraldhttp.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// getContent answers content with a fresh download URL, at Layer's path
// under its conversation and at the shorter path refresh_url names.
func (a *API) getContent(w http.ResponseWriter, r *http.Request, c *call) error {
	content, err := c.service().Content(r.Context(), c.app, r.PathValue("id"))
	if err != nil {
		return err
	}
	if conv := r.PathValue("conv"); conv != "" && herald.LocalID(conv, herald.ConversationIDPrefix) != content.ConversationID {
		return herald.NotFound("content", r.PathValue("id"))
	}
	out := a.srv.RenderContent(c.app, content.ID, content.Size, content.UploadedAt != nil)
	out.MimeType = content.MimeType
	heraldhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}
