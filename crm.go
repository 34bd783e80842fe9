package herald

import (
	"context"
	"time"
)

// DirectionNote is the direction of an internal note in a contact's
// conversation: written by the business for the business, never sent to
// the contact (Callbell's message status "note").
const DirectionNote = "note"

// Bot statuses of a contact (Contact.BotStatus).
const (
	BotInProgress = "in_progress"
	BotStarted    = "started"
	BotEnded      = "ended"
)

// Funnel is a stage of an app's sales funnel, which a contact's
// conversation may be in (Contact.FunnelUUID).
type Funnel struct {
	UUID      string    `json:"uuid"`
	AppID     string    `json:"-"`
	Name      string    `json:"name"`
	Emoji     string    `json:"emoji"`
	Position  int       `json:"position"`
	CreatedAt time.Time `json:"created_at"`
}

// Types of an app's custom contact fields, as Callbell's
// contacts_api/post_contacts.md lists them.
var ContactFieldTypes = []string{"text", "email", "number", "date", "dropdown", "checkbox"}

// ContactField defines one of an app's custom contact fields: the type its
// values have and, for dropdown and checkbox fields, the options they are
// chosen from.
type ContactField struct {
	AppID     string    `json:"-"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Options   []string  `json:"options,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CRMQueries read and write the CRM side of an app's contacts: funnels,
// custom field definitions, and contacts found by phone number or BSUID.
type CRMQueries interface {
	CreateFunnel(ctx context.Context, f *Funnel) error
	Funnel(ctx context.Context, appID, uuid string) (*Funnel, error)
	// Funnels lists an app's funnels by position, then oldest first.
	Funnels(ctx context.Context, appID string) ([]*Funnel, error)
	DeleteFunnel(ctx context.Context, appID, uuid string) error
	// FunnelInUse reports whether a contact of the app is in the funnel.
	FunnelInUse(ctx context.Context, appID, uuid string) (bool, error)

	// PutContactField creates or replaces a custom field definition.
	PutContactField(ctx context.Context, f *ContactField) error
	// ContactFields lists an app's custom field definitions by name.
	ContactFields(ctx context.Context, appID string) ([]*ContactField, error)
	DeleteContactField(ctx context.Context, appID, name string) error

	// ContactByBsuid finds the contact with that BSUID on a channel.
	ContactByBsuid(ctx context.Context, appID, channelUUID, bsuid string) (*Contact, error)
}
