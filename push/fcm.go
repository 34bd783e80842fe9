package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/heraldhq/herald"
)

// FCM as Firebase documents it ("HTTP v1 API", "FCM error codes"): POST
// /v1/projects/<project>/messages:send with an OAuth 2.0 access token of
// the project's service account (scope firebase.messaging, obtained from
// the key file's token_uri with a signed JWT assertion, as
// golang.org/x/oauth2/jwt does); 404 UNREGISTERED, and 400
// INVALID_ARGUMENT about the token, mean the token is of no use; 429 and
// 5xx are retried. Data values must be strings.

const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

type fcmSource struct {
	source   oauth2.TokenSource
	provider time.Time
}

// fcmTokens caches each app's access tokens.
type fcmTokens struct {
	client  *http.Client
	mu      sync.Mutex
	sources map[string]fcmSource
}

func (c *fcmTokens) token(p *herald.PushProvider) (string, error) {
	c.mu.Lock()
	src, ok := c.sources[p.AppID]
	if !ok || !src.provider.Equal(p.UpdatedAt) {
		cfg := &jwt.Config{Email: p.ClientEmail, PrivateKey: []byte(p.Secret), PrivateKeyID: p.PrivateKeyID,
			Scopes: []string{fcmScope}, TokenURL: p.TokenURI}
		// The token requests go through the guarded client.
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.client)
		src = fcmSource{source: cfg.TokenSource(ctx), provider: p.UpdatedAt}
		if c.sources == nil {
			c.sources = map[string]fcmSource{}
		}
		c.sources[p.AppID] = src
	}
	c.mu.Unlock()
	t, err := src.source.Token()
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// drop forgets an app's token source, whose token FCM refused.
func (c *fcmTokens) drop(appID string) {
	c.mu.Lock()
	delete(c.sources, appID)
	c.mu.Unlock()
}

// fcmData is the notification's data and Layer ids as FCM takes data:
// strings; other values are sent as their JSON.
func fcmData(p *Payload) map[string]string {
	data := map[string]string{}
	var fields map[string]json.RawMessage
	if json.Unmarshal(p.Notification.Data, &fields) == nil {
		for k, v := range fields {
			var s string
			if json.Unmarshal(v, &s) == nil {
				data[k] = s
			} else {
				data[k] = string(v)
			}
		}
	}
	for k, v := range p.layerIDs() {
		data["layer_"+k] = v
	}
	return data
}

// fcmBody renders a notification as FCM's v1 message: the notification's
// title and body, the Android sound and localization keys, the badge for
// iOS devices that FCM reaches through APNs, and the data.
func fcmBody(token string, p *Payload) []byte {
	n := &p.Notification
	msg := map[string]any{"token": token}
	if data := fcmData(p); len(data) > 0 {
		msg["data"] = data
	}
	if !n.Silent() {
		note := map[string]string{}
		if n.Title != "" {
			note["title"] = n.Title
		}
		if n.Text != "" {
			note["body"] = n.Text
		}
		if len(note) > 0 {
			msg["notification"] = note
		}
		android := map[string]any{}
		for k, v := range map[string]string{"sound": n.Sound, "title_loc_key": n.TitleLocKey, "body_loc_key": n.LocKey} {
			if v != "" {
				android[k] = v
			}
		}
		if len(n.TitleLocArgs) > 0 {
			android["title_loc_args"] = n.TitleLocArgs
		}
		if len(n.LocArgs) > 0 {
			android["body_loc_args"] = n.LocArgs
		}
		if len(android) > 0 {
			msg["android"] = map[string]any{"notification": android}
		}
	}
	aps := map[string]any{}
	if n.Badge != nil {
		aps["badge"] = *n.Badge
	}
	if n.Sound != "" && !n.Silent() {
		aps["sound"] = n.Sound
	}
	if len(aps) > 0 {
		msg["apns"] = map[string]any{"payload": map[string]any{"aps": aps}}
	}
	b, _ := json.Marshal(map[string]any{"message": msg})
	return b
}

// fcmError is the error answer of the v1 API.
type fcmError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// code is the FCM error code of the answer (UNREGISTERED...), or its
// status.
func (e *fcmError) code() string {
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			return d.ErrorCode
		}
	}
	return e.Error.Status
}

// aboutToken reports whether a 400 names the registration token.
func (e *fcmError) aboutToken() bool {
	for _, d := range e.Error.Details {
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				return true
			}
		}
	}
	return strings.Contains(strings.ToLower(e.Error.Message), "registration token")
}

func (s *Sender) sendFCM(ctx context.Context, p *herald.PushProvider, device *herald.PushToken, payload *Payload) outcome {
	access, err := s.fcm.token(p)
	if err != nil {
		// The token endpoint failed or refused: a refusal may be a key
		// revoked for good, but it may also be fixed by configuring the
		// provider again, which retries find.
		s.fcm.drop(p.AppID)
		return outcome{retry: true, err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(s.FCMURL, "/")+"/v1/projects/"+url.PathEscape(p.ProjectID)+"/messages:send",
		bytes.NewReader(fcmBody(device.Token, payload)))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{retry: true, err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	var answer fcmError
	json.Unmarshal(raw, &answer)
	code := answer.code()
	switch {
	case resp.StatusCode == http.StatusNotFound && code == "UNREGISTERED",
		resp.StatusCode == http.StatusBadRequest && code == "INVALID_ARGUMENT" && answer.aboutToken():
		return outcome{invalidToken: true, err: errors.New(resp.Status + " " + code)}
	case resp.StatusCode == http.StatusUnauthorized:
		s.fcm.drop(p.AppID)
		return outcome{retry: true, err: errors.New(resp.Status + " " + code)}
	}
	return statusOutcome(resp, code)
}
