package push

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/stdwebhooks"
)

// WebhookPush is what an app's push webhook receives: one recipient's
// notification, with the devices it is for (those no APNs or FCM provider
// of the app reaches), signed with Standard Webhooks (webhook-id is the
// push's id, the same on every retry).
type WebhookPush struct {
	ID             string              `json:"id"`
	Type           string              `json:"type"`
	EventType      string              `json:"event_type"`
	AppID          string              `json:"app_id"`
	UserID         string              `json:"user_id"`
	Devices        []*herald.PushToken `json:"devices"`
	Notification   Notification        `json:"notification"`
	ConversationID string              `json:"conversation_id,omitempty"`
	MessageID      string              `json:"message_id,omitempty"`
	AnnouncementID string              `json:"announcement_id,omitempty"`
	NotificationID string              `json:"notification_id,omitempty"`
	SenderID       string              `json:"sender_id,omitempty"`
	CreatedAt      time.Time           `json:"created_at"`
}

func (s *Sender) sendWebhook(ctx context.Context, j *herald.PushJob, p *herald.PushProvider, devices []*herald.PushToken, payload *Payload) outcome {
	signer, err := stdwebhooks.NewSigner(p.Secret)
	if err != nil {
		return outcome{err: err}
	}
	body, err := json.Marshal(&WebhookPush{ID: j.ID, Type: "push", EventType: payload.EventType, AppID: j.AppID,
		UserID: j.UserID, Devices: devices, Notification: payload.Notification,
		ConversationID: payload.ConversationID, MessageID: payload.MessageID, AnnouncementID: payload.AnnouncementID,
		NotificationID: payload.NotificationID, SenderID: payload.SenderID, CreatedAt: j.CreatedAt})
	if err != nil {
		return outcome{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	signer.SetHeaders(req.Header, j.ID, s.now(), body)
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{retry: true, err: err}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
	return statusOutcome(resp, "")
}
