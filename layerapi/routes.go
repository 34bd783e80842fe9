package layerapi

import (
	"net/http"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/urls"
)

// API is Layer's server API, served by a heraldhttp.Server:
//
//	heraldhttp.New(ctx, svc, baseURL, &layerapi.API{})
type API struct {
	srv *heraldhttp.Server
}

// Routes implements heraldhttp.API. Each route is one operation, in every
// version: see call for what a handler is given.
func (a *API) Routes(s *heraldhttp.Server) {
	a.srv = s
	h := a.handle

	h("PUT /apps/{app}/users/{user}/identity", a.putIdentity)
	h("POST /apps/{app}/users/{user}/identity", a.putIdentity)
	h("PATCH /apps/{app}/users/{user}/identity", a.patchIdentity)
	h("GET /apps/{app}/users/{user}/identity", a.getIdentity)
	h("DELETE /apps/{app}/users/{user}/identity", a.deleteIdentity)

	h("POST /apps/{app}/conversations", a.createConversation)
	h("GET /apps/{app}/conversations", a.listAppConversations)
	h("GET /apps/{app}/conversations/{conv}", a.getConversation)
	h("PATCH /apps/{app}/conversations/{conv}", a.patchConversation)
	h("DELETE /apps/{app}/conversations/{conv}", a.deleteConversation)
	h("GET /apps/{app}/users/{user}/conversations", a.listUserConversations)
	h("GET /apps/{app}/users/{user}/conversations/{conv}", a.getUserConversation)
	h("POST /apps/{app}/users/{user}/conversations/{conv}/mark_all_read", a.markAllRead)
	h("POST /apps/{app}/users/{user}/conversations", a.createUserConversation)
	h("PATCH /apps/{app}/users/{user}/conversations/{conv}", a.patchUserConversation)
	h("DELETE /apps/{app}/users/{user}/conversations/{conv}", a.deleteUserConversation)
	h("POST /apps/{app}/users/{user}/conversations/{conv}/messages", a.sendUserMessage)

	h("POST /apps/{app}/conversations/{conv}/messages", a.sendMessage)
	h("GET /apps/{app}/conversations/{conv}/messages", a.listConversationMessages)
	h("GET /apps/{app}/conversations/{conv}/messages/{msg}", a.getMessage)
	h("DELETE /apps/{app}/conversations/{conv}/messages/{msg}", a.deleteMessage)
	h("GET /apps/{app}/messages/{msg}", a.getMessage)
	h("DELETE /apps/{app}/messages/{msg}", a.deleteMessage)
	h("GET /apps/{app}/users/{user}/conversations/{conv}/messages", a.listUserMessages)
	h("GET /apps/{app}/users/{user}/messages/{msg}", a.getUserMessage)
	h("DELETE /apps/{app}/users/{user}/messages/{msg}", a.deleteUserMessage)
	h("POST /apps/{app}/users/{user}/messages/{msg}/receipts", a.postReceipt)
	h("GET /apps/{app}/conversations/{conv}/messages/{msg}/parts", a.listParts)
	h("POST /apps/{app}/conversations/{conv}/messages/{msg}/parts", a.addPart)
	h("PUT /apps/{app}/conversations/{conv}/messages/{msg}/parts", a.replaceParts)
	h("GET /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}", a.getPart)
	h("PUT /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}", a.updatePart)
	h("DELETE /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}", a.deletePart)

	h("POST /apps/{app}/announcements", a.sendAnnouncement)
	h("GET /apps/{app}/announcements/{id}", a.getAppAnnouncement)
	h("POST /apps/{app}/notifications", a.sendNotification)
	h("GET /apps/{app}/users/{user}/badge", a.getBadge)
	h("PUT /apps/{app}/users/{user}/badge", a.putBadge)
	h("GET /apps/{app}/users/{user}/announcements", a.listAnnouncements)
	h("GET /apps/{app}/users/{user}/announcements/{id}", a.getAnnouncement)
	h("DELETE /apps/{app}/users/{user}/announcements/{id}", a.deleteUserAnnouncement)
	h("POST /apps/{app}/users/{user}/announcements/{id}/receipts", a.postAnnouncementReceipt)
	h("POST /apps/{app}/users/{user}/push_tokens", a.registerPushToken)
	h("GET /apps/{app}/users/{user}/push_tokens", a.listPushTokens)
	h("DELETE /apps/{app}/users/{user}/push_tokens/{device}", a.unregisterPushToken)

	h("POST /apps/{app}/conversations/{conv}/content", a.createContent)
	h("GET /apps/{app}/conversations/{conv}/content/{id}", a.getContent)
	h("GET /apps/{app}/content/{id}", a.getContent)
	h("POST /apps/{app}/users/{user}/content", a.createUserContent)
	h("GET /apps/{app}/users/{user}/content/{id}", a.getUserContent)

	h("PATCH /apps/{app}", a.patchApp)
	h("GET /apps/{app}/users/{user}", a.getUser)
	h("PATCH /apps/{app}/users/{user}", a.patchUser)
	h("DELETE /apps/{app}/users/{user}/sessions", a.deleteSessions)
	h("GET /apps/{app}/users/{user}/blocks", a.listBlocks)
	h("POST /apps/{app}/users/{user}/blocks", a.block)
	h("DELETE /apps/{app}/users/{user}/blocks/{blocked}", a.unblock)
	h("GET /apps/{app}/users/{user}/following", a.listFollowing)
	h("POST /apps/{app}/users/{user}/following", a.followMany)
	h("PUT /apps/{app}/users/{user}/following/{followed}", a.follow)
	h("GET /apps/{app}/users/{user}/following/{followed}", a.isFollowing)
	h("DELETE /apps/{app}/users/{user}/following/{followed}", a.unfollow)
	h("GET /apps/{app}/users/{user}/identities", a.listFollowedIdentities)
	h("PUT /apps/{app}/export_security", a.putExportSecurity)
	h("GET /apps/{app}/export_security", a.getExportSecurity)
	h("POST /apps/{app}/exports", a.requestExport)
	h("GET /apps/{app}/exports", a.listExports)
	h("GET /apps/{app}/exports/{id}/status", a.exportStatus)
	h("DELETE /apps/{app}/exports/{id}", a.deleteExport)
	h("PUT /apps/{app}/export_schedule", a.putExportSchedule)
	h("GET /apps/{app}/export_schedule", a.getExportSchedule)
	s.HandleSigned("GET /exports/{file}", urls.ExportDownload, exportDownloadSigned, a.downloadExport)

	a.clientRoutes(s)
}

// call is what a handler is given: the request's app and version, the view
// that renders objects in that version, and the acting user.
type call struct {
	*view
	api *API
	// user is the user the request acts as: the path's {user} on the
	// server API's routes (Layer's Client API Proxy, [S3]
	// server_api/clientapiproxy), the session's user on the Client API's;
	// "" on routes that act as the app.
	user string
	// maxPage bounds page_size when not 0: the Client API's listings
	// take at most 100 ([P1.1] client/rest/messages.md, "default and
	// maximum value of 100").
	maxPage int
}

// page reads a listing's paging parameters, within the call's bound.
func (c *call) page(r *http.Request) (herald.Page, error) {
	p, err := heraldhttp.ParsePage(r)
	if err == nil && c.maxPage > 0 && p.Limit > c.maxPage {
		if r.URL.Query().Has("page_size") {
			return p, herald.PropertyError(herald.EInvalidProperty, "page_size", "page_size must be a whole number from 1 to %d.", c.maxPage)
		}
		p.Limit = c.maxPage
	}
	return p, err
}

func (c *call) service() *messaging.Service { return c.api.srv.Service }

// handle registers a route whose handler takes a call.
func (a *API) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, c *call) error) {
	a.srv.HandleApp(pattern, func(w http.ResponseWriter, r *http.Request, app string) error {
		v, err := Negotiate(r)
		if err != nil {
			return err
		}
		return h(w, r, &call{view: newView(a.srv, r.Context(), app, v), api: a, user: r.PathValue("user")})
	})
}
