// Package herald holds Herald's domain: the types every other package speaks
// (apps, identities, conversations, messages, announcements, rich content,
// events), the application error type, and the interfaces that the storage
// engines and blob stores implement.
//
// The business rules live in package messaging; wire formats, storage engines
// and the HTTP API each live in a subpackage of their own.
package herald

import (
	"encoding/json"
	"time"
)

// Version is the Herald release, set at build time with
// -ldflags "-X github.com/heraldhq/herald.Version=…".
var Version = "0.1.0-dev"

// TimeFormat is how Herald renders instants on the wire: UTC, millisecond
// precision, the form Layer's payloads use ("2015-09-17T20:46:47.561Z").
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t in TimeFormat, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// App is a tenant: every identity, conversation, message and event belongs to
// exactly one app, and an app token only ever sees its own app.
type App struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Token is an app's API credential. Only the SHA-256 of the secret is stored
// (Hash), with its first characters (Prefix), which let a person tell tokens
// apart without revealing enough to matter.
type Token struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the token last authenticated a request, as last
	// written: uses are kept in memory and written at most once per
	// interval (messaging.Service.TokenUseInterval).
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Metadata is a free-form JSON object attached to identities and
// conversations. It is kept as raw JSON so that it round-trips byte for byte.
type Metadata = json.RawMessage

// ID prefixes of Layer-style object ids ("layer:///messages/<uuid>").
const (
	IdentityIDPrefix     = "layer:///identities/"
	ConversationIDPrefix = "layer:///conversations/"
	MessageIDPrefix      = "layer:///messages/"
	AnnouncementIDPrefix = "layer:///announcements/"
	ContentIDPrefix      = "layer:///content/"
)

// LocalID returns the bare id of s, which may be given bare or with its
// Layer prefix ("layer:///messages/<uuid>" → "<uuid>").
func LocalID(s, prefix string) string {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}
