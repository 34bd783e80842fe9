package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/export"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/urls"
)

// Data exports, as Layer's Platform API offered them
// (thomasclarke1969/documentation platform/data/export.md; docs.layer.com
// server_api data.out): an app registers an RSA public key, requests a
// historical export or sets a daily schedule, and downloads each export's
// encrypted archive once it is completed (see package export).

// PutExportKey registers an app's export key, replacing any earlier one.
// Exports already requested keep the key they were requested with, as
// Layer's did: "Export archives are not re-encrypted upon changing the
// public key."
func (s *Service) PutExportKey(ctx context.Context, appID, publicKey string) (out *herald.ExportKey, err error) {
	if publicKey == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, "public_key",
			"public_key is required: the PEM of an RSA public key of at least %d bits.", export.MinKeyBits)
	}
	_, canonical, err := export.ParsePublicKey(publicKey)
	if err != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "public_key",
			"public_key must be the PEM of an RSA public key of at least %d bits: %v.", export.MinKeyBits, err)
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		k := &herald.ExportKey{AppID: appID, PublicKey: canonical, UpdatedAt: s.now()}
		if err := tx.PutExportKey(ctx, k); err != nil {
			return err
		}
		out = k
		return s.record(ctx, tx, appID, herald.EventExportSecurityUpdated, nil,
			&herald.EventData{Export: &herald.ExportChange{Key: k}})
	})
	return out, err
}

// ExportKey returns an app's export key.
func (s *Service) ExportKey(ctx context.Context, appID string) (k *herald.ExportKey, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		k, err = q.ExportKey(ctx, appID)
		return err
	})
	if herald.IsNotFound(err) {
		return nil, noExportKey()
	}
	return k, err
}

func noExportKey() error {
	return &herald.Error{ID: herald.ENotFound,
		Message: "This app has registered no export key; register the PEM of an RSA public key with PUT export_security first.",
		Data:    map[string]any{"type": "export_security"}}
}

// RequestExport requests a historical export of an app: every live
// conversation and message, as they are when the export runs. It needs the
// app's key, which the export keeps. An app has one historical export in
// the works at a time: Layer allowed one a day, for what an export cost it;
// Herald's operator bears that cost, so Herald only refuses a second while
// the first is pending or executing, with the first in the error's data.
func (s *Service) RequestExport(ctx context.Context, appID string) (out *herald.Export, err error) {
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		k, err := tx.ExportKey(ctx, appID)
		if herald.IsNotFound(err) {
			return &herald.Error{ID: herald.EInvalidOperation,
				Message: "This app has registered no export key, with which exports are encrypted; register the PEM of an RSA public key with PUT export_security first.",
				Data:    map[string]any{"property": "public_key"}}
		}
		if err != nil {
			return err
		}
		active, err := tx.ActiveExports(ctx, appID, herald.ExportHistorical)
		if err != nil {
			return err
		}
		if active > 0 {
			return &herald.Error{ID: herald.EConflict,
				Message: "A historical export of this app is already pending or executing; wait for it to complete."}
		}
		x := &herald.Export{ID: NewID(), AppID: appID, Type: herald.ExportHistorical, Status: herald.ExportPending,
			PublicKey: k.PublicKey, CreatedAt: s.now()}
		if err := tx.CreateExport(ctx, x); err != nil {
			return err
		}
		out = x
		return s.record(ctx, tx, appID, herald.EventExportCreated, nil, &herald.EventData{Export: &herald.ExportChange{Export: x}})
	})
	return out, err
}

// Export returns an export of an app; its id may be bare or in Layer's
// layer:///exports/ form.
func (s *Service) Export(ctx context.Context, appID, id string) (x *herald.Export, err error) {
	id = herald.LocalID(id, herald.ExportIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		x, err = q.Export(ctx, appID, id)
		return err
	})
	return x, err
}

// Exports lists a page of an app's exports, newest first.
func (s *Service) Exports(ctx context.Context, appID string, p herald.Page) (xs []*herald.Export, err error) {
	p.Before = herald.LocalID(p.Before, herald.ExportIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		xs, err = q.Exports(ctx, appID, p)
		return err
	})
	return xs, err
}

// DeleteExport deletes an export and its archive. An export still
// executing is deleted too: its runner finds it gone and throws its archive
// away.
func (s *Service) DeleteExport(ctx context.Context, appID, id string) error {
	id = herald.LocalID(id, herald.ExportIDPrefix)
	var blobs []string
	err := s.Store.Update(ctx, func(tx herald.Tx) error {
		blobs = nil
		x, err := tx.DeleteExport(ctx, appID, id, s.now())
		if err != nil {
			return err
		}
		if x.BlobKey != "" {
			blobs = []string{x.BlobKey}
		}
		return s.record(ctx, tx, appID, herald.EventExportDeleted, nil, &herald.EventData{Export: &herald.ExportChange{Export: x}})
	})
	if err != nil {
		return err
	}
	s.deleteBlobs(ctx, blobs)
	return nil
}

// ExportByID returns an export by id alone, for requests authorised by a
// signed URL rather than a token.
func (s *Service) ExportByID(ctx context.Context, id string) (x *herald.Export, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		x, err = q.ExportByID(ctx, id)
		return err
	})
	return x, err
}

// OpenExport returns the encrypted archive of a completed export.
func (s *Service) OpenExport(ctx context.Context, x *herald.Export) (io.ReadCloser, error) {
	if x.Status != herald.ExportCompleted || x.BlobKey == "" {
		return nil, herald.Errorf(herald.ENotFound, "Export %s is %s: it has no archive to download.", x.ID, x.Status)
	}
	return s.Blobs.Open(ctx, x.BlobKey)
}

// ExportInterval is the period of a daily export schedule.
const ExportInterval = 24 * time.Hour

// ExportSchedule returns an app's export schedule; an app that never set
// one has a disabled schedule of no events.
func (s *Service) ExportSchedule(ctx context.Context, appID string) (sc *herald.ExportSchedule, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		sc, err = q.ExportSchedule(ctx, appID)
		return err
	})
	if herald.IsNotFound(err) {
		return &herald.ExportSchedule{AppID: appID, Interval: herald.ExportDisabled, Events: []string{}}, nil
	}
	return sc, err
}

// PutExportSchedule sets an app's export schedule: interval daily or
// disabled (Layer's two values), and the event types to include, of those
// Layer listed (its webhook event types); without events, all of them, as
// Layer's example lists them all. A schedule that was daily already keeps
// its next export time; one that becomes daily has its first export a day
// later, covering that day.
func (s *Service) PutExportSchedule(ctx context.Context, appID, interval string, events []string) (out *herald.ExportSchedule, err error) {
	switch interval {
	case herald.ExportDaily, herald.ExportDisabled:
	case "":
		return nil, herald.PropertyError(herald.EMissingProperty, "interval", "interval is required: %q or %q.",
			herald.ExportDaily, herald.ExportDisabled)
	default:
		return nil, herald.PropertyError(herald.EInvalidProperty, "interval", "interval must be %q or %q, not %q.",
			herald.ExportDaily, herald.ExportDisabled, interval)
	}
	if events == nil {
		events = slices.Clone(layer.EventTypes)
	}
	var kept []string
	for _, e := range events {
		if !layer.IsEventType(e) {
			return nil, herald.PropertyError(herald.EInvalidProperty, "events", "%q is not an event an export may include; those are %v.",
				e, layer.EventTypes)
		}
		if !slices.Contains(kept, e) {
			kept = append(kept, e)
		}
	}
	if kept == nil {
		kept = []string{}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		sc := &herald.ExportSchedule{AppID: appID}
		old, err := tx.ExportSchedule(ctx, appID)
		switch {
		case err == nil:
			sc.LastExportAt, sc.LastExportID = old.LastExportAt, old.LastExportID
			if interval == herald.ExportDaily {
				sc.NextExportAt = old.NextExportAt
			}
		case !herald.IsNotFound(err):
			return err
		}
		sc.Interval, sc.Events, sc.UpdatedAt = interval, kept, now
		if interval == herald.ExportDaily && sc.NextExportAt == nil {
			next := now.Add(ExportInterval)
			sc.NextExportAt = &next
		}
		if err := tx.PutExportSchedule(ctx, sc); err != nil {
			return err
		}
		out = sc
		return s.record(ctx, tx, appID, herald.EventExportScheduleUpdated, nil,
			&herald.EventData{Export: &herald.ExportChange{Schedule: sc}})
	})
	return out, err
}

// ExportScheduleInterval is how often ScheduleExports should run.
const ExportScheduleInterval = time.Minute

// scheduleBatch bounds the schedules one round of ScheduleExports takes.
const scheduleBatch = 100

// ScheduleExports requests the scheduled exports that are due: each covers
// the events since the end of the schedule's previous export (a day before
// it was due, for the first) until now, so that consecutive exports of a
// schedule neither overlap nor leave a gap, even after the server was down
// for days. An app without an export key gets none, and its schedule waits
// a period.
func (s *Service) ScheduleExports(ctx context.Context) error {
	for {
		var due []*herald.ExportSchedule
		err := s.Store.View(ctx, func(q herald.Queries) (err error) {
			due, err = q.DueExportSchedules(ctx, s.now(), scheduleBatch)
			return err
		})
		if err != nil {
			return err
		}
		for _, sc := range due {
			if err := s.scheduleExport(ctx, sc.AppID); err != nil {
				return err
			}
		}
		if len(due) < scheduleBatch {
			return nil
		}
	}
}

func (s *Service) scheduleExport(ctx context.Context, appID string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		sc, err := tx.ExportSchedule(ctx, appID)
		if err != nil || sc.NextExportAt == nil || sc.NextExportAt.After(now) {
			// Another node took it meanwhile, or it was changed.
			return err
		}
		next := *sc.NextExportAt
		for !next.After(now) {
			next = next.Add(ExportInterval)
		}
		k, err := tx.ExportKey(ctx, appID)
		if herald.IsNotFound(err) {
			sc.NextExportAt = &next
			return tx.PutExportSchedule(ctx, sc)
		}
		if err != nil {
			return err
		}
		since := sc.NextExportAt.Add(-ExportInterval)
		if sc.LastExportAt != nil {
			since = *sc.LastExportAt
		}
		until := now
		x := &herald.Export{ID: NewID(), AppID: appID, Type: herald.ExportScheduled, Status: herald.ExportPending,
			PublicKey: k.PublicKey, Events: sc.Events, Since: &since, Until: &until, CreatedAt: now}
		if err := tx.CreateExport(ctx, x); err != nil {
			return err
		}
		sc.NextExportAt, sc.LastExportAt, sc.LastExportID = &next, &until, x.ID
		if err := tx.PutExportSchedule(ctx, sc); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventExportCreated, nil, &herald.EventData{Export: &herald.ExportChange{Export: x}})
	})
}

// ExportPruneInterval is how often PruneExports should run.
const ExportPruneInterval = 10 * time.Minute

// PruneExports deletes the exports whose time is up, and their archives:
// Layer's "Data exports are eventually pruned from the system".
func (s *Service) PruneExports(ctx context.Context) error {
	for {
		var expired []*herald.Export
		err := s.Store.View(ctx, func(q herald.Queries) (err error) {
			expired, err = q.ExpiredExports(ctx, s.now(), scheduleBatch)
			return err
		})
		if err != nil {
			return err
		}
		for _, x := range expired {
			if err := s.DeleteExport(ctx, x.AppID, x.ID); err != nil && !herald.IsNotFound(err) {
				return err
			}
		}
		if len(expired) < scheduleBatch {
			return nil
		}
	}
}

// ExportRunner writes the archives of requested exports, in the
// background. Every node may run one: each export is leased to one runner,
// which extends its lease while it works; an export whose runner stopped
// (a crash, a restart) is taken up again, from the start, by any runner
// once the lease has run out.
type ExportRunner struct {
	Service *Service
	// URLs builds the url fields of the records.
	URLs *urls.Builder
	// Dir holds the archives while they are written; "" is the system's
	// temporary directory.
	Dir string
	// Poll is how often the runner looks for a pending export
	// (DefaultExportPoll when 0), Lease how long an export stays with a
	// runner that stopped extending its lease (DefaultExportLease when 0).
	Poll  time.Duration
	Lease time.Duration
	// Retention is how long a completed export is kept
	// (DefaultExportRetention when 0).
	Retention time.Duration

	owner  string
	cancel context.CancelFunc
	done   chan struct{}
}

// Runner defaults.
const (
	DefaultExportPoll      = 5 * time.Second
	DefaultExportLease     = time.Minute
	DefaultExportRetention = 7 * 24 * time.Hour
)

// Start starts the runner's loop; Stop ends it.
func (r *ExportRunner) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	r.owner = NewID()
	go func() {
		defer close(r.done)
		poll := orDefault(r.Poll, DefaultExportPoll)
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			for {
				ran, err := r.RunOne(ctx)
				if err != nil && ctx.Err() == nil {
					r.Service.logger().Error("running a data export", "err", err)
				}
				if !ran || ctx.Err() != nil {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// Stop stops the runner and waits for it. An export it was writing stays
// leased to it until the lease runs out, then goes to another runner.
func (r *ExportRunner) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// RunOne claims one pending export, if any, and writes it; it reports
// whether it claimed one. An export that cannot be written is marked
// failed, with the reason, unless the runner is stopping.
func (r *ExportRunner) RunOne(ctx context.Context) (bool, error) {
	s := r.Service
	if r.owner == "" {
		r.owner = NewID()
	}
	lease := orDefault(r.Lease, DefaultExportLease)
	var x *herald.Export
	err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		now := s.now()
		x, err = tx.ClaimExport(ctx, r.owner, now, now.Add(lease))
		return err
	})
	if err != nil || x == nil {
		return false, err
	}
	workCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.keepLease(workCtx, stop, x.ID, lease)
	}()
	a, err := r.write(workCtx, x)
	stop()
	wg.Wait()
	if err != nil {
		if errors.Is(err, errLeaseLost) && ctx.Err() == nil {
			// Deleted, or taken over: nothing of this run is kept.
			return true, nil
		}
		if ctx.Err() != nil {
			return true, err
		}
		// The API shows the reason: the server's own failures are logged,
		// not shown, as they name its files.
		x.Status, x.Error = herald.ExportFailed, "the archive could not be written; request another export"
		if errors.Is(err, errBadKey) {
			x.Error = err.Error()
		}
		return true, errors.Join(err, r.finish(ctx, x, "", herald.EventExportFailed))
	}
	defer a.Close()
	key := "export-" + x.ID + "." + NewID()
	if err := s.Blobs.Put(ctx, key, a.File, a.Size); err != nil {
		if ctx.Err() != nil {
			return true, err
		}
		x.Status, x.Error = herald.ExportFailed, "the archive could not be stored; request another export"
		return true, errors.Join(err, r.finish(ctx, x, "", herald.EventExportFailed))
	}
	x.Status, x.BlobKey, x.Size, x.EncryptedAESKey, x.AESIV = herald.ExportCompleted, key, a.Size, a.EncryptedAESKey, a.AESIV
	return true, r.finish(ctx, x, key, herald.EventExportCompleted)
}

var errBadKey = errors.New("the export's public key is not a usable RSA key")

var errLeaseLost = errors.New("the export's lease went to another runner, or the export was deleted")

// keepLease extends the lease of an export while it is written, and cancels
// the work when the lease is lost.
func (r *ExportRunner) keepLease(ctx context.Context, lost context.CancelFunc, id string, lease time.Duration) {
	tick := time.NewTicker(lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var held bool
		err := r.Service.Store.Update(ctx, func(tx herald.Tx) (err error) {
			held, err = tx.ExtendExportLease(ctx, id, r.owner, r.Service.now().Add(lease))
			return err
		})
		if err == nil && !held {
			lost()
			return
		}
	}
}

// write writes an export's archive from one snapshot of the store.
func (r *ExportRunner) write(ctx context.Context, x *herald.Export) (*export.Archive, error) {
	pub, _, err := export.ParsePublicKey(x.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadKey, err)
	}
	a, err := export.Build(r.Dir, pub, r.Service.now(), func(w io.Writer) error {
		return r.Service.Store.View(ctx, func(q herald.Queries) error {
			if x.Type == herald.ExportScheduled {
				return export.WriteEvents(ctx, w, q, x, r.URLs)
			}
			return export.WriteHistorical(ctx, w, q, x.AppID, r.URLs, NewID)
		})
	})
	if err != nil && ctx.Err() != nil {
		// The work was canceled: the runner stops, or lost the lease.
		return nil, errors.Join(errLeaseLost, err)
	}
	return a, err
}

// finish saves an export's outcome and records it. When the runner no
// longer holds the export (deleted, or taken over), its blob goes.
func (r *ExportRunner) finish(ctx context.Context, x *herald.Export, blob, eventType string) error {
	s := r.Service
	ctx = context.WithoutCancel(ctx)
	var held bool
	err := s.Store.Update(ctx, func(tx herald.Tx) (err error) {
		now := s.now()
		x.CompletedAt = &now
		if x.Status == herald.ExportCompleted {
			expires := now.Add(orDefault(r.Retention, DefaultExportRetention))
			x.ExpiresAt = &expires
		}
		held, err = tx.FinishExport(ctx, x, r.owner)
		if err != nil || !held {
			return err
		}
		x.LeaseOwner, x.LeaseUntil = "", nil
		return s.record(ctx, tx, x.AppID, eventType, nil, &herald.EventData{Export: &herald.ExportChange{Export: x}})
	})
	if blob != "" && (err != nil || !held) {
		if derr := s.Blobs.Delete(ctx, blob); derr != nil {
			s.logger().Error("deleting the archive of an export no longer held", "blob", blob, "err", derr)
		}
	}
	return err
}
