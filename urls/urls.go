// Package urls builds every public URL Herald hands out: the url fields of
// API objects and webhook payloads, and the signed, expiring URLs through
// which rich content is uploaded and downloaded without a token.
package urls

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// DefaultContentTTL is how long a rich-content download URL stays valid.
const DefaultContentTTL = time.Hour

// UploadTTL is how long an upload URL stays valid.
const UploadTTL = 24 * time.Hour

// Signed URL purposes: a signature for one never opens the other.
const (
	Upload   = "upload"
	Download = "download"
	// ExportDownload signs the download URLs of data exports.
	ExportDownload = "export_download"
)

// Builder builds URLs under one public base URL.
type Builder struct {
	// Base is the public root URL of the API, without a trailing slash.
	Base string
	// Key signs content URLs.
	Key []byte
	// ContentTTL is the lifetime of download URLs; DefaultContentTTL when 0.
	ContentTTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// App is the root of an app's API.
func (b *Builder) App(app string) string { return b.Base + "/apps/" + app }

// Identity is the URL of a user's identity.
func (b *Builder) Identity(app, userID string) string {
	return b.App(app) + "/users/" + url.PathEscape(userID) + "/identity"
}

// Conversation is the URL of a conversation.
func (b *Builder) Conversation(app, id string) string { return b.App(app) + "/conversations/" + id }

// Message is the URL of a message.
func (b *Builder) Message(app, id string) string { return b.App(app) + "/messages/" + id }

// ContentRefresh is the URL that returns fresh download URLs for content.
func (b *Builder) ContentRefresh(app, id string) string { return b.App(app) + "/content/" + id }

// ContentDownload returns a signed download URL for content, and when it
// expires.
func (b *Builder) ContentDownload(id string) (string, time.Time) {
	ttl := b.ContentTTL
	if ttl <= 0 {
		ttl = DefaultContentTTL
	}
	exp := b.now().Add(ttl).Truncate(time.Second)
	return b.signed("/content/"+id, Download, id, exp), exp
}

// Export is the URL of a data export; its status is under it.
func (b *Builder) Export(app, id string) string { return b.App(app) + "/exports/" + id }

// ExportStatus is the URL that Layer called an export's status_url.
func (b *Builder) ExportStatus(app, id string) string { return b.Export(app, id) + "/status" }

// ExportDownloadURL returns a signed URL of an export's encrypted archive,
// and when it expires: it lives as long as content download URLs, and
// every rendering of the export makes a fresh one, as Layer's were
// "Refreshed automatically" (platform/data/export.md). It ends in Layer's
// file name (ID.tar.gz.enc), so that a download keeps it.
func (b *Builder) ExportDownloadURL(id string) (string, time.Time) {
	ttl := b.ContentTTL
	if ttl <= 0 {
		ttl = DefaultContentTTL
	}
	exp := b.now().Add(ttl).Truncate(time.Second)
	return b.signed("/exports/"+id+ArchiveSuffix, ExportDownload, id, exp), exp
}

// ArchiveSuffix ends the file name of an export's archive, as Layer's
// download URLs did (….tar.gz.enc).
const ArchiveSuffix = ".tar.gz.enc"

// ContentUpload returns a signed upload URL for content.
func (b *Builder) ContentUpload(id string) string {
	return b.signed("/uploads/"+id, Upload, id, b.now().Add(UploadTTL))
}

func (b *Builder) sign(purpose, id string, expires int64) []byte {
	m := hmac.New(sha256.New, b.Key)
	fmt.Fprintf(m, "%s\n%s\n%d", purpose, id, expires)
	return m.Sum(nil)
}

func (b *Builder) signed(path, purpose, id string, expires time.Time) string {
	v := url.Values{}
	v.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	v.Set("signature", hex.EncodeToString(b.sign(purpose, id, expires.Unix())))
	return b.Base + path + "?" + v.Encode()
}

// Verify checks the expires and signature query parameters of a signed URL
// for purpose and id.
func (b *Builder) Verify(query url.Values, purpose, id string) error {
	expires, err := strconv.ParseInt(query.Get("expires"), 10, 64)
	sig, _ := hex.DecodeString(query.Get("signature"))
	if err != nil || !hmac.Equal(sig, b.sign(purpose, id, expires)) {
		return herald.Errorf(herald.EAccessDenied, "The URL's signature is missing or invalid.")
	}
	if b.now().Unix() > expires {
		return &herald.Error{ID: herald.EURLExpired,
			Message: "This URL has expired; fetch a fresh one from the content's refresh_url.",
			Data:    map[string]any{"expired_at": herald.FormatTime(time.Unix(expires, 0))}}
	}
	return nil
}
