package main

import (
	"context"
	"encoding/json"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
)

// operations are what the administration commands do, written once for
// both ways of reaching Herald: a running server's management API
// (httpOps) and the data directory or database itself (localOps). Both
// answer with the same values, printed alike, so that a script's output
// does not depend on where it ran. Ids are bare (the UUIDs that paths
// take), whatever form they were given in.
type operations interface {
	CreateApp(ctx context.Context, name, tokenName string) (*createdApp, error)
	Apps(ctx context.Context) ([]*appView, error)
	App(ctx context.Context, id string) (*appView, error)

	Tokens(ctx context.Context, app string) ([]*tokenView, error)
	CreateToken(ctx context.Context, app, name string) (*tokenView, error)
	// RevokeToken revokes a token of app, or of any app when app is ""
	// (only the data directory can tell whose it is).
	RevokeToken(ctx context.Context, app, id string) (*tokenView, error)

	Webhooks(ctx context.Context, app string) ([]*webhookView, error)
	Webhook(ctx context.Context, app, id string) (*webhookView, error)
	CreateWebhook(ctx context.Context, app string, in map[string]any) (*webhookView, error)
	UpdateWebhook(ctx context.Context, app, id string, patch map[string]any) (*webhookView, error)
	TestWebhook(ctx context.Context, app, id string) (*testView, error)
	RotateWebhookSecret(ctx context.Context, app, id string, in map[string]any) (*webhookView, error)
	ActivateWebhook(ctx context.Context, app, id string) (*webhookView, error)
	DeactivateWebhook(ctx context.Context, app, id string) (*webhookView, error)
	DeleteWebhook(ctx context.Context, app, id string) error

	Deliveries(ctx context.Context, app, webhook string, q deliveryQuery) ([]*deliveryView, error)
	Delivery(ctx context.Context, app, webhook, id string) (*deliveryView, error)
	Resend(ctx context.Context, app, webhook, id string) (*deliveryView, error)
	Replay(ctx context.Context, app, webhook string, since, until time.Time) (*replayView, error)

	// Events lists up to limit of the app's events after the one with id
	// after (from the first when "").
	Events(ctx context.Context, app, after string, limit int) ([]*eventView, error)

	Close() error
}

// deliveryQuery filters and bounds a delivery listing.
type deliveryQuery struct {
	Status, EventType, Conversation string
	Since, Until                    *time.Time
	Limit                           int
}

type createdApp struct {
	AppID     string `json:"app_id"`
	Name      string `json:"name"`
	Token     string `json:"token"`
	TokenID   string `json:"token_id"`
	TokenName string `json:"token_name"`
}

type appView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

type tokenView struct {
	ID         string  `json:"id"`
	AppID      string  `json:"app_id"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	// Token is the secret, shown by the command that creates it only.
	Token string `json:"token,omitempty"`
}

type webhookView struct {
	ID               string          `json:"id"`
	Format           string          `json:"format"`
	Version          string          `json:"version"`
	TargetURL        string          `json:"target_url"`
	Events           []string        `json:"events"`
	Status           string          `json:"status"`
	StatusReason     string          `json:"status_reason,omitempty"`
	CreatedAt        string          `json:"created_at"`
	Config           json.RawMessage `json:"config"`
	RetrySchedule    []float64       `json:"retry_schedule"`
	TimeoutSeconds   float64         `json:"timeout_seconds"`
	SigningSecret    string          `json:"signing_secret,omitempty"`
	SigningPublicKey string          `json:"signing_public_key,omitempty"`
}

// deliveryView is a delivery as the API renders it, read from it or
// rendered from the data alike.
type deliveryView = heraldhttp.DeliveryJSON

type replayView struct {
	Queued        int    `json:"queued"`
	AlreadyQueued int    `json:"already_queued"`
	ResumeSince   string `json:"resume_since,omitempty"`
}

// testView is a test event's outcome as the API renders it.
type testView = heraldhttp.WebhookTestJSON

type eventView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	Actor     json.RawMessage `json:"actor"`
	Data      json.RawMessage `json:"data"`
}

// bareID is the last segment of an id given as a Layer id or a URL.
func bareID(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '/' {
			return id[i+1:]
		}
	}
	return id
}
