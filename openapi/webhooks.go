package openapi

import (
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/layer"
)

// The deliveries Herald sends, as the document's webhooks: one entry per
// format, payload version and event, named "<format>-<version>-<event>"
// (layer-2.0-message.sent, layer-3.0-Message.created,
// callbell-message_created), each a POST of the payload with its headers,
// so that receivers can generate a type per event. The event lists are the
// formats' own (layer.EventTypesOf, callbell.EventTypes): an event added
// there without a payload here fails the document's test.

// webhookConfig is the webhook's config object, added to Layer payloads
// when it has one.
var webhookConfig = M{"type": "object", "description": "The webhook's config object, as registered, when it has one."}

// WebhookName names the webhooks entry of a delivery.
func WebhookName(format, version, event string) string {
	if format == "callbell" {
		return "callbell-" + event
	}
	return format + "-" + version + "-" + event
}

func webhookPayloads(b *builder) {
	s := b.schemas
	// Layer 1.0 and 2.0: {event, message | conversation, config?}.
	s["LayerWebhookContent"] = closed(M{"id": str(""), "download_url": uri, "expiration": str(""), "refresh_url": uri, "size": integer})
	s["LayerWebhookPart"] = M{"oneOf": []any{
		object(M{"id": str(""), "mime_type": str(""), "body": str(""), "encoding": strEnum("base64")}, "mime_type", "body"),
		object(M{"id": str(""), "mime_type": str(""), "content": ref("LayerWebhookContent")}, "mime_type", "content"),
	}}
	for _, v := range []string{layer.Version1, layer.Version2} {
		suffix := map[string]string{layer.Version1: "1", layer.Version2: "2"}[v]
		var user, sender, actor M
		if v == layer.Version1 {
			user = str("A user id.")
			sender = M{"oneOf": []any{closed(M{"user_id": str("")}), closed(M{"name": str(""), "user_id": M{"type": "null"}})}}
			actor = object(M{"user_id": str(""), "name": str("")})
		} else {
			user = ref("BasicIdentity")
			sender, actor = user, user
		}
		s["LayerWebhookConversation"+suffix] = closed(M{"id": str(""), "url": uri, "created_at": str(""), "messages_url": uri, "distinct": boolean,
			"participants": arrayOf(user), "metadata": ref("Metadata")})
		s["LayerWebhookMessage"+suffix] = object(M{"id": str(""), "url": M{"type": "string", "format": "uri", "description": "On message.deleted only."},
			"conversation": ref("Ref"), "parts": arrayOf(ref("LayerWebhookPart")), "sent_at": str(""), "sender": sender,
			"recipient_status": mapOf(strEnum("sent", "delivered", "read"))}, "id", "conversation", "parts", "sent_at", "sender", "recipient_status")
		for _, event := range layer.EventTypesOf(v) {
			about, schema := "conversation", "LayerWebhookConversation"+suffix
			if len(event) > 8 && event[:8] == "message." {
				about, schema = "message", "LayerWebhookMessage"+suffix
			}
			body := object(M{"event": object(M{"created_at": str(""), "type": M{"const": event}, "id": str(""), "actor": actor}, "created_at", "type", "id"),
				about: ref(schema), "config": webhookConfig}, "event", about)
			b.webhooks[WebhookName("layer", v, event)] = layerDelivery(v, event, body)
		}
	}

	// Layer 3.0: bodies of their own per event.
	s["LayerWebhookPart3"] = M{"oneOf": []any{
		object(M{"id": str(""), "mime_type": str(""), "body": str(""), "encoding": strEnum("base64")}, "mime_type", "body"),
		object(M{"id": str(""), "mime_type": str(""), "content": ref("LayerWebhookContent")}, "mime_type", "content"),
	}}
	s["LayerWebhookMessage3"] = object(M{"id": str(""), "url": uri, "conversation": ref("Ref"), "parts": arrayOf(ref("LayerWebhookPart3")),
		"sent_at": str(""), "sender": ref("BasicIdentity"), "recipient_status": mapOf(strEnum("sent", "delivered", "read")), "position": integer,
		"updated_at": str("")}, "id", "url", "conversation", "parts", "sent_at", "sender", "recipient_status", "position")
	event3 := func(name string) M {
		return closed(M{"id": str(""), "type": M{"const": name}, "created_at": str("")})
	}
	for _, event := range layer.EventTypesOf(layer.Version3) {
		props := M{"event": event3(event), "actor": ref("BasicIdentity"), "config": webhookConfig}
		required := []string{"event"}
		switch event {
		case layer.Message3Created, layer.Message3Deleted:
			props["message"] = ref("LayerWebhookMessage3")
			required = append(required, "message")
		case layer.Receipt3Created:
			props["conversation"] = M{"oneOf": []any{ref("LayerWebhookConversation2"), ref("Ref")}}
			props["message"] = ref("LayerWebhookMessage3")
			props["receipt"] = closed(M{"type": strEnum("Read", "Delivery"), "positions": closed(M{"from": integer, "to": integer})})
			required = append(required, "conversation", "receipt")
		case layer.MessagePart3Created, layer.MessagePart3Updated, layer.MessagePart3Deleted:
			props["message_part"] = ref("LayerWebhookPart3")
			props["message"] = ref("LayerWebhookMessage3")
			required = append(required, "message_part", "message")
		default:
			props["conversation"] = ref("LayerWebhookConversation2")
			required = append(required, "conversation")
		}
		b.webhooks[WebhookName("layer", layer.Version3, event)] = layerDelivery(layer.Version3, event, object(props, required...))
	}

	// The test event (POST /apps/{app}/webhooks/{id}/test): the webhook as
	// the object, in the format's envelope.
	for _, v := range layer.Versions {
		body := object(M{"event": closed(M{"created_at": str(""), "type": M{"const": delivery.TestEventLayer}, "id": str("")}),
			"webhook": closed(M{"id": str(""), "target_url": uri, "events": arrayOf(str(""))}), "config": webhookConfig}, "event", "webhook")
		b.webhooks[WebhookName("layer", v, delivery.TestEventLayer)] = layerDelivery(v, delivery.TestEventLayer, body)
	}
	b.webhooks[WebhookName("callbell", callbell.Version, delivery.TestEventCallbell)] = deliveryEntry("Callbell's test event.", []M{
		header(callbell.SignatureHeader, "As every Callbell delivery's.", str("")),
	}, jsonContent(closed(M{"event": M{"const": delivery.TestEventCallbell},
		"payload": closed(M{"webhookId": str(""), "url": uri, "events": arrayOf(str("")), "createdAt": str("")})})))

	// Callbell: {event, payload}, one version.
	s["CBWebhookContact"] = ref("CBContact")
	for _, event := range callbell.EventTypes {
		var payload M
		switch event {
		case callbell.MessageCreated:
			payload = ref("CBMessage")
		case callbell.MessageStatusUpdated:
			payload = open(M{"uuid": str(""), "status": str(""), "contact": orNull(ref("CBContact")), "messageStatusPayload": anyJSON, "metadata": mapOf(str(""))}, "uuid", "status")
		case callbell.ContactCreated, callbell.ContactUpdated:
			payload = ref("CBContact")
		case callbell.ContactDeleted:
			payload = closed(M{"uuid": str(""), "deleted": str("")})
		case callbell.ConversationOpened, callbell.ConversationClosed:
			payload = open(M{"source": str(""), "href": str(""), "contact": orNull(ref("CBContact")), "closingReason": anyJSON, "createdAt": str(""), "closedAt": str("")}, "contact", "createdAt")
		default: // the agents' events
			payload = open(M{"user": anyObject, "team": anyObject, "action": str(""), "reason": str("")})
		}
		body := closed(M{"event": M{"const": event}, "payload": payload})
		b.webhooks[WebhookName("callbell", callbell.Version, event)] = deliveryEntry("Callbell's "+event+".", []M{
			header(callbell.SignatureHeader, "Herald's signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> keyed by the webhook's secret; several v1 during a rotation.", str("")),
		}, jsonContent(body))
	}
}

// standardHeaders are the Standard Webhooks headers every delivery carries.
var standardHeaders = []M{
	header("webhook-id", "The delivery's id, the same on every retry.", str("")),
	header("webhook-timestamp", "When the attempt was signed, in Unix seconds.", str("")),
	header("webhook-signature", "Space-separated v1,<base64 HMAC-SHA256 of id.timestamp.body> keyed by the webhook's signing_secret, and v1a,<base64 ed25519> when it has an ed25519 key.", str("")),
}

func layerDelivery(version, event string, body M) M {
	mt := layer.ContentType(version)
	return deliveryEntry("Layer payload "+version+": "+event+".", []M{
		header("layer-webhook-event-type", event, M{"const": event}),
		header("layer-webhook-signature", "The hex HMAC-SHA1 of the body keyed by the webhook's secret.", str("")),
		header("layer-webhook-request-id", "The delivery's id, the same on every retry.", str("")),
		header("layer-webhook-id", "The webhook's id.", str("")),
	}, M{mt: M{"schema": body}})
}

func deliveryEntry(summary string, headers []M, content M) M {
	ps := []any{}
	for _, h := range append(append([]M{}, headers...), standardHeaders...) {
		h["required"] = true
		ps = append(ps, h)
	}
	return M{"post": M{"summary": summary, "parameters": ps, "requestBody": M{"required": true, "content": content},
		"responses": M{"2XX": M{"description": "Received: any 2xx. Anything else, or no answer within the webhook's timeout, is retried."}}}}
}
