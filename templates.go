package herald

import (
	"context"
	"time"
)

// Template is a WhatsApp message template of a channel: what a business may
// send to a contact outside WhatsApp's 24-hour customer service window, once
// WhatsApp approved it. Text holds numbered placeholders ({{1}}, {{2}}, …)
// that a send fills in order. Name and Language identify the template on
// the provider (WhatsApp names a template and its translations by these
// two); Title is the business's own label, as Callbell shows it.
type Template struct {
	UUID        string `json:"uuid"`
	AppID       string `json:"-"`
	ChannelUUID string `json:"channel_uuid"`
	Name        string `json:"name"`
	Language    string `json:"language"`
	Title       string `json:"title"`
	Text        string `json:"text"`
	// TemplateType is TemplateTypes' kind of the template's header:
	// text, or the media a send attaches.
	TemplateType string    `json:"template_type"`
	Category     string    `json:"category"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// The values of a template's fields, as Callbell's Template object lists
// them (object_types/template.md). WhatsApp's third category,
// AUTHENTICATION, is accepted too: its templates exist, Callbell's table
// only omits them.
var (
	TemplateTypes      = []string{"text", "image", "video", "document"}
	TemplateCategories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}
	TemplateStatuses   = []string{"failed", "paused", "pending", "deactivated", "deleted", "rejected", "approved",
		"disabled", "in_appeal", "limit_exceeded", "pending_deletion"}
)

// TemplateApproved is the status a template must have to be sent.
const TemplateApproved = "approved"

// Event types of templates: Callbell has no webhook event for them, so
// only Herald's own consumers and the event log see these.
const (
	EventTemplateCreated = "template.created"
	EventTemplateUpdated = "template.updated"
	EventTemplateDeleted = "template.deleted"
)

// TemplateFilter selects an app's templates; empty fields select all.
type TemplateFilter struct {
	ChannelUUID string
	Status      string
}

// TemplateQueries are the reads and writes of message templates, and of
// what WhatsApp's 24-hour window needs: when each contact last wrote.
type TemplateQueries interface {
	// CreateTemplate stores a new template; another of the channel with
	// the same name and language is a conflict.
	CreateTemplate(ctx context.Context, t *Template) error
	Template(ctx context.Context, appID, uuid string) (*Template, error)
	// Templates returns up to limit of the app's templates matching f,
	// oldest first, from offset, and how many match in all.
	Templates(ctx context.Context, appID string, f TemplateFilter, offset, limit int) ([]*Template, int, error)
	UpdateTemplate(ctx context.Context, t *Template) error
	DeleteTemplate(ctx context.Context, appID, uuid string) error
	// ContactLastInbound is when the contact last sent the business a
	// message; nil if never.
	ContactLastInbound(ctx context.Context, appID, contactUUID string) (*time.Time, error)
	// SetContactLastInbound records that the contact wrote at at, unless
	// a later message is recorded already.
	SetContactLastInbound(ctx context.Context, appID, contactUUID string, at time.Time) error
}

// ChannelDeleted is the channel status of a message deleted from Herald
// with DELETE /v1/messages/:uuid: Callbell lists it among the statuses of
// message_status_updated (webhooks/message_events), and the message stays
// on the contact's device (messages_api/delete_message.md).
const ChannelDeleted = "deleted"
