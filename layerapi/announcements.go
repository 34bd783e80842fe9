package layerapi

import (
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

func (a *API) sendAnnouncement(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Sender       *senderObject         `json:"sender"`
		SenderID     *string               `json:"sender_id"`
		Recipients   *userRefs             `json:"recipients"`
		Parts        []messaging.PartInput `json:"parts"`
		Notification json.RawMessage       `json:"notification"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return prefixProperty(err, "recipients")
	}
	sd, err := sender(in.Sender, in.SenderID)
	if err != nil {
		return err
	}
	if sd.UserID != "" && !c.v.identities() {
		// Platform API 1.x: "sender.user_id is not allowed"
		// (platform/messages/send-an-announcement.md); 2.0 sends from an
		// identity.
		return herald.PropertyError(herald.EInvalidProperty, "sender.user_id",
			"In API version %s announcements are sent by a named sender: give sender.name, or ask for version 2.0 to send from an identity with sender_id.", c.v)
	}
	ai := messaging.AnnouncementInput{Sender: sd, Parts: in.Parts, Notification: in.Notification,
		RequestID: r.Header.Get("If-None-Match")}
	if in.Recipients != nil {
		ai.Recipients = []string(*in.Recipients)
		if ai.Recipients == nil {
			ai.Recipients = []string{}
		}
	}
	an, replay, err := c.service().SendAnnouncement(r.Context(), c.app, ai)
	if err != nil {
		return err
	}
	if replay {
		w.Header().Set("Herald-Replayed", "true")
	}
	if err := c.loadAnnouncements(an); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusAccepted, c.announcement(an, ""))
	return nil
}

func (a *API) listAnnouncements(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := c.page(r)
	if err != nil {
		return err
	}
	user := c.user
	as, total, err := c.service().Announcements(r.Context(), c.app, user, p)
	if err != nil {
		return err
	}
	setCount(w, total)
	if err := c.loadAnnouncements(as...); err != nil {
		return err
	}
	heraldhttp.WritePage(a.srv, w, r, p, as, func(an *herald.Announcement) string { return an.ID },
		func(an *herald.Announcement) announcementJSON { return c.announcement(an, user) })
	return nil
}

func (a *API) getAnnouncement(w http.ResponseWriter, r *http.Request, c *call) error {
	user := c.user
	an, err := c.service().Announcement(r.Context(), c.app, user, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := c.loadAnnouncements(an); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.announcement(an, user))
	return nil
}

// getAppAnnouncement answers the url of a sent announcement: the app's view,
// with every recipient's status.
func (a *API) getAppAnnouncement(w http.ResponseWriter, r *http.Request, c *call) error {
	an, err := c.service().AnnouncementByID(r.Context(), c.app, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := c.loadAnnouncements(an); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.announcement(an, ""))
	return nil
}
