package messaging

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Schedule delays a send (Layer's delayed messaging,
// platform/messages/delayed-messaging.md): the message is sent
// DelayInSeconds after the request, and a typing indicator may be shown for
// the last TypingIndicatorInSeconds of the delay.
type Schedule struct {
	DelayInSeconds           *float64 `json:"delay_in_seconds"`
	TypingIndicatorInSeconds *float64 `json:"typing_indicator_in_seconds"`
}

// The bounds of a schedule, Layer's: a delay of 1 to 300 seconds, a typing
// indicator of 1 second up to the delay.
const (
	MinScheduleDelay = 1.0
	MaxScheduleDelay = 300.0
)

func checkSchedule(sch Schedule) (delay, typing float64, err error) {
	if sch.DelayInSeconds == nil {
		return 0, 0, herald.PropertyError(herald.EMissingProperty, "schedule.delay_in_seconds",
			"schedule.delay_in_seconds is required: the seconds to wait before sending, from %g to %g.", MinScheduleDelay, MaxScheduleDelay)
	}
	delay = *sch.DelayInSeconds
	if math.IsNaN(delay) || delay < MinScheduleDelay || delay > MaxScheduleDelay {
		return 0, 0, herald.PropertyError(herald.EInvalidProperty, "schedule.delay_in_seconds",
			"schedule.delay_in_seconds must be from %g to %g seconds, not %g.", MinScheduleDelay, MaxScheduleDelay, delay)
	}
	if sch.TypingIndicatorInSeconds != nil {
		typing = *sch.TypingIndicatorInSeconds
		if math.IsNaN(typing) || typing < MinScheduleDelay || typing > delay {
			return 0, 0, herald.PropertyError(herald.EInvalidProperty, "schedule.typing_indicator_in_seconds",
				"schedule.typing_indicator_in_seconds must be from %g seconds to the delay (%g), not %g.", MinScheduleDelay, delay, typing)
		}
	}
	return delay, typing, nil
}

// ScheduleMessage accepts a message to be sent after the schedule's delay:
// it is checked now as SendMessage checks it, and stored, and it becomes a
// message, with its position and its message.sent event, when due (see
// RunScheduledMessages). Nothing is recorded before: Layer's webhooks know
// of the message once sent. A non-empty dedupKey makes a retry return what
// the first request scheduled (replay == true), sent meanwhile or not.
//
// Herald has no typing indicators to show: the schedule's is checked and
// kept, and shows nowhere.
func (s *Service) ScheduleMessage(ctx context.Context, appID, conversationID string, in MessageInput, sch Schedule, dedupKey string) (out *herald.ScheduledMessage, replay bool, err error) {
	conversationID, dedupKey, notification, err := checkSend(conversationID, in, dedupKey)
	if err != nil {
		return nil, false, err
	}
	delay, typing, err := checkSchedule(sch)
	if err != nil {
		return nil, false, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		out, replay = nil, false
		if dedupKey != "" {
			id, err := tx.RequestMessage(ctx, appID, dedupKey)
			if err != nil {
				return err
			}
			if id != "" {
				out, err = scheduledOrSent(ctx, tx, appID, id)
				if herald.IsNotFound(err) || (err == nil && out.ConversationID != conversationID) {
					return herald.PropertyError(herald.EIDInUse, "If-None-Match",
						"If-None-Match %s was already used for another request.", dedupKey)
				}
				replay = true
				return err
			}
		}
		c, err := tx.Conversation(ctx, appID, conversationID)
		if err != nil {
			return conversationGone(ctx, tx, appID, conversationID, err)
		}
		if err := checkParticipant(c, in.Sender); err != nil {
			return err
		}
		parts, err := checkParts(ctx, tx, appID, c.ID, in.Sender.UserID, in.Parts, true)
		if err != nil {
			return err
		}
		now := s.now()
		m := &herald.ScheduledMessage{ID: NewID(), AppID: appID, ConversationID: c.ID, Sender: in.Sender, Parts: parts,
			Notification: notification, CreatedAt: now, SendAt: now.Add(seconds(delay)),
			DelaySeconds: delay, TypingSeconds: typing}
		if err := tx.CreateScheduledMessage(ctx, m); err != nil {
			return err
		}
		if dedupKey != "" {
			if err := tx.PutRequestMessage(ctx, appID, dedupKey, m.ID, now); err != nil {
				return err
			}
		}
		tx.AfterCommit(s.wakeScheduler)
		out = m
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, replay, nil
}

// scheduledOrSent returns the scheduled message with that id, or, once it
// was sent, what it was scheduled as.
func scheduledOrSent(ctx context.Context, q herald.Queries, appID, id string) (*herald.ScheduledMessage, error) {
	sm, err := q.ScheduledMessage(ctx, appID, id)
	if !herald.IsNotFound(err) {
		return sm, err
	}
	m, err := q.Message(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	return &herald.ScheduledMessage{ID: m.ID, AppID: m.AppID, ConversationID: m.ConversationID, Sender: m.Sender,
		Parts: m.Parts, Notification: m.Notification, SendAt: m.SentAt}, nil
}

// seconds converts a delay to the microseconds the stores keep: 8.2 s is
// 8.2 s, not the 8.199999999 s of its float.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s*1e6)) * time.Microsecond }

// How scheduled messages are sent. One node at a time sends them: the one
// that claims the job (herald.Queries.ClaimJob) holds it for
// scheduleLease, and claims it again when it finds messages due after.
// Each message is sent in a transaction that removes it from the schedule
// first, so that were two nodes to send at once (clocks apart), each
// message would still be sent once.
const (
	scheduleJob = "scheduled_messages"
	// scheduleLease is how long a claim lasts: how late messages can be
	// when the node that claimed them stops.
	scheduleLease = 5 * time.Second
	// scheduleBackstop is how often a node looks for messages it was not
	// told of: scheduled on another node, or left by a failure.
	scheduleBackstop = 10 * time.Second
	scheduledBatch   = 100
)

// scheduler is the state of RunScheduledMessages that other calls reach.
type scheduler struct {
	once sync.Once
	wake chan struct{}
}

func (s *Service) schedulerWake() chan struct{} {
	s.scheduler.once.Do(func() { s.scheduler.wake = make(chan struct{}, 1) })
	return s.scheduler.wake
}

// wakeScheduler tells RunScheduledMessages that a message was scheduled,
// perhaps due before the one it waits for.
func (s *Service) wakeScheduler() {
	select {
	case s.schedulerWake() <- struct{}{}:
	default:
	}
}

// RunScheduledMessages sends the scheduled messages as they fall due, until
// ctx ends. It sleeps until the earliest one is due, and wakes early when
// this node schedules one; every scheduleBackstop at most, it looks again
// for those scheduled elsewhere. Messages due while the process was down
// are sent when it starts.
func (s *Service) RunScheduledMessages(ctx context.Context) {
	wake := s.schedulerWake()
	var leaseUntil time.Time
	for {
		wait := scheduleBackstop
		next, ok, err := s.nextScheduled(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			s.logger().Error("reading when the next scheduled message is due", "err", err)
		case !ok:
		case next.After(s.now()):
			wait = min(next.Sub(s.now()), scheduleBackstop)
		case s.now().Before(leaseUntil) || s.claimScheduled(ctx, &leaseUntil):
			if _, err := s.SendDueMessages(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.logger().Error("sending scheduled messages", "err", err)
				break
			}
			continue
		default:
			// Another node holds the job: look again once its claim ends.
			wait = scheduleLease
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Service) nextScheduled(ctx context.Context) (at time.Time, ok bool, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		at, ok, err = q.NextScheduledMessage(ctx)
		return err
	})
	return at, ok, err
}

// claimScheduled claims the sending of scheduled messages for
// scheduleLease, and sets until to the claim's end if it got it.
func (s *Service) claimScheduled(ctx context.Context, until *time.Time) bool {
	now := s.now()
	var mine bool
	err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		mine, err = tx.ClaimJob(ctx, scheduleJob, now, now.Add(scheduleLease))
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.logger().Error("claiming the sending of scheduled messages", "err", err)
		}
		return false
	}
	if mine {
		*until = now.Add(scheduleLease)
	}
	return mine
}

// SendDueMessages sends every scheduled message due now, the earliest
// first, and returns how many it sent. A message that can no longer be sent
// (its conversation was deleted, or its sender left it: Layer's caveats) is
// dropped, and the drop logged.
func (s *Service) SendDueMessages(ctx context.Context) (int, error) {
	sent := 0
	for {
		var due []*herald.ScheduledMessage
		err := s.Store.View(ctx, func(q herald.Queries) (err error) {
			due, err = q.DueScheduledMessages(ctx, s.now(), scheduledBatch)
			return err
		})
		if err != nil {
			return sent, err
		}
		for _, sm := range due {
			ok, err := s.sendScheduled(ctx, sm)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if len(due) < scheduledBatch {
			return sent, nil
		}
	}
}

// sendScheduled sends one scheduled message, and reports whether it did:
// false when it was sent already (by another node) or dropped.
func (s *Service) sendScheduled(ctx context.Context, sm *herald.ScheduledMessage) (bool, error) {
	var sent bool
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		sent = false
		if err := tx.DeleteScheduledMessage(ctx, sm.AppID, sm.ID); err != nil {
			if herald.IsNotFound(err) {
				return nil
			}
			return err
		}
		c, err := tx.NextMessagePosition(ctx, sm.AppID, sm.ConversationID)
		if err != nil {
			return err
		}
		if err := checkParticipant(c, sm.Sender); err != nil {
			return err
		}
		if _, err := s.createMessage(ctx, tx, c, sm.ID, sm.Sender, sm.Parts, sm.Notification, nil); err != nil {
			return err
		}
		sent = true
		return nil
	})
	var refused *herald.Error
	if !errors.As(err, &refused) {
		return sent, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		if err := tx.DeleteScheduledMessage(ctx, sm.AppID, sm.ID); !herald.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err == nil {
		s.logger().Warn("dropped a scheduled message that could no longer be sent", "app", sm.AppID,
			"conversation", sm.ConversationID, "message", sm.ID, "reason", refused.Message)
	}
	return false, err
}
