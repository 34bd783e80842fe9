package layerapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// A user's inbox: the user perspective of conversations and messages
// (unread_message_count, last_message, received_at;
// platform/conversations/retrieve-a-conversation.md,
// platform/messages/retrieving-messages.md), Layer-Count on listings,
// mark_all_read ([S3] conversations.out), badges (platform/users/badging.md)
// and notifications (platform/messages/send-a-notification.md).

// LayerCountHeader carries the total a listing pages through.
const LayerCountHeader = "Layer-Count"

func setCount(w http.ResponseWriter, n int) { w.Header().Set(LayerCountHeader, strconv.Itoa(n)) }

type userMessageJSON struct {
	messageJSON
	ReceivedAt string `json:"received_at"`
}

// userMessage renders a message as a participant sees it.
func (c *call) userMessage(uc *herald.UserConversation, m *herald.Message) userMessageJSON {
	return userMessageJSON{messageJSON: c.message(m, uc.UserID), ReceivedAt: herald.FormatTime(uc.ReceivedAt(m))}
}

type userConversationJSON struct {
	conversationJSON
	LastMessage        *userMessageJSON `json:"last_message"`
	UnreadMessageCount int              `json:"unread_message_count"`
}

func (c *call) userConversation(uc *herald.UserConversation) userConversationJSON {
	out := userConversationJSON{conversationJSON: c.conversation(uc.Conversation), UnreadMessageCount: uc.UnreadMessageCount}
	if uc.LastMessage != nil {
		m := c.userMessage(uc, uc.LastMessage)
		out.LastMessage = &m
	}
	return out
}

func (c *call) loadUserConversations(ucs ...*herald.UserConversation) error {
	for _, uc := range ucs {
		if err := c.loadConversations(uc.Conversation); err != nil {
			return err
		}
		if uc.LastMessage != nil {
			if err := c.loadMessages(uc.LastMessage); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *API) listUserConversations(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := c.page(r)
	if err != nil {
		return err
	}
	ucs, total, err := c.service().UserConversations(r.Context(), c.app, c.user, r.URL.Query().Get("sort_by"), p)
	if err != nil {
		return err
	}
	if err := c.loadUserConversations(ucs...); err != nil {
		return err
	}
	setCount(w, total)
	heraldhttp.WritePage(a.srv, w, r, p, ucs, func(uc *herald.UserConversation) string { return uc.ID }, c.userConversation)
	return nil
}

func (a *API) getUserConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	uc, err := c.service().UserConversation(r.Context(), c.app, c.user, r.PathValue("conv"))
	if err != nil {
		return err
	}
	if err := c.loadUserConversations(uc); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.userConversation(uc))
	return nil
}

// listAppConversations is the app-wide listing, with its count.
func (a *API) listAppConversations(w http.ResponseWriter, r *http.Request, c *call) error {
	n, err := c.service().ConversationCount(r.Context(), c.app, "")
	if err != nil {
		return err
	}
	setCount(w, n)
	return a.listConversations(w, r, c)
}

// listConversationMessages is the system perspective's message listing,
// with its count.
func (a *API) listConversationMessages(w http.ResponseWriter, r *http.Request, c *call) error {
	n, err := c.service().MessageCount(r.Context(), c.app, r.PathValue("conv"), "")
	if err != nil {
		return err
	}
	setCount(w, n)
	return a.listMessages(w, r, c)
}

func (a *API) listUserMessages(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := c.page(r)
	if err != nil {
		return err
	}
	user, conv := c.user, r.PathValue("conv")
	ms, err := c.service().Messages(r.Context(), c.app, conv, user, p)
	if err != nil {
		return err
	}
	uc, err := c.service().UserConversation(r.Context(), c.app, user, conv)
	if err != nil {
		return err
	}
	n, err := c.service().MessageCount(r.Context(), c.app, conv, user)
	if err != nil {
		return err
	}
	if err := c.loadMessages(ms...); err != nil {
		return err
	}
	setCount(w, n)
	heraldhttp.WritePage(a.srv, w, r, p, ms, func(m *herald.Message) string { return m.ID },
		func(m *herald.Message) userMessageJSON { return c.userMessage(uc, m) })
	return nil
}

func (a *API) getUserMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	user := c.user
	m, err := c.service().Message(r.Context(), c.app, "", user, r.PathValue("msg"))
	if err != nil {
		return err
	}
	return c.writeUserMessage(w, r, http.StatusOK, user, m)
}

// writeUserMessage answers a message as one user sees it.
func (c *call) writeUserMessage(w http.ResponseWriter, r *http.Request, status int, user string, m *herald.Message) error {
	uc, err := c.service().UserConversation(r.Context(), c.app, user, m.ConversationID)
	if err != nil {
		return err
	}
	if err := c.loadMessages(m); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, status, c.userMessage(uc, m))
	return nil
}

// markAllRead takes Layer's Web SDK's body, {"position": <the position of
// the last message it holds> | null}, or none: everything up to the newest.
func (a *API) markAllRead(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Position *int64 `json:"position"`
	}
	if err := heraldhttp.DecodeOptional(w, r, &in); err != nil {
		return err
	}
	if err := c.service().MarkAllRead(r.Context(), c.app, c.user, r.PathValue("conv"), in.Position); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getBadge(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := c.service().Badge(r.Context(), c.app, c.user)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, b)
	return nil
}

func (a *API) putBadge(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		ExternalUnreadCount *json.Number `json:"external_unread_count"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	var n *int64
	if in.ExternalUnreadCount != nil {
		v, err := in.ExternalUnreadCount.Int64()
		if err != nil {
			return herald.PropertyError(herald.EInvalidProperty, "external_unread_count",
				"external_unread_count must be a whole number, not %s.", in.ExternalUnreadCount.String())
		}
		n = &v
	}
	if err := c.service().SetExternalUnreadCount(r.Context(), c.app, c.user, n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) sendNotification(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Recipients   []string        `json:"recipients"`
		Notification json.RawMessage `json:"notification"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if _, err := c.service().SendNotification(r.Context(), c.app, messaging.NotificationInput{
		Recipients: in.Recipients, Notification: in.Notification, IdentityIDs: c.v.identities()}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
