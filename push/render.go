package push

import (
	"encoding/json"
	"slices"

	"github.com/heraldhq/herald"
)

// Notification is one recipient's notification, as Layer's notification
// object defines it (platform/messages/notification-customization.md, in
// Layer's documentation repository): title, text, sound, the localization
// keys, category, launch image and data. Per-recipient overrides replace
// title, text and sound; a key an override leaves out keeps the root's
// value ("If sound or text is left out for a participant, they inherit
// from the default"). Badge is the recipient's badge when it is sent.
type Notification struct {
	Title        string          `json:"title,omitempty"`
	Text         string          `json:"text,omitempty"`
	Sound        string          `json:"sound,omitempty"`
	Category     string          `json:"category,omitempty"`
	TitleLocKey  string          `json:"title-loc-key,omitempty"`
	TitleLocArgs []string        `json:"title-loc-args,omitempty"`
	LocKey       string          `json:"loc-key,omitempty"`
	LocArgs      []string        `json:"loc-args,omitempty"`
	ActionLocKey string          `json:"action-loc-key,omitempty"`
	LaunchImage  string          `json:"launch-image,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	Badge        *int            `json:"badge,omitempty"`
}

// Silent reports whether n shows nothing: Layer's docs say a recipient
// with no text (and, here, no title or localized text either) "will get a
// silent push and no notification".
func (n *Notification) Silent() bool {
	return n.Title == "" && n.Text == "" && n.TitleLocKey == "" && n.LocKey == ""
}

// Payload is what a push job carries: the recipient's notification and
// what it is about, by Layer ids.
type Payload struct {
	EventType      string       `json:"event_type"`
	Notification   Notification `json:"notification"`
	ConversationID string       `json:"conversation_id,omitempty"`
	MessageID      string       `json:"message_id,omitempty"`
	AnnouncementID string       `json:"announcement_id,omitempty"`
	NotificationID string       `json:"notification_id,omitempty"`
	SenderID       string       `json:"sender_id,omitempty"`
}

// layerIDs are the ids a push carries for the app to open what it is
// about (the "layer" member of an APNs payload, FCM data).
func (p *Payload) layerIDs() map[string]string {
	ids := map[string]string{}
	for k, v := range map[string]string{
		"conversation_identifier": p.ConversationID, "message_identifier": p.MessageID,
		"announcement_identifier": p.AnnouncementID, "notification_identifier": p.NotificationID,
	} {
		if v != "" {
			ids[k] = v
		}
	}
	return ids
}

// pushObject is Layer's notification object as messaging checked it.
type pushObject struct {
	Notification
	Apns struct {
		LaunchImage string `json:"launch-image"`
	} `json:"apns"`
	Recipients []struct {
		UserID string  `json:"user_id"`
		Title  *string `json:"title"`
		Text   *string `json:"text"`
		Sound  *string `json:"sound"`
	} `json:"recipients"`
}

// recipientsOf returns who an event pushes to, with its notification
// object and what it is about; no recipients when it pushes nothing.
// "Sending a Layer message or announcement will deliver a push
// notification to all recipients", and a recipient left without text "will
// get a silent push and no notification" (notification-customization.md):
// a message or an announcement without a notification object is pushed
// silently, so that the app can fetch it. A notification sent on its own
// always has one.
func recipientsOf(e *herald.Event, d *herald.EventData) (users []string, raw json.RawMessage, p Payload) {
	p.EventType = e.Type
	switch e.Type {
	case herald.EventMessageSent:
		m, c := d.Message, d.Conversation
		if m == nil || c == nil || m.Channel != nil {
			return nil, nil, p
		}
		for _, u := range c.Participants {
			if u != m.Sender.UserID {
				users = append(users, u)
			}
		}
		p.MessageID, p.ConversationID = herald.MessageIDPrefix+m.ID, herald.ConversationIDPrefix+c.ID
		p.SenderID = m.Sender.UserID
		return users, orSilent(m.Notification), p
	case herald.EventAnnouncementSent:
		a := d.Announcement
		if a == nil {
			return nil, nil, p
		}
		for u := range a.RecipientStatus {
			users = append(users, u)
		}
		slices.Sort(users)
		p.AnnouncementID = herald.AnnouncementIDPrefix + a.ID
		return users, orSilent(a.Notification), p
	case herald.EventNotificationSent:
		n := d.Notification
		if n == nil || len(n.Push) == 0 {
			return nil, nil, p
		}
		p.NotificationID = herald.NotificationIDPrefix + n.ID
		return n.Recipients, n.Push, p
	}
	return nil, nil, p
}

// orSilent is a notification object, or the empty one of a silent push.
func orSilent(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

// render returns each recipient's notification from the object.
func render(raw json.RawMessage, users []string) (map[string]Notification, error) {
	var o pushObject
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	root := o.Notification
	root.LaunchImage = o.Apns.LaunchImage
	root.Badge = nil
	out := make(map[string]Notification, len(users))
	for _, u := range users {
		out[u] = root
	}
	for _, r := range o.Recipients {
		n, ok := out[r.UserID]
		if !ok {
			continue
		}
		if r.Title != nil {
			n.Title = *r.Title
		}
		if r.Text != nil {
			n.Text = *r.Text
		}
		if r.Sound != nil {
			n.Sound = *r.Sound
		}
		out[r.UserID] = n
	}
	return out, nil
}
