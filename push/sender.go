// Package push sends push notifications: it turns the events that push
// (message.sent, announcement.sent, notification.sent) into push jobs, one
// per recipient's device and provider, and sends them through APNs, FCM or
// the app's own webhook.
//
// Delivery is durable and at least once, as the webhook delivery engine's:
// a cursor over the event log, shared by every node, advances in the
// transaction that writes the jobs of the events it passes (so each event's
// jobs are written once, whichever node gets there first, and none is lost
// to a crash), and jobs are leased to the node that sends them until the
// lease ends (so a node that dies leaves its jobs to the others, or to its
// next start). Each node sends with bounded concurrency, and at most
// AppWorkers jobs of any one app at once: an app whose provider stalls
// holds only its own share of the workers.
package push

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/metrics"
)

// OnlineFunc reports which of an app's users are online (connected to the
// Client API's WebSocket): they see what happens as it happens, and get no
// push.
type OnlineFunc func(ctx context.Context, appID string, userIDs []string) (online map[string]bool, err error)

// OnlineOf makes an OnlineFunc of a function that lists the users online.
func OnlineOf(connected func(ctx context.Context, appID string, userIDs []string) ([]string, error)) OnlineFunc {
	return func(ctx context.Context, appID string, userIDs []string) (map[string]bool, error) {
		users, err := connected(ctx, appID, userIDs)
		online := make(map[string]bool, len(users))
		for _, u := range users {
			online[u] = true
		}
		return online, err
	}
}

// Defaults.
const (
	DefaultAPNSProductionURL  = "https://api.push.apple.com"
	DefaultAPNSDevelopmentURL = "https://api.sandbox.push.apple.com"
	DefaultFCMURL             = "https://fcm.googleapis.com"
	DefaultWorkers            = 32
	DefaultAttemptTimeout     = 10 * time.Second
	DefaultMinRetryDelay      = time.Second
	DefaultMaxRetryDelay      = 10 * time.Minute
	DefaultMaxAttempts        = 10
	DefaultPollInterval       = 2 * time.Second
	// fanOutBatch bounds the events one fan-out transaction passes.
	fanOutBatch = 200
	// fanOutGather is how long the fan-out lets events gather after a
	// wake-up: woken by every commit, it would otherwise read the log and
	// write its cursor once per message, a write transaction beside each
	// send's on the store's one writer. A push reaches a device in
	// seconds; a tenth of one more is not seen.
	fanOutGather = 100 * time.Millisecond
)

// Sender sends an installation's push notifications.
type Sender struct {
	Store   herald.Store
	Service *messaging.Service
	// Online, when set, tells which recipients are online; nil: nobody.
	Online OnlineFunc
	// APNSURL and FCMURL replace the services' hosts (for tests, or a
	// relay); by default APNs' production or development host, as each
	// app's provider says, and FCM's.
	APNSURL, FCMURL string
	// AllowTargets exempts address ranges from the egress guard, as for
	// webhooks.
	AllowTargets []netip.Prefix
	// TLSConfig, when set, is the TLS configuration of every connection
	// (tests trust their servers' certificates with it).
	TLSConfig *tls.Config
	// Workers bounds the attempts in flight on this node; AppWorkers those
	// of one app (a quarter of Workers by default).
	Workers, AppWorkers int
	// AttemptTimeout bounds one attempt (the provider's access token
	// included).
	AttemptTimeout time.Duration
	// Retries wait MinRetryDelay, doubling up to MaxRetryDelay (or what a
	// Retry-After asks, within MaxRetryDelay); a job fails after
	// MaxAttempts attempts.
	MinRetryDelay, MaxRetryDelay time.Duration
	MaxAttempts                  int
	// PollInterval is how often the log and the jobs are read when
	// nothing wakes the sender.
	PollInterval time.Duration
	// Node names this node's leases; random by default.
	Node   string
	Logger *slog.Logger
	// Metrics counts the sends by outcome; nil counts nothing.
	Metrics *metrics.Metrics
	Now     func() time.Time

	client   *http.Client
	apns     apnsTokens
	fcm      fcmTokens
	fanWake  chan struct{}
	sendWake chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	attempts sync.WaitGroup

	mu       sync.Mutex
	busy     int
	inFlight map[string]int
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

// Start starts the sender's loops.
func (s *Sender) Start(ctx context.Context) error {
	s.Workers = orDefault(s.Workers, DefaultWorkers)
	s.AppWorkers = orDefault(s.AppWorkers, max(1, s.Workers/4))
	s.AttemptTimeout = orDefault(s.AttemptTimeout, DefaultAttemptTimeout)
	s.MinRetryDelay = orDefault(s.MinRetryDelay, DefaultMinRetryDelay)
	s.MaxRetryDelay = orDefault(s.MaxRetryDelay, DefaultMaxRetryDelay)
	s.MaxAttempts = orDefault(s.MaxAttempts, DefaultMaxAttempts)
	s.PollInterval = orDefault(s.PollInterval, DefaultPollInterval)
	if s.Node == "" {
		s.Node = uuid.NewString()
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.FCMURL == "" {
		s.FCMURL = DefaultFCMURL
	}
	t := egress.NewTransport(s.AllowTargets)
	t.MaxIdleConnsPerHost = s.Workers
	if s.TLSConfig != nil {
		t.TLSClientConfig = s.TLSConfig.Clone()
	}
	s.client = &http.Client{Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s.fcm.client = &http.Client{Transport: t, Timeout: s.AttemptTimeout}
	s.inFlight = map[string]int{}
	s.fanWake, s.sendWake, s.stop = make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
	if _, shared := s.Store.(herald.SharedStore); !shared {
		// A store of one node: what is leased was left by its previous run.
		if err := s.Store.Update(ctx, func(tx herald.Tx) error { return tx.ReleasePushLeases(ctx, "") }); err != nil {
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
	close(s.stop)
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

// wait sleeps until woken, polled or stopped; false when stopped.
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
			s.Logger.Error("turning events into push notifications", "err", err)
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

// FanOut turns the next events of the log into push jobs, and returns how
// many events it passed.
func (s *Sender) FanOut(ctx context.Context) (int, error) {
	n, _, err := s.fanOut(ctx)
	return n, err
}

// fanOut is FanOut, and also returns how many jobs it created.
func (s *Sender) fanOut(ctx context.Context) (int, int, error) {
	var cursor int64
	var events []*herald.Event
	var jobs []*herald.PushJob
	now := s.now()
	var last int64
	var moved bool
	write := func(tx herald.Tx) (err error) {
		if moved, err = tx.AdvancePushCursor(ctx, cursor, last); err != nil || !moved {
			return err
		}
		return tx.CreatePushJobs(ctx, jobs)
	}
	err := herald.PlanAndWrite(ctx, s.Store, func(q herald.Queries) (_ func(herald.Tx) error, _ time.Duration, err error) {
		events, jobs = nil, nil
		if cursor, err = q.PushCursor(ctx); err != nil {
			return nil, 0, err
		}
		// This node's own events from memory, as they were made:
		// neither read back nor decoded again.
		if events, err = herald.EventsSince(ctx, s.Store, q, cursor, fanOutBatch); err != nil || len(events) == 0 {
			return nil, 0, err
		}
		providers, err := q.PushProviders(ctx, "")
		if err != nil {
			return nil, 0, err
		}
		kinds := map[string]map[string]bool{}
		for _, p := range providers {
			if kinds[p.AppID] == nil {
				kinds[p.AppID] = map[string]bool{}
			}
			kinds[p.AppID][p.Kind] = true
		}
		for _, e := range events {
			if kinds[e.AppID] == nil {
				continue
			}
			js, err := s.jobsOf(ctx, q, e, kinds[e.AppID], now)
			if err != nil {
				return nil, 0, err
			}
			jobs = append(jobs, js...)
		}
		last = events[len(events)-1].Seq
		if len(jobs) == 0 {
			// Only the cursor moves, which nothing waits for: with
			// the next commit rather than in one of its own.
			return write, fanOutGather, nil
		}
		return write, 0, nil
	})
	if err != nil || len(events) == 0 || !moved {
		return 0, 0, err
	}
	return len(events), len(jobs), nil
}

// nativeKind is the provider that sends to a device of a token type.
func nativeKind(tokenType string) string {
	switch tokenType {
	case herald.PushAPNS:
		return herald.PushProviderAPNS
	case herald.PushGCM, herald.PushFCM:
		return herald.PushProviderFCM
	}
	return ""
}

// jobsOf returns the push jobs of an event of an app with providers of
// the given kinds: one per device whose provider the app has, and, when
// it has a webhook, one per recipient with devices left for it.
func (s *Sender) jobsOf(ctx context.Context, q herald.Queries, e *herald.Event, kinds map[string]bool, now time.Time) ([]*herald.PushJob, error) {
	switch e.Type {
	case herald.EventMessageSent, herald.EventAnnouncementSent, herald.EventNotificationSent:
	default:
		return nil, nil
	}
	d, err := e.DecodeData()
	if err != nil {
		return nil, err
	}
	users, raw, payload := recipientsOf(e, d)
	if len(users) == 0 {
		return nil, nil
	}
	notes, err := render(raw, users)
	if err != nil {
		s.Logger.Error("reading a notification object", "event", e.ID, "err", err)
		return nil, nil
	}
	var jobs []*herald.PushJob
	for _, u := range users {
		if e.Type == herald.EventMessageSent {
			// Blocks hide a message from both sides (HideFromBlocks).
			hidden, err := q.MessageHidden(ctx, e.AppID, d.Message.ID, u)
			if err != nil {
				return nil, err
			}
			if hidden {
				continue
			}
		}
		tokens, err := q.PushTokens(ctx, e.AppID, u)
		if err != nil {
			return nil, err
		}
		p := payload
		p.Notification = notes[u]
		body, err := jsonMarshal(&p)
		if err != nil {
			return nil, err
		}
		job := func(kind, device string) *herald.PushJob {
			return &herald.PushJob{ID: uuid.Must(uuid.NewV7()).String(), AppID: e.AppID, EventID: e.ID, EventSeq: e.Seq,
				UserID: u, Provider: kind, DeviceID: device, Payload: body, Status: herald.PushPending,
				NextAttemptAt: now, CreatedAt: now}
		}
		leftOver := false
		for _, t := range tokens {
			if kind := nativeKind(t.Type); kinds[kind] {
				jobs = append(jobs, job(kind, t.DeviceID))
			} else {
				leftOver = true
			}
		}
		if leftOver && kinds[herald.PushProviderWebhook] {
			jobs = append(jobs, job(herald.PushProviderWebhook, ""))
		}
	}
	return jobs, nil
}

func (s *Sender) sendLoop() {
	defer s.wg.Done()
	var poll time.Duration
	for {
		claimed, err := s.claim()
		if err != nil {
			s.Logger.Error("claiming push notifications", "err", err)
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

// claim leases what this node's free workers may take and starts their
// attempts; it returns how many it started.
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
	var jobs []*herald.PushJob
	err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		jobs, err = tx.ClaimPushJobs(ctx, s.Node, now, now.Add(s.leaseDuration()), free, s.AppWorkers, full)
		return err
	})
	if err != nil {
		return 0, err
	}
	started := 0
	var back []*herald.PushJob
	s.mu.Lock()
	for _, j := range jobs {
		// An app with attempts in flight has fewer workers left than the
		// claim's cap per app gave it.
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
				if _, err := tx.RetryPushJob(ctx, s.Node, j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return started, err
}

func (s *Sender) done(j *herald.PushJob) {
	s.mu.Lock()
	s.busy--
	if s.inFlight[j.AppID]--; s.inFlight[j.AppID] <= 0 {
		delete(s.inFlight, j.AppID)
	}
	s.mu.Unlock()
	s.attempts.Done()
	signal(s.sendWake)
}

// outcome is how an attempt ended.
type outcome struct {
	// sent: delivered, or nothing to deliver.
	sent bool
	// invalidToken: the service refused the device's token for good.
	invalidToken bool
	// retry: worth trying again, after retryAfter if the service said.
	retry      bool
	retryAfter time.Duration
	// err describes a failure.
	err error
}

func (s *Sender) attempt(j *herald.PushJob) {
	defer s.done(j)
	ctx, cancel := context.WithTimeout(herald.WithPriority(context.Background()), s.AttemptTimeout)
	defer cancel()
	out, token := s.send(ctx, j)
	s.Metrics.PushSent(out.metric(j.Attempts+1, s.MaxAttempts))
	s.complete(j, out, token)
}

// target is what an attempt reads before it sends.
type target struct {
	provider *herald.PushProvider
	device   *herald.PushToken
	devices  []*herald.PushToken
	badge    int
}

func (s *Sender) send(ctx context.Context, j *herald.PushJob) (outcome, string) {
	var p Payload
	if err := jsonUnmarshal(j.Payload, &p); err != nil {
		return outcome{err: err}, ""
	}
	if s.Online != nil {
		online, err := s.Online(ctx, j.AppID, []string{j.UserID})
		if err != nil {
			// Better a push to someone online than none to someone who
			// is not.
			s.Logger.Warn("asking who is online; pushing", "app", j.AppID, "err", err)
		} else if online[j.UserID] {
			return outcome{sent: true}, ""
		}
	}
	var t target
	err := s.Store.View(ctx, func(q herald.Queries) error {
		var err error
		if t.provider, err = q.PushProvider(ctx, j.AppID, j.Provider); err != nil {
			return err
		}
		if j.DeviceID != "" {
			if t.device, err = q.PushToken(ctx, j.AppID, j.UserID, j.DeviceID); err != nil {
				return err
			}
		} else {
			tokens, err := q.PushTokens(ctx, j.AppID, j.UserID)
			if err != nil {
				return err
			}
			kinds, err := q.PushProviders(ctx, j.AppID)
			if err != nil {
				return err
			}
			native := map[string]bool{}
			for _, k := range kinds {
				native[k.Kind] = true
			}
			for _, tok := range tokens {
				if !native[nativeKind(tok.Type)] {
					t.devices = append(t.devices, tok)
				}
			}
		}
		b, err := q.Badge(ctx, j.AppID, j.UserID)
		if err != nil {
			return err
		}
		// Layer's badge: the unread messages, plus what the app counts
		// itself (users/badging.md, external_unread_count).
		t.badge = b.UnreadMessageCount + b.ExternalUnreadCount
		return nil
	})
	if herald.IsNotFound(err) {
		// The provider was removed, or the device unregistered: nothing
		// to send.
		return outcome{sent: true}, ""
	}
	if err != nil {
		return outcome{retry: true, err: err}, ""
	}
	badge := t.badge
	p.Notification.Badge = &badge
	switch j.Provider {
	case herald.PushProviderAPNS:
		return s.sendAPNS(ctx, j, t.provider, t.device, &p), t.device.Token
	case herald.PushProviderFCM:
		return s.sendFCM(ctx, t.provider, t.device, &p), t.device.Token
	case herald.PushProviderWebhook:
		if len(t.devices) == 0 {
			return outcome{sent: true}, ""
		}
		return s.sendWebhook(ctx, j, t.provider, t.devices, &p), ""
	}
	return outcome{err: errors.New("unknown provider " + j.Provider)}, ""
}

// complete records an attempt's outcome.
func (s *Sender) complete(j *herald.PushJob, out outcome, token string) {
	ctx := herald.WithPriority(context.Background())
	now := s.now()
	if out.err != nil {
		s.Logger.Warn("push attempt failed", "app", j.AppID, "job", j.ID, "provider", j.Provider, "user", j.UserID,
			"device", j.DeviceID, "attempt", j.Attempts+1, "err", out.err)
	}
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		switch {
		case out.sent:
			_, err := tx.FinishPushJob(ctx, s.Node, j.ID)
			return err
		case out.invalidToken:
			mine, err := tx.FinishPushJob(ctx, s.Node, j.ID)
			if err != nil || !mine {
				return err
			}
			return s.Service.UnregisterRefusedPushToken(ctx, tx, j.AppID, j.UserID, j.DeviceID, token)
		}
		r := *j
		r.Attempts++
		r.LastError = out.err.Error()
		if !out.retry || r.Attempts >= s.MaxAttempts {
			r.Status = herald.PushFailed
		} else {
			r.NextAttemptAt = now.Add(s.backoff(r.Attempts, out.retryAfter))
			// Woken when the retry is due, not at the next poll.
			time.AfterFunc(r.NextAttemptAt.Sub(now), func() { signal(s.sendWake) })
		}
		_, err := tx.RetryPushJob(ctx, s.Node, &r)
		return err
	})
	if err != nil {
		s.Logger.Error("recording a push attempt", "job", j.ID, "err", err)
	}
}

// backoff is the delay before the retry after attempt n: doubling from
// MinRetryDelay, or what the service asked, within MaxRetryDelay.
func (s *Sender) backoff(n int, asked time.Duration) time.Duration {
	d := s.MinRetryDelay
	for i := 1; i < n && d < s.MaxRetryDelay; i++ {
		d *= 2
	}
	d = max(d, asked)
	return min(d, s.MaxRetryDelay)
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// statusOutcome is the outcome of an HTTP answer that says nothing more
// specific: 2xx sent; 408, 429 and 5xx retried; others failed.
func statusOutcome(resp *http.Response, detail string) outcome {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return outcome{sent: true}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return outcome{retry: true, retryAfter: retryAfter(resp.Header), err: errors.New(resp.Status + " " + detail)}
	}
	return outcome{err: errors.New(resp.Status + " " + detail)}
}
