package layer_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/urls"
)

// identities gives the users of Layer's samples their identities.
func (f *fixture) identities() {
	f.identity("111", "Number One, You have the Bridge", "https://mydomain.com/images/111.gif")
	f.identity("1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	f.identity("999", "Nein!", "https://mydomain.com/images/999.gif")
}

func wantBasicIdentity(t *testing.T, f *fixture, p map[string]any, path, userID, displayName, avatarURL string) {
	t.Helper()
	wantKeys(t, p, path, "id", "url", "user_id", "display_name", "avatar_url")
	wantValue(t, p, path+".id", "layer:///identities/"+userID)
	wantValue(t, p, path+".url", f.u.Identity(f.app, userID))
	wantValue(t, p, path+".user_id", userID)
	var dn, av any
	if displayName != "" {
		dn = displayName
	}
	if avatarURL != "" {
		av = avatarURL
	}
	wantValue(t, p, path+".display_name", dn)
	wantValue(t, p, path+".avatar_url", av)
}

var messageKeys = []string{"id", "conversation", "parts", "sent_at", "sender", "recipient_status"}

func TestMessageSentVersion2(t *testing.T) {
	f := newFixture(t)
	f.identities()
	c := f.conversation("", "1234", "999", "111")
	f.send(c.ID, herald.Sender{UserID: "1234"}, text("This is the message."))
	_, p := f.render(f.event(herald.EventMessageSent), "2.0", seedConfig)

	wantKeys(t, p, "", "event", "message", "config")
	wantKeys(t, p, "event", "created_at", "type", "id", "actor")
	wantValue(t, p, "event.type", "message.sent")
	wantBasicIdentity(t, f, p, "event.actor", "1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	// Layer's 2.0 message.sent has no message.url.
	wantKeys(t, p, "message", messageKeys...)
	wantBasicIdentity(t, f, p, "message.sender", "1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	wantValue(t, p, "message.recipient_status", map[string]any{
		"layer:///identities/1234": "read", "layer:///identities/999": "sent", "layer:///identities/111": "sent"})
}

// Receipt events: the actor is the user who sent the receipt, and the
// message shows every recipient's status after it.
func TestReceiptEvents(t *testing.T) {
	for _, tc := range []struct {
		typ, receipt string
		status       map[string]string
	}{
		{herald.EventMessageDelivered, "delivery", map[string]string{"12345": "read", "999": "delivered", "111": "sent"}},
		{herald.EventMessageRead, "read", map[string]string{"12345": "read", "999": "read", "111": "sent"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			f := newFixture(t)
			f.identities()
			c := f.conversation("", "12345", "999", "111")
			m := f.send(c.ID, herald.Sender{UserID: "12345"}, text("This is the message."))
			f.receipt("999", m.ID, tc.receipt)
			e := f.event(tc.typ)

			_, p := f.render(e, "1.0", seedConfig)
			wantKeys(t, p, "", "event", "message", "config")
			wantValue(t, p, "event.type", tc.typ)
			wantValue(t, p, "event.id", e.ID)
			wantValue(t, p, "event.actor", map[string]any{"user_id": "999"})
			wantKeys(t, p, "message", messageKeys...)
			wantValue(t, p, "message.id", herald.MessageIDPrefix+m.ID)
			wantValue(t, p, "message.sender", map[string]any{"user_id": "12345"})
			want := map[string]any{}
			for u, s := range tc.status {
				want[u] = s
			}
			wantValue(t, p, "message.recipient_status", want)

			_, p = f.render(e, "2.0", nil)
			wantKeys(t, p, "", "event", "message")
			wantBasicIdentity(t, f, p, "event.actor", "999", "Nein!", "https://mydomain.com/images/999.gif")
			wantKeys(t, p, "message", messageKeys...)
			// 12345 has no identity: its fields other than the ids are null.
			wantBasicIdentity(t, f, p, "message.sender", "12345", "", "")
			want = map[string]any{}
			for u, s := range tc.status {
				want["layer:///identities/"+u] = s
			}
			wantValue(t, p, "message.recipient_status", want)
		})
	}
}

func TestMessageDeletedVersion1(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "12345", "999", "111")
	m := f.send(c.ID, herald.Sender{UserID: "12345"}, text("This is the message."))
	if err := f.svc.DeleteMessage(f.ctx, f.app, c.ID, m.ID, &herald.Actor{UserID: "111"}); err != nil {
		t.Fatal(err)
	}
	_, p := f.render(f.event(herald.EventMessageDeleted), "1.0", seedConfig)
	wantValue(t, p, "event.actor", map[string]any{"user_id": "111"})
	// message.deleted is the one message event whose message has a url.
	wantKeys(t, p, "message", append([]string{"url"}, messageKeys...)...)
	wantValue(t, p, "message.url", f.u.Message(f.app, m.ID))
	wantValue(t, p, "message.sender", map[string]any{"user_id": "12345"})
}

// A message deleted through the API without a user has no actor.
func TestMessageDeletedByTheApp(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "a", "b")
	m := f.send(c.ID, herald.Sender{UserID: "a"}, text("hi"))
	if err := f.svc.DeleteMessage(f.ctx, f.app, c.ID, m.ID, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range layer.Versions {
		_, p := f.render(f.event(herald.EventMessageDeleted), v, nil)
		wantKeys(t, p, "event", "created_at", "type", "id")
	}
}

// Named (system) senders: 1.0 as Layer's Platform API rendered them, 2.0 in
// the Basic Identity shape with no user behind it.
func TestNamedSender(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "999", "111")
	f.send(c.ID, herald.Sender{Name: "Hal 2000"}, text("I'm sorry, Dave."))
	e := f.event(herald.EventMessageSent)

	body, p := f.render(e, "1.0", nil)
	wantValue(t, p, "event.actor", map[string]any{"name": "Hal 2000"})
	wantValue(t, p, "message.sender", map[string]any{"name": "Hal 2000", "user_id": nil})
	if !bytes.Contains(body, []byte(`"sender":{"name":"Hal 2000","user_id":null}`)) {
		t.Errorf("1.0 named sender is not rendered as Layer's {\"name\", \"user_id\": null}:\n%s", body)
	}
	wantValue(t, p, "message.recipient_status", map[string]any{"999": "sent", "111": "sent"})

	_, p = f.render(e, "2.0", nil)
	bot := map[string]any{"id": nil, "url": nil, "user_id": nil, "display_name": "Hal 2000", "avatar_url": nil}
	wantValue(t, p, "event.actor", bot)
	wantValue(t, p, "message.sender", bot)
	wantValue(t, p, "message.recipient_status", map[string]any{
		"layer:///identities/999": "sent", "layer:///identities/111": "sent"})
}

var conversationKeys = []string{"id", "url", "created_at", "messages_url", "distinct", "participants", "metadata"}

func wantConversation(t *testing.T, f *fixture, p map[string]any, c *herald.Conversation, version string, participants []string, distinct bool, metadata map[string]any) {
	t.Helper()
	wantKeys(t, p, "conversation", conversationKeys...)
	wantValue(t, p, "conversation.id", herald.ConversationIDPrefix+c.ID)
	wantValue(t, p, "conversation.url", f.u.Conversation(f.app, c.ID))
	wantValue(t, p, "conversation.messages_url", f.u.Conversation(f.app, c.ID)+"/messages")
	wantValue(t, p, "conversation.created_at", herald.FormatTime(c.CreatedAt))
	wantValue(t, p, "conversation.distinct", distinct)
	wantValue(t, p, "conversation.metadata", metadata)
	got := at(t, p, "conversation.participants").([]any)
	if len(got) != len(participants) {
		t.Fatalf("conversation.participants = %s, want %v", show(got), participants)
	}
	for i, u := range participants {
		if version == "1.0" {
			if got[i] != u {
				t.Errorf("conversation.participants[%d] = %s, want %q", i, show(got[i]), u)
			}
			continue
		}
		o := got[i].(map[string]any)
		if o["id"] != "layer:///identities/"+u || o["user_id"] != u || o["url"] != f.u.Identity(f.app, u) {
			t.Errorf("conversation.participants[%d] = %s, want the identity of %q", i, show(o), u)
		}
	}
}

func TestConversationEvents(t *testing.T) {
	f := newFixture(t)
	f.identities()
	c := f.conversation(`{"favorite": "true", "background_color": "#3c3c3c"}`, "1234", "5678")
	created := f.event(herald.EventConversationCreated)
	alice := &herald.Actor{UserID: "1234"}
	if _, err := f.svc.UpdateConversation(f.ctx, f.app, c.ID, alice, []messaging.PatchOperation{
		{Operation: "add", Property: "participants", Value: json.RawMessage(`"999"`)},
		{Operation: "remove", Property: "participants", Value: json.RawMessage(`"5678"`)},
	}); err != nil {
		t.Fatal(err)
	}
	participants := f.event(herald.EventConversationUpdatedP)
	if _, err := f.svc.UpdateConversation(f.ctx, f.app, c.ID, alice, []messaging.PatchOperation{
		{Operation: "set", Property: "metadata.favorite", Value: json.RawMessage(`"false"`)},
	}); err != nil {
		t.Fatal(err)
	}
	metadata := f.event(herald.EventConversationUpdatedM)
	if err := f.svc.DeleteConversation(f.ctx, f.app, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	deleted := f.event(herald.EventConversationDeleted)

	meta := map[string]any{"favorite": "true", "background_color": "#3c3c3c"}
	changed := map[string]any{"favorite": "false", "background_color": "#3c3c3c"}
	// 3.0's conversation events: TestVersion3ConversationEvents.
	for _, v := range []string{layer.Version1, layer.Version2} {
		t.Run(v, func(t *testing.T) {
			for _, tc := range []struct {
				e            *herald.Event
				actor        bool
				participants []string
				distinct     bool
				metadata     map[string]any
			}{
				{created, false, []string{"1234", "5678"}, true, meta},
				{participants, true, []string{"1234", "999"}, false, meta},
				{metadata, true, []string{"1234", "999"}, false, changed},
				{deleted, false, []string{"1234", "999"}, false, changed},
			} {
				_, p := f.render(tc.e, v, seedConfig)
				// Layer's conversation events carry the conversation and
				// nothing else: no added/removed lists, no old metadata.
				wantKeys(t, p, "", "event", "conversation", "config")
				wantValue(t, p, "event.type", tc.e.Type)
				wantValue(t, p, "event.id", tc.e.ID)
				if tc.actor {
					wantKeys(t, p, "event", "created_at", "type", "id", "actor")
					if v == "1.0" {
						wantValue(t, p, "event.actor", map[string]any{"user_id": "1234"})
					} else {
						wantBasicIdentity(t, f, p, "event.actor", "1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
					}
				} else {
					wantKeys(t, p, "event", "created_at", "type", "id")
				}
				wantConversation(t, f, p, c, v, tc.participants, tc.distinct, tc.metadata)
			}
		})
	}
	// 2.0 participants carry their identities, and nulls for a user without.
	_, p := f.render(created, "2.0", nil)
	ps := at(t, p, "conversation.participants").([]any)
	wantBasicIdentity(t, f, map[string]any{"p": ps[0]}, "p", "1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	wantBasicIdentity(t, f, map[string]any{"p": ps[1]}, "p", "5678", "", "")
}

// A user who leaves a conversation is no longer a participant, but is the
// actor of the event, and 2.0 shows their identity.
func TestActorWhoLeft(t *testing.T) {
	f := newFixture(t)
	f.identities()
	c := f.conversation("", "1234", "999", "111")
	if _, err := f.svc.UpdateConversation(f.ctx, f.app, c.ID, &herald.Actor{UserID: "999"}, []messaging.PatchOperation{
		{Operation: "remove", Property: "participants", Value: json.RawMessage(`"999"`)},
	}); err != nil {
		t.Fatal(err)
	}
	_, p := f.render(f.event(herald.EventConversationUpdatedP), "2.0", nil)
	wantBasicIdentity(t, f, p, "event.actor", "999", "Nein!", "https://mydomain.com/images/999.gif")
	wantConversation(t, f, p, c, "2.0", []string{"1234", "111"}, false, map[string]any{})
}

func TestConversationWithoutMetadata(t *testing.T) {
	f := newFixture(t)
	f.conversation("", "a", "b")
	_, p := f.render(f.event(herald.EventConversationCreated), "1.0", nil)
	wantValue(t, p, "conversation.metadata", map[string]any{})
}

// Statuses are keyed in participant order; a recipient who has since left
// the conversation comes last.
func TestRecipientStatusOrder(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "zed", "bob", "amy")
	m := f.send(c.ID, herald.Sender{UserID: "zed"}, text("hi"))
	if _, err := f.svc.UpdateConversation(f.ctx, f.app, c.ID, nil, []messaging.PatchOperation{
		{Operation: "remove", Property: "participants", Value: json.RawMessage(`"bob"`)},
	}); err != nil {
		t.Fatal(err)
	}
	f.receipt("amy", m.ID, "read")
	e := f.event(herald.EventMessageRead)
	body, _ := f.render(e, "1.0", nil)
	if want := `"recipient_status":{"zed":"read","amy":"read","bob":"sent"}`; !bytes.Contains(body, []byte(want)) {
		t.Errorf("payload lacks %s:\n%s", want, body)
	}
	body, _ = f.render(e, "2.0", nil)
	if want := `"recipient_status":{"layer:///identities/zed":"read","layer:///identities/amy":"read","layer:///identities/bob":"sent"}`; !bytes.Contains(body, []byte(want)) {
		t.Errorf("payload lacks %s:\n%s", want, body)
	}
}

func TestPartEncoding(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "a", "b")
	body := "aGVsbG8="
	f.send(c.ID, herald.Sender{UserID: "a"}, messaging.PartInput{MimeType: "application/octet-stream", Body: &body, Encoding: "base64"}, text("plain"))
	_, p := f.render(f.event(herald.EventMessageSent), "1.0", nil)
	parts := at(t, p, "message.parts").([]any)
	wantValue(t, map[string]any{"p": parts[0]}, "p", map[string]any{
		"id": at(t, p, "message.id").(string) + "/parts/0", "mime_type": "application/octet-stream", "body": body, "encoding": "base64"})
	wantKeys(t, map[string]any{"p": parts[1]}, "p", "id", "mime_type", "body")
}

// Download URLs are signed when rendered, so a delivery retried later still
// carries a URL that works.
func TestContentURLsAreFreshAtRender(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "a", "b")
	image := f.content(c.ID, "image/png", pngBytes)
	f.send(c.ID, herald.Sender{UserID: "a"}, image)
	e := f.event(herald.EventMessageSent)
	for _, now := range []time.Time{renderTime, renderTime.Add(5 * time.Hour)} {
		f.u.Now = func() time.Time { return now }
		_, p := f.render(e, "2.0", nil)
		part := at(t, p, "message.parts").([]any)[0].(map[string]any)
		wantValue(t, part, "content.expiration", herald.FormatTime(now.Add(urls.DefaultContentTTL)))
		du, err := url.Parse(at(t, part, "content.download_url").(string))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.u.Verify(du.Query(), urls.Download, image.Content.ID); err != nil {
			t.Errorf("download_url rendered at %v does not verify then: %v", now, err)
		}
	}
}

func TestConfig(t *testing.T) {
	f := newFixture(t)
	f.conversation("", "a", "b")
	e := f.event(herald.EventConversationCreated)
	for _, empty := range []string{"", "  ", "null", "{}", " { } "} {
		var cfg json.RawMessage
		if empty != "" {
			cfg = json.RawMessage(empty)
		}
		_, p := f.render(e, "1.0", cfg)
		if _, ok := p["config"]; ok {
			t.Errorf("config %q: payload has a config key", empty)
		}
	}
	body, p := f.render(e, "2.0", json.RawMessage(`{ "name": "My sample webhook", "n": [1, 2] }`))
	wantValue(t, p, "config", map[string]any{"name": "My sample webhook", "n": []any{1.0, 2.0}})
	if !bytes.HasSuffix(body, []byte(`"config":{"name":"My sample webhook","n":[1,2]}}`)) {
		t.Errorf("config is not the last member, compacted:\n%s", body)
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":`} {
		if _, _, err := layer.Render(e, "1.0", json.RawMessage(bad), f.u); err == nil {
			t.Errorf("config %s: no error", bad)
		}
	}
}

func TestNonLayerEvents(t *testing.T) {
	f := newFixture(t)
	f.identity("a", "A", "")
	c := f.conversation("", "a", "b")
	image := f.content(c.ID, "image/png", pngBytes)
	m := f.send(c.ID, herald.Sender{UserID: "a"}, image)
	if err := f.svc.HideMessage(f.ctx, f.app, "b", m.ID); err != nil {
		t.Fatal(err)
	}
	a, _, err := f.svc.SendAnnouncement(f.ctx, f.app, messaging.AnnouncementInput{
		Recipients: []string{"a"}, Sender: herald.Sender{Name: "Team"}, Parts: []messaging.PartInput{text("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	f.receipt("a", a.ID, "read")
	if err := f.svc.DeleteIdentity(f.ctx, f.app, "a"); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{
		herald.EventIdentityCreated, herald.EventIdentityDeleted, herald.EventContentCreated,
		herald.EventContentUploaded, herald.EventMessageDeletedForUser, herald.EventAnnouncementSent,
		herald.EventAnnouncementRead,
	} {
		for _, v := range layer.Versions {
			body, ok, err := layer.Render(f.event(typ), v, seedConfig, f.u)
			if ok || err != nil || body != nil {
				t.Errorf("Render(%s, %s) = %q, %v, %v; want nil, false, nil", typ, v, body, ok, err)
			}
		}
	}
}

func TestUnknownVersion(t *testing.T) {
	f := newFixture(t)
	f.conversation("", "a", "b")
	e := f.event(herald.EventConversationCreated)
	for _, v := range []string{"", "1", "4.0", "3", "2.0 "} {
		if _, ok, err := layer.Render(e, v, nil, f.u); err == nil || ok {
			t.Errorf("Render with version %q: ok = %v, err = %v; want an error", v, ok, err)
		}
	}
	if _, _, err := layer.Render(&herald.Event{ID: "x", Type: "identity.created"}, "4.0", nil, f.u); err == nil {
		t.Error("an unknown version is not an error for a non-Layer event")
	}
}

func TestMalformedEvent(t *testing.T) {
	u := &urls.Builder{Base: "https://h.example"}
	for _, e := range []*herald.Event{
		{ID: "1", Type: herald.EventMessageSent, Data: json.RawMessage(`{}`)},
		{ID: "2", Type: herald.EventConversationCreated, Data: json.RawMessage(`{}`)},
		{ID: "3", Type: herald.EventMessageRead, Data: json.RawMessage(`not json`)},
	} {
		if _, _, err := layer.Render(e, "1.0", nil, u); err == nil {
			t.Errorf("event %s (%s, %s): no error", e.ID, e.Type, e.Data)
		}
	}
}

// The same event renders to the same bytes, so that a retry is signed the
// same unless its URLs had to be renewed.
func TestRenderIsDeterministic(t *testing.T) {
	f := newFixture(t)
	f.identities()
	c := f.conversation(`{"b": 1, "a": 2}`, "1234", "999", "111", "x", "y")
	f.send(c.ID, herald.Sender{UserID: "1234"}, text("hi"), f.content(c.ID, "image/png", pngBytes))
	for _, typ := range []string{herald.EventMessageSent, herald.EventConversationCreated} {
		e := f.event(typ)
		for _, v := range layer.Versions {
			first, _ := f.render(e, v, seedConfig)
			for range 20 {
				if again, _ := f.render(e, v, seedConfig); !bytes.Equal(first, again) {
					t.Fatalf("%s %s renders differently:\n%s\n%s", typ, v, first, again)
				}
			}
		}
	}
}

func TestEventTypes(t *testing.T) {
	want := []string{"message.sent", "message.delivered", "message.read", "message.deleted",
		"conversation.created", "conversation.updated.participants", "conversation.updated.metadata",
		"conversation.deleted"}
	if !slices.Equal(layer.EventTypes, want) {
		t.Errorf("EventTypes = %v, want %v", layer.EventTypes, want)
	}
	for _, typ := range want {
		if !layer.IsEventType(typ) {
			t.Errorf("IsEventType(%q) = false", typ)
		}
	}
	for _, typ := range []string{"", "message.deleted_for_user", "announcement.sent", "identity.created",
		"content.uploaded", "Message.created", "conversation.participants_updated", "message.*"} {
		if layer.IsEventType(typ) {
			t.Errorf("IsEventType(%q) = true", typ)
		}
	}
}

func TestSign(t *testing.T) {
	// RFC 2202, HMAC-SHA1 test case 2.
	if got, want := layer.Sign("Jefe", []byte("what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	// RFC 2202, test case 1: a 20-byte key of 0x0b over "Hi There".
	if got, want := layer.Sign(strings.Repeat("\x0b", 20), []byte("Hi There")), "b617318655057264e28bc0b6fb378c8ef146be00"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{}
	layer.Headers(h, "message.sent", "2.0", "wh-1", "req-1", "abc123")
	want := map[string]string{
		"Layer-Webhook-Event-Type": "message.sent",
		"Layer-Webhook-Signature":  "abc123",
		"Layer-Webhook-Request-Id": "req-1",
		"Layer-Webhook-Id":         "wh-1",
		"User-Agent":               "layer-webhooks/2.0",
		"Content-Type":             "application/vnd.layer.webhooks+json; version=2.0",
	}
	if len(h) != len(want) {
		t.Errorf("Headers set %d headers, want %d: %v", len(h), len(want), h)
	}
	for k, v := range want {
		if got := h[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Setting again replaces, as a retry reuses the header map.
	layer.Headers(h, "message.read", "1.0", "wh-1", "req-2", "def")
	if got := h["User-Agent"]; len(got) != 1 || got[0] != "layer-webhooks/1.0" {
		t.Errorf("User-Agent after a second call = %q", got)
	}
}
