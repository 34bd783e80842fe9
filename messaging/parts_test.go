package messaging_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/messaging"
)

// fixture is a service over a fresh store with one app, a conversation of
// alice and bob, and a clock the test moves.
type fixture struct {
	t     *testing.T
	svc   *messaging.Service
	app   string
	conv  string
	mu    sync.Mutex
	clock time.Time
}

func (f *fixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

// forEachEngine runs test on SQLite and on PostgreSQL.
func forEachEngine(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, e := range enginetest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			store := e.Open(t)
			t.Cleanup(func() { store.Close() })
			f := &fixture{t: t, clock: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
			f.svc = &messaging.Service{Store: store, Blobs: blob.Dir{Root: t.TempDir()}, Now: f.now}
			ctx := context.Background()
			app, _, err := f.svc.CreateApp(ctx, "test")
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := f.svc.CreateConversation(ctx, app.ID, nil, messaging.ConversationInput{Participants: []string{"alice", "bob"}})
			if err != nil {
				t.Fatal(err)
			}
			f.app, f.conv = app.ID, c.ID
			test(t, f)
		})
	}
}

func text(id, body string) messaging.PartInput {
	return messaging.PartInput{ID: id, MimeType: "text/plain", Body: &body}
}

func (f *fixture) send(parts ...messaging.PartInput) *herald.Message {
	f.t.Helper()
	m, _, err := f.svc.SendMessage(context.Background(), f.app, f.conv,
		messaging.MessageInput{Sender: herald.Sender{UserID: "alice"}, Parts: parts}, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// events returns the app's events after the first n, and how many there are.
func (f *fixture) eventsAfter(n int) []*herald.Event {
	f.t.Helper()
	all, err := f.svc.Events(context.Background(), f.app, "", 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return all[n:]
}

func (f *fixture) eventCount() int { return len(f.eventsAfter(0)) }

// wantError checks that err is an *herald.Error with that id naming that
// property ("" for none).
func wantError(t *testing.T, what string, err error, id herald.ErrorID, property string) {
	t.Helper()
	e, ok := herald.AsError(err)
	if !ok || e.ID != id {
		t.Fatalf("%s: err = %v, want %s", what, err, id)
	}
	if property != "" && e.Data["property"] != property {
		t.Fatalf("%s: property %v, want %s", what, e.Data["property"], property)
	}
}

// partNames lists the names of a message's parts.
func partNames(m *herald.Message) []string {
	var out []string
	for i := range m.Parts {
		out = append(out, m.PartName(i))
	}
	return out
}

func bodies(m *herald.Message) string {
	var out []string
	for _, p := range m.Parts {
		out = append(out, p.Body)
	}
	return strings.Join(out, ",")
}

func named(name string) messaging.PartRef { return messaging.PartRef{Name: name} }

const (
	idA = "6a0f1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	idB = "7b1e2d3c-4a5b-4c6d-9e8f-1a2b3c4d5e6f"
)

// A new message's parts get ids of their own: the UUID a client gives,
// bare or as a Layer part id, and a new one otherwise, including for the
// index-named ids of older payloads; two parts may not share one.
func TestNewPartsGetIDs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		m := f.send(text(idA, "bare"), text("layer:///messages/GENERATE_A_UUID/parts/"+strings.ToUpper(idB), "uri"),
			text("layer:///messages/x/parts/0", "echoed"), text("", "none"))
		names := partNames(m)
		if names[0] != idA || names[1] != idB {
			t.Fatalf("part ids %v, want %s and %s first", names, idA, idB)
		}
		for _, id := range names[2:] {
			if len(id) != 36 || id == idA || id == idB {
				t.Fatalf("part ids %v: the last two need new UUIDs", names)
			}
		}
		got, err := f.svc.Message(context.Background(), f.app, f.conv, "", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(partNames(got), ",") != strings.Join(names, ",") {
			t.Fatalf("stored part ids %v, sent %v", partNames(got), names)
		}

		before := f.eventCount()
		_, _, err = f.svc.SendMessage(context.Background(), f.app, f.conv,
			messaging.MessageInput{Sender: herald.Sender{UserID: "alice"}, Parts: []messaging.PartInput{text(idA, "a"), text(idA, "b")}}, "")
		wantError(t, "two parts with one id", err, herald.EIDInUse, "parts[1].id")
		if f.eventCount() != before {
			t.Fatal("a refused send recorded an event")
		}
	})
}

// Each change of a part is saved with one event of its type, whose data is
// the message after the change and the part, after it or as it was.
func TestPartOperations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		m := f.send(text(idA, "one"))
		before := f.eventCount()

		// Added, after the others, with its update time.
		f.advance(time.Minute)
		m, i, err := f.svc.AddPart(ctx, f.app, f.conv, "layer:///messages/"+m.ID, text(idB, "two"))
		if err != nil {
			t.Fatal(err)
		}
		if i != 1 || m.PartName(1) != idB || bodies(m) != "one,two" || m.Parts[1].UpdatedAt == nil || !m.Parts[1].UpdatedAt.Equal(f.now()) {
			t.Fatalf("added part %d of %+v", i, m.Parts)
		}
		_, _, err = f.svc.AddPart(ctx, f.app, f.conv, m.ID, text(idB, "again"))
		wantError(t, "adding a part with a taken id", err, herald.EIDInUse, "id")
		m, i, err = f.svc.AddPart(ctx, f.app, f.conv, m.ID, text("", "three"))
		if err != nil {
			t.Fatal(err)
		}
		third := m.PartName(i)

		// Replaced in place, keeping its id.
		m, i, err = f.svc.UpdatePart(ctx, f.app, f.conv, m.ID, named(strings.ToUpper(idB)), text(idA, "TWO"))
		if err != nil {
			t.Fatal(err)
		}
		if i != 1 || strings.Join(partNames(m), ",") != idA+","+idB+","+third || bodies(m) != "one,TWO,three" {
			t.Fatalf("after the update: %v %s", partNames(m), bodies(m))
		}

		// Removed.
		if err := f.svc.DeletePart(ctx, f.app, f.conv, m.ID, named(idA)); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Parts(ctx, f.app, f.conv, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(partNames(got), ",") != idB+","+third {
			t.Fatalf("after the removal: %v", partNames(got))
		}
		_, _, err = f.svc.Part(ctx, f.app, f.conv, m.ID, named(idA))
		wantError(t, "reading a removed part", err, herald.ENotFound, "")
		got, i, err = f.svc.Part(ctx, f.app, f.conv, m.ID, named(third))
		if err != nil || got.Parts[i].Body != "three" {
			t.Fatalf("reading a part: %v %+v", err, got)
		}

		events := f.eventsAfter(before)
		want := []struct{ typ, part, body, parts string }{
			{herald.EventMessagePartCreated, idB, "two", "one,two"},
			{herald.EventMessagePartCreated, third, "three", "one,two,three"},
			{herald.EventMessagePartUpdated, idB, "TWO", "one,TWO,three"},
			{herald.EventMessagePartDeleted, idA, "one", "TWO,three"},
		}
		if len(events) != len(want) {
			t.Fatalf("%d events, want %d", len(events), len(want))
		}
		for k, e := range events {
			d, err := e.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			w := want[k]
			if e.Type != w.typ || d.Part == nil || d.Part.ID != w.part || d.Part.Body != w.body ||
				d.Message == nil || bodies(d.Message) != w.parts || d.Conversation == nil || d.Conversation.ID != f.conv {
				t.Fatalf("event %d: %s %s", k, e.Type, e.Data)
			}
		}
	})
}

// What a send refuses, a part change refuses; refused changes change and
// record nothing.
func TestPartChangesRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		m := f.send(text(idA, "only"))
		other, _, err := f.svc.CreateConversation(ctx, f.app, nil, messaging.ConversationInput{Participants: []string{"carol"}})
		if err != nil {
			t.Fatal(err)
		}
		content, err := f.svc.CreateContent(ctx, f.app, other.ID, "image/png", 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.UploadContent(ctx, content, strings.NewReader("png")); err != nil {
			t.Fatal(err)
		}
		big := strings.Repeat("x", herald.MaxPartBodySize+1)
		bigEncoded := "eHh4" + strings.Repeat("eHh4", herald.MaxPartBodySize/3) // 3 bytes each, once decoded
		notBase64 := "%%%"
		before := f.eventCount()
		for _, c := range []struct {
			what     string
			change   func() error
			id       herald.ErrorID
			property string
		}{
			{"a body past 2 KiB", func() error {
				_, _, err := f.svc.AddPart(ctx, f.app, f.conv, m.ID, text("", big))
				return err
			}, herald.EInvalidProperty, "part.body"},
			{"a base64 body past 2 KiB decoded", func() error {
				_, _, err := f.svc.UpdatePart(ctx, f.app, f.conv, m.ID, named(idA),
					messaging.PartInput{MimeType: "application/octet-stream", Body: &bigEncoded, Encoding: "base64"})
				return err
			}, herald.EInvalidProperty, "part.body"},
			{"a body that is not base64", func() error {
				_, _, err := f.svc.AddPart(ctx, f.app, f.conv, m.ID, messaging.PartInput{MimeType: "image/png", Body: &notBase64, Encoding: "base64"})
				return err
			}, herald.EInvalidProperty, "part.body"},
			{"content of another conversation", func() error {
				_, err := f.svc.ReplaceParts(ctx, f.app, f.conv, m.ID, []messaging.PartInput{
					{MimeType: "image/png", Content: &herald.ContentRef{ID: content.ID, Size: 3}}})
				return err
			}, herald.EInvalidProperty, "parts[0].content.id"},
			{"no MIME type", func() error {
				_, _, err := f.svc.AddPart(ctx, f.app, f.conv, m.ID, messaging.PartInput{Body: &big})
				return err
			}, herald.EMissingProperty, "part.mime_type"},
			{"replacing every part with none", func() error {
				_, err := f.svc.ReplaceParts(ctx, f.app, f.conv, m.ID, nil)
				return err
			}, herald.EMissingProperty, "parts"},
			{"removing the last part", func() error {
				return f.svc.DeletePart(ctx, f.app, f.conv, m.ID, named(idA))
			}, herald.EInvalidOperation, ""},
			{"a part that is not there", func() error {
				_, _, err := f.svc.UpdatePart(ctx, f.app, f.conv, m.ID, named(idB), text("", "x"))
				return err
			}, herald.ENotFound, ""},
			{"a message of another conversation", func() error {
				_, _, err := f.svc.AddPart(ctx, f.app, other.ID, m.ID, text("", "x"))
				return err
			}, herald.ENotFound, ""},
			{"another app's message", func() error {
				app, _, err := f.svc.CreateApp(ctx, "other")
				if err != nil {
					return err
				}
				_, _, err = f.svc.AddPart(ctx, app.ID, f.conv, m.ID, text("", "x"))
				return err
			}, herald.ENotFound, ""},
		} {
			wantError(t, c.what, c.change(), c.id, c.property)
		}
		got, err := f.svc.Parts(ctx, f.app, f.conv, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Parts) != 1 || got.Parts[0].Body != "only" {
			t.Fatalf("refused changes changed the parts: %+v", got.Parts)
		}
		if n := f.eventCount(); n != before {
			t.Fatalf("refused changes recorded %d events", n-before)
		}

		// A message changed part by part is bounded: in parts, and in
		// bytes.
		many := make([]messaging.PartInput, herald.MaxMessageParts+1)
		for k := range many {
			many[k] = text("", "x")
		}
		_, err = f.svc.ReplaceParts(ctx, f.app, f.conv, m.ID, many)
		wantError(t, "too many parts", err, herald.EInvalidOperation, "")
		_, _, err = f.svc.AddPart(ctx, f.app, f.conv, m.ID, messaging.PartInput{MimeType: strings.Repeat("m", herald.MaxMessagePartsSize), Body: &notBase64})
		wantError(t, "parts too large", err, herald.EInvalidOperation, "")
		if _, err = f.svc.ReplaceParts(ctx, f.app, f.conv, m.ID, many[1:]); err != nil {
			t.Fatalf("as many parts as a message may have: %v", err)
		}

		// A deleted message's parts are gone with it.
		if err := f.svc.DeleteMessage(ctx, f.app, f.conv, m.ID, nil); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Parts(ctx, f.app, f.conv, m.ID)
		wantError(t, "the parts of a deleted message", err, herald.EGone, "")
		_, _, err = f.svc.AddPart(ctx, f.app, f.conv, m.ID, text("", "x"))
		wantError(t, "a part added to a deleted message", err, herald.EGone, "")
	})
}

// Replacing every part records what changed, part by part: the parts whose
// ids are gone are removed, those kept are updated, the new ones added.
func TestReplaceParts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		m := f.send(text(idA, "a"), text(idB, "b"))
		before := f.eventCount()
		m, err := f.svc.ReplaceParts(ctx, f.app, f.conv, m.ID, []messaging.PartInput{text("", "new"), text(idB, "B")})
		if err != nil {
			t.Fatal(err)
		}
		added := m.PartName(0)
		if bodies(m) != "new,B" || m.PartName(1) != idB || added == idA {
			t.Fatalf("replaced parts: %v %s", partNames(m), bodies(m))
		}
		var got []string
		for _, e := range f.eventsAfter(before) {
			d, err := e.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			if bodies(d.Message) != "new,B" {
				t.Fatalf("%s carries the message %s, want it as replaced", e.Type, bodies(d.Message))
			}
			got = append(got, e.Type+" "+d.Part.ID+" "+d.Part.Body)
		}
		want := []string{herald.EventMessagePartDeleted + " " + idA + " a", herald.EventMessagePartCreated + " " + added + " new",
			herald.EventMessagePartUpdated + " " + idB + " B"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// The parts of a message stored before parts had ids keep the names they
// had, their indexes, when other parts come and go.
func TestOldPartsKeepTheirNames(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		m := f.send(text("", "zero"), text("", "one"), text("", "two"))
		// As stored before parts had ids.
		for i := range m.Parts {
			m.Parts[i].ID = ""
		}
		if err := f.svc.Store.Update(ctx, func(tx herald.Tx) error { return tx.UpdateMessageParts(ctx, m) }); err != nil {
			t.Fatal(err)
		}
		got, i, err := f.svc.Part(ctx, f.app, f.conv, m.ID, named("1"))
		if err != nil || got.Parts[i].Body != "one" {
			t.Fatalf("part 1 of an old message: %v", err)
		}
		if err := f.svc.DeletePart(ctx, f.app, f.conv, m.ID, named("0")); err != nil {
			t.Fatal(err)
		}
		got, i, err = f.svc.Part(ctx, f.app, f.conv, m.ID, named("2"))
		if err != nil || got.Parts[i].Body != "two" {
			t.Fatalf("part 2 after part 0 went: %v", err)
		}
		if strings.Join(partNames(got), ",") != "1,2" {
			t.Fatalf("names after part 0 went: %v", partNames(got))
		}
		got, i, err = f.svc.AddPart(ctx, f.app, f.conv, m.ID, text("", "new"))
		if err != nil || len(got.Parts[i].ID) != 36 {
			t.Fatalf("a part added to an old message: %v %+v", err, got)
		}

		// 1.x and 2.0 name parts by their indexes, whatever their ids.
		for name, want := range map[string]string{"0": "one", "2": "new"} {
			got, i, err = f.svc.Part(ctx, f.app, f.conv, m.ID, messaging.PartRef{Name: name, ByIndex: true})
			if err != nil || got.Parts[i].Body != want {
				t.Fatalf("part at index %s: %v, want %q", name, err, want)
			}
		}
		for _, name := range []string{"3", "-1", "01", got.Parts[2].ID} {
			_, _, err = f.svc.Part(ctx, f.app, f.conv, m.ID, messaging.PartRef{Name: name, ByIndex: true})
			wantError(t, "part at index "+name, err, herald.ENotFound, "")
		}
		if err := f.svc.DeletePart(ctx, f.app, f.conv, m.ID, messaging.PartRef{Name: "0", ByIndex: true}); err != nil {
			t.Fatal(err)
		}
		if got, err = f.svc.Parts(ctx, f.app, f.conv, m.ID); err != nil || bodies(got) != "two,new" {
			t.Fatalf("after removing the part at index 0: %v %+v", err, got)
		}
	})
}

func schedule(delay float64, typing ...float64) messaging.Schedule {
	s := messaging.Schedule{DelayInSeconds: &delay}
	if len(typing) > 0 {
		s.TypingIndicatorInSeconds = &typing[0]
	}
	return s
}

func (f *fixture) schedule(sch messaging.Schedule, key string, parts ...messaging.PartInput) (*herald.ScheduledMessage, bool, error) {
	return f.svc.ScheduleMessage(context.Background(), f.app, f.conv,
		messaging.MessageInput{Sender: herald.Sender{UserID: "alice"}, Parts: parts,
			Notification: json.RawMessage(`{"text":"hi"}`)}, sch, key)
}

// A scheduled message is checked when accepted, and sent when due: only
// then does it get a position and its message.sent event. Retries of the
// request return what the first scheduled.
func TestScheduledMessages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		before := f.eventCount()
		const key = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
		sm, replay, err := f.schedule(schedule(8.2, 3.8), key, text(idA, "later"))
		if err != nil || replay {
			t.Fatalf("scheduling: %v (replay %v)", err, replay)
		}
		if !sm.SendAt.Equal(f.now().Add(8200*time.Millisecond)) || sm.TypingSeconds != 3.8 || sm.Parts[0].ID != idA {
			t.Fatalf("scheduled %+v", sm)
		}
		again, replay, err := f.schedule(schedule(30), key, text("", "other"))
		if err != nil || !replay || again.ID != sm.ID {
			t.Fatalf("the retry: %v %+v (replay %v), want the first", err, again, replay)
		}
		now := f.send(text("", "now"))
		if n := f.eventCount() - before; n != 1 {
			t.Fatalf("%d events while scheduled, want the other message's only", n)
		}
		if _, err := f.svc.Message(ctx, f.app, f.conv, "", sm.ID); !herald.IsNotFound(err) {
			t.Fatalf("the message exists before it is due: %v", err)
		}

		// Not before it is due.
		f.advance(8 * time.Second)
		if n, err := f.svc.SendDueMessages(ctx); err != nil || n != 0 {
			t.Fatalf("sent %d early (%v)", n, err)
		}
		f.advance(200 * time.Millisecond)
		if n, err := f.svc.SendDueMessages(ctx); err != nil || n != 1 {
			t.Fatalf("sent %d when due (%v), want 1", n, err)
		}
		m, err := f.svc.Message(ctx, f.app, f.conv, "", sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Position != now.Position+1 || !m.SentAt.Equal(f.now()) || bodies(m) != "later" || m.Parts[0].ID != idA ||
			string(m.Notification) != `{"text":"hi"}` || m.RecipientStatus["bob"] != herald.StatusSent {
			t.Fatalf("sent %+v", m)
		}
		events := f.eventsAfter(before + 1)
		if len(events) != 1 || events[0].Type != herald.EventMessageSent || events[0].Actor == nil || events[0].Actor.UserID != "alice" {
			t.Fatalf("events of the send: %+v", events)
		}
		if n, err := f.svc.SendDueMessages(ctx); err != nil || n != 0 {
			t.Fatalf("sent %d again (%v)", n, err)
		}
		// A retry after the send still answers with the message.
		again, replay, err = f.schedule(schedule(30), key, text("", "other"))
		if err != nil || !replay || again.ID != sm.ID {
			t.Fatalf("the retry after the send: %v %+v (replay %v)", err, again, replay)
		}
	})
}

// Layer's bounds: a delay of 1 to 300 s, a typing indicator of 1 s up to
// the delay; and what a send checks.
func TestScheduleRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		for _, c := range []struct {
			what     string
			sch      messaging.Schedule
			parts    []messaging.PartInput
			id       herald.ErrorID
			property string
		}{
			{"no delay", messaging.Schedule{}, nil, herald.EMissingProperty, "schedule.delay_in_seconds"},
			{"a delay under 1 s", schedule(0.5), nil, herald.EInvalidProperty, "schedule.delay_in_seconds"},
			{"a delay over 300 s", schedule(300.5), nil, herald.EInvalidProperty, "schedule.delay_in_seconds"},
			{"typing longer than the delay", schedule(5, 6), nil, herald.EInvalidProperty, "schedule.typing_indicator_in_seconds"},
			{"typing under 1 s", schedule(5, 0.2), nil, herald.EInvalidProperty, "schedule.typing_indicator_in_seconds"},
			{"no parts", schedule(5), []messaging.PartInput{}, herald.EMissingProperty, "parts"},
			{"a body past 2 KiB", schedule(5), []messaging.PartInput{text("", strings.Repeat("z", 2049))}, herald.EInvalidProperty, "parts[0].body"},
		} {
			parts := c.parts
			if parts == nil {
				parts = []messaging.PartInput{text("", "x")}
			}
			_, _, err := f.schedule(c.sch, "", parts...)
			wantError(t, c.what, err, c.id, c.property)
		}
		_, _, err := f.svc.ScheduleMessage(context.Background(), f.app, f.conv,
			messaging.MessageInput{Sender: herald.Sender{UserID: "carol"}, Parts: []messaging.PartInput{text("", "x")}}, schedule(5), "")
		wantError(t, "a sender not in the conversation", err, herald.EInvalidProperty, "sender.user_id")
		_, _, err = f.svc.ScheduleMessage(context.Background(), f.app, "nope",
			messaging.MessageInput{Sender: herald.Sender{UserID: "alice"}, Parts: []messaging.PartInput{text("", "x")}}, schedule(5), "")
		wantError(t, "a missing conversation", err, herald.ENotFound, "")
		// Bounds included.
		for _, sch := range []messaging.Schedule{schedule(1, 1), schedule(300, 300)} {
			if _, _, err := f.schedule(sch, "", text("", "x")); err != nil {
				t.Fatalf("schedule %v/%v: %v", *sch.DelayInSeconds, *sch.TypingIndicatorInSeconds, err)
			}
		}
	})
}

// Layer's caveats: a message whose conversation was deleted, or whose
// sender left it, during the delay is not sent.
func TestScheduledMessagesDropped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		left, _, err := f.schedule(schedule(5), "", text("", "from alice"))
		if err != nil {
			t.Fatal(err)
		}
		bob, _, err := f.svc.ScheduleMessage(ctx, f.app, f.conv,
			messaging.MessageInput{Sender: herald.Sender{UserID: "bob"}, Parts: []messaging.PartInput{text("", "from bob")}}, schedule(5), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.UpdateConversation(ctx, f.app, f.conv, nil, []messaging.PatchOperation{
			{Operation: "remove", Property: "participants", Value: json.RawMessage(`"alice"`)}}); err != nil {
			t.Fatal(err)
		}
		f.advance(5 * time.Second)
		if n, err := f.svc.SendDueMessages(ctx); err != nil || n != 1 {
			t.Fatalf("sent %d (%v), want bob's only", n, err)
		}
		if _, err := f.svc.Message(ctx, f.app, f.conv, "", bob.ID); err != nil {
			t.Fatalf("bob's message: %v", err)
		}
		if _, err := f.svc.Message(ctx, f.app, f.conv, "", left.ID); !herald.IsNotFound(err) {
			t.Fatalf("the message of a sender who left: %v", err)
		}

		gone, _, err := f.svc.ScheduleMessage(ctx, f.app, f.conv,
			messaging.MessageInput{Sender: herald.Sender{Name: "bot"}, Parts: []messaging.PartInput{text("", "bot")}}, schedule(5), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteConversation(ctx, f.app, f.conv, nil); err != nil {
			t.Fatal(err)
		}
		before := f.eventCount()
		f.advance(5 * time.Second)
		if n, err := f.svc.SendDueMessages(ctx); err != nil || n != 0 {
			t.Fatalf("sent %d into a deleted conversation (%v)", n, err)
		}
		if f.eventCount() != before {
			t.Fatal("a dropped message recorded an event")
		}
		err = f.svc.Store.View(ctx, func(q herald.Queries) error {
			_, err := q.ScheduledMessage(ctx, f.app, gone.ID)
			return err
		})
		if !herald.IsNotFound(err) {
			t.Fatalf("a dropped message is still scheduled: %v", err)
		}
	})
}

// RunScheduledMessages sends a message when it falls due, woken by its
// scheduling rather than by a poll; with two nodes running it on one store,
// each message is sent once.
func TestRunScheduledMessages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, cancel := context.WithCancel(context.Background())
		var running sync.WaitGroup
		nodes := []*messaging.Service{f.svc, {Store: f.svc.Store, Blobs: f.svc.Blobs}}
		f.svc.Now = nil // the real clock, which the nodes' timers follow
		for _, node := range nodes {
			running.Add(1)
			go func() {
				defer running.Done()
				node.RunScheduledMessages(ctx)
			}()
		}
		t.Cleanup(func() {
			cancel()
			running.Wait()
		})
		// Both nodes are idle, waiting: each message wakes the node that
		// scheduled it.
		time.Sleep(100 * time.Millisecond)
		before := f.eventCount()
		start := time.Now()
		var ids []string
		for k, node := range []*messaging.Service{nodes[0], nodes[1], nodes[0], nodes[1]} {
			sm, _, err := node.ScheduleMessage(ctx, f.app, f.conv, messaging.MessageInput{Sender: herald.Sender{UserID: "alice"},
				Parts: []messaging.PartInput{text("", string(rune('a'+k)))}}, schedule(1), "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sm.ID)
		}
		deadline := time.Now().Add(8 * time.Second)
		for {
			if f.eventCount()-before >= len(ids) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d scheduled messages sent after 8 s", f.eventCount()-before, len(ids))
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		if took < time.Second || took > 4*time.Second {
			t.Fatalf("messages scheduled 1 s ahead were sent after %v", took)
		}
		time.Sleep(300 * time.Millisecond) // for a second send, were there one
		sent := map[string]int{}
		for _, e := range f.eventsAfter(before) {
			d, err := e.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			if e.Type == herald.EventMessageSent {
				sent[d.Message.ID]++
			}
		}
		for _, id := range ids {
			if sent[id] != 1 {
				t.Fatalf("message %s sent %d times, want once (%v)", id, sent[id], sent)
			}
		}
		ms, err := f.svc.Messages(ctx, f.app, f.conv, "", herald.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != len(ids) || bodies(ms[0])+bodies(ms[1])+bodies(ms[2])+bodies(ms[3]) != "dcba" {
			t.Fatalf("sent %d messages, newest first %v", len(ms), ms)
		}
	})
}
