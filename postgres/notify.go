package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
)

// How nodes hear of each other's changes. Every node LISTENs on a channel of
// its schema. A transaction that appended events or made deliveries
// claimable tells the other nodes with a NOTIFY sent with its COMMIT, but
// only while the node knows that others listen: a NOTIFY takes a
// database-wide lock at commit and wakes every listener, a cost a node
// alone would pay on every message for nobody. Nodes say hello every
// helloInterval; a node that hears a new one nudges everyone at once, which
// covers what it committed unannounced before it knew. Either way a node
// also polls, so a notification is a matter of latency, never of what gets
// delivered. The node's own watchers hear of its changes in-process.
const (
	helloInterval = time.Second
	// peerTimeout is how long a node counts on another after hearing from
	// it.
	peerTimeout = 3 * helloInterval
)

// Payload tokens, comma-separated. Nodes ignore tokens they do not know.
const (
	tokenEvents     = "events"
	tokenDeliveries = "deliveries"
	tokenHello      = "hello"
	tokenFrom       = "from="
)

// Bits of Store.pending.
const (
	pendingEvents uint32 = 1 << iota
	pendingDeliveries
)

// notifier is the Store's part that tells and hears the other nodes.
type notifier struct {
	id      string // this store among the database's listeners
	channel string // the schema's channel

	peersUntil atomic.Int64 // unix nanoseconds until which other nodes are known to listen
	pending    atomic.Uint32
	wake       chan struct{}

	cancel  context.CancelFunc
	running sync.WaitGroup // the notifier's goroutines
}

// channelFor names the notification channel of a schema: nodes on other
// schemas of the same database do not hear each other.
func channelFor(schema string) string {
	if schema == "" || schema == "public" {
		return "herald"
	}
	return "herald:" + schema
}

// peers reports whether other nodes are known to listen.
func (s *Store) peers() bool { return time.Now().UnixNano() < s.n.peersUntil.Load() }

// payload is the NOTIFY payload of changes.
func (s *Store) payload(changes []string) string {
	return strings.Join(append(changes, tokenFrom+s.n.id), ",")
}

// post hands changes to the watchers, from the announcing goroutine.
func (s *Store) post(bits uint32) {
	if bits == 0 {
		return
	}
	s.n.pending.Or(bits)
	select {
	case s.n.wake <- struct{}{}:
	default:
	}
}

// startNotifier starts listening, saying hello and announcing; ctx bounds
// the first connection only.
func (s *Store) startNotifier(ctx context.Context) error {
	var schema string
	if err := s.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: reading the schema: %w", err)
	}
	s.n.id = uuid.NewString()
	s.n.channel = channelFor(schema)
	s.n.wake = make(chan struct{}, 1)
	conn, err := s.listenConn(ctx)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.n.cancel = cancel
	s.n.running.Add(3)
	go func() {
		defer s.n.running.Done()
		s.listenLoop(lctx, conn)
	}()
	go func() {
		defer s.n.running.Done()
		s.helloLoop(lctx)
	}()
	go func() {
		defer s.n.running.Done()
		s.announceLoop(lctx)
	}()
	return nil
}

func (s *Store) stopNotifier() {
	s.n.cancel()
	s.n.running.Wait()
}

// announceLoop calls the watchers, from one goroutine, with the changes
// posted since its last round.
func (s *Store) announceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.n.wake:
		}
		bits := s.n.pending.Swap(0)
		s.mu.Lock()
		watchers := s.watchers
		s.mu.Unlock()
		for _, c := range []struct {
			bit    uint32
			change herald.Change
		}{{pendingEvents, herald.EventsAppended}, {pendingDeliveries, herald.DeliveriesDue}} {
			if bits&c.bit == 0 {
				continue
			}
			for _, f := range watchers {
				f(c.change)
			}
		}
	}
}

// helloLoop tells the other nodes that this one listens.
func (s *Store) helloLoop(ctx context.Context) {
	t := time.NewTicker(helloInterval)
	defer t.Stop()
	for {
		// A failed hello is retried at the next tick; meanwhile the others
		// may stop notifying this node, which then finds the work by
		// polling.
		s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.n.channel, tokenHello+","+tokenFrom+s.n.id)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listenLoop receives the other nodes' notifications on a connection of its
// own, reconnecting when it drops.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn) {
	for backoff := 100 * time.Millisecond; ; {
		if conn != nil {
			s.receive(ctx, conn)
			conn.Close(context.Background())
			conn = nil
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		var err error
		if conn, err = s.listenConn(ctx); err != nil {
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		// Whatever was announced while the connection was down: the next
		// poll would find it, this finds it sooner.
		s.post(pendingEvents | pendingDeliveries)
	}
}

func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.config)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting the listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.n.channel}.Sanitize()+"; LISTEN "+
		pgx.Identifier{signalChannelFor(s.n.channel)}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: listening: %w", err)
	}
	return conn, nil
}

func (s *Store) receive(ctx context.Context, conn *pgx.Conn) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		if n.Channel != s.n.channel {
			s.receiveSignal(n.Payload)
			continue
		}
		var bits uint32
		var from string
		hello := false
		for _, t := range strings.Split(n.Payload, ",") {
			switch {
			case t == tokenEvents:
				bits |= pendingEvents
			case t == tokenDeliveries:
				bits |= pendingDeliveries
			case t == tokenHello:
				hello = true
			case strings.HasPrefix(t, tokenFrom):
				from = strings.TrimPrefix(t, tokenFrom)
			}
		}
		if from == s.n.id {
			// This node's own: its watchers heard of it at commit.
			continue
		}
		// Another node listens (one without a name is of an older
		// version, which always notifies).
		known := s.peers()
		s.n.peersUntil.Store(time.Now().Add(peerTimeout).UnixNano())
		if hello && !known {
			// What this node committed before it knew of the newcomer went
			// unannounced: have everyone look now.
			go s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.n.channel,
				s.payload([]string{tokenEvents, tokenDeliveries}))
		}
		s.post(bits)
	}
}
