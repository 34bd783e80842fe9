package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

// keysCommand manages the public keys of apps' identity providers, as
// POST/GET/DELETE /apps/:app/keys do.
func keysCommand(cfg *config) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage the identity provider keys that verify users' identity tokens: add, list, delete"}
	keys.AddCommand(&cobra.Command{
		Use:   "add APP_ID PEM_FILE",
		Short: "Register an identity provider's RSA public key (PEM; - reads standard input) and print it as JSON, with the provider id tokens name as iss",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pem []byte
			var err error
			if args[1] == "-" {
				pem, err = io.ReadAll(cmd.InOrStdin())
			} else {
				pem, err = os.ReadFile(args[1])
			}
			if err != nil {
				return fmt.Errorf("reading the key: %w", err)
			}
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				k, err := svc.RegisterIdentityKey(cmd.Context(), args[0], string(pem))
				if err != nil {
					return nil, err
				}
				return layerKey(k), nil
			})
		},
	}, &cobra.Command{
		Use:   "list APP_ID",
		Short: "List an app's identity provider keys as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				list, err := svc.IdentityKeys(cmd.Context(), args[0])
				out := make([]*herald.IdentityKey, 0, len(list))
				for _, k := range list {
					out = append(out, layerKey(k))
				}
				return out, err
			})
		},
	}, &cobra.Command{
		Use:   "delete APP_ID KEY_ID",
		Short: "Delete an identity provider key: tokens it signed are refused from then on",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cfg.withService(cmd, func(svc *messaging.Service) (any, error) {
				return map[string]string{"deleted": args[1]}, svc.DeleteIdentityKey(cmd.Context(), args[0], args[1])
			})
		},
	})
	return keys
}

// layerKey names a key and its provider as identity tokens do (kid, iss).
func layerKey(k *herald.IdentityKey) *herald.IdentityKey {
	out := *k
	out.ID, out.ProviderID = herald.KeyIDPrefix+k.ID, herald.ProviderIDPrefix+k.ProviderID
	return &out
}
