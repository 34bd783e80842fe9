// Package layer renders Herald events in the wire format of Layer's
// webhooks, so that receivers written for Layer keep working against Herald.
// A delivery is a JSON body {"event": {...}, "message"|"conversation": {...},
// "config"?} in payload version 1.0 (users are bare user ids) or 2.0 (users
// are Basic Identity objects), or in version 3.0, Layer's last, whose events
// have names of their own ("Message.created") and bodies of their own (see
// EventTypes3), sent with Layer's headers and signed with a hex HMAC-SHA1
// of the body keyed by the webhook's secret.
package layer

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"slices"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/keyedmac"
)

// Payload versions. Layer fixed a webhook's version when it was registered
// and rendered every delivery of that webhook in it.
const (
	Version1 = "1.0"
	Version2 = "2.0"
	Version3 = "3.0"
)

// Versions lists the payload versions Render accepts, the default first:
// Herald defaulted to 1.0 before it knew the others, and a webhook
// registered without a version must keep getting what it always got.
var Versions = []string{Version1, Version2, Version3}

// IsVersion reports whether v is a payload version Render accepts.
func IsVersion(v string) bool { return slices.Contains(Versions, v) }

// EventTypes are the events a Layer webhook of payload version 1.0 or 2.0
// could subscribe to, under Herald's own names, which were Layer's. Herald
// records more kinds of events (identities, announcements, content,
// per-user deletion), but Layer sent none of those to webhooks, and a
// receiver written for Layer would not know them.
var EventTypes = []string{
	herald.EventMessageSent,
	herald.EventMessageDelivered,
	herald.EventMessageRead,
	herald.EventMessageDeleted,
	herald.EventConversationCreated,
	herald.EventConversationUpdatedP,
	herald.EventConversationUpdatedM,
	herald.EventConversationDeleted,
}

// IsEventType reports whether t is one of EventTypes.
func IsEventType(t string) bool { return slices.Contains(EventTypes, t) }

// EventTypesOf lists the events a webhook of payload version version may
// subscribe to; nil for an unknown version.
func EventTypesOf(version string) []string {
	switch version {
	case Version1, Version2:
		return EventTypes
	case Version3:
		return EventTypes3
	}
	return nil
}

// EventName is the name under which a webhook of payload version version
// subscribes to, and receives, events of Herald's type typ; "" when that
// version delivers no such event.
func EventName(typ, version string) string {
	switch version {
	case Version1, Version2:
		if IsEventType(typ) {
			return typ
		}
	case Version3:
		return names3[typ]
	}
	return ""
}

// Sign returns the layer-webhook-signature of body: the hex HMAC-SHA1 of the
// exact bytes sent, keyed by the webhook's secret. Receivers recompute it
// over the raw body, so body must not be re-serialised after signing.
func Sign(secret string, body []byte) string {
	var sum [sha1.Size]byte
	return hex.EncodeToString(macs.Sum(sum[:0], secret, body))
}

var macs = keyedmac.New(sha1.New)

// Headers sets Layer's webhook request headers on h. requestID must stay the
// same when a delivery is retried, as receivers deduplicate on it.
func Headers(h http.Header, eventType, version, webhookID, requestID, signature string) {
	// Keys in canonical form, as Set would store them, without Set's
	// canonicalising of each one on every delivery; the values share one
	// array, each capped at its own element so that an Add to one header
	// cannot write into the next.
	v := []string{eventType, signature, requestID, webhookID, userAgent(version), ContentType(version)}
	h["Layer-Webhook-Event-Type"] = v[0:1:1]
	h["Layer-Webhook-Signature"] = v[1:2:2]
	h["Layer-Webhook-Request-Id"] = v[2:3:3]
	h["Layer-Webhook-Id"] = v[3:4:4]
	h["User-Agent"] = v[4:5:5]
	h["Content-Type"] = v[5:6:6]
}

func userAgent(version string) string {
	switch version {
	case "1.0":
		return "layer-webhooks/1.0"
	case "2.0":
		return "layer-webhooks/2.0"
	case "3.0":
		return "layer-webhooks/3.0"
	}
	return "layer-webhooks/" + version
}

// ContentType is the media type of a payload of the given version.
func ContentType(version string) string {
	// The known versions' types are constants, not built per delivery.
	switch version {
	case "1.0":
		return "application/vnd.layer.webhooks+json; version=1.0"
	case "2.0":
		return "application/vnd.layer.webhooks+json; version=2.0"
	case "3.0":
		return "application/vnd.layer.webhooks+json; version=3.0"
	}
	return "application/vnd.layer.webhooks+json; version=" + version
}
