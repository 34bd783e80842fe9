package delivery

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// fanOutLoop turns new events into deliveries: it reads and renders each
// batch, then creates the deliveries (see fanOut).
func (e *Engine) fanOutLoop() {
	defer e.wg.Done()
	timer := time.NewTimer(e.PollInterval)
	defer timer.Stop()
	poll := e.PollInterval // grows while the polls find nothing (see idlePolls)
	// Woken up by this node's commits, the fan-out may take their events
	// from memory; the poll reads the log, for the events of other
	// processes.
	woken := false
	for {
		found := 0
		for {
			n, err := e.fanOut(herald.WithPriority(context.Background()), woken)
			found += n
			if err != nil {
				e.Logger.Error("turning events into deliveries", "err", err)
				break
			}
			if n < fanOutBatch {
				break
			}
		}
		switch {
		case woken:
			poll = e.PollInterval
		case found == 0:
			poll = min(2*poll, idlePolls*e.PollInterval)
		}
		timer.Reset(poll)
		select {
		case <-e.stop:
			return
		case <-e.fanWake:
			woken = true
		case <-timer.C:
			woken = false
		}
	}
}

// fanOut turns the next batch of events into deliveries and returns how many
// events it considered. With recent, it takes the events from the store's
// memory when the store holds them (see herald.RecentEvents).
func (e *Engine) fanOut(ctx context.Context, recent bool) (int, error) {
	// upTo is the newest event this node committed before the read
	// below began, when the store holds them.
	var upTo int64
	if r, ok := e.Store.(herald.RecentEvents); ok && recent {
		// Nothing was committed since the transactions that turned
		// their own events into deliveries: nothing to read.
		events, held := r.RecentEventsSince(e.appendedUpTo.Load(), fanOutBatch)
		if held && len(events) == 0 {
			return 0, nil
		}
		if held {
			upTo = events[len(events)-1].Seq
		}
	}
	// The deliveries that free workers can take at once are created
	// leased to this node and handed to the dispatcher: no claim, and no
	// commit to wait for, between an event and its first attempt. They are
	// promised their workers in the write, once the store has said which
	// it created held: a worker promised before to a delivery that then
	// waits behind its queue, as most do in a backlog, would be kept from
	// the others for the whole write.
	now := e.now()
	var plan *fanOutPlan
	var sent []*herald.Delivery
	noWebhooks := false
	write := func(tx herald.Tx) (err error) {
		// What a previous run of this function took was rolled back.
		e.sched.giveAll(sent)
		sent = nil
		if err := plan.write(ctx, tx); err != nil {
			return err
		}
		sent, err = e.admit(ctx, tx, plan.createdLeased(), now)
		return err
	}
	err := herald.PlanAndWrite(ctx, e.Store, func(q herald.Queries) (func(herald.Tx) error, time.Duration, error) {
		plan = nil
		ws, err := q.Webhooks(ctx, "")
		if err != nil {
			return nil, 0, err
		}
		noWebhooks = len(ws) == 0
		p, err := e.planFanOut(q, ws, recent)
		if err != nil || p == nil {
			return nil, 0, err
		}
		plan = p
		if len(plan.moving) == 0 {
			return nil, 0, nil
		}
		plan.lease(e.Node, now.Add(e.leaseDuration()), e.sched)
		return write, 0, nil
	})
	if err == nil && noWebhooks && upTo > 0 {
		// No webhook to turn those events into deliveries for: the next
		// wake-ups need not read again for them. A webhook created since
		// starts after them (its cursor is the log's end when created).
		e.advanceAppended(upTo)
	}
	if plan == nil {
		return 0, err
	}
	if err != nil {
		e.sched.giveAll(sent)
		return plan.events, err
	}
	if len(plan.moving) == 0 {
		return plan.events, nil
	}
	if jobs := e.created(plan, sent); len(jobs) > 0 {
		select {
		case e.handoffs <- jobs:
		case <-e.stop:
			// Left leased; the next start releases them.
		}
	}
	return plan.events, nil
}

// created returns as jobs the deliveries of a plan that its write created
// leased to this node and promised workers (sent), and wakes the
// dispatcher for the others that it may claim.
func (e *Engine) created(plan *fanOutPlan, sent []*herald.Delivery) []*job {
	plan.hintHeld(&e.held)
	if plan.claimable(e.sched) {
		signal(e.dispatchWake)
	}
	return plan.jobs(sent)
}

// appendedMax bounds the events of a transaction that the fan-out joins
// (see fanOutAppended): more come only when the store is busy, and then
// the fan-out renders them beside the writer, not in its transaction.
const appendedMax = 4

// fanOutAppended turns the events a transaction appends into deliveries in
// that transaction, for the webhooks whose cursor is right before them,
// those the fan-out is not behind on: a delivery then costs no commit of
// its own, nor a wake-up, between its event's commit and its first
// attempt. The fan-out loop does the rest.
func (e *Engine) fanOutAppended(ctx context.Context, tx herald.Tx, events []*herald.Event) (func(bool), error) {
	if len(events) > appendedMax || e.stopping() {
		return nil, nil
	}
	ws, err := tx.Webhooks(ctx, "")
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		// Nothing to deliver them to, as of this transaction: the
		// fan-out loop need not read them after it commits.
		last := events[len(events)-1].Seq
		return func(committed bool) {
			if committed {
				e.advanceAppended(last)
			}
		}, nil
	}
	var next []*herald.Webhook
	for _, w := range ws {
		if w.Cursor == events[0].Seq-1 {
			next = append(next, w)
		}
	}
	plan := e.planEvents(next, events)
	if plan == nil || len(plan.moving) == 0 {
		return nil, nil
	}
	now := e.now()
	plan.lease(e.Node, now.Add(e.leaseDuration()), e.sched)
	if err := plan.write(ctx, tx); err != nil {
		return nil, err
	}
	sent, err := e.admit(ctx, tx, plan.createdLeased(), now)
	if err != nil {
		return nil, err
	}
	return func(committed bool) {
		if !committed {
			// Nothing of it remains: the workers promised are free.
			e.sched.giveAll(sent)
			return
		}
		if len(next) == len(ws) {
			e.advanceAppended(plan.last)
		}
		jobs := e.created(plan, sent)
		if len(jobs) == 0 {
			return
		}
		// From the writer: it must not wait for a dispatcher that may
		// be waiting for it.
		select {
		case e.handoffs <- jobs:
		default:
			go func() {
				select {
				case e.handoffs <- jobs:
				case <-e.stop:
				}
			}()
		}
	}, nil
}

// advanceAppended records that every event up to seq that this node
// committed needs nothing more of the fan-out loop. The writer's commits and
// the loop both record; the newest stays.
func (e *Engine) advanceAppended(seq int64) {
	for {
		cur := e.appendedUpTo.Load()
		if seq <= cur || e.appendedUpTo.CompareAndSwap(cur, seq) {
			return
		}
	}
}

const fanOutBatch = 512

// fanOutPlan is a batch of events turned into deliveries, rendered outside
// the write transaction that creates them.
type fanOutPlan struct {
	events     int // events considered
	last       int64
	moving     []*herald.Webhook
	perWebhook map[string][]*herald.Delivery
	// created lists the webhooks whose deliveries the write created.
	created []*herald.Webhook
}

// planFanOut renders the next batch of events for the webhooks whose cursor
// is behind; webhooks lists every webhook.
func (e *Engine) planFanOut(q herald.Queries, webhooks []*herald.Webhook, recent bool) (*fanOutPlan, error) {
	if len(webhooks) == 0 {
		return nil, nil
	}
	from := webhooks[0].Cursor
	for _, w := range webhooks {
		from = min(from, w.Cursor)
	}
	ctx := context.Background()
	var events []*herald.Event
	var err error
	if recent {
		events, err = herald.EventsSince(ctx, e.Store, q, from, fanOutBatch)
	} else {
		events, err = q.EventsSince(ctx, from, fanOutBatch)
	}
	if err != nil {
		return nil, err
	}
	return e.planEvents(webhooks, events), nil
}

// planEvents renders events, consecutive in the log, for the webhooks whose
// cursor is behind the last of them; nil when there are none.
func (e *Engine) planEvents(webhooks []*herald.Webhook, events []*herald.Event) *fanOutPlan {
	if len(events) == 0 {
		return nil
	}
	p := &fanOutPlan{events: len(events), last: events[len(events)-1].Seq,
		perWebhook: make(map[string][]*herald.Delivery, len(webhooks))}
	now := e.now()
	// Each event is decoded once, for its ordering key and for every
	// rendering of it.
	data := make([]*herald.EventData, len(events))
	undecodable := make([]error, len(events))
	keys := make([]string, len(events))
	for i, ev := range events {
		if data[i], undecodable[i] = ev.DecodeData(); undecodable[i] == nil {
			keys[i] = orderingKey(data[i])
		}
	}
	type rendering struct {
		event                   int
		format, version, config string
	}
	type body struct {
		id  string // of the payload, stored once for every webhook sending it
		b   []byte
		ok  bool
		err error
	}
	rendered := map[rendering]body{}
	for _, w := range webhooks {
		if w.Cursor >= p.last {
			continue
		}
		p.moving = append(p.moving, w)
		f := e.Formats[w.Format]
		for i, ev := range events {
			if ev.Seq <= w.Cursor || ev.AppID != w.AppID || f == nil {
				continue
			}
			typ := f.EventType(ev, w.Version)
			if typ == "" || !w.Subscribed(typ) {
				continue
			}
			k := rendering{i, w.Format, w.Version, string(w.Config)}
			r, done := rendered[k]
			if !done && undecodable[i] != nil {
				r.err = undecodable[i]
				rendered[k] = r
			} else if !done {
				if r.b, r.ok, r.err = f.Render(ev, data[i], w); r.ok {
					r.id = uuid.Must(uuid.NewV7()).String()
				}
				rendered[k] = r
			}
			if r.err != nil {
				// An event that cannot be rendered is a defect, not a
				// reason to stop every later event: log it and go on.
				e.Logger.Error("rendering event", "event", ev.ID, "type", ev.Type, "webhook", w.ID, "err", r.err)
				continue
			}
			if !r.ok {
				continue
			}
			p.perWebhook[w.ID] = append(p.perWebhook[w.ID], &herald.Delivery{
				ID: uuid.Must(uuid.NewV7()).String(), AppID: w.AppID, WebhookID: w.ID, EventID: ev.ID,
				EventSeq: ev.Seq, EventType: typ, RequestID: ev.RequestID, OrderingKey: keys[i], Body: r.b,
				PayloadID: r.id, Status: herald.DeliveryPending, NextAttemptAt: now, CreatedAt: now,
			})
		}
	}
	return p
}

// write creates the plan's deliveries. Each webhook's cursor advances only
// if it is still where the plan started, so that an event becomes a
// webhook's delivery exactly once, whoever else fans out.
func (p *fanOutPlan) write(ctx context.Context, tx herald.Tx) error {
	p.created = p.created[:0]
	var ds []*herald.Delivery
	for _, w := range p.moving {
		moved, err := tx.AdvanceWebhookCursor(ctx, w.ID, w.Cursor, p.last)
		if err != nil {
			return err
		}
		if !moved {
			continue
		}
		ds = append(ds, p.perWebhook[w.ID]...)
		p.created = append(p.created, w)
	}
	// In one call, so that a body shared by several webhooks is stored
	// once.
	return tx.CreateDeliveries(ctx, ds)
}

// lease leases to node the plan's deliveries to active webhooks that may
// have a worker now (see scheduler), in event order, as far as the workers
// free allow. The store drops the leases of those it creates held; those
// behind another of their queue in the plan are held for sure, and not
// leased.
func (p *fanOutPlan) lease(node string, until time.Time, s *scheduler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Taken to see how far the rules allow, and given back: the write
	// takes them for good (see admit).
	var took []*herald.Delivery
	defer func() {
		for _, d := range took {
			s.untake(d.AppID, d.WebhookID)
		}
	}()
	for _, w := range p.moving {
		if w.Status != herald.WebhookActive {
			continue
		}
		var queued map[string]bool
		for _, d := range p.perWebhook[w.ID] {
			if d.OrderingKey != "" {
				if queued[d.OrderingKey] {
					continue
				}
				if queued == nil {
					queued = map[string]bool{}
				}
				queued[d.OrderingKey] = true
			}
			if !s.take(w.AppID, w.ID) {
				// Nor may the next: nothing changed but its count.
				break
			}
			took = append(took, d)
			u := until
			d.LeaseOwner, d.LeaseUntil = node, &u
		}
	}
}

// hintHeld tells h which queues the write created held deliveries in.
func (p *fanOutPlan) hintHeld(h *heldHints) {
	for _, w := range p.created {
		for _, d := range p.perWebhook[w.ID] {
			if d.Held {
				h.add(d)
			}
		}
	}
}

// createdLeased returns the deliveries the write created leased.
func (p *fanOutPlan) createdLeased() []*herald.Delivery {
	var ds []*herald.Delivery
	for _, w := range p.created {
		for _, d := range p.perWebhook[w.ID] {
			if d.LeaseUntil != nil && !d.Held {
				ds = append(ds, d)
			}
		}
	}
	return ds
}

// jobs returns deliveries of the plan's webhooks as jobs.
func (p *fanOutPlan) jobs(ds []*herald.Delivery) []*job {
	if len(ds) == 0 {
		return nil
	}
	webhooks := make(map[string]*herald.Webhook, len(p.created))
	for _, w := range p.created {
		webhooks[w.ID] = w
	}
	jobs := make([]*job, len(ds))
	for i, d := range ds {
		jobs[i] = &job{d: d, w: webhooks[d.WebhookID]}
	}
	return jobs
}

// claimable reports whether the write created deliveries that are due but
// not leased, and that this node's workers may take: for the dispatcher to
// claim. Those that may not wait until a worker comes back (see
// scheduler.refused).
func (p *fanOutPlan) claimable(s *scheduler) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range p.created {
		if w.Status != herald.WebhookActive || !s.mayTake(w.AppID, w.ID) {
			continue
		}
		for _, d := range p.perWebhook[w.ID] {
			if d.LeaseUntil == nil && !d.Held {
				return true
			}
		}
	}
	return false
}

// orderingKey is the conversation an event is about: deliveries about one
// conversation reach a webhook in event order.
func orderingKey(d *herald.EventData) string {
	switch {
	case d.Conversation != nil:
		return d.Conversation.ID
	case d.Message != nil:
		return d.Message.ConversationID
	}
	return ""
}
