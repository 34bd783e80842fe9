package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

// pushCommand configures apps' push providers, as PUT, GET and DELETE
// /apps/{app}/push_providers do.
func pushCommand(cfg *config) *cobra.Command {
	push := &cobra.Command{Use: "push", Short: "Manage apps' push providers (apns, fcm, webhook): set, list, delete"}
	push.AddCommand(&cobra.Command{
		Use:   "set APP_ID KIND [SETTING=VALUE | SETTING=@FILE]...",
		Short: "Configure an app's push provider and print it as JSON (a generated webhook secret is shown this once)",
		Long: `Configure an app's push provider of a kind, replacing the one it had.
Settings are SETTING=VALUE, or SETTING=@FILE to read the value from a file:

  herald push set APP apns team_id=ABCDE12345 key_id=FGHIJ67890 private_key=@AuthKey_FGHIJ67890.p8 \
      bundle_id=com.example.app environment=production
  herald push set APP fcm service_account=@service-account.json
  herald push set APP webhook url=https://push.example.com/herald [secret=whsec_...]`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings := map[string]json.RawMessage{}
			for _, a := range args[2:] {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("%q is not SETTING=VALUE", a)
				}
				if file, isFile := strings.CutPrefix(v, "@"); isFile {
					b, err := os.ReadFile(file)
					if err != nil {
						return err
					}
					v = string(b)
				}
				settings[k], _ = json.Marshal(v)
			}
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				p, generated, err := svc.SetPushProvider(cmd.Context(), args[0], args[1], settings)
				if err != nil {
					return nil, err
				}
				public := *p
				public.Secret = ""
				return struct {
					*herald.PushProvider
					Secret string `json:"secret,omitempty"`
				}{&public, generated}, nil
			})
		},
	}, &cobra.Command{
		Use:   "list APP_ID",
		Short: "List an app's push providers as JSON, without their keys and secrets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				return svc.PushProviders(cmd.Context(), args[0])
			})
		},
	}, &cobra.Command{
		Use:   "delete APP_ID KIND",
		Short: "Remove an app's push provider of a kind",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				return map[string]string{"deleted": args[1]}, svc.DeletePushProvider(cmd.Context(), args[0], args[1])
			})
		},
	})
	return push
}
