// Package messaging holds Herald's business rules: what may be created,
// changed or deleted, by whom, in which order, and which event each change
// records. It is the same whatever the storage engine and whatever the API
// in front of it.
package messaging

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// Service implements Herald's operations on top of a store.
type Service struct {
	Store herald.Store
	Blobs herald.BlobStore
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxUploadSize bounds a rich-content upload; DefaultMaxUploadSize when 0.
	MaxUploadSize int64
	// Logger reports what fails after a change was committed; slog's default
	// logger when nil.
	Logger *slog.Logger
	// MaxContentBytes bounds the rich content of an app: the bytes it
	// uploaded, and those it declared and may still upload (see
	// CreateContent). DefaultMaxContentBytes when 0; no bound when
	// negative.
	MaxContentBytes int64
	// Notify, when set, is called after every commit that recorded events,
	// to wake whatever consumes the log (the delivery engine) at once
	// instead of at its next poll. It must not block.
	Notify func()
	// Watching, when set, tells whether any of users has a socket open on
	// this node that shows them an app's messages live (the Client API's):
	// a message sent to them then carries the inboxes it left them
	// (EventData.Inboxes), which those sockets would read back otherwise.
	// It is called in write transactions, and must be quick.
	Watching func(appID string, users []string) bool
	// TokenUseInterval is how often the times tokens were last used are
	// written: uses are kept in memory and written together, at most once
	// per interval; DefaultTokenUseInterval when 0.
	TokenUseInterval time.Duration

	tokens    tokenCache
	scheduler scheduler
	sends     sendQueues
}

// DefaultMaxUploadSize is the largest rich-content upload accepted by default.
const DefaultMaxUploadSize = 256 << 20

// DefaultMaxContentBytes is the rich content an app may have by default.
const DefaultMaxContentBytes = 10 << 30

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) maxUpload() int64 {
	if s.MaxUploadSize > 0 {
		return s.MaxUploadSize
	}
	return DefaultMaxUploadSize
}

// NewID returns a new object id: a UUIDv7, so that ids sort by creation time
// and index well.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// record appends an event to the log in tx, the transaction of the change it
// describes. Neither data nor the objects it points to may change afterwards:
// the delivery engine may render the event from them (see herald.NewEvent).
func (s *Service) record(ctx context.Context, tx herald.Tx, appID, typ string, actor *herald.Actor, data *herald.EventData) error {
	if actor != nil && actor.UserID == "" && actor.Name == "" {
		actor = nil
	}
	e, err := herald.NewEvent(NewID(), appID, typ, s.now(), actor, data)
	if err != nil {
		return err
	}
	e.RequestID = herald.RequestID(ctx)
	if s.Notify != nil {
		tx.AfterCommit(s.Notify)
	}
	return tx.AppendEvent(ctx, e)
}

// Apps lists every app.
func (s *Service) Apps(ctx context.Context) (apps []*herald.App, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		apps, err = q.Apps(ctx)
		return err
	})
	return apps, err
}

// SigningKey returns the server's secret for signed URLs, creating it on
// first use. It is kept in the store so that URLs survive restarts and are
// valid on every node.
func (s *Service) SigningKey(ctx context.Context) ([]byte, error) {
	const setting = "url_signing_key"
	var key string
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		v, err := tx.Setting(ctx, setting)
		if err != nil || v != "" {
			key = v
			return err
		}
		b := make([]byte, 32)
		rand.Read(b)
		key, err = tx.InitSetting(ctx, setting, hex.EncodeToString(b))
		return err
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(key)
}

// Events lists an app's events in order, after the event with id after (from
// the start when empty).
func (s *Service) Events(ctx context.Context, appID, after string, limit int) (events []*herald.Event, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		var seq int64
		if after != "" {
			e, err := q.Event(ctx, appID, after)
			if herald.IsNotFound(err) {
				return herald.PropertyError(herald.EInvalidProperty, "after", "No event with id %q exists in this app.", after)
			}
			if err != nil {
				return err
			}
			seq = e.Seq
		}
		events, err = q.Events(ctx, appID, seq, limit)
		return err
	})
	return events, err
}
