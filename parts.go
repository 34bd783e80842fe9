package herald

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// MaxMessageParts and MaxMessagePartsSize (the bytes of their JSON, as
// stored) bound a message's parts once changed part by part. Each change
// records an event per part it changes, each with the whole message, so
// these bound what one change writes: replacing 64 parts of 256 KiB in all
// with 64 others records 128 events of 256 KiB. A send, which records one
// event, is bounded by its request's size only.
const (
	MaxMessageParts     = 64
	MaxMessagePartsSize = 256 << 10
)

// PartName is how part i of a message is addressed: its own id, or, for a
// part stored before parts had ids, its index.
func (m *Message) PartName(i int) string {
	if m.Parts[i].ID != "" {
		return m.Parts[i].ID
	}
	return strconv.Itoa(i)
}

// PartIndex returns the index of the part named name (see PartName), -1
// when the message has none.
func (m *Message) PartIndex(name string) int {
	for i := range m.Parts {
		if m.PartName(i) == name {
			return i
		}
	}
	return -1
}

// PartQueries are the writes of a message's parts one by one (Layer's
// Server API 3.0) and of messages sent later (Layer's delayed messages).
type PartQueries interface {
	// UpdateMessageParts saves a live message's parts, or not_found.
	UpdateMessageParts(ctx context.Context, m *Message) error

	// CreateScheduledMessage stores a message to be sent later.
	CreateScheduledMessage(ctx context.Context, m *ScheduledMessage) error
	// ScheduledMessage returns a message not sent yet, by the id it will
	// have, or not_found.
	ScheduledMessage(ctx context.Context, appID, id string) (*ScheduledMessage, error)
	// DueScheduledMessages lists up to limit messages of every app due at
	// now, the earliest first.
	DueScheduledMessages(ctx context.Context, now time.Time, limit int) ([]*ScheduledMessage, error)
	// NextScheduledMessage returns when the earliest message not sent yet is
	// due; ok is false when there is none.
	NextScheduledMessage(ctx context.Context) (at time.Time, ok bool, err error)
	// DeleteScheduledMessage removes a message not sent yet, or returns
	// not_found: of the transactions racing to remove one, on any number
	// of nodes, one succeeds, and so one sends it.
	DeleteScheduledMessage(ctx context.Context, appID, id string) error
}

// ScheduledMessage is a message accepted to be sent at SendAt (Layer's
// delayed messaging, the schedule of a send): checked when accepted, it
// becomes a message, with its position and its message.sent event, when
// due.
type ScheduledMessage struct {
	// ID is the id the message will have.
	ID             string          `json:"id"`
	AppID          string          `json:"-"`
	ConversationID string          `json:"conversation_id"`
	Sender         Sender          `json:"sender"`
	Parts          []Part          `json:"parts"`
	Notification   json.RawMessage `json:"notification,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	SendAt         time.Time       `json:"send_at"`
	// DelaySeconds and TypingSeconds are the schedule as asked:
	// delay_in_seconds and typing_indicator_in_seconds (0: none).
	DelaySeconds  float64 `json:"delay_in_seconds"`
	TypingSeconds float64 `json:"typing_indicator_in_seconds,omitempty"`
}
