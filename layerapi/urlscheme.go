package layerapi

import (
	"net/url"
	"strings"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/urls"
)

// urlScheme names the URLs of the objects a view renders. The same objects
// live at two sets of paths: the server API's, under /apps/{app}, and the
// Client API's, at the server's root, where a session names the app and
// the user. A client follows the url fields it is given (Layer's Web SDK
// PATCHes conversation.url, posts receipts to message.url + "/receipts"),
// so each API hands out its own.
type urlScheme interface {
	identity(user string) string
	conversation(id string) string
	message(id string) string
	// announcement is the URL of an announcement as viewer sees it; the
	// app's view when viewer is "".
	announcement(id, viewer string) string
	// contentRefresh answers fresh download URLs for content.
	contentRefresh(id string) string
}

// serverURLs are the server API's URLs of an app's objects.
type serverURLs struct {
	b   *urls.Builder
	app string
}

func (s serverURLs) identity(user string) string { return s.b.Identity(s.app, user) }
func (s serverURLs) conversation(id string) string {
	return s.b.Conversation(s.app, id)
}
func (s serverURLs) message(id string) string        { return s.b.Message(s.app, id) }
func (s serverURLs) contentRefresh(id string) string { return s.b.ContentRefresh(s.app, id) }

func (s serverURLs) announcement(id, viewer string) string {
	if viewer == "" {
		// As the live response shows it (cakejelly/layer-api
		// spec/cassettes/announcement_create.yml).
		return s.b.App(s.app) + "/announcements/" + id
	}
	return s.b.App(s.app) + "/users/" + url.PathEscape(viewer) + "/announcements/" + id
}

// clientURLs are the Client API's URLs, under the server's base URL: the
// paths of Layer's Client API ([P1.1] client/rest/*.md; the reference's
// §1.1: the Web SDK takes every url as it is given).
type clientURLs struct{ base string }

func (c clientURLs) identity(user string) string {
	return c.base + "/identities/" + strictEncodeURI(user)
}
func (c clientURLs) conversation(id string) string    { return c.base + "/conversations/" + id }
func (c clientURLs) message(id string) string         { return c.base + "/messages/" + id }
func (c clientURLs) announcement(id, _ string) string { return c.base + "/announcements/" + id }
func (c clientURLs) contentRefresh(id string) string  { return c.base + "/content/" + id }

// strictEncodeURI percent-encodes a user id as Layer's Web SDK does in
// identity ids and URLs (client-utils.js strictEncodeURI: encodeURIComponent,
// and ! ' ( ) * ~ too): only letters, digits, '-', '_' and '.' stay as
// they are.
func strictEncodeURI(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// content renders content as its part or its refresh shows it, with the
// refresh URL of the view's scheme.
func (v *view) content(id string, size int64, uploaded bool) heraldhttp.ContentJSON {
	c := v.srv.RenderContent(v.app, id, size, uploaded)
	if c.RefreshURL != nil {
		refresh := v.urls.contentRefresh(id)
		c.RefreshURL = &refresh
	}
	return c
}
