package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
)

// Verify checks, in the background, that the webhook's receiver wants its
// events, as Layer did: a GET of target_url with ?verification_challenge=X
// must answer 2xx with X as its body. The webhook becomes active, and its
// waiting deliveries flow, or inactive with the reason. Verifications wait
// their turn among the engine's probes (see MaxProbes).
func (e *Engine) Verify(w *herald.Webhook) {
	key := "verify:" + w.ID
	if healthChecked(e.Formats[w.Format]) {
		// Such receivers are never challenged; they are active at once.
		e.probeQueue().submit(w.AppID, key, func() { e.settle(w, true, "") }, nil)
		return
	}
	e.probeQueue().submit(w.AppID, key, func() {
		active, reason := e.challenge(w)
		e.settle(w, active, reason)
	}, nil)
}

// settle records the outcome of a verification: the webhook is active, and
// its kept deliveries queued again, or inactive with the reason.
func (e *Engine) settle(w *herald.Webhook, active bool, reason string) {
	ctx := context.Background()
	err := e.Store.Update(ctx, func(tx herald.Tx) error {
		current, err := tx.Webhook(ctx, w.AppID, w.ID)
		if err != nil {
			return err
		}
		// Deactivated or verified again meanwhile: that decision wins.
		if current.Status != herald.WebhookUnverified || !current.UpdatedAt.Equal(w.UpdatedAt) {
			return nil
		}
		current.Status, current.StatusReason, current.UpdatedAt = herald.WebhookInactive, reason, e.now()
		if active {
			current.Status = herald.WebhookActive
			current.HealthFailingSince = nil
			if err := tx.RequeueDeliveries(ctx, w.ID, e.now()); err != nil {
				return err
			}
		}
		return tx.UpdateWebhook(ctx, current)
	})
	if err != nil && !herald.IsNotFound(err) {
		e.Logger.Error("recording webhook verification", "webhook", w.ID, "err", err)
	}
	e.held.forget(w.ID)
	if e.started {
		signal(e.dispatchWake)
	}
}

func (e *Engine) challenge(w *herald.Webhook) (ok bool, reason string) {
	b := make([]byte, 16)
	rand.Read(b)
	challenge := hex.EncodeToString(b)
	u, err := url.Parse(w.TargetURL)
	if err != nil {
		return false, "Verification failed: " + err.Error()
	}
	q := u.Query()
	q.Set("verification_challenge", challenge)
	u.RawQuery = q.Encode()
	timeout := probeTimeout(w)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, "Verification failed: " + err.Error()
	}
	req.Header.Set("User-Agent", "herald-webhooks")
	e.signProbe(req, w)
	res, err := e.Client.Do(req)
	if err != nil {
		var refused *egress.RefusedError
		switch {
		case errors.As(err, &refused):
			return false, "Verification failed: " + refused.Error() + "."
		case ctx.Err() != nil:
			return false, fmt.Sprintf("Verification failed: no answer from the target within %s.", timeout)
		}
		return false, "Verification failed: no answer from the target: " + err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return false, fmt.Sprintf("Verification failed: the target answered HTTP %d to the verification challenge.", res.StatusCode)
	}
	if strings.TrimSpace(string(body)) != challenge {
		return false, "Verification failed: the target's answer did not echo the verification_challenge value."
	}
	return true, ""
}
