package messaging

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/heraldhq/herald"
)

// Layer's Client API Proxy: an app acting as one of its users (Server API
// 3.0, "Client API Proxy"). The user is the actor of what they do, and the
// rules that apply to users apply: they act only in conversations they take
// part in, their blocks hold, and a suspended user does nothing.

// actingUser checks that a user may act: a valid id, not suspended (the
// Client API refused a suspended user's requests with user_suspended).
func actingUser(ctx context.Context, q herald.Queries, appID, userID string) (*herald.Actor, error) {
	if err := checkUserID("user_id", userID); err != nil {
		return nil, err
	}
	u, err := userRecord(ctx, q, appID, userID)
	if err != nil {
		return nil, err
	}
	if u.Suspended {
		return nil, herald.Errorf(herald.EUserSuspended, "User %q is suspended.", userID)
	}
	return &herald.Actor{UserID: userID}, nil
}

// ActAs returns the actor a user is when the app acts as them, or why
// they cannot act.
func (s *Service) ActAs(ctx context.Context, appID, userID string) (actor *herald.Actor, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		actor, err = actingUser(ctx, q, appID, userID)
		return err
	})
	return actor, err
}

// CreateConversationAs creates a conversation as a user, who is one of its
// participants whether or not the list names them: the Client API's
// creator always took part in what they created (Layer's Web SDK put the
// user in every list it sent; [P1.1] client/rest/conversations.md). The
// distinct rules are those of CreateConversation, over the list with the
// user in it.
func (s *Service) CreateConversationAs(ctx context.Context, appID, userID string, in ConversationInput) (*herald.Conversation, bool, error) {
	actor, err := s.ActAs(ctx, appID, userID)
	if err != nil {
		return nil, false, err
	}
	if in.Participants != nil {
		ps, err := checkUserIDs("participants", in.Participants)
		if err != nil {
			return nil, false, err
		}
		if !containsUser(ps, userID) {
			ps = append(ps, userID)
		}
		in.Participants = ps
	}
	return s.CreateConversation(ctx, appID, actor, in)
}

func containsUser(ids []string, id string) bool {
	for _, u := range ids {
		if u == id {
			return true
		}
	}
	return false
}

// UpdateConversationAs applies Layer-Patch operations as a participant.
func (s *Service) UpdateConversationAs(ctx context.Context, appID, userID, id string, ops []PatchOperation) (*herald.Conversation, error) {
	actor, err := s.ActAs(ctx, appID, userID)
	if err != nil {
		return nil, err
	}
	return s.UpdateConversation(ctx, appID, id, actor, ops)
}

// Deletion modes of the Client API ([P1.1] client/rest/conversations.md,
// messages.md).
const (
	ModeAllParticipants = "all_participants"
	ModeMyDevices       = "my_devices"
)

// DeleteConversationAs deletes a conversation as a participant: for
// everyone (ModeAllParticipants), or from the user's devices only
// (ModeMyDevices), optionally leaving it. The Client API allowed three
// combinations ([P1.1] client/rest/conversations.md, "Deleting a
// Conversation"): all_participants; my_devices, after which the messages
// so far are gone for the user and the conversation is out of their
// listings until a new message brings it back, starting from that message;
// my_devices with leave, which also takes the user out of the participants.
func (s *Service) DeleteConversationAs(ctx context.Context, appID, userID, id, mode string, leave bool) error {
	id = herald.LocalID(id, herald.ConversationIDPrefix)
	switch mode {
	case ModeAllParticipants:
		if leave {
			return herald.PropertyError(herald.EInvalidProperty, "leave",
				"leave applies to mode=my_devices; mode=all_participants deletes the conversation for everyone.")
		}
		actor, err := s.ActAs(ctx, appID, userID)
		if err != nil {
			return err
		}
		return s.DeleteConversation(ctx, appID, id, actor)
	case ModeMyDevices:
	case "":
		return herald.PropertyError(herald.EMissingProperty, "mode", "mode is required: my_devices or all_participants.")
	default:
		return herald.PropertyError(herald.EInvalidProperty, "mode", "mode must be my_devices or all_participants, not %q.", mode)
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		actor, err := actingUser(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, appID, id)
		if err != nil {
			return conversationGone(ctx, tx, appID, id, err)
		}
		if !c.HasParticipant(userID) {
			return herald.NotFound("conversation", id)
		}
		if err := tx.DeleteConversationForUser(ctx, appID, c.ID, userID, s.now()); err != nil {
			return err
		}
		if err := s.recordConversation(ctx, tx, herald.EventConversationDeletedForUser, actor, c,
			&herald.EventData{UserID: userID}); err != nil {
			return err
		}
		if !leave {
			return nil
		}
		me, err := json.Marshal(userID)
		if err != nil {
			return err
		}
		return s.applyConversationPatch(ctx, tx, appID, c, actor,
			[]PatchOperation{{Operation: "remove", Property: "participants", Value: me}})
	})
}

// SendMessageAs sends a message as a user, who must take part in the
// conversation: for anyone else it is not_found, as the Client API
// answered. The sender is the user; there is no other to name.
func (s *Service) SendMessageAs(ctx context.Context, appID, userID, conversationID string, in MessageInput, dedupKey string) (*herald.Message, bool, error) {
	if _, err := s.ActAs(ctx, appID, userID); err != nil {
		return nil, false, err
	}
	in.Sender = herald.Sender{UserID: userID}
	in.asParticipant = true
	return s.SendMessage(ctx, appID, conversationID, in, dedupKey)
}

// DeleteAnnouncementAs deletes an announcement for the recipient only
// ([P1.1] client/rest/announcements.md: DELETE /announcements/:id, no
// mode); the other recipients keep it.
func (s *Service) DeleteAnnouncementAs(ctx context.Context, appID, userID, id string) error {
	id = herald.LocalID(id, herald.AnnouncementIDPrefix)
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		actor, err := actingUser(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		a, err := tx.Announcement(ctx, appID, id, userID)
		if err != nil {
			return err
		}
		if _, err := tx.DeleteAnnouncementForUser(ctx, appID, id, userID); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventAnnouncementDeletedForUser, actor,
			&herald.EventData{Announcement: a, UserID: userID})
	})
}

// PostAnnouncementReceipt records that a recipient received or read an
// announcement ([P1.1] client/rest/receipts.md: POST
// /announcements/:id/receipts); it is PostReceipt for announcements only.
func (s *Service) PostAnnouncementReceipt(ctx context.Context, appID, userID, id, typ string) error {
	status, err := receiptStatus(typ)
	if err != nil {
		return err
	}
	id = herald.LocalID(id, herald.AnnouncementIDPrefix)
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		if _, err := actingUser(ctx, tx, appID, userID); err != nil {
			return err
		}
		if _, err := tx.Announcement(ctx, appID, id, userID); err != nil {
			return err
		}
		return s.announcementReceipt(ctx, tx, appID, userID, id, status)
	})
}

// PushTokenInput registers a device, in the fields of Layer's Client API
// ([P1.1] client/rest/push-tokens.md).
type PushTokenInput struct {
	Token        string `json:"token"`
	Type         string `json:"type"`
	DeviceID     string `json:"device_id"`
	APNSBundleID string `json:"apns_bundle_id"`
	GCMSenderID  string `json:"gcm_sender_id"`
	IOSVersion   string `json:"ios_version"`
}

// Bounds of push token fields, in bytes: an APNs token is 32 bytes (64 hex
// digits) and an FCM one some 160 characters; Herald leaves room for both
// to grow.
const (
	MaxPushTokenLength = 4096
	MaxPushFieldLength = 255
)

func checkPushText(property, v string, required bool, max int) error {
	if v == "" {
		if required {
			return herald.PropertyError(herald.EMissingProperty, property, "%s is required.", property)
		}
		return nil
	}
	if len(v) > max || strings.TrimSpace(v) != v || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return herald.PropertyError(herald.EInvalidProperty, property,
			"%s must be at most %d bytes, without control characters or surrounding spaces.", property, max)
	}
	return nil
}

func checkPushToken(in PushTokenInput) error {
	if err := checkPushText("token", in.Token, true, MaxPushTokenLength); err != nil {
		return err
	}
	switch in.Type {
	case herald.PushAPNS, herald.PushGCM, herald.PushFCM:
	case "":
		return herald.PropertyError(herald.EMissingProperty, "type", "type is required: apns, gcm or fcm.")
	default:
		return herald.PropertyError(herald.EInvalidProperty, "type", "type must be apns, gcm or fcm, not %q.", in.Type)
	}
	if err := checkPushText("device_id", in.DeviceID, true, MaxPushFieldLength); err != nil {
		return err
	}
	for _, f := range []struct{ name, value, only string }{
		{"apns_bundle_id", in.APNSBundleID, herald.PushAPNS},
		{"ios_version", in.IOSVersion, herald.PushAPNS},
		{"gcm_sender_id", in.GCMSenderID, ""},
	} {
		if err := checkPushText(f.name, f.value, false, MaxPushFieldLength); err != nil {
			return err
		}
		// A field of the other service says the client sent the wrong
		// type; refusing it beats pushing to a token that cannot work.
		wrong := (f.only == herald.PushAPNS && in.Type != herald.PushAPNS) ||
			(f.only == "" && in.Type == herald.PushAPNS)
		if f.value != "" && wrong {
			return herald.PropertyError(herald.EInvalidProperty, f.name, "%s does not apply to %s tokens.", f.name, in.Type)
		}
	}
	return nil
}

// RegisterPushToken registers a user's device for push notifications, or
// registers it again with its new token. A user keeps MaxPushTokens
// devices: past them, the one registered least recently is unregistered,
// as Layer did. Registering a device exactly as it is changes nothing and
// records nothing.
func (s *Service) RegisterPushToken(ctx context.Context, appID, userID string, in PushTokenInput) (*herald.PushToken, error) {
	if err := checkPushToken(in); err != nil {
		return nil, err
	}
	var out *herald.PushToken
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		actor, err := actingUser(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		now := s.now()
		t := &herald.PushToken{AppID: appID, UserID: userID, DeviceID: in.DeviceID, Type: in.Type, Token: in.Token,
			APNSBundleID: in.APNSBundleID, IOSVersion: in.IOSVersion, GCMSenderID: in.GCMSenderID,
			CreatedAt: now, UpdatedAt: now}
		old, err := tx.PushToken(ctx, appID, userID, in.DeviceID)
		switch {
		case err == nil:
			t.CreatedAt = old.CreatedAt
			if old.Type == t.Type && old.Token == t.Token && old.APNSBundleID == t.APNSBundleID &&
				old.IOSVersion == t.IOSVersion && old.GCMSenderID == t.GCMSenderID {
				out = old
				return nil
			}
		case !herald.IsNotFound(err):
			return err
		}
		if err := tx.PutPushToken(ctx, t); err != nil {
			return err
		}
		out = t
		if err := s.record(ctx, tx, appID, herald.EventPushTokenRegistered, actor, &herald.EventData{PushToken: t, UserID: userID}); err != nil {
			return err
		}
		all, err := tx.PushTokens(ctx, appID, userID)
		if err != nil {
			return err
		}
		for _, extra := range all[min(len(all), herald.MaxPushTokens):] {
			if _, err := tx.DeletePushToken(ctx, appID, userID, extra.DeviceID); err != nil {
				return err
			}
			if err := s.record(ctx, tx, appID, herald.EventPushTokenUnregistered, actor,
				&herald.EventData{PushToken: extra, UserID: userID}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// UnregisterPushToken unregisters a user's device. A device that is not
// registered is no error: an app unregistering on sign-out may do so
// twice, and Layer's answer was the same 202 either way ([P1.1]
// client/rest/push-tokens.md documents no other).
func (s *Service) UnregisterPushToken(ctx context.Context, appID, userID, deviceID string) error {
	if err := checkPushText("device_id", deviceID, true, MaxPushFieldLength); err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		actor, err := actingUser(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		t, err := tx.PushToken(ctx, appID, userID, deviceID)
		if herald.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.DeletePushToken(ctx, appID, userID, deviceID); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventPushTokenUnregistered, actor, &herald.EventData{PushToken: t, UserID: userID})
	})
}

// PushTokens lists a user's registered devices, the most recently
// registered first.
func (s *Service) PushTokens(ctx context.Context, appID, userID string) (ts []*herald.PushToken, err error) {
	if err := checkUserID("user_id", userID); err != nil {
		return nil, err
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ts, err = q.PushTokens(ctx, appID, userID)
		return err
	})
	return ts, err
}
