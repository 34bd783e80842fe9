package layerapi

import (
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// senderObject is 1.x's sender: {user_id} or {name}.
type senderObject struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	ID     string `json:"id"`
}

// sender reads who sends a message or an announcement, as any version
// names them: 1.x's sender object, or 2.0's sender_id (an identity id;
// [S3] messages.out, Server API 2.0 changelog "Creating a Message now
// takes a sender_id instead of … sender.user_id").
func sender(obj *senderObject, id *string) (herald.Sender, error) {
	if id != nil {
		if obj != nil {
			return herald.Sender{}, herald.PropertyError(herald.EInvalidProperty, "sender_id",
				"Give the sender as sender_id or as sender, not both.")
		}
		if *id == "" {
			return herald.Sender{}, herald.PropertyError(herald.EInvalidProperty, "sender_id",
				"sender_id must be an identity id such as layer:///identities/<user_id>.")
		}
		return herald.Sender{UserID: herald.LocalID(*id, herald.IdentityIDPrefix)}, nil
	}
	if obj == nil {
		return herald.Sender{}, nil
	}
	sd := herald.Sender{UserID: obj.UserID, Name: obj.Name}
	if sd.UserID == "" && obj.ID != "" {
		sd.UserID = herald.LocalID(obj.ID, herald.IdentityIDPrefix)
	}
	return sd, nil
}

func (a *API) sendMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Sender       *senderObject         `json:"sender"`
		SenderID     *string               `json:"sender_id"`
		Parts        []messaging.PartInput `json:"parts"`
		Notification json.RawMessage       `json:"notification"`
		Schedule     *messaging.Schedule   `json:"schedule"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	sd, err := sender(in.Sender, in.SenderID)
	if err != nil {
		return err
	}
	msg := messaging.MessageInput{Sender: sd, Parts: c.partInputs(in.Parts), Notification: in.Notification}
	if in.Schedule != nil {
		return a.scheduleMessage(w, r, c, msg, *in.Schedule)
	}
	m, replay, err := c.service().SendMessage(r.Context(), c.app, r.PathValue("conv"), msg,
		r.Header.Get("If-None-Match"))
	if err != nil {
		return err
	}
	if replay {
		w.Header().Set("Herald-Replayed", "true")
	}
	if err := c.loadMessages(m); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, c.message(m, ""))
	return nil
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := c.page(r)
	if err != nil {
		return err
	}
	user := c.user
	ms, err := c.service().Messages(r.Context(), c.app, r.PathValue("conv"), user, p)
	if err != nil {
		return err
	}
	if err := c.loadMessages(ms...); err != nil {
		return err
	}
	heraldhttp.WritePage(a.srv, w, r, p, ms, func(m *herald.Message) string { return m.ID },
		func(m *herald.Message) messageJSON { return c.message(m, user) })
	return nil
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	user := c.user
	m, err := c.service().Message(r.Context(), c.app, r.PathValue("conv"), user, r.PathValue("msg"))
	if err != nil {
		return err
	}
	if err := c.loadMessages(m); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.message(m, user))
	return nil
}

func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	if mode := r.URL.Query().Get("mode"); mode != "" && mode != "all_participants" {
		return herald.PropertyError(herald.EInvalidProperty, "mode",
			"This endpoint deletes for all participants; to delete for one user's devices use DELETE /apps/{app_id}/users/{user_id}/messages/{message_id}?mode=my_devices.")
	}
	if err := c.service().DeleteMessage(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteUserMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	user, msg := c.user, r.PathValue("msg")
	var err error
	switch mode := r.URL.Query().Get("mode"); mode {
	case "my_devices":
		err = c.service().HideMessage(r.Context(), c.app, user, msg)
	case "all_participants":
		err = c.service().DeleteMessage(r.Context(), c.app, "", msg, &herald.Actor{UserID: user})
	case "":
		err = herald.PropertyError(herald.EMissingProperty, "mode", "mode is required: my_devices or all_participants.")
	default:
		err = herald.PropertyError(herald.EInvalidProperty, "mode", "mode must be my_devices or all_participants, not %q.", mode)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) postReceipt(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Type string `json:"type"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if err := c.service().PostReceipt(r.Context(), c.app, c.user, r.PathValue("msg"), in.Type); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
