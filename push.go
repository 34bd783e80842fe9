package herald

import (
	"context"
	"encoding/json"
	"time"
)

// Push provider kinds: Apple's APNs, Firebase Cloud Messaging (which also
// carries the gcm tokens of Layer's Android clients), and a webhook of the
// app's own that delivers the notifications itself.
const (
	PushProviderAPNS    = "apns"
	PushProviderFCM     = "fcm"
	PushProviderWebhook = "webhook"
)

// APNs environments.
const (
	APNSProduction  = "production"
	APNSDevelopment = "development"
)

// PushProvider is how an app's push notifications reach one kind of
// device. Secret is never shown: the APNs signing key (.p8 PEM), the FCM
// service account's private key (PEM), or the webhook's Standard Webhooks
// secret (whsec_…); the store keeps it sealed.
type PushProvider struct {
	AppID string `json:"-"`
	Kind  string `json:"kind"`

	// APNs: token-based authentication.
	TeamID      string `json:"team_id,omitempty"`
	KeyID       string `json:"key_id,omitempty"`
	BundleID    string `json:"bundle_id,omitempty"`
	Environment string `json:"environment,omitempty"`

	// FCM: the service account's key file, without its private key.
	ProjectID    string `json:"project_id,omitempty"`
	ClientEmail  string `json:"client_email,omitempty"`
	TokenURI     string `json:"token_uri,omitempty"`
	PrivateKeyID string `json:"private_key_id,omitempty"`

	// Webhook.
	URL string `json:"url,omitempty"`

	Secret    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Events of push provider configuration; their data holds the provider
// (PushProvider) as configured, or as it was for a deletion, without its
// secret.
const (
	EventPushProviderUpdated = "push_provider.updated"
	EventPushProviderDeleted = "push_provider.deleted"
)

// Push job statuses: a job is pending until it is sent (then removed), or
// failed once its retries are exhausted.
const (
	PushPending = "pending"
	PushFailed  = "failed"
)

// PushJob is one notification on its way to one recipient through one
// provider: to one device for APNs and FCM, to the app's webhook for the
// recipient's other devices (DeviceID empty). Push jobs are written from
// the event log (see AdvancePushCursor), so a notification is sent at least
// once whatever stops the process.
type PushJob struct {
	ID       string
	AppID    string
	EventID  string
	EventSeq int64
	UserID   string
	Provider string
	DeviceID string
	// Payload is the recipient's notification as rendered from the event
	// (see package push), without the badge, which is counted when it is
	// sent.
	Payload       json.RawMessage
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
}

// PushQueries are the store's side of push notifications.
type PushQueries interface {
	// PutPushProvider creates or replaces an app's provider of its kind.
	PutPushProvider(ctx context.Context, p *PushProvider) error
	// PushProvider returns an app's provider of a kind, or not_found.
	PushProvider(ctx context.Context, appID, kind string) (*PushProvider, error)
	// PushProviders lists an app's providers by kind; every app's when
	// appID is empty.
	PushProviders(ctx context.Context, appID string) ([]*PushProvider, error)
	// DeletePushProvider removes a provider and reports whether there was
	// one.
	DeletePushProvider(ctx context.Context, appID, kind string) (bool, error)

	// PushCursor returns the sequence number of the last event turned into
	// push jobs (or skipped).
	PushCursor(ctx context.Context) (int64, error)
	// AdvancePushCursor moves the cursor from one sequence number to
	// another and reports whether it did: false when it is no longer at
	// from, so that the nodes that race to turn the same events into jobs
	// write them once (the loser's transaction is rolled back).
	AdvancePushCursor(ctx context.Context, from, to int64) (bool, error)
	// CreatePushJobs adds pending jobs.
	CreatePushJobs(ctx context.Context, jobs []*PushJob) error
	// ClaimPushJobs leases to node until leaseUntil up to limit pending
	// jobs due at now and not leased, earliest first, at most perApp of
	// each app and none of the apps in skipApps. Each job goes to one of
	// the nodes that claim at once.
	ClaimPushJobs(ctx context.Context, node string, now, leaseUntil time.Time, limit, perApp int, skipApps []string) ([]*PushJob, error)
	// RetryPushJob records a failed attempt of a job leased to node: its
	// attempts, next attempt, status and error, and releases it. false
	// when the job is gone or no longer leased to node.
	RetryPushJob(ctx context.Context, node string, j *PushJob) (bool, error)
	// FinishPushJob removes a job leased to node, sent or not to be sent;
	// false when it is gone or no longer leased to node.
	FinishPushJob(ctx context.Context, node, id string) (bool, error)
	// ReleasePushLeases makes every job leased to node, or to any node
	// when node is empty, claimable at once.
	ReleasePushLeases(ctx context.Context, node string) error
	// PushJobs lists an app's jobs of a status, oldest first.
	PushJobs(ctx context.Context, appID, status string, limit int) ([]*PushJob, error)
}
