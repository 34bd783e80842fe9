package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// Event is a decoded delivery: *LayerEvent or *CallbellEvent.
type Event interface {
	// EventType is the event's name in the webhook's format and version.
	EventType() string
	// EventID is the event's id where the body has one (Layer's event.id).
	EventID() string
	// ConversationID is the Layer id of the conversation the event is
	// about; "" when none.
	ConversationID() string
	isEvent()
}

// Errors of decoding; every error Decode returns wraps one.
var (
	// ErrUnknownFormat: neither the headers nor the body say which format
	// the delivery is in.
	ErrUnknownFormat = errors.New("not a Herald delivery of a known format")
	// ErrUnknownVersion: a Layer payload version this package does not know.
	ErrUnknownVersion = errors.New("unknown payload version")
	// ErrUnknownEvent: an event type of no format this package knows.
	ErrUnknownEvent = errors.New("unknown event type")
	// ErrPayload: the body does not have the event's shape (or, decoding
	// strictly, has a field this package does not know).
	ErrPayload = errors.New("malformed payload")
)

// Decoder decodes deliveries. The zero Decoder ignores fields it does not
// know, as a receiver should, so that fields Herald adds later do not break
// it.
type Decoder struct {
	// Strict refuses a body with a field no type of this package has, as
	// encoding/json's DisallowUnknownFields would: for tests that must
	// notice when Herald sends something new.
	Strict bool
}

// Decode decodes a delivery with the zero Decoder.
func Decode(h http.Header, body []byte) (Event, error) { return Decoder{}.Decode(h, body) }

// Decode decodes a delivery, telling its format and version from its
// headers: Layer's Content-Type ("application/vnd.layer.webhooks+json;
// version=2.0", or its User-Agent "layer-webhooks/2.0"), else Callbell's
// {"event": NAME, "payload": …} body.
func (d Decoder) Decode(h http.Header, body []byte) (Event, error) {
	if v := layerVersion(h.Get("Content-Type"), h.Get("User-Agent")); v != "" {
		e, err := d.DecodeLayer(v, body)
		if err != nil {
			return nil, err
		}
		if t := h.Get("Layer-Webhook-Event-Type"); t != "" && t != e.Event.Type {
			return nil, fmt.Errorf("%w: layer-webhook-event-type %q, event.type %q", ErrPayload, t, e.Event.Type)
		}
		return e, nil
	}
	if h.Get("Layer-Webhook-Event-Type") != "" {
		return nil, fmt.Errorf("%w: a Layer delivery without its version (Content-Type %q)", ErrUnknownVersion, h.Get("Content-Type"))
	}
	var probe struct {
		Event json.RawMessage `json:"event"`
	}
	if json.Unmarshal(body, &probe) == nil && len(probe.Event) > 0 && probe.Event[0] == '"' {
		return d.DecodeCallbell(body)
	}
	return nil, ErrUnknownFormat
}

// DecodeLayer decodes the body of a Layer-format delivery of the payload
// version.
func (d Decoder) DecodeLayer(version string, body []byte) (*LayerEvent, error) {
	types := LayerEventTypes(version)
	if types == nil {
		return nil, fmt.Errorf("%w: Layer %q (want 1.0, 2.0 or 3.0)", ErrUnknownVersion, version)
	}
	e := &LayerEvent{}
	if err := d.unmarshal(body, e); err != nil {
		return nil, err
	}
	e.Version = version
	if !slices.Contains(types, e.Event.Type) {
		return nil, fmt.Errorf("%w: %q in Layer payload version %s", ErrUnknownEvent, e.Event.Type, version)
	}
	return e, nil
}

// DecodeCallbell decodes the body of a Callbell-format delivery.
func (d Decoder) DecodeCallbell(body []byte) (*CallbellEvent, error) {
	var env struct {
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := d.unmarshal(body, &env); err != nil {
		return nil, err
	}
	p := callbellPayload(env.Event)
	if p == nil {
		return nil, fmt.Errorf("%w: Callbell %q", ErrUnknownEvent, env.Event)
	}
	if err := d.unmarshal(env.Payload, p); err != nil {
		return nil, fmt.Errorf("%s payload: %w", env.Event, err)
	}
	return &CallbellEvent{Event: env.Event, Payload: p}, nil
}

func (d Decoder) unmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if d.Strict {
		var tree any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			return fmt.Errorf("%w: %v", ErrPayload, err)
		}
		if path := unknownField(tree, reflect.TypeOf(v), ""); path != "" {
			return fmt.Errorf("%w: unknown field %s", ErrPayload, path)
		}
	}
	return nil
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

// unknownField returns the path of the first member of v, a decoded JSON
// value, that type t has no field for; "" when there is none. It does what
// DisallowUnknownFields does, through the types' own UnmarshalJSON too
// (which DisallowUnknownFields does not reach).
func unknownField(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return "" // free-form JSON
	}
	switch v := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			keys := sortedKeys(v)
			for _, k := range keys {
				if p := unknownField(v[k], t.Elem(), path+"."+k); p != "" {
					return p
				}
			}
		case reflect.Struct:
			if reflect.PointerTo(t).Implements(textUnmarshaler) {
				return ""
			}
			fields := jsonFields(t)
			for _, k := range sortedKeys(v) {
				f, ok := fields[k]
				if !ok {
					return strings.TrimPrefix(path+"."+k, ".")
				}
				if p := unknownField(v[k], f, path+"."+k); p != "" {
					return p
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range v {
				if p := unknownField(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonFields maps the JSON names of a struct's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
