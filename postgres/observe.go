package postgres

import "time"

// ObserveCommits implements herald.CommitObserver: f hears of each
// transaction that Update committed, one update each.
func (s *Store) ObserveCommits(f func(took time.Duration, updates int)) { s.commitObserver.Store(&f) }

func (s *Store) observeCommit(start time.Time) {
	if f := s.commitObserver.Load(); f != nil {
		(*f)(time.Since(start), 1)
	}
}
