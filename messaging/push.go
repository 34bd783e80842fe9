package messaging

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/stdwebhooks"
)

// Push providers are configured through Herald's own API, not Layer's:
// Layer configured push in its dashboard, which had no API.

// MaxPushProviderSetting bounds a provider's text settings (ids, URLs);
// keys and key files get MaxPushKeySize.
const (
	MaxPushProviderSetting = 1024
	MaxPushKeySize         = 16 << 10
)

// pushSettings are the keys each kind of provider takes; the others are
// refused, so that a misspelled one is not silently ignored.
var pushSettings = map[string][]string{
	herald.PushProviderAPNS:    {"team_id", "key_id", "private_key", "bundle_id", "environment"},
	herald.PushProviderFCM:     {"service_account"},
	herald.PushProviderWebhook: {"url", "secret"},
}

// Apple's team and key ids are ten uppercase letters and digits; bundle ids
// reverse-DNS names.
var (
	appleID  = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	bundleID = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
)

// SetPushProvider configures, or replaces, an app's provider of a kind
// from the settings given (a JSON object's members). For a webhook given
// no secret it generates one, and returns it: it is shown this once.
func (s *Service) SetPushProvider(ctx context.Context, appID, kind string, settings map[string]json.RawMessage) (*herald.PushProvider, string, error) {
	allowed, ok := pushSettings[kind]
	if !ok {
		return nil, "", herald.PropertyError(herald.EInvalidProperty, "kind", "%q is not a push provider; the kinds are apns, fcm and webhook.", kind)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return nil, "", herald.PropertyError(herald.EInvalidProperty, k, "%s is not a setting of a %s provider; its settings are %s.",
				k, kind, strings.Join(allowed, ", "))
		}
	}
	p := &herald.PushProvider{AppID: appID, Kind: kind}
	var generated string
	var err error
	switch kind {
	case herald.PushProviderAPNS:
		err = checkAPNS(p, settings)
	case herald.PushProviderFCM:
		err = checkFCM(p, settings)
	case herald.PushProviderWebhook:
		generated, err = checkPushWebhook(p, settings)
	}
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt = now, now
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if _, err := tx.App(ctx, appID); err != nil {
			return err
		}
		old, err := tx.PushProvider(ctx, appID, kind)
		switch {
		case err == nil:
			p.CreatedAt = old.CreatedAt
		case !herald.IsNotFound(err):
			return err
		}
		if err := tx.PutPushProvider(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventPushProviderUpdated, nil, &herald.EventData{PushProvider: publicProvider(p)})
	})
	if err != nil {
		return nil, "", err
	}
	return p, generated, nil
}

// publicProvider is p without its secret, for events and listings.
func publicProvider(p *herald.PushProvider) *herald.PushProvider {
	c := *p
	c.Secret = ""
	return &c
}

// PushProviders lists an app's providers, without their secrets.
func (s *Service) PushProviders(ctx context.Context, appID string) ([]*herald.PushProvider, error) {
	var out []*herald.PushProvider
	err := s.Store.View(ctx, func(q herald.Queries) error {
		if _, err := q.App(ctx, appID); err != nil {
			return err
		}
		ps, err := q.PushProviders(ctx, appID)
		out = make([]*herald.PushProvider, len(ps))
		for i, p := range ps {
			out[i] = publicProvider(p)
		}
		return err
	})
	return out, err
}

// DeletePushProvider removes an app's provider of a kind; not_found when
// it has none.
func (s *Service) DeletePushProvider(ctx context.Context, appID, kind string) error {
	if _, ok := pushSettings[kind]; !ok {
		return herald.NotFound("push_provider", kind)
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		p, err := tx.PushProvider(ctx, appID, kind)
		if err != nil {
			return err
		}
		if _, err := tx.DeletePushProvider(ctx, appID, kind); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventPushProviderDeleted, nil, &herald.EventData{PushProvider: publicProvider(p)})
	})
}

// UnregisterRefusedPushToken unregisters, in tx, a device whose token a
// push service refused as no longer valid, and records it as
// push_token.unregistered. A device registered again meanwhile with
// another token keeps it.
func (s *Service) UnregisterRefusedPushToken(ctx context.Context, tx herald.Tx, appID, userID, deviceID, token string) error {
	t, err := tx.PushToken(ctx, appID, userID, deviceID)
	if herald.IsNotFound(err) {
		return nil
	}
	if err != nil || t.Token != token {
		return err
	}
	if _, err := tx.DeletePushToken(ctx, appID, userID, deviceID); err != nil {
		return err
	}
	return s.record(ctx, tx, appID, herald.EventPushTokenUnregistered, nil, &herald.EventData{PushToken: t, UserID: userID})
}

// settingString reads a required (or optional) string setting.
func settingString(settings map[string]json.RawMessage, key string, required bool, max int) (string, error) {
	raw, ok := settings[key]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if required {
			return "", herald.PropertyError(herald.EMissingProperty, key, "%s is required.", key)
		}
		return "", nil
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", herald.PropertyError(herald.EInvalidProperty, key, "%s must be a string.", key)
	}
	if required && strings.TrimSpace(v) == "" {
		return "", herald.PropertyError(herald.EMissingProperty, key, "%s is required.", key)
	}
	if len(v) > max {
		return "", herald.PropertyError(herald.EInvalidProperty, key, "%s is %d bytes; at most %d are accepted.", key, len(v), max)
	}
	return v, nil
}

func checkAPNS(p *herald.PushProvider, settings map[string]json.RawMessage) error {
	var err error
	for _, f := range []struct {
		key string
		dst *string
		max int
	}{
		{"team_id", &p.TeamID, MaxPushProviderSetting}, {"key_id", &p.KeyID, MaxPushProviderSetting},
		{"bundle_id", &p.BundleID, MaxPushProviderSetting}, {"private_key", &p.Secret, MaxPushKeySize},
	} {
		if *f.dst, err = settingString(settings, f.key, true, f.max); err != nil {
			return err
		}
	}
	if !appleID.MatchString(p.TeamID) {
		return herald.PropertyError(herald.EInvalidProperty, "team_id", "team_id must be the 10-character Team ID of your Apple developer account, not %q.", p.TeamID)
	}
	if !appleID.MatchString(p.KeyID) {
		return herald.PropertyError(herald.EInvalidProperty, "key_id", "key_id must be the 10-character Key ID of your APNs key, not %q.", p.KeyID)
	}
	if !bundleID.MatchString(p.BundleID) {
		return herald.PropertyError(herald.EInvalidProperty, "bundle_id", "bundle_id must be your app's bundle id, such as com.example.app, not %q.", p.BundleID)
	}
	if p.Environment, err = settingString(settings, "environment", false, MaxPushProviderSetting); err != nil {
		return err
	}
	switch p.Environment {
	case "":
		p.Environment = herald.APNSProduction
	case herald.APNSProduction, herald.APNSDevelopment:
	default:
		return herald.PropertyError(herald.EInvalidProperty, "environment", "environment must be production or development, not %q.", p.Environment)
	}
	if _, err := ParseAPNSKey(p.Secret); err != nil {
		return herald.PropertyError(herald.EInvalidProperty, "private_key", "private_key %s.", err)
	}
	return nil
}

// ParseAPNSKey reads an APNs signing key: the .p8 file Apple issues, a
// PKCS #8 PEM block holding a P-256 key.
func ParseAPNSKey(pemText string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, fmt.Errorf("is not a PEM key: give the contents of the .p8 file Apple issued, -----BEGIN PRIVATE KEY----- included")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("does not parse as a PKCS #8 private key: %v", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("is not a P-256 (ES256) key, as APNs keys are")
	}
	return ec, nil
}

// serviceAccount is the key file Google issues for a service account.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

func checkFCM(p *herald.PushProvider, settings map[string]json.RawMessage) error {
	raw, ok := settings["service_account"]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return herald.PropertyError(herald.EMissingProperty, "service_account", "service_account is required: the JSON key file of a service account of your Firebase project.")
	}
	// The key file as an object, or as the text of the file.
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	if len(raw) > MaxPushKeySize {
		return herald.PropertyError(herald.EInvalidProperty, "service_account", "service_account is %d bytes; at most %d are accepted.", len(raw), MaxPushKeySize)
	}
	var sa serviceAccount
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(raw, &sa) != nil {
		return herald.PropertyError(herald.EInvalidProperty, "service_account", "service_account must be the JSON key file of a service account, as an object.")
	}
	if sa.Type != "" && sa.Type != "service_account" {
		return herald.PropertyError(herald.EInvalidProperty, "service_account.type", "service_account.type is %q; the key file of a service account says service_account.", sa.Type)
	}
	for _, f := range []struct{ key, v string }{
		{"project_id", sa.ProjectID}, {"client_email", sa.ClientEmail}, {"private_key", sa.PrivateKey}, {"token_uri", sa.TokenURI},
	} {
		if strings.TrimSpace(f.v) == "" {
			return herald.PropertyError(herald.EMissingProperty, "service_account."+f.key, "service_account.%s is required; the key file Google issues has it.", f.key)
		}
	}
	if err := checkURL("service_account.token_uri", sa.TokenURI); err != nil {
		return err
	}
	if _, err := ParseServiceAccountKey(sa.PrivateKey); err != nil {
		return herald.PropertyError(herald.EInvalidProperty, "service_account.private_key", "service_account.private_key %s.", err)
	}
	p.ProjectID, p.ClientEmail, p.TokenURI, p.PrivateKeyID, p.Secret = sa.ProjectID, sa.ClientEmail, sa.TokenURI, sa.PrivateKeyID, sa.PrivateKey
	return nil
}

// ParseServiceAccountKey reads a service account's RSA private key (PKCS
// #8 PEM, as Google issues it, or PKCS #1).
func ParseServiceAccountKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, fmt.Errorf("is not a PEM key (-----BEGIN PRIVATE KEY-----)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("does not parse as a private key: %v", err)
	}
	k, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("is not an RSA key, as service account keys are")
	}
	return k, nil
}

func checkPushWebhook(p *herald.PushProvider, settings map[string]json.RawMessage) (generated string, err error) {
	if p.URL, err = settingString(settings, "url", true, MaxPushProviderSetting); err != nil {
		return "", err
	}
	if err := checkURL("url", p.URL); err != nil {
		return "", err
	}
	if p.Secret, err = settingString(settings, "secret", false, MaxPushProviderSetting); err != nil {
		return "", err
	}
	if p.Secret == "" {
		p.Secret = stdwebhooks.NewSecret()
		return p.Secret, nil
	}
	if _, err := stdwebhooks.NewSigner(p.Secret); err != nil {
		return "", herald.PropertyError(herald.EInvalidProperty, "secret", "secret must be a Standard Webhooks secret, whsec_ and base64 bytes: %v.", err)
	}
	return "", nil
}
