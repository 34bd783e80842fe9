package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbellapi"
	"github.com/heraldhq/herald/connector/sender"
	"github.com/heraldhq/herald/connector/telegram"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/messaging"
)

// connectorCommand configures channels' connectors, as PUT, GET and DELETE
// /v1/channels/{uuid}/connector do.
func connectorCommand(cfg *config) *cobra.Command {
	conn := &cobra.Command{Use: "connector", Short: "Manage channels' connectors (whatsapp_cloud, telegram): set, get, delete"}
	var baseURL, allowTargets string
	set := &cobra.Command{
		Use:   "set APP_ID CHANNEL_UUID SETTING=VALUE...",
		Short: "Connect a channel to WhatsApp's Cloud API or Telegram's Bot API and print the connector as JSON",
		Long: `Connect a channel to its provider, replacing its connector. Settings are
those of PUT /v1/channels/{uuid}/connector:

  herald connector set APP CHANNEL provider=whatsapp_cloud phone_number_id=106540352242922 \
      access_token=EAAG... app_secret=... verify_token=...
  herald connector set APP CHANNEL provider=telegram bot_token=123456:ABC... secret_token=... \
      --base-url https://herald.example.com

A Telegram connector's webhook is set with Telegram at once, at the server's
public URL (--base-url, as serve's).`,
		Args: cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings := map[string]string{}
			for _, a := range args[2:] {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("%q is not SETTING=VALUE", a)
				}
				settings[k] = v
			}
			raw, _ := json.Marshal(settings)
			var in messaging.ConnectorInput
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				return fmt.Errorf("the settings: %w", err)
			}
			allow, err := egress.ParseAllowList(allowTargets)
			if err != nil {
				return err
			}
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				c, err := svc.CheckConnector(cmd.Context(), args[0], args[1], in)
				if err != nil {
					return nil, err
				}
				if c.Provider == herald.ConnectorTelegram {
					if baseURL == "" {
						return nil, fmt.Errorf("a telegram connector needs --base-url, the server's public URL, for its webhook")
					}
					ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
					defer cancel()
					if err := telegram.SetWebhook(ctx, sender.Client(allow, 1), c, callbellapi.ConnectorWebhookURL(baseURL, c)); err != nil {
						return nil, fmt.Errorf("Telegram did not set the webhook: %s", strings.ReplaceAll(err.Error(), c.Secrets.BotToken, "…"))
					}
				}
				return svc.SaveConnector(cmd.Context(), c)
			})
		},
	}
	set.Flags().StringVar(&baseURL, "base-url", env("HERALD_BASE_URL", ""), "public URL of the API (env HERALD_BASE_URL)")
	set.Flags().StringVar(&allowTargets, "allow-targets", env("HERALD_ALLOW_TARGETS", ""),
		"internal address ranges Telegram's API may be reached at, as serve's (env HERALD_ALLOW_TARGETS)")
	conn.AddCommand(set, &cobra.Command{
		Use:   "get APP_ID CHANNEL_UUID",
		Short: "Print a channel's connector as JSON, without its secrets",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				return svc.Connector(cmd.Context(), args[0], args[1])
			})
		},
	}, &cobra.Command{
		Use:   "delete APP_ID CHANNEL_UUID",
		Short: "Disconnect a channel from its provider",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				return map[string]string{"deleted": args[1]}, svc.DeleteConnector(cmd.Context(), args[0], args[1])
			})
		},
	})
	return conn
}
