package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/stdwebhooks"
)

type job struct {
	d *herald.Delivery
	w *herald.Webhook
}

type result struct {
	job
	a          *herald.Attempt
	retryAfter time.Duration // from a Retry-After header, -1 when none
}

const claimBatch = 256

// dispatchLoop claims due deliveries as workers free up and hands them out.
func (e *Engine) dispatchLoop() {
	defer e.wg.Done()
	defer close(e.jobs)
	go func() {
		e.workersWG.Wait()
		close(e.results)
	}()
	timer := time.NewTimer(e.PollInterval)
	defer timer.Stop()
	for {
		free := min(e.Workers-int(e.inflight.Load()), claimBatch)
		full := false
		if free > 0 {
			jobs, err := e.claim(free)
			if err != nil {
				e.Logger.Error("claiming deliveries", "err", err)
			}
			for _, j := range jobs {
				e.inflight.Add(1)
				select {
				case e.jobs <- j:
				case <-e.stop:
					// Left leased; the next start releases it.
					return
				}
			}
			full = len(jobs) == free
		}
		if full {
			continue
		}
		timer.Reset(e.PollInterval)
		select {
		case <-e.stop:
			return
		case <-e.dispatchWake:
		case <-timer.C:
		}
	}
}

func (e *Engine) claim(limit int) ([]*job, error) {
	ctx := context.Background()
	now := e.now()
	var claimed []*herald.Delivery
	err := e.Store.Update(ctx, func(tx herald.Tx) error {
		var err error
		// The lease outlasts the longest attempt; a crashed node's
		// deliveries become claimable again once it ends.
		claimed, err = tx.ClaimDeliveries(ctx, e.Node, now, now.Add(maxTimeout+30*time.Second), limit)
		return err
	})
	if err != nil || len(claimed) == 0 {
		return nil, err
	}
	webhooks := map[string]*herald.Webhook{}
	err = e.Store.View(ctx, func(q herald.Queries) error {
		ws, err := q.Webhooks(ctx, "")
		for _, w := range ws {
			webhooks[w.ID] = w
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	jobs := make([]*job, 0, len(claimed))
	for _, d := range claimed {
		if w := webhooks[d.WebhookID]; w != nil {
			jobs = append(jobs, &job{d: d, w: w})
		}
	}
	return jobs, nil
}

func (e *Engine) worker() {
	defer e.workersWG.Done()
	for j := range e.jobs {
		r := e.attempt(j)
		e.inflight.Add(-1)
		e.results <- r
	}
}

var signers sync.Map // signing key → *stdwebhooks.Signer

func signer(key string) (*stdwebhooks.Signer, error) {
	if s, ok := signers.Load(key); ok {
		return s.(*stdwebhooks.Signer), nil
	}
	s, err := stdwebhooks.NewSigner(key)
	if err != nil {
		return nil, err
	}
	signers.Store(key, s)
	return s, nil
}

// attempt sends a delivery once.
func (e *Engine) attempt(j *job) *result {
	r := &result{job: *j, retryAfter: -1, a: &herald.Attempt{DeliveryID: j.d.ID, StartedAt: e.now()}}
	timeout := j.w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.w.TargetURL, bytes.NewReader(j.d.Body))
	if err != nil {
		r.a.Error = err.Error()
		return r
	}
	if f := e.Formats[j.w.Format]; f != nil {
		f.SetHeaders(req.Header, j.w, j.d, r.a.StartedAt)
	}
	s, err := signer(j.w.SigningKey)
	if err != nil {
		r.a.Error = err.Error()
		return r
	}
	s.SetHeaders(req.Header, j.d.ID, r.a.StartedAt, j.d.Body)
	res, err := e.Client.Do(req)
	r.a.Duration = e.now().Sub(r.a.StartedAt)
	if err != nil {
		r.a.Error = err.Error()
		if ctx.Err() != nil {
			r.a.Error = fmt.Sprintf("no response within %s", timeout)
		}
		return r
	}
	defer res.Body.Close()
	r.a.StatusCode = res.StatusCode
	r.a.ResponseHeaders = res.Header
	body, err := io.ReadAll(io.LimitReader(res.Body, herald.MaxAttemptBody))
	r.a.ResponseBody = body
	if err != nil && r.a.Error == "" {
		r.a.Error = "reading the response: " + err.Error()
	}
	// Drain a little more so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		r.retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), e.now())
	}
	return r
}

// parseRetryAfter reads seconds or an HTTP date; -1 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// completeLoop records outcomes in batches: one transaction for all the
// attempts that finished meanwhile.
func (e *Engine) completeLoop() {
	defer e.wg.Done()
	batch := make([]*result, 0, claimBatch)
	for r := range e.results {
		batch = append(batch[:0], r)
	gather:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-e.results:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		if err := e.complete(batch); err != nil {
			// The deliveries stay leased and are attempted again when the
			// lease ends: at least once, never lost.
			e.Logger.Error("recording delivery outcomes", "err", err)
		}
		signal(e.dispatchWake)
	}
}

func (e *Engine) complete(batch []*result) error {
	ctx := context.Background()
	now := e.now()
	// Outcomes are decided once, outside the transaction, which an engine
	// may run more than once.
	reasons := make([]string, len(batch))
	for i, r := range batch {
		reasons[i] = e.outcome(r, now)
	}
	completions := make([]herald.Completion, len(batch))
	for i, r := range batch {
		completions[i] = herald.Completion{Delivery: r.d, Attempt: r.a}
	}
	return e.Store.Update(ctx, func(tx herald.Tx) error {
		if err := tx.CompleteDeliveries(ctx, completions); err != nil {
			return err
		}
		for i, r := range batch {
			reason := reasons[i]
			if reason == "" {
				continue
			}
			w, err := tx.Webhook(ctx, r.w.AppID, r.w.ID)
			if herald.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if w.Status == herald.WebhookInactive {
				continue
			}
			w.Status, w.StatusReason, w.UpdatedAt = herald.WebhookInactive, reason, now
			if err := tx.UpdateWebhook(ctx, w); err != nil {
				return err
			}
			e.Logger.Warn("webhook deactivated", "webhook", w.ID, "reason", reason)
		}
		return nil
	})
}

// outcome applies an attempt's result to its delivery and returns why the
// webhook must be deactivated, if it must.
func (e *Engine) outcome(r *result, now time.Time) (deactivate string) {
	d, a := r.d, r.a
	d.Attempts++
	d.LastStatusCode, d.LastError = a.StatusCode, a.Error
	if a.StatusCode >= 200 && a.StatusCode < 300 && a.Error == "" {
		d.Status, d.DeliveredAt = herald.DeliveryDelivered, &now
		return ""
	}
	what := a.Error
	if a.StatusCode != 0 {
		what = fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	if a.StatusCode == http.StatusGone {
		// The receiver says the endpoint is gone for good: stop at once,
		// keeping the delivery for when the webhook is activated again.
		d.Status = herald.DeliveryFailed
		return fmt.Sprintf("The target answered 410 Gone to delivery %s.", d.ID)
	}
	schedule := r.w.RetrySchedule
	if d.Attempts > len(schedule) {
		d.Status = herald.DeliveryFailed
		return fmt.Sprintf("Delivery %s failed %d times; the last attempt got %s.", d.ID, d.Attempts, what)
	}
	delay := jitter(schedule[d.Attempts-1])
	if r.retryAfter >= 0 {
		delay = min(r.retryAfter, e.MaxRetryAfter)
	}
	d.Status, d.NextAttemptAt = herald.DeliveryPending, now.Add(delay)
	// Wake the dispatcher when the retry is due rather than at the next
	// poll; retries are few, so a timer each is cheap.
	time.AfterFunc(delay, func() { signal(e.dispatchWake) })
	return ""
}

// jitter spreads a delay by ±20%, so that the retries of many deliveries
// that failed together do not arrive together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
