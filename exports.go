package herald

import (
	"context"
	"time"
)

// Data exports: an app's messaging data written out as an archive that only
// the holder of the app's RSA private key can read, as Layer's Platform API
// offered it (platform/data/export.md).

// Export types and statuses. Layer documented pending, executing and
// completed; Herald adds failed, for an export whose archive could not be
// written, so that a client polling the status stops rather than waits
// forever.
const (
	ExportHistorical = "historical"
	ExportScheduled  = "scheduled"

	ExportPending   = "pending"
	ExportExecuting = "executing"
	ExportCompleted = "completed"
	ExportFailed    = "failed"
)

// Export schedule intervals (Layer's: daily or disabled).
const (
	ExportDaily    = "daily"
	ExportDisabled = "disabled"
)

// ExportIDPrefix is the prefix of an export's id in Layer's URI form, which
// Layer's own examples used in places; Herald accepts it on input.
const ExportIDPrefix = "layer:///exports/"

// Event types of exports, their key and their schedule. Layer sent none of
// them to webhooks.
const (
	EventExportCreated         = "export.created"
	EventExportCompleted       = "export.completed"
	EventExportFailed          = "export.failed"
	EventExportDeleted         = "export.deleted"
	EventExportSecurityUpdated = "export_security.updated"
	EventExportScheduleUpdated = "export_schedule.updated"
)

// Export is one requested archive of an app's data.
type Export struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	// Type is ExportHistorical (the state of every live conversation and
	// message) or ExportScheduled (the events of [Since, Until)).
	Type   string `json:"type"`
	Status string `json:"status"`
	// PublicKey is the PEM of the app's key when the export was requested:
	// the archive's AES key is encrypted with it, whatever key the app
	// registers afterwards.
	PublicKey string `json:"public_key"`
	// Events are the event types a scheduled export includes.
	Events      []string   `json:"events,omitempty"`
	Since       *time.Time `json:"since,omitempty"`
	Until       *time.Time `json:"until,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// ExpiresAt is when a completed export is pruned, blob and all.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// BlobKey and Size locate the encrypted archive in the blob store.
	BlobKey string `json:"blob_key,omitempty"`
	Size    int64  `json:"size,omitempty"`
	// EncryptedAESKey is the base64 of the archive's AES key encrypted with
	// PublicKey; AESIV the base64 of its initialization vector.
	EncryptedAESKey string `json:"encrypted_aes_key,omitempty"`
	AESIV           string `json:"aes_iv,omitempty"`
	// Error says why a failed export failed.
	Error string `json:"error,omitempty"`
	// LeaseOwner and LeaseUntil say which runner writes the archive, and
	// until when others leave it to that runner.
	LeaseOwner string     `json:"-"`
	LeaseUntil *time.Time `json:"-"`
}

// ExportKey is the RSA public key an app registered for its exports.
type ExportKey struct {
	AppID     string    `json:"app_id"`
	PublicKey string    `json:"public_key"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ExportSchedule is an app's scheduled-export setting.
type ExportSchedule struct {
	AppID    string   `json:"app_id"`
	Interval string   `json:"interval"`
	Events   []string `json:"events"`
	// NextExportAt is when the next scheduled export is due; nil while
	// disabled. LastExportAt and LastExportID name the last one made.
	NextExportAt *time.Time `json:"next_export_at,omitempty"`
	LastExportAt *time.Time `json:"last_export_at,omitempty"`
	LastExportID string     `json:"last_export_id,omitempty"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// ExportChange is the data of the export events.
type ExportChange struct {
	Export   *Export         `json:"export,omitempty"`
	Key      *ExportKey      `json:"key,omitempty"`
	Schedule *ExportSchedule `json:"schedule,omitempty"`
}

// ExportQueries are the reads and writes of exports, their keys and their
// schedules.
type ExportQueries interface {
	// PutExportKey sets an app's export key, replacing any earlier one.
	PutExportKey(ctx context.Context, k *ExportKey) error
	// ExportKey returns an app's export key, or not_found.
	ExportKey(ctx context.Context, appID string) (*ExportKey, error)

	CreateExport(ctx context.Context, e *Export) error
	// Export returns an export of an app, or not_found.
	Export(ctx context.Context, appID, id string) (*Export, error)
	// ExportByID finds an export without knowing its app, for signed URLs.
	ExportByID(ctx context.Context, id string) (*Export, error)
	// Exports lists an app's exports, newest first.
	Exports(ctx context.Context, appID string, p Page) ([]*Export, error)
	// ActiveExports counts an app's exports of a type that are pending or
	// executing.
	ActiveExports(ctx context.Context, appID, typ string) (int, error)
	// ClaimExport leases to owner until leaseUntil the oldest export, of
	// any app, that is pending or executing under a lease that ended
	// before now, making it executing (and started at now, the first
	// time); nil when there is none. Of runners on any number of nodes
	// claiming at once, each export goes to one.
	ClaimExport(ctx context.Context, owner string, now, leaseUntil time.Time) (*Export, error)
	// ExtendExportLease moves the end of owner's lease of an export and
	// reports whether owner still held it.
	ExtendExportLease(ctx context.Context, id, owner string, leaseUntil time.Time) (bool, error)
	// FinishExport saves the outcome of an export owner holds (status,
	// completion and expiry times, blob, size, keys, error) and drops the
	// lease; it reports false, saving nothing, when owner no longer holds
	// it or it was deleted.
	FinishExport(ctx context.Context, e *Export, owner string) (bool, error)
	// DeleteExport removes an export, or not_found, and lists its blob,
	// if it has one, as to be deleted at the given time (see
	// BlobsToDelete); it returns the export as it was.
	DeleteExport(ctx context.Context, appID, id string, at time.Time) (*Export, error)
	// ExpiredExports lists up to limit exports, of any app, whose expiry
	// came at or before now.
	ExpiredExports(ctx context.Context, now time.Time, limit int) ([]*Export, error)

	// ConversationsAfter lists an app's live conversations in id order
	// (creation order), after the conversation with id after ("": from
	// the first): the pages of an export.
	ConversationsAfter(ctx context.Context, appID, after string, limit int) ([]*Conversation, error)
	// MessagesAfter lists a conversation's live messages in position
	// order, after the given position.
	MessagesAfter(ctx context.Context, appID, conversationID string, afterPosition int64, limit int) ([]*Message, error)

	// PutExportSchedule saves an app's schedule.
	PutExportSchedule(ctx context.Context, s *ExportSchedule) error
	// ExportSchedule returns an app's schedule, or not_found.
	ExportSchedule(ctx context.Context, appID string) (*ExportSchedule, error)
	// DueExportSchedules lists up to limit schedules, of any app, whose
	// next export is due at or before now, earliest first.
	DueExportSchedules(ctx context.Context, now time.Time, limit int) ([]*ExportSchedule, error)
}
