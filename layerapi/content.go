package layerapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// createContent declares rich content (Layer's Upload-Content-Type,
// Upload-Content-Length and Upload-Origin headers) and answers where to
// upload it.
func (a *API) createContent(w http.ResponseWriter, r *http.Request, c *call) error {
	size, err := uploadLength(r)
	if err != nil {
		return err
	}
	content, err := c.service().CreateContentFrom(r.Context(), c.app, r.PathValue("conv"), r.Header.Get("Upload-Content-Type"),
		size, r.Header.Get("Upload-Origin"))
	if err != nil {
		return err
	}
	// Layer's Location is the content under its conversation, where GET
	// refreshes it (platform/messages/rich-content.md); absolute, as
	// Herald's other Locations are.
	a.declared(w, c, content, a.srv.URLs.Conversation(c.app, content.ConversationID)+"/content/"+content.ID)
	return nil
}

// createUserContent declares content as a user, for no conversation yet
// (the Client API's POST /content, proxied: audit row C11): the first
// message that uses it binds it to its conversation.
func (a *API) createUserContent(w http.ResponseWriter, r *http.Request, c *call) error {
	size, err := uploadLength(r)
	if err != nil {
		return err
	}
	user := c.user
	content, err := c.service().CreateUserContent(r.Context(), c.app, user, r.Header.Get("Upload-Content-Type"),
		size, r.Header.Get("Upload-Origin"))
	if err != nil {
		return err
	}
	location := a.srv.URLs.App(c.app) + "/users/" + url.PathEscape(user) + "/content/" + content.ID
	if c.client {
		// Layer's Client API answered Location: /content/<uuid>, where
		// GET refreshes it ([P1.1] client/rest/rich-content.md).
		location = c.urls.contentRefresh(content.ID)
	}
	a.declared(w, c, content, location)
	return nil
}

// getUserContent answers content a user may see, with a fresh download URL.
func (a *API) getUserContent(w http.ResponseWriter, r *http.Request, c *call) error {
	content, err := c.service().UserContent(r.Context(), c.app, c.user, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := c.content(content.ID, content.Size, content.UploadedAt != nil)
	out.MimeType = content.MimeType
	heraldhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

// uploadLength reads the declared size of content to upload.
func uploadLength(r *http.Request) (int64, error) {
	v := r.Header.Get("Upload-Content-Length")
	if v == "" {
		return 0, herald.PropertyError(herald.EMissingProperty, "Upload-Content-Length", "The Upload-Content-Length header is required.")
	}
	size, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, herald.PropertyError(herald.EInvalidProperty, "Upload-Content-Length", "Upload-Content-Length must be a number of bytes, not %q.", v)
	}
	return size, nil
}

// declared answers a declaration: 201, where the content is, and where to
// upload its bytes.
func (a *API) declared(w http.ResponseWriter, c *call, content *herald.Content, location string) {
	out := c.content(content.ID, content.Size, false)
	out.MimeType = content.MimeType
	out.UploadURL = a.srv.URLs.ContentUpload(content.ID)
	w.Header().Set("Location", location)
	heraldhttp.WriteJSON(w, http.StatusCreated, out)
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
	out := c.content(content.ID, content.Size, content.UploadedAt != nil)
	out.MimeType = content.MimeType
	heraldhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}
