package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func ptime(t time.Time) *time.Time { return &t }

// testExportKeysAndSchedules checks that an app's export key and schedule
// are kept per app, replaced whole, and that due schedules are listed by
// time, across apps.
func testExportKeysAndSchedules(t *testing.T, s herald.Store) {
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.ExportKey(ctx, "a")
		wantNotFound(t, "key of an app that registered none", err)
		_, err = q.ExportSchedule(ctx, "a")
		wantNotFound(t, "schedule of an app that set none", err)
		return nil
	})
	first := &herald.ExportKey{AppID: "a", PublicKey: "PEM one", UpdatedAt: at(1)}
	second := &herald.ExportKey{AppID: "a", PublicKey: "PEM two", UpdatedAt: at(2)}
	other := &herald.ExportKey{AppID: "b", PublicKey: "PEM of b", UpdatedAt: at(1)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, k := range []*herald.ExportKey{first, other, second} {
			if err := tx.PutExportKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for _, want := range []*herald.ExportKey{second, other} {
			got, err := q.ExportKey(ctx, want.AppID)
			if err != nil {
				return err
			}
			same(t, "export key of "+want.AppID, got, want)
		}
		return nil
	})

	daily := &herald.ExportSchedule{AppID: "a", Interval: herald.ExportDaily, Events: []string{"message.sent"},
		NextExportAt: ptime(at(60)), UpdatedAt: at(1)}
	later := &herald.ExportSchedule{AppID: "b", Interval: herald.ExportDaily, Events: []string{"message.read", "message.sent"},
		NextExportAt: ptime(at(90)), LastExportAt: ptime(at(5)), LastExportID: "e1", UpdatedAt: at(1)}
	off := &herald.ExportSchedule{AppID: "c", Interval: herald.ExportDisabled, Events: []string{}, UpdatedAt: at(1)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, sc := range []*herald.ExportSchedule{daily, later, off} {
			if err := tx.PutExportSchedule(ctx, sc); err != nil {
				return err
			}
		}
		return nil
	})
	due := func(now time.Time) (apps []string) {
		view(t, s, func(ctx context.Context, q herald.Queries) error {
			list, err := q.DueExportSchedules(ctx, now, 10)
			for _, sc := range list {
				apps = append(apps, sc.AppID)
			}
			return err
		})
		return apps
	}
	same(t, "schedules due before any", due(at(59)), []string(nil))
	same(t, "schedules due at the first", due(at(60)), []string{"a"})
	same(t, "schedules due later", due(at(100)), []string{"a", "b"})

	// A schedule saved again replaces every field.
	daily.NextExportAt, daily.LastExportAt, daily.LastExportID = ptime(at(24*60+60)), ptime(at(60)), "e2"
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutExportSchedule(ctx, daily) })
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for _, want := range []*herald.ExportSchedule{daily, later, off} {
			got, err := q.ExportSchedule(ctx, want.AppID)
			if err != nil {
				return err
			}
			same(t, "schedule of "+want.AppID, got, want)
		}
		return nil
	})
	same(t, "schedules due once the first moved on", due(at(100)), []string{"b"})
}

// testExportLifecycle checks exports from request to deletion: listing,
// claims that give each export to one runner and take back those whose
// lease ended, outcomes saved only by the lease holder, expiry, and the
// blob of a deleted export listed for deletion.
func testExportLifecycle(t *testing.T, s herald.Store) {
	newExport := func(id, app, typ string, created int) *herald.Export {
		return &herald.Export{ID: id, AppID: app, Type: typ, Status: herald.ExportPending, PublicKey: "PEM",
			CreatedAt: at(created)}
	}
	scheduled := newExport("e2", "a", herald.ExportScheduled, 2)
	scheduled.Events, scheduled.Since, scheduled.Until = []string{"message.sent"}, ptime(at(-1440)), ptime(at(2))
	exports := []*herald.Export{newExport("e1", "a", herald.ExportHistorical, 1), scheduled,
		newExport("e3", "b", herald.ExportHistorical, 3)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, e := range exports {
			if err := tx.CreateExport(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		list, err := q.Exports(ctx, "a", herald.Page{Limit: 10})
		if err != nil {
			return err
		}
		same(t, "exports of a, newest first", list, []*herald.Export{exports[1], exports[0]})
		list, err = q.Exports(ctx, "a", herald.Page{Before: "e2", Limit: 10})
		if err != nil {
			return err
		}
		same(t, "exports of a before e2", list, []*herald.Export{exports[0]})
		_, err = q.Export(ctx, "b", "e1")
		wantNotFound(t, "another app's export", err)
		byID, err := q.ExportByID(ctx, "e3")
		if err != nil {
			return err
		}
		same(t, "export by id alone", byID, exports[2])
		_, err = q.ExportByID(ctx, "e9")
		wantNotFound(t, "an export that does not exist, by id", err)
		n, err := q.ActiveExports(ctx, "a", herald.ExportHistorical)
		if n != 1 || err != nil {
			return fmt.Errorf("active historical exports of a: %d, %w; want 1", n, err)
		}
		return nil
	})

	// Runners racing for the exports get each of them once.
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	for r := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("runner%d", r)
			var e *herald.Export
			err := s.Update(context.Background(), func(tx herald.Tx) (err error) {
				e, err = tx.ClaimExport(context.Background(), owner, at(10), at(20))
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			if e != nil {
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := claimed[e.ID]; ok {
					t.Errorf("export %s claimed by %s and %s", e.ID, prev, owner)
				}
				claimed[e.ID] = owner
				if e.Status != herald.ExportExecuting || e.StartedAt == nil || !e.StartedAt.Equal(at(10)) ||
					e.LeaseOwner != owner || e.LeaseUntil == nil || !e.LeaseUntil.Equal(at(20)) {
					t.Errorf("claimed export %+v: want executing, started at 10, leased to %s until 20", e, owner)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	claim := func(owner string, now, until time.Time) (e *herald.Export) {
		t.Helper()
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			e, err = tx.ClaimExport(ctx, owner, now, until)
			return err
		})
		return e
	}
	// Claims go to the oldest first; six runners can only have claimed all
	// three, or fewer when their transactions collided.
	for len(claimed) < 3 {
		e := claim("late", at(10), at(20))
		if e == nil {
			t.Fatalf("no export to claim with %d of 3 claimed", len(claimed))
		}
		claimed[e.ID] = "late"
	}
	if e := claim("x", at(15), at(25)); e != nil {
		t.Fatalf("claimed %s while every export is leased", e.ID)
	}

	// The holder of e1 extends its lease; e2's lease runs out and another
	// runner takes it, keeping its start time; its first runner can no
	// longer extend nor finish it.
	extend := func(id, owner string, until time.Time) (ok bool) {
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			ok, err = tx.ExtendExportLease(ctx, id, owner, until)
			return err
		})
		return ok
	}
	if !extend("e1", claimed["e1"], at(40)) || extend("e1", "someone else", at(40)) {
		t.Fatal("only the holder of a lease may extend it")
	}
	if !extend("e3", claimed["e3"], at(40)) {
		t.Fatal("extending e3's lease")
	}
	e := claim("second", at(30), at(50))
	if e == nil || e.ID != "e2" || !e.StartedAt.Equal(at(10)) {
		t.Fatalf("claim after e2's lease ended: %+v, want e2 started at 10", e)
	}
	finish := func(e *herald.Export, owner string) (ok bool) {
		update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
			ok, err = tx.FinishExport(ctx, e, owner)
			return err
		})
		return ok
	}
	done := *e
	done.Status, done.CompletedAt, done.ExpiresAt = herald.ExportCompleted, ptime(at(31)), ptime(at(100))
	done.BlobKey, done.Size, done.EncryptedAESKey, done.AESIV = "e2.blob", 1234, "KEY", "IV"
	if finish(&done, claimed["e2"]) {
		t.Fatal("a runner whose lease was taken over finished the export")
	}
	if !finish(&done, "second") {
		t.Fatal("the holder of the lease could not finish the export")
	}
	failed := *exports[0]
	failed.Status, failed.CompletedAt, failed.Error = herald.ExportFailed, ptime(at(32)), "disk full"
	if !finish(&failed, claimed["e1"]) {
		t.Fatal("finishing e1 as failed")
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		got, err := q.Export(ctx, "a", "e2")
		if err != nil {
			return err
		}
		done.LeaseOwner, done.LeaseUntil = "", nil
		same(t, "completed export", got, &done)
		if got.LeaseOwner != "" || got.LeaseUntil != nil {
			t.Errorf("a finished export keeps its lease: %q until %v", got.LeaseOwner, got.LeaseUntil)
		}
		got, err = q.Export(ctx, "a", "e1")
		if err != nil {
			return err
		}
		failed.StartedAt = got.StartedAt
		same(t, "failed export", got, &failed)
		if n, err := q.ActiveExports(ctx, "a", herald.ExportHistorical); n != 0 || err != nil {
			return fmt.Errorf("active historical exports of a once finished: %d, %w", n, err)
		}
		expired, err := q.ExpiredExports(ctx, at(99), 10)
		if len(expired) != 0 || err != nil {
			return fmt.Errorf("exports expired before their time: %v, %w", expired, err)
		}
		expired, err = q.ExpiredExports(ctx, at(100), 10)
		if err != nil {
			return err
		}
		if len(expired) != 1 || expired[0].ID != "e2" {
			t.Errorf("expired exports at 100: %v, want e2", expired)
		}
		return nil
	})
	// A finished export cannot be claimed again.
	if e := claim("again", at(60), at(70)); e == nil || e.ID != "e3" {
		t.Fatalf("claim after e3's lease ended: %+v, want e3 (the only unfinished one)", e)
	}

	// Deleting lists the blob; a deleted export is gone and cannot be
	// finished.
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		_, err := tx.DeleteExport(ctx, "b", "e2", at(61))
		wantNotFound(t, "deleting another app's export", err)
		gone, err := tx.DeleteExport(ctx, "a", "e2", at(61))
		if err != nil {
			return err
		}
		if gone.BlobKey != "e2.blob" {
			t.Errorf("deleted export: %+v", gone)
		}
		_, err = tx.DeleteExport(ctx, "b", "e3", at(61))
		return err
	})
	if finish(&herald.Export{ID: "e3", Status: herald.ExportCompleted}, "again") {
		t.Fatal("finished a deleted export")
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.Export(ctx, "a", "e2")
		wantNotFound(t, "a deleted export", err)
		keys, err := q.BlobsToDelete(ctx, "", 10)
		if err != nil {
			return err
		}
		same(t, "blobs to delete", keys, []string{"e2.blob"})
		return nil
	})
}

// testExportPages checks the pages an export reads: an app's live
// conversations in creation order and each one's live messages in
// position order, after a cursor.
func testExportPages(t *testing.T, s herald.Store) {
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for i, id := range []string{"c1", "c2", "c3", "c4"} {
			app := "a"
			if id == "c3" {
				app = "b"
			}
			c := &herald.Conversation{ID: id, AppID: app, Participants: []string{"u"}, CreatedAt: at(i)}
			if err := tx.CreateConversation(ctx, c, ""); err != nil {
				return err
			}
		}
		gone := &herald.Conversation{ID: "c0", AppID: "a", Participants: []string{"u"}, CreatedAt: at(0), DeletedAt: ptime(at(5))}
		if err := tx.CreateConversation(ctx, gone, ""); err != nil {
			return err
		}
		if err := tx.UpdateConversation(ctx, gone, ""); err != nil {
			return err
		}
		for pos := int64(1); pos <= 5; pos++ {
			m := &herald.Message{ID: fmt.Sprintf("m%d", pos), AppID: "a", ConversationID: "c2", Position: pos,
				Sender: herald.Sender{UserID: "u"}, Parts: []herald.Part{{MimeType: "text/plain", Body: "hi"}},
				SentAt: at(int(pos)), RecipientStatus: map[string]string{"u": "read"}}
			if pos == 3 {
				m.DeletedAt = ptime(at(9))
			}
			if err := tx.CreateMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		ids := func(cs []*herald.Conversation) (out []string) {
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		first, err := q.ConversationsAfter(ctx, "a", "", 2)
		if err != nil {
			return err
		}
		same(t, "first page of conversations", ids(first), []string{"c1", "c2"})
		next, err := q.ConversationsAfter(ctx, "a", "c2", 2)
		if err != nil {
			return err
		}
		same(t, "next page of conversations", ids(next), []string{"c4"})
		var got []string
		for after := int64(0); ; {
			page, err := q.MessagesAfter(ctx, "a", "c2", after, 2)
			if err != nil || len(page) == 0 {
				same(t, "messages page by page", got, []string{"m1", "m2", "m4", "m5"})
				return err
			}
			for _, m := range page {
				got = append(got, m.ID)
			}
			after = page[len(page)-1].Position
		}
	})
}
