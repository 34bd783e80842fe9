package callbell

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Format is the Callbell wire format as the delivery engine drives it.
type Format struct {
	URLs *urls.Builder
}

// EventTypes lists the events a Callbell webhook may subscribe to, in its
// only payload version.
func (Format) EventTypes(string) []string { return EventTypes }

// EventType is Callbell's name of the event; "" for events Callbell has no
// webhook for.
func (Format) EventType(e *herald.Event, _ string) string { return EventName(e.Type) }

// HealthChecked makes Callbell webhooks active at once, without Layer's
// verification challenge, and checks their receivers periodically instead,
// as Callbell does.
func (Format) HealthChecked() bool { return true }

// CheckConfig validates a webhook's options (see the function CheckConfig).
func (Format) CheckConfig(raw json.RawMessage) error { return CheckConfig(raw) }

// Versions lists the payload versions: Callbell has only one.
func (Format) Versions() []string { return Versions }

// Render renders an event with the webhook's options. ok is false for
// events Callbell does not deliver, among them the message.sent events of
// messages outside a contact's conversation.
func (f Format) Render(e *herald.Event, d *herald.EventData, w *herald.Webhook) ([]byte, bool, error) {
	return render(e, d, w.Version, w.Config, f.URLs)
}

// SetHeaders sets Callbell's headers, and its signature when the webhook
// has a secret, made at the time of the attempt: during a rotation's grace
// period, with a v1 signature of the secret it replaced after the new one.
func (Format) SetHeaders(h http.Header, w *herald.Webhook, d *herald.Delivery, at time.Time) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	switch {
	case w.Secret != "" && w.PreviousSigningKey != "" && w.InGrace(at):
		h.Set(SignatureHeader, SignAll(at, d.Body, w.Secret, w.PreviousSigningKey))
	case w.Secret != "":
		h.Set(SignatureHeader, Sign(w.Secret, at, d.Body))
	default:
		h.Del(SignatureHeader)
	}
}

// UserAgent is the User-Agent of Callbell deliveries.
const UserAgent = "herald-webhooks"
