// Package callbell renders Herald events in the wire format of Callbell's
// webhooks, so that receivers written for Callbell keep working against
// Herald. A delivery is a JSON body {"event": NAME, "payload": {...}},
// sent as application/json and, when the webhook has a secret, signed in
// Herald's own X-Callbell-Signature header, which Callbell itself neither
// sends nor documents: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">".
//
// Callbell's events are about contacts (customers reached on a channel),
// their conversations and the messages in them: Herald's contact events,
// conversation.opened and conversation.closed, message.status_updated, and
// the message.sent events of messages that carry a channel.
package callbell

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/heraldhq/herald"
)

// Callbell's event names.
const (
	MessageCreated       = "message_created"
	MessageStatusUpdated = "message_status_updated"
	ContactCreated       = "contact_created"
	ContactUpdated       = "contact_updated"
	ContactDeleted       = "contact_deleted"
	ConversationOpened   = "conversation_opened"
	ConversationClosed   = "conversation_closed"
)

// EventTypes are the events a Callbell webhook may subscribe to.
var EventTypes = []string{
	MessageCreated,
	MessageStatusUpdated,
	ContactCreated,
	ContactUpdated,
	ContactDeleted,
	ConversationOpened,
	ConversationClosed,
}

// Version is the only payload version: Callbell's payloads have none.
const Version = "1"

// Versions lists the payload versions.
var Versions = []string{Version}

// eventNames maps Herald's event types to Callbell's names.
var eventNames = map[string]string{
	herald.EventMessageSent:          MessageCreated,
	herald.EventMessageStatusUpdated: MessageStatusUpdated,
	herald.EventContactCreated:       ContactCreated,
	herald.EventContactUpdated:       ContactUpdated,
	herald.EventContactDeleted:       ContactDeleted,
	herald.EventConversationOpened:   ConversationOpened,
	herald.EventConversationClosed:   ConversationClosed,
}

// EventName is Callbell's name of a Herald event type; "" for the types
// Callbell has no event for. A message.sent maps to message_created even
// though only the messages with a channel are delivered.
func EventName(heraldType string) string { return eventNames[heraldType] }

// Values of the context_field option.
const (
	// ContextFieldMessage is the name Callbell's release note gives the
	// reply-context field, and the default.
	ContextFieldMessage = "messageContext"
	// ContextFieldMesage is the spelling of Callbell's payload docs table.
	ContextFieldMesage = "mesageContext"
	// ContextFieldBoth emits both keys with the same value.
	ContextFieldBoth = "both"
)

// ContextFields are the values the context_field option may take.
var ContextFields = []string{ContextFieldMessage, ContextFieldMesage, ContextFieldBoth}

// Config is a Callbell webhook's options, read from its config object.
type Config struct {
	// ContextField names the reply-context field of message_created: one
	// of ContextFields; ContextFieldMessage when empty.
	ContextField string `json:"context_field"`
}

// CheckConfig validates a webhook's config object: absent, null, or an
// object whose only key is context_field, one of ContextFields. The error
// names the offending property (config, config.<key>).
func CheckConfig(raw json.RawMessage) error {
	_, err := parseConfig(raw)
	return err
}

func parseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	var obj map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return c, herald.PropertyError(herald.EInvalidProperty, "config",
			"config must be a JSON object, such as {\"context_field\": \"messageContext\"}.")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != "context_field" {
			return c, herald.PropertyError(herald.EInvalidProperty, "config."+k,
				"config.%s is not an option of Callbell webhooks; the only option is context_field.", k)
		}
	}
	if v, ok := obj["context_field"]; ok {
		if json.Unmarshal(v, &c.ContextField) != nil || !slices.Contains(ContextFields, c.ContextField) {
			return c, herald.PropertyError(herald.EInvalidProperty, "config.context_field",
				"config.context_field must be one of %q, %q or %q, not %s.",
				ContextFieldMessage, ContextFieldMesage, ContextFieldBoth, bytes.TrimSpace(v))
		}
	}
	return c, nil
}

// contextKeys are the keys under which a message's reply context goes.
func (c Config) contextKeys() (message, mesage bool) {
	switch c.ContextField {
	case ContextFieldMesage:
		return false, true
	case ContextFieldBoth:
		return true, true
	}
	return true, false
}
