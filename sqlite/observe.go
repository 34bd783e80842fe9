package sqlite

import "time"

// ObserveCommits implements herald.CommitObserver: f hears of each
// transaction of the writer, and of the updates it committed together.
func (s *Store) ObserveCommits(f func(took time.Duration, updates int)) { s.commitObserver.Store(&f) }

func (s *Store) observeCommit(start time.Time, updates int) {
	if f := s.commitObserver.Load(); f != nil {
		(*f)(time.Since(start), updates)
	}
}
