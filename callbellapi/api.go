package callbellapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/delivery"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// API is Callbell's /v1 API, served by a heraldhttp.Server beside Layer's:
// channels, contacts, channel messages and the app's one Callbell-format
// webhook. A request's app is its token's.
//
//	heraldhttp.New(ctx, svc, baseURL, &layerapi.API{}, &callbellapi.API{})
type API struct {
	srv *heraldhttp.Server
}

// Routes implements heraldhttp.API.
func (a *API) Routes(s *heraldhttp.Server) {
	a.srv = s
	h := s.HandleToken
	h("POST /v1/channels", a.createChannel)
	h("GET /v1/channels", a.listChannels)
	h("GET /v1/channels/{uuid}", a.getChannel)
	h("PATCH /v1/channels/{uuid}", a.patchChannel)
	h("DELETE /v1/channels/{uuid}", a.discardChannel)
	h("POST /v1/channels/{uuid}/inbound", a.receiveMessage)

	h("POST /v1/contacts", a.createContact)
	h("GET /v1/contacts", a.listContacts)
	h("GET /v1/contacts/{uuid}", a.getContact)
	h("PATCH /v1/contacts/{uuid}", a.patchContact)
	h("DELETE /v1/contacts/{uuid}", a.deleteContact)
	h("POST /v1/contacts/{uuid}/conversation/close", a.closeConversation)
	h("POST /v1/contacts/{uuid}/conversation/open", a.openConversation)
	// GET /v1/contacts/phone/:number, /bsuid/:bsuid, /:uuid/messages and
	// /:uuid/bot: one pattern, as Go's mux finds phone/{number} and
	// {uuid}/messages ambiguous.
	h("GET /v1/contacts/{first}/{second}", a.getContactPath)
	h("POST /v1/contacts/{uuid}/bot", a.postBot)
	h("POST /v1/contacts/{uuid}/conversation/note", a.addNote)
	h("PUT /v1/contacts/{uuid}/conversation/update_funnel", a.updateFunnel)
	h("GET /v1/funnels", a.listFunnels)
	h("POST /v1/funnels", a.createFunnel)
	h("DELETE /v1/funnels/{uuid}", a.deleteFunnel)
	h("GET /v1/custom_fields", a.listContactFields)
	h("POST /v1/custom_fields", a.putContactField)
	h("DELETE /v1/custom_fields/{name}", a.deleteContactField)

	h("POST /v1/messages/send", a.sendChannelMessage)
	// Callbell's path; the reversed GET /v1/messages/{uuid}/status Herald
	// served before would overlap it.
	h("GET /v1/messages/status/{uuid}", a.getMessageStatus)
	// Herald's: a connector reports a message's status.
	h("POST /v1/messages/{uuid}/status", a.postMessageStatus)
	h("DELETE /v1/messages/{uuid}", a.deleteMessage)
	h("DELETE /v1/messages", a.deleteMessage)

	h("GET /v1/templates", a.listTemplates)
	h("GET /v1/templates/{uuid}", a.getTemplate)
	h("PATCH /v1/templates/{uuid}", a.patchTemplate)
	// Herald's extension to Callbell's API.
	h("POST /v1/templates", a.createTemplate)
	h("DELETE /v1/templates/{uuid}", a.deleteTemplate)

	h("POST /v1/webhooks/subscribe", a.subscribe)
	h("GET /v1/webhooks", a.getSubscription)
	h("DELETE /v1/webhooks/unsubscribe", a.unsubscribe)
	h("GET /v1/webhooks/events", a.webhookEvents)
	// Herald's addition to Callbell's API.
	h("POST /v1/webhooks/rotate_secret", a.rotateSubscriptionSecret)

	a.agentRoutes(h)
	// Herald's extension: channel connectors (connectors.go).
	h("PUT /v1/channels/{uuid}/connector", a.putConnector)
	h("GET /v1/channels/{uuid}/connector", a.getConnector)
	h("DELETE /v1/channels/{uuid}/connector", a.deleteConnector)
	s.HandlePublic("GET /v1/connectors/whatsapp/{uuid}", a.verifyWhatsApp)
	s.HandlePublic("POST /v1/connectors/whatsapp/{uuid}", a.whatsAppNotification)
	s.HandlePublic("POST /v1/connectors/telegram/{uuid}", a.telegramUpdate)
}

// Channels.

// channelJSON is Callbell's channel object, with Herald's identifier and
// createdAt.
type channelJSON struct {
	callbell.ChannelObject
	Identifier string `json:"identifier"`
	CreatedAt  string `json:"createdAt"`
}

func renderChannel(c *herald.Channel) channelJSON {
	return channelJSON{ChannelObject: callbell.Channel(c), Identifier: c.Identifier,
		CreatedAt: c.CreatedAt.UTC().Format(callbell.TimeFormat)}
}

type pageMeta struct {
	Page  int `json:"page"`
	Pages int `json:"pages"`
}

func (a *API) createChannel(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.ChannelInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.CreateChannel(r.Context(), app, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, map[string]any{"channel": renderChannel(c)})
	return nil
}

// listChannels lists channels with channels_api/get_channels.md's filters:
// page, type and active (true: not discarded; false: discarded).
func (a *API) listChannels(w http.ResponseWriter, r *http.Request, app string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	f := messaging.ChannelFilter{Type: r.URL.Query().Get("type")}
	if f.Active, err = boolParam(r, "active"); err != nil {
		return err
	}
	cs, pages, err := a.srv.Service.ChannelsPage(r.Context(), app, f, page)
	if err != nil {
		return err
	}
	out := make([]channelJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, renderChannel(c))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"channels": out, "meta": pageMeta{page, pages}})
	return nil
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := a.srv.Service.Channel(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"channel": renderChannel(c)})
	return nil
}

func (a *API) patchChannel(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.ChannelInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.UpdateChannel(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"channel": renderChannel(c)})
	return nil
}

// Contacts.

// contactJSON is Callbell's contact object as the API shows it: the
// object of the webhook payloads, the reason its conversation was closed,
// and with include_field_types its custom fields' types.
type contactJSON struct {
	callbell.ContactObject
	ClosingReason        string                         `json:"closingReason,omitempty"`
	CustomFieldsMetadata map[string]customFieldTypeJSON `json:"customFieldsMetadata,omitempty"`
}

// renderContact renders a contact with its channel, read from the store:
// a point read, on a context of its own as the callers' renderers take
// none.
func (a *API) renderContact(app string, c *herald.Contact) contactJSON {
	ch, _ := a.srv.Service.Channel(context.Background(), app, c.ChannelUUID)
	return contactJSON{ContactObject: callbell.ContactOn(a.srv.URLs, app, c, ch), ClosingReason: c.ClosingReason}
}

func (a *API) createContact(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.ContactInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.CreateContact(r.Context(), app, in)
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusCreated, app, c)
}

// intParam reads an optional positive integer query parameter.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, herald.PropertyError(herald.EInvalidProperty, name, "%s must be a whole number from 1, not %q.", name, v)
	}
	return n, nil
}

// listParam reads a comma-separated query parameter.
func listParam(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request, app string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	f := herald.ContactFilter{Source: r.URL.Query().Get("source"), Tags: listParam(r, "tags"), TeamUUID: r.URL.Query().Get("team_uuid")}
	cs, pages, err := a.srv.Service.Contacts(r.Context(), app, f, page)
	if err != nil {
		return err
	}
	types, err := a.fieldTypes(r, app)
	if err != nil {
		return err
	}
	out := make([]contactJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, a.renderContactTyped(app, c, types))
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"contacts": out, "meta": pageMeta{page, pages}})
	return nil
}

func (a *API) getContact(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := a.srv.Service.Contact(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

func (a *API) patchContact(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.ContactInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.UpdateContact(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

func (a *API) deleteContact(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteContact(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "contact was destroyed"})
	return nil
}

// optionalBody decodes a JSON body when the request has one.
func optionalBody(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return heraldhttp.Decode(w, r, v)
}

func (a *API) closeConversation(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		ClosingReason string `json:"closing_reason"`
	}
	if err := optionalBody(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.CloseConversation(r.Context(), app, r.PathValue("uuid"), in.ClosingReason)
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

func (a *API) openConversation(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := a.srv.Service.OpenConversation(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	return a.writeContact(w, r, http.StatusOK, app, c)
}

// Channel messages.

// messageRequestJSON is Callbell's MessageSendRequest, with the contact and
// conversation when asked for (fields=contact,conversation).
type messageRequestJSON struct {
	UUID                 string          `json:"uuid"`
	Status               string          `json:"status"`
	MessageStatusPayload json.RawMessage `json:"messageStatusPayload,omitempty"`
	Contact              *contactJSON    `json:"contact,omitempty"`
	Conversation         *struct {
		Source    string `json:"source"`
		Href      string `json:"href"`
		CreatedAt string `json:"createdAt"`
	} `json:"conversation,omitempty"`
}

func (a *API) renderMessageRequest(r *http.Request, app string, m *herald.Message, fields []string) (messageRequestJSON, error) {
	out := messageRequestJSON{UUID: herald.CompactUUID(m.ID), Status: m.Channel.Status, MessageStatusPayload: m.Channel.StatusPayload}
	if m.Channel.Direction == herald.DirectionReceived {
		out.Status = herald.DirectionReceived
	}
	if len(fields) == 0 {
		return out, nil
	}
	c, err := a.srv.Service.Contact(r.Context(), app, m.Channel.ContactUUID)
	if err != nil {
		return out, err
	}
	for _, f := range fields {
		switch f {
		case "contact":
			cj := a.renderContact(app, c)
			out.Contact = &cj
		case "conversation":
			out.Conversation = &struct {
				Source    string `json:"source"`
				Href      string `json:"href"`
				CreatedAt string `json:"createdAt"`
			}{c.Source, callbell.ConversationHref(a.srv.URLs, app, c), c.OpenedAt.UTC().Format(callbell.TimeFormat)}
		default:
			return out, herald.PropertyError(herald.EInvalidProperty, "fields", "fields lists contact and conversation, not %q.", f)
		}
	}
	return out, nil
}

func (a *API) sendChannelMessage(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		messaging.SendInput
		Fields string `json:"fields"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	var fields []string
	for _, f := range strings.Split(in.Fields, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	for _, f := range fields {
		if f != "contact" && f != "conversation" {
			return herald.PropertyError(herald.EInvalidProperty, "fields", "fields lists contact and conversation, not %q.", f)
		}
	}
	m, err := a.srv.Service.SendChannelMessage(r.Context(), app, in.SendInput)
	if err != nil {
		return err
	}
	out, err := a.renderMessageRequest(r, app, m, fields)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusCreated, map[string]any{"message": out})
	return nil
}

func (a *API) receiveMessage(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.InboundInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	m, replay, err := a.srv.Service.ReceiveMessage(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	out, err := a.renderMessageRequest(r, app, m, []string{"contact"})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replay {
		status = http.StatusOK
	}
	heraldhttp.WriteJSON(w, status, map[string]any{"message": out})
	return nil
}

func (a *API) getMessageStatus(w http.ResponseWriter, r *http.Request, app string) error {
	m, err := a.srv.Service.ChannelMessage(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	out, err := a.renderMessageRequest(r, app, m, nil)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"message": out})
	return nil
}

func (a *API) postMessageStatus(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Status  string          `json:"status"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	m, err := a.srv.Service.UpdateMessageStatus(r.Context(), app, r.PathValue("uuid"), in.Status, in.Payload)
	if err != nil {
		return err
	}
	out, err := a.renderMessageRequest(r, app, m, nil)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"message": out})
	return nil
}

// Callbell's webhook API.

type subscriptionJSON struct {
	URL           string          `json:"url"`
	Subscriptions []string        `json:"subscriptions"`
	CreatedAt     string          `json:"createdAt"`
	Enabled       bool            `json:"enabled"`
	StatusReason  string          `json:"statusReason,omitempty"`
	Config        json.RawMessage `json:"config,omitempty"`
	// Herald's additions: the public key of the webhook's ed25519
	// signatures, and the grace period of a rotation.
	SigningPublicKey string                `json:"signingPublicKey,omitempty"`
	Rotation         *subscriptionRotation `json:"rotation,omitempty"`
}

type subscriptionRotation struct {
	GraceUntil               string `json:"graceUntil"`
	PreviousSigningPublicKey string `json:"previousSigningPublicKey,omitempty"`
}

func (a *API) renderSubscription(w *herald.Webhook) subscriptionJSON {
	out := subscriptionJSON{URL: w.TargetURL, Subscriptions: w.Events, Enabled: w.Status == herald.WebhookActive,
		StatusReason: w.StatusReason, Config: w.Config, SigningPublicKey: delivery.PublicKey(w.AsymmetricKey),
		// Callbell's own layout for this one timestamp.
		CreatedAt: w.CreatedAt.UTC().Format("2006-01-02 15:04:05 -0700")}
	if w.InGrace(a.srv.Now()) {
		out.Rotation = &subscriptionRotation{GraceUntil: herald.FormatTime(*w.PreviousKeysUntil),
			PreviousSigningPublicKey: delivery.PublicKey(w.PreviousAsymmetricKey)}
	}
	return out
}

// rotateSubscriptionSecret gives the app's webhook a new secret; the
// replaced one signs beside it for the grace period. The new secret is
// shown once, here.
func (a *API) rotateSubscriptionSecret(w http.ResponseWriter, r *http.Request, app string) error {
	var in delivery.RotateInput
	if err := heraldhttp.DecodeOptional(w, r, &in); err != nil {
		return err
	}
	wh, err := a.srv.Engine.RotateSubscription(r.Context(), app, herald.FormatCallbell, in)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook": a.renderSubscription(wh), "secret": wh.Secret})
	return nil
}

func (a *API) subscribe(w http.ResponseWriter, r *http.Request, app string) error {
	var in delivery.SubscribeInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	wh, created, err := a.srv.Engine.Subscribe(r.Context(), app, herald.FormatCallbell, in)
	if err != nil {
		return err
	}
	out := map[string]any{"webhook": a.renderSubscription(wh)}
	status := http.StatusOK
	if created {
		// The signing secret is shown once, when the webhook is created.
		out["secret"] = wh.Secret
		status = http.StatusCreated
	}
	heraldhttp.WriteJSON(w, status, out)
	return nil
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request, app string) error {
	wh, err := a.srv.Engine.Subscription(r.Context(), app, herald.FormatCallbell)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook": a.renderSubscription(wh)})
	return nil
}

func (a *API) unsubscribe(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Engine.Unsubscribe(r.Context(), app, herald.FormatCallbell); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]string{"status": "webhook was destroyed"})
	return nil
}

type webhookEventJSON struct {
	Event    string `json:"event"`
	Response struct {
		Body    string            `json:"body"`
		Code    int               `json:"code"`
		Headers map[string]string `json:"headers"`
	} `json:"response"`
	Payload   json.RawMessage `json:"payload"`
	Success   bool            `json:"success"`
	CreatedAt string          `json:"createdAt"`
}

func (a *API) webhookEvents(w http.ResponseWriter, r *http.Request, app string) error {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return err
	}
	items, err := intParam(r, "items", 25)
	if err != nil {
		return err
	}
	log, pages, err := a.srv.Engine.EventLog(r.Context(), app, herald.FormatCallbell, r.URL.Query().Get("status"),
		listParam(r, "subscriptions"), page, items)
	if err != nil {
		return err
	}
	out := make([]webhookEventJSON, 0, len(log))
	for _, e := range log {
		var j webhookEventJSON
		j.Event = e.Delivery.EventType
		var body struct {
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(e.Delivery.Body, &body) == nil && len(body.Payload) > 0 {
			j.Payload = body.Payload
		} else {
			j.Payload = json.RawMessage(e.Delivery.Body)
		}
		j.Response.Headers = map[string]string{}
		j.CreatedAt = e.Delivery.CreatedAt.UTC().Format(callbell.TimeFormat)
		if a := e.Attempt; a != nil {
			j.CreatedAt = a.StartedAt.UTC().Format(callbell.TimeFormat)
			j.Response.Code = a.StatusCode
			// webhooks_api/events.md: success is "true if status code
			// was 200"; a receiver's 204 is delivered but no success.
			j.Success = a.StatusCode == http.StatusOK
			j.Response.Body = string(bytes.ToValidUTF8(a.ResponseBody, []byte("\uFFFD")))
			if a.Error != "" && a.StatusCode == 0 {
				j.Response.Body = a.Error
			}
			for k, v := range a.ResponseHeaders {
				j.Response.Headers[k] = strings.Join(v, ", ")
			}
		}
		out = append(out, j)
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook_events": out, "meta": pageMeta{page, pages}})
	return nil
}
