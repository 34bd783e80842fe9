package callbell_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/internal/seedtest"
	"github.com/heraldhq/herald/urls"
)

const (
	base        = "https://herald.example.com"
	appID       = "0b5f3c2e-9a41-4d8e-8f3a-2c6d1e7b9a10"
	channelUUID = "5d1c9a7e-3b2f-4e6a-9c8d-7f1e2a3b4c5d"
	// The seed's contact and conversation, in the 36-character form
	// Herald stores.
	contactUUID    = "eb2b914a-977e-4ab8-96e7-b886698b3eac"
	conversationID = "f3670b13-446b-4127-9623-8b1cd78899f9"
	messageID      = "0f8e2d4c-6b1a-4c3e-9d7f-5a2b8c1e4f60"
	eventID        = "c12f340d-3b62-4cf1-9b93-ef4d754cfe69"

	// The addresses of the seed's received message: from seedFrom to
	// seedTo, which is also the contact's phoneNumber. (Callbell's
	// example gives the contact's number as the "to" of a message the
	// contact sent; Herald passes the message's addresses through as they
	// are, so the test keeps the seed's values.)
	seedFrom     = "335544332211"
	seedTo       = "331122334455"
	contactPhone = seedTo
	// businessPhone is the business's WhatsApp number in the other tests.
	businessPhone = "14155550100"
)

// renderTime is the clock of the URL builder, so that signed download URLs
// are the same on every render.
var renderTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Instants of the situations, in UTC.
var (
	contactCreated = time.Date(2022, 10, 12, 15, 57, 16, 0, time.UTC)
	opened         = time.Date(2022, 10, 18, 9, 58, 2, 0, time.UTC)
	sentAt         = time.Date(2022, 10, 18, 10, 6, 29, 0, time.UTC) // the seed's 12:06:29+02:00
	eventAt        = time.Date(2022, 10, 18, 10, 6, 29, 417_000_000, time.UTC)
)

// Herald's URLs of John Doe and of his conversation.
const (
	conversationURL = base + "/apps/" + appID + "/conversations/" + conversationID
	contactURL      = base + "/v1/contacts/eb2b914a977e4ab896e7b886698b3eac"
)

func builder() *urls.Builder {
	return &urls.Builder{Base: base, Key: []byte("test signing key"), Now: func() time.Time { return renderTime }}
}

func format() callbell.Format { return callbell.Format{URLs: builder()} }

// johnDoe is the seed's contact: John Doe, a WhatsApp lead, no avatar.
func johnDoe() *herald.Contact {
	return &herald.Contact{
		UUID: contactUUID, AppID: appID, ChannelUUID: channelUUID, Source: "whatsapp",
		Name: "John Doe", PhoneNumber: contactPhone, Tags: []string{"Lead"},
		CreatedAt: contactCreated, UpdatedAt: contactCreated,
		ConversationID: conversationID, OpenedAt: opened,
	}
}

func whatsapp() *herald.Channel {
	return &herald.Channel{UUID: channelUUID, AppID: appID, Type: "whatsapp", Identifier: businessPhone,
		Title: "Support", Main: true, CreatedAt: contactCreated.Add(-24 * time.Hour)}
}

func conversation() *herald.Conversation {
	return &herald.Conversation{ID: conversationID, AppID: appID, Participants: []string{contactUUID},
		CreatedAt: contactCreated, LastPosition: 1}
}

func text(body string) herald.Part { return herald.Part{MimeType: herald.MimeText, Body: body} }

// jsonPart is a channel part whose body is the given JSON text, stored as
// it is.
func jsonPart(mime, body string) herald.Part { return herald.Part{MimeType: mime, Body: body} }

// inbound is a message John Doe sent the business on WhatsApp.
func inbound(parts ...herald.Part) *herald.Message {
	return &herald.Message{
		ID: messageID, AppID: appID, ConversationID: conversationID, Position: 1,
		Sender: herald.Sender{UserID: contactUUID}, Parts: parts, SentAt: sentAt,
		RecipientStatus: map[string]string{contactUUID: herald.StatusSent},
		Channel: &herald.MessageChannel{ChannelUUID: channelUUID, Channel: "whatsapp", ContactUUID: contactUUID,
			Direction: herald.DirectionReceived, From: seedFrom, To: seedTo},
	}
}

// outbound is a message the business sent John Doe on WhatsApp.
func outbound(parts ...herald.Part) *herald.Message {
	m := inbound(parts...)
	m.Sender = herald.Sender{Name: "Support"}
	m.Channel.Direction = herald.DirectionSent
	m.Channel.Status = herald.ChannelEnqueued
	m.Channel.From, m.Channel.To = businessPhone, contactPhone
	return m
}

// event records d as the data of an event of type typ, as the store does.
func event(t testing.TB, typ string, d herald.EventData) *herald.Event {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return &herald.Event{Seq: 7, ID: eventID, AppID: appID, Type: typ, CreatedAt: eventAt, Data: b}
}

// messageEvent is the event of a channel message of John Doe's conversation.
func messageEvent(t testing.TB, typ string, m *herald.Message) *herald.Event {
	return event(t, typ, herald.EventData{Message: m, Conversation: conversation(), Contact: johnDoe(), Channel: whatsapp()})
}

func contactEvent(t testing.TB, typ string, c *herald.Contact) *herald.Event {
	return event(t, typ, herald.EventData{Contact: c, Conversation: conversation(), Channel: whatsapp()})
}

func webhook(config string) *herald.Webhook {
	w := &herald.Webhook{ID: "wh-1", AppID: appID, Format: herald.FormatCallbell, Version: "1", Secret: "whsec_test"}
	if config != "" {
		w.Config = json.RawMessage(config)
	}
	return w
}

// render renders e for a webhook with config and fails unless it renders.
func render(t *testing.T, e *herald.Event, config string) []byte {
	t.Helper()
	body, ok, err := format().Render(e, decoded(t, e), webhook(config))
	if err != nil {
		t.Fatalf("Render(%s): %v", e.Type, err)
	}
	if !ok {
		t.Fatalf("Render(%s): ok = false", e.Type)
	}
	if bytes.HasSuffix(body, []byte("\n")) {
		t.Errorf("Render(%s): the body ends with a newline", e.Type)
	}
	return body
}

// keys returns the keys of the object at path, in document order.
func keys(t *testing.T, doc []byte, path ...string) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(seedtest.Member(t, doc, path...)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not an object", strings.Join(path, "."))
	}
	var out []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func wantKeys(t *testing.T, doc []byte, want []string, path ...string) {
	t.Helper()
	if got := keys(t, doc, path...); !reflect.DeepEqual(got, want) {
		t.Errorf("keys of %s = %v, want %v (in this order)", "$."+strings.Join(path, "."), got, want)
	}
}

// wantJSON checks the raw JSON at path, byte for byte.
func wantJSON(t *testing.T, doc []byte, want string, path ...string) {
	t.Helper()
	if got := string(seedtest.Member(t, doc, path...)); got != want {
		t.Errorf("%s =\n  %s\nwant\n  %s", "$."+strings.Join(path, "."), got, want)
	}
}

// wantString checks the string at path.
func wantString(t *testing.T, doc []byte, want string, path ...string) {
	t.Helper()
	var got string
	if err := json.Unmarshal(seedtest.Member(t, doc, path...), &got); err != nil {
		t.Fatalf("%s is not a string: %v", "$."+strings.Join(path, "."), err)
	}
	if got != want {
		t.Errorf("%s = %q, want %q", "$."+strings.Join(path, "."), got, want)
	}
}

// johnDoeJSON is John Doe's contact object, as Herald renders it.
const johnDoeJSON = `{"href":"` + contactURL + `","conversationHref":"` + conversationURL + `",` +
	`"name":"John Doe","tags":["Lead"],"uuid":"eb2b914a977e4ab896e7b886698b3eac","source":"whatsapp",` +
	`"avatarUrl":null,"createdAt":"2022-10-12T15:57:16Z","phoneNumber":"331122334455"` + johnDoeCRM + `}`

// johnDoeCRM is the end of John Doe's contact object: the fields of
// Callbell's contact object (object_types/contact.md) that the docs'
// webhook examples, and so the seeds, leave out.
const johnDoeCRM = `,"assignedUser":null,"customFields":{},"closedAt":null,"blockedAt":null,"funnelId":null,"team":null,` +
	`"channel":{"uuid":"5d1c9a7e3b2f4e6a9c8d7f1e2a3b4c5d","title":"Support","type":"whatsapp","main":true,"discardedAt":null},` +
	`"note":null`

// withoutCRM returns body without John Doe's CRM fields, once, for a
// comparison with a seed.
func withoutCRM(t *testing.T, body []byte) []byte {
	t.Helper()
	if n := bytes.Count(body, []byte(johnDoeCRM)); n != 1 {
		t.Fatalf("the body holds John Doe's CRM fields %d times, want once:\n%s", n, body)
	}
	return bytes.Replace(body, []byte(johnDoeCRM), nil, 1)
}

// decoded is an event's data as the delivery engine hands it to Render.
func decoded(tb testing.TB, e *herald.Event) *herald.EventData {
	tb.Helper()
	d, err := e.DecodeData()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
