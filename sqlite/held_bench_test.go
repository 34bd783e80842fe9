package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// BenchmarkHeldDeliveries reads the deliveries held behind a queue's head, as
// the worker sending a hot conversation does after each 2xx.
func BenchmarkHeldDeliveries(b *testing.B) {
	ctx := context.Background()
	s := openBench(b, sqlite.Options{})
	now := time.Now()
	w := &herald.Webhook{ID: "w", AppID: "app", Format: herald.FormatLayer, Version: "2.0",
		TargetURL: "https://example.com/w", Events: []string{herald.EventMessageSent}, Secret: "secret",
		SigningKey: "whsec_w", Status: herald.WebhookActive, RetrySchedule: []time.Duration{time.Minute},
		Timeout: 10 * time.Second, CreatedAt: now, UpdatedAt: now}
	var ds []*herald.Delivery
	for i := 1; i <= 1000; i++ {
		ds = append(ds, &herald.Delivery{ID: fmt.Sprint("d", i), AppID: "app", WebhookID: "w", EventID: fmt.Sprint("e", i),
			EventSeq: int64(i), EventType: herald.EventMessageSent, OrderingKey: fmt.Sprint("k", i%16),
			Body: []byte(`{}`), PayloadID: fmt.Sprint("p", i), Status: herald.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
	}
	err := s.Update(ctx, func(tx herald.Tx) error {
		if err := createApp(ctx, tx, "app"); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return tx.CreateDeliveries(ctx, ds)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.View(ctx, func(q herald.Queries) error {
			_, err := q.HeldDeliveries(ctx, "w", fmt.Sprint("k", i%16), int64(900+i%50), 64)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
