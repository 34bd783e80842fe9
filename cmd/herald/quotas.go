package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/messaging"
)

// quotaSettings are the limits that keep one app from growing the database
// or the delivery queue without bound. Zero turns a limit off.
type quotaSettings struct {
	maxWebhooks, maxQueued                       int
	minRetryDelay, minTimeout, inactiveRetention time.Duration
	// maxContentBytes is a size as given, parsed by apply.
	maxContentBytes string
}

func (q *quotaSettings) flags(cmd *cobra.Command) {
	intFlag(cmd, &q.maxWebhooks, "max-webhooks", "HERALD_MAX_WEBHOOKS", delivery.DefaultMaxWebhooks,
		"webhooks an app may have, of either format; 0: no limit")
	durationFlag(cmd, &q.minRetryDelay, "min-retry-delay", "HERALD_MIN_RETRY_DELAY", delivery.DefaultMinRetryDelay,
		"shortest retry delay a webhook may ask for in retry_schedule, and shortest wait a Retry-After gets; 0: no floor")
	durationFlag(cmd, &q.minTimeout, "min-webhook-timeout", "HERALD_MIN_WEBHOOK_TIMEOUT", delivery.DefaultMinTimeout,
		"shortest attempt timeout a webhook may ask for in timeout_seconds; 0: no floor")
	intFlag(cmd, &q.maxQueued, "max-queued-deliveries", "HERALD_MAX_QUEUED_DELIVERIES", delivery.DefaultMaxQueuedDeliveries,
		"undelivered deliveries of a webhook past which a replay queues no more; 0: no limit")
	durationFlag(cmd, &q.inactiveRetention, "inactive-webhook-retention", "HERALD_INACTIVE_WEBHOOK_RETENTION",
		delivery.DefaultInactiveRetention,
		"how long a webhook may stay inactive before its undelivered deliveries are removed; 0 keeps them until it is activated")
	cmd.Flags().StringVar(&q.maxContentBytes, "max-content-bytes", env("HERALD_MAX_CONTENT_BYTES", "10GiB"),
		"rich content an app may have, uploaded or declared and awaiting upload, in bytes or with KiB, MiB, GiB or TiB; 0: no limit (env HERALD_MAX_CONTENT_BYTES)")
}

// apply sets the limits on the engine and the service; on them, zero means
// the default and a negative value no limit.
func (q *quotaSettings) apply(e *delivery.Engine, s *messaging.Service) error {
	off := func(name string, v int64) (int64, error) {
		switch {
		case v < 0:
			return 0, fmt.Errorf("--%s: %d is negative; 0 turns the limit off", name, v)
		case v == 0:
			return -1, nil
		}
		return v, nil
	}
	content, err := parseByteSize(q.maxContentBytes)
	if err != nil {
		return fmt.Errorf("--max-content-bytes (env HERALD_MAX_CONTENT_BYTES): %w", err)
	}
	for _, l := range []struct {
		name string
		v    int64
		set  func(int64)
	}{
		{"max-webhooks", int64(q.maxWebhooks), func(v int64) { e.MaxWebhooks = int(v) }},
		{"max-queued-deliveries", int64(q.maxQueued), func(v int64) { e.MaxQueuedDeliveries = int(v) }},
		{"min-retry-delay", int64(q.minRetryDelay), func(v int64) { e.MinRetryDelay = time.Duration(v) }},
		{"min-webhook-timeout", int64(q.minTimeout), func(v int64) { e.MinTimeout = time.Duration(v) }},
		{"inactive-webhook-retention", int64(q.inactiveRetention), func(v int64) { e.InactiveRetention = time.Duration(v) }},
		{"max-content-bytes", content, func(v int64) { s.MaxContentBytes = v }},
	} {
		v, err := off(l.name, l.v)
		if err != nil {
			return err
		}
		l.set(v)
	}
	return nil
}

// parseByteSize reads a number of bytes, bare or with a binary unit: 512,
// 64KiB, 10GiB.
func parseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}, {"", 0}}
	s = strings.TrimSpace(s)
	for _, u := range units {
		digits, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(digits), 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64>>u.shift {
			break
		}
		return n << u.shift, nil
	}
	return 0, fmt.Errorf("%q is not a size: a number of bytes, or of KiB, MiB, GiB or TiB (10GiB)", s)
}
