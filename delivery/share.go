package delivery

import (
	"sync"

	"github.com/heraldhq/herald"
)

// How a node shares its workers among apps and webhooks.
//
// A receiver that stalls holds a worker for as long as its attempt may last;
// with one pool for everyone, one tenant with enough stalling receivers and
// deliveries would hold every worker, and every other tenant's deliveries
// would wait for its timeouts. So the scheduler counts the attempts each app
// and each webhook has in flight on this node (from the moment a delivery is
// leased to the node for a worker until the worker is done with it), and a
// delivery gets a worker only if one is free and:
//
//   - more than half of the workers are free: then nobody is short of one,
//     and a busy tenant is not slowed down for a fairness nobody needs (a
//     fast receiver's attempts come in bursts of a whole fan-out batch, and
//     what a node sends per commit is what its workers may take);
//   - or else, its webhook is below its cap (WebhookWorkers), so that one
//     endpoint does not take its whole app's share, and its app below its
//     own (AppWorkers), so that one app holds no more than its share once
//     others need workers. The app cap binds while another app has
//     attempts in flight, the webhook cap while another webhook has: a
//     webhook alone may take workers as long as a quarter of them are
//     free: a busy receiver keeps its pace without claims to find what a
//     cap left behind (they took 8% of the CPU under the benchmark's
//     load, one webhook), and the next webhook, of its app or another,
//     still finds a quarter of the workers;
//   - and, when no more than the reserve (a sixteenth of the workers) is
//     free, its app has fewer attempts in flight than there are workers
//     free: the last workers go to the apps that hold the fewest, the very
//     last to an app with nothing in flight, so that a newcomer finds one.
//
// So a tenant whose receivers stall holds, beside others, its cap, or what
// it took while more than half of the workers, or, through one webhook, a
// quarter were free; alone, up to all but the reserve, through enough
// webhooks, and once others come it gets back none of the workers its
// attempts give up until it is under its cap. A newcomer finds a worker in
// the reserve unless more tenants stall at once than the reserve holds
// workers.
//
// Fairness decides what is leased, never what waits in memory: a delivery
// leased to this node must be sent before its lease ends, or another node
// sends it too. Each way a delivery gets leased reads what each app and
// webhook may take, leases no more, and promises the workers in the same
// transaction, once the store has said what it leased: the fan-out leases
// the deliveries it creates as far as their webhooks may take workers (the
// store drops the leases of those it creates held); a completion offers the
// next delivery of each queue it frees only as far, per webhook
// (herald.Lease.Webhooks); a claim passes over the apps and webhooks that
// may take no worker, and takes of the others no more than each may
// (herald.ClaimCaps). What turns out to be more than a worker may be
// promised to (another of the engine's loops took workers in between) goes
// back to the store in that transaction, due at once (ReturnDeliveries).
// Caps count this node's workers: with several nodes, an app may have its
// cap in flight on each.
type scheduler struct {
	mu sync.Mutex
	// free counts the workers neither busy nor promised to a delivery:
	// what is handed to the workers never exceeds their number.
	free int
	// plenty is the number of free workers above which the caps do not
	// bind: half of them.
	plenty int
	// quarter is the number of free workers a webhook alone in flight
	// leaves to others: a quarter of them.
	quarter                     int
	appCap, webhookCap, reserve int
	// apps and webhooks count the attempts of each that hold a worker or
	// are promised one; an app or webhook with none is not in them.
	apps, webhooks map[string]int
	// refused records that a delivery was refused a worker, or a claim
	// passed over an app or webhook, since wake was last called: the next
	// worker that comes back calls it, for a claim to take the work that
	// may wait. Workers come back from attempts, and from promises that
	// came to nothing (deliveries the store created held), which no other
	// wake-up follows.
	refused bool
	wake    func()
}

func newScheduler(workers, appCap, webhookCap int, wake func()) *scheduler {
	return &scheduler{free: workers, plenty: workers / 2, quarter: workers / 4, appCap: appCap, webhookCap: webhookCap,
		reserve: max(workers/16, 1), apps: map[string]int{}, webhooks: map[string]int{}, wake: wake}
}

// mayTake reports whether a delivery of app to webhook may have a worker
// now. s.mu is held.
func (s *scheduler) mayTake(app, webhook string) bool {
	free, a, w := s.free, s.apps[app], s.webhooks[webhook]
	return free > 0 && (free > s.reserve || a < free) &&
		(free > s.plenty || s.webhookMay(free, w, s.lone(webhook)) && (a < s.appCap || s.alone(app)))
}

// webhookMay reports whether, with free workers free and fewer than half,
// a webhook with w attempts in flight may take one: below its cap, or,
// alone in flight (lone), while more than a quarter of the workers are
// free. A webhook alone takes what its receiver's pace needs, with no
// claims to find what the cap left behind, and still leaves a quarter of
// the workers to the next webhook, which the cap then binds it for. s.mu is
// held.
func (s *scheduler) webhookMay(free, w int, lone bool) bool {
	return w < s.webhookCap || lone && free > s.quarter
}

// alone reports whether no app but app has attempts in flight. s.mu is
// held.
func (s *scheduler) alone(app string) bool {
	return len(s.apps) == 0 || len(s.apps) == 1 && s.apps[app] > 0
}

// lone reports whether no webhook but webhook has attempts in flight. s.mu
// is held.
func (s *scheduler) lone(webhook string) bool {
	return len(s.webhooks) == 0 || len(s.webhooks) == 1 && s.webhooks[webhook] > 0
}

// take promises a worker to a delivery of app to webhook if it may have
// one, and reports whether it did. s.mu is held.
func (s *scheduler) take(app, webhook string) bool {
	if !s.mayTake(app, webhook) {
		s.refused = true
		return false
	}
	s.free--
	s.apps[app]++
	s.webhooks[webhook]++
	return true
}

// give takes back a worker promised to a delivery of app to webhook. s.mu
// is held.
func (s *scheduler) give(app, webhook string) {
	s.untake(app, webhook)
	if s.refused && s.wake != nil {
		s.refused = false
		s.wake()
	}
}

// untake undoes a take: the worker is free as if never promised. s.mu is
// held.
func (s *scheduler) untake(app, webhook string) {
	a, w := s.apps[app], s.webhooks[webhook]
	s.free++
	if a <= 1 {
		delete(s.apps, app)
	} else {
		s.apps[app] = a - 1
	}
	if w <= 1 {
		delete(s.webhooks, webhook)
	} else {
		s.webhooks[webhook] = w - 1
	}
}

// giveAll takes back the workers promised to deliveries.
func (s *scheduler) giveAll(ds []*herald.Delivery) {
	if len(ds) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		s.give(d.AppID, d.WebhookID)
	}
}

// hasFree reports whether a worker is free.
func (s *scheduler) hasFree() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.free > 0
}

// appRoom is how many more workers an app with a attempts in flight may
// take now, were it the only one to take them, whatever its webhooks, and
// webhookRoom a webhook with w, whatever its app. s.mu is held.
func (s *scheduler) appRoom(a int, alone bool) int {
	n := 0
	for free := s.free; free > 0 && (free > s.reserve || a+n < free) && (free > s.plenty || a+n < s.appCap || alone); free-- {
		n++
	}
	return n
}

func (s *scheduler) webhookRoom(w int, lone bool) int {
	n := 0
	for free := s.free; free > 0 && (free > s.plenty || s.webhookMay(free, w+n, lone)); free-- {
		n++
	}
	return n
}

// claimCaps returns how many deliveries a claim may take now, and within
// which caps: what each app and webhook in flight has left, and what any
// other may take.
func (s *scheduler) claimCaps() (int, herald.ClaimCaps) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free == 0 {
		return 0, herald.ClaimCaps{}
	}
	caps := herald.ClaimCaps{App: s.appRoom(0, len(s.apps) == 0), Webhook: s.webhookRoom(0, len(s.webhooks) == 0)}
	if len(s.apps) > 0 {
		caps.Apps = make(map[string]int, len(s.apps))
		for app, a := range s.apps {
			caps.Apps[app] = s.appRoom(a, len(s.apps) == 1)
			s.refused = s.refused || caps.Apps[app] == 0
		}
	}
	if len(s.webhooks) > 0 {
		caps.Webhooks = make(map[string]int, len(s.webhooks))
		for webhook, w := range s.webhooks {
			caps.Webhooks[webhook] = s.webhookRoom(w, len(s.webhooks) == 1)
			s.refused = s.refused || caps.Webhooks[webhook] == 0
		}
	}
	return s.free, caps
}

// takeLeased promises workers to the deliveries leased to this node that
// may have one and returns them; the others are for the store to take
// back.
func (s *scheduler) takeLeased(leased []*herald.Delivery) (kept, returned []*herald.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range leased {
		if s.take(d.AppID, d.WebhookID) {
			kept = append(kept, d)
		} else {
			returned = append(returned, d)
		}
	}
	return kept, returned
}

// full reports whether an app or webhook of the deliveries may take no
// more worker now: a claim that took them may have left some of their work
// behind.
func (s *scheduler) full(ds []*herald.Delivery) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if !s.mayTake(d.AppID, d.WebhookID) {
			return true
		}
	}
	return false
}

// leaseCaps returns how many deliveries the completion of the finished
// attempts may lease (the next of each queue they free), and within which
// bounds per webhook: what each webhook, and its app, may take now.
func (s *scheduler) leaseCaps(finished []*result) (int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var perWebhook, perApp map[string]int
	for _, r := range finished {
		d := r.d
		if d.Status != herald.DeliveryDelivered || d.OrderingKey == "" {
			continue
		}
		if perWebhook == nil {
			perWebhook, perApp = make(map[string]int, len(finished)), map[string]int{}
		} else if _, done := perWebhook[d.WebhookID]; done {
			continue
		}
		app, done := perApp[d.AppID]
		if !done {
			app = s.appRoom(s.apps[d.AppID], s.alone(d.AppID))
			perApp[d.AppID] = app
		}
		perWebhook[d.WebhookID] = min(s.webhookRoom(s.webhooks[d.WebhookID], s.lone(d.WebhookID)), app)
	}
	// What the apps may take between their webhooks, when less than what
	// is free.
	limit := 0
	for _, n := range perApp {
		limit += n
	}
	return min(limit, s.free), perWebhook
}
