package layer_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/messaging"
)

var update = flag.Bool("update", false, "rewrite the 3.0 golden payloads in testdata/v3")

// v3Story acts out, in one conversation, every situation that Herald sends
// to a 3.0 webhook, and returns its events by 3.0 name.
type v3Story struct {
	c      *herald.Conversation
	m      *herald.Message
	events map[string]*herald.Event
	// partAdded is the part of the MessagePart events, which have an id of
	// their own; legacy is the message's first part, which has none.
	partAdded herald.Part
}

func newV3Story(f *fixture) *v3Story {
	f.t.Helper()
	f.identities()
	s := &v3Story{events: map[string]*herald.Event{}}
	s.c = f.conversation(`{"title": "Who likes this conversation?"}`, "1234", "999", "111")
	s.events[layer.Conversation3Created] = f.event(herald.EventConversationCreated)
	image := f.content(s.c.ID, "image/png", pngBytes)
	s.m = f.send(s.c.ID, herald.Sender{UserID: "1234"}, text("This is the message."), image)
	s.events[layer.Message3Created] = f.event(herald.EventMessageSent)
	f.receipt("999", s.m.ID, "delivery")
	s.events["Receipt.created/Delivery"] = f.event(herald.EventMessageDelivered)
	f.receipt("999", s.m.ID, "read")
	s.events["Receipt.created/Read"] = f.event(herald.EventMessageRead)

	// Herald's API does not yet change one part of a sent message: the part
	// events are made as the domain documents them (the message after the
	// change, and the part after it, or as it was for a removal).
	s.partAdded = herald.Part{ID: "7dd37381-f49b-4a1c-9e38-0d0a82a3bda1", MimeType: "text/plain", Body: "An afterthought."}
	after := *s.m
	after.Parts = append(slices.Clone(s.m.Parts), s.partAdded)
	s.events[layer.MessagePart3Created] = f.partEvent(herald.EventMessagePartCreated, &after, s.partAdded)
	replaced := s.partAdded
	replaced.Body = "A better afterthought."
	after.Parts = append(slices.Clone(s.m.Parts), replaced)
	s.events[layer.MessagePart3Updated] = f.partEvent(herald.EventMessagePartUpdated, &after, replaced)
	after.Parts = slices.Clone(s.m.Parts)
	s.events[layer.MessagePart3Deleted] = f.partEvent(herald.EventMessagePartDeleted, &after, replaced)

	alice := &herald.Actor{UserID: "1234"}
	if _, err := f.svc.UpdateConversation(f.ctx, f.app, s.c.ID, alice, []messaging.PatchOperation{
		{Operation: "remove", Property: "participants", Value: json.RawMessage(`"111"`)},
	}); err != nil {
		f.t.Fatal(err)
	}
	s.events["Conversation.updated/participants"] = f.event(herald.EventConversationUpdatedP)
	if _, err := f.svc.UpdateConversation(f.ctx, f.app, s.c.ID, alice, []messaging.PatchOperation{
		{Operation: "set", Property: "metadata.title", Value: json.RawMessage(`"Nobody"`)},
	}); err != nil {
		f.t.Fatal(err)
	}
	s.events["Conversation.updated/metadata"] = f.event(herald.EventConversationUpdatedM)
	if err := f.svc.DeleteMessage(f.ctx, f.app, s.c.ID, s.m.ID, &herald.Actor{UserID: "999"}); err != nil {
		f.t.Fatal(err)
	}
	s.events[layer.Message3Deleted] = f.event(herald.EventMessageDeleted)
	if err := f.svc.DeleteConversation(f.ctx, f.app, s.c.ID, alice); err != nil {
		f.t.Fatal(err)
	}
	s.events[layer.Conversation3Deleted] = f.event(herald.EventConversationDeleted)
	return s
}

// partEvent makes a part event of m, whose sender acts, with the
// identities the message's events carry.
func (f *fixture) partEvent(typ string, m *herald.Message, p herald.Part) *herald.Event {
	f.t.Helper()
	sent := f.event(herald.EventMessageSent)
	d, err := sent.DecodeData()
	if err != nil {
		f.t.Fatal(err)
	}
	e, err := herald.NewEvent(uuid.NewString(), f.app, typ, renderTime, &herald.Actor{UserID: m.Sender.UserID},
		&herald.EventData{Message: m, Conversation: d.Conversation, Part: &p, Identities: d.Identities})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// goldenName is the file of a story event's golden payload.
func goldenName(key string) string {
	return filepath.Join("testdata", "v3", strings.ReplaceAll(key, "/", "-")+".json")
}

var (
	uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timePattern = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`)
	signedQuery = regexp.MustCompile(`\?expires=\d+&signature=[0-9a-f]+`)
)

// normalise stands for what differs from run to run: each UUID is named by
// the order in which it first appears (so that a payload still shows which
// ids are the same), instants and URL signatures by placeholders. Key
// order and every other byte are kept.
func normalise(body []byte) []byte {
	seen := map[string]string{}
	out := uuidPattern.ReplaceAllFunc(body, func(id []byte) []byte {
		n, ok := seen[string(id)]
		if !ok {
			n = "uuid-" + strconv.Itoa(len(seen)+1)
			seen[string(id)] = n
		}
		return []byte(n)
	})
	out = timePattern.ReplaceAll(out, []byte(`"TIME"`))
	out = signedQuery.ReplaceAll(out, []byte(`?SIGNED`))
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		panic(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Every 3.0 event, rendered, is byte for byte its golden payload once run-
// specific values are normalised: key order, nulls and omissions included.
// The golden files were written from the sources in render3.go and are the
// reviewed contract; -update rewrites them.
func TestGoldenVersion3(t *testing.T) {
	f := newFixture(t)
	s := newV3Story(f)
	keys := make([]string, 0, len(s.events))
	for k := range s.events {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			body, _ := f.render(s.events[k], layer.Version3, seedConfig)
			got := normalise(body)
			path := goldenName(k)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no golden payload (go test -run TestGoldenVersion3 -update writes it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", k, path, got)
			}
		})
	}
	// Every 3.0 event type is in the story.
	for _, name := range layer.EventTypes3 {
		found := false
		for k := range s.events {
			found = found || strings.SplitN(k, "/", 2)[0] == name
		}
		if !found {
			t.Errorf("the story has no %s event", name)
		}
	}
}

// Message.created as the receivers written for 3.0 read it.
func TestVersion3MessageCreated(t *testing.T) {
	f := newFixture(t)
	s := newV3Story(f)
	e := s.events[layer.Message3Created]
	body, p := f.render(e, layer.Version3, nil)

	// Layer's integrations' bodies: event, actor beside it, message.
	wantKeys(t, p, "", "event", "actor", "message")
	wantKeys(t, p, "event", "id", "type", "created_at")
	wantValue(t, p, "event.id", e.ID)
	wantValue(t, p, "event.type", "Message.created")
	wantBasicIdentity(t, f, p, "actor", "1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	wantKeys(t, p, "message", "id", "url", "conversation", "parts", "sent_at", "sender", "recipient_status", "position")
	wantValue(t, p, "message.url", f.u.Conversation(f.app, s.c.ID)+"/messages/"+s.m.ID)
	wantValue(t, p, "message.position", float64(s.m.Position))
	wantValue(t, p, "message.recipient_status", map[string]any{
		"layer:///identities/1234": "read", "layer:///identities/999": "sent", "layer:///identities/111": "sent"})
	parts := at(t, p, "message.parts").([]any)
	// A new message's parts have ids of their own, which name them.
	wantValue(t, parts[0].(map[string]any), "id", herald.MessageIDPrefix+s.m.ID+"/parts/"+s.m.Parts[0].ID)
	wantValue(t, parts[1].(map[string]any), "id", herald.MessageIDPrefix+s.m.ID+"/parts/"+s.m.Parts[1].ID)

	// What GetStream/layer-migration's serverless handler reads.
	var gs struct {
		Event   struct{ Type string }
		Message struct {
			ID           string
			Conversation struct{ ID string }
			Sender       struct {
				UserID string `json:"user_id"`
			}
			Parts []struct {
				MimeType string `json:"mime_type"`
				Body     string
				Content  *struct {
					DownloadURL string `json:"download_url"`
				}
			}
		}
	}
	if err := json.Unmarshal(body, &gs); err != nil {
		t.Fatal(err)
	}
	if gs.Event.Type != "Message.created" || gs.Message.Sender.UserID != "1234" ||
		gs.Message.ID[strings.LastIndex(gs.Message.ID, "/")+1:] != s.m.ID ||
		gs.Message.Conversation.ID != herald.ConversationIDPrefix+s.c.ID {
		t.Errorf("as layer-migration reads it: %+v", gs)
	}
	if len(gs.Message.Parts) != 2 || gs.Message.Parts[0].MimeType != "text/plain" || gs.Message.Parts[0].Body != "This is the message." ||
		gs.Message.Parts[1].Content == nil || !strings.Contains(gs.Message.Parts[1].Content.DownloadURL, "/content/") {
		t.Errorf("parts as layer-migration reads them: %+v", gs.Message.Parts)
	}
}

// A part with an id of its own is named by it, in the message and in the
// part events.
func TestVersion3PartIDs(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "a", "b")
	m := f.send(c.ID, herald.Sender{UserID: "a"}, text("one"), text("two"))
	// As stored before parts had ids (a copy: the sent message is its
	// event's data).
	old := *m
	old.Parts = slices.Clone(m.Parts)
	for i := range old.Parts {
		old.Parts[i].ID = ""
	}
	m = &old
	withIDs := *m
	withIDs.Parts = slices.Clone(m.Parts)
	withIDs.Parts[1].ID = "a4cd4112-78a1-11e7-ba2a-1f46ffbaefe0"
	e := f.partEvent(herald.EventMessagePartUpdated, &withIDs, withIDs.Parts[1])
	_, p := f.render(e, layer.Version3, nil)
	base := herald.MessageIDPrefix + m.ID + "/parts/"
	parts := at(t, p, "message.parts").([]any)
	wantValue(t, parts[0].(map[string]any), "id", base+"0")
	wantValue(t, parts[1].(map[string]any), "id", base+"a4cd4112-78a1-11e7-ba2a-1f46ffbaefe0")
	wantValue(t, p, "message_part", map[string]any{"id": base + "a4cd4112-78a1-11e7-ba2a-1f46ffbaefe0",
		"mime_type": "text/plain", "body": "two"})

	// A part without an id is named by its index in the message...
	e = f.partEvent(herald.EventMessagePartUpdated, m, m.Parts[1])
	_, p = f.render(e, layer.Version3, nil)
	wantValue(t, p, "message_part.id", base+"1")
	// ...which a removed one no longer has.
	rest := *m
	rest.Parts = m.Parts[:1]
	e = f.partEvent(herald.EventMessagePartDeleted, &rest, m.Parts[1])
	_, p = f.render(e, layer.Version3, nil)
	wantValue(t, p, "event.type", "MessagePart.deleted")
	wantValue(t, p, "message_part", map[string]any{"mime_type": "text/plain", "body": "two"})
	if n := len(at(t, p, "message.parts").([]any)); n != 1 {
		t.Errorf("the message after the removal has %d parts", n)
	}
}

// Receipt.created as Layer's email fallback integration reads it: the
// receipt's sender as actor, the conversation, the type and the positions.
func TestVersion3Receipts(t *testing.T) {
	f := newFixture(t)
	s := newV3Story(f)
	for key, typ := range map[string]string{"Receipt.created/Read": "Read", "Receipt.created/Delivery": "Delivery"} {
		e := s.events[key]
		body, p := f.render(e, layer.Version3, nil)
		wantKeys(t, p, "", "event", "actor", "conversation", "message", "receipt")
		wantValue(t, p, "event.type", "Receipt.created")
		var r struct {
			Actor        struct{ ID string }
			Conversation struct{ ID string }
			Receipt      struct {
				Type      string
				Positions struct{ From, To int64 }
			}
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Actor.ID != "layer:///identities/999" || r.Conversation.ID != herald.ConversationIDPrefix+s.c.ID ||
			r.Receipt.Type != typ || r.Receipt.Positions.From != s.m.Position || r.Receipt.Positions.To != s.m.Position {
			t.Errorf("%s: %+v", key, r)
		}
	}
	// The message as the receipt left it.
	_, p := f.render(s.events["Receipt.created/Read"], layer.Version3, nil)
	wantValue(t, p, "message.recipient_status.layer:///identities/999", "read")
}

// The conversation events carry the conversation as it is after the
// change, with Basic Identities, and the actor beside the event.
func TestVersion3ConversationEvents(t *testing.T) {
	f := newFixture(t)
	s := newV3Story(f)
	for _, tc := range []struct {
		key          string
		actor        bool
		participants []string
		title        string
	}{
		{"Conversation.created", false, []string{"1234", "999", "111"}, "Who likes this conversation?"},
		{"Conversation.updated/participants", true, []string{"1234", "999"}, "Who likes this conversation?"},
		{"Conversation.updated/metadata", true, []string{"1234", "999"}, "Nobody"},
		{"Conversation.deleted", true, []string{"1234", "999"}, "Nobody"},
	} {
		e := s.events[tc.key]
		_, p := f.render(e, layer.Version3, seedConfig)
		if tc.actor {
			wantKeys(t, p, "", "event", "actor", "conversation", "config")
			wantBasicIdentity(t, f, p, "actor", "1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
		} else {
			wantKeys(t, p, "", "event", "conversation", "config")
		}
		wantValue(t, p, "event.type", strings.SplitN(tc.key, "/", 2)[0])
		wantValue(t, p, "conversation.id", herald.ConversationIDPrefix+s.c.ID)
		wantValue(t, p, "conversation.metadata.title", tc.title)
		var ids []string
		for _, p := range at(t, p, "conversation.participants").([]any) {
			ids = append(ids, p.(map[string]any)["id"].(string))
		}
		var want []string
		for _, u := range tc.participants {
			want = append(want, herald.IdentityIDPrefix+u)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: participants %v, want %v", tc.key, ids, want)
		}
	}
}

// Message.deleted carries what Layer's email fallback integration reads:
// the conversation, the position and every recipient's status.
func TestVersion3MessageDeleted(t *testing.T) {
	f := newFixture(t)
	s := newV3Story(f)
	_, p := f.render(s.events[layer.Message3Deleted], layer.Version3, nil)
	wantKeys(t, p, "", "event", "actor", "message")
	wantValue(t, p, "actor.id", "layer:///identities/999")
	wantValue(t, p, "message.conversation.id", herald.ConversationIDPrefix+s.c.ID)
	wantValue(t, p, "message.position", float64(s.m.Position))
	wantValue(t, p, "message.recipient_status", map[string]any{
		"layer:///identities/1234": "read", "layer:///identities/999": "read", "layer:///identities/111": "sent"})
}

// A named system sender has no identity: as in 2.0, a Basic Identity with
// only its name.
func TestVersion3NamedSender(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "a", "b")
	f.send(c.ID, herald.Sender{Name: "Herald Bot"}, text("hi"))
	_, p := f.render(f.event(herald.EventMessageSent), layer.Version3, nil)
	named := map[string]any{"id": nil, "url": nil, "user_id": nil, "display_name": "Herald Bot", "avatar_url": nil}
	wantValue(t, p, "message.sender", named)
	wantValue(t, p, "actor", named)
}

func TestEventNames(t *testing.T) {
	for _, tc := range []struct{ typ, v1, v3 string }{
		{herald.EventMessageSent, "message.sent", "Message.created"},
		{herald.EventMessageDelivered, "message.delivered", "Receipt.created"},
		{herald.EventMessageRead, "message.read", "Receipt.created"},
		{herald.EventMessageDeleted, "message.deleted", "Message.deleted"},
		{herald.EventMessagePartCreated, "", "MessagePart.created"},
		{herald.EventMessagePartUpdated, "", "MessagePart.updated"},
		{herald.EventMessagePartDeleted, "", "MessagePart.deleted"},
		{herald.EventConversationCreated, "conversation.created", "Conversation.created"},
		{herald.EventConversationUpdatedP, "conversation.updated.participants", "Conversation.updated"},
		{herald.EventConversationUpdatedM, "conversation.updated.metadata", "Conversation.updated"},
		{herald.EventConversationDeleted, "conversation.deleted", "Conversation.deleted"},
		{herald.EventMessageDeletedForUser, "", ""},
		{herald.EventAnnouncementSent, "", ""},
		{herald.EventIdentityCreated, "", ""},
	} {
		for v, want := range map[string]string{"1.0": tc.v1, "2.0": tc.v1, "3.0": tc.v3, "4.0": ""} {
			if got := layer.EventName(tc.typ, v); got != want {
				t.Errorf("EventName(%q, %s) = %q, want %q", tc.typ, v, got, want)
			}
		}
		for _, v := range layer.Versions {
			if name := layer.EventName(tc.typ, v); name != "" && !slices.Contains(layer.EventTypesOf(v), name) {
				t.Errorf("%s names %s %q, which is not one of its EventTypesOf", v, tc.typ, name)
			}
		}
	}
	if !slices.Equal(layer.EventTypesOf("2.0"), layer.EventTypes) || layer.EventTypesOf("4.0") != nil {
		t.Error("EventTypesOf: 1.0 and 2.0 take Herald's names, and an unknown version none")
	}
	want := []string{"Message.created", "Message.deleted", "Receipt.created", "MessagePart.created",
		"MessagePart.updated", "MessagePart.deleted", "Conversation.created", "Conversation.updated", "Conversation.deleted"}
	if !slices.Equal(layer.EventTypesOf("3.0"), want) {
		t.Errorf("EventTypesOf(3.0) = %v, want %v", layer.EventTypesOf("3.0"), want)
	}
	f := layer.Format{}
	if f.EventType(&herald.Event{Type: herald.EventMessageSent}, "3.0") != "Message.created" ||
		f.EventType(&herald.Event{Type: herald.EventMessageSent}, "1.0") != "message.sent" ||
		!slices.Equal(f.EventTypes("3.0"), want) || !slices.Equal(f.Versions(), []string{"1.0", "2.0", "3.0"}) {
		t.Error("Format does not name events by version")
	}
}

func TestHeadersVersion3(t *testing.T) {
	h := http.Header{}
	layer.Headers(h, "Message.created", "3.0", "wh-1", "req-1", "abc")
	if got := h.Get("User-Agent"); got != "layer-webhooks/3.0" {
		t.Errorf("User-Agent = %q", got)
	}
	if got := h.Get("Content-Type"); got != "application/vnd.layer.webhooks+json; version=3.0" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := h.Get("Layer-Webhook-Event-Type"); got != "Message.created" {
		t.Errorf("Layer-Webhook-Event-Type = %q", got)
	}
}
