package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// BenchSend measures the store's share of sending a message, the hottest
// write: taking the position, reading the participants' identities,
// inserting the message and appending its event, in one update, in a
// conversation of 2 and of 10 participants.
func BenchSend(b *testing.B, open func(b *testing.B) herald.Store) {
	for _, n := range []int{2, 10} {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			c := &herald.Conversation{ID: uuid.NewString(), AppID: "app", CreatedAt: at(0)}
			for i := range n {
				c.Participants = append(c.Participants, fmt.Sprint("user-", i))
			}
			benchUpdate(b, s, func(tx herald.Tx) error {
				if err := createApp(ctx, tx, "app"); err != nil {
					return err
				}
				return tx.CreateConversation(ctx, c, "")
			})
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				benchUpdate(b, s, func(tx herald.Tx) error {
					conv, err := tx.NextMessagePosition(ctx, "app", c.ID)
					if err != nil {
						return err
					}
					if _, err := tx.Identities(ctx, "app", conv.Participants); err != nil {
						return err
					}
					sender := conv.Participants[i%n]
					status := make(map[string]string, n)
					for _, p := range conv.Participants {
						status[p] = herald.StatusSent
					}
					status[sender] = herald.StatusRead
					m := &herald.Message{ID: uuid.NewString(), AppID: "app", ConversationID: c.ID, Position: conv.LastPosition,
						Sender: herald.Sender{UserID: sender}, Parts: []herald.Part{{MimeType: "text/plain", Body: "hello"}},
						SentAt: at(i), RecipientStatus: status}
					if err := tx.CreateMessage(ctx, m); err != nil {
						return err
					}
					e, err := herald.NewEvent(uuid.NewString(), "app", herald.EventMessageSent, m.SentAt, &m.Sender,
						&herald.EventData{Message: m, Conversation: conv})
					if err != nil {
						return err
					}
					return tx.AppendEvent(ctx, e)
				})
			}
		})
	}
}
