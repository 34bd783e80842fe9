package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
)

type job struct {
	d *herald.Delivery
	w *herald.Webhook
}

type result struct {
	job
	a          *herald.Attempt
	retryAfter time.Duration // from a Retry-After header, -1 when none
	// deactivate, once the outcome is applied, says why the webhook must
	// be deactivated, if it must.
	deactivate string
}

// claimBatch bounds the deliveries one turn claims.
const claimBatch = 256

// dispatchLoop sends the deliveries: each turn records the outcomes of the
// attempts that finished and claims due deliveries for the free workers, in
// one update. One commit thus finishes a delivery and starts the next one
// of its queue.
func (e *Engine) dispatchLoop() {
	defer e.wg.Done()
	defer func() {
		close(e.jobs)
		e.workersWG.Wait()
	}()
	timer := time.NewTimer(e.PollInterval)
	defer timer.Stop()
	var (
		finished []*result // attempts whose outcome is not recorded yet
		inflight int       // jobs handed to workers, results not received
		stopping bool
		again    bool // the last turn left work
		failed   bool // the last turn failed
		// due says deliveries may be claimable: a wake-up said so, the
		// last claim took all it could, or completions released some.
		// Otherwise a turn only records outcomes: most deliveries come
		// from the fan-out already leased.
		due = true
	)
	stop := e.stop // nil once stopping, so that it no longer fires
	// poll is the backstop's period: it grows while the polls find
	// nothing, so that an idle node costs next to nothing, and is back to
	// PollInterval at the first sign of work.
	poll := e.PollInterval
	polled := false // the turn is the backstop's
	receive := func(rs []*result) {
		inflight--
		e.sched.mu.Lock()
		e.sched.give(rs[0].d.AppID, rs[0].d.WebhookID)
		e.sched.mu.Unlock()
		now := e.now()
		for _, r := range rs {
			r.deactivate = e.outcome(r, now)
			e.observe(r)
			finished = append(finished, r)
		}
	}
	dispatch := func(jobs []*job) {
		for _, j := range jobs {
			inflight++
			e.jobs <- j
		}
	}
	for {
		// Stopping with nothing in flight, there is nothing to wait for:
		// only the outcomes left to record, if any, before returning.
		if !again && !(stopping && inflight == 0) {
			timer.Reset(poll)
			polled = false
			select {
			case <-stop:
				stopping, stop = true, nil
			case <-e.dispatchWake:
				due, poll = true, e.PollInterval
			case r := <-e.results:
				receive(r)
				poll = e.PollInterval
			case jobs := <-e.handoffs:
				dispatch(jobs)
				poll = e.PollInterval
			case <-timer.C:
				due, polled = true, true
			}
		}
		again = false
	gather:
		for {
			select {
			case r := <-e.results:
				receive(r)
			case jobs := <-e.handoffs:
				dispatch(jobs)
			case <-stop:
				stopping, stop = true, nil
			default:
				break gather
			}
		}
		if stopping && inflight == 0 && (len(finished) == 0 || failed) {
			// What stays leased is released at the next start, or
			// recovered by the other nodes.
			return
		}
		select {
		case <-e.dispatchWake:
			due = true
		default:
		}
		// Stopping, a turn leases nothing: it only records outcomes.
		t, err := e.turn(finished, !stopping, due && !stopping)
		failed = err != nil
		if err != nil {
			// The outcomes stay in memory and are recorded by a later
			// turn; the leases keep their deliveries meanwhile.
			e.Logger.Error("recording deliveries", "err", err)
			continue
		}
		finished = finished[:0]
		if polled && t.claimed == 0 {
			poll = min(2*poll, idlePolls*e.PollInterval)
		}
		dispatch(t.jobs)
		// Still due: no claim ran (no free workers), the claim took all
		// it asked for or left some behind for the caps, or some were
		// released without a lease.
		due = (due && t.claim == 0) || (t.claim > 0 && (t.claimed == t.claim || t.full)) || t.released > t.leased
		// Stopping, nothing is claimed: only results are worth a turn.
		again = (due && !stopping && e.sched.hasFree()) || len(e.results) > 0 || len(e.handoffs) > 0
	}
}

// turnResult is what a turn did.
type turnResult struct {
	jobs     []*job
	leased   int // released deliveries leased at once
	claim    int // deliveries the claim asked for
	claimed  int
	full     bool // the claim may have left deliveries behind for the caps
	released int  // held deliveries the completions released
}

// turn records finished outcomes and, if lease, leases the next delivery of
// each queue they free to the workers that may take it; if claim, it claims
// due deliveries for the workers left; all in one update.
func (e *Engine) turn(finished []*result, lease, claim bool) (turnResult, error) {
	var t turnResult
	// Without a free worker, a claim would be empty: it waits, still
	// due, for the next turn.
	claim = claim && e.sched.hasFree()
	if len(finished) == 0 && !claim {
		return t, nil
	}
	ctx := herald.WithPriority(context.Background())
	completions := make([]herald.Completion, len(finished))
	for i, r := range finished {
		completions[i] = herald.Completion{Delivery: r.d, Attempt: r.a}
	}
	now := e.now()
	// The lease outlasts the longest attempt; a crashed node's deliveries
	// become claimable again once it ends.
	until := now.Add(e.leaseDuration())
	var leased, claimed, send []*herald.Delivery
	var webhooks []*herald.Webhook
	update := e.Store.Update
	if !claim && !e.releasing(finished) {
		// Nothing waits for these outcomes: they may wait for the next
		// commit, rather than take one of their own.
		update = func(ctx context.Context, fn func(herald.Tx) error) error {
			return herald.UpdateSoon(ctx, e.Store, recordWithin, fn)
		}
	}
	err := update(ctx, func(tx herald.Tx) (err error) {
		// What a previous run of this function took was rolled back.
		e.sched.giveAll(send)
		leased, claimed, send, webhooks, t.claim, t.full = nil, nil, nil, nil, 0, false
		if len(completions) > 0 {
			// Deactivations first: what the completions release for a
			// webhook that their outcomes turn off is not leased.
			if err := e.deactivate(ctx, tx, finished, now); err != nil {
				return err
			}
			l := herald.Lease{Node: e.Node, Now: now, Until: until}
			if lease {
				l.Limit, l.Webhooks = e.sched.leaseCaps(finished)
			}
			if leased, t.released, err = tx.CompleteDeliveries(ctx, completions, l); err != nil {
				return err
			}
			if leased, err = e.admit(ctx, tx, leased, now); err != nil {
				return err
			}
		}
		if claim {
			var kept []*herald.Delivery
			if kept, claimed, t.claim, t.full, err = e.claim(ctx, tx, now, until); err != nil {
				e.sched.giveAll(leased)
				return err
			}
			send = append(leased, kept...)
		} else {
			send = leased
		}
		// The webhooks of what is to be sent, read in this transaction
		// rather than in one more.
		var ids []string
		seen := map[string]bool{}
		for _, d := range send {
			if !seen[d.WebhookID] {
				seen[d.WebhookID] = true
				ids = append(ids, d.WebhookID)
			}
		}
		webhooks, err = tx.WebhooksByID(ctx, ids)
		return err
	})
	t.leased, t.claimed = len(leased), len(claimed)
	if err != nil {
		// Whatever the update leased is not leased: it rolled back.
		e.sched.giveAll(send)
		return t, err
	}
	for _, d := range leased {
		// Released from behind another: more may wait behind it.
		e.held.add(d)
	}
	byID := make(map[string]*herald.Webhook, len(webhooks))
	for _, w := range webhooks {
		byID[w.ID] = w
	}
	for _, d := range send {
		// Every delivery of a deleted webhook went with it, so each one's
		// webhook is there; the check only guards the invariant.
		if w := byID[d.WebhookID]; w != nil {
			t.jobs = append(t.jobs, &job{d: d, w: w})
		} else {
			e.sched.giveAll([]*herald.Delivery{d})
		}
	}
	return t, nil
}

// idlePolls bounds the period of the dispatcher's and the fan-out's
// backstops, in PollIntervals, once their polls find nothing: every change
// this node makes wakes them at once, and so do other nodes' on a shared
// store.
const idlePolls = 8

// recordWithin bounds how long outcomes that nothing waits for may wait to
// be recorded with other writes (see herald.DeferredUpdates).
const recordWithin = 25 * time.Millisecond

// releasing reports whether the outcomes may release deliveries held
// behind them, which wait for their record.
func (e *Engine) releasing(finished []*result) bool {
	for _, r := range finished {
		if r.d.OrderingKey != "" && r.d.Status == herald.DeliveryDelivered {
			if _, maybe := e.held.get(r.d); maybe {
				return true
			}
		}
	}
	return false
}

// admit promises workers to the deliveries leased to this node in tx that
// may have one, and returns those; the others it returns to the store, in
// tx: their app or webhook took workers elsewhere since the caps the lease
// followed were read.
func (e *Engine) admit(ctx context.Context, tx herald.Tx, leased []*herald.Delivery, now time.Time) ([]*herald.Delivery, error) {
	if len(leased) == 0 {
		return nil, nil
	}
	kept, returned := e.sched.takeLeased(leased)
	if len(returned) > 0 {
		ids := make([]string, len(returned))
		for i, d := range returned {
			ids[i] = d.ID
		}
		if err := tx.ReturnDeliveries(ctx, e.Node, ids, now); err != nil {
			e.sched.giveAll(kept)
			return nil, err
		}
	}
	return kept, nil
}

// claim claims due deliveries for the workers free, within the caps of
// their apps and webhooks (see scheduler), in tx. It returns those it
// promised a worker and all it claimed (those it returned to the store, as
// admit does, included), how many it asked for and whether it may have
// left some behind for the caps.
func (e *Engine) claim(ctx context.Context, tx herald.Tx, now, until time.Time) (kept, claimed []*herald.Delivery, limit int, full bool, err error) {
	limit, caps := e.sched.claimCaps()
	limit = min(limit, claimBatch)
	if limit == 0 {
		return nil, nil, 0, false, nil
	}
	if claimed, err = tx.ClaimDeliveries(ctx, e.Node, now, until, limit, caps); err != nil {
		return nil, nil, limit, false, err
	}
	if kept, err = e.admit(ctx, tx, claimed, now); err != nil {
		return nil, nil, limit, false, err
	}
	return kept, claimed, limit, len(kept) < len(claimed) || e.sched.full(kept), nil
}

// deactivate deactivates the webhooks whose outcomes call for it.
func (e *Engine) deactivate(ctx context.Context, tx herald.Tx, finished []*result, now time.Time) error {
	for _, r := range finished {
		if r.deactivate == "" {
			continue
		}
		w, err := tx.Webhook(ctx, r.w.AppID, r.w.ID)
		if herald.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if w.Status == herald.WebhookInactive {
			continue
		}
		w.Status, w.StatusReason, w.UpdatedAt = herald.WebhookInactive, r.deactivate, now
		if err := tx.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		e.Logger.Warn("webhook deactivated", "webhook", w.ID, "reason", r.deactivate)
	}
	return nil
}

func (e *Engine) worker() {
	defer e.workersWG.Done()
	for j := range e.jobs {
		e.results <- e.sendQueue(j)
	}
}

// Bounds of what a worker sends of a queue after its head, before the
// outcomes are recorded and the queue goes back to the dispatcher.
const (
	followMax   = 256                    // deliveries, the head included
	followRead  = 64                     // deliveries read at once
	followSpell = 250 * time.Millisecond // started within this time
)

// sendQueue attempts a job's delivery and, when it is the head of its
// queue and its receiver answers 2xx, the deliveries held behind it, in
// event order, each once the one before it was answered 2xx, within
// followMax and followSpell. A queue's deliveries then go one after the
// other at the receiver's speed, each without waiting for the commit of
// the outcome before it: the outcomes are recorded together afterwards, in
// the update that releases the queue's next delivery. A crash before that
// loses nothing: the head is still pending, and leased to a node that is
// gone, so the queue is sent again from it, in order. Its first arrivals
// thus stay in event order; only the deliveries sent since the last record
// arrive twice.
//
// Only the queue's head may lead: a delivery sent for the first time that
// is not held. A delivery sent again by a resend, a requeue or a retry
// may have one of its queue pending beside it, or behind it; the first
// two set its attempts back to 0, but not the outcome of its last attempt.
func (e *Engine) sendQueue(j *job) []*result {
	r := e.attempt(j)
	rs := []*result{r}
	if j.d.OrderingKey == "" || j.d.Attempts > 0 || j.d.LastStatusCode != 0 || j.d.LastError != "" ||
		j.d.Held || j.w.Status != herald.WebhookActive {
		return rs
	}
	if !answered2xx(r) {
		e.held.reread(j.d)
		return rs
	}
	until := r.a.StartedAt.Add(followSpell)
	last := j.d
	for answered2xx(r) && len(rs) < followMax && e.now().Before(until) && !e.stopping() {
		// Most queues have nothing held: the read is only for those
		// that may have.
		gen, maybe := e.held.get(j.d)
		if !maybe {
			return rs
		}
		limit := min(followRead, followMax-len(rs))
		held, known := e.held.taken(j.d, last.EventSeq, limit)
		if !known {
			err := e.Store.View(context.Background(), func(q herald.Queries) (err error) {
				held, err = q.HeldDeliveries(context.Background(), j.d.WebhookID, j.d.OrderingKey, last.EventSeq, limit)
				return err
			})
			if err != nil {
				// The dispatcher releases the next one as it records these.
				e.Logger.Warn("reading the deliveries held behind one sent", "webhook", j.d.WebhookID, "err", err)
				return rs
			}
			if len(held) < limit {
				e.held.drop(j.d, gen)
			}
		}
		if len(held) == 0 {
			return rs
		}
		for _, d := range held {
			if d.Status != herald.DeliveryPending || !e.now().Before(until) || e.stopping() {
				// What it leaves of what it read stays held in the
				// store, where memory does not see it.
				e.held.reread(d)
				return rs
			}
			r = e.attempt(&job{d: d, w: j.w})
			rs = append(rs, r)
			last = d
			if !answered2xx(r) {
				e.held.reread(d)
				return rs
			}
		}
	}
	return rs
}

// heldHints are the queues that may have held deliveries: those the
// fan-out created some in, or released one from, since a worker last found
// none there. Held deliveries this node does not know of (another node's)
// are released one by one, as their queue's head is recorded delivered,
// and then known.
//
// On a store that no other node shares, a queue becomes known once a read
// of the store found its end with no hint since: from then on, its hint
// keeps the held deliveries the fan-out creates in it, which are then every
// held delivery of the queue after those the workers took, and the worker
// sending the queue takes them from memory rather than reading them back,
// as it otherwise does after most 2xx of a hot conversation. A queue is
// unknown again when anything else may have changed its deliveries (a
// replay, a requeue, deliveries removed: see forget; another process's
// writes, as the command line's on a server's SQLite data: see
// herald.ForeignWrites), when an attempt of it failed (its deliveries then
// wait for the retry), and past the bounds on what memory keeps. What
// memory holds only chooses what a worker sends after a 2xx: the store's
// release of a queue's next delivery, as its head is recorded, stays what
// guarantees that every delivery goes out.
type heldHints struct {
	mu  sync.Mutex
	gen uint64
	m   map[heldQueue]*heldHint
	// foreign, when set, says queues may become known (the store is
	// this node's alone), as long as its count stays at seen: another
	// process's writes may have changed any queue.
	foreign herald.ForeignWrites
	seen    uint64
	// kept counts the deliveries the hints keep.
	kept int
}

type heldQueue struct{ webhook, key string }

type heldHint struct {
	gen uint64 // of the last hint
	// known says created lists every held delivery of the queue after
	// those a worker took from it.
	known bool
	// created lists in event order the held deliveries the fan-out
	// created in the queue while it was known.
	created []*herald.Delivery
}

// Bounds of what the hints keep: the known queues with nothing held in them
// (past it, such queues are forgotten and read once more when they next
// hold something), and the deliveries kept, in all and per queue (past
// them, a queue is unknown again and keeps nothing).
const (
	maxKnownQueues    = 1 << 16
	maxKeptDeliveries = 1 << 14
	maxKeptPerQueue   = followMax
)

// add hints that d's queue may hold deliveries: d was created held there,
// or released from there.
func (h *heldHints) add(d *herald.Delivery) {
	if d.OrderingKey == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[heldQueue]*heldHint{}
	}
	h.gen++
	h.trusted()
	k := heldQueue{d.WebhookID, d.OrderingKey}
	hint := h.m[k]
	if hint == nil {
		hint = &heldHint{}
		h.m[k] = hint
	}
	hint.gen = h.gen
	if !hint.known || !d.Held {
		return
	}
	if len(hint.created) >= maxKeptPerQueue || h.kept >= maxKeptDeliveries {
		h.unknown(hint)
		return
	}
	// In event order: one webhook's deliveries are created in the order of
	// its cursor.
	i := len(hint.created)
	for i > 0 && hint.created[i-1].EventSeq > d.EventSeq {
		i--
	}
	hint.created = slices.Insert(hint.created, i, d)
	h.kept++
}

// trusted reports whether queues may be known, after making every queue
// unknown if another process wrote to the store since the last call. h.mu
// is held.
func (h *heldHints) trusted() bool {
	if h.foreign == nil {
		return false
	}
	if n := h.foreign.ForeignWrites(); n != h.seen {
		h.seen = n
		for _, hint := range h.m {
			h.unknown(hint)
		}
	}
	return true
}

// unknown makes a queue unknown and drops what its hint kept. h.mu is held.
func (h *heldHints) unknown(hint *heldHint) {
	hint.known = false
	h.kept -= len(hint.created)
	hint.created = nil
}

// get reports whether d's queue may have held deliveries, and the
// generation of that hint, for drop.
func (h *heldHints) get(d *herald.Delivery) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trusted()
	hint := h.m[heldQueue{d.WebhookID, d.OrderingKey}]
	if hint == nil || (hint.known && len(hint.created) == 0) {
		return 0, false
	}
	return hint.gen, true
}

// taken returns, when d's queue is known, up to limit of its held
// deliveries after the one of event afterSeq, in event order, and true;
// false when the store must be read.
func (h *heldHints) taken(d *herald.Delivery, afterSeq int64, limit int) ([]*herald.Delivery, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.trusted() {
		return nil, false
	}
	hint := h.m[heldQueue{d.WebhookID, d.OrderingKey}]
	if hint == nil || !hint.known {
		return nil, false
	}
	i := 0
	for i < len(hint.created) && hint.created[i].EventSeq <= afterSeq {
		hint.created[i] = nil
		i++
	}
	hint.created = hint.created[i:]
	h.kept -= i
	return slices.Clone(hint.created[:min(limit, len(hint.created))]), true
}

// drop records that a read of the store found the end of d's queue, the
// read having followed the hint of generation gen. With no hint since, the
// queue becomes known (trust), or is forgotten: nothing was created in it
// since the read but what the fan-out has yet to hint.
func (h *heldHints) drop(d *herald.Delivery, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := heldQueue{d.WebhookID, d.OrderingKey}
	hint := h.m[k]
	if hint == nil || hint.gen != gen {
		return
	}
	if !h.trusted() {
		delete(h.m, k)
		return
	}
	hint.known = true
	if len(h.m) > maxKnownQueues {
		for k, hint := range h.m {
			if hint.known && len(hint.created) == 0 {
				delete(h.m, k)
			}
		}
	}
}

// reread makes d's queue unknown: its worker stopped before the end of
// what it knew to be held there (an attempt failed, and what is held
// behind it waits for its retry; or its time was up), and what memory may
// keep after that is not all that is held.
func (h *heldHints) reread(d *herald.Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hint := h.m[heldQueue{d.WebhookID, d.OrderingKey}]; hint != nil {
		h.unknown(hint)
	}
}

// forget makes the queues of a webhook unknown: its deliveries were
// changed other than by the fan-out and the workers of this node.
func (h *heldHints) forget(webhookID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, hint := range h.m {
		if k.webhook == webhookID {
			h.unknown(hint)
		}
	}
}

// answered2xx reports whether an attempt got a 2xx answer.
func answered2xx(r *result) bool {
	return r.a.Error == "" && r.a.StatusCode >= 200 && r.a.StatusCode <= 299
}

// stopping reports whether Stop was called.
func (e *Engine) stopping() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

// attempt sends a delivery once.
func (e *Engine) attempt(j *job) *result {
	r := &result{job: *j, retryAfter: -1, a: &herald.Attempt{DeliveryID: j.d.ID, StartedAt: e.now()}}
	timeout := e.timeout(j.w)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.w.TargetURL, bytes.NewReader(j.d.Body))
	if err != nil {
		r.a.Error = err.Error()
		return r
	}
	// Room for every header the formats set, without growing the map.
	req.Header = make(http.Header, 16)
	if f := e.Formats[j.w.Format]; f != nil {
		f.SetHeaders(req.Header, j.w, j.d, r.a.StartedAt)
	}
	if err := setSignatures(req.Header, j.w, j.d, r.a.StartedAt); err != nil {
		r.a.Error = err.Error()
		return r
	}
	res, err := e.send(req)
	r.a.Duration = e.now().Sub(r.a.StartedAt)
	if err != nil {
		var refused *egress.RefusedError
		switch {
		case errors.As(err, &refused):
			// The same words whatever listens there: no port scans.
			r.a.Error = refused.Error()
		case ctx.Err() != nil:
			r.a.Error = fmt.Sprintf("no response within %s", timeout)
		default:
			r.a.Error = err.Error()
		}
		return r
	}
	defer res.Body.Close()
	r.a.StatusCode = res.StatusCode
	r.a.ResponseHeaders = storedHeaders(res.Header)
	// The status line and the headers are the answer. The body is only
	// kept for the log, so its reading gets a short bound of its own, and
	// a receiver that answers 2xx and then trickles its body forever is
	// still delivered to, once: failing the attempt would send it again.
	if res.Body != http.NoBody {
		cutBody := time.AfterFunc(bodyReadTimeout, cancel)
		defer cutBody.Stop()
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, herald.MaxAttemptBody))
	r.a.ResponseBody = body
	if err != nil && (res.StatusCode < 200 || res.StatusCode > 299) {
		r.a.Error = "reading the response: " + err.Error()
		if ctx.Err() != nil {
			r.a.Error = "reading the response: the body did not end in time"
		}
	}
	// Drain a little more so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		r.retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), e.now())
	}
	return r
}

// bodyReadTimeout bounds the reading of a response's body, once its
// headers came (within the attempt's timeout still).
const bodyReadTimeout = 2 * time.Second

// Bounds of the response headers kept with an attempt: every attempt is
// stored and served back, and a receiver may send up to
// egress.MaxResponseHeaderBytes of headers each time.
const (
	maxStoredHeaderFields = 32
	maxStoredHeaderBytes  = 4 << 10
)

// storedHeaders is what an attempt keeps of the response headers: at most
// maxStoredHeaderFields fields (name and value) and maxStoredHeaderBytes of
// names and values in all. The headers that say most about an answer come
// first, then the others by name; the value that crosses the byte bound is
// cut there, and the fields after it are left out.
func storedHeaders(h http.Header) http.Header {
	fields, size := 0, 0
	for name, vs := range h {
		fields += len(vs)
		for _, v := range vs {
			size += len(name) + len(v)
		}
	}
	if fields <= maxStoredHeaderFields && size <= maxStoredHeaderBytes {
		// Every answer of a well-behaved receiver.
		return h
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		pa, pb := headerPriority(a), headerPriority(b)
		if pa != pb {
			return pa - pb
		}
		return strings.Compare(a, b)
	})
	out := make(http.Header, min(len(h), maxStoredHeaderFields))
	kept, room := 0, maxStoredHeaderBytes
	for _, name := range names {
		for _, v := range h[name] {
			if kept == maxStoredHeaderFields || room <= len(name) {
				return out
			}
			room -= len(name)
			v = cutUTF8(v, room)
			room -= len(v)
			out[name] = append(out[name], v)
			kept++
		}
	}
	return out
}

// storedFirst lists the headers an attempt keeps before any other.
var storedFirst = []string{"Content-Type", "Content-Length", "Retry-After", "Location", "Date", "Server"}

func headerPriority(name string) int {
	if i := slices.Index(storedFirst, name); i >= 0 {
		return i
	}
	return len(storedFirst)
}

// cutUTF8 cuts s to at most n bytes, not inside a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// send sends a delivery's request. Through the default client, it goes
// straight to its transport, as the client would send it when it follows
// no redirect: Client.Do would copy every request's headers for redirects
// it never follows, 1.5 % of a busy node's CPU.
func (e *Engine) send(req *http.Request) (*http.Response, error) {
	if e.transport == nil || e.Client.Transport != e.transport {
		return e.Client.Do(req)
	}
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		// Credentials in the target URL, as the client would send them.
		password, _ := u.Password()
		req.SetBasicAuth(u.Username(), password)
	}
	res, err := e.transport.RoundTrip(req)
	if err != nil {
		// Worded as the client words it.
		return nil, &url.Error{Op: "Post", URL: withoutPassword(req.URL), Err: err}
	}
	return res, nil
}

// withoutPassword is u as the client's errors show it.
func withoutPassword(u *url.URL) string {
	if _, ok := u.User.Password(); !ok {
		return u.String()
	}
	return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
}

// parseRetryAfter reads seconds or an HTTP date; -1 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// outcome applies an attempt's result to its delivery and returns why the
// webhook must be deactivated, if it must.
func (e *Engine) outcome(r *result, now time.Time) (deactivate string) {
	d, a := r.d, r.a
	d.Attempts++
	d.LastStatusCode, d.LastError = a.StatusCode, a.Error
	if a.StatusCode >= 200 && a.StatusCode < 300 && a.Error == "" {
		d.Status, d.DeliveredAt = herald.DeliveryDelivered, &now
		return ""
	}
	what := a.Error
	if a.StatusCode != 0 {
		what = fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	if a.StatusCode == http.StatusGone {
		// The receiver says the endpoint is gone for good: stop at once,
		// keeping the delivery for when the webhook is activated again.
		d.Status = herald.DeliveryFailed
		return fmt.Sprintf("The target answered 410 Gone to delivery %s.", d.ID)
	}
	schedule := r.w.RetrySchedule
	if d.Attempts > len(schedule) {
		d.Status = herald.DeliveryFailed
		return fmt.Sprintf("Delivery %s failed %d times; the last attempt got %s.", d.ID, d.Attempts, what)
	}
	delay := e.retryDelay(jitter(schedule[d.Attempts-1]))
	if r.retryAfter >= 0 {
		delay = e.retryDelay(min(r.retryAfter, e.MaxRetryAfter))
	}
	d.Status, d.NextAttemptAt = herald.DeliveryPending, now.Add(delay)
	// Wake the dispatcher when the retry is due rather than at the next
	// poll; retries are few, so a timer each is cheap.
	time.AfterFunc(delay, func() { signal(e.dispatchWake) })
	return ""
}

// jitter spreads a delay by ±20%, so that the retries of many deliveries
// that failed together do not arrive together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
