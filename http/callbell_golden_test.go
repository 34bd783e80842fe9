package http_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/seedtest"
)

// End-to-end tests of the Callbell wire format: situations built through
// the /v1 API, delivered over HTTP to loopback receivers, compared with the
// seeds (Callbell's documented payloads) and with Callbell's key sets.

// The addresses of the seed's message_created: the business's WhatsApp
// number (the channel's identifier) and John Doe's.
const (
	seedChannelNumber = "335544332211"
	seedContactNumber = "331122334455"
	// seedContactUUID is John Doe's uuid in the seed.
	seedContactUUID = "eb2b914a977e4ab896e7b886698b3eac"
)

// contactObjectKeys are the keys of Callbell's contact object in webhook
// payloads, in Callbell's order.
var contactObjectKeys = []string{"href", "conversationHref", "name", "tags", "uuid", "source", "avatarUrl", "createdAt", "phoneNumber",
	"assignedUser", "customFields", "closedAt", "blockedAt", "funnelId", "team", "channel", "note"}

// crmFieldsAt is where the fields of Callbell's contact object that the
// docs' webhook examples (and so the seeds) leave out begin: they follow
// phoneNumber, the last of the examples' fields.
const crmFieldsAt = `,"assignedUser":`

// withoutCRMFields returns body without the contact's fields from
// assignedUser to the end of the contact object, once, so that a payload
// compares with a seed whose fields are the examples'.
func withoutCRMFields(t *testing.T, body []byte) []byte {
	t.Helper()
	start := bytes.Index(body, []byte(crmFieldsAt))
	if start < 0 || bytes.Count(body, []byte(crmFieldsAt)) != 1 {
		t.Fatalf("the body does not hold the contact's CRM fields once:\n%s", body)
	}
	depth, inString := 0, false
	for i := start + 1; i < len(body); i++ {
		switch c := body[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return append(append([]byte{}, body[:start]...), body[i:]...)
			}
			depth--
		}
	}
	t.Fatalf("the contact object does not end:\n%s", body)
	return nil
}

// Time layouts of Callbell's payloads.
const (
	cbContactTime = "2006-01-02T15:04:05Z"          // a contact's or conversation's createdAt
	cbMessageTime = "2006-01-02T15:04:05.000-07:00" // a message's createdAt
	cbDeletedTime = "2006-01-02T15:04:05.000Z07:00" // contact_deleted's deleted
)

// v1 sends a request to the Callbell-compatible API (/v1/...).
func (a *api) v1(t *testing.T, method, path string, body any) *response {
	t.Helper()
	return a.in(t).do(method, "//v1"+path, body)
}

// cbChannel configures a WhatsApp channel and returns its uuid.
func (a *api) cbChannel(t *testing.T, identifier string) string {
	t.Helper()
	ch := obj(t, a.v1(t, "POST", "/channels", map[string]any{"type": "whatsapp", "identifier": identifier}).
		must(t, 201).Map(t)["channel"])
	if ch["identifier"] != identifier || ch["type"] != "whatsapp" {
		t.Fatalf("channel %v", ch)
	}
	return ch["uuid"].(string)
}

// cbSubscribe subscribes the app's Callbell webhook (creating it: 201 with
// its secret) and returns the response.
func (a *api) cbSubscribe(t *testing.T, url string, config any, events ...string) map[string]any {
	t.Helper()
	body := map[string]any{"url": url, "subscriptions": events}
	if config != nil {
		body["config"] = config
	}
	res := a.v1(t, "POST", "/webhooks/subscribe", body).must(t, 201).Map(t)
	if s, _ := res["secret"].(string); !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("subscribe: no whsec_ secret in %v", res)
	}
	if wh := obj(t, res["webhook"]); wh["enabled"] != true {
		t.Fatalf("subscribe: the webhook is not enabled at once: %v", wh)
	}
	return res
}

// cbResubscribe changes the existing webhook: 200, no secret.
func (a *api) cbResubscribe(t *testing.T, url string, config any, events ...string) map[string]any {
	t.Helper()
	res := a.v1(t, "POST", "/webhooks/subscribe", map[string]any{"url": url, "subscriptions": events, "config": config}).
		must(t, 200).Map(t)
	if _, ok := res["secret"]; ok {
		t.Fatalf("re-subscribing shows the secret again: %v", res)
	}
	return res
}

// cbContact creates a contact and returns it as the API renders it.
func (a *api) cbContact(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	return obj(t, a.v1(t, "POST", "/contacts", body).must(t, 201).Map(t)["contact"])
}

// cbGetContact returns a contact as the API renders it now.
func (a *api) cbGetContact(t *testing.T, uuid string) map[string]any {
	t.Helper()
	return obj(t, a.v1(t, "GET", "/contacts/"+uuid, nil).must(t, 200).Map(t)["contact"])
}

// johnDoe creates the seed's contact: John Doe, a WhatsApp lead.
func (a *api) johnDoe(t *testing.T) map[string]any {
	t.Helper()
	return a.cbContact(t, map[string]any{"identifier": seedContactNumber, "source": "whatsapp", "name": "John Doe",
		"tags": []string{"Lead"}})
}

// cbConversation is the local id of a contact's conversation, the last
// segment of its conversationHref.
func cbConversation(t *testing.T, contact map[string]any) string {
	t.Helper()
	href, _ := contact["conversationHref"].(string)
	if !strings.Contains(href, "/conversations/") {
		t.Fatalf("conversationHref %q is not a conversation URL", href)
	}
	return localID(href)
}

// cbEvent is the Callbell event name of a delivery ("" if the body is not
// Callbell's envelope).
func cbEvent(h *hit) string {
	var p struct {
		Event string `json:"event"`
	}
	json.Unmarshal(h.Body, &p)
	return p.Event
}

// cbWait waits until n deliveries arrived and returns them, checking each
// is a Callbell envelope {event, payload}.
func cbWait(t *testing.T, rc *receiver, n int) []*hit {
	t.Helper()
	hits := rc.waitHits(t, n)
	for _, h := range hits {
		cbWantKeys(t, "delivery "+string(h.Body), h.Body, []string{"event", "payload"})
	}
	return hits
}

// cbEvents lists the event names of deliveries.
func cbEvents(hits []*hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, cbEvent(h))
	}
	return out
}

// cbString returns the string at path.
func cbString(t *testing.T, doc []byte, path ...string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(seedtest.Member(t, doc, path...), &s); err != nil {
		t.Fatalf("$.%s is not a string in %s", strings.Join(path, "."), doc)
	}
	return s
}

// cbValue decodes the value at path.
func cbValue(t *testing.T, doc []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(seedtest.Member(t, doc, path...), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// cbKeys returns the keys of the object at path, in document order.
func cbKeys(t *testing.T, doc []byte, path ...string) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(seedtest.Member(t, doc, path...)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("$.%s is not an object in %s", strings.Join(path, "."), doc)
	}
	out := []string{}
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

// cbWantKeys checks the keys of the object at path: exactly these, in this
// order.
func cbWantKeys(t *testing.T, what string, doc []byte, want []string, path ...string) {
	t.Helper()
	if got := cbKeys(t, doc, path...); !slices.Equal(got, want) {
		t.Errorf("%s: keys of $.%s are %v, want %v (in this order)", what, strings.Join(path, "."), got, want)
	}
}

// cbWantTime checks that s is an instant in layout, within a minute of
// now, and returns it.
func cbWantTime(t *testing.T, what, s, layout string) time.Time {
	t.Helper()
	ts, err := time.Parse(layout, s)
	if err != nil || ts.UTC().Format(layout) != s {
		t.Errorf("%s = %q, want an instant in UTC written %s", what, s, layout)
		return ts
	}
	if d := time.Since(ts); d < -time.Second || d > time.Minute {
		t.Errorf("%s = %s is %v away from now", what, s, d)
	}
	return ts
}

// cbWantContact checks a delivered contact object: Callbell's keys in
// Callbell's order, and the values the API shows for the contact (apiContact,
// as GET /v1/contacts/{uuid} renders it).
func cbWantContact(t *testing.T, what string, doc []byte, apiContact map[string]any, path ...string) {
	t.Helper()
	cbWantKeys(t, what, doc, contactObjectKeys, path...)
	want := map[string]any{}
	for _, k := range contactObjectKeys {
		want[k] = apiContact[k]
	}
	wantJSON(t, what+": contact", cbValue(t, doc, path...), want)
	cbWantTime(t, what+": contact createdAt", cbString(t, doc, append(path, "createdAt")...), cbContactTime)
}

// cbSeedPayload returns the members of a seed's payload, raw.
func cbSeedPayload(t *testing.T, name string) map[string]json.RawMessage {
	t.Helper()
	var doc struct {
		Payload map[string]json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(seedtest.Payload(t, name), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Payload
}

// cbBody encodes a request body as a connector written in any language
// would: without Go's HTML escaping of '&', '<' and '>' (which json.Marshal
// applies even inside json.RawMessage values).
func cbBody(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// asSeedContact checks that the delivered contact is Herald's contact
// (uuid, href, conversationHref as the API shows them) and returns the body
// with the contact's uuid written as the seed's. The seed normaliser knows
// UUIDs in their 36-character form only, while Callbell's (and so Herald's
// /v1) UUIDs are 32 hex digits; the substitution stands for that
// normalisation, and nothing else is touched.
func asSeedContact(t *testing.T, body []byte, contact map[string]any) []byte {
	t.Helper()
	uuid := contact["uuid"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(uuid) {
		t.Fatalf("contact uuid %q is not 32 hex digits", uuid)
	}
	for _, k := range []string{"uuid", "href", "conversationHref", "createdAt"} {
		if got := cbString(t, body, "payload", "contact", k); got != contact[k] {
			t.Errorf("delivered contact %s = %q, the API's contact has %q", k, got, contact[k])
		}
	}
	if !strings.HasSuffix(contact["href"].(string), "/v1/contacts/"+uuid) {
		t.Errorf("contact href %q does not end in /v1/contacts/%s", contact["href"], uuid)
	}
	field := []byte(`"uuid":"` + uuid + `"`)
	if n := bytes.Count(body, field); n != 1 {
		t.Fatalf("the body holds %s %d times, want once:\n%s", field, n, body)
	}
	return withoutCRMFields(t, bytes.Replace(body, field, []byte(`"uuid":"`+seedContactUUID+`"`), 1))
}

// The seed's message_created situation acted out through the API: John
// Doe, a lead, writes "Hello" on WhatsApp with a location, a contact card,
// reply buttons and an interactive list, as a connector reports it (from
// the business's number to John Doe's, as the seed gives them).
func TestCallbellGoldenMessageCreated(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		ch := a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		seed := cbSeedPayload(t, "callbell-message-created.md")
		msg := obj(t, a.v1(t, "POST", "/channels/"+ch+"/inbound", cbBody(t, map[string]any{
			"from":    seedChannelNumber,
			"to":      seedContactNumber,
			"contact": map[string]any{"phone_number": seedContactNumber, "name": "John Doe"},
			"content": map[string]any{"text": "Hello", "location": seed["messageLocation"],
				"contact_card": seed["messageContactCard"], "reply_buttons": seed["messageReplyButton"],
				"interactive_list": seed["messageInteractiveList"]},
		})).must(t, 201).Map(t)["message"])
		if msg["status"] != "received" || obj(t, msg["contact"])["uuid"] != contact["uuid"] {
			t.Fatalf("inbound response %v: want status received and contact %v", msg, contact["uuid"])
		}

		body := cbWait(t, rc, 1)[0].Body
		seedtest.Compare(t, "callbell-message-created.md", asSeedContact(t, body, contact))

		// What the normaliser hides is Herald's own.
		cbWantContact(t, "message_created", body, a.cbGetContact(t, contact["uuid"].(string)), "payload", "contact")
		cbWantTime(t, "payload.createdAt", cbString(t, body, "payload", "createdAt"), cbMessageTime)
		if !strings.HasSuffix(cbString(t, body, "payload", "createdAt"), "+00:00") {
			t.Errorf("payload.createdAt %q is not in UTC (+00:00)", cbString(t, body, "payload", "createdAt"))
		}
		// The rich members are the connector's bytes, URLs included.
		for _, k := range []string{"messageLocation", "messageContactCard", "messageReplyButton", "messageInteractiveList"} {
			if got, want := string(seedtest.Member(t, body, "payload", k)), compactJSON(t, seed[k]); got != want {
				t.Errorf("payload.%s =\n  %s\nwant the seed's\n  %s", k, got, want)
			}
		}
		if bytes.Contains(body, []byte(`\u0026`)) {
			t.Errorf("the body escapes '&':\n%s", body)
		}
		rc.quiet(t, 1, 0)
	})
}

// The French page of the same event: John Doe writes "Bonjour", nothing
// else. The French page predates conversationHref, which Callbell added to
// the contact object later (the English page has it): Herald sends it, so
// the test checks it is there, once, with Herald's value, and compares the
// rest of the body with the French seed without that one key.
func TestCallbellGoldenMessageCreatedFrench(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		ch := a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		a.v1(t, "POST", "/channels/"+ch+"/inbound", map[string]any{
			"from": seedChannelNumber, "to": seedContactNumber,
			"contact": map[string]any{"phone_number": seedContactNumber, "name": "John Doe"},
			"content": map[string]any{"text": "Bonjour"},
		}).must(t, 201)

		body := cbWait(t, rc, 1)[0].Body
		cbWantKeys(t, "message_created", body, contactObjectKeys, "payload", "contact")
		body = asSeedContact(t, body, contact)
		href := []byte(`"conversationHref":"` + contact["conversationHref"].(string) + `",`)
		if n := bytes.Count(body, href); n != 1 {
			t.Fatalf("the body holds %s %d times, want once:\n%s", href, n, body)
		}
		seedtest.Compare(t, "callbell-message-created.fr.md", bytes.Replace(body, href, nil, 1))
		if got := cbString(t, body, "payload", "text"); got != "Bonjour" {
			t.Errorf("text %q", got)
		}
		cbWantTime(t, "payload.createdAt", cbString(t, body, "payload", "createdAt"), cbMessageTime)
		rc.quiet(t, 1, 0)
	})
}

// A plain text sent to a contact through POST /v1/messages/send: the seed's
// shape with status "sent", from the channel's number to the contact's, and
// the metadata when given (after createdAt, as Callbell's table lists it).
func TestCallbellOutgoingText(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		a.openWindow(t, contact["uuid"].(string))
		sent := obj(t, a.v1(t, "POST", "/messages/send", map[string]any{"to": "+33 1122 334455", "from": "whatsapp",
			"type": "text", "content": map[string]any{"text": "Your order has shipped"},
			"metadata": map[string]string{"order": "A-42", "source": "crm"}}).must(t, 201).Map(t)["message"])
		if sent["status"] != "enqueued" {
			t.Fatalf("send response %v, want status enqueued", sent)
		}
		a.v1(t, "POST", "/messages/send", map[string]any{"to": seedContactNumber, "from": "whatsapp",
			"type": "text", "content": map[string]any{"text": "No metadata"}}).must(t, 201)

		hits := cbWait(t, rc, 2)
		// The seed's keys, less the rich ones this message has not, in the
		// seed's order; then metadata.
		var order []string
		for _, k := range cbKeys(t, seedtest.Payload(t, "callbell-message-created.md"), "payload") {
			if !strings.HasPrefix(k, "message") {
				order = append(order, k)
			}
		}
		apiContact := a.cbGetContact(t, contact["uuid"].(string))
		for i, h := range hits {
			body := h.Body
			want := map[string]any{"to": seedContactNumber, "from": seedChannelNumber, "status": "sent", "channel": "whatsapp"}
			keys := order
			if i == 0 {
				want["text"] = "Your order has shipped"
				keys = append(slices.Clone(order), "metadata")
				wantJSON(t, "metadata", cbValue(t, body, "payload", "metadata"), map[string]string{"order": "A-42", "source": "crm"})
			} else {
				want["text"] = "No metadata"
			}
			if cbEvent(h) != "message_created" {
				t.Errorf("event %q", cbEvent(h))
			}
			cbWantKeys(t, "outgoing message_created", body, keys, "payload")
			for k, v := range want {
				if got := cbString(t, body, "payload", k); got != v {
					t.Errorf("delivery %d: payload.%s = %q, want %q", i, k, got, v)
				}
			}
			cbWantContact(t, "outgoing message_created", body, apiContact, "payload", "contact")
			cbWantTime(t, "payload.createdAt", cbString(t, body, "payload", "createdAt"), cbMessageTime)
		}
		rc.quiet(t, 2, 0)
	})
}

// Every other Callbell event, delivered end to end with Callbell's keys in
// Callbell's order and Herald's values.
func TestCallbellEveryEvent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "contact_created", "contact_updated", "contact_deleted",
			"conversation_opened", "conversation_closed", "message_status_updated")
		a.cbChannel(t, seedChannelNumber)

		created := a.cbContact(t, map[string]any{"identifier": seedContactNumber, "source": "whatsapp",
			"name": "John Doe", "tags": []string{"Lead"}, "avatar_url": "https://example.com/jd.png"})
		uuid := created["uuid"].(string)
		updated := obj(t, a.v1(t, "PATCH", "/contacts/"+uuid, map[string]any{"name": "John Q. Doe",
			"tags": []string{"Lead", "VIP"}}).must(t, 200).Map(t)["contact"])
		closed := obj(t, a.v1(t, "POST", "/contacts/"+uuid+"/conversation/close",
			map[string]any{"closing_reason": "issue_resolved"}).must(t, 200).Map(t)["contact"])
		// Sending to the contact opens the conversation again.
		a.openWindow(t, uuid)
		msg := obj(t, a.v1(t, "POST", "/messages/send", map[string]any{"to": seedContactNumber, "from": "whatsapp",
			"type": "text", "content": map[string]any{"text": "Anything else?"}}).must(t, 201).Map(t)["message"])
		reopened := a.cbGetContact(t, uuid)
		status := obj(t, a.v1(t, "POST", "/messages/"+msg["uuid"].(string)+"/status", map[string]any{
			"status": "read", "payload": map[string]any{"provider": "meta", "read_at": "2026-03-01T12:00:00Z"}}).
			must(t, 200).Map(t)["message"])
		if status["status"] != "read" {
			t.Fatalf("status response %v", status)
		}
		a.v1(t, "DELETE", "/contacts/"+uuid, nil).must(t, 200)

		hits := cbWait(t, rc, 7)
		wantJSON(t, "events", cbEvents(hits), []string{"contact_created", "conversation_opened", "contact_updated",
			"conversation_closed", "conversation_opened", "message_status_updated", "contact_deleted"})
		for _, h := range hits {
			if ct := h.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", cbEvent(h), ct)
			}
		}

		// contact_created and contact_updated: the contact object.
		c := hits[0].Body
		cbWantContact(t, "contact_created", c, created, "payload")
		if got := cbValue(t, c, "payload", "avatarUrl"); got != "https://example.com/jd.png" {
			t.Errorf("contact_created avatarUrl %v", got)
		}
		u := hits[2].Body
		cbWantContact(t, "contact_updated", u, updated, "payload")
		wantJSON(t, "contact_updated tags", cbValue(t, u, "payload", "tags"), []string{"Lead", "VIP"})
		if got := cbString(t, u, "payload", "name"); got != "John Q. Doe" {
			t.Errorf("contact_updated name %q", got)
		}

		// conversation_opened: {source, href, contact, createdAt}.
		for _, tc := range []struct {
			h       *hit
			contact map[string]any
		}{{hits[1], created}, {hits[4], reopened}} {
			b := tc.h.Body
			cbWantKeys(t, "conversation_opened", b, []string{"source", "href", "contact", "createdAt"}, "payload")
			if got := cbString(t, b, "payload", "source"); got != "whatsapp" {
				t.Errorf("conversation_opened source %q", got)
			}
			if got := cbString(t, b, "payload", "href"); got != created["conversationHref"] {
				t.Errorf("conversation_opened href %q, want the contact's conversationHref %q", got, created["conversationHref"])
			}
			cbWantContact(t, "conversation_opened", b, tc.contact, "payload", "contact")
			cbWantTime(t, "conversation_opened createdAt", cbString(t, b, "payload", "createdAt"), cbContactTime)
		}

		// conversation_closed: {source, href, contact, closingReason,
		// createdAt, closedAt}.
		cl := hits[3].Body
		cbWantKeys(t, "conversation_closed", cl, []string{"source", "href", "contact", "closingReason", "createdAt", "closedAt"}, "payload")
		if got := cbString(t, cl, "payload", "closingReason"); got != "issue_resolved" {
			t.Errorf("closingReason %q", got)
		}
		if got := cbString(t, cl, "payload", "href"); got != created["conversationHref"] {
			t.Errorf("conversation_closed href %q", got)
		}
		if got := cbString(t, cl, "payload", "closedAt"); got != closed["closedAt"] {
			t.Errorf("conversation_closed closedAt %q, the API's contact has %v", got, closed["closedAt"])
		}
		cbWantTime(t, "conversation_closed closedAt", cbString(t, cl, "payload", "closedAt"), cbContactTime)
		cbWantContact(t, "conversation_closed", cl, closed, "payload", "contact")

		// message_status_updated: {uuid, status, contact,
		// messageStatusPayload}.
		st := hits[5].Body
		cbWantKeys(t, "message_status_updated", st, []string{"uuid", "status", "contact", "messageStatusPayload"}, "payload")
		if got := cbString(t, st, "payload", "uuid"); got != msg["uuid"] {
			t.Errorf("message_status_updated uuid %q, want %v", got, msg["uuid"])
		}
		if got := cbString(t, st, "payload", "status"); got != "read" {
			t.Errorf("message_status_updated status %q", got)
		}
		if got := string(seedtest.Member(t, st, "payload", "messageStatusPayload")); got != `{"provider":"meta","read_at":"2026-03-01T12:00:00Z"}` {
			t.Errorf("messageStatusPayload %s", got)
		}
		cbWantContact(t, "message_status_updated", st, reopened, "payload", "contact")

		// contact_deleted: {uuid, deleted}.
		d := hits[6].Body
		cbWantKeys(t, "contact_deleted", d, []string{"uuid", "deleted"}, "payload")
		if got := cbString(t, d, "payload", "uuid"); got != uuid {
			t.Errorf("contact_deleted uuid %q, want %q", got, uuid)
		}
		deleted := cbWantTime(t, "contact_deleted deleted", cbString(t, d, "payload", "deleted"), cbDeletedTime)
		if !strings.HasSuffix(cbString(t, d, "payload", "deleted"), "Z") || deleted.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("deleted %q: want milliseconds and Z", cbString(t, d, "payload", "deleted"))
		}
		a.v1(t, "GET", "/contacts/"+uuid, nil).wantError(t, http.StatusNotFound, "not_found", "")
		rc.quiet(t, 7, 0)
	})
}
