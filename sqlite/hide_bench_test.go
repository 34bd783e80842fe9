package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// BenchmarkHideFromBlocks measures the check each message of a sender who
// blocks nobody, and whom nobody blocks, makes in its transaction: 100 to a
// transaction, so that the commit does not drown it.
func BenchmarkHideFromBlocks(b *testing.B) {
	ctx := context.Background()
	s := openBench(b, sqlite.Options{})
	now := time.Now()
	c := &herald.Conversation{ID: "c", AppID: "app", Participants: []string{"alice", "bob"}, CreatedAt: now}
	err := s.Update(ctx, func(tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		if err := tx.CreateConversation(ctx, c, ""); err != nil {
			return err
		}
		// Blocks elsewhere in the app, as a real one has.
		for i := range 100 {
			if err := tx.AddBlocks(ctx, "app", fmt.Sprint("owner-", i), []string{fmt.Sprint("user-", i)}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		err := s.Update(ctx, func(tx herald.Tx) error {
			for j := range 100 {
				m := &herald.Message{ID: fmt.Sprint("m-", i, "-", j), AppID: "app", ConversationID: "c",
					Sender: herald.Sender{UserID: "alice"}, SentAt: now}
				if err := tx.HideFromBlocks(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
