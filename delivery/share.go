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
// delivery gets a worker only if:
//
//   - a worker is free;
//   - its app is below its cap (AppWorkers) and its webhook below its own
//     (WebhookWorkers), so that one app never holds more than its share of
//     the workers and one endpoint not its whole app's share;
//   - when no more than the reserve (a sixteenth of the workers) is free,
//     its app has fewer attempts in flight than there are workers free: the
//     last workers go to the apps that hold the fewest, and the very last to
//     an app with nothing in flight. However many tenants stall, each up to
//     its cap, a newcomer finds a worker.
//
// Fairness decides what is leased, never what waits in memory: a delivery
// leased to this node must be sent before its lease ends, or another node
// sends it too. The fan-out leases the deliveries it creates only as far as
// their apps and webhooks may take workers; a completion offers the next
// delivery of each queue it frees a worker only as far, per webhook
// (herald.Lease.Webhooks); a claim leaves out the apps and webhooks that may
// take no worker, and takes of the others no more than each may
// (herald.ClaimCaps). What a claim still brings beyond that (another loop of
// the engine took workers meanwhile) is returned to the store, due at once,
// in the transaction that claimed it. Caps count this node's workers: with
// several nodes, an app may have its cap in flight on each.
type scheduler struct {
	mu sync.Mutex
	// free counts the workers neither busy nor promised to a delivery:
	// what is handed to the workers never exceeds their number.
	free                        int
	appCap, webhookCap, reserve int
	// apps and webhooks count the attempts of each that hold a worker or
	// are promised one; an app or webhook with none is not in them.
	apps, webhooks map[string]int
}

func newScheduler(workers, appCap, webhookCap int) *scheduler {
	return &scheduler{free: workers, appCap: appCap, webhookCap: webhookCap, reserve: max(workers/16, 1),
		apps: map[string]int{}, webhooks: map[string]int{}}
}

// mayTake reports whether a delivery of an app with a attempts in flight, to
// a webhook with w, may have a worker now. s.mu is held.
func (s *scheduler) mayTake(a, w int) bool {
	return s.free > 0 && a < s.appCap && w < s.webhookCap && (s.free > s.reserve || a < s.free)
}

// take promises a worker to a delivery of app to webhook if it may have
// one, and reports whether it did. s.mu is held.
func (s *scheduler) take(app, webhook string) bool {
	if !s.mayTake(s.apps[app], s.webhooks[webhook]) {
		return false
	}
	s.free--
	s.apps[app]++
	s.webhooks[webhook]++
	return true
}

// give takes back a worker promised to a delivery of app to webhook, and
// reports whether the worker may go to work that waits for it: work of that
// app or webhook, which was at its cap, or of any app, when the reserve was
// all that was free. s.mu is held.
func (s *scheduler) give(app, webhook string) (waited bool) {
	a, w := s.apps[app], s.webhooks[webhook]
	waited = a >= s.appCap || w >= s.webhookCap || s.free <= s.reserve
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
	return waited
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

// room is how many more workers an app with a attempts in flight may take
// now, were it the only one to take them. s.mu is held.
func (s *scheduler) room(a int) int {
	n := 0
	for free := s.free; free > 0 && a+n < s.appCap && (free > s.reserve || a+n < free); free-- {
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
	caps := herald.ClaimCaps{App: s.room(0), Webhook: s.webhookCap}
	if len(s.apps) > 0 {
		caps.Apps = make(map[string]int, len(s.apps))
		for app, a := range s.apps {
			caps.Apps[app] = s.room(a)
		}
	}
	if len(s.webhooks) > 0 {
		caps.Webhooks = make(map[string]int, len(s.webhooks))
		for w, n := range s.webhooks {
			caps.Webhooks[w] = max(s.webhookCap-n, 0)
		}
	}
	return s.free, caps
}

// takeClaimed promises workers to the claimed deliveries that may have one
// and returns them; the others are for the store to take back. full
// reports whether an app or webhook of those it kept may take no more
// worker now: the claim may have left some of its work behind.
func (s *scheduler) takeClaimed(claimed []*herald.Delivery) (kept, returned []*herald.Delivery, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range claimed {
		if s.take(d.AppID, d.WebhookID) {
			kept = append(kept, d)
		} else {
			returned = append(returned, d)
		}
	}
	for _, d := range kept {
		if !s.mayTake(s.apps[d.AppID], s.webhooks[d.WebhookID]) {
			return kept, returned, true
		}
	}
	return kept, returned, len(returned) > 0
}

// offer promises workers to the next delivery of each queue that the
// finished attempts' deliveries free, as far as their apps and webhooks may
// take them. It returns the deliveries whose queues it promised a worker,
// and how many per webhook.
func (s *scheduler) offer(finished []*result) (promised []*herald.Delivery, perWebhook map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range finished {
		if r.d.Status != herald.DeliveryDelivered || r.d.OrderingKey == "" || !s.take(r.d.AppID, r.d.WebhookID) {
			continue
		}
		if perWebhook == nil {
			perWebhook = make(map[string]int, len(finished))
		}
		perWebhook[r.d.WebhookID]++
		promised = append(promised, r.d)
	}
	return promised, perWebhook
}

// giveUnused takes back the workers that offer promised and the store did
// not lease: queues with nothing held (nearly all of them), a queue that
// came twice.
func (s *scheduler) giveUnused(promised, leased []*herald.Delivery) {
	if len(promised) == len(leased) {
		return
	}
	used := make(map[string]int, len(leased))
	for _, d := range leased {
		used[d.WebhookID]++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range promised {
		if used[d.WebhookID] > 0 {
			used[d.WebhookID]--
			continue
		}
		s.give(d.AppID, d.WebhookID)
	}
}
