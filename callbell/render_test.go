package callbell_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/internal/seedtest"
	"github.com/heraldhq/herald/urls"
)

var contactKeys = []string{"href", "conversationHref", "name", "tags", "uuid", "source", "avatarUrl", "createdAt", "phoneNumber",
	"assignedUser", "customFields", "closedAt", "blockedAt", "funnelId", "team", "channel", "note"}

func TestContactCreatedAndUpdated(t *testing.T) {
	for typ, name := range map[string]string{
		herald.EventContactCreated: "contact_created",
		herald.EventContactUpdated: "contact_updated",
	} {
		body := render(t, contactEvent(t, typ, johnDoe()), "")
		if want := `{"event":"` + name + `","payload":` + johnDoeJSON + `}`; string(body) != want {
			t.Errorf("%s:\n got %s\nwant %s", typ, body, want)
		}
	}

	// A contact with an avatar and no tags: a string, and [] rather than
	// null.
	c := johnDoe()
	c.Tags = nil
	c.AvatarURL = "https://cdn.example.com/avatars/jd.png?s=64&r=g"
	c.CreatedAt = time.Date(2023, 1, 2, 4, 5, 6, 789_000_000, time.FixedZone("CET", 3600))
	body := render(t, contactEvent(t, herald.EventContactUpdated, c), "")
	wantKeys(t, body, contactKeys, "payload")
	wantJSON(t, body, `[]`, "payload", "tags")
	wantJSON(t, body, `"https://cdn.example.com/avatars/jd.png?s=64&r=g"`, "payload", "avatarUrl")
	wantString(t, body, "2023-01-02T03:05:06Z", "payload", "createdAt")

	// Several tags keep their order.
	c.Tags = []string{"VIP", "Lead", "Churn risk"}
	body = render(t, contactEvent(t, herald.EventContactUpdated, c), "")
	wantJSON(t, body, `["VIP","Lead","Churn risk"]`, "payload", "tags")
}

// The contact's conversation is found from the event's conversation when
// the contact does not name it.
func TestConversationHrefFromEventConversation(t *testing.T) {
	c := johnDoe()
	c.ConversationID = ""
	body := render(t, contactEvent(t, herald.EventContactCreated, c), "")
	wantString(t, body, conversationURL, "payload", "conversationHref")
}

func TestContactDeleted(t *testing.T) {
	body := render(t, contactEvent(t, herald.EventContactDeleted, johnDoe()), "")
	want := `{"event":"contact_deleted","payload":{"uuid":"eb2b914a977e4ab896e7b886698b3eac","deleted":"2022-10-18T10:06:29.417Z"}}`
	if string(body) != want {
		t.Errorf("\n got %s\nwant %s", body, want)
	}
}

func TestConversationOpened(t *testing.T) {
	body := render(t, contactEvent(t, herald.EventConversationOpened, johnDoe()), "")
	want := `{"event":"conversation_opened","payload":{"source":"whatsapp","href":"` + conversationURL + `",` +
		`"contact":` + johnDoeJSON + `,"createdAt":"2022-10-18T09:58:02Z"}}`
	if string(body) != want {
		t.Errorf("\n got %s\nwant %s", body, want)
	}
}

func TestConversationClosed(t *testing.T) {
	c := johnDoe()
	closed := time.Date(2022, 10, 18, 14, 30, 0, 250_000_000, time.FixedZone("CEST", 2*3600))
	c.ClosedAt = &closed
	c.ClosingReason = "Resolved: order shipped"
	body := render(t, contactEvent(t, herald.EventConversationClosed, c), "")
	closedJSON := strings.Replace(johnDoeJSON, `"closedAt":null`, `"closedAt":"2022-10-18T12:30:00Z"`, 1)
	want := `{"event":"conversation_closed","payload":{"source":"whatsapp","href":"` + conversationURL + `",` +
		`"contact":` + closedJSON + `,"closingReason":"Resolved: order shipped",` +
		`"createdAt":"2022-10-18T09:58:02Z","closedAt":"2022-10-18T12:30:00Z"}}`
	if string(body) != want {
		t.Errorf("\n got %s\nwant %s", body, want)
	}

	// Without a reason, closingReason is null: the key set stays Callbell's.
	c.ClosingReason = ""
	body = render(t, contactEvent(t, herald.EventConversationClosed, c), "")
	wantKeys(t, body, []string{"source", "href", "contact", "closingReason", "createdAt", "closedAt"}, "payload")
	if !strings.Contains(string(body), `"closingReason":null,`) {
		t.Errorf("closingReason without a reason: %s", body)
	}
}

func TestMessageStatusUpdated(t *testing.T) {
	m := outbound(text("Your order shipped."))
	m.Channel.Status = herald.ChannelDelivered
	m.Channel.StatusPayload = json.RawMessage(`{"id": "wamid.HBgL", "status": "delivered", "timestamp": "1666087589"}`)
	m.Channel.Metadata = map[string]string{"order_id": "A-1001", "agent": "eve"}
	body := render(t, messageEvent(t, herald.EventMessageStatusUpdated, m), "")
	want := `{"event":"message_status_updated","payload":{"uuid":"0f8e2d4c6b1a4c3e9d7f5a2b8c1e4f60","status":"delivered",` +
		`"contact":` + johnDoeJSON + `,"messageStatusPayload":{"id":"wamid.HBgL","status":"delivered","timestamp":"1666087589"},` +
		`"metadata":{"agent":"eve","order_id":"A-1001"}}}`
	if string(body) != want {
		t.Errorf("\n got %s\nwant %s", body, want)
	}

	// No payload, no metadata: both keys left out.
	m.Channel.Status = herald.ChannelFailed
	m.Channel.StatusPayload = nil
	m.Channel.Metadata = nil
	body = render(t, messageEvent(t, herald.EventMessageStatusUpdated, m), "")
	wantKeys(t, body, []string{"uuid", "status", "contact"}, "payload")
	wantString(t, body, "failed", "payload", "status")
}

func TestOutgoingTextMessage(t *testing.T) {
	m := outbound(text("Hi John,"), text("your order shipped."))
	m.Channel.Metadata = map[string]string{"order_id": "A-1001", "agent": "eve"}
	m.SentAt = time.Date(2022, 10, 18, 16, 1, 2, 345_678_000, time.FixedZone("CEST", 2*3600))
	body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
	want := `{"event":"message_created","payload":{"to":"331122334455","from":"14155550100",` +
		`"text":"Hi John,\nyour order shipped.","status":"sent","channel":"whatsapp","contact":` + johnDoeJSON + `,` +
		`"createdAt":"2022-10-18T14:01:02.345+00:00","metadata":{"agent":"eve","order_id":"A-1001"}}}`
	if string(body) != want {
		t.Errorf("\n got %s\nwant %s", body, want)
	}
}

// A message without text has an empty text, and no attachments key when it
// has no attachments either.
func TestMessageWithoutText(t *testing.T) {
	body := render(t, messageEvent(t, herald.EventMessageSent, inbound(jsonPart(herald.MimeLocation, `{"coordinates":{"x":1,"y":2}}`))), "")
	wantKeys(t, body, []string{"to", "from", "text", "status", "channel", "contact", "messageLocation", "createdAt"}, "payload")
	wantString(t, body, "", "payload", "text")
}

func TestAttachments(t *testing.T) {
	const contentID = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
	u := builder()
	download, _ := u.ContentDownload(contentID)
	m := inbound(
		text("Here is the invoice and a photo"),
		herald.Part{MimeType: herald.MimeURIList, Body: "https://files.example.com/invoice.pdf?sig=a&b=c"},
		herald.Part{MimeType: "image/jpeg", Content: &herald.ContentRef{ID: contentID, Size: 48213}},
		herald.Part{MimeType: herald.MimeURIList + "; charset=utf-8", Body: "# two more\r\nhttps://a.example/1.png\r\nhttps://a.example/2.png\r\n"},
	)
	body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
	wantKeys(t, body, []string{"to", "from", "text", "attachments", "status", "channel", "contact", "createdAt"}, "payload")
	var got []string
	if err := json.Unmarshal(seedtest.Member(t, body, "payload", "attachments"), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"https://files.example.com/invoice.pdf?sig=a&b=c", download, "https://a.example/1.png", "https://a.example/2.png"}
	if !slices.Equal(got, want) {
		t.Fatalf("attachments = %q, want %q", got, want)
	}
	wantString(t, body, "Here is the invoice and a photo", "payload", "text")
	// The download URL is Herald's signed URL of the content, and opens it.
	if !strings.HasPrefix(got[1], base+"/content/"+contentID+"?") {
		t.Errorf("attachment %q is not Herald's content download URL", got[1])
	}
	du, err := url.Parse(got[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Verify(du.Query(), urls.Download, contentID); err != nil {
		t.Errorf("the download URL does not verify: %v", err)
	}
	if !bytes.Contains(body, []byte(`?sig=a&b=c"`)) {
		t.Errorf("'&' is escaped in the body:\n%s", body)
	}
}

// The download URL is signed when rendered, so a retried delivery carries a
// URL that still works.
func TestAttachmentURLsAreFreshAtRender(t *testing.T) {
	const contentID = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
	f := format()
	e := messageEvent(t, herald.EventMessageSent, inbound(herald.Part{MimeType: "image/png", Content: &herald.ContentRef{ID: contentID, Size: 10}}))
	for _, now := range []time.Time{renderTime, renderTime.Add(5 * time.Hour)} {
		f.URLs.Now = func() time.Time { return now }
		body, _, err := f.Render(e, decoded(t, e), webhook(""))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		json.Unmarshal(seedtest.Member(t, body, "payload", "attachments"), &got)
		du, err := url.Parse(got[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := f.URLs.Verify(du.Query(), urls.Download, contentID); err != nil {
			t.Errorf("rendered at %v: the download URL does not verify then: %v", now, err)
		}
	}
}

// Parts in base64 are decoded.
func TestBase64Parts(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	m := inbound(
		herald.Part{MimeType: herald.MimeText, Body: b64("Grüße"), Encoding: "base64"},
		herald.Part{MimeType: herald.MimeLocation, Body: b64(`{"coordinates":{"x":1.5,"y":2}}`), Encoding: "base64"},
	)
	body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
	wantString(t, body, "Grüße", "payload", "text")
	wantJSON(t, body, `{"coordinates":{"x":1.5,"y":2}}`, "payload", "messageLocation")
}

// The interactive list's metadata is a JSON-encoded string, as Callbell
// sends it, whatever way it was stored; other members stay where they are.
func TestInteractiveListMetadata(t *testing.T) {
	for _, tc := range []struct{ stored, want string }{
		{`{"metadata": {"header": "Menu", "b": [1, 2], "a": "<&>"}}`, `{"metadata":"{\"header\":\"Menu\",\"b\":[1,2],\"a\":\"<&>\"}"}`},
		{`{"metadata": [{"title": "x"}]}`, `{"metadata":"[{\"title\":\"x\"}]"}`},
		{`{"metadata": "{\"header\":\"Menu\"}"}`, `{"metadata":"{\"header\":\"Menu\"}"}`},
		{`{"z": 1, "metadata": {"k": "v"}, "a": {"n": null}}`, `{"z":1,"metadata":"{\"k\":\"v\"}","a":{"n":null}}`},
		{`{"metadata": null}`, `{"metadata":null}`},
	} {
		body := render(t, messageEvent(t, herald.EventMessageSent, inbound(jsonPart(herald.MimeInteractiveList, tc.stored))), "")
		wantJSON(t, body, tc.want, "payload", "messageInteractiveList")
	}
}

// JSON part bodies pass through with their keys in their own order.
func TestPartBodiesKeepTheirKeyOrder(t *testing.T) {
	m := inbound(
		jsonPart(herald.MimeContactCard, `{"zeta": 1, "alpha": {"y": 2, "x": 3}}`),
		jsonPart(herald.MimeReplyButtons, `{"metadata": {"type": "quick_reply", "options": [], "content": {"text": "?"}}}`),
	)
	body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
	wantJSON(t, body, `{"zeta":1,"alpha":{"y":2,"x":3}}`, "payload", "messageContactCard")
	wantJSON(t, body, `{"metadata":{"type":"quick_reply","options":[],"content":{"text":"?"}}}`, "payload", "messageReplyButton")
}

func replyTo() *herald.MessageRef {
	return &herald.MessageRef{ID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Text: "Do you open on Sundays?",
		Direction: herald.DirectionReceived, Channel: "whatsapp", From: contactPhone, To: businessPhone,
		SentAt: time.Date(2022, 10, 18, 11, 0, 0, 0, time.FixedZone("CEST", 2*3600))}
}

const replyContextJSON = `{"target":{"uuid":"7c9e6679742540de944be07fc1f90ae7","text":"Do you open on Sundays?",` +
	`"status":"received","channel":"whatsapp","from":"331122334455","to":"14155550100",` +
	`"createdAt":"2022-10-18T09:00:00.000+00:00"},"text":"Do you open on Sundays?",` +
	`"createdAt":"2022-10-18T09:00:00.000+00:00","status":"received"}`

func TestReplyContext(t *testing.T) {
	m := outbound(text("Yes, from 10 to 4."))
	m.Channel.ReplyTo = replyTo()
	e := messageEvent(t, herald.EventMessageSent, m)
	for _, tc := range []struct {
		config string
		keys   []string
	}{
		{"", []string{"messageContext"}},
		{"null", []string{"messageContext"}},
		{"{}", []string{"messageContext"}},
		{`{"context_field": "messageContext"}`, []string{"messageContext"}},
		{`{"context_field": "mesageContext"}`, []string{"mesageContext"}},
		{`{"context_field": "both"}`, []string{"messageContext", "mesageContext"}},
	} {
		body := render(t, e, tc.config)
		want := append(append([]string{"to", "from", "text", "status", "channel", "contact"}, tc.keys...), "createdAt")
		wantKeys(t, body, want, "payload")
		for _, k := range tc.keys {
			wantJSON(t, body, replyContextJSON, "payload", k)
		}
	}
}

func TestForward(t *testing.T) {
	m := inbound(text("look at this"))
	m.Channel.Forwarded = true
	body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
	wantKeys(t, body, []string{"to", "from", "text", "status", "channel", "contact", "messageForward", "createdAt"}, "payload")
	wantJSON(t, body, `{"forwarded":true}`, "payload", "messageForward")

	// With every optional field, in Callbell's order.
	m = inbound(text("all of it"),
		jsonPart(herald.MimeInteractiveList, `{"metadata":"{}"}`),
		jsonPart(herald.MimeReplyButtons, `{"metadata":{}}`),
		jsonPart(herald.MimeContactCard, `{"contactsInfo":[]}`),
		jsonPart(herald.MimeLocation, `{"coordinates":{"x":0,"y":0}}`),
		herald.Part{MimeType: herald.MimeURIList, Body: "https://a.example/x"})
	m.Channel.Forwarded = true
	m.Channel.ReplyTo = replyTo()
	m.Channel.Metadata = map[string]string{"k": "v"}
	body = render(t, messageEvent(t, herald.EventMessageSent, m), `{"context_field":"both"}`)
	wantKeys(t, body, []string{"to", "from", "text", "attachments", "status", "channel", "contact",
		"messageLocation", "messageContactCard", "messageReplyButton", "messageInteractiveList",
		"messageContext", "mesageContext", "messageForward", "createdAt", "metadata"}, "payload")

	m.Channel.Forwarded = false
	body = render(t, messageEvent(t, herald.EventMessageSent, m), "")
	if seedtest.HasMember(t, body, "messageForward", "payload") {
		t.Errorf("a message that was not forwarded has messageForward:\n%s", body)
	}
}

// A message of an ordinary conversation is not a Callbell message.
func TestNonChannelMessage(t *testing.T) {
	m := inbound(text("hi"))
	m.Channel = nil
	e := event(t, herald.EventMessageSent, herald.EventData{Message: m, Conversation: conversation()})
	body, ok, err := format().Render(e, decoded(t, e), webhook(""))
	if body != nil || ok || err != nil {
		t.Errorf("Render = %q, %v, %v; want nil, false, nil", body, ok, err)
	}
}

// Events Callbell has no webhook for are not rendered.
func TestOtherEvents(t *testing.T) {
	for _, typ := range []string{herald.EventIdentityCreated, herald.EventConversationCreated,
		herald.EventMessageDelivered, herald.EventMessageRead, herald.EventMessageDeleted,
		herald.EventContentUploaded, herald.EventAnnouncementSent, "message_created", ""} {
		e := messageEvent(t, typ, inbound(text("hi")))
		body, ok, err := format().Render(e, decoded(t, e), webhook(`{"context_field":"bad"}`))
		if body != nil || ok || err != nil {
			t.Errorf("Render(%q) = %q, %v, %v; want nil, false, nil", typ, body, ok, err)
		}
	}
}

func TestEventType(t *testing.T) {
	f := format()
	for typ, want := range map[string]string{
		herald.EventMessageSent:           "message_created",
		herald.EventMessageStatusUpdated:  "message_status_updated",
		herald.EventContactCreated:        "contact_created",
		herald.EventContactUpdated:        "contact_updated",
		herald.EventContactDeleted:        "contact_deleted",
		herald.EventConversationOpened:    "conversation_opened",
		herald.EventConversationClosed:    "conversation_closed",
		herald.EventAgentStatusUpdated:    "agent_status_updated",
		herald.EventAgentSessionUpdated:   "agent_session_updated",
		herald.EventTeamMembershipUpdated: "team_membership_updated",
		herald.EventAgentUpdated:          "",
		herald.EventTeamCreated:           "",
		herald.EventConversationCreated:   "",
		herald.EventConversationDeleted:   "",
		herald.EventMessageRead:           "",
		herald.EventMessageDelivered:      "",
		herald.EventMessageDeleted:        "",
		herald.EventMessageDeletedForUser: "",
		herald.EventIdentityUpdated:       "",
		herald.EventAnnouncementSent:      "",
		"message_created":                 "",
		"":                                "",
	} {
		if got := f.EventType(&herald.Event{Type: typ}, callbell.Versions[0]); got != want {
			t.Errorf("EventType(%q) = %q, want %q", typ, got, want)
		}
	}
	want := []string{"message_created", "message_status_updated", "contact_created", "contact_updated",
		"contact_deleted", "conversation_opened", "conversation_closed",
		"agent_status_updated", "agent_session_updated", "team_membership_updated"}
	if !slices.Equal(f.EventTypes(callbell.Versions[0]), want) || !slices.Equal(callbell.EventTypes, want) {
		t.Errorf("EventTypes = %v, want %v", f.EventTypes(callbell.Versions[0]), want)
	}
	// Every event type is what EventType names some Herald event.
	for _, name := range want {
		found := false
		for _, typ := range []string{herald.EventMessageSent, herald.EventMessageStatusUpdated, herald.EventContactCreated,
			herald.EventContactUpdated, herald.EventContactDeleted, herald.EventConversationOpened, herald.EventConversationClosed,
			herald.EventAgentStatusUpdated, herald.EventAgentSessionUpdated, herald.EventTeamMembershipUpdated} {
			found = found || f.EventType(&herald.Event{Type: typ}, callbell.Versions[0]) == name
		}
		if !found {
			t.Errorf("no Herald event maps to %q", name)
		}
	}
	if got := f.Versions(); !slices.Equal(got, []string{"1"}) {
		t.Errorf("Versions = %v, want [1]", got)
	}
}

func TestCheckConfig(t *testing.T) {
	for _, ok := range []string{"", " ", "null", "{}", ` { } `, `{"context_field":"messageContext"}`,
		`{"context_field":"mesageContext"}`, `{"context_field": "both"}`} {
		if err := callbell.CheckConfig(json.RawMessage(ok)); err != nil {
			t.Errorf("CheckConfig(%s): %v", ok, err)
		}
	}
	if err := callbell.CheckConfig(nil); err != nil {
		t.Errorf("CheckConfig(nil): %v", err)
	}
	for _, tc := range []struct{ config, property string }{
		{`{"context_field":"messagecontext"}`, "config.context_field"},
		{`{"context_field":"MessageContext"}`, "config.context_field"},
		{`{"context_field":""}`, "config.context_field"},
		{`{"context_field":1}`, "config.context_field"},
		{`{"context_field":null}`, "config.context_field"},
		{`{"context_field":["both"]}`, "config.context_field"},
		{`{"contextField":"both"}`, "config.contextField"},
		{`{"context_field":"both","key1":"value1"}`, "config.key1"},
		{`[1]`, "config"},
		{`"both"`, "config"},
		{`{"context_field":`, "config"},
		{`{"context_field":"both"} x`, "config"},
	} {
		err := callbell.CheckConfig(json.RawMessage(tc.config))
		if err == nil {
			t.Errorf("CheckConfig(%s): no error", tc.config)
			continue
		}
		he, ok := herald.AsError(err)
		if !ok || he.ID != herald.EInvalidProperty || he.Data["property"] != tc.property {
			t.Errorf("CheckConfig(%s) = %#v, want an invalid_property error about %s", tc.config, err, tc.property)
		}
		if !strings.Contains(err.Error(), tc.property) {
			t.Errorf("CheckConfig(%s): the message %q does not name %s", tc.config, err, tc.property)
		}
		// Render refuses a webhook with such a config.
		e := messageEvent(t, herald.EventMessageSent, inbound(text("hi")))
		if _, ok, err := format().Render(e, decoded(t, e), webhook(tc.config)); err == nil || ok {
			t.Errorf("Render with config %s: ok = %v, err = %v; want an error", tc.config, ok, err)
		}
	}
	if !slices.Equal(callbell.ContextFields, []string{"messageContext", "mesageContext", "both"}) {
		t.Errorf("ContextFields = %v", callbell.ContextFields)
	}
}

func TestMalformedEvents(t *testing.T) {
	noContact := func(typ string, m *herald.Message) *herald.Event {
		return event(t, typ, herald.EventData{Message: m, Conversation: conversation()})
	}
	notClosed := johnDoe()
	noConversation := johnDoe()
	noConversation.ConversationID = ""
	statusWithoutChannel := outbound(text("x"))
	statusWithoutChannel.Channel = nil
	for name, e := range map[string]*herald.Event{
		"data not JSON":                 {ID: "1", AppID: appID, Type: herald.EventContactCreated, Data: json.RawMessage(`not json`)},
		"message.sent without message":  event(t, herald.EventMessageSent, herald.EventData{Contact: johnDoe()}),
		"message.sent without contact":  noContact(herald.EventMessageSent, inbound(text("x"))),
		"status without message":        event(t, herald.EventMessageStatusUpdated, herald.EventData{Contact: johnDoe()}),
		"status without contact":        noContact(herald.EventMessageStatusUpdated, outbound(text("x"))),
		"status without channel":        messageEvent(t, herald.EventMessageStatusUpdated, statusWithoutChannel),
		"contact.created without":       event(t, herald.EventContactCreated, herald.EventData{Conversation: conversation()}),
		"contact.deleted without":       event(t, herald.EventContactDeleted, herald.EventData{}),
		"conversation.opened without":   event(t, herald.EventConversationOpened, herald.EventData{Conversation: conversation()}),
		"closed without closed_at":      contactEvent(t, herald.EventConversationClosed, notClosed),
		"contact without conversation":  event(t, herald.EventContactCreated, herald.EventData{Contact: noConversation}),
		"location not JSON":             messageEvent(t, herald.EventMessageSent, inbound(jsonPart(herald.MimeLocation, `{"x":`))),
		"contact card not JSON":         messageEvent(t, herald.EventMessageSent, inbound(jsonPart(herald.MimeContactCard, `hello`))),
		"interactive list not object":   messageEvent(t, herald.EventMessageSent, inbound(jsonPart(herald.MimeInteractiveList, `["x"]`))),
		"interactive list trailing":     messageEvent(t, herald.EventMessageSent, inbound(jsonPart(herald.MimeInteractiveList, `{"metadata":"x"} {}`))),
		"text not base64":               messageEvent(t, herald.EventMessageSent, inbound(herald.Part{MimeType: herald.MimeText, Body: "!!", Encoding: "base64"})),
		"unknown part encoding":         messageEvent(t, herald.EventMessageSent, inbound(herald.Part{MimeType: herald.MimeText, Body: "x", Encoding: "rot13"})),
		"message.sent data not JSON":    {ID: "2", AppID: appID, Type: herald.EventMessageSent, Data: json.RawMessage(`[]`)},
		"contact.updated data is empty": {ID: "3", AppID: appID, Type: herald.EventContactUpdated},
	} {
		// Data that is not an event's is refused when decoded, before
		// any format renders it.
		d, err := e.DecodeData()
		if err != nil {
			continue
		}
		body, ok, err := format().Render(e, d, webhook(""))
		if err == nil || ok || body != nil {
			t.Errorf("%s: Render = %q, %v, %v; want an error", name, body, ok, err)
		} else if !strings.HasPrefix(err.Error(), "callbell: ") {
			t.Errorf("%s: error %q does not say it is callbell's", name, err)
		}
	}
}

func TestUnknownVersion(t *testing.T) {
	e := contactEvent(t, herald.EventContactCreated, johnDoe())
	for _, v := range []string{"1", ""} {
		w := webhook("")
		w.Version = v
		if _, ok, err := format().Render(e, decoded(t, e), w); !ok || err != nil {
			t.Errorf("version %q: ok = %v, err = %v", v, ok, err)
		}
	}
	for _, v := range []string{"2", "1.0", "2.0"} {
		w := webhook("")
		w.Version = v
		if _, ok, err := format().Render(e, decoded(t, e), w); ok || err == nil {
			t.Errorf("version %q: ok = %v, err = %v; want an error", v, ok, err)
		}
	}
}

// The same event renders to the same bytes.
func TestRenderIsDeterministic(t *testing.T) {
	m := outbound(text("hi"), herald.Part{MimeType: "image/png", Content: &herald.ContentRef{ID: "c1", Size: 1}})
	m.Channel.Metadata = map[string]string{"z": "1", "a": "2", "m": "3", "b": "4", "y": "5"}
	m.Channel.ReplyTo = replyTo()
	e := messageEvent(t, herald.EventMessageSent, m)
	first := render(t, e, `{"context_field":"both"}`)
	for range 20 {
		if again := render(t, e, `{"context_field":"both"}`); !bytes.Equal(first, again) {
			t.Fatalf("renders differently:\n%s\n%s", first, again)
		}
	}
}

// Callbell's message has one location (contact card, ...): a second part of
// the same kind is left out, the first kept.
func TestOnePartOfEachKind(t *testing.T) {
	m := inbound(
		jsonPart(herald.MimeLocation, `{"coordinates":{"x":1,"y":1}}`),
		jsonPart(herald.MimeLocation, `{"coordinates":{"x":2,"y":2}}`),
	)
	body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
	wantJSON(t, body, `{"coordinates":{"x":1,"y":1}}`, "payload", "messageLocation")
}
