package delivery

import (
	"context"
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
		if err := e.Store.Update(ctx, func(tx herald.Tx) error { return tx.Heartbeat(ctx, e.Node, now) }); err != nil {
			e.Logger.Error("recording the node's heartbeat", "err", err)
		}
		if e.claimJob(ctx, "lease_recovery", e.Heartbeat) {
			e.recoverLeases(ctx)
		}
		if e.claimJob(ctx, "webhook_keys", keysInterval) {
			e.dropExpiredKeys(ctx)
		}
		if e.Retention > 0 && e.claimJob(ctx, "retention", e.RetentionInterval) {
			if _, err := e.RunRetention(ctx); err != nil {
				e.Logger.Error("removing old deliveries and events", "err", err)
			}
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
func (e *Engine) claimJob(ctx context.Context, name string, every time.Duration) bool {
	now := e.now()
	var mine bool
	err := e.Store.Update(ctx, func(tx herald.Tx) (err error) {
		// A little early, so that the node whose ticks line up with the
		// period wins it every time rather than every other time.
		mine, err = tx.ClaimJob(ctx, name, now, now.Add(every-every/10))
		return err
	})
	if err != nil {
		e.Logger.Error("claiming a periodic job", "job", name, "err", err)
	}
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
