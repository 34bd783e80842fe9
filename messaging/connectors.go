package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/heraldhq/herald"
)

// Default API roots of the connectors' providers. The Graph API's version
// is pinned: Meta changes payloads between versions, and Herald speaks the
// one it was written against.
const (
	DefaultGraphAPIURL    = "https://graph.facebook.com/v23.0"
	DefaultTelegramAPIURL = "https://api.telegram.org"
)

// ConnectorInput configures a channel's connector (Herald's extension to
// Callbell's API: PUT /v1/channels/:uuid/connector).
type ConnectorInput struct {
	Provider      string `json:"provider"`
	APIURL        string `json:"api_url"`
	PhoneNumberID string `json:"phone_number_id"`
	AccessToken   string `json:"access_token"`
	AppSecret     string `json:"app_secret"`
	VerifyToken   string `json:"verify_token"`
	BotToken      string `json:"bot_token"`
	SecretToken   string `json:"secret_token"`
}

// connectorChannelTypes is the channel type each provider serves.
var connectorChannelTypes = map[string]string{
	herald.ConnectorWhatsAppCloud: "whatsapp",
	herald.ConnectorTelegram:      "telegram",
}

var (
	// BotFather's tokens are the bot's numeric id, a colon and a secret.
	botTokenPattern = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$`)
	// Telegram's setWebhook: "1-256 characters. Only characters A-Z, a-z,
	// 0-9, _ and - are allowed."
	secretTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	phoneNumberIDRE    = regexp.MustCompile(`^[0-9]{1,30}$`)
)

func requireSecret(property, v string) error {
	switch {
	case v == "":
		return herald.PropertyError(herald.EMissingProperty, property, "%s is required.", property)
	case len(v) > 1024 || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return herald.PropertyError(herald.EInvalidProperty, property, "%s must be at most 1024 printable characters without spaces.", property)
	}
	return nil
}

// CheckConnector checks a connector's configuration for a channel of the
// app and returns the connector it describes, not yet saved: the caller
// may have the provider check it (Telegram's setWebhook) before it
// SaveConnector.
func (s *Service) CheckConnector(ctx context.Context, appID, channelID string, in ConnectorInput) (*herald.Connector, error) {
	var ch *herald.Channel
	err := s.Store.View(ctx, func(q herald.Queries) (err error) {
		ch, err = channelByID(ctx, q, appID, channelID)
		return err
	})
	if err != nil {
		return nil, err
	}
	typ, ok := connectorChannelTypes[in.Provider]
	switch {
	case in.Provider == "":
		return nil, herald.PropertyError(herald.EMissingProperty, "provider", "provider is required: whatsapp_cloud or telegram.")
	case !ok:
		return nil, herald.PropertyError(herald.EInvalidProperty, "provider", "provider must be whatsapp_cloud or telegram, not %q.", in.Provider)
	case typ != ch.Type:
		return nil, herald.PropertyError(herald.EInvalidProperty, "provider", "A %s connector serves a %s channel; channel %s is a %s channel.", in.Provider, typ, herald.CompactUUID(ch.UUID), ch.Type)
	}
	c := &herald.Connector{AppID: appID, ChannelUUID: ch.UUID, Provider: in.Provider, APIURL: strings.TrimRight(in.APIURL, "/")}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, herald.PropertyError(herald.EInvalidProperty, "api_url", "api_url must be an absolute http:// or https:// URL without query, not %q.", in.APIURL)
		}
	}
	switch in.Provider {
	case herald.ConnectorWhatsAppCloud:
		if c.APIURL == "" {
			c.APIURL = DefaultGraphAPIURL
		}
		for _, extra := range [][2]string{{"bot_token", in.BotToken}, {"secret_token", in.SecretToken}} {
			if extra[1] != "" {
				return nil, herald.PropertyError(herald.EInvalidProperty, extra[0], "%s is a setting of a telegram connector, not of a whatsapp_cloud one.", extra[0])
			}
		}
		if in.PhoneNumberID == "" {
			return nil, herald.PropertyError(herald.EMissingProperty, "phone_number_id", "phone_number_id is required: the number's id in Meta's app dashboard (WhatsApp, API Setup).")
		}
		if !phoneNumberIDRE.MatchString(in.PhoneNumberID) {
			return nil, herald.PropertyError(herald.EInvalidProperty, "phone_number_id", "phone_number_id is the number's numeric id in the Graph API, not %q.", in.PhoneNumberID)
		}
		for _, p := range [][2]string{{"access_token", in.AccessToken}, {"app_secret", in.AppSecret}, {"verify_token", in.VerifyToken}} {
			if err := requireSecret(p[0], p[1]); err != nil {
				return nil, err
			}
		}
		c.PhoneNumberID = in.PhoneNumberID
		c.Secrets = herald.ConnectorSecrets{AccessToken: in.AccessToken, AppSecret: in.AppSecret, VerifyToken: in.VerifyToken}
	case herald.ConnectorTelegram:
		if c.APIURL == "" {
			c.APIURL = DefaultTelegramAPIURL
		}
		for _, extra := range [][2]string{{"phone_number_id", in.PhoneNumberID}, {"access_token", in.AccessToken},
			{"app_secret", in.AppSecret}, {"verify_token", in.VerifyToken}} {
			if extra[1] != "" {
				return nil, herald.PropertyError(herald.EInvalidProperty, extra[0], "%s is a setting of a whatsapp_cloud connector, not of a telegram one.", extra[0])
			}
		}
		if in.BotToken == "" {
			return nil, herald.PropertyError(herald.EMissingProperty, "bot_token", "bot_token is required: the token BotFather gave the bot.")
		}
		if !botTokenPattern.MatchString(in.BotToken) {
			return nil, herald.PropertyError(herald.EInvalidProperty, "bot_token", "bot_token must be BotFather's token, 123456:ABC-DEF….")
		}
		if in.SecretToken == "" {
			return nil, herald.PropertyError(herald.EMissingProperty, "secret_token", "secret_token is required: Telegram sends it with every update, and Herald takes no update without it.")
		}
		if !secretTokenPattern.MatchString(in.SecretToken) {
			return nil, herald.PropertyError(herald.EInvalidProperty, "secret_token", "secret_token must be 1 to 256 characters A-Z, a-z, 0-9, _ and -.")
		}
		c.Secrets = herald.ConnectorSecrets{BotToken: in.BotToken, SecretToken: in.SecretToken}
	}
	return c, nil
}

// publicConnector is c without its secrets.
func publicConnector(c *herald.Connector) *herald.Connector {
	p := *c
	p.Secrets = herald.ConnectorSecrets{}
	return &p
}

// SaveConnector saves a connector checked by CheckConnector, replacing the
// channel's, and records connector.updated. It returns it without secrets.
func (s *Service) SaveConnector(ctx context.Context, c *herald.Connector) (*herald.Connector, error) {
	now := s.now()
	c.CreatedAt, c.UpdatedAt = now, now
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		ch, err := channelByID(ctx, tx, c.AppID, c.ChannelUUID)
		if err != nil {
			return err
		}
		if connectorChannelTypes[c.Provider] != ch.Type {
			return herald.PropertyError(herald.EInvalidProperty, "provider", "A %s connector does not serve a %s channel.", c.Provider, ch.Type)
		}
		old, err := tx.Connector(ctx, c.AppID, c.ChannelUUID)
		switch {
		case err == nil:
			c.CreatedAt = old.CreatedAt
		case !herald.IsNotFound(err):
			return err
		}
		if err := tx.PutConnector(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, c.AppID, herald.EventConnectorUpdated, nil, &herald.EventData{Connector: publicConnector(c)})
	})
	if err != nil {
		return nil, err
	}
	return publicConnector(c), nil
}

// Connector returns a channel's connector without its secrets; not_found
// when the channel has none.
func (s *Service) Connector(ctx context.Context, appID, channelID string) (c *herald.Connector, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ch, err := channelByID(ctx, q, appID, channelID)
		if err != nil {
			return err
		}
		if c, err = q.Connector(ctx, appID, ch.UUID); err != nil {
			return err
		}
		c = publicConnector(c)
		return nil
	})
	return c, err
}

// ChannelConnector returns a channel's connector with its secrets, for the
// provider's webhooks, which name the channel and no app.
func (s *Service) ChannelConnector(ctx context.Context, channelID string) (c *herald.Connector, err error) {
	u := herald.ParseUUID(channelID)
	if u == "" {
		return nil, herald.NotFound("connector", channelID)
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err = q.Connector(ctx, "", herald.CompactUUID(u))
		return err
	})
	return c, err
}

// DeleteConnector removes a channel's connector and records
// connector.deleted; not_found when it has none. Its messages not sent yet
// stay enqueued.
func (s *Service) DeleteConnector(ctx context.Context, appID, channelID string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		ch, err := channelByID(ctx, tx, appID, channelID)
		if err != nil {
			return err
		}
		c, err := tx.Connector(ctx, appID, ch.UUID)
		if err != nil {
			return err
		}
		if _, err := tx.DeleteConnector(ctx, appID, ch.UUID); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventConnectorDeleted, nil, &herald.EventData{Connector: publicConnector(c)})
	})
}

// ConnectorSent records, in tx, that a connector handed an outgoing
// message to its provider, which gave it externalID: the message is sent.
func (s *Service) ConnectorSent(ctx context.Context, tx herald.Tx, appID, messageID, externalID string) error {
	_, err := s.setChannelStatus(ctx, tx, appID, messageID, herald.ChannelSent, nil, externalID)
	if isConflict(err) {
		// The provider's own status notification came first.
		return nil
	}
	return err
}

// ConnectorFailed records, in tx, that the provider refused an outgoing
// message, with its answer as the status payload.
func (s *Service) ConnectorFailed(ctx context.Context, tx herald.Tx, appID, messageID string, payload json.RawMessage) error {
	if len(payload) > maxRichBody || !json.Valid(payload) {
		b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("%.1000s", payload)})
		payload = b
	}
	_, err := s.setChannelStatus(ctx, tx, appID, messageID, herald.ChannelFailed, payload, "")
	if isConflict(err) {
		return nil
	}
	return err
}

// UpdateStatusByExternalID records a status a provider reported for the
// message of a channel it knows by externalID. A status that would move
// the message back (notifications arrive out of order) changes nothing;
// not_found when no message of the channel has that id.
func (s *Service) UpdateStatusByExternalID(ctx context.Context, appID, channelUUID, externalID, status string, payload json.RawMessage) (*herald.Message, error) {
	if len(payload) > maxRichBody {
		payload = nil
	}
	var out *herald.Message
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		id, err := tx.MessageByExternalID(ctx, appID, channelUUID, externalID)
		if err != nil {
			return err
		}
		out, err = s.setChannelStatus(ctx, tx, appID, id, status, payload, "")
		if isConflict(err) {
			return nil
		}
		return err
	})
	return out, err
}

// RecordExternalID records the provider's id of a message received on a
// channel, so that the contact's replies to it find it.
func (s *Service) RecordExternalID(ctx context.Context, appID, channelUUID, externalID, messageID string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		return tx.PutExternalMessageID(ctx, appID, channelUUID, externalID, messageID)
	})
}

// MessageIDByExternalID returns the id of a channel's message the provider
// knows by externalID, or not_found.
func (s *Service) MessageIDByExternalID(ctx context.Context, appID, channelUUID, externalID string) (id string, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		id, err = q.MessageByExternalID(ctx, appID, channelUUID, externalID)
		return err
	})
	return id, err
}

func isConflict(err error) bool {
	var e *herald.Error
	return errors.As(err, &e) && e.ID == herald.EConflict
}
