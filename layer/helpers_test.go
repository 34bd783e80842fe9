package layer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/urls"
)

// seedConfig is the config object of every payload in Layer's docs.
var seedConfig = json.RawMessage(`{"key1":"value1","key2":"value2"}`)

// renderTime is the clock of the URL builder, so that signed download URLs
// and their expiration are the same on every render.
var renderTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a real Herald (SQLite store, filesystem blobs, messaging
// rules) with one app, in which tests act out the situations of Layer's
// payloads and read the events they record.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	store herald.Store
	svc   *messaging.Service
	app   string
	u     *urls.Builder
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := &messaging.Service{Store: store, Blobs: blob.Dir{Root: t.TempDir()}}
	app, _, err := svc.CreateApp(ctx, "layer-test")
	if err != nil {
		t.Fatal(err)
	}
	u := &urls.Builder{Base: "https://herald.example.com", Key: []byte("test signing key"),
		Now: func() time.Time { return renderTime }}
	return &fixture{t: t, ctx: ctx, store: store, svc: svc, app: app.ID, u: u}
}

func (f *fixture) identity(userID, displayName, avatarURL string) {
	f.t.Helper()
	in := messaging.IdentityInput{DisplayName: &displayName, AvatarURL: &avatarURL}
	if _, _, err := f.svc.PutIdentity(f.ctx, f.app, userID, in, messaging.IdentityReplace); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) conversation(metadata string, participants ...string) *herald.Conversation {
	f.t.Helper()
	in := messaging.ConversationInput{Participants: participants}
	if metadata != "" {
		in.Metadata = json.RawMessage(metadata)
	}
	c, _, err := f.svc.CreateConversation(f.ctx, f.app, nil, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// content declares and uploads rich content, and returns a part that
// refers to it.
func (f *fixture) content(conversationID, mimeType string, b []byte) messaging.PartInput {
	f.t.Helper()
	c, err := f.svc.CreateContent(f.ctx, f.app, conversationID, mimeType, int64(len(b)))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.UploadContent(f.ctx, c, bytes.NewReader(b)); err != nil {
		f.t.Fatal(err)
	}
	return messaging.PartInput{MimeType: mimeType, Content: &herald.ContentRef{ID: c.ID, Size: c.Size}}
}

func text(body string) messaging.PartInput {
	return messaging.PartInput{MimeType: "text/plain", Body: &body}
}

func (f *fixture) send(conversationID string, sender herald.Sender, parts ...messaging.PartInput) *herald.Message {
	f.t.Helper()
	m, _, err := f.svc.SendMessage(f.ctx, f.app, conversationID, messaging.MessageInput{Sender: sender, Parts: parts}, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) receipt(userID, messageID, typ string) {
	f.t.Helper()
	if err := f.svc.PostReceipt(f.ctx, f.app, userID, messageID, typ); err != nil {
		f.t.Fatal(err)
	}
}

// event returns the newest event of type typ in the app's log.
func (f *fixture) event(typ string) *herald.Event {
	f.t.Helper()
	var found *herald.Event
	err := f.store.View(f.ctx, func(q herald.Queries) error {
		es, err := q.Events(f.ctx, f.app, 0, 10000)
		for _, e := range es {
			if e.Type == typ {
				found = e
			}
		}
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if found == nil {
		f.t.Fatalf("no %s event in the log", typ)
	}
	return found
}

// render renders e and returns the body and its decoded form.
func (f *fixture) render(e *herald.Event, version string, config json.RawMessage) ([]byte, map[string]any) {
	f.t.Helper()
	body, ok, err := layer.Render(e, version, config, f.u)
	if err != nil {
		f.t.Fatalf("Render(%s, %s): %v", e.Type, version, err)
	}
	if !ok {
		f.t.Fatalf("Render(%s, %s): ok = false for a Layer event", e.Type, version)
	}
	return body, decode(f.t, body)
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload is not a JSON object: %v\n%s", err, b)
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func show(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(buf.String(), "\n")
}

// at returns the value at a dotted path of a decoded payload ("message.sender.user_id").
func at(t *testing.T, v map[string]any, path string) any {
	t.Helper()
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not inside an object", path, k)
		}
		cur, ok = m[k]
		if !ok {
			t.Fatalf("%s: no key %q", path, k)
		}
	}
	return cur
}

func keys(t *testing.T, v map[string]any, path string) []string {
	t.Helper()
	var m map[string]any
	if path == "" {
		m = v
	} else {
		var ok bool
		m, ok = at(t, v, path).(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", path)
		}
	}
	return sortedKeys(m)
}

func wantKeys(t *testing.T, v map[string]any, path string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(t, v, path); !slices.Equal(got, want) {
		t.Errorf("keys of %q = %v, want %v", path, got, want)
	}
}

func wantValue(t *testing.T, v map[string]any, path string, want any) {
	t.Helper()
	if got := at(t, v, path); !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %s, want %s", path, show(got), show(want))
	}
}
