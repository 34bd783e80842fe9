package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// Push providers are kept per app and kind with their secret, replaced
// whole, listed by app and kind, and removed.
func testPushProviders(t *testing.T, s herald.Store) {
	apns := &herald.PushProvider{AppID: "a1", Kind: herald.PushProviderAPNS, TeamID: "TEAM", KeyID: "KEY",
		BundleID: "com.example", Environment: herald.APNSProduction, Secret: "-----BEGIN PRIVATE KEY-----\nx\n",
		CreatedAt: at(1), UpdatedAt: at(1)}
	hook := &herald.PushProvider{AppID: "a2", Kind: herald.PushProviderWebhook, URL: "https://example.com/push",
		Secret: "whsec_abc", CreatedAt: at(2), UpdatedAt: at(2)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.PutPushProvider(ctx, apns); err != nil {
			return err
		}
		return tx.PutPushProvider(ctx, hook)
	})
	var got *herald.PushProvider
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.PushProvider(ctx, "a1", herald.PushProviderAPNS)
		return err
	})
	same(t, "apns provider", got, apns)

	changed := *apns
	changed.Environment, changed.Secret, changed.UpdatedAt = herald.APNSDevelopment, "other key", at(5)
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutPushProvider(ctx, &changed) })
	var all []*herald.PushProvider
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		all, err = q.PushProviders(ctx, "")
		return err
	})
	// The creation time stays that of the first configuration.
	changed.CreatedAt = at(1)
	same(t, "every provider", all, []*herald.PushProvider{&changed, hook})
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		all, err = q.PushProviders(ctx, "a2")
		return err
	})
	same(t, "a2's providers", all, []*herald.PushProvider{hook})

	var deleted, again bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		deleted, err = tx.DeletePushProvider(ctx, "a1", herald.PushProviderAPNS)
		return err
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		again, err = tx.DeletePushProvider(ctx, "a1", herald.PushProviderAPNS)
		return err
	})
	if !deleted || again {
		t.Fatalf("deleted %v, then %v", deleted, again)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.PushProvider(ctx, "a1", herald.PushProviderAPNS)
		wantNotFound(t, "a deleted provider", err)
		return nil
	})
}

func pushJob(app, id string, due time.Time) *herald.PushJob {
	return &herald.PushJob{ID: id, AppID: app, EventID: "e-" + id, EventSeq: 1, UserID: "u", Provider: herald.PushProviderFCM,
		DeviceID: "d", Payload: json.RawMessage(`{"text":"hi"}`), NextAttemptAt: due, CreatedAt: due}
}

func claimPush(t *testing.T, s herald.Store, node string, now time.Time, limit, perApp int, skip ...string) []string {
	t.Helper()
	var ids []string
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		js, err := tx.ClaimPushJobs(ctx, node, now, now.Add(time.Minute), limit, perApp, skip)
		ids = nil
		for _, j := range js {
			if j.LeaseOwner != node || !j.LeaseUntil.Equal(now.Add(time.Minute)) {
				return fmt.Errorf("job %s claimed by %s until %s", j.ID, j.LeaseOwner, j.LeaseUntil)
			}
			ids = append(ids, j.ID)
		}
		return err
	})
	return ids
}

// The push cursor advances only from where it is; jobs are claimed when
// due, earliest first, within a cap per app, by one node until their lease
// ends, and are retried, failed, finished or released by the node that
// holds them.
func testPushJobs(t *testing.T, s herald.Store) {
	var cursor int64
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		cursor, err = q.PushCursor(ctx)
		return err
	})
	var moved, stale bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		moved, err = tx.AdvancePushCursor(ctx, cursor, cursor+5)
		return err
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		stale, err = tx.AdvancePushCursor(ctx, cursor, cursor+7)
		return err
	})
	if !moved || stale {
		t.Fatalf("cursor moved %v, moved from a stale value %v", moved, stale)
	}

	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.CreatePushJobs(ctx, []*herald.PushJob{
			pushJob("a", "a1", at(1)), pushJob("a", "a2", at(2)), pushJob("a", "a3", at(3)),
			pushJob("b", "b1", at(4)), pushJob("c", "c1", at(5)), pushJob("a", "a4", at(30)),
		})
	})
	same(t, "claim with 2 per app, without c", claimPush(t, s, "n1", at(10), 10, 2, "c"), []string{"a1", "a2", "b1"})
	same(t, "claim while those are leased", claimPush(t, s, "n2", at(10), 10, 5), []string{"a3", "c1"})
	same(t, "claim with nothing due", claimPush(t, s, "n2", at(10), 10, 5), []string(nil))

	// n2 cannot finish what n1 holds.
	var ok bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		ok, err = tx.FinishPushJob(ctx, "n2", "a1")
		return err
	})
	if ok {
		t.Fatal("a node finished a job leased to another")
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if ok, err = tx.FinishPushJob(ctx, "n1", "a1"); err != nil || !ok {
			return fmt.Errorf("finishing: %v %v", ok, err)
		}
		j := pushJob("a", "a2", at(0))
		j.Attempts, j.NextAttemptAt, j.Status, j.LastError = 1, at(20), herald.PushPending, "503"
		if ok, err = tx.RetryPushJob(ctx, "n1", j); err != nil || !ok {
			return fmt.Errorf("retrying: %v %v", ok, err)
		}
		f := pushJob("b", "b1", at(0))
		f.Attempts, f.NextAttemptAt, f.Status, f.LastError = 9, at(20), herald.PushFailed, "gave up"
		ok, err = tx.RetryPushJob(ctx, "n1", f)
		return err
	})
	var failed []*herald.PushJob
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		failed, err = q.PushJobs(ctx, "b", herald.PushFailed, 10)
		return err
	})
	if len(failed) != 1 || failed[0].Attempts != 9 || failed[0].LastError != "gave up" || failed[0].LeaseOwner != "" {
		t.Fatalf("failed jobs: %s", jsonOf(t, failed))
	}
	// Until the lease ends, and until its retry is due, a job waits.
	same(t, "claim before the retry", claimPush(t, s, "n3", at(10), 10, 5), []string(nil))
	// The jobs leased until at(11) (a3, c1) are claimable again after it.
	same(t, "claim at the retry", claimPush(t, s, "n3", at(20), 10, 5), []string{"a3", "c1", "a2"})
	same(t, "claim once every lease ended", claimPush(t, s, "n3", at(31), 10, 5), []string{"a3", "c1", "a2", "a4"})
	same(t, "claim while n3 holds them", claimPush(t, s, "n1", at(31), 10, 5), []string(nil))

	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.ReleasePushLeases(ctx, "n3") })
	same(t, "claim after a release", claimPush(t, s, "n1", at(31), 10, 5), []string{"a3", "c1", "a2", "a4"})
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.ReleasePushLeases(ctx, "") })
	same(t, "claim after releasing every node's", claimPush(t, s, "n4", at(31), 2, 5), []string{"a3", "c1"})
}

// Nodes claiming at once never share a job.
func testConcurrentPushClaimsNeverShare(t *testing.T, s herald.Store) {
	var jobs []*herald.PushJob
	for i := range 60 {
		jobs = append(jobs, pushJob(fmt.Sprintf("app%d", i%3), fmt.Sprintf("j%02d", i), at(1)))
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.CreatePushJobs(ctx, jobs) })
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for n := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				ctx := context.Background()
				var ids []string
				err := s.Update(ctx, func(tx herald.Tx) error {
					js, err := tx.ClaimPushJobs(ctx, fmt.Sprintf("n%d", n), at(2), at(10), 4, 2, nil)
					ids = nil
					for _, j := range js {
						ids = append(ids, j.ID)
					}
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, ids...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A claim skips the jobs another holds locked (PostgreSQL's SKIP
	// LOCKED), so how many the racing claims took depends on their timing:
	// what they left is claimed alone.
	for range len(jobs) {
		js := claimPush(t, s, "n9", at(2), 4, 4)
		if len(js) == 0 {
			break
		}
		all = append(all, js...)
	}
	sort.Strings(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("job %s claimed twice", all[i])
		}
	}
	if len(all) != len(jobs) {
		t.Fatalf("claimed %d of %d jobs", len(all), len(jobs))
	}
}

// Retention keeps the events the push cursor has not passed, of the apps
// that push.
func testPruneEventsKeepsWhatPushHasNotPassed(t *testing.T, s herald.Store) {
	var cursor int64
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if err := tx.PutPushProvider(ctx, &herald.PushProvider{AppID: "app", Kind: herald.PushProviderWebhook,
			URL: "https://example.com", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		for i := range 4 {
			e, err := herald.NewEvent(fmt.Sprintf("e%d", i), "app", herald.EventNotificationSent, at(i), nil, &herald.EventData{})
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	var seqs []int64
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		if cursor, err = q.PushCursor(ctx); err != nil {
			return err
		}
		events, err := q.EventsSince(ctx, cursor, 10)
		for _, e := range events {
			seqs = append(seqs, e.Seq)
		}
		return err
	})
	if len(seqs) != 4 {
		t.Fatalf("events after the push cursor: %v", seqs)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		_, err := tx.AdvancePushCursor(ctx, cursor, seqs[1])
		return err
	})
	var pruned int
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		pruned, err = tx.PruneEvents(ctx, at(60), 100)
		return err
	})
	var left []*herald.Event
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		left, err = q.Events(ctx, "app", 0, 10)
		return err
	})
	if pruned != 2 || len(left) != 2 || left[0].Seq != seqs[2] {
		t.Fatalf("pruned %d, left %d events", pruned, len(left))
	}
}
