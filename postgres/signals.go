package postgres

import (
	"context"
	"strings"

	"github.com/heraldhq/herald"
)

// Signals (herald.SignalBus): short-lived messages between nodes, such as
// the Client API's typing indicators, sent with NOTIFY on a channel of
// their own beside the schema's change channel, so that they never wake
// the nodes' watchers. Nothing of them is stored.

var _ herald.SignalBus = (*Store)(nil)

// maxSignal bounds a signal's payload: PostgreSQL refuses a NOTIFY payload
// of 8000 bytes or more, and the sender's id goes with it.
const maxSignal = 7000

func signalChannelFor(channel string) string { return channel + ":signals" }

// Signal sends payload to the other nodes' receivers (OnSignal).
func (s *Store) Signal(ctx context.Context, payload []byte) error {
	if len(payload) > maxSignal {
		return herald.Errorf(herald.EInvalidRequest, "A signal carries at most %d bytes.", maxSignal)
	}
	_, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, signalChannelFor(s.n.channel), s.n.id+"\n"+string(payload))
	return err
}

// OnSignal registers f to receive the other nodes' signals.
func (s *Store) OnSignal(f func(payload []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signalReceivers = append(s.signalReceivers, f)
}

// receiveSignal hands a signal notification to the receivers, unless this
// node sent it.
func (s *Store) receiveSignal(payload string) {
	from, body, ok := strings.Cut(payload, "\n")
	if !ok || from == s.n.id {
		return
	}
	s.mu.Lock()
	receivers := s.signalReceivers
	s.mu.Unlock()
	for _, f := range receivers {
		// Off the listener's goroutine: a receiver may look things up.
		go f([]byte(body))
	}
}
