package storetest

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

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
			s, c := openSendBench(b, open, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				benchUpdate(b, s, func(tx herald.Tx) error { return sendBenchMessage(tx, c, i) })
			}
		})
	}
}

// BenchSendAtRate is BenchSend in a conversation of 2 with one message
// every interval instead of flat out, each in a transaction of its own, as
// at a low steady rate. It reports the CPU time of the whole process (user
// and system) per message as cpu-µs/op: at such rates a message pays its
// whole commit, every page it changes written to the log, and every
// system call and wake-up on the way, which flat-out batches share.
func BenchSendAtRate(b *testing.B, open func(b *testing.B) herald.Store, interval time.Duration) {
	s, c := openSendBench(b, open, 2)
	i := 0
	AtRate(b, interval, func() {
		benchUpdate(b, s, func(tx herald.Tx) error { return sendBenchMessage(tx, c, i) })
		i++
	})
}

// AtRate runs fn b.N times, one every interval, and reports the process's
// CPU time (user and system) per run as cpu-µs/op. The wall time per op is
// the interval's, not fn's.
func AtRate(b *testing.B, interval time.Duration, fn func()) {
	b.Helper()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	b.ResetTimer()
	start := processCPU(b)
	for range b.N {
		<-tick.C
		fn()
	}
	b.ReportMetric(float64(processCPU(b)-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

func processCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Skipf("the process's CPU time: %v", err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// openSendBench opens a store with an app and a conversation of n
// participants.
func openSendBench(b *testing.B, open func(b *testing.B) herald.Store, n int) (herald.Store, *herald.Conversation) {
	s := open(b)
	c := &herald.Conversation{ID: uuid.NewString(), AppID: "app", CreatedAt: at(0)}
	for i := range n {
		c.Participants = append(c.Participants, fmt.Sprint("user-", i))
	}
	benchUpdate(b, s, func(tx herald.Tx) error {
		if err := createApp(context.Background(), tx, "app"); err != nil {
			return err
		}
		return tx.CreateConversation(context.Background(), c, "")
	})
	return s, c
}

// sendBenchMessage sends the i-th message of a benchmark to c, from each
// participant in turn.
func sendBenchMessage(tx herald.Tx, c *herald.Conversation, i int) error {
	ctx := context.Background()
	conv, err := tx.NextMessagePosition(ctx, "app", c.ID)
	if err != nil {
		return err
	}
	if _, err := tx.Identities(ctx, "app", conv.Participants); err != nil {
		return err
	}
	sender := conv.Participants[i%len(conv.Participants)]
	status := make(map[string]string, len(conv.Participants))
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
}
