package layerapi

import (
	"context"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// newClientView returns a view that renders as Layer's Client API does:
// URLs at the server's root (clientURLs), full identities with type, and
// messages with receipts_url.
func newClientView(srv *heraldhttp.Server, ctx context.Context, app string, v Version) *view {
	return &view{ctx: ctx, srv: srv, app: app, v: v, urls: clientURLs{srv.URLs.Base}, client: true}
}

// ClientView renders objects as one user (the viewer) sees them in the
// Client API, in its version (2.0 or 3.0): the Client API's REST answers
// and the WebSocket's change packets are rendered by the same code, so a
// client sees an object alike whichever way it arrives.
//
// Users appear as Basic Identities, whose names are looked up once per
// view: call the Load methods with everything about to be rendered (one
// lookup for the batch), then the rendering methods. A user not loaded
// renders with null names. A ClientView is for one goroutine.
type ClientView struct {
	v      *view
	viewer string
}

// NewClientView returns a view of app's objects as viewer sees them, in
// version v (V20 or V30; see NegotiateClient). ctx bounds its lookups.
func NewClientView(srv *heraldhttp.Server, ctx context.Context, app string, v Version, viewer string) *ClientView {
	return &ClientView{v: newClientView(srv, ctx, app, v), viewer: viewer}
}

// LoadUsers looks up the identities of users not looked up yet.
func (cv *ClientView) LoadUsers(users ...string) error { return cv.v.load(users...) }

// Know records the identities of users known by other means, such as the
// snapshot an event carries (herald.EventData.Identities): each of users
// has its entry in ids, and one without has no identity. They are not
// looked up again.
func (cv *ClientView) Know(ids map[string]*herald.Identity, users ...string) {
	for _, u := range users {
		if u != "" {
			cv.v.know(u, ids[u])
		}
	}
}

// As returns a view of the same objects as another viewer sees them,
// sharing the identities this one looked up: a change shown to many users
// loads its users once. Both are for the same goroutine.
func (cv *ClientView) As(viewer string) *ClientView { return &ClientView{v: cv.v, viewer: viewer} }

// LoadConversations looks up the participants of conversations and the
// senders and recipients of their last messages.
func (cv *ClientView) LoadConversations(ucs ...*herald.UserConversation) error {
	return (&call{view: cv.v}).loadUserConversations(ucs...)
}

// LoadMessages looks up the senders and recipients of messages.
func (cv *ClientView) LoadMessages(ms ...*herald.Message) error { return cv.v.loadMessages(ms...) }

// LoadAnnouncements looks up the senders and recipients of announcements.
func (cv *ClientView) LoadAnnouncements(as ...*herald.Announcement) error {
	return cv.v.loadAnnouncements(as...)
}

// Conversation renders a conversation as its user sees it: with
// unread_message_count and last_message (with the conversation's
// received_at).
func (cv *ClientView) Conversation(uc *herald.UserConversation) any {
	return (&call{view: cv.v}).userConversation(uc)
}

// ConversationRef returns the id and url a conversation renders with,
// which name it in change packets, without rendering it.
func (cv *ClientView) ConversationRef(id string) (layerID, url string) {
	return herald.ConversationIDPrefix + id, cv.v.urls.conversation(id)
}

// MessageRef returns the id and url a message renders with.
func (cv *ClientView) MessageRef(id string) (layerID, url string) {
	return herald.MessageIDPrefix + id, cv.v.urls.message(id)
}

// Message renders a message as the viewer sees it: is_unread is theirs,
// recipient_status is keyed by identity id. It has no received_at, which
// needs the viewer's conversation: UserMessage has it.
func (cv *ClientView) Message(m *herald.Message) any { return cv.v.message(m, cv.viewer) }

// UserMessage renders a message of uc's conversation as uc's user sees it,
// with received_at: as the REST listings and last_message render it.
func (cv *ClientView) UserMessage(uc *herald.UserConversation, m *herald.Message) any {
	return (&call{view: cv.v}).userMessage(uc, m)
}

// UserMessageKey is what UserMessage(uc, m) takes from uc: users whose
// keys for m are equal see m alike, so that a change shown to many users
// renders m once per key.
func (cv *ClientView) UserMessageKey(uc *herald.UserConversation, m *herald.Message) UserMessageKey {
	return UserMessageKey{unread: unreadFor(m.RecipientStatus, uc.UserID), receivedAt: uc.ReceivedAt(m).UnixMicro()}
}

// UserMessageKey is comparable: see ClientView.UserMessageKey.
type UserMessageKey struct {
	unread     bool
	receivedAt int64
}

// unreadFor is a message's or an announcement's is_unread for a viewer.
func unreadFor(status map[string]string, viewer string) bool {
	return status[viewer] != herald.StatusRead
}

// Announcement renders an announcement as the viewer, one of its
// recipients, sees it.
func (cv *ClientView) Announcement(a *herald.Announcement) any {
	return cv.v.announcement(a, cv.viewer)
}

// Identity renders a full identity, with metadata (how Layer's Web SDK
// tells a full identity from a basic one) and type.
func (cv *ClientView) Identity(id *herald.Identity) any { return cv.v.identity(id) }

// BasicIdentity renders a user as other objects name them: id, url,
// user_id, display_name and avatar_url, and no metadata.
func (cv *ClientView) BasicIdentity(user string) any { return cv.v.basicIdentity(user) }

// IdentityID is a user's identity id, as recipient_status keys and
// identity objects name them.
func IdentityID(user string) string { return herald.IdentityIDPrefix + user }
