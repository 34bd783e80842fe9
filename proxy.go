package herald

import (
	"context"
	"time"
)

// What Layer's Client API Proxy lets an app do as one of its users
// (Server API 3.0, "Client API Proxy": requests under
// /apps/:app/users/:user/ act as that user) that no other request does:
// delete a conversation or an announcement from the user's devices only,
// and register the devices the user's push notifications go to.

// Push token types: Layer's Client API took apns and gcm ([P1.1]
// client/rest/push-tokens.md); fcm names the service that replaced GCM,
// whose tokens an Android app now has.
const (
	PushAPNS = "apns"
	PushGCM  = "gcm"
	PushFCM  = "fcm"
)

// MaxPushTokens is how many devices a user may register. Layer kept 25
// and, past them, unregistered the least recently used ([P1.1]
// client/rest/push-tokens.md); Herald does the same.
const MaxPushTokens = 25

// PushToken is a device a user receives push notifications on. A user has
// one token per device: registering the device again replaces it.
type PushToken struct {
	AppID    string `json:"-"`
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	Type     string `json:"type"`
	Token    string `json:"token"`
	// APNSBundleID and IOSVersion concern apns tokens, GCMSenderID gcm and
	// fcm ones; each is "" when not given.
	APNSBundleID string    `json:"apns_bundle_id,omitempty"`
	IOSVersion   string    `json:"ios_version,omitempty"`
	GCMSenderID  string    `json:"gcm_sender_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// UpdatedAt is when the device was last registered: the least recently
	// registered goes first when a user has too many.
	UpdatedAt time.Time `json:"updated_at"`
}

// Event types of the Client API Proxy. Layer's webhooks never sent these,
// so they stay out of layer.EventTypes. A conversation deleted from a
// user's devices carries the conversation and the user (UserID); an
// announcement deleted for its recipient, the announcement and the user;
// push token events the token (PushToken), as registered or as it was.
const (
	EventConversationDeletedForUser = "conversation.deleted_for_user"
	EventAnnouncementDeletedForUser = "announcement.deleted_for_user"
	EventPushTokenRegistered        = "push_token.registered"
	EventPushTokenUnregistered      = "push_token.unregistered"
)

// ProxyQueries are the store's side of the Client API Proxy.
type ProxyQueries interface {
	// DeleteConversationForUser deletes a conversation's live messages from
	// one participant's devices (see MessageHidden) as of at, and takes the
	// conversation out of their listings (UserConversation,
	// UserConversations, their counts and badge) until a message is sent
	// in it again. not_found when the user has no inbox row for it.
	DeleteConversationForUser(ctx context.Context, appID, conversationID, userID string, at time.Time) error
	// DeleteAnnouncementForUser takes an announcement away from one
	// recipient, and reports whether it was theirs.
	DeleteAnnouncementForUser(ctx context.Context, appID, announcementID, userID string) (bool, error)

	// PutPushToken registers a user's device, replacing the token the
	// device had.
	PutPushToken(ctx context.Context, t *PushToken) error
	// PushToken returns a user's device, or not_found.
	PushToken(ctx context.Context, appID, userID, deviceID string) (*PushToken, error)
	// PushTokens lists a user's devices, the most recently registered
	// first.
	PushTokens(ctx context.Context, appID, userID string) ([]*PushToken, error)
	// DeletePushToken unregisters a user's device, and reports whether it
	// was registered.
	DeletePushToken(ctx context.Context, appID, userID, deviceID string) (bool, error)
}
