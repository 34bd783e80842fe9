package callbellapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/connector/sender"
	"github.com/heraldhq/herald/connector/telegram"
	"github.com/heraldhq/herald/connector/whatsapp"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// Channel connectors, Herald's extension to Callbell's API: a channel's
// credentials on WhatsApp's Cloud API or Telegram's Bot API
// (PUT/GET/DELETE /v1/channels/:uuid/connector), and the public routes
// where the providers post what happens (authenticated by the providers'
// own schemes, not by a Herald token).

// maxProviderBody bounds a provider's webhook body: Meta batches up to a
// thousand updates in one.
const maxProviderBody = 3 << 20

type connectorJSON struct {
	ChannelUUID   string `json:"channel_uuid"`
	Provider      string `json:"provider"`
	APIURL        string `json:"api_url"`
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// WebhookURL is where the provider posts: the callback URL to enter
	// in Meta's app dashboard; Herald sets Telegram's itself.
	WebhookURL string `json:"webhook_url"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

func (a *API) webhookURL(c *herald.Connector) string { return ConnectorWebhookURL(a.srv.URLs.Base, c) }

// ConnectorWebhookURL is where a connector's provider posts, on a server
// whose public URL is base.
func ConnectorWebhookURL(base string, c *herald.Connector) string {
	kind := "whatsapp"
	if c.Provider == herald.ConnectorTelegram {
		kind = "telegram"
	}
	return strings.TrimRight(base, "/") + "/v1/connectors/" + kind + "/" + herald.CompactUUID(c.ChannelUUID)
}

func (a *API) renderConnector(c *herald.Connector) connectorJSON {
	return connectorJSON{ChannelUUID: herald.CompactUUID(c.ChannelUUID), Provider: c.Provider, APIURL: c.APIURL,
		PhoneNumberID: c.PhoneNumberID, WebhookURL: a.webhookURL(c),
		CreatedAt: c.CreatedAt.UTC().Format(callbell.TimeFormat), UpdatedAt: c.UpdatedAt.UTC().Format(callbell.TimeFormat)}
}

func (a *API) logger() *slog.Logger {
	if a.srv.Logger != nil {
		return a.srv.Logger
	}
	return slog.Default()
}

// client is the HTTP client of requests made while answering: through
// the egress guard, with the delivery engine's exemptions.
func (a *API) client() *http.Client {
	if a.srv.Engine != nil {
		return sender.Client(a.srv.Engine.AllowTargets, 2)
	}
	return sender.Client(nil, 2)
}

func (a *API) putConnector(w http.ResponseWriter, r *http.Request, app string) error {
	var in messaging.ConnectorInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.srv.Service.CheckConnector(r.Context(), app, r.PathValue("uuid"), in)
	if err != nil {
		return err
	}
	if c.Provider == herald.ConnectorTelegram {
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		if err := telegram.SetWebhook(ctx, a.client(), c, a.webhookURL(c)); err != nil {
			// The bot's token is the likely cause of a refusal.
			return herald.PropertyError(herald.EInvalidProperty, "bot_token", "Telegram did not set the bot's webhook: %s", redact(err, c.Secrets.BotToken))
		}
	}
	saved, err := a.srv.Service.SaveConnector(r.Context(), c)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"connector": a.renderConnector(saved)})
	return nil
}

// redact keeps a secret out of an error message.
func redact(err error, secret string) string {
	if secret == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), secret, "…")
}

func (a *API) getConnector(w http.ResponseWriter, r *http.Request, app string) error {
	c, err := a.srv.Service.Connector(r.Context(), app, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, map[string]any{"connector": a.renderConnector(c)})
	return nil
}

func (a *API) deleteConnector(w http.ResponseWriter, r *http.Request, app string) error {
	if err := a.srv.Service.DeleteConnector(r.Context(), app, r.PathValue("uuid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// providerConnector returns the connector of the channel in the path, of
// the provider kind; not_found otherwise, saying nothing of other kinds.
func (a *API) providerConnector(r *http.Request, provider string) (*herald.Connector, error) {
	c, err := a.srv.Service.ChannelConnector(r.Context(), r.PathValue("uuid"))
	if err == nil && c.Provider != provider {
		err = herald.NotFound("connector", r.PathValue("uuid"))
	}
	return c, err
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProviderBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, herald.Errorf(herald.EPayloadTooLarge, "The body is larger than %d bytes.", maxProviderBody)
	}
	return body, err
}

// verifyWhatsApp answers Meta's verification request: hub.mode=subscribe
// with the connector's verify token is answered hub.challenge, as is
// ("Verify requests").
func (a *API) verifyWhatsApp(w http.ResponseWriter, r *http.Request) error {
	c, err := a.providerConnector(r, herald.ConnectorWhatsAppCloud)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != c.Secrets.VerifyToken {
		return herald.Errorf(herald.EAccessDenied, "hub.mode must be subscribe and hub.verify_token the connector's verify token.")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, q.Get("hub.challenge"))
	return nil
}

// whatsAppNotification takes Meta's webhook POST, signed with the app
// secret (X-Hub-Signature-256): messages are received, statuses recorded.
// Meta redelivers what was not answered 200: a message received again is
// recognised by its wamid, a status again changes nothing; what Herald
// cannot take (an unknown message, a status moving back) is acknowledged
// rather than refused, so that Meta does not retry it for days.
func (a *API) whatsAppNotification(w http.ResponseWriter, r *http.Request) error {
	// The body is read whatever the answer, so that the connection stays
	// usable for the provider's next request.
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	c, err := a.providerConnector(r, herald.ConnectorWhatsAppCloud)
	if err != nil {
		return err
	}
	if !whatsapp.CheckSignature(c.Secrets.AppSecret, body, r.Header.Get("X-Hub-Signature-256")) {
		return herald.Errorf(herald.EAccessDenied, "X-Hub-Signature-256 is not the HMAC-SHA256 of the body with the connector's app secret.")
	}
	n, err := whatsapp.Parse(body, c.PhoneNumberID, func(id string) string { return c.APIURL + "/" + id })
	if err != nil {
		return herald.Errorf(herald.EInvalidRequest, "%s", err)
	}
	ctx := r.Context()
	for _, m := range n.Messages {
		if err := a.receive(ctx, c, m.Input, m.ReplyTo); err != nil {
			return err
		}
	}
	for _, s := range n.Statuses {
		_, err := a.srv.Service.UpdateStatusByExternalID(ctx, c.AppID, c.ChannelUUID, s.ExternalID, s.Status, s.Payload)
		if herald.IsNotFound(err) {
			a.logger().InfoContext(ctx, "a status of a message Herald does not know", "channel", c.ChannelUUID, "external_id", s.ExternalID)
			continue
		}
		if _, isHerald := herald.AsError(err); isHerald {
			a.logger().WarnContext(ctx, "a status Herald cannot take", "channel", c.ChannelUUID, "external_id", s.ExternalID, "err", err)
			continue
		}
		if err != nil {
			return unavailable(err)
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// receive records an inbound message and its provider id; a message Herald
// cannot take is logged and acknowledged.
func (a *API) receive(ctx context.Context, c *herald.Connector, in messaging.InboundInput, replyTo string) error {
	if replyTo != "" {
		if id, err := a.srv.Service.MessageIDByExternalID(ctx, c.AppID, c.ChannelUUID, replyTo); err == nil {
			in.ReplyTo = id
		}
	}
	m, replay, err := a.srv.Service.ReceiveMessage(ctx, c.AppID, c.ChannelUUID, in)
	if _, isHerald := herald.AsError(err); isHerald {
		a.logger().WarnContext(ctx, "a message Herald cannot take", "channel", c.ChannelUUID, "external_id", in.ExternalID, "err", err)
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	if replay {
		return nil
	}
	if err := a.srv.Service.RecordExternalID(ctx, c.AppID, c.ChannelUUID, in.ExternalID, m.ID); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable answers a failure of Herald's own with 503, which the
// providers retry.
func unavailable(err error) error {
	return herald.Errorf(herald.EServiceUnavailable, "%s", fmt.Sprint(err))
}

// telegramUpdate takes an update Telegram posts, with the secret token of
// setWebhook in X-Telegram-Bot-Api-Secret-Token.
func (a *API) telegramUpdate(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	c, err := a.providerConnector(r, herald.ConnectorTelegram)
	if err != nil {
		return err
	}
	if !telegram.CheckSecret(c, r.Header.Get(telegram.SecretHeader)) {
		return herald.Errorf(herald.EAccessDenied, "%s is not the connector's secret token.", telegram.SecretHeader)
	}
	u, err := telegram.Parse(body)
	if err != nil {
		return herald.Errorf(herald.EInvalidRequest, "%s", err)
	}
	if u != nil {
		if err := a.receive(r.Context(), c, u.Input, u.ReplyTo); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
