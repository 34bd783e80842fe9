package layer

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Format is the Layer wire format as the delivery engine drives it.
type Format struct {
	URLs *urls.Builder
}

// EventTypes lists the events a Layer webhook of the payload version may
// subscribe to: 3.0 has names of its own.
func (Format) EventTypes(version string) []string { return EventTypesOf(version) }

// EventType is the event's name in the payload version, for the events
// Layer delivered in it.
func (Format) EventType(e *herald.Event, version string) string { return EventName(e.Type, version) }

// Versions lists the payload versions, the default first.
func (Format) Versions() []string { return Versions }

// Render renders an event, its data decoded, in the webhook's payload
// version, with its config.
func (f Format) Render(e *herald.Event, d *herald.EventData, w *herald.Webhook) ([]byte, bool, error) {
	return RenderData(e, d, w.Version, w.Config, f.URLs)
}

// SetHeaders sets Layer's headers; the request id is the delivery's, the
// same on every retry.
func (Format) SetHeaders(h http.Header, w *herald.Webhook, d *herald.Delivery, _ time.Time) {
	Headers(h, d.EventType, w.Version, w.ID, d.ID, Sign(w.Secret, d.Body))
}
