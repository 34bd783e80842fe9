package layerapi

import (
	"net/http"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// Layer's Client API: what users' devices call, authenticated by a
// session (Authorization: Layer session-token="…", see
// heraldhttp.Server.HandleSession), at the server's root ([P1.1]
// client/rest/*.md; the reference's §5.1 lists what Layer's Web SDK calls).
// Each route is the Client API Proxy's operation (proxy.go, inbox.go, …)
// with the session's user acting, rendered by a client view: the Client
// API's URLs, versions 2.0 and 3.0 (NegotiateClient).

// clientMaxPage bounds the Client API's page_size ([P1.1]
// client/rest/messages.md: "default and maximum value of 100"); the
// follow listings keep their own bound (500, [P2] identity.md).
const clientMaxPage = 100

// clientCORS is what browsers may send the Client API (the reference's
// §1.6: Layer's Web SDK sends its own headers, the upload headers with
// POST /content, and reads Layer-Count).
var clientCORS = heraldhttp.CORS{
	Methods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"},
	Headers: []string{"Accept", "Authorization", "Content-Type", "Layer-XDK-Version", "Client-ID",
		"Upload-Content-Type", "Upload-Content-Length", "Upload-Origin", "If-None-Match"},
	Expose: []string{LayerCountHeader, "Location", "Link"},
}

// clientRoutes registers the Client API's REST routes. Nonces, sessions
// and the WebSocket are served elsewhere.
func (a *API) clientRoutes(s *heraldhttp.Server) {
	h := a.handleClient
	// The Web SDK's online check (online-state-manager.js: HEAD
	// /ping?client=…): any answer means online; GET answers alike.
	s.HandlePublic("GET /ping", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	// Signing in and out are the server's own routes; browsers call
	// them too.
	for _, p := range []string{"GET /ping", "POST /nonces", "POST /sessions", "DELETE /sessions/{token}"} {
		s.AllowCORS(p, clientCORS)
	}

	h("GET /conversations", a.listUserConversations)
	h("POST /conversations", a.createUserConversation)
	h("GET /conversations/{conv}", a.getUserConversation)
	h("PATCH /conversations/{conv}", a.patchUserConversation)
	h("DELETE /conversations/{conv}", a.deleteUserConversation)
	h("POST /conversations/{conv}/mark_all_read", a.markAllRead)
	h("GET /conversations/{conv}/messages", a.listUserMessages)
	h("POST /conversations/{conv}/messages", a.sendUserMessage)
	h("GET /messages/{msg}", a.getUserMessage)
	h("DELETE /messages/{msg}", a.deleteUserMessage)
	h("POST /messages/{msg}/receipts", a.postReceipt)

	h("GET /identities", a.listFollowedIdentities)
	h("GET /identities/{user}", a.getIdentity)
	h("GET /following", a.listFollowing)
	h("POST /following/users", a.followMany)
	h("GET /following/users/{followed}", a.isFollowing)
	h("PUT /following/users/{followed}", a.follow)
	h("DELETE /following/users/{followed}", a.unfollow)
	// The 2.0 draft documents DELETE /following/<user_id>; the Web SDK
	// sends DELETE /following/users/<user_id> (the reference's §5.5).
	h("DELETE /following/{followed}", a.unfollow)

	h("GET /announcements", a.listAnnouncements)
	h("GET /announcements/{id}", a.getAnnouncement)
	h("DELETE /announcements/{id}", a.deleteUserAnnouncement)
	h("POST /announcements/{id}/receipts", a.postAnnouncementReceipt)

	h("POST /content", a.createUserContent)
	// GET /content/{id} is the signed download too: the server sends a
	// request without a signature here.
	s.HandleContentRefresh(a.clientHandler(a.getUserContent))
	s.AllowCORS("GET /content/{id}", clientCORS)

	h("POST /push_tokens", a.registerPushToken)
	h("DELETE /push_tokens/{device}", a.unregisterPushToken)
}

// handleClient registers a Client API route.
func (a *API) handleClient(pattern string, h func(w http.ResponseWriter, r *http.Request, c *call) error) {
	a.srv.HandleSession(pattern, a.clientHandler(h))
	a.srv.AllowCORS(pattern, clientCORS)
}

// clientHandler gives a handler the session's call: its app, its user
// acting, and a client view in the request's Client API version.
func (a *API) clientHandler(h func(w http.ResponseWriter, r *http.Request, c *call) error) heraldhttp.SessionHandler {
	return func(w http.ResponseWriter, r *http.Request, sess *herald.Session) error {
		v, err := NegotiateClient(r)
		if err != nil {
			return err
		}
		return h(w, r, &call{view: newClientView(a.srv, r.Context(), sess.AppID, v), api: a,
			user: sess.UserID, maxPage: clientMaxPage})
	}
}
