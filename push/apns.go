package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

// APNs as Apple documents it ("Sending notification requests to APNs",
// "Establishing a token-based connection to APNs", "Handling notification
// responses from APNs"): HTTP/2, POST /3/device/<token>, a provider token
// (an ES256 JWT with the key id as kid, the team id as iss and its issue
// time as iat) that Apple refuses to see refreshed more often than every
// 20 minutes and accepts for an hour; 400 BadDeviceToken or
// DeviceTokenNotForTopic and 410 Unregistered mean the token is of no use.

// apnsTokenLifetime is how long a provider token is reused.
const apnsTokenLifetime = 50 * time.Minute

// apnsExpiration is how long APNs keeps a notification for a device that
// is offline.
const apnsExpiration = 24 * time.Hour

type apnsToken struct {
	jwt      string
	issued   time.Time
	provider time.Time // the provider's UpdatedAt the token was made for
}

// apnsTokens caches each app's provider token.
type apnsTokens struct {
	mu     sync.Mutex
	tokens map[string]apnsToken
}

func (c *apnsTokens) get(p *herald.PushProvider, now time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tokens[p.AppID]; ok && t.provider.Equal(p.UpdatedAt) && now.Sub(t.issued) < apnsTokenLifetime {
		return t.jwt, nil
	}
	key, err := messaging.ParseAPNSKey(p.Secret)
	if err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": p.TeamID, "iat": now.Unix()})
	tok.Header["kid"] = p.KeyID
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", err
	}
	if c.tokens == nil {
		c.tokens = map[string]apnsToken{}
	}
	c.tokens[p.AppID] = apnsToken{jwt: signed, issued: now, provider: p.UpdatedAt}
	return signed, nil
}

// drop forgets an app's token, which APNs said has expired.
func (c *apnsTokens) drop(appID, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tokens[appID]; ok && t.jwt == token {
		delete(c.tokens, appID)
	}
}

// apnsBody renders a notification as APNs takes it: aps with the alert
// (title, body and the localization keys), sound, badge and category; the
// Layer ids under "layer", and the notification's data under "data"
// (Layer's mapping: notification-customization.md, "Advanced
// Customization").
func apnsBody(p *Payload) ([]byte, bool) {
	n := &p.Notification
	aps := map[string]any{}
	silent := n.Silent()
	if !silent {
		alert := map[string]any{}
		for k, v := range map[string]string{"title": n.Title, "body": n.Text, "title-loc-key": n.TitleLocKey,
			"loc-key": n.LocKey, "action-loc-key": n.ActionLocKey, "launch-image": n.LaunchImage} {
			if v != "" {
				alert[k] = v
			}
		}
		if len(n.TitleLocArgs) > 0 {
			alert["title-loc-args"] = n.TitleLocArgs
		}
		if len(n.LocArgs) > 0 {
			alert["loc-args"] = n.LocArgs
		}
		aps["alert"] = alert
		if n.Sound != "" {
			aps["sound"] = n.Sound
		}
		if n.Category != "" {
			aps["category"] = n.Category
		}
	} else {
		aps["content-available"] = 1
	}
	if n.Badge != nil {
		aps["badge"] = *n.Badge
	}
	body := map[string]any{"aps": aps, "layer": p.layerIDs()}
	if len(n.Data) > 0 {
		body["data"] = n.Data
	}
	b, _ := json.Marshal(body)
	return b, silent
}

func (s *Sender) apnsURL(p *herald.PushProvider) string {
	switch {
	case s.APNSURL != "":
		return s.APNSURL
	case p.Environment == herald.APNSDevelopment:
		return DefaultAPNSDevelopmentURL
	}
	return DefaultAPNSProductionURL
}

func (s *Sender) sendAPNS(ctx context.Context, j *herald.PushJob, p *herald.PushProvider, device *herald.PushToken, payload *Payload) outcome {
	token, err := s.apns.get(p, s.now())
	if err != nil {
		return outcome{err: err}
	}
	body, silent := apnsBody(payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apnsURL(p)+"/3/device/"+url.PathEscape(device.Token), bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Authorization", "bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	topic := p.BundleID
	if device.APNSBundleID != "" {
		// The device said which app it is (Layer's apns_bundle_id).
		topic = device.APNSBundleID
	}
	req.Header.Set("apns-topic", topic)
	req.Header.Set("apns-id", j.ID)
	req.Header.Set("apns-expiration", strconv.FormatInt(s.now().Add(apnsExpiration).Unix(), 10))
	if silent {
		// A background notification: Apple requires priority 5.
		req.Header.Set("apns-push-type", "background")
		req.Header.Set("apns-priority", "5")
	} else {
		req.Header.Set("apns-push-type", "alert")
		req.Header.Set("apns-priority", "10")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{retry: true, err: err}
	}
	defer resp.Body.Close()
	var answer struct {
		Reason string `json:"reason"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	json.Unmarshal(raw, &answer)
	switch {
	case resp.StatusCode == http.StatusBadRequest && (answer.Reason == "BadDeviceToken" || answer.Reason == "DeviceTokenNotForTopic"),
		resp.StatusCode == http.StatusGone:
		return outcome{invalidToken: true, err: errors.New(resp.Status + " " + answer.Reason)}
	case resp.StatusCode == http.StatusForbidden && (answer.Reason == "ExpiredProviderToken" || answer.Reason == "InvalidProviderToken"):
		// A new token for the next attempt, which comes at once.
		s.apns.drop(p.AppID, token)
		return outcome{retry: true, err: errors.New(resp.Status + " " + answer.Reason)}
	}
	return statusOutcome(resp, answer.Reason)
}

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
