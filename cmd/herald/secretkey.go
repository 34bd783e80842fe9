package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/keyring"
)

// The secret key seals the secrets Herald keeps in its database (webhook
// signing keys, the URL-signing key; see package keyring), so that the
// database alone, a backup or a copy, holds none that can be used.

// secretKeyFileName is the key file of an SQLite installation, in the data
// directory, created on first start when no key is given.
const secretKeyFileName = "secret.key"

func (c *config) secretKeyFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&c.secretKey, "secret-key", env("HERALD_SECRET_KEY", ""),
		"keys that seal the secrets kept in the database, comma-separated, each the base64 of 32 bytes (herald secret-key makes one); the first seals, all open; default with SQLite: the key file DATA/secret.key, created on first start; required with PostgreSQL (env HERALD_SECRET_KEY)")
	cmd.PersistentFlags().StringVar(&c.secretKeyFile, "secret-key-file", env("HERALD_SECRET_KEY_FILE", ""),
		"file holding the keys of --secret-key instead, one per line (env HERALD_SECRET_KEY_FILE)")
}

// errNoKey is PostgreSQL without a key.
var errNoKey = errors.New("with PostgreSQL, Herald needs a secret key to seal the webhook secrets it keeps in the database, " +
	"the same on every node: make one with `herald secret-key` and give it to every node with --secret-key or " +
	"HERALD_SECRET_KEY (or in a file, with --secret-key-file)")

// keyring returns the keys of --secret-key or --secret-key-file; with
// SQLite and neither, those of DATA/secret.key, which it creates on first
// start (created is then its path, to be removed if the store does not
// open with it).
func (c *config) keyring(logger *slog.Logger) (k *keyring.Keyring, created string, err error) {
	switch {
	case c.secretKey != "" && c.secretKeyFile != "":
		return nil, "", errors.New("give the secret keys with --secret-key or with --secret-key-file, not both")
	case c.secretKey != "":
		k, err := keyring.Parse(c.secretKey)
		if err != nil {
			return nil, "", fmt.Errorf("--secret-key: %w", err)
		}
		return k, "", nil
	case c.secretKeyFile != "":
		k, err := readKeyFile(c.secretKeyFile, logger)
		return k, "", err
	case c.db != "":
		return nil, "", errNoKey
	}
	path := filepath.Join(c.data, secretKeyFileName)
	k, err = readKeyFile(path, logger)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, "", err
	}
	key := keyring.NewKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("creating the secret key file: %w", err)
	}
	_, err = f.WriteString(key + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, "", fmt.Errorf("writing the secret key file: %w", err)
	}
	k, err = keyring.Parse(key)
	if err != nil {
		return nil, "", err
	}
	logger.Warn("created a secret key, which seals the webhook secrets kept in the database; keep a copy of it apart "+
		"from the database's backups: without it, a restored database cannot sign webhooks", "path", path, "key_id", k.ID())
	return k, path, nil
}

func readKeyFile(path string, logger *slog.Logger) (*keyring.Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the secret key file: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		logger.Warn("the secret key file can be read by others than its owner", "path", path, "mode", info.Mode().Perm().String())
	}
	k, err := keyring.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// keyError explains a store that did not open because a secret it holds
// needs a key that was not given.
func keyError(err error, k *keyring.Keyring) error {
	var missing *keyring.MissingKeyError
	if !errors.As(err, &missing) {
		return err
	}
	return fmt.Errorf("%w. The secrets in the database were sealed with key %s; the keys given are %s. "+
		"Give that key with --secret-key or HERALD_SECRET_KEY (or --secret-key-file), after the new one if you are changing keys",
		err, missing.KeyID, strings.Join(k.IDs(), ", "))
}

func secretKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "secret-key",
		Short: "Print a new secret key for --secret-key (its id on stderr)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key := keyring.NewKey()
			k, err := keyring.Parse(key)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			fmt.Fprintln(cmd.ErrOrStderr(), "key id", k.ID())
			return nil
		},
	}
}

// logSealed says that the store sealed secrets as it opened: those of a
// database from before sealing, or those of an older key.
func logSealed(logger *slog.Logger, n int, k *keyring.Keyring) {
	if n > 0 {
		logger.Info("sealed the secrets the database held in plaintext or under an older key", "secrets", n, "key_id", k.ID())
	}
}
