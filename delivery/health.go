package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
)

// HealthChecked is implemented by formats whose receivers are not verified
// once, when registered (Layer's challenge), but checked periodically while
// active, as Callbell checks its webhooks' connections: a webhook of such a
// format is active from the start, and disabled when its receiver has not
// answered for HealthDisableAfter.
type HealthChecked interface {
	HealthChecked() bool
}

func healthChecked(f Format) bool {
	h, ok := f.(HealthChecked)
	return ok && h.HealthChecked()
}

// Health check defaults, Callbell's: a warning after 10 minutes without an
// answer, the webhook disabled after 6 hours.
const (
	DefaultHealthInterval     = time.Minute
	DefaultHealthWarnAfter    = 10 * time.Minute
	DefaultHealthDisableAfter = 6 * time.Hour
)

// healthLoop checks the receivers of active health-checked webhooks every
// HealthInterval.
func (e *Engine) healthLoop() {
	defer e.wg.Done()
	tick := time.NewTicker(min(e.HealthInterval, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		if err := e.checkHealth(context.Background()); err != nil {
			e.Logger.Error("checking webhook receivers", "err", err)
		}
	}
}

// checkHealth checks, concurrently, every receiver due for a check.
func (e *Engine) checkHealth(ctx context.Context) error {
	var webhooks []*herald.Webhook
	err := e.Store.View(ctx, func(q herald.Queries) (err error) {
		webhooks, err = q.Webhooks(ctx, "")
		return err
	})
	if err != nil {
		return err
	}
	now := e.now()
	var due []*herald.Webhook
	for _, w := range webhooks {
		if w.Status != herald.WebhookActive || !healthChecked(e.Formats[w.Format]) {
			continue
		}
		if w.HealthCheckedAt != nil && now.Sub(*w.HealthCheckedAt) < e.HealthInterval {
			continue
		}
		due = append(due, w)
	}
	if len(due) == 0 {
		return nil
	}
	// Each receiver's check is a job of its own: whichever node claims it
	// checks, once per interval across the nodes, even when a check takes
	// longer than the interval.
	var mine []*herald.Webhook
	err = e.Store.Update(ctx, func(tx herald.Tx) error {
		mine = mine[:0]
		for _, w := range due {
			won, err := tx.ClaimJob(ctx, "health_check:"+w.ID, now, now.Add(e.HealthInterval))
			if err != nil {
				return err
			}
			if won {
				mine = append(mine, w)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The checks wait their turn among the engine's probes; one that the
	// engine's stop drops is due again at the next period.
	var wg sync.WaitGroup
	for _, w := range mine {
		wg.Add(1)
		e.probeQueue().submit(w.AppID, "health:"+w.ID, func() {
			defer wg.Done()
			problem := e.probe(w)
			if err := e.recordHealth(ctx, w, problem); err != nil && !herald.IsNotFound(err) {
				e.Logger.Error("recording a webhook health check", "webhook", w.ID, "err", err)
			}
		}, wg.Done)
	}
	wg.Wait()
	return nil
}

// probe checks that a receiver answers: a GET of its URL that gets any
// answer below 500 in time. Callbell asks receivers to answer its checks
// with 200 {"status":"ok"}, but disables webhooks only for not answering;
// a receiver that serves only POST (405) or checks signatures (401) is up.
// It returns what went wrong, "" when the receiver answered.
func (e *Engine) probe(w *herald.Webhook) string {
	timeout := probeTimeout(w)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.TargetURL, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("User-Agent", "herald-webhooks")
	req.Header.Set("X-Herald-Health-Check", "1")
	e.signProbe(req, w)
	res, err := e.Client.Do(req)
	if err != nil {
		var refused *egress.RefusedError
		switch {
		case errors.As(err, &refused):
			return refused.Error()
		case ctx.Err() != nil:
			return fmt.Sprintf("no answer within %s", timeout)
		}
		return err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode >= 500 {
		return fmt.Sprintf("HTTP %d", res.StatusCode)
	}
	return ""
}

// recordHealth saves a check's outcome: a failing receiver is reported in
// the status reason after HealthWarnAfter and disabled after
// HealthDisableAfter; an answering one clears both.
func (e *Engine) recordHealth(ctx context.Context, checked *herald.Webhook, problem string) error {
	now := e.now().UTC().Truncate(time.Microsecond)
	warn, disable := false, false
	err := e.Store.Update(ctx, func(tx herald.Tx) error {
		w, err := tx.Webhook(ctx, checked.AppID, checked.ID)
		if err != nil {
			return err
		}
		// Changed meanwhile (re-subscribed, disabled): that decision wins.
		if w.Status != herald.WebhookActive || !w.UpdatedAt.Equal(checked.UpdatedAt) {
			return nil
		}
		w.HealthCheckedAt = &now
		if problem == "" {
			if w.HealthFailingSince != nil {
				w.StatusReason = ""
			}
			w.HealthFailingSince = nil
			return tx.UpdateWebhook(ctx, w)
		}
		if w.HealthFailingSince == nil {
			w.HealthFailingSince = &now
		}
		down := now.Sub(*w.HealthFailingSince)
		switch {
		case down >= e.HealthDisableAfter:
			w.Status, disable = herald.WebhookInactive, true
			w.StatusReason = fmt.Sprintf("Disabled: the receiver has not answered health checks for %s (last: %s).", down.Round(time.Second), problem)
			w.UpdatedAt = now
		case down >= e.HealthWarnAfter:
			warn = w.StatusReason == ""
			w.StatusReason = fmt.Sprintf("The receiver has not answered health checks since %s (last: %s); the webhook is disabled after %s.",
				w.HealthFailingSince.Format(time.RFC3339), problem, e.HealthDisableAfter)
		}
		// Only a change of status moves UpdatedAt, so that the other
		// recorders (verification, deactivation) still see theirs.
		return tx.UpdateWebhook(ctx, w)
	})
	switch {
	case disable:
		e.Logger.Warn("webhook disabled: its receiver does not answer", "webhook", checked.ID, "app", checked.AppID, "url", checked.TargetURL, "last", problem)
	case warn:
		e.Logger.Warn("webhook receiver does not answer", "webhook", checked.ID, "app", checked.AppID, "url", checked.TargetURL, "last", problem)
	}
	return err
}
