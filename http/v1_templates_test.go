package http_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

var templateNames atomic.Int64

// cbTemplate creates an approved text template on a channel and returns its
// uuid.
func (a *api) cbTemplate(t *testing.T, channel, text string) string {
	t.Helper()
	tpl := obj(t, a.v1(t, "POST", "/templates", map[string]any{"channel_uuid": channel, "language": "en_US",
		"name": fmt.Sprintf("tpl_%d", templateNames.Add(1)), "text": text, "category": "UTILITY", "status": "approved"}).
		must(t, 201).Map(t)["template"])
	return tpl["uuid"].(string)
}

// withTemplate turns a free-form text send from the app's main WhatsApp
// channel into the send of an approved template of the same text, which
// WhatsApp's 24-hour window lets reach a contact who never wrote.
func (a *api) withTemplate(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	var channel string
	for _, c := range a.v1(t, "GET", "/channels", nil).must(t, 200).Map(t)["channels"].([]any) {
		if ch := obj(t, c); ch["type"] == "whatsapp" && (channel == "" || ch["main"] == true) {
			channel = ch["uuid"].(string)
		}
	}
	out := withKey(body, "template_uuid", a.cbTemplate(t, channel, obj(t, body["content"])["text"].(string)))
	out["optin_contact"] = true
	return out
}

// openWindow records that a contact wrote just now, as an inbound message
// would, without the message: for tests of what follows a send that
// WhatsApp's window would otherwise refuse.
func (a *api) openWindow(t *testing.T, contact string) {
	t.Helper()
	err := a.Store.Update(context.Background(), func(tx herald.Tx) error {
		return tx.SetContactLastInbound(context.Background(), a.AppID, herald.CompactUUID(herald.ParseUUID(contact)), a.now())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// storedMessage reads a message as the store keeps it.
func (a *api) storedMessage(t *testing.T, id string) *herald.Message {
	t.Helper()
	var m *herald.Message
	err := a.Store.View(context.Background(), func(q herald.Queries) (err error) {
		m, err = q.Message(context.Background(), a.AppID, herald.ParseUUID(id))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestV1Templates(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ch := a.cbChannel(t, seedChannelNumber)
		sms := obj(t, a.v1(t, "POST", "/channels", map[string]any{"type": "sms", "identifier": "15550001"}).must(t, 201).Map(t)["channel"])["uuid"].(string)
		valid := map[string]any{"channel_uuid": ch, "name": "order_shipped", "language": "en_US",
			"text": "Hello {{1}}, order {{2}} has shipped. Thanks, {{1}}!", "category": "UTILITY"}
		mark := a.eventMark()
		for _, bad := range []struct {
			key   string
			value any
			id    string
			prop  string
		}{
			{"channel_uuid", nil, "missing_property", "channel_uuid"},
			{"name", nil, "missing_property", "name"},
			{"text", nil, "missing_property", "text"},
			{"category", nil, "missing_property", "category"},
			{"channel_uuid", sms, "invalid_property", "channel_uuid"},
			{"channel_uuid", "0000000000004000800000000000dead", "invalid_property", "channel_uuid"},
			{"name", "Order Shipped", "invalid_property", "name"},
			{"language", "english", "invalid_property", "language"},
			{"text", "Hello {{2}}", "invalid_property", "text"},
			{"text", "Hello {{1}} and {{3}}", "invalid_property", "text"},
			{"text", "Hello {{0}}", "invalid_property", "text"},
			{"text", "Hello {{name}}", "invalid_property", "text"},
			{"text", "Hello {{01}}", "invalid_property", "text"},
			{"text", "Hello {{+1}}", "invalid_property", "text"},
			{"text", "Hello {{ 1 }}", "invalid_property", "text"},
			{"category", "SPAM", "invalid_property", "category"},
			{"template_type", "carousel", "invalid_property", "template_type"},
			{"status", "great", "invalid_property", "status"},
		} {
			a.v1(t, "POST", "/templates", withKey(valid, bad.key, bad.value)).wantError(t, 422, bad.id, bad.prop)
		}
		a.wantEvents(t, mark)

		created := obj(t, a.v1(t, "POST", "/templates", valid).must(t, 201).Map(t)["template"])
		wantKeys(t, "template", created, "uuid", "title", "templateType", "category", "status", "text", "createdAt",
			"channelUuid", "name", "language")
		if created["status"] != "pending" || created["templateType"] != "text" || created["title"] != "order_shipped" ||
			len(created["uuid"].(string)) != 32 || created["channelUuid"] != herald.CompactUUID(ch) {
			t.Fatalf("created template %v", created)
		}
		a.wantEvents(t, mark, herald.EventTemplateCreated)
		uuid := created["uuid"].(string)
		// The same name and language again: a conflict.
		a.v1(t, "POST", "/templates", valid).wantError(t, 409, "conflict", "")
		fr := obj(t, a.v1(t, "POST", "/templates", withKey(withKey(valid, "language", "fr"), "templateType", "image")).
			must(t, 201).Map(t)["template"])
		if fr["templateType"] != "image" {
			t.Fatalf("templateType, as Callbell spells it: %v", fr)
		}

		got := obj(t, a.v1(t, "GET", "/templates/"+herald.ParseUUID(uuid), nil).must(t, 200).Map(t)["template"])
		if canon(t, got) != canon(t, created) {
			t.Fatalf("GET %s = %v, want %v", uuid, got, created)
		}
		a.v1(t, "GET", "/templates/0000000000004000800000000000dead", nil).wantError(t, 404, "not_found", "")

		mark = a.eventMark()
		patched := obj(t, a.v1(t, "PATCH", "/templates/"+uuid, map[string]any{"title": "Shipping", "status": "approved"}).
			must(t, 200).Map(t)["template"])
		if patched["title"] != "Shipping" || patched["status"] != "approved" || patched["text"] != created["text"] {
			t.Fatalf("patched %v", patched)
		}
		a.v1(t, "PATCH", "/templates/"+uuid, map[string]any{"title": "Shipping"}).must(t, 200)
		a.v1(t, "PATCH", "/templates/"+uuid, map[string]any{"channel_uuid": ch}).wantError(t, 422, "invalid_property", "channel_uuid")
		a.v1(t, "PATCH", "/templates/"+uuid, map[string]any{"text": "{{3}}"}).wantError(t, 422, "invalid_property", "text")
		a.v1(t, "PATCH", "/templates/"+uuid, map[string]any{"title": ""}).wantError(t, 422, "invalid_property", "title")
		a.wantEvents(t, mark, herald.EventTemplateUpdated)

		list := a.v1(t, "GET", "/templates", nil).must(t, 200).Map(t)
		if ts := list["templates"].([]any); len(ts) != 2 || obj(t, ts[0])["uuid"] != uuid ||
			canon(t, list["meta"]) != `{"page":1,"pages":1}` {
			t.Fatalf("templates %v", list)
		}
		approved := a.v1(t, "GET", "/templates?status=approved&channel_uuid="+ch, nil).must(t, 200).Map(t)["templates"].([]any)
		if len(approved) != 1 || obj(t, approved[0])["uuid"] != uuid {
			t.Fatalf("approved templates %v", approved)
		}
		if none := a.v1(t, "GET", "/templates?channel_uuid="+sms, nil).must(t, 200).Map(t)["templates"].([]any); len(none) != 0 {
			t.Fatalf("templates of the SMS channel %v", none)
		}
		if past := a.v1(t, "GET", "/templates?page=2", nil).must(t, 200).Map(t)["templates"].([]any); len(past) != 0 {
			t.Fatalf("page 2 %v", past)
		}
		a.v1(t, "GET", "/templates?page=0", nil).wantError(t, 422, "invalid_property", "page")
		a.v1(t, "GET", "/templates?status=nice", nil).wantError(t, 422, "invalid_property", "status")
		a.v1(t, "GET", "/templates?channel_uuid=nope", nil).wantError(t, 422, "invalid_property", "channel_uuid")

		mark = a.eventMark()
		a.v1(t, "DELETE", "/templates/"+fr["uuid"].(string), nil).must(t, 200)
		a.v1(t, "DELETE", "/templates/"+fr["uuid"].(string), nil).wantError(t, 404, "not_found", "")
		a.v1(t, "GET", "/templates/"+fr["uuid"].(string), nil).wantError(t, 404, "not_found", "")
		a.wantEvents(t, mark, herald.EventTemplateDeleted)
	})
}

func TestV1TemplateSendAndWindow(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		ch := a.cbChannel(t, seedChannelNumber)
		other := a.cbChannel(t, "335500000000")
		tpl := a.cbTemplate(t, ch, "Hello {{1}}, order {{2}} has shipped.")
		one := a.cbTemplate(t, ch, "Hi {{1}}!")
		media := obj(t, a.v1(t, "POST", "/templates", map[string]any{"channel_uuid": ch, "name": "invoice", "language": "en",
			"text": "Your invoice", "category": "UTILITY", "template_type": "document", "status": "approved"}).
			must(t, 201).Map(t)["template"])["uuid"].(string)
		pending := obj(t, a.v1(t, "POST", "/templates", map[string]any{"channel_uuid": ch, "name": "promo", "language": "en",
			"text": "Sale!", "category": "MARKETING"}).must(t, 201).Map(t)["template"])["uuid"].(string)
		elsewhere := a.cbTemplate(t, other, "Elsewhere")
		send := func(extra map[string]any) map[string]any {
			body := map[string]any{"to": seedContactNumber, "channel_uuid": ch, "type": "text", "content": map[string]any{"text": "hi"}}
			for k, v := range extra {
				body[k] = v
			}
			return body
		}

		// A contact who never wrote: free-form is refused as WhatsApp
		// refuses it, and nothing is written.
		mark := a.eventMark()
		e := a.v1(t, "POST", "/messages/send", send(nil)).wantError(t, 422, "reengagement_required", "template_uuid")
		if !strings.Contains(e["message"].(string), "template") || obj(t, e["data"])["whatsapp_error_code"] != float64(131047) {
			t.Fatalf("refusal %v", e)
		}
		for _, bad := range []struct {
			extra map[string]any
			id    string
			prop  string
		}{
			{map[string]any{"template_uuid": tpl, "template_values": []string{"Ann", "A-1"}}, "missing_property", "optin_contact"},
			{map[string]any{"template_uuid": tpl, "optin_contact": false, "template_values": []string{"Ann", "A-1"}}, "missing_property", "optin_contact"},
			{map[string]any{"template_uuid": tpl, "optin_contact": true, "template_values": []string{"Ann"}}, "invalid_property", "template_values"},
			{map[string]any{"template_uuid": tpl, "optin_contact": true}, "invalid_property", "template_values"},
			{map[string]any{"template_uuid": tpl, "optin_contact": true, "template_values": []string{"Ann", "A-1", "x"}}, "invalid_property", "template_values"},
			{map[string]any{"template_uuid": pending, "optin_contact": true}, "invalid_property", "template_uuid"},
			{map[string]any{"template_uuid": elsewhere, "optin_contact": true}, "invalid_property", "template_uuid"},
			{map[string]any{"template_uuid": "0000000000004000800000000000dead", "optin_contact": true}, "invalid_property", "template_uuid"},
			{map[string]any{"template_uuid": media, "optin_contact": true}, "missing_property", "content.url"},
			{map[string]any{"template_values": []string{"x"}}, "invalid_property", "template_values"},
		} {
			a.v1(t, "POST", "/messages/send", send(bad.extra)).wantError(t, 422, bad.id, bad.prop)
		}
		a.wantEvents(t, mark)

		// A template reaches them: rendered, and recorded for the connector.
		id := obj(t, a.v1(t, "POST", "/messages/send", send(map[string]any{"template_uuid": tpl, "optin_contact": true,
			"template_values": []string{"Ann", "A-1"}, "content": map[string]any{"text": "ignored"}})).must(t, 201).Map(t)["message"])["uuid"].(string)
		m := a.storedMessage(t, id)
		if got := m.Parts[0].Body; len(m.Parts) != 1 || got != "Hello Ann, order A-1 has shipped." {
			t.Fatalf("parts %+v", m.Parts)
		}
		if tp := m.Channel.Template; tp == nil || herald.CompactUUID(tp.UUID) != tpl || !strings.HasPrefix(tp.Name, "tpl_") ||
			tp.Language != "en_US" || strings.Join(tp.Values, "|") != "Ann|A-1" {
			t.Fatalf("template recorded %+v", m.Channel.Template)
		}
		if got := cbString(t, rc.waitHits(t, 1)[0].Body, "payload", "text"); got != "Hello Ann, order A-1 has shipped." {
			t.Fatalf("message_created text %q", got)
		}
		// One placeholder takes content.text, as Callbell's docs show.
		id = obj(t, a.v1(t, "POST", "/messages/send", send(map[string]any{"template_uuid": one, "optin_contact": true,
			"content": map[string]any{"text": "John Doe"}})).must(t, 201).Map(t)["message"])["uuid"].(string)
		if got := a.storedMessage(t, id).Parts[0].Body; got != "Hi John Doe!" {
			t.Fatalf("one-value template %q", got)
		}
		// A media template carries its media.
		id = obj(t, a.v1(t, "POST", "/messages/send", send(map[string]any{"template_uuid": media, "optin_contact": true, "type": "document",
			"content": map[string]any{"url": "https://example.com/invoice.pdf"}})).must(t, 201).Map(t)["message"])["uuid"].(string)
		if ps := a.storedMessage(t, id).Parts; len(ps) != 2 || ps[1].Body != "https://example.com/invoice.pdf" {
			t.Fatalf("media template parts %+v", ps)
		}
		a.v1(t, "POST", "/messages/send", send(nil)).wantError(t, 422, "reengagement_required", "template_uuid")

		// The contact writes: free-form is accepted for 24 hours.
		a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Thanks!"}})
		a.v1(t, "POST", "/messages/send", send(nil)).must(t, 201)
		a.advance(23 * time.Hour)
		a.v1(t, "POST", "/messages/send", send(nil)).must(t, 201)
		a.advance(2 * time.Hour)
		e = a.v1(t, "POST", "/messages/send", send(nil)).wantError(t, 422, "reengagement_required", "template_uuid")
		if obj(t, e["data"])["last_inbound_at"] == nil {
			t.Fatalf("refusal after the window %v", e)
		}
		// The Layer-compatible API's messages are free-form too.
		contact := a.v1(t, "GET", "/contacts", nil).must(t, 200).Map(t)["contacts"].([]any)[0]
		conv := cbConversation(t, obj(t, contact))
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]string{"name": "Support"},
			"parts": []any{map[string]string{"mime_type": "text/plain", "body": "Still there?"}}}).wantError(t, 422, "reengagement_required", "")
		a.v1(t, "POST", "/messages/send", send(map[string]any{"template_uuid": one, "optin_contact": true,
			"template_values": []string{"Ann"}})).must(t, 201)

		// Other channels have no window.
		sms := obj(t, a.v1(t, "POST", "/channels", map[string]any{"type": "sms", "identifier": "15550001"}).must(t, 201).Map(t)["channel"])["uuid"].(string)
		a.v1(t, "POST", "/messages/send", map[string]any{"to": "15550002", "channel_uuid": sms, "type": "text",
			"content": map[string]any{"text": "hi"}}).must(t, 201)
	})
}

func TestV1SendAssignsContact(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ch := a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		uuid := contact["uuid"].(string)
		a.openWindow(t, uuid)
		body := map[string]any{"to": seedContactNumber, "channel_uuid": ch, "type": "text", "content": map[string]any{"text": "hi"}}
		mark := a.eventMark()
		a.v1(t, "POST", "/messages/send", withKey(body, "assigned_user", "not-an-email")).wantError(t, 422, "invalid_property", "assigned_user")
		a.wantEvents(t, mark)
		a.v1(t, "POST", "/messages/send", withKey(body, "assigned_user", "agent@example.com")).must(t, 201)
		a.wantEvents(t, mark, herald.EventContactUpdated, herald.EventMessageSent)
		if got := a.cbGetContact(t, uuid)["assignedUser"]; got != "agent@example.com" {
			t.Fatalf("assignedUser %v", got)
		}
		// Assigning the same agent again changes nothing of the contact.
		mark = a.eventMark()
		a.v1(t, "POST", "/messages/send", withKey(body, "assigned_user", "agent@example.com")).must(t, 201)
		a.wantEvents(t, mark, herald.EventMessageSent)
		// A contact the send creates is created assigned.
		a.v1(t, "POST", "/messages/send", a.withTemplate(t, map[string]any{"to": "14155550100", "from": "whatsapp", "type": "text",
			"content": map[string]any{"text": "Welcome"}, "assigned_user": "other@example.com"})).must(t, 201)
		for _, c := range a.v1(t, "GET", "/contacts", nil).must(t, 200).Map(t)["contacts"].([]any) {
			if c := obj(t, c); c["phoneNumber"] == "14155550100" && c["assignedUser"] != "other@example.com" {
				t.Fatalf("created contact %v", c)
			}
		}
	})
}

func TestV1MessageStatusAndDelete(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		layerRC, cbRC := newReceiver(t), newReceiver(t)
		a.verifiedWebhook(t, hookBody(layerRC.URL, "message.deleted"))
		a.cbSubscribe(t, cbRC.URL, nil, "message_status_updated")
		ch := a.cbChannel(t, seedChannelNumber)
		a.openWindow(t, a.johnDoe(t)["uuid"].(string))
		id := a.cbSendText(t, seedContactNumber, "Your parcel is on its way")
		in := a.cbInbound(t, ch, map[string]any{"from": seedContactNumber, "content": map[string]any{"text": "Thanks"}})

		got := obj(t, a.v1(t, "GET", "/messages/status/"+id, nil).must(t, 200).Map(t)["message"])
		if got["uuid"] != id || got["status"] != "enqueued" {
			t.Fatalf("status %v", got)
		}
		if got := obj(t, a.v1(t, "GET", "/messages/status/"+herald.ParseUUID(in), nil).must(t, 200).Map(t)["message"]); got["status"] != "received" {
			t.Fatalf("status of a received message %v", got)
		}
		a.v1(t, "GET", "/messages/status/0000000000004000800000000000dead", nil).wantError(t, 404, "not_found", "")
		// The reversed path Herald served before is no route for GET.
		a.v1(t, "GET", "/messages/"+id+"/status", nil).wantError(t, 405, "method_not_allowed", "")

		a.v1(t, "DELETE", "/messages", map[string]any{}).wantError(t, 422, "missing_property", "uuid")
		a.v1(t, "DELETE", "/messages/0000000000004000800000000000dead", nil).wantError(t, 404, "not_found", "")
		mark := a.eventMark()
		if res := a.v1(t, "DELETE", "/messages/"+id, nil).must(t, 204); len(res.Body) != 0 {
			t.Fatalf("DELETE answered %s", res.Body)
		}
		a.wantEvents(t, mark, herald.EventMessageDeleted, herald.EventMessageStatusUpdated)
		a.v1(t, "GET", "/messages/status/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1(t, "DELETE", "/messages/"+id, nil).wantError(t, 404, "not_found", "")
		a.v1(t, "POST", "/messages/"+id+"/status", map[string]any{"status": "delivered"}).wantError(t, 404, "not_found", "")
		// The curl form of Callbell's docs, for a received message.
		a.v1(t, "DELETE", "/messages", map[string]any{"uuid": in}).must(t, 204)

		hits := cbRC.waitHits(t, 2)
		for i, want := range []string{id, in} {
			if u, s := cbString(t, hits[i].Body, "payload", "uuid"), cbString(t, hits[i].Body, "payload", "status"); u != want || s != "deleted" {
				t.Fatalf("message_status_updated %d: %s", i, hits[i].Body)
			}
		}
		if body := string(layerRC.waitHits(t, 2)[0].Body); !strings.Contains(body, `"message.deleted"`) {
			t.Fatalf("Layer webhook %s", body)
		}
	})
}
