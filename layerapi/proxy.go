package layerapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// Layer's Client API Proxy ([S3] server_api/clientapiproxy: "Requests sent
// to https://api.layer.com/apps/YOUR_APP_ID/users/USER_ID/endpoint will be
// treated as a Client API Proxy request"): the Client API's writes
// ([P1.1] client/rest/*.md), made by the app as the path's user. The
// user is the actor of what they do; shapes are the version's, as in the
// rest of this package.

// createUserConversation answers as the Client API did: 201 with a new
// conversation, 200 with the distinct one that existed (with its
// last_message, Client API changelog 2015-11-12), 409 conflict when that
// one's metadata differs. The conversation is rendered as the user sees
// it. A retry of a create that named its id (clientKey) answers 409
// id_in_use with the conversation as data, as Layer's clients expect.
func (a *API) createUserConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	ci, id, err := decodeConversation(w, r)
	if err != nil {
		return err
	}
	key, byID, err := clientKey(r, id, herald.ConversationIDPrefix)
	if err != nil {
		return err
	}
	ci.RequestID = key
	user := c.user
	conv, created, err := c.service().CreateConversationAs(r.Context(), c.app, user, ci)
	if err != nil {
		return keyProperty(c.conflict(err), byID)
	}
	if byID && !created && conv.ID == key {
		return c.idInUse("conversation", id, func() (any, error) {
			uc, err := c.service().UserConversation(r.Context(), c.app, user, conv.ID)
			if err != nil {
				return nil, err
			}
			if err := c.loadUserConversations(uc); err != nil {
				return nil, err
			}
			return c.userConversation(uc), nil
		})
	}
	status := a.created(w, c, conv, created, ci.RequestID)
	uc, err := c.service().UserConversation(r.Context(), c.app, user, conv.ID)
	if herald.IsNotFound(err) {
		// An existing distinct conversation the user deleted from their
		// devices: it is theirs again with their next message.
		if err := c.loadConversations(conv); err != nil {
			return err
		}
		heraldhttp.WriteJSON(w, status, c.conversation(conv))
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.loadUserConversations(uc); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, status, c.userConversation(uc))
	return nil
}

// clientKey reads the id a client gives an object it creates: Layer's
// clients choose the ids of the conversations and messages they create
// and send them as the body's id (layer:///conversations/<uuid>; the
// reference's §1.2 and §5.10, [P1.1] client/introduction/deduplication.md),
// and a bare UUID is taken too. The id is the request's deduplication key
// (byID); without one, If-None-Match is, as on the server API. Both given
// must agree.
func clientKey(r *http.Request, id, prefix string) (key string, byID bool, err error) {
	header := r.Header.Get("If-None-Match")
	if id == "" {
		return header, false, nil
	}
	u, err := uuid.Parse(herald.LocalID(id, prefix))
	if err != nil || strings.Contains(herald.LocalID(id, prefix), "/") {
		return "", false, herald.PropertyError(herald.EInvalidProperty, "id", "id must be %s<UUID> or a UUID, not %q.", prefix, id)
	}
	if header != "" && !sameRequestID(header, u.String()) {
		return "", false, herald.PropertyError(herald.EInvalidProperty, "id",
			"id %s and If-None-Match %s differ; give one, or the same UUID in both.", id, header)
	}
	return u.String(), true, nil
}

// keyProperty names the body's id, rather than If-None-Match, in an error
// about a deduplication key that came from the id.
func keyProperty(err error, byID bool) error {
	if e, ok := herald.AsError(err); ok && byID && e.Data["property"] == "If-None-Match" {
		e.Data["property"] = "id"
		e.Message = strings.ReplaceAll(e.Message, "If-None-Match", "id")
	}
	return err
}

// idInUse answers the retry of a create whose id exists: 409 id_in_use
// with the object as the user sees it as data, which Layer's Web SDK takes
// as the create's success when data.id is the id it sent
// (sync-manager.js _getErrorState; the reference's §5.10); without data
// when the user cannot see the object.
func (c *call) idInUse(kind, id string, object func() (any, error)) error {
	e := herald.PropertyError(herald.EIDInUse, "id", "A %s with id %s exists already.", kind, id)
	data, err := object()
	if ge, ok := herald.AsError(err); ok && (ge.ID == herald.ENotFound || ge.ID == herald.EGone) {
		return e
	}
	if err != nil {
		return err
	}
	return &heraldhttp.DataError{Err: e, Data: data}
}

// patchUserConversation is PATCH /conversations/:id of the Client API:
// Layer-Patch by a participant, 204.
func (a *API) patchUserConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	ops, fields, err := decodeConversationPatch(w, r)
	if err != nil {
		return err
	}
	if _, err := c.service().UpdateConversationAs(r.Context(), c.app, c.user, r.PathValue("conv"), ops); err != nil {
		return nameFields(err, fields)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteUserConversation takes mode (all_participants or my_devices) and,
// with my_devices, leave. Layer documented no default mode, and its own
// clients always sent one (Web SDK: all_participants, my_devices&leave=
// false, my_devices&leave=true), so Herald requires it as it does for a
// user's message deletion; leave defaults to false, as documented ([P1.1]
// client/rest/conversations.md). destroy=true, the form Layer deprecated
// for mode=all_participants (Client API changelog 2016-04-05), is still
// understood.
func (a *API) deleteUserConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	mode := q.Get("mode")
	if mode == "" && q.Has("destroy") {
		destroy, err := queryBool(q.Get("destroy"), "destroy")
		if err != nil {
			return err
		}
		if destroy {
			mode = messaging.ModeAllParticipants
		}
	}
	leave := false
	if q.Has("leave") {
		var err error
		if leave, err = queryBool(q.Get("leave"), "leave"); err != nil {
			return err
		}
	}
	if err := c.service().DeleteConversationAs(r.Context(), c.app, c.user, r.PathValue("conv"), mode, leave); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func queryBool(v, name string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		return false, herald.PropertyError(herald.EInvalidProperty, name, "%s must be true or false, not %q.", name, v)
	}
	return b, nil
}

// sendUserMessage sends a message as the path's user: the Client API's
// body has no sender (laravel-layer-sdk's UserDataService::sendMessage
// posts {parts} alone, and expects 201), so one given is refused rather
// than silently overridden. The message is rendered as the sender sees it.
func (a *API) sendUserMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		ID           string                `json:"id"`
		Sender       json.RawMessage       `json:"sender"`
		SenderID     json.RawMessage       `json:"sender_id"`
		Parts        []messaging.PartInput `json:"parts"`
		Notification json.RawMessage       `json:"notification"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	for name, v := range map[string]json.RawMessage{"sender": in.Sender, "sender_id": in.SenderID} {
		if v != nil {
			return herald.PropertyError(herald.EInvalidProperty, name,
				"A message sent through /users/{user_id}/ is sent by that user; leave out %s.", name)
		}
	}
	key, byID, err := clientKey(r, in.ID, herald.MessageIDPrefix)
	if err != nil {
		return err
	}
	user := c.user
	m, replay, err := c.service().SendMessageAs(r.Context(), c.app, user, r.PathValue("conv"),
		messaging.MessageInput{Parts: in.Parts, Notification: in.Notification}, key)
	if err != nil {
		return keyProperty(err, byID)
	}
	if replay && byID {
		return c.idInUse("message", in.ID, func() (any, error) {
			uc, err := c.service().UserConversation(r.Context(), c.app, user, m.ConversationID)
			if err != nil {
				return nil, err
			}
			if err := c.loadMessages(m); err != nil {
				return nil, err
			}
			return c.userMessage(uc, m), nil
		})
	}
	if replay {
		w.Header().Set("Herald-Replayed", "true")
	}
	return c.writeUserMessage(w, r, http.StatusCreated, user, m)
}

// deleteUserAnnouncement deletes an announcement for its recipient: 204.
func (a *API) deleteUserAnnouncement(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().DeleteAnnouncementAs(r.Context(), c.app, c.user, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// postAnnouncementReceipt takes {type: read|delivery}: 204.
func (a *API) postAnnouncementReceipt(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Type string `json:"type"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if err := c.service().PostAnnouncementReceipt(r.Context(), c.app, c.user, r.PathValue("id"), in.Type); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// registerPushToken answers 202 with no body, as Layer did ([P1.1]
// client/rest/push-tokens.md).
func (a *API) registerPushToken(w http.ResponseWriter, r *http.Request, c *call) error {
	var in messaging.PushTokenInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if _, err := c.service().RegisterPushToken(r.Context(), c.app, c.user, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) unregisterPushToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().UnregisterPushToken(r.Context(), c.app, c.user, r.PathValue("device")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// listPushTokens is Herald's own: Layer kept tokens out of sight, but an
// app needs to see what its users' pushes will go to.
func (a *API) listPushTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := c.service().PushTokens(r.Context(), c.app, c.user)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []*herald.PushToken{}
	}
	setCount(w, len(ts))
	heraldhttp.WriteJSON(w, http.StatusOK, ts)
	return nil
}
