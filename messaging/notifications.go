package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/heraldhq/herald"
)

// NotificationInput sends a push notification to users (Layer's POST
// /apps/:app/notifications).
type NotificationInput struct {
	Recipients   []string
	Notification json.RawMessage
	// IdentityIDs says the request names users as API 2.0 and later do:
	// recipients, and the per-recipient overrides' "recipient", are
	// identity ids (layer:///identities/<user_id>). Before 2.0 they are
	// user ids, and an override names its user with "user_id".
	IdentityIDs bool
}

// MaxPushSize bounds what one recipient's notification may hold, in bytes
// of JSON: APNs and FCM both refuse a payload over 4 KiB, so a larger one
// could reach no device.
const MaxPushSize = 4096

// pushStrings and pushStringLists are the keys of Layer's notification
// object (platform/messages/notification-customization.md, "Advanced
// Customization"), by the type of their values; overrides take the first
// three only.
var (
	pushStrings     = []string{"title", "text", "sound", "category", "title-loc-key", "loc-key", "action-loc-key"}
	pushStringLists = []string{"title-loc-args", "loc-args"}
	overrideStrings = []string{"title", "text", "sound"}
)

// SendNotification checks a push notification and records it as a
// notification.sent event, from which the push providers deliver it; it
// returns the notification as recorded.
func (s *Service) SendNotification(ctx context.Context, appID string, in NotificationInput) (*herald.Notification, error) {
	if in.Recipients == nil {
		return nil, herald.PropertyError(herald.EMissingProperty, "recipients", "A notification needs a recipients list.")
	}
	for i, r := range in.Recipients {
		if err := checkRecipientForm(fmt.Sprintf("recipients[%d]", i), r, in.IdentityIDs); err != nil {
			return nil, err
		}
	}
	recipients, err := checkUserIDs("recipients", in.Recipients)
	if err != nil {
		return nil, err
	}
	if len(recipients) == 0 {
		return nil, herald.PropertyError(herald.EInvalidProperty, "recipients", "A notification needs at least one recipient.")
	}
	push, err := checkPush(in.Notification, recipients, in.IdentityIDs)
	if err != nil {
		return nil, err
	}
	n := &herald.Notification{ID: NewID(), AppID: appID, Recipients: recipients, Push: push, SentAt: s.now()}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		return s.record(ctx, tx, appID, herald.EventNotificationSent, nil, &herald.EventData{Notification: n})
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// checkRecipientForm refuses a user named in the other API version's form.
func checkRecipientForm(property, id string, identityIDs bool) error {
	isIdentity := strings.HasPrefix(id, herald.IdentityIDPrefix)
	switch {
	case identityIDs && !isIdentity:
		return herald.PropertyError(herald.EInvalidProperty, property,
			"%s %q is not an identity id; from version 2.0 users are named layer:///identities/<user_id>.", property, id)
	case !identityIDs && isIdentity:
		return herald.PropertyError(herald.EInvalidProperty, property,
			"%s %q is an identity id; before version 2.0 users are named by their user id.", property, id)
	}
	return nil
}

// checkPush checks a notification object and returns it compacted, its
// overrides naming their recipients by user_id.
func checkPush(raw json.RawMessage, recipients []string, identityIDs bool) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, herald.PropertyError(herald.EMissingProperty, "notification", "A notification needs a notification object, such as {\"text\": \"…\"}.")
	}
	var fields map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "notification", "notification must be a JSON object such as {\"text\": \"…\"}.")
	}
	if err := checkDepth("notification", raw); err != nil {
		return nil, err
	}
	overrides := fields["recipients"]
	delete(fields, "recipients")
	if err := checkPushFields("notification", fields, pushStrings, true); err != nil {
		return nil, err
	}
	root, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	largest := 0
	if len(overrides) > 0 && !bytes.Equal(overrides, []byte("null")) {
		var list []map[string]json.RawMessage
		if json.Unmarshal(overrides, &list) != nil {
			return nil, herald.PropertyError(herald.EInvalidProperty, "notification.recipients",
				"notification.recipients must be a list of objects, each naming one recipient.")
		}
		isRecipient := make(map[string]bool, len(recipients))
		for _, r := range recipients {
			isRecipient[r] = true
		}
		seen := map[string]bool{}
		normalized := make([]map[string]json.RawMessage, len(list))
		for i, o := range list {
			where := fmt.Sprintf("notification.recipients[%d]", i)
			nameKey := "user_id"
			if identityIDs {
				nameKey = "recipient"
			}
			var user string
			if o == nil || json.Unmarshal(o[nameKey], &user) != nil || user == "" {
				return nil, herald.PropertyError(herald.EMissingProperty, where+"."+nameKey, "%s needs %s, naming one of the recipients.", where, nameKey)
			}
			if err := checkRecipientForm(where+"."+nameKey, user, identityIDs); err != nil {
				return nil, err
			}
			user = herald.LocalID(user, herald.IdentityIDPrefix)
			if !isRecipient[user] {
				return nil, herald.PropertyError(herald.EInvalidProperty, where+"."+nameKey, "%s %q is not one of the recipients.", where, user)
			}
			if seen[user] {
				return nil, herald.PropertyError(herald.EInvalidProperty, where+"."+nameKey, "%s: %q has another override already.", where, user)
			}
			seen[user] = true
			delete(o, nameKey)
			if err := checkPushFields(where, o, overrideStrings, false); err != nil {
				return nil, err
			}
			b, _ := json.Marshal(o)
			largest = max(largest, len(b))
			o["user_id"], _ = json.Marshal(user)
			normalized[i] = o
		}
		fields["recipients"], _ = json.Marshal(normalized)
	}
	if len(root)+largest > MaxPushSize {
		e := herald.PropertyError(herald.EInvalidProperty, "notification",
			"notification holds %d bytes for one of its recipients; push services take at most %d.", len(root)+largest, MaxPushSize)
		e.Data["limit"] = MaxPushSize
		return nil, e
	}
	return json.Marshal(fields)
}

// checkPushFields checks the keys of a notification object or override:
// strings where strings go, and, at the root, lists of strings for the
// localization arguments, an object for data and for apns.
func checkPushFields(where string, fields map[string]json.RawMessage, strs []string, root bool) error {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fields[k]
		property := where + "." + k
		switch {
		case slices.Contains(strs, k):
			var str string
			if json.Unmarshal(v, &str) != nil {
				return herald.PropertyError(herald.EInvalidProperty, property, "%s must be a string.", property)
			}
		case root && slices.Contains(pushStringLists, k):
			var list []string
			if json.Unmarshal(v, &list) != nil {
				return herald.PropertyError(herald.EInvalidProperty, property, "%s must be a list of strings.", property)
			}
		case root && k == "data":
			if _, err := checkMetadata(property, v); err != nil {
				return err
			}
		case root && k == "apns":
			var apns map[string]json.RawMessage
			if json.Unmarshal(v, &apns) != nil {
				return herald.PropertyError(herald.EInvalidProperty, property, "%s must be an object such as {\"launch-image\": \"…\"}.", property)
			}
			for ak, av := range apns {
				var str string
				if ak != "launch-image" || json.Unmarshal(av, &str) != nil {
					return herald.PropertyError(herald.EInvalidProperty, property+"."+ak, "%s takes only launch-image, a string.", property)
				}
			}
		default:
			allowed := strs
			if root {
				allowed = append(append(append([]string{}, strs...), pushStringLists...), "data", "apns", "recipients")
			}
			return herald.PropertyError(herald.EInvalidProperty, property, "%s is not a notification key; the keys are %s.",
				property, strings.Join(allowed, ", "))
		}
	}
	return nil
}
