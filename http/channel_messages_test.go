package http_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/stdwebhooks"
)

// End-to-end tests of channel messages: messages of contacts'
// conversations, sent and received through the /v1 API or the
// Layer-compatible API, and delivered to Layer-format and Callbell-format
// webhooks alike.

// cbSend sends a message to a contact with POST /v1/messages/send and
// returns its uuid.
func (a *api) cbSend(t *testing.T, body map[string]any) string {
	t.Helper()
	if _, ok := body["from"]; !ok {
		body["from"] = "whatsapp"
	}
	if _, ok := body["type"]; !ok {
		body["type"] = "text"
	}
	m := obj(t, a.v1(t, "POST", "/messages/send", body).must(t, 201).Map(t)["message"])
	if m["status"] != "enqueued" {
		t.Fatalf("send response %v, want status enqueued", m)
	}
	return m["uuid"].(string)
}

// cbSendText sends a text to a number.
func (a *api) cbSendText(t *testing.T, to, text string) string {
	t.Helper()
	return a.cbSend(t, map[string]any{"to": to, "content": map[string]any{"text": text}})
}

// cbInbound records a message received on a channel (201) and returns its
// uuid.
func (a *api) cbInbound(t *testing.T, channel string, body map[string]any) string {
	t.Helper()
	m := obj(t, a.v1(t, "POST", "/channels/"+channel+"/inbound", body).must(t, 201).Map(t)["message"])
	if m["status"] != "received" {
		t.Fatalf("inbound response %v, want status received", m)
	}
	return m["uuid"].(string)
}

// cbStatus reports a message's channel status.
func (a *api) cbStatus(t *testing.T, id, status string) *response {
	t.Helper()
	return a.v1(t, "POST", "/messages/"+id+"/status", map[string]any{"status": status})
}

// layerSender is the sender of a Layer delivery's message.
func layerSender(t *testing.T, h *hit) map[string]any {
	t.Helper()
	return obj(t, obj(t, h.payload(t)["message"])["sender"])
}

// A message sent through the Layer-compatible API into a contact's
// conversation, and a message the contact sent, each reach a Layer-format
// webhook (message.sent) and a Callbell-format one (message_created).
func TestChannelMessagesReachLayerAndCallbell(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		layerRC, cbRC := newReceiver(t), newReceiver(t)
		a.verifiedWebhook(t, hookBody(layerRC.URL, "message.sent"))
		a.cbSubscribe(t, cbRC.URL, nil, "message_created")
		ch := a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		contactUUID := contact["uuid"].(string)
		a.openWindow(t, contactUUID)
		conv := cbConversation(t, contact)

		// Out, through the Layer-compatible API.
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"name": "Support"},
			"parts": []any{map[string]string{"mime_type": "text/plain", "body": "How can we help?"}}}).must(t, 201).Map(t)
		outID := wantUUID(t, m["id"], herald.MessageIDPrefix)

		l := layerRC.waitHits(t, 1)[0]
		if l.eventType() != "message.sent" || l.messageID() != m["id"] || l.text() != "How can we help?" ||
			l.conversation() != herald.ConversationIDPrefix+conv {
			t.Fatalf("Layer delivery %s", l.Body)
		}
		wantJSON(t, "Layer sender", layerSender(t, l), map[string]any{"name": "Support", "user_id": nil})
		c := cbWait(t, cbRC, 1)[0]
		if cbEvent(c) != "message_created" {
			t.Fatalf("Callbell delivery %s", c.Body)
		}
		for k, want := range map[string]string{"status": "sent", "from": seedChannelNumber, "to": seedContactNumber,
			"text": "How can we help?", "channel": "whatsapp"} {
			if got := cbString(t, c.Body, "payload", k); got != want {
				t.Errorf("outgoing message_created: %s = %q, want %q", k, got, want)
			}
		}
		cbWantContact(t, "outgoing message_created", c.Body, a.cbGetContact(t, contactUUID), "payload", "contact")
		st := obj(t, a.v1(t, "GET", "/messages/status/"+herald.CompactUUID(outID), nil).must(t, 200).Map(t)["message"])
		if st["status"] != "enqueued" {
			t.Errorf("a message sent through the Layer API to a contact is %v, want enqueued", st["status"])
		}

		// In, from the contact.
		inID := a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "My order is late"}})
		l = layerRC.waitHits(t, 2)[1]
		if l.eventType() != "message.sent" || herald.CompactUUID(localID(l.messageID())) != inID || l.text() != "My order is late" ||
			l.conversation() != herald.ConversationIDPrefix+conv {
			t.Fatalf("Layer delivery %s", l.Body)
		}
		wantJSON(t, "Layer sender", layerSender(t, l), map[string]any{"user_id": contactUUID})
		wantJSON(t, "Layer recipient_status", obj(t, l.payload(t)["message"])["recipient_status"],
			map[string]string{contactUUID: "read"})
		c = cbWait(t, cbRC, 2)[1]
		for k, want := range map[string]string{"status": "received", "from": seedContactNumber, "to": seedChannelNumber,
			"text": "My order is late"} {
			if got := cbString(t, c.Body, "payload", k); got != want {
				t.Errorf("inbound message_created: %s = %q, want %q", k, got, want)
			}
		}
		layerRC.quiet(t, 2, 0)
		cbRC.quiet(t, 2, 0)
	})
}

// The channel status of an outgoing message moves forward only
// (enqueued → sent → delivered → read), or to failed from any status but
// failed; the same status again changes nothing. delivered and read are
// also Layer's receipts, by the contact.
func TestChannelMessageStatus(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		layerRC, cbRC := newReceiver(t), newReceiver(t)
		a.verifiedWebhook(t, hookBody(layerRC.URL, "message.delivered", "message.read"))
		a.cbSubscribe(t, cbRC.URL, nil, "message_status_updated")
		ch := a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		contactUUID := contact["uuid"].(string)
		a.openWindow(t, contactUUID)

		id := a.cbSendText(t, seedContactNumber, "Your parcel is on its way")
		getStatus := func(id string) any {
			return obj(t, a.v1(t, "GET", "/messages/status/"+id, nil).must(t, 200).Map(t)["message"])["status"]
		}
		if s := getStatus(id); s != "enqueued" {
			t.Fatalf("status %v, want enqueued", s)
		}
		for _, s := range []string{"sent", "delivered", "read"} {
			m := obj(t, a.cbStatus(t, id, s).must(t, 200).Map(t)["message"])
			if m["status"] != s || m["uuid"] != id {
				t.Fatalf("status response %v, want %s", m, s)
			}
		}
		// Back is refused, and changes nothing.
		e := a.cbStatus(t, id, "delivered").wantError(t, http.StatusConflict, "conflict", "status")
		if obj(t, e["data"])["status"] != "read" {
			t.Errorf("409 data %v, want the current status read", e["data"])
		}
		// The same status again is a no-op: 200, no event.
		mark := a.eventMark()
		if s := obj(t, a.cbStatus(t, id, "read").must(t, 200).Map(t)["message"])["status"]; s != "read" {
			t.Fatalf("status %v", s)
		}
		a.wantEvents(t, mark)
		if s := getStatus(id); s != "read" {
			t.Fatalf("status %v, want read", s)
		}

		// failed from every status but failed.
		path := []string{"enqueued", "sent", "delivered", "read"}
		var statuses []string // the message_status_updated deliveries to come, in order
		statuses = append(statuses, "sent", "delivered", "read")
		for i, start := range path {
			f := a.cbSendText(t, seedContactNumber, "to fail from "+start)
			for _, s := range path[1 : i+1] {
				a.cbStatus(t, f, s).must(t, 200)
				statuses = append(statuses, s)
			}
			if s := obj(t, a.cbStatus(t, f, "failed").must(t, 200).Map(t)["message"])["status"]; s != "failed" {
				t.Fatalf("from %s: status %v, want failed", start, s)
			}
			statuses = append(statuses, "failed")
			if s := getStatus(f); s != "failed" {
				t.Fatalf("from %s: status %v, want failed", start, s)
			}
			a.cbStatus(t, f, "sent").wantError(t, http.StatusConflict, "conflict", "status")
			mark := a.eventMark()
			a.cbStatus(t, f, "failed").must(t, 200)
			a.wantEvents(t, mark)
		}
		a.cbStatus(t, id, "bogus").wantError(t, http.StatusUnprocessableEntity, "invalid_property", "status")
		a.cbStatus(t, id, "").wantError(t, http.StatusUnprocessableEntity, "missing_property", "status")

		// Only outgoing channel messages have a status.
		in := a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "thanks"}})
		a.cbStatus(t, in, "delivered").wantError(t, http.StatusUnprocessableEntity, "invalid_operation", "")
		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"alice", "bob"}}).must(t, 201).Map(t)["id"])
		plain := wantUUID(t, a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"user_id": "alice"},
			"parts": []any{map[string]string{"mime_type": "text/plain", "body": "hi"}}}).must(t, 201).Map(t)["id"], herald.MessageIDPrefix)
		a.cbStatus(t, plain, "delivered").wantError(t, http.StatusUnprocessableEntity, "invalid_operation", "")

		// Callbell: one message_status_updated per change, in order.
		hits := cbWait(t, cbRC, len(statuses))
		var got []string
		for _, h := range hits {
			got = append(got, cbString(t, h.Body, "payload", "status"))
			cbWantKeys(t, "message_status_updated", h.Body, []string{"uuid", "status", "contact"}, "payload")
		}
		wantJSON(t, "message_status_updated statuses", got, statuses)
		for i := range 3 {
			if u := cbString(t, hits[i].Body, "payload", "uuid"); u != id {
				t.Errorf("delivery %d is about %s, want %s", i, u, id)
			}
		}

		// Layer: delivered and read of the first message, then those of the
		// messages that went through delivered (and read) before failing.
		lh := layerRC.waitHits(t, 5)
		var types []string
		for _, h := range lh {
			types = append(types, h.eventType())
			p := h.payload(t)
			wantJSON(t, h.eventType()+" actor", obj(t, p["event"])["actor"], map[string]any{"user_id": contactUUID})
			want := map[string]string{"message.delivered": "delivered", "message.read": "read"}[h.eventType()]
			wantJSON(t, h.eventType()+" recipient_status", obj(t, p["message"])["recipient_status"], map[string]string{contactUUID: want})
		}
		wantJSON(t, "Layer receipts", types, []string{"message.delivered", "message.read", "message.delivered", "message.delivered", "message.read"})
		for _, h := range lh[:2] {
			if herald.CompactUUID(localID(h.messageID())) != id {
				t.Errorf("Layer %s about %s, want %s", h.eventType(), h.messageID(), id)
			}
		}
		cbRC.quiet(t, len(statuses), 0)
		layerRC.quiet(t, 5, 0)
	})
}

// A reply renders Callbell's reply context under the configured key
// (messageContext by default, mesageContext, or both); a forwarded message
// renders messageForward; attachments by URL render attachments.
func TestChannelReplyForwardAttachments(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		ch := a.cbChannel(t, seedChannelNumber)
		a.johnDoe(t)
		n := 0
		next := func() []byte {
			t.Helper()
			n++
			return cbWait(t, rc, n)[n-1].Body
		}
		base := []string{"to", "from", "text", "status", "channel", "contact"}
		keys := func(extra ...string) []string {
			return append(append(append([]string{}, base...), extra...), "createdAt")
		}

		question := a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Do you ship to Lyon?"}})
		asked := cbString(t, next(), "payload", "createdAt")
		context := map[string]any{
			"target": map[string]any{"uuid": question, "text": "Do you ship to Lyon?", "status": "received", "channel": "whatsapp",
				"from": seedContactNumber, "to": seedChannelNumber, "createdAt": asked},
			"text": "Do you ship to Lyon?", "createdAt": asked, "status": "received"}
		wantContext := func(body []byte, key string, want map[string]any) {
			t.Helper()
			cbWantKeys(t, key, body, []string{"target", "text", "createdAt", "status"}, "payload", key)
			cbWantKeys(t, key+".target", body, []string{"uuid", "text", "status", "channel", "from", "to", "createdAt"}, "payload", key, "target")
			wantJSON(t, key, cbValue(t, body, "payload", key), want)
		}

		// Default: messageContext.
		reply := a.cbSend(t, map[string]any{"to": seedContactNumber, "content": map[string]any{"text": "Yes, in 2 days"}, "reply_to": question})
		b := next()
		cbWantKeys(t, "reply", b, keys("messageContext"), "payload")
		wantContext(b, "messageContext", context)

		// mesageContext, the spelling of Callbell's payload table.
		a.cbResubscribe(t, rc.URL, map[string]string{"context_field": "mesageContext"}, "message_created")
		a.cbSend(t, map[string]any{"to": seedContactNumber, "content": map[string]any{"text": "Free shipping"}, "reply_to": question})
		b = next()
		cbWantKeys(t, "reply (mesageContext)", b, keys("mesageContext"), "payload")
		wantContext(b, "mesageContext", context)

		// Both, with the same value.
		wh := obj(t, a.cbResubscribe(t, rc.URL, map[string]string{"context_field": "both"}, "message_created")["webhook"])
		wantJSON(t, "webhook config", wh["config"], map[string]string{"context_field": "both"})
		a.cbSend(t, map[string]any{"to": seedContactNumber, "content": map[string]any{"text": "Anything else?"}, "reply_to": herald.ParseUUID(question)})
		b = next()
		cbWantKeys(t, "reply (both)", b, keys("messageContext", "mesageContext"), "payload")
		wantContext(b, "messageContext", context)
		wantContext(b, "mesageContext", context)

		// A reply of the contact to an outgoing message.
		replied := cbString(t, rc.all()[1].Body, "payload", "createdAt")
		a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Great"}, "reply_to": reply})
		b = next()
		wantContext(b, "messageContext", map[string]any{
			"target": map[string]any{"uuid": reply, "text": "Yes, in 2 days", "status": "sent", "channel": "whatsapp",
				"from": seedChannelNumber, "to": seedContactNumber, "createdAt": replied},
			"text": "Yes, in 2 days", "createdAt": replied, "status": "sent"})

		// A reply to a message of another contact's conversation is refused.
		other := a.cbSend(t, a.withTemplate(t, map[string]any{"to": "14155550100", "from": "whatsapp", "content": map[string]any{"text": "hello"}}))
		if got := cbString(t, next(), "payload", "text"); got != "hello" { // the other contact's message
			t.Fatalf("text %q, want hello", got)
		}
		a.v1(t, "POST", "/messages/send", map[string]any{"to": seedContactNumber, "from": "whatsapp", "type": "text",
			"content": map[string]any{"text": "x"}, "reply_to": other}).wantError(t, http.StatusUnprocessableEntity, "invalid_property", "reply_to")

		// Forwarded, both ways.
		a.cbSend(t, map[string]any{"to": seedContactNumber, "content": map[string]any{"text": "FYI"}, "forward": true})
		b = next()
		cbWantKeys(t, "forward", b, keys("messageForward"), "payload")
		wantJSON(t, "messageForward", cbValue(t, b, "payload", "messageForward"), map[string]any{"forwarded": true})
		a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Fwd"}, "forwarded": true})
		b = next()
		wantJSON(t, "inbound messageForward", cbValue(t, b, "payload", "messageForward"), map[string]any{"forwarded": true})

		// Attachments by URL: url first, then attachments.
		a.cbSend(t, map[string]any{"to": seedContactNumber, "type": "image", "content": map[string]any{"url": "https://example.com/cat.png"}})
		b = next()
		cbWantKeys(t, "image", b, []string{"to", "from", "text", "attachments", "status", "channel", "contact", "createdAt"}, "payload")
		wantJSON(t, "image attachments", cbValue(t, b, "payload", "attachments"), []string{"https://example.com/cat.png"})
		a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Two files",
			"url": "https://example.com/a.pdf", "attachments": []string{"https://example.com/b.pdf"}}})
		b = next()
		wantJSON(t, "inbound attachments", cbValue(t, b, "payload", "attachments"), []string{"https://example.com/a.pdf", "https://example.com/b.pdf"})
		if got := cbString(t, b, "payload", "text"); got != "Two files" {
			t.Errorf("text %q", got)
		}
		rc.quiet(t, n, 0)
	})
}

// The context_field option is checked when subscribing: a value Herald
// cannot render is refused, instead of being stored and making every later
// delivery fail to render.
func TestChannelCallbellConfigIsValidated(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		for _, config := range []map[string]any{{"context_field": "messageContxt"}, {"colour": "blue"}} {
			res := a.v1(t, "POST", "/webhooks/subscribe", map[string]any{"url": rc.URL,
				"subscriptions": []string{"message_created"}, "config": config})
			if res.Status != http.StatusUnprocessableEntity {
				t.Errorf("BUG (delivery/subscribe.go:92): POST /v1/webhooks/subscribe with config %v answered %d %s, want 422 invalid_property: "+
					"Subscribe validates config only if the format has a CheckConfig method, and callbell.Format has none "+
					"(callbell.CheckConfig is a package function), so any config is stored and every later Callbell render "+
					"fails (\"callbell: webhook config: ...\"), dropping the app's events with only a log line", config, res.Status, res.Body)
				a.v1(t, "DELETE", "/webhooks/unsubscribe", nil).must(t, 200)
				continue
			}
			res.wantError(t, http.StatusUnprocessableEntity, "invalid_property", "")
		}
	})
}

// external_id makes an inbound message idempotent: the same id again
// answers 200 with the first message, records and delivers nothing.
func TestChannelInboundExternalID(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		ch := a.cbChannel(t, seedChannelNumber)
		body := map[string]any{"from": "+1 415 555 0100", "contact": map[string]any{"name": "Ann"},
			"content": map[string]any{"text": "Hi"}, "external_id": "wamid.HBgLMTQxNTU1NTAxMDA"}

		mark := a.eventMark()
		first := obj(t, a.v1(t, "POST", "/channels/"+ch+"/inbound", body).must(t, 201).Map(t)["message"])
		a.wantEvents(t, mark, "contact.created", "conversation.created", "conversation.opened", "message.sent")
		contact := obj(t, first["contact"])
		if contact["name"] != "Ann" || contact["phoneNumber"] != "14155550100" {
			t.Errorf("new contact %v", contact)
		}

		mark = a.eventMark()
		again := obj(t, a.v1(t, "POST", "/channels/"+ch+"/inbound", body).must(t, 200).Map(t)["message"])
		body["content"] = map[string]any{"text": "Hi (retried with other content)"}
		third := obj(t, a.v1(t, "POST", "/channels/"+ch+"/inbound", body).must(t, 200).Map(t)["message"])
		a.wantEvents(t, mark)
		if again["uuid"] != first["uuid"] || third["uuid"] != first["uuid"] || again["status"] != "received" {
			t.Fatalf("replays %v, %v; want the first message %v", again, third, first["uuid"])
		}
		if obj(t, again["contact"])["uuid"] != contact["uuid"] {
			t.Errorf("replay contact %v, want %v", again["contact"], contact["uuid"])
		}

		// Another external id is another message. Deliveries of one
		// conversation arrive in order, so once its delivery is in, a
		// delivery of a replay would be in too.
		body["external_id"] = "wamid.other"
		body["content"] = map[string]any{"text": "Second"}
		second := obj(t, a.v1(t, "POST", "/channels/"+ch+"/inbound", body).must(t, 201).Map(t)["message"])
		if second["uuid"] == first["uuid"] {
			t.Fatal("another external_id replayed the first message")
		}
		hits := cbWait(t, rc, 2)
		wantJSON(t, "texts", []string{cbString(t, hits[0].Body, "payload", "text"), cbString(t, hits[1].Body, "payload", "text")},
			[]string{"Hi", "Second"})
		rc.quiet(t, 2, 0)
	})
}

// A message in a closed conversation opens it again: conversation_opened
// is delivered before the message's message_created, and the deliveries of
// the conversation arrive in the order of the event log, even while the
// receiver is slow.
func TestChannelClosedConversationReopens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		// The receiver holds the first delivery after the close, so that
		// the later ones queue up behind it.
		var held atomic.Bool
		rc.script(func(h *hit) reply {
			if cbEvent(h) == "conversation_closed" && held.CompareAndSwap(false, true) {
				time.Sleep(100 * time.Millisecond)
			}
			return reply{}
		})
		a.cbSubscribe(t, rc.URL, nil, "message_created", "conversation_opened", "conversation_closed")
		ch := a.cbChannel(t, seedChannelNumber)
		inbound := func(text string) {
			a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": text}})
		}
		inbound("one")
		uuid := obj(t, a.v1(t, "GET", "/contacts?page=1", nil).must(t, 200).Map(t)["contacts"].([]any)[0])["uuid"].(string)
		contact := a.cbGetContact(t, uuid)
		conv := cbConversation(t, contact)

		closeConversation := func() {
			c := obj(t, a.v1(t, "POST", "/contacts/"+uuid+"/conversation/close", map[string]any{"closing_reason": "done"}).
				must(t, 200).Map(t)["contact"])
			if c["closedAt"] == nil || c["closingReason"] != "done" {
				t.Fatalf("closed contact %v", c)
			}
		}
		closeConversation()
		mark := a.eventMark()
		inbound("two")
		a.wantEvents(t, mark, "conversation.opened", "message.sent")
		if c := a.cbGetContact(t, uuid); c["closedAt"] != nil {
			t.Fatalf("the conversation is still closed: %v", c)
		}
		for _, s := range []string{"three", "four", "five"} {
			inbound(s)
		}
		// Closed again, then a message through the Layer API opens it too.
		closeConversation()
		mark = a.eventMark()
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"name": "Support"},
			"parts": []any{map[string]string{"mime_type": "text/plain", "body": "six"}}}).must(t, 201)
		a.wantEvents(t, mark, "conversation.opened", "message.sent")

		var got []string
		for _, h := range cbWait(t, rc, 11) {
			e := cbEvent(h)
			if e == "message_created" {
				e += " " + cbString(t, h.Body, "payload", "text")
			}
			got = append(got, e)
		}
		wantJSON(t, "deliveries", got, []string{
			"conversation_opened", "message_created one", "conversation_closed",
			"conversation_opened", "message_created two", "message_created three", "message_created four", "message_created five",
			"conversation_closed", "conversation_opened", "message_created six"})
	})
}

// Deleting a contact's conversation through the Layer-compatible API
// deletes the contact, as Callbell does, and delivers contact_deleted (and
// Layer's conversation.deleted).
func TestChannelDeletingConversationDeletesContact(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		layerRC, cbRC := newReceiver(t), newReceiver(t)
		a.verifiedWebhook(t, hookBody(layerRC.URL, "conversation.deleted"))
		a.cbSubscribe(t, cbRC.URL, nil, "contact_created", "contact_deleted")
		ch := a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		uuid := contact["uuid"].(string)
		conv := cbConversation(t, contact)

		mark := a.eventMark()
		a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
		a.wantEvents(t, mark, "conversation.deleted", "contact.deleted")
		a.v1(t, "GET", "/contacts/"+uuid, nil).wantError(t, http.StatusNotFound, "not_found", "")
		a.do("GET", "/conversations/"+conv, nil).wantError(t, http.StatusGone, "gone", "")

		hits := cbWait(t, cbRC, 2)
		wantJSON(t, "events", cbEvents(hits), []string{"contact_created", "contact_deleted"})
		d := hits[1].Body
		cbWantKeys(t, "contact_deleted", d, []string{"uuid", "deleted"}, "payload")
		if got := cbString(t, d, "payload", "uuid"); got != uuid {
			t.Errorf("contact_deleted uuid %q, want %q", got, uuid)
		}
		cbWantTime(t, "deleted", cbString(t, d, "payload", "deleted"), cbDeletedTime)
		l := layerRC.waitHits(t, 1)[0]
		if l.eventType() != "conversation.deleted" || l.conversation() != herald.ConversationIDPrefix+conv {
			t.Errorf("Layer delivery %s", l.Body)
		}

		// The number is free again: a new message makes a new contact.
		a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Hello again"}})
		h := cbWait(t, cbRC, 3)[2]
		if cbEvent(h) != "contact_created" || cbString(t, h.Body, "payload", "uuid") == uuid ||
			cbString(t, h.Body, "payload", "phoneNumber") != seedContactNumber {
			t.Errorf("after the deletion: %s", h.Body)
		}
		cbRC.quiet(t, 3, 0)
		layerRC.quiet(t, 1, 0)
	})
}

// A Callbell delivery is signed with X-Callbell-Signature, which
// callbell.Verify accepts with the secret the subscription showed, and
// with the Standard Webhooks headers, keyed by the same secret.
func TestChannelCallbellSignature(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		secret := a.cbSubscribe(t, rc.URL, nil, "message_created")["secret"].(string)
		if wh := a.v1(t, "GET", "/webhooks", nil).must(t, 200); strings.Contains(string(wh.Body), secret) {
			t.Errorf("GET /v1/webhooks shows the secret: %s", wh.Body)
		}
		ch := a.cbChannel(t, seedChannelNumber)
		a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Hi"}})
		h := cbWait(t, rc, 1)[0]

		sig := h.Header.Get(callbell.SignatureHeader)
		if err := callbell.Verify(secret, sig, h.Body, time.Now(), callbell.DefaultTolerance); err != nil {
			t.Fatalf("callbell.Verify(%q): %v", sig, err)
		}
		if err := callbell.Verify("whsec_other", sig, h.Body, time.Now(), callbell.DefaultTolerance); !errors.Is(err, callbell.ErrSignature) {
			t.Errorf("another secret: %v, want ErrSignature", err)
		}
		tampered := append([]byte{}, h.Body...)
		tampered[len(tampered)-2] ^= 1
		if err := callbell.Verify(secret, sig, tampered, time.Now(), callbell.DefaultTolerance); !errors.Is(err, callbell.ErrSignature) {
			t.Errorf("a tampered body: %v, want ErrSignature", err)
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": callbell.UserAgent} {
			if got := h.Header.Get(k); got != want {
				t.Errorf("%s %q, want %q", k, got, want)
			}
		}

		// Standard Webhooks.
		for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			if h.Header.Get(k) == "" {
				t.Errorf("no %s header: %v", k, h.Header)
			}
		}
		if ts := h.Header.Get("webhook-timestamp"); !strings.HasPrefix(sig, "t="+ts+",") {
			t.Errorf("X-Callbell-Signature %q and webhook-timestamp %q name different instants", sig, ts)
		} else if n, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(n, 0)) > time.Minute {
			t.Errorf("webhook-timestamp %q", ts)
		}
		if err := stdwebhooks.Verify(secret, h.Header, h.Body, time.Now()); err != nil {
			t.Errorf("Standard Webhooks verification with the subscription's secret: %v", err)
		}
		ref, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Verify(h.Body, h.Header); err != nil {
			t.Errorf("the reference Standard Webhooks library: %v", err)
		}
		var p map[string]any
		if err := json.Unmarshal(h.Body, &p); err != nil || p["event"] != "message_created" {
			t.Errorf("body %s", h.Body)
		}
	})
}
