package export

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/urls"
)

// export.json is a JSON array of records, each shaped as the body of one of
// Layer's webhook deliveries: {"event": {...}, "conversation"|"message":
// {...}}. Layer's docs give no example of the file; they say that a
// scheduled export's schema "is very similar to that of Webhooks and is
// functionally analogous to writing all webhook events out to a file", and
// that the archive "will produce an export.json file that contains all the
// events exported" (platform/data/export.md). A historical export, "the
// current state of all conversations and messages", is written in the same
// records: a conversation.created record per live conversation, as it is
// now, followed by a message.sent record per live message of it, as it is
// now (recipient_status included), in order. So one reader takes both
// kinds, and it is the payload shape that Layer-to-Stream migration code
// already parses (GetStream/layer-migration serverless/handler.js reads
// data.message.parts and data.message.sender.user_id).
//
// The records are rendered in webhook payload version 2.0, Basic Identities
// for users, the shape of Layer's last API versions (layer-migration asks
// for 3.0).
const recordVersion = layer.Version2

// Page sizes of the reads: an export holds at most one page of each in
// memory.
const (
	conversationPage = 100
	messagePage      = 500
	eventPage        = 500
)

// records writes a JSON array one element at a time.
type records struct {
	w io.Writer
	n int
}

func (r *records) add(body []byte) error {
	sep := ",\n"
	if r.n == 0 {
		sep = "[\n"
	}
	r.n++
	if _, err := io.WriteString(r.w, sep); err != nil {
		return err
	}
	_, err := r.w.Write(body)
	return err
}

func (r *records) close() error {
	end := "\n]\n"
	if r.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(r.w, end)
	return err
}

func (r *records) render(e *herald.Event, d *herald.EventData, u *urls.Builder) error {
	body, ok, err := layer.RenderData(e, d, recordVersion, nil, u)
	if err != nil || !ok {
		return err
	}
	return r.add(body)
}

// WriteHistorical writes export.json for a historical export of an app:
// every live conversation and message, read in pages from q, which should
// be one snapshot. newID names the records' events.
func WriteHistorical(ctx context.Context, w io.Writer, q herald.Queries, appID string, u *urls.Builder, newID func() string) error {
	out := &records{w: w}
	for after := ""; ; {
		convs, err := q.ConversationsAfter(ctx, appID, after, conversationPage)
		if err != nil {
			return err
		}
		for _, c := range convs {
			if err := writeConversation(ctx, out, q, c, u, newID); err != nil {
				return err
			}
		}
		if len(convs) < conversationPage {
			return out.close()
		}
		after = convs[len(convs)-1].ID
	}
}

func writeConversation(ctx context.Context, out *records, q herald.Queries, c *herald.Conversation, u *urls.Builder, newID func() string) error {
	ids, err := q.Identities(ctx, c.AppID, c.Participants)
	if err != nil {
		return err
	}
	e := &herald.Event{ID: newID(), AppID: c.AppID, Type: herald.EventConversationCreated, CreatedAt: c.CreatedAt}
	if err := out.render(e, &herald.EventData{Conversation: c, Identities: ids}, u); err != nil {
		return err
	}
	for after := int64(0); ; {
		msgs, err := q.MessagesAfter(ctx, c.AppID, c.ID, after, messagePage)
		if err != nil {
			return err
		}
		// Senders who left the conversation have identities too.
		var others []string
		for _, m := range msgs {
			if m.Sender.UserID != "" && ids[m.Sender.UserID] == nil && !slices.Contains(others, m.Sender.UserID) {
				others = append(others, m.Sender.UserID)
			}
		}
		pageIDs := ids
		if len(others) > 0 {
			more, err := q.Identities(ctx, c.AppID, others)
			if err != nil {
				return err
			}
			pageIDs = make(map[string]*herald.Identity, len(ids)+len(more))
			for k, v := range ids {
				pageIDs[k] = v
			}
			for k, v := range more {
				pageIDs[k] = v
			}
		}
		for _, m := range msgs {
			sender := m.Sender
			e := &herald.Event{ID: newID(), AppID: c.AppID, Type: herald.EventMessageSent, CreatedAt: m.SentAt, Actor: &sender}
			if err := out.render(e, &herald.EventData{Message: m, Conversation: c, Identities: pageIDs}, u); err != nil {
				return err
			}
		}
		if len(msgs) < messagePage {
			return nil
		}
		after = msgs[len(msgs)-1].Position
	}
}

// WriteEvents writes export.json for a scheduled export: the app's events
// of the types the export names created in [Since, Until), in log order,
// each as its webhook delivery would carry it.
func WriteEvents(ctx context.Context, w io.Writer, q herald.Queries, x *herald.Export, u *urls.Builder) error {
	if x.Since == nil || x.Until == nil {
		return fmt.Errorf("export: scheduled export %s has no interval", x.ID)
	}
	out := &records{w: w}
	for seq := int64(0); ; {
		events, err := q.EventsBetween(ctx, x.AppID, *x.Since, *x.Until, seq, eventPage)
		if err != nil {
			return err
		}
		for _, e := range events {
			if !slices.Contains(x.Events, e.Type) || !layer.IsEventType(e.Type) {
				continue
			}
			d, err := e.DecodeData()
			if err != nil {
				return err
			}
			if err := out.render(e, d, u); err != nil {
				return err
			}
		}
		if len(events) < eventPage {
			return out.close()
		}
		seq = events[len(events)-1].Seq
	}
}
