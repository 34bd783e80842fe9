package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/heraldhq/herald"
)

// On PostgreSQL, a message's transaction locks its conversation's row from
// the taking of its position to its commit, so that positions and events
// follow one order; every other message of the conversation waits for that
// lock, and on a busy machine the few round trips it is held across cost
// far more than the work done under it: one conversation took no more than
// about 600 messages a second, however many clients sent. So the messages
// that come to one conversation while a transaction of it runs on this node
// wait in memory, and then go together, in the order they came, in the
// next one: one lock, one position update and one read of the participants'
// identities for all of them. Each still gets its own event, with its own
// request's id, as if sent alone.
//
// Should any of them be refused (a sender not in the conversation, a part
// that does not check out), the transaction rolls back and each is sent
// again in a transaction of its own, so that it fails alone. Messages with
// a deduplication key always go alone: their key is read and written in
// their transaction. On SQLite, whose single writer already commits
// concurrent transactions together and locks no row, every message goes
// alone.

// maxSendTogether bounds the messages of one transaction.
const maxSendTogether = 64

// pendingSend is a message waiting for its conversation's next transaction.
type pendingSend struct {
	ctx                   context.Context
	appID, conversationID string
	in                    MessageInput
	notification          json.RawMessage

	done chan struct{} // closed once out and err are set
	out  *herald.Message
	err  error
}

type sendKey struct{ appID, conversationID string }

// sendQueues holds, per conversation with a transaction running on this
// node, the messages waiting for the next.
type sendQueues struct {
	mu sync.Mutex
	m  map[sendKey][]*pendingSend
}

// send sends p with the messages of its conversation that come meanwhile,
// and returns its outcome.
func (q *sendQueues) send(s *Service, p *pendingSend) (*herald.Message, error) {
	p.done = make(chan struct{})
	k := sendKey{p.appID, p.conversationID}
	q.mu.Lock()
	if q.m == nil {
		q.m = map[sendKey][]*pendingSend{}
	}
	waiting, running := q.m[k]
	q.m[k] = append(waiting, p)
	q.mu.Unlock()
	if !running {
		q.run(s, k, p)
	}
	// Once queued, the outcome is awaited even if the request's context
	// ends: the message may be part of a transaction about to commit.
	<-p.done
	return p.out, p.err
}

// run sends the conversation's waiting messages, a transaction after the
// other, as long as some come. The caller that started it, whose own
// message is the first waiting, returns once that is sent; the rest goes on
// in a goroutine of its own.
func (q *sendQueues) run(s *Service, k sendKey, own *pendingSend) {
	for {
		q.mu.Lock()
		batch := q.m[k]
		if len(batch) == 0 {
			delete(q.m, k)
			q.mu.Unlock()
			return
		}
		if len(batch) > maxSendTogether {
			batch = batch[:maxSendTogether]
		}
		// Running while the key is there, with nothing waiting yet.
		q.m[k] = append([]*pendingSend(nil), q.m[k][len(batch):]...)
		q.mu.Unlock()
		s.sendTogether(batch)
		if own == nil {
			continue
		}
		// own was in the first batch: its caller goes back to its
		// request, and a goroutine sends what came meanwhile, if any.
		q.mu.Lock()
		if len(q.m[k]) == 0 {
			delete(q.m, k)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		go q.run(s, k, nil)
		return
	}
}

// participantIdentities are the identities of a conversation's participants,
// once read in a transaction.
type participantIdentities struct {
	m    map[string]*herald.Identity
	read bool
}

// sendTogether sends messages of one conversation in one transaction, or
// each in its own if that fails, and sets their outcomes.
func (s *Service) sendTogether(batch []*pendingSend) {
	defer func() {
		// A panic must not leave the conversation's queue without its
		// runner: every later send to it would wait forever.
		if r := recover(); r != nil {
			err := fmt.Errorf("messaging: sending messages panicked: %v", r)
			for _, p := range batch {
				if p.out == nil && p.err == nil {
					p.err = err
				}
			}
		}
		for _, p := range batch {
			close(p.done)
		}
	}()
	if len(batch) > 1 {
		first := batch[0]
		// No request of the batch may cancel the others'.
		ctx := context.WithoutCancel(first.ctx)
		ids := &participantIdentities{}
		err := s.Store.Update(ctx, func(tx herald.Tx) error {
			*ids = participantIdentities{}
			c, err := tx.NextMessagePositions(ctx, first.appID, first.conversationID, len(batch))
			if err != nil {
				return err
			}
			firstPosition := c.LastPosition - int64(len(batch)) + 1
			for i, p := range batch {
				p.out = nil
				pctx := context.WithoutCancel(p.ctx)
				if err := checkParticipant(c, p.in.Sender); err != nil {
					return err
				}
				parts, err := checkParts(pctx, tx, p.appID, c.ID, p.in.Sender.UserID, p.in.Parts, true)
				if err != nil {
					return err
				}
				// The conversation as the message's own transaction would
				// have seen it.
				at := *c
				at.LastPosition = firstPosition + int64(i)
				if p.out, err = s.createMessage(pctx, tx, &at, NewID(), p.in.Sender, parts, p.notification, ids); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return
		}
	}
	for _, p := range batch {
		p.out, _, p.err = s.sendMessage(p.ctx, p.appID, p.conversationID, p.in, "", p.notification)
	}
}
