package export

import (
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// Object is an export as Layer's API showed it (platform/data/export.md,
// "Managing Exports"): the same fields in every API version, in the order
// of Layer's examples. Layer's examples disagree on three points, settled
// here as its field table has them: the id is the bare UUID ("A unique
// UUID value identifying the export"; so that clients build the status
// path from it, as GetStream/layer-migration does), the expiry of the
// download URL is download_url_expires_at, and public_key is the key as
// the app registered it (the PEM, as in the status example). Herald's
// failed status comes with an error saying why.
type Object struct {
	AESIV                *string `json:"aes_iv"`
	CompletedAt          *string `json:"completed_at"`
	CreatedAt            string  `json:"created_at"`
	DownloadURL          *string `json:"download_url"`
	DownloadURLExpiresAt *string `json:"download_url_expires_at"`
	EncryptedAESKey      *string `json:"encrypted_aes_key"`
	ExpiredAt            *string `json:"expired_at"`
	ID                   string  `json:"id"`
	PublicKey            string  `json:"public_key"`
	StartedAt            *string `json:"started_at"`
	Status               string  `json:"status"`
	StatusURL            string  `json:"status_url"`
	Type                 string  `json:"type"`
	Error                string  `json:"error,omitempty"`
}

// Render renders an export; a completed one gets a fresh signed download
// URL.
func Render(x *herald.Export, u *urls.Builder) Object {
	o := Object{
		CompletedAt: formatTime(x.CompletedAt),
		CreatedAt:   herald.FormatTime(x.CreatedAt),
		ExpiredAt:   formatTime(x.ExpiresAt),
		ID:          x.ID,
		PublicKey:   x.PublicKey,
		StartedAt:   formatTime(x.StartedAt),
		Status:      x.Status,
		StatusURL:   u.ExportStatus(x.AppID, x.ID),
		Type:        x.Type,
		Error:       x.Error,
	}
	if x.Status == herald.ExportCompleted {
		download, exp := u.ExportDownloadURL(x.ID)
		expires := herald.FormatTime(exp)
		o.DownloadURL, o.DownloadURLExpiresAt = &download, &expires
		o.AESIV, o.EncryptedAESKey = &x.AESIV, &x.EncryptedAESKey
	}
	return o
}

func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := herald.FormatTime(*t)
	return &s
}

// Schedule is an export schedule as Layer's API showed it
// (platform/data/export.md, "Retrieving Scheduled Export Settings"), with
// the events it includes, as set.
type Schedule struct {
	Interval     string   `json:"interval"`
	Events       []string `json:"events"`
	LastExportAt *string  `json:"last_export_at"`
	LastExportID *string  `json:"last_export_id"`
	NextExportAt *string  `json:"next_export_at"`
}

// RenderSchedule renders an export schedule.
func RenderSchedule(s *herald.ExportSchedule) Schedule {
	out := Schedule{Interval: s.Interval, Events: s.Events, LastExportAt: formatTime(s.LastExportAt),
		NextExportAt: formatTime(s.NextExportAt)}
	if out.Events == nil {
		out.Events = []string{}
	}
	if s.LastExportID != "" {
		out.LastExportID = &s.LastExportID
	}
	return out
}
