package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// openStore opens a SQLite store in a temporary directory, closed at the
// end of the test.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testFormat is a format of message.sent events in versions 1.0 and 2.0,
// whose renderings the formats that embed it define.
type testFormat struct{}

func (testFormat) EventTypes(string) []string                                           { return []string{"message.sent"} }
func (testFormat) EventType(e *herald.Event, _ string) string                           { return e.Type }
func (testFormat) Versions() []string                                                   { return []string{"1.0", "2.0"} }
func (testFormat) SetHeaders(http.Header, *herald.Webhook, *herald.Delivery, time.Time) {}

// countingFormat renders an event as its id, the version and the config,
// and counts its renderings.
type countingFormat struct {
	testFormat
	renders *int
}

func (f countingFormat) Render(e *herald.Event, _ *herald.EventData, w *herald.Webhook) ([]byte, bool, error) {
	*f.renders++
	return fmt.Appendf(nil, "%s %s %s", e.ID, w.Version, w.Config), true, nil
}

// An event is rendered once for all the webhooks of one format, version and
// config, and each webhook still gets the body of its own.
func TestFanOutRendersOncePerVersionAndConfig(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const events = 3
	err := s.Update(ctx, func(tx herald.Tx) error {
		for i := range events {
			e := &herald.Event{ID: fmt.Sprint("e", i), AppID: "app", Type: "message.sent", CreatedAt: time.Now(),
				Data: json.RawMessage(`{}`)}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	webhook := func(id, version, config string) *herald.Webhook {
		w := &herald.Webhook{ID: id, AppID: "app", Format: "counting", Version: version, Events: []string{"message.sent"},
			Status: herald.WebhookActive}
		if config != "" {
			w.Config = json.RawMessage(config)
		}
		return w
	}
	ws := []*herald.Webhook{webhook("a", "1.0", ""), webhook("b", "1.0", ""), webhook("c", "1.0", `{"x":1}`),
		webhook("d", "2.0", "")}
	renders := 0
	e := &Engine{Formats: map[string]Format{"counting": countingFormat{renders: &renders}}}
	var plan *fanOutPlan
	err = s.View(ctx, func(q herald.Queries) (err error) {
		plan, err = e.planFanOut(q, ws, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := events * 3; renders != want {
		t.Fatalf("%d renderings for %d events and 3 distinct (version, config), want %d", renders, events, want)
	}
	for _, w := range ws {
		ds := plan.perWebhook[w.ID]
		if len(ds) != events {
			t.Fatalf("webhook %s got %d deliveries, want %d", w.ID, len(ds), events)
		}
		for i, d := range ds {
			if want := fmt.Sprintf("e%d %s %s", i, w.Version, w.Config); string(d.Body) != want {
				t.Fatalf("webhook %s, event %d: body %q, want %q", w.ID, i, d.Body, want)
			}
		}
	}
}

// dataFormat records the data each event is rendered from.
type dataFormat struct {
	testFormat
	data map[string]*herald.EventData
}

func (f dataFormat) Render(e *herald.Event, d *herald.EventData, _ *herald.Webhook) ([]byte, bool, error) {
	f.data[e.ID] = d
	return []byte(e.ID), true, nil
}

// Woken up by its node's commits, the fan-out renders their events from the
// data they were made from, without reading or decoding them; the poll
// reads them from the log.
func TestFanOutRendersRecentEventsFromMemory(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	made := map[string]*herald.EventData{}
	err := s.Update(ctx, func(tx herald.Tx) error {
		for i := range 3 {
			d := &herald.EventData{UserID: fmt.Sprint("user-", i)}
			e, err := herald.NewEvent(fmt.Sprint("e", i), "app", "message.sent", time.Now(), nil, d)
			if err != nil {
				return err
			}
			made[e.ID] = d
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ws := []*herald.Webhook{{ID: "w", AppID: "app", Format: "data", Version: "1.0", Events: []string{"message.sent"},
		Status: herald.WebhookActive}}
	for _, recent := range []bool{true, false} {
		f := dataFormat{data: map[string]*herald.EventData{}}
		e := &Engine{Store: s, Formats: map[string]Format{"data": f}}
		err = s.View(ctx, func(q herald.Queries) error {
			_, err := e.planFanOut(q, ws, recent)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.data) != len(made) {
			t.Fatalf("recent %v: %d events rendered, want %d", recent, len(f.data), len(made))
		}
		for id, d := range made {
			if got := f.data[id]; (got == d) != recent || got.UserID != d.UserID {
				t.Errorf("recent %v: event %s rendered from %p %+v; made from %p %+v", recent, id, got, got, d, d)
			}
		}
	}
}
