package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Cluster defaults.
const (
	// DefaultHeartbeat is how often a node says it is alive.
	DefaultHeartbeat = time.Second
	// DefaultNodeTimeout is how long a node may stay silent before the
	// deliveries it leased are given to the others.
	DefaultNodeTimeout = 10 * time.Second
	// DefaultRetention is how long delivered deliveries, their attempts
	// and events are kept.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultRetentionInterval is how often retention runs.
	DefaultRetentionInterval = 10 * time.Minute
	// retentionBatch bounds the rows one retention transaction removes, so
	// that it holds its locks for milliseconds, not for the whole run.
	retentionBatch = 500
)

// watch wakes the engine on the changes other nodes commit to a shared
// store.
func (e *Engine) watch() {
	s, ok := e.Store.(herald.SharedStore)
	if !ok {
		return
	}
	s.Watch(func(c herald.Change) {
		switch c {
		case herald.EventsAppended:
			signal(e.fanWake)
		case herald.DeliveriesDue:
			signal(e.dispatchWake)
		}
	})
}

// maintenanceLoop keeps this node's heartbeat and runs the periodic jobs
// that the nodes share: each run of a job happens on one node.
func (e *Engine) maintenanceLoop() {
	defer e.wg.Done()
	tick := time.NewTicker(e.Heartbeat)
	defer tick.Stop()
	for {
		ctx := herald.WithPriority(context.Background())
		now := e.now()
		// The only node of its store has nobody to tell it is alive, nor
		// leases of others to recover: an idle node then writes nothing.
		if _, shared := e.Store.(herald.SharedStore); shared {
			if err := e.Store.Update(ctx, func(tx herald.Tx) error { return tx.Heartbeat(ctx, e.Node, now) }); err != nil {
				e.Logger.Error("recording the node's heartbeat", "err", err)
			}
			if e.claimJob(ctx, "lease_recovery", e.Heartbeat) {
				e.recoverLeases(ctx)
			}
		}
		if e.claimJob(ctx, "webhook_keys", keysInterval) {
			e.dropExpiredKeys(ctx)
		}
		if !e.retaining.Load() && e.claimJob(ctx, "retention", e.RetentionInterval) {
			// Beside the loop: a long run must not hold up the heartbeat,
			// or the other nodes would take this one for dead.
			e.retaining.Store(true)
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer e.retaining.Store(false)
				if e.Retention > 0 {
					if _, err := e.RunRetention(ctx); err != nil && !errors.Is(err, errStopped) {
						e.Logger.Error("removing old deliveries and events", "err", err)
					}
				}
				if err := e.cleanUpWebhooks(ctx); err != nil && !errors.Is(err, errStopped) {
					e.Logger.Error("removing the deliveries of deleted and long-inactive webhooks", "err", err)
				}
			}()
		}
		for _, j := range e.Jobs {
			if e.claimJob(ctx, j.Name, j.Every) {
				if err := j.Run(ctx); err != nil {
					e.Logger.Error("running a periodic job", "job", j.Name, "err", err)
				}
			}
		}
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
	}
}

// claimJob reports whether this node runs the named job now; the job's next
// run is due after every.
//
// A job this node claimed, or saw another node claim, is not asked for
// again before its next run is due: a claim is a write, and most jobs run
// every minute or less often.
func (e *Engine) claimJob(ctx context.Context, name string, every time.Duration) bool {
	now := e.now()
	if now.Before(e.jobsDue[name]) {
		return false
	}
	var mine bool
	err := e.Store.Update(ctx, func(tx herald.Tx) (err error) {
		// A little early, so that the node whose ticks line up with the
		// period wins it every time rather than every other time.
		mine, err = tx.ClaimJob(ctx, name, now, now.Add(every-every/10))
		return err
	})
	if err != nil {
		e.Logger.Error("claiming a periodic job", "job", name, "err", err)
		return false
	}
	if e.jobsDue == nil {
		e.jobsDue = map[string]time.Time{}
	}
	// Whoever claimed it, its next run is due a period from now at the
	// latest.
	e.jobsDue[name] = now.Add(every - every/10)
	return mine
}

// keysInterval is how often the keys that rotations replaced are dropped
// once their grace period is over. Until then they are kept but unused:
// attempts check the grace period themselves.
const keysInterval = time.Minute

func (e *Engine) dropExpiredKeys(ctx context.Context) {
	now := e.now()
	err := e.Store.Update(ctx, func(tx herald.Tx) error {
		_, err := tx.DropExpiredWebhookKeys(ctx, now)
		return err
	})
	if err != nil {
		e.Logger.Error("dropping the keys that rotations replaced", "err", err)
	}
}

func (e *Engine) recoverLeases(ctx context.Context) {
	now := e.now()
	var n int
	err := e.Store.Update(ctx, func(tx herald.Tx) (err error) {
		n, err = tx.RecoverLeases(ctx, now, now.Add(-e.NodeTimeout))
		return err
	})
	if err != nil {
		e.Logger.Error("recovering the leases of stopped nodes", "err", err)
		return
	}
	if n > 0 {
		e.Logger.Warn("released the deliveries of nodes that stopped", "deliveries", n)
		signal(e.dispatchWake)
	}
}

// RetentionStats reports a retention run.
type RetentionStats struct {
	Deliveries, Events int
	// Transactions is the number of transactions the run took, and
	// LongestTransaction the longest of them.
	Transactions       int
	LongestTransaction time.Duration
}

// RunRetention removes the deliveries delivered, and the events created,
// more than Retention ago, in transactions of a few hundred rows each.
func (e *Engine) RunRetention(ctx context.Context) (RetentionStats, error) {
	var st RetentionStats
	before := e.now().Add(-e.Retention)
	for _, step := range []struct {
		prune func(herald.Tx) (int, error)
		count *int
	}{
		{func(tx herald.Tx) (int, error) { return tx.PruneDeliveries(ctx, before, retentionBatch) }, &st.Deliveries},
		{func(tx herald.Tx) (int, error) { return tx.PruneEvents(ctx, before, retentionBatch) }, &st.Events},
	} {
		for {
			var n int
			start := time.Now()
			err := e.Store.Update(ctx, func(tx herald.Tx) (err error) {
				n, err = step.prune(tx)
				return err
			})
			st.Transactions++
			st.LongestTransaction = max(st.LongestTransaction, time.Since(start))
			if err != nil {
				return st, err
			}
			*step.count += n
			if n < retentionBatch {
				break
			}
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-e.stop:
				return st, errStopped
			default:
			}
		}
	}
	return st, nil
}

// purgeSoon removes, in the background, the rows of a webhook just marked
// deleted; the maintenance job removes those a stop or a crash left.
func (e *Engine) purgeSoon(appID, id string) {
	if !e.started {
		return
	}
	e.purging.Add(1)
	go func() {
		defer e.purging.Done()
		if err := e.purgeWebhook(context.Background(), appID, id); err != nil && !errors.Is(err, errStopped) {
			e.Logger.Error("removing the deliveries of a deleted webhook", "webhook", id, "err", err)
		}
	}()
}

// purgeWebhook removes a webhook marked deleted with its deliveries, a
// batch per transaction: in one, 150,000 deliveries held SQLite's writer,
// and so every write of every app, for 12 s.
func (e *Engine) purgeWebhook(ctx context.Context, appID, id string) error {
	e.held.forget(id)
	defer e.held.forget(id)
	for {
		var n int
		start := time.Now()
		err := e.Store.Update(ctx, func(tx herald.Tx) (err error) {
			n, err = tx.DeleteWebhookDeliveries(ctx, id, retentionBatch)
			return err
		})
		if err != nil {
			return err
		}
		if n < retentionBatch {
			break
		}
		if err := e.pause(ctx, time.Since(start)); err != nil {
			return err
		}
	}
	return e.Store.Update(ctx, func(tx herald.Tx) error {
		// What a fan-out created before the webhook was marked deleted
		// goes with it; none can come after.
		if err := tx.DeleteWebhook(ctx, appID, id); !herald.IsNotFound(err) {
			return err
		}
		return nil
	})
}

// pause waits between the batches of a long removal for as long as the
// last one took, so that the removal takes at most half of the store's
// writer: a write arriving during a batch is committed after it, not in
// one transaction with the next. It returns why the removal must stop, if
// it must.
func (e *Engine) pause(ctx context.Context, took time.Duration) error {
	t := time.NewTimer(min(took, time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stop:
		return errStopped
	case <-t.C:
		return nil
	}
}

// inactiveNote, in a webhook's status reason, says that its deliveries
// were removed.
const inactiveNote = "Its undelivered deliveries were removed"

// cleanUpWebhooks removes what deleted webhooks left, and the unfinished
// deliveries of the webhooks inactive for longer than InactiveRetention,
// in batches.
func (e *Engine) cleanUpWebhooks(ctx context.Context) error {
	var deleted, all []*herald.Webhook
	err := e.Store.View(ctx, func(q herald.Queries) (err error) {
		if deleted, err = q.DeletedWebhooks(ctx); err != nil {
			return err
		}
		all, err = q.Webhooks(ctx, "")
		return err
	})
	if err != nil {
		return err
	}
	for _, w := range deleted {
		if err := e.purgeWebhook(ctx, w.AppID, w.ID); err != nil {
			return err
		}
	}
	keep := orDefault(e.InactiveRetention, DefaultInactiveRetention)
	if keep < 0 {
		return nil
	}
	before := e.now().Add(-keep)
	for _, w := range all {
		// Nothing changes an inactive webhook but its activation, so its
		// last update is when it became inactive.
		if w.Status != herald.WebhookInactive || !w.UpdatedAt.Before(before) {
			continue
		}
		if err := e.dropDeliveries(ctx, w, keep); err != nil {
			return err
		}
	}
	return nil
}

// dropDeliveries removes the unfinished deliveries of a webhook inactive
// for longer than keep, and says so in its status reason. Each batch reads
// the webhook again, in its transaction: one activated meanwhile keeps
// what is left. The last batch writes the reason, so that nobody sees the
// deliveries gone and the reason silent.
func (e *Engine) dropDeliveries(ctx context.Context, w *herald.Webhook, keep time.Duration) error {
	defer e.held.forget(w.ID)
	total := 0
	for {
		var n int
		var done bool
		start := time.Now()
		err := e.Store.Update(ctx, func(tx herald.Tx) error {
			n, done = 0, true
			current, err := tx.Webhook(ctx, w.AppID, w.ID)
			if err != nil {
				return err
			}
			if current.Status != herald.WebhookInactive || !current.UpdatedAt.Equal(w.UpdatedAt) {
				return nil // activated meanwhile
			}
			if n, err = tx.DropUnfinishedDeliveries(ctx, w.ID, retentionBatch); err != nil {
				return err
			}
			if done = n < retentionBatch; !done || total+n == 0 {
				return nil
			}
			reason, _, _ := strings.Cut(current.StatusReason, inactiveNote)
			current.StatusReason = strings.TrimSpace(fmt.Sprintf("%s %s on %s, after %s inactive; replay to queue their events again.",
				strings.TrimSpace(reason), inactiveNote, e.now().UTC().Format(time.RFC3339), days(keep)))
			// The update time stays: it is when the webhook became inactive.
			return tx.UpdateWebhook(ctx, current)
		})
		if herald.IsNotFound(err) {
			break
		}
		if err != nil {
			return err
		}
		total += n
		if done {
			break
		}
		if err := e.pause(ctx, time.Since(start)); err != nil {
			return err
		}
	}
	if total > 0 {
		e.Logger.Info("removed the undelivered deliveries of a long-inactive webhook", "webhook", w.ID, "app", w.AppID,
			"deliveries", total, "inactive_since", w.UpdatedAt)
	}
	return nil
}

// days writes a duration of whole days as days.
func days(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}
