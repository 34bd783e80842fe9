package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// Delivery is a verified, decoded delivery, as Handler hands it on.
type Delivery struct {
	// ID names the delivery, the same on every retry: webhook-id, or
	// Layer's layer-webhook-request-id. Deduplicate on it (or on Layer's
	// event.id).
	ID string
	// WebhookID is Layer's layer-webhook-id: the webhook's id.
	WebhookID string
	// Format is "layer" or "callbell"; Version the payload version.
	Format, Version string
	// Verified says which signatures verified, and when the delivery was
	// signed.
	Verified Result
	// Header and Body are what arrived: Body the exact bytes signed.
	Header http.Header
	Body   []byte
	Event  Event
}

type contextKey struct{}

// FromContext returns the delivery Handler put in a request's context.
func FromContext(ctx context.Context) (*Delivery, bool) {
	d, ok := ctx.Value(contextKey{}).(*Delivery)
	return d, ok
}

// NewContext returns ctx carrying d.
func NewContext(ctx context.Context, d *Delivery) context.Context {
	return context.WithValue(ctx, contextKey{}, d)
}

// Handler receives Herald's webhooks: it answers Layer's verification
// challenge (GET ?verification_challenge=X, echoed) and Callbell's health
// check (any other GET), and for each POST reads the body (at most
// MaxBody), verifies it, decodes it, and hands the Delivery on: to
// OnDelivery when set, else to Next with the delivery in the request's
// context (FromContext). A delivery that fails answers 401 (signature) or
// 400 (payload) with a one-line reason, which Herald keeps in the
// delivery's log; Herald retries it, so fix the key and it arrives.
type Handler struct {
	Verifier *Verifier
	// Decoder decodes bodies; the zero Decoder ignores unknown fields.
	Decoder Decoder
	// MaxBody bounds a body; DefaultMaxBody when 0.
	MaxBody int64
	// OnDelivery, when set, handles each delivery: nil answers 204, an
	// error 500 (and Herald retries).
	OnDelivery func(ctx context.Context, d *Delivery) error
	// Next handles each delivery when OnDelivery is nil; nil answers 204.
	Next http.Handler
}

// Middleware returns a Handler that verifies with v and hands each delivery
// to next in the request's context.
func Middleware(v *Verifier, next http.Handler) *Handler {
	return &Handler{Verifier: v, Next: next}
}

// HandlerFunc returns a Handler that verifies with v and calls f with each
// delivery.
func HandlerFunc(v *Verifier, f func(ctx context.Context, d *Delivery) error) *Handler {
	return &Handler{Verifier: v, OnDelivery: f}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.probe(w, r)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		fail(w, http.StatusMethodNotAllowed, "webhooks are POSTed")
		return
	}
	d, status, err := h.Receive(r)
	if err != nil {
		fail(w, status, err.Error())
		return
	}
	switch {
	case h.OnDelivery != nil:
		if err := h.OnDelivery(r.Context(), d); err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
	case h.Next != nil:
		h.Next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), d)))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Receive reads, verifies and decodes the delivery a request carries. On
// failure it returns the status to answer: 413 for a body over MaxBody, 401
// for a signature that does not verify, 400 for a body that does not decode.
func (h *Handler) Receive(r *http.Request) (*Delivery, int, error) {
	body, err := ReadBody(r, h.MaxBody)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			return nil, http.StatusRequestEntityTooLarge, err
		}
		return nil, http.StatusBadRequest, err
	}
	if h.Verifier == nil {
		return nil, http.StatusInternalServerError, ErrNoKeys
	}
	res, err := h.Verifier.Verify(r.Header, body)
	if err != nil {
		return nil, http.StatusUnauthorized, err
	}
	ev, err := h.Decoder.Decode(r.Header, body)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	d := &Delivery{ID: res.ID, WebhookID: r.Header.Get("Layer-Webhook-Id"), Verified: res, Header: r.Header, Body: body, Event: ev}
	if d.ID == "" {
		d.ID = r.Header.Get("Layer-Webhook-Request-Id")
	}
	switch e := ev.(type) {
	case *LayerEvent:
		d.Format, d.Version = "layer", e.Version
	case *CallbellEvent:
		d.Format, d.Version = "callbell", "1"
	}
	return d, 0, nil
}

// probe answers a GET: Layer's verification challenge, echoed once its
// Standard Webhooks signature (over an empty body) verifies, if the
// Verifier holds secrets; any other GET, Callbell's health check, with
// {"status":"ok"}.
func (h *Handler) probe(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("verification_challenge")
	if challenge == "" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
		return
	}
	if h.Verifier != nil && len(h.Verifier.Secrets) > 0 && r.Header.Get(HeaderWebhookSignature) != "" {
		v := *h.Verifier
		v.PublicKeys, v.LayerSecrets = nil, nil
		if _, err := v.Verify(r.Header, nil); err != nil {
			fail(w, http.StatusUnauthorized, "verification challenge: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, challenge)
}

// fail answers with a status and a short JSON reason.
func fail(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": strings.TrimSpace(reason)})
}
