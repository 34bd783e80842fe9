package herald

import (
	"encoding/json"
	"time"
)

// EventNotificationSent records a push notification an app sent to users
// outside any message (Layer's POST /apps/:app/notifications). The push
// providers deliver it from the event; its data holds the Notification.
const EventNotificationSent = "notification.sent"

// NotificationIDPrefix is the prefix of a notification's Layer-style id.
const NotificationIDPrefix = "layer:///notifications/"

// Notification is a push notification sent on its own.
type Notification struct {
	ID    string `json:"id"`
	AppID string `json:"-"`
	// Recipients are user ids.
	Recipients []string `json:"recipients"`
	// Push is the notification object as Layer defined it (text, title,
	// sound, data, the localization keys, apns), checked and compacted.
	// Its per-recipient overrides, if any, are under "recipients", each
	// naming its recipient by "user_id" whatever the API version it came
	// in.
	Push   json.RawMessage `json:"notification"`
	SentAt time.Time       `json:"sent_at"`
}
