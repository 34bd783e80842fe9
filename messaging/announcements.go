package messaging

import (
	"context"
	"encoding/json"

	"github.com/heraldhq/herald"
)

// AnnouncementInput sends an announcement.
type AnnouncementInput struct {
	Recipients   []string
	Sender       herald.Sender
	Parts        []PartInput
	Notification json.RawMessage
	// RequestID is the request's deduplication key (If-None-Match): the
	// announcement takes it as its id, and a retry returns it.
	RequestID string
}

// SendAnnouncement sends a system message to a list of users. It is not a
// conversation message and raises no message.sent event.
func (s *Service) SendAnnouncement(ctx context.Context, appID string, in AnnouncementInput) (out *herald.Announcement, replay bool, err error) {
	if in.Recipients == nil {
		return nil, false, herald.PropertyError(herald.EMissingProperty, "recipients", "An announcement needs a recipients list.")
	}
	recipients, err := checkUserIDs("recipients", in.Recipients)
	if err != nil {
		return nil, false, err
	}
	if len(recipients) == 0 {
		return nil, false, herald.PropertyError(herald.EInvalidProperty, "recipients", "An announcement needs at least one recipient.")
	}
	// Platform API 1.x sent announcements from a name; Server API 2.0
	// from an identity, even a bot's (sender_id).
	if err := checkSender(in.Sender); err != nil {
		return nil, false, err
	}
	id, retry, err := newObjectID(in.RequestID)
	if err != nil {
		return nil, false, err
	}
	notification, err := checkNotification(in.Notification)
	if err != nil {
		return nil, false, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if retry {
			// A retry answers with the first request's announcement, as
			// Layer "will not re-execute the request": its recipients
			// are not notified twice.
			existing, err := tx.AnnouncementByID(ctx, appID, id)
			if err == nil {
				out, replay = existing, true
				return nil
			}
			if !herald.IsNotFound(err) {
				return err
			}
			if err := keyUnused(ctx, tx, "announcement", id); err != nil {
				return err
			}
		}
		parts, err := checkParts(ctx, tx, appID, "", "", in.Parts, false)
		if err != nil {
			return err
		}
		status := make(map[string]string, len(recipients))
		for _, r := range recipients {
			status[r] = herald.StatusSent
		}
		a := &herald.Announcement{ID: id, AppID: appID, Sender: in.Sender, Parts: parts,
			Notification: notification, SentAt: s.now(), RecipientStatus: status}
		if err := tx.CreateAnnouncement(ctx, a); err != nil {
			return err
		}
		out = a
		return s.record(ctx, tx, appID, herald.EventAnnouncementSent, &a.Sender, &herald.EventData{Announcement: a})
	})
	return out, replay, err
}

// AnnouncementByID returns an announcement with every recipient's status,
// as the app sees it.
func (s *Service) AnnouncementByID(ctx context.Context, appID, id string) (a *herald.Announcement, err error) {
	id = herald.LocalID(id, herald.AnnouncementIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		a, err = q.AnnouncementByID(ctx, appID, id)
		return err
	})
	return a, err
}

// Announcement returns an announcement as one of its recipients sees it.
func (s *Service) Announcement(ctx context.Context, appID, userID, id string) (a *herald.Announcement, err error) {
	id = herald.LocalID(id, herald.AnnouncementIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		a, err = q.Announcement(ctx, appID, id, userID)
		return err
	})
	return a, err
}

// Announcements lists a user's announcements, newest first, and counts
// them all.
func (s *Service) Announcements(ctx context.Context, appID, userID string, p herald.Page) (as []*herald.Announcement, total int, err error) {
	p.Before = herald.LocalID(p.Before, herald.AnnouncementIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		as, err = q.Announcements(ctx, appID, userID, p)
		if err != nil {
			return err
		}
		total, err = q.CountAnnouncements(ctx, appID, userID)
		return err
	})
	return as, total, err
}

func (s *Service) announcementReceipt(ctx context.Context, tx herald.Tx, appID, userID, id, status string) error {
	a, err := tx.Announcement(ctx, appID, id, userID)
	if herald.IsNotFound(err) {
		return herald.NotFound("message", id)
	}
	if err != nil {
		return err
	}
	if herald.StatusRank(status) <= herald.StatusRank(a.RecipientStatus[userID]) {
		return nil
	}
	if err := tx.SetAnnouncementStatus(ctx, appID, id, userID, status); err != nil {
		return err
	}
	a.RecipientStatus[userID] = status
	typ := herald.EventAnnouncementDelivered
	if status == herald.StatusRead {
		typ = herald.EventAnnouncementRead
	}
	return s.record(ctx, tx, appID, typ, &herald.Actor{UserID: userID}, &herald.EventData{Announcement: a, UserID: userID})
}
