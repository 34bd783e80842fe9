package http

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
)

type webhookJSON struct {
	ID             string          `json:"id"`
	URL            string          `json:"url"`
	Format         string          `json:"format"`
	Version        string          `json:"version"`
	TargetURL      string          `json:"target_url"`
	Events         []string        `json:"events"`
	Status         string          `json:"status"`
	StatusReason   string          `json:"status_reason,omitempty"`
	CreatedAt      string          `json:"created_at"`
	Config         json.RawMessage `json:"config"`
	RetrySchedule  []float64       `json:"retry_schedule"`
	TimeoutSeconds float64         `json:"timeout_seconds"`
	// SigningSecret keys the Standard Webhooks signature; it is shown once,
	// in the response that creates the webhook or rotates its keys.
	SigningSecret string `json:"signing_secret,omitempty"`
	// SigningPublicKey verifies the webhook's ed25519 (v1a) signatures,
	// when it has an ed25519 key; it is public, and always shown.
	SigningPublicKey string `json:"signing_public_key,omitempty"`
	// Rotation is shown during a rotation's grace period.
	Rotation *rotationJSON `json:"rotation,omitempty"`
}

// rotationJSON says until when the keys a rotation replaced still sign,
// never what they are, but for the public key of the replaced ed25519 key.
type rotationJSON struct {
	GraceUntil               string `json:"grace_until"`
	PreviousSigningPublicKey string `json:"previous_signing_public_key,omitempty"`
}

// rotation renders a webhook's rotation, nil outside a grace period.
func (s *Server) rotation(w *herald.Webhook) *rotationJSON {
	if !w.InGrace(s.renderTime()) {
		return nil
	}
	return &rotationJSON{GraceUntil: herald.FormatTime(*w.PreviousKeysUntil),
		PreviousSigningPublicKey: delivery.PublicKey(w.PreviousAsymmetricKey)}
}

// renderTime is the time a response is rendered at: the URLs' clock, which
// tests move.
func (s *Server) renderTime() time.Time {
	if s.URLs != nil && s.URLs.Now != nil {
		return s.URLs.Now()
	}
	return time.Now()
}

func (s *Server) renderWebhook(w *herald.Webhook) webhookJSON {
	out := webhookJSON{
		ID: "layer:///apps/" + w.AppID + "/webhooks/" + w.ID, URL: s.URLs.App(w.AppID) + "/webhooks/" + w.ID,
		Format: w.Format, Version: w.Version, TargetURL: w.TargetURL, Events: w.Events, Status: w.Status, StatusReason: w.StatusReason,
		CreatedAt: herald.FormatTime(w.CreatedAt), Config: objectOrEmpty(w.Config),
		RetrySchedule: make([]float64, len(w.RetrySchedule)), TimeoutSeconds: w.Timeout.Seconds(),
		SigningPublicKey: delivery.PublicKey(w.AsymmetricKey), Rotation: s.rotation(w),
	}
	for i, d := range w.RetrySchedule {
		out.RetrySchedule[i] = d.Seconds()
	}
	return out
}

// webhookID accepts a webhook id bare or as its Layer id.
func webhookID(r *http.Request) string {
	id := r.PathValue("id")
	return id[strings.LastIndex(id, "/")+1:]
}

// webhookInput is a Layer webhook registration. Layer's docs of February
// and March 2016 named the events event_types (webhooks/rest/create.md of
// that time, kept in the iFadey/documentation fork of Layer's docs);
// clients written then still send that name.
type webhookInput struct {
	delivery.WebhookInput
	EventTypes []string `json:"event_types"`
}

// UnmarshalJSON decodes the two parts apart, so that a value of the wrong
// type is reported under its own name ("events"), not under the Go path of
// the embedded struct ("WebhookInput.events").
func (in *webhookInput) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &in.WebhookInput); err != nil {
		return err
	}
	var alias struct {
		EventTypes []string `json:"event_types"`
	}
	err := json.Unmarshal(b, &alias)
	in.EventTypes = alias.EventTypes
	return err
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	var in webhookInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	alias := in.EventTypes != nil
	if alias {
		if in.Events != nil && !slices.Equal(in.Events, in.EventTypes) {
			return herald.PropertyError(herald.EInvalidProperty, "event_types",
				"events and event_types name the same list; give one, or the same list in both.")
		}
		in.Events = in.EventTypes
	}
	wh, err := s.Engine.CreateWebhook(r.Context(), app, herald.FormatLayer, in.WebhookInput)
	if e, ok := herald.AsError(err); ok && alias {
		// An error about the list names it as the client sent it.
		if prop, _ := e.Data["property"].(string); strings.HasPrefix(prop, "events") {
			named := "event_types" + strings.TrimPrefix(prop, "events")
			e.Data["property"] = named
			e.Message = strings.Replace(e.Message, prop, named, 1)
		}
	}
	if err != nil {
		return err
	}
	out := s.renderWebhook(wh)
	out.SigningSecret = wh.SigningKey
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// rotateWebhookSecret gives a webhook new keys; the replaced ones sign
// beside them for the grace period. The new signing secret is shown once,
// here.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, app string) error {
	var in delivery.RotateInput
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	wh, err := s.Engine.RotateKeys(r.Context(), app, webhookID(r), in)
	if err != nil {
		return err
	}
	out := s.renderWebhook(wh)
	out.SigningSecret = wh.SigningKey
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, app string) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	// from_id as the Link gives it, or as the webhook's Layer id.
	p.Before = p.Before[strings.LastIndex(p.Before, "/")+1:]
	ws, err := s.Engine.Webhooks(r.Context(), app, p)
	if err != nil {
		return err
	}
	writePage(s, w, r, p, ws, func(wh *herald.Webhook) string { return wh.ID }, s.renderWebhook)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	wh, err := s.Engine.Webhook(r.Context(), app, webhookID(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderWebhook(wh))
	return nil
}

func (s *Server) activateWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	wh, err := s.Engine.Activate(r.Context(), app, webhookID(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderWebhook(wh))
	return nil
}

func (s *Server) deactivateWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	wh, err := s.Engine.Deactivate(r.Context(), app, webhookID(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderWebhook(wh))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	if err := s.Engine.DeleteWebhook(r.Context(), app, webhookID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DeliveryJSON is a delivery as the API renders it; the command line
// renders deliveries it reads from the data the same way.
type DeliveryJSON struct {
	ID             string          `json:"id"`
	EventID        string          `json:"event_id"`
	EventType      string          `json:"event_type"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	NextAttemptAt  *string         `json:"next_attempt_at"`
	LastStatusCode int             `json:"last_status_code"`
	LastError      string          `json:"last_error"`
	CreatedAt      string          `json:"created_at"`
	DeliveredAt    *string         `json:"delivered_at"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	AttemptLog     []AttemptJSON   `json:"attempt_log,omitempty"`
}

// AttemptJSON is one attempt of a delivery: the receiver's answer is kept,
// the request's headers are made anew at each attempt and are not.
type AttemptJSON struct {
	StartedAt       string      `json:"started_at"`
	DurationMS      float64     `json:"duration_ms"`
	StatusCode      int         `json:"status_code"`
	ResponseHeaders http.Header `json:"response_headers"`
	ResponseBody    string      `json:"response_body"`
	Error           string      `json:"error"`
}

func timeOrNull(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := herald.FormatTime(*t)
	return &s
}

// RenderDelivery renders d as a listing shows it.
func RenderDelivery(d *herald.Delivery) DeliveryJSON {
	out := DeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts,
		LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: herald.FormatTime(d.CreatedAt),
		DeliveredAt: timeOrNull(d.DeliveredAt)}
	if d.Status == herald.DeliveryPending {
		out.NextAttemptAt = timeOrNull(&d.NextAttemptAt)
	}
	return out
}

// RenderDeliveryLog renders d with its payload and its attempts, as a
// delivery read alone shows it.
func RenderDeliveryLog(d *herald.Delivery, attempts []*herald.Attempt) DeliveryJSON {
	out := RenderDelivery(d)
	out.Payload = d.Body
	out.AttemptLog = make([]AttemptJSON, len(attempts))
	for i, a := range attempts {
		out.AttemptLog[i] = AttemptJSON{StartedAt: herald.FormatTime(a.StartedAt),
			DurationMS: float64(a.Duration.Microseconds()) / 1000, StatusCode: a.StatusCode,
			ResponseHeaders: a.ResponseHeaders, ResponseBody: string(a.ResponseBody), Error: a.Error}
	}
	return out
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, app string) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	f, err := deliveryFilter(r)
	if err != nil {
		return err
	}
	ds, err := s.Engine.FilteredDeliveries(r.Context(), app, webhookID(r), f, p)
	if err != nil {
		return err
	}
	writePage(s, w, r, p, ds, func(d *herald.Delivery) string { return d.ID },
		RenderDelivery)
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, app string) error {
	d, attempts, err := s.Engine.Delivery(r.Context(), app, webhookID(r), r.PathValue("delivery"))
	if err != nil {
		return err
	}
	out := RenderDeliveryLog(d, attempts)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) resendDelivery(w http.ResponseWriter, r *http.Request, app string) error {
	d, err := s.Engine.Resend(r.Context(), app, webhookID(r), r.PathValue("delivery"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, RenderDelivery(d))
	return nil
}

func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request, app string) error {
	// Strings, parsed here, so that a malformed time is reported as the
	// property it is in rather than as an undecodable body.
	var in struct {
		Since *string `json:"since"`
		Until *string `json:"until"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Since == nil {
		return herald.PropertyError(herald.EMissingProperty, "since", "since is required: an RFC 3339 time.")
	}
	since, err := time.Parse(time.RFC3339Nano, *in.Since)
	if err != nil {
		return herald.PropertyError(herald.EInvalidProperty, "since", "since must be an RFC 3339 time, not %q.", *in.Since)
	}
	until := time.Now()
	if in.Until != nil {
		if until, err = time.Parse(time.RFC3339Nano, *in.Until); err != nil {
			return herald.PropertyError(herald.EInvalidProperty, "until", "until must be an RFC 3339 time, not %q.", *in.Until)
		}
	}
	res, err := s.Engine.Replay(r.Context(), app, webhookID(r), since, until)
	if err != nil {
		return err
	}
	out := struct {
		Queued        int `json:"queued"`
		AlreadyQueued int `json:"already_queued"`
		// ResumeSince is where to replay from to queue the rest of the
		// window, when the replay stopped early: to the microsecond, so
		// that a replay from it starts at the event it names.
		ResumeSince string `json:"resume_since,omitempty"`
	}{Queued: res.Queued, AlreadyQueued: res.AlreadyQueued}
	if res.ResumeSince != nil {
		out.ResumeSince = res.ResumeSince.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}
