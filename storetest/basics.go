package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// Concurrent updates, whether they share a transaction or not, each succeed
// or fail on their own: one that fails leaves nothing behind (app, event,
// webhook, delivery), keeps its error, and disturbs none of the others.
func testFailedUpdatesLeaveNothing(t *testing.T, s herald.Store) {
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	var committed sync.Map // update number → its after-commit hook ran
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := fmt.Sprintf("app-%d", i)
			errs[i] = s.Update(ctx, func(tx herald.Tx) error {
				tx.AfterCommit(func() { committed.Store(i, true) })
				if err := createApp(ctx, tx, app); err != nil {
					return err
				}
				e := &herald.Event{ID: fmt.Sprintf("ev-%d", i), AppID: app, Type: herald.EventMessageSent,
					CreatedAt: at(0), Data: json.RawMessage(`{}`)}
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
				w := newWebhook(app, fmt.Sprintf("wh-%d", i))
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
				d := newDelivery(i, w.ID, "")
				d.AppID = app
				if err := tx.CreateDeliveries(ctx, []*herald.Delivery{d}); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return herald.Errorf(herald.EInvalidProperty, "refused %d", i)
				case 2:
					// A statement the store refuses: on some engines it
					// aborts the transaction it ran in.
					return createApp(ctx, tx, app)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		ok := i%4 == 0 || i%4 == 3
		if ok && errs[i] != nil {
			t.Fatalf("update %d failed: %v", i, errs[i])
		}
		if !ok && errs[i] == nil {
			t.Fatalf("update %d should have failed", i)
		}
		if i%4 == 1 {
			if e, isApp := herald.AsError(errs[i]); !isApp || e.ID != herald.EInvalidProperty {
				t.Fatalf("update %d: error %v lost its identity", i, errs[i])
			}
		}
		app := fmt.Sprintf("app-%d", i)
		for what, read := range map[string]func(ctx context.Context, q herald.Queries) error{
			"app": func(ctx context.Context, q herald.Queries) error { _, err := q.App(ctx, app); return err },
			"event": func(ctx context.Context, q herald.Queries) error {
				_, err := q.Event(ctx, app, fmt.Sprintf("ev-%d", i))
				return err
			},
			"webhook": func(ctx context.Context, q herald.Queries) error {
				_, err := q.Webhook(ctx, app, fmt.Sprintf("wh-%d", i))
				return err
			},
			"delivery": func(ctx context.Context, q herald.Queries) error {
				_, err := q.Delivery(ctx, app, deliveryID(i))
				return err
			},
		} {
			if got := found(t, s, read); got != ok {
				t.Fatalf("update %d: %s exists=%v, want %v", i, what, got, ok)
			}
		}
	}
	// The hooks of exactly the committed updates run, maybe a little after
	// their Update returned.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ran := 0
		committed.Range(func(k, _ any) bool {
			if i := k.(int); i%4 == 1 || i%4 == 2 {
				t.Fatalf("the after-commit hook of failed update %d ran", i)
			}
			ran++
			return true
		})
		if ran == n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d after-commit hooks ran, want %d", ran, n/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// After-commit hooks run once the writes are there for everyone to read,
// and never for an update that failed.
func testAfterCommitRunsOnlyOnSuccess(t *testing.T, s herald.Store) {
	ctx := context.Background()
	type run struct {
		app string
		err error // reading the app from the hook
	}
	ran := make(chan run, 4)
	for _, fail := range []bool{true, false} {
		app := fmt.Sprint("fail-", fail)
		err := s.Update(ctx, func(tx herald.Tx) error {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
			tx.AfterCommit(func() {
				ran <- run{app, s.View(ctx, func(q herald.Queries) error {
					_, err := q.App(ctx, app)
					return err
				})}
			})
			if fail {
				return errors.New("no")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatalf("%s: %v", app, err)
		}
	}
	select {
	case r := <-ran:
		if r.app != "fail-false" {
			t.Fatalf("the hook of the failed update ran")
		}
		if r.err != nil {
			t.Fatalf("the hook cannot read what was committed: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hook of the committed update did not run")
	}
	select {
	case r := <-ran:
		t.Fatalf("another hook ran: %+v", r)
	default:
	}
	if appExists(t, s, "fail-true") {
		t.Fatal("the failed update was written")
	}
}

func testCanceledUpdateWritesNothing(t *testing.T, s herald.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(ctx, func(tx herald.Tx) error { return createApp(context.Background(), tx, "x") })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if appExists(t, s, "x") {
		t.Fatal("a canceled update was written")
	}
}

func testViewIsReadOnly(t *testing.T, s herald.Store) {
	err := s.View(context.Background(), func(q herald.Queries) error {
		return q.CreateApp(context.Background(), &herald.App{ID: "x", Name: "x", CreatedAt: at(0)})
	})
	if err == nil {
		t.Fatal("a write through View succeeded")
	}
	if appExists(t, s, "x") {
		t.Fatal("a write through View was kept")
	}
}

// The event log: sequence numbers given on append (known once the update
// returned) that grow in commit order, and the reads of the log.
func testEventLog(t *testing.T, s herald.Store) {
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		last, err := q.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		if last != 0 {
			t.Fatalf("empty log: last seq %d, want 0", last)
		}
		return nil
	})
	event := func(id, app string, minute int, actor *herald.Actor) *herald.Event {
		return &herald.Event{ID: id, AppID: app, Type: herald.EventMessageSent, CreatedAt: at(minute), Actor: actor,
			Data: json.RawMessage(fmt.Sprintf(`{"id":%q}`, id))}
	}
	e1 := event("e1", "app", 1, &herald.Actor{UserID: "u1"})
	e2 := event("e2", "other", 2, nil)
	e3 := event("e3", "app", 3, &herald.Actor{Name: "bot"})
	e4 := event("e4", "app", 4, nil)
	all := []*herald.Event{e1, e2, e3, e4}
	for _, e := range all {
		update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.AppendEvent(ctx, e) })
	}
	for i, e := range all {
		if e.Seq <= 0 || (i > 0 && e.Seq <= all[i-1].Seq) {
			t.Fatalf("seqs in commit order: %d, %d, %d, %d", e1.Seq, e2.Seq, e3.Seq, e4.Seq)
		}
	}
	list := func(what string, read func(ctx context.Context, q herald.Queries) ([]*herald.Event, error), want ...*herald.Event) {
		t.Helper()
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			got, err := read(ctx, q)
			if err != nil {
				return err
			}
			if want == nil {
				want = []*herald.Event{}
			}
			if got == nil {
				got = []*herald.Event{}
			}
			same(t, what, got, want)
			return nil
		})
	}
	list("app's events", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.Events(ctx, "app", 0, 10)
	}, e1, e3, e4)
	list("app's events after e1", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.Events(ctx, "app", e1.Seq, 10)
	}, e3, e4)
	list("app's first event after e1", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.Events(ctx, "app", e1.Seq, 1)
	}, e3)
	list("every app's events after e1", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.EventsSince(ctx, e1.Seq, 10)
	}, e2, e3, e4)
	list("every app's first events", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.EventsSince(ctx, 0, 2)
	}, e1, e2)
	list("events created in [1, 4)", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.EventsBetween(ctx, "app", at(1), at(4), 0, 10)
	}, e1, e3)
	list("events created in [1, 4) after e1", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.EventsBetween(ctx, "app", at(1), at(4), e1.Seq, 10)
	}, e3)
	list("events created in [2, 3)", func(ctx context.Context, q herald.Queries) ([]*herald.Event, error) {
		return q.EventsBetween(ctx, "app", at(2), at(3), 0, 10)
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Event(ctx, "app", "e3")
		if err != nil {
			return err
		}
		same(t, "event", got, e3)
		_, err = q.Event(ctx, "other", "e3")
		wantNotFound(t, "event of another app", err)
		last, err := q.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		if last != e4.Seq {
			t.Fatalf("last seq %d, want %d", last, e4.Seq)
		}
		return nil
	})

	// Concurrent appends each get their own seq, the one the log lists.
	const n = 20
	appended := make([]*herald.Event, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := event(fmt.Sprint("c", i), "app", 10, nil)
			err := s.Update(context.Background(), func(tx herald.Tx) error {
				return tx.AppendEvent(context.Background(), e)
			})
			if err != nil {
				t.Error(err)
				return
			}
			appended[i] = e
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.EventsSince(ctx, e4.Seq, 2*n)
		if err != nil {
			return err
		}
		seqs := map[string]int64{}
		for _, e := range got {
			seqs[e.ID] = e.Seq
		}
		if len(got) != n || len(seqs) != n {
			t.Fatalf("%d events listed after the concurrent appends, want %d", len(got), n)
		}
		for _, e := range appended {
			if seqs[e.ID] != e.Seq {
				t.Fatalf("event %s has seq %d, the log lists it at %d", e.ID, e.Seq, seqs[e.ID])
			}
		}
		return nil
	})
}

// testIdentitiesOfUsers reads identities by lists of every length, short
// and long, with users who have none and users of another app.
func testIdentitiesOfUsers(t *testing.T, s herald.Store) {
	const users = 24
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, app := range []string{"app-1", "app-2"} {
			if err := createApp(ctx, tx, app); err != nil {
				return err
			}
		}
		for i := range users {
			// Every other user has an identity in app-1; every user has one in app-2.
			for _, app := range []string{"app-1", "app-2"} {
				if app == "app-1" && i%2 == 1 {
					continue
				}
				id := &herald.Identity{AppID: app, UserID: fmt.Sprint("user-", i), DisplayName: app + " user " + fmt.Sprint(i),
					CreatedAt: at(i), UpdatedAt: at(i)}
				if err := tx.PutIdentity(ctx, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for n := 0; n <= users+2; n++ {
		var list, want []string
		for i := range n {
			// Two users past the last have no identity anywhere.
			list = append(list, fmt.Sprint("user-", i))
			if i < users && i%2 == 0 {
				want = append(want, fmt.Sprint("user-", i))
			}
		}
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			got, err := q.Identities(ctx, "app-1", list)
			if err != nil {
				return err
			}
			var keys []string
			for k, id := range got {
				keys = append(keys, k)
				if id.UserID != k || id.AppID != "app-1" || id.DisplayName != "app-1 user "+strings.TrimPrefix(k, "user-") {
					t.Errorf("%d users: identity %q is %+v", n, k, id)
				}
			}
			sameSet(t, fmt.Sprintf("identities of %d users", n), keys, want)
			return nil
		})
	}
}
