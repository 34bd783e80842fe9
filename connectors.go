package herald

import (
	"context"
	"time"
)

// Connector providers: how a channel's messages reach the contacts
// without a program of the business's own between Herald and the
// provider (Herald's extension to Callbell's API).
const (
	ConnectorWhatsAppCloud = "whatsapp_cloud"
	ConnectorTelegram      = "telegram"
)

// Connector is what Herald needs to send and receive a channel's messages
// through its provider: WhatsApp's Cloud API or Telegram's Bot API. The
// store keeps Secrets sealed; they are never shown.
type Connector struct {
	AppID       string `json:"-"`
	ChannelUUID string `json:"channel_uuid"`
	Provider    string `json:"provider"`
	// APIURL is the provider's API root (Graph API with its version, or
	// the Bot API host).
	APIURL string `json:"api_url"`
	// PhoneNumberID is the WhatsApp Business phone number's id in Meta's
	// Graph API.
	PhoneNumberID string           `json:"phone_number_id,omitempty"`
	Secrets       ConnectorSecrets `json:"-"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

// ConnectorSecrets are a connector's credentials.
type ConnectorSecrets struct {
	// WhatsApp: the access token of the Graph API, the app secret that
	// signs Meta's webhooks, and the token Meta's verification request
	// echoes.
	AccessToken string `json:"access_token,omitempty"`
	AppSecret   string `json:"app_secret,omitempty"`
	VerifyToken string `json:"verify_token,omitempty"`
	// Telegram: BotFather's token, and the secret token Telegram sends
	// with each update.
	BotToken    string `json:"bot_token,omitempty"`
	SecretToken string `json:"secret_token,omitempty"`
}

// Events of connector configuration; their data holds the connector
// without its secrets.
const (
	EventConnectorUpdated = "connector.updated"
	EventConnectorDeleted = "connector.deleted"
)

// ConnectorJob is an outgoing channel message on its way to the provider
// of its channel's connector. Jobs are written from the event log (see
// AdvanceConnectorCursor), so a message is sent at least once whatever
// stops the process; a contact's jobs are sent one at a time, in order.
type ConnectorJob struct {
	ID            string
	AppID         string
	ChannelUUID   string
	ContactUUID   string
	MessageID     string
	EventSeq      int64
	Status        string // PushPending until sent (then removed), or PushFailed
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
}

// ConnectorQueries are the store's side of channel connectors.
type ConnectorQueries interface {
	// PutConnector creates or replaces a channel's connector; the creation
	// time stays the first one's.
	PutConnector(ctx context.Context, c *Connector) error
	// Connector returns a channel's connector, of any app when appID is
	// empty, or not_found.
	Connector(ctx context.Context, appID, channelUUID string) (*Connector, error)
	// DeleteConnector removes a channel's connector and reports whether
	// there was one.
	DeleteConnector(ctx context.Context, appID, channelUUID string) (bool, error)

	// ConnectorCursor returns the sequence number of the last event turned
	// into connector jobs (or skipped); AdvanceConnectorCursor moves it
	// from one to another and reports whether it did (false when it was no
	// longer at from: another node passed those events).
	ConnectorCursor(ctx context.Context) (int64, error)
	AdvanceConnectorCursor(ctx context.Context, from, to int64) (bool, error)
	// CreateConnectorJobs adds pending jobs.
	CreateConnectorJobs(ctx context.Context, jobs []*ConnectorJob) error
	// ClaimConnectorJobs leases to node until leaseUntil up to limit
	// pending jobs due at now and not leased, each the earliest pending job
	// of its contact (by EventSeq), at most perApp of each app and none of
	// the apps in skipApps. Each job goes to one of the nodes that claim at
	// once.
	ClaimConnectorJobs(ctx context.Context, node string, now, leaseUntil time.Time, limit, perApp int, skipApps []string) ([]*ConnectorJob, error)
	// RetryConnectorJob saves a leased job's attempts, next attempt time,
	// status and last error and ends its lease; FinishConnectorJob removes
	// it. Both report false, doing nothing, when node no longer holds it.
	RetryConnectorJob(ctx context.Context, node string, j *ConnectorJob) (bool, error)
	FinishConnectorJob(ctx context.Context, node, id string) (bool, error)
	// ReleaseConnectorLeases ends node's leases; every node's when empty.
	ReleaseConnectorLeases(ctx context.Context, node string) error
	// ConnectorJobs lists an app's jobs of a status, oldest first.
	ConnectorJobs(ctx context.Context, appID, status string, limit int) ([]*ConnectorJob, error)

	// PutExternalMessageID records the provider's id of a channel's
	// message; MessageByExternalID returns the message's id, or not_found.
	PutExternalMessageID(ctx context.Context, appID, channelUUID, externalID, messageID string) error
	MessageByExternalID(ctx context.Context, appID, channelUUID, externalID string) (string, error)
}
