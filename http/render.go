package http

import (
	"encoding/json"

	"github.com/heraldhq/herald"
)

// The types below are the API's JSON, in Layer's Platform API shape. Field
// order is Layer's.

// OrNull renders an empty string as JSON null, as Layer's objects show
// fields without a value.
func OrNull(s string) *string { return orNull(s) }

// ObjectOrEmpty renders absent JSON as {}, as Layer shows empty metadata.
func ObjectOrEmpty(raw json.RawMessage) json.RawMessage { return objectOrEmpty(raw) }

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

// ContentJSON is Layer's rich content object.
type ContentJSON struct {
	ID          string  `json:"id"`
	DownloadURL *string `json:"download_url"`
	Expiration  *string `json:"expiration"`
	RefreshURL  *string `json:"refresh_url"`
	Size        int64   `json:"size"`
	MimeType    string  `json:"mime_type,omitempty"`
	UploadURL   string  `json:"upload_url,omitempty"`
}

// RenderContent renders content, with a download URL valid for the
// server's TTL and the URL that refreshes it once it is uploaded; before,
// the three are null, as in Layer's answer to POST …/content
// (platform/messages/rich-content.md).
func (s *Server) RenderContent(app, id string, size int64, uploaded bool) ContentJSON {
	c := ContentJSON{ID: herald.ContentIDPrefix + id, Size: size}
	if uploaded {
		u, exp := s.URLs.ContentDownload(id)
		e, refresh := herald.FormatTime(exp), s.URLs.ContentRefresh(app, id)
		c.DownloadURL, c.Expiration, c.RefreshURL = &u, &e, &refresh
	}
	return c
}

type eventJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	Actor     *herald.Actor   `json:"actor"`
	Data      json.RawMessage `json:"data"`
}

func renderEvent(e *herald.Event) eventJSON {
	return eventJSON{ID: e.ID, Type: e.Type, CreatedAt: herald.FormatTime(e.CreatedAt), Actor: e.Actor, Data: e.Data}
}
