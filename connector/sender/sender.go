// Package sender sends the outgoing messages of channels with a connector
// through their providers (package connector).
//
// Sending is durable and at least once, as push notifications are (package
// push): a cursor over the event log, shared by every node, advances in
// the transaction that writes the jobs of the messages it passes, and jobs
// are leased to the node that sends them until the lease ends. A contact's
// messages go one at a time, in the order they were sent (the store claims
// only a contact's earliest pending job); the provider's answer is
// recorded with the job's end in one transaction: sent with the provider's
// message id, or failed with its refusal. A node that dies mid-send leaves
// the job to be sent again.
package sender

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/connector"
	"github.com/heraldhq/herald/connector/telegram"
	"github.com/heraldhq/herald/connector/whatsapp"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/metrics"
)

// Defaults.
const (
	DefaultWorkers        = 16
	DefaultAttemptTimeout = 30 * time.Second
	DefaultMinRetryDelay  = time.Second
	DefaultMaxRetryDelay  = 10 * time.Minute
	DefaultMaxAttempts    = 12
	DefaultPollInterval   = 2 * time.Second
	fanOutBatch           = 200
	// fanOutGather lets the events of a burst gather before the fan-out
	// reads them, as push's does.
	fanOutGather = 20 * time.Millisecond
)

// Providers are the providers by connector kind.
var Providers = map[string]connector.Provider{
	herald.ConnectorWhatsAppCloud: whatsapp.Provider{},
	herald.ConnectorTelegram:      telegram.Provider{},
}

// Sender sends the messages of an installation's connectors.
type Sender struct {
	Store   herald.Store
	Service *messaging.Service
	// AllowTargets exempts address ranges from the egress guard, as for
	// webhooks.
	AllowTargets []netip.Prefix
	// Workers bounds the sends in flight on this node; AppWorkers those
	// of one app (a quarter of Workers by default).
	Workers, AppWorkers int
	// AttemptTimeout bounds one attempt.
	AttemptTimeout time.Duration
	// Retries wait MinRetryDelay, doubling up to MaxRetryDelay (or what
	// a Retry-After asks); a message fails after MaxAttempts attempts.
	MinRetryDelay, MaxRetryDelay time.Duration
	MaxAttempts                  int
	// PollInterval is how often the log and the jobs are read when
	// nothing wakes the sender.
	PollInterval time.Duration
	// Node names this node's leases; random by default. A node started
	// with the name of one that stopped takes over its leases.
	Node   string
	Logger *slog.Logger
	// Metrics counts the sends by outcome; nil counts nothing.
	Metrics *metrics.Metrics
	Now     func() time.Time

	client   *http.Client
	fanWake  chan struct{}
	sendWake chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	attempts sync.WaitGroup

	mu       sync.Mutex
	busy     int
	inFlight map[string]int

	// passed is one more than the connector cursor as this node last read
	// or moved it; 0 when unknown. A pass over this node's own recent
	// events, none of them a send to a channel, then moves the cursor on
	// without reading anything: most events are not such sends, and the
	// read transaction is most of a pass's cost at low rates.
	passed atomic.Int64
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Notify wakes the sender: events were appended. It does not block.
func (s *Sender) Notify() {
	if s.fanWake != nil {
		signal(s.fanWake)
	}
}

// Client is the HTTP client of the sender's requests: through the egress
// guard, with keep-alive connections pooled per provider host.
func Client(allow []netip.Prefix, workers int) *http.Client {
	t := egress.NewTransport(allow)
	t.MaxIdleConnsPerHost = workers
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Start starts the sender's loops.
func (s *Sender) Start(ctx context.Context) error {
	s.Workers = orDefault(s.Workers, DefaultWorkers)
	s.AppWorkers = orDefault(s.AppWorkers, max(1, s.Workers/4))
	s.AttemptTimeout = orDefault(s.AttemptTimeout, DefaultAttemptTimeout)
	s.MinRetryDelay = orDefault(s.MinRetryDelay, DefaultMinRetryDelay)
	s.MaxRetryDelay = orDefault(s.MaxRetryDelay, DefaultMaxRetryDelay)
	s.MaxAttempts = orDefault(s.MaxAttempts, DefaultMaxAttempts)
	s.PollInterval = orDefault(s.PollInterval, DefaultPollInterval)
	// A node named as before restarts: what it leased is its previous
	// run's, which will not send it.
	release := s.Node
	if s.Node == "" {
		s.Node = uuid.NewString()
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.client = Client(s.AllowTargets, s.Workers)
	s.inFlight = map[string]int{}
	s.fanWake, s.sendWake, s.stop = make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
	if _, shared := s.Store.(herald.SharedStore); !shared {
		// A store of one node: what is leased was left by its previous run.
		release = ""
	}
	if _, shared := s.Store.(herald.SharedStore); !shared || release != "" {
		if err := s.Store.Update(ctx, func(tx herald.Tx) error { return tx.ReleaseConnectorLeases(ctx, release) }); err != nil {
			return err
		}
	}
	s.wg.Add(2)
	go s.fanOutLoop()
	go s.sendLoop()
	return nil
}

// Stop stops the loops and waits for the attempts in flight; what was not
// attempted stays queued.
func (s *Sender) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	done := make(chan struct{})
	go func() { s.attempts.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Each loop keeps its own poll period, from PollInterval, doubled by each
// poll up to idlePolls times it, back to PollInterval when woken: an idle
// node reads and writes next to nothing, and its own work and retries wake
// it at once.
func (s *Sender) wait(wake chan struct{}, poll *time.Duration) bool {
	if *poll == 0 {
		*poll = s.PollInterval
	}
	t := time.NewTimer(*poll)
	defer t.Stop()
	select {
	case <-s.stop:
		return false
	case <-wake:
		*poll = s.PollInterval
	case <-t.C:
		*poll = min(2**poll, idlePolls*s.PollInterval)
	}
	return true
}

// idlePolls bounds the poll period, in PollIntervals.
const idlePolls = 8

func (s *Sender) fanOutLoop() {
	defer s.wg.Done()
	var poll time.Duration
	for {
		n, jobs, err := s.fanOut(herald.WithPriority(context.Background()))
		if err != nil {
			s.Logger.Error("turning events into connector sends", "err", err)
		}
		if jobs > 0 {
			signal(s.sendWake)
		}
		if err == nil && n == fanOutBatch {
			select {
			case <-s.stop:
				return
			default:
				continue
			}
		}
		if !s.wait(s.fanWake, &poll) {
			return
		}
		select {
		case <-s.stop:
			return
		case <-time.After(fanOutGather):
		}
	}
}

// FanOut turns the next events of the log into jobs: one per outgoing
// message enqueued on a channel with a connector. It returns how many
// events it passed.
func (s *Sender) FanOut(ctx context.Context) (int, error) {
	n, _, err := s.fanOut(ctx)
	return n, err
}

// fanOut is FanOut, and also returns how many jobs it created.
func (s *Sender) fanOut(ctx context.Context) (int, int, error) {
	var cursor int64
	var events []*herald.Event
	var jobs []*herald.ConnectorJob
	now := s.now()
	if n, ok, err := s.passWithoutSends(ctx); ok || err != nil {
		return n, 0, err
	}
	var last int64
	var moved bool
	write := func(tx herald.Tx) (err error) {
		if moved, err = tx.AdvanceConnectorCursor(ctx, cursor, last); err != nil || !moved {
			return err
		}
		return tx.CreateConnectorJobs(ctx, jobs)
	}
	err := herald.PlanAndWrite(ctx, s.Store, func(q herald.Queries) (_ func(herald.Tx) error, _ time.Duration, err error) {
		events, jobs = nil, nil
		if cursor, err = q.ConnectorCursor(ctx); err != nil {
			return nil, 0, err
		}
		// This node's own events from memory, as they were made:
		// neither read back nor decoded again.
		if events, err = herald.EventsSince(ctx, s.Store, q, cursor, fanOutBatch); err != nil || len(events) == 0 {
			return nil, 0, err
		}
		connected := map[string]bool{}
		for _, e := range events {
			if e.Type != herald.EventMessageSent {
				continue
			}
			d, err := e.DecodeData()
			if err != nil {
				return nil, 0, err
			}
			if !enqueuedOnChannel(e) {
				continue
			}
			m := d.Message
			ch := m.Channel.ChannelUUID
			has, seen := connected[ch]
			if !seen {
				_, err := q.Connector(ctx, e.AppID, ch)
				if err != nil && !herald.IsNotFound(err) {
					return nil, 0, err
				}
				has = err == nil
				connected[ch] = has
			}
			if has {
				jobs = append(jobs, &herald.ConnectorJob{ID: uuid.Must(uuid.NewV7()).String(), AppID: e.AppID,
					ChannelUUID: ch, ContactUUID: m.Channel.ContactUUID, MessageID: m.ID, EventSeq: e.Seq,
					Status: herald.PushPending, NextAttemptAt: now, CreatedAt: now})
			}
		}
		last = events[len(events)-1].Seq
		if len(jobs) == 0 {
			// Only the cursor moves, which nothing waits for: with
			// the next commit rather than in one of its own.
			return write, fanOutGather, nil
		}
		return write, 0, nil
	})
	if err == nil && len(events) == 0 {
		s.passed.Store(cursor + 1)
		return 0, 0, nil
	}
	if err != nil || !moved {
		s.passed.Store(0)
		return 0, 0, err
	}
	s.passed.Store(last + 1)
	return len(events), len(jobs), nil
}

// passWithoutSends moves the cursor over the events this node appended
// after it, when it knows where the cursor is, holds every event since in
// memory, and none of them is a message enqueued on a channel: no job to
// create, so nothing to read. ok is false when a full pass must run.
func (s *Sender) passWithoutSends(ctx context.Context) (n int, ok bool, err error) {
	r, recent := s.Store.(herald.RecentEvents)
	passed := s.passed.Load()
	if !recent || passed == 0 {
		return 0, false, nil
	}
	cursor := passed - 1
	events, held := r.RecentEventsSince(cursor, fanOutBatch)
	if !held {
		return 0, false, nil
	}
	if len(events) == 0 {
		return 0, true, nil
	}
	for _, e := range events {
		if enqueuedOnChannel(e) {
			return 0, false, nil
		}
	}
	last := events[len(events)-1].Seq
	var moved bool
	err = herald.UpdateSoon(ctx, s.Store, fanOutGather, func(tx herald.Tx) (err error) {
		moved, err = tx.AdvanceConnectorCursor(ctx, cursor, last)
		return err
	})
	if err != nil || !moved {
		// The write failed, or another process moved the cursor: the
		// full pass reads it again.
		s.passed.Store(0)
		return 0, err != nil, err
	}
	s.passed.Store(last + 1)
	return len(events), true, nil
}

// enqueuedOnChannel reports whether e may be a message to send through a
// channel's connector (an event whose data does not decode may be: the
// full pass reports it).
func enqueuedOnChannel(e *herald.Event) bool {
	if e.Type != herald.EventMessageSent {
		return false
	}
	d, err := e.DecodeData()
	if err != nil {
		return true
	}
	m := d.Message
	return m != nil && m.Channel != nil && m.Channel.Direction == herald.DirectionSent && m.Channel.Status == herald.ChannelEnqueued
}

func (s *Sender) sendLoop() {
	defer s.wg.Done()
	var poll time.Duration
	for {
		claimed, err := s.claim()
		if err != nil {
			s.Logger.Error("claiming connector sends", "err", err)
		}
		if claimed > 0 {
			continue
		}
		if !s.wait(s.sendWake, &poll) {
			return
		}
	}
}

func (s *Sender) leaseDuration() time.Duration { return 2*s.AttemptTimeout + 30*time.Second }

func (s *Sender) claim() (int, error) {
	s.mu.Lock()
	free := s.Workers - s.busy
	var full []string
	for app, n := range s.inFlight {
		if n >= s.AppWorkers {
			full = append(full, app)
		}
	}
	s.mu.Unlock()
	if free <= 0 {
		return 0, nil
	}
	ctx := herald.WithPriority(context.Background())
	now := s.now()
	var jobs []*herald.ConnectorJob
	err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		jobs, err = tx.ClaimConnectorJobs(ctx, s.Node, now, now.Add(s.leaseDuration()), free, s.AppWorkers, full)
		return err
	})
	if err != nil {
		return 0, err
	}
	started := 0
	var back []*herald.ConnectorJob
	s.mu.Lock()
	for _, j := range jobs {
		if s.inFlight[j.AppID] >= s.AppWorkers || s.busy >= s.Workers {
			back = append(back, j)
			continue
		}
		s.inFlight[j.AppID]++
		s.busy++
		started++
		s.attempts.Add(1)
		go s.attempt(j)
	}
	s.mu.Unlock()
	if len(back) > 0 {
		err = s.Store.Update(ctx, func(tx herald.Tx) error {
			for _, j := range back {
				if _, err := tx.RetryConnectorJob(ctx, s.Node, j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return started, err
}

func (s *Sender) done(j *herald.ConnectorJob) {
	s.mu.Lock()
	s.busy--
	if s.inFlight[j.AppID]--; s.inFlight[j.AppID] <= 0 {
		delete(s.inFlight, j.AppID)
	}
	s.mu.Unlock()
	s.attempts.Done()
	signal(s.sendWake)
}

func (s *Sender) attempt(j *herald.ConnectorJob) {
	defer s.done(j)
	ctx, cancel := context.WithTimeout(herald.WithPriority(context.Background()), s.AttemptTimeout)
	defer cancel()
	id, skip, err := s.send(ctx, j)
	if !skip {
		s.Metrics.ConnectorSent(sendMetric(err, j.Attempts+1, s.MaxAttempts))
	}
	s.complete(j, id, skip, err)
}

// send sends a job's message; skip when there is nothing to send any more
// (the connector removed, the message gone or no longer enqueued).
func (s *Sender) send(ctx context.Context, j *herald.ConnectorJob) (externalID string, skip bool, err error) {
	var c *herald.Connector
	out := &connector.Outgoing{}
	err = s.Store.View(ctx, func(q herald.Queries) (err error) {
		if c, err = q.Connector(ctx, j.AppID, j.ChannelUUID); err != nil {
			return err
		}
		if out.Message, err = q.Message(ctx, j.AppID, j.MessageID); err != nil {
			return err
		}
		mc := out.Message.Channel
		if mc == nil || mc.Status != herald.ChannelEnqueued {
			skip = true
			return nil
		}
		out.To = mc.To
		if mc.ReplyTo != nil {
			if r, err := q.Message(ctx, j.AppID, mc.ReplyTo.ID); err == nil && r.Channel != nil {
				out.ReplyTo = r.Channel.ExternalID
			} else if err != nil && !herald.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
	if herald.IsNotFound(err) {
		return "", true, nil
	}
	if err != nil || skip {
		return "", skip, err
	}
	p := Providers[c.Provider]
	if p == nil {
		return "", false, &connector.Refused{Payload: []byte(`{"error":"unknown provider"}`)}
	}
	id, err := p.Send(ctx, s.client, c, out)
	return id, false, err
}

// complete records an attempt's outcome with the job's end or retry.
func (s *Sender) complete(j *herald.ConnectorJob, externalID string, skip bool, sendErr error) {
	ctx := herald.WithPriority(context.Background())
	now := s.now()
	refused, isRefused := connector.IsRefused(sendErr)
	if sendErr != nil {
		s.Logger.Warn("connector send failed", "app", j.AppID, "message", j.MessageID, "channel", j.ChannelUUID,
			"attempt", j.Attempts+1, "err", sendErr)
	}
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		if skip || sendErr == nil || isRefused {
			mine, err := tx.FinishConnectorJob(ctx, s.Node, j.ID)
			if err != nil || !mine || skip {
				return err
			}
			if isRefused {
				return s.Service.ConnectorFailed(ctx, tx, j.AppID, j.MessageID, refused.Payload)
			}
			return s.Service.ConnectorSent(ctx, tx, j.AppID, j.MessageID, externalID)
		}
		r := *j
		r.Attempts++
		r.LastError = sendErr.Error()
		var busy *connector.Busy
		var asked time.Duration
		if errors.As(sendErr, &busy) {
			asked = busy.RetryAfter
		}
		if r.Attempts < s.MaxAttempts {
			r.NextAttemptAt = now.Add(s.backoff(r.Attempts, asked))
			// Woken when the retry is due, not at the next poll.
			time.AfterFunc(r.NextAttemptAt.Sub(now), func() { signal(s.sendWake) })
			_, err := tx.RetryConnectorJob(ctx, s.Node, &r)
			return err
		}
		r.Status = herald.PushFailed
		mine, err := tx.RetryConnectorJob(ctx, s.Node, &r)
		if err != nil || !mine {
			return err
		}
		payload, _ := json.Marshal(map[string]any{"error": r.LastError, "attempts": r.Attempts})
		return s.Service.ConnectorFailed(ctx, tx, j.AppID, j.MessageID, payload)
	})
	if err != nil {
		s.Logger.Error("recording a connector send", "job", j.ID, "err", err)
	}
}

func (s *Sender) backoff(n int, asked time.Duration) time.Duration {
	d := s.MinRetryDelay
	for i := 1; i < n && d < s.MaxRetryDelay; i++ {
		d *= 2
	}
	d = max(d, asked)
	return min(d, s.MaxRetryDelay)
}
