package sqlite

import (
	"slices"
	"sync"

	"github.com/heraldhq/herald"
)

// recentKept is how many of the newest events recentEvents keeps at least:
// two fan-out batches, so that a fan-out that falls a little behind still
// finds its events in memory.
const recentKept = 1024

// recentEvents holds the events the writer committed last, in log order:
// every event after the sequence number after, up to the newest the writer
// committed.
type recentEvents struct {
	mu     sync.Mutex
	known  bool // after is set: the writer committed events
	after  int64
	events []*herald.Event
}

// add records the events of a commit, in log order. Events that another
// process appended since the last commit leave a gap in the sequence
// numbers: the events before it are forgotten, since the gap is not held.
func (r *recentEvents) add(events []*herald.Event) {
	if len(events) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.known || events[0].Seq != r.last()+1 {
		r.known, r.after, r.events = true, events[0].Seq-1, nil
	}
	r.events = append(r.events, events...)
	if len(r.events) > 2*recentKept {
		// Copied rather than resliced, so that what was dropped can be
		// collected; slices handed out before keep the old array.
		drop := len(r.events) - recentKept
		r.after = r.events[drop-1].Seq
		r.events = slices.Clone(r.events[drop:])
	}
}

func (r *recentEvents) last() int64 {
	if len(r.events) == 0 {
		return r.after
	}
	return r.events[len(r.events)-1].Seq
}

// since returns up to limit events after afterSeq, and whether it holds
// every committed event after it.
func (r *recentEvents) since(afterSeq int64, limit int) ([]*herald.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.known || afterSeq < r.after {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(r.events, afterSeq, func(e *herald.Event, seq int64) int {
		if e.Seq <= seq {
			return -1
		}
		return 1
	})
	j := min(len(r.events), i+max(limit, 0))
	return slices.Clip(r.events[i:j]), true
}

// RecentEventsSince implements herald.RecentEvents: the events this store's
// writer committed last, as the updates that appended them made them.
func (s *Store) RecentEventsSince(afterSeq int64, limit int) ([]*herald.Event, bool) {
	return s.recent.since(afterSeq, limit)
}

var _ herald.RecentEvents = (*Store)(nil)
