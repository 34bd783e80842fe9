package http_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Tests of Callbell's contacts and channels complete: channel filters and
// discarding, every contact field, lookups by phone and BSUID, bots,
// notes, funnels and typed custom fields.

// crmPatch PATCHes a contact and returns it.
func (a *api) crmPatch(t *testing.T, id string, body any) map[string]any {
	t.Helper()
	return obj(t, a.v1tDo("PATCH", "/contacts/"+id, body).must(t, 200).Map(t)["contact"])
}

func TestV1CRMChannelFiltersPagesAndDiscarding(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		wa := a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		tg := a.v1tChannel(t, map[string]any{"type": "telegram", "identifier": "herald_bot"})
		wa2 := a.v1tChannel(t, v1tWhatsapp("+44 7700 900123"))
		list := func(query string, page, pages int) []string {
			t.Helper()
			res := a.v1tDo("GET", "/channels"+query, nil).must(t, 200).Map(t)
			v1tMeta(t, "channels"+query, obj(t, res["meta"]), page, pages)
			ids := []string{}
			for _, c := range arr(t, res["channels"]) {
				wantKeys(t, "listed channel", obj(t, c), v1tChannelKeys...)
				ids = append(ids, obj(t, c)["uuid"].(string))
			}
			return ids
		}
		id := func(c map[string]any) string { return c["uuid"].(string) }
		wantJSON(t, "all channels", list("", 1, 1), []string{id(wa), id(tg), id(wa2)})
		wantJSON(t, "whatsapp channels", list("?type=whatsapp", 1, 1), []string{id(wa), id(wa2)})
		wantJSON(t, "telegram channels", list("?type=telegram", 1, 1), []string{id(tg)})
		wantJSON(t, "page 2", list("?page=2", 2, 1), []string{})
		a.v1tDo("GET", "/channels?type=fax", nil).wantError(t, 422, "invalid_property", "type")
		a.v1tDo("GET", "/channels?active=maybe", nil).wantError(t, 422, "invalid_property", "active")
		a.v1tDo("GET", "/channels?page=0", nil).wantError(t, 422, "invalid_property", "page")

		// A contact and a message on the main channel, which is then
		// discarded: Herald's extension, DELETE.
		c := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada"})
		a.crmSend(t, map[string]any{"to": "33700000001", "content": map[string]any{"text": "Hello"}})
		mark := a.eventMark()
		res := a.v1tDo("DELETE", "/channels/"+v1tDashed(t, id(wa)), nil).must(t, 200).Map(t)
		gone := obj(t, res["channel"])
		v1tTime(t, "discardedAt", gone["discardedAt"])
		if gone["main"] != false {
			t.Fatalf("a discarded channel stays main: %v", gone)
		}
		again := obj(t, a.v1tDo("DELETE", "/channels/"+id(wa), nil).must(t, 200).Map(t)["channel"])
		wantJSON(t, "discarding again", again, gone)
		wantJSON(t, "GET of the discarded channel", obj(t, a.v1tDo("GET", "/channels/"+id(wa), nil).must(t, 200).Map(t)["channel"]), gone)
		a.v1tDo("DELETE", "/channels/"+v1tUUID32(), nil).wantError(t, 404, "not_found", "")
		wantJSON(t, "active channels", list("?active=true", 1, 1), []string{id(tg), id(wa2)})
		wantJSON(t, "discarded channels", list("?active=false", 1, 1), []string{id(wa)})
		wantJSON(t, "active whatsapp channels", list("?type=whatsapp&active=true", 1, 1), []string{id(wa2)})

		// It keeps its contact and messages, but sends, receives and
		// takes new contacts no more; it cannot be main again.
		got := a.v1tGetContact(t, id(c))
		if obj(t, got["channel"])["discardedAt"] != gone["discardedAt"] {
			t.Fatalf("the contact's channel is not the discarded one: %v", got["channel"])
		}
		if ms := arr(t, a.v1tDo("GET", "/contacts/"+id(c)+"/messages", nil).must(t, 200).Map(t)["messages"]); len(ms) != 1 {
			t.Fatalf("the discarded channel's contact has %d messages, want 1", len(ms))
		}
		send := map[string]any{"to": "33700000001", "channel_uuid": id(wa), "type": "text", "content": map[string]any{"text": "Hi"}}
		e := a.v1tDo("POST", "/messages/send", send).wantError(t, 422, "invalid_operation", "channel_uuid")
		if !strings.Contains(fmt.Sprint(e["message"]), "discarded") {
			t.Fatalf("the refusal does not say the channel was discarded: %v", e)
		}
		a.v1tDo("POST", "/channels/"+id(wa)+"/inbound", map[string]any{"from": "33700000001", "content": map[string]any{"text": "Hi"}}).
			wantError(t, 422, "invalid_operation", "channel_uuid")
		a.v1tDo("POST", "/contacts", map[string]any{"identifier": "33700000002", "channel_uuid": id(wa), "name": "Bob"}).
			wantError(t, 422, "invalid_operation", "channel_uuid")
		a.v1tDo("PATCH", "/channels/"+id(wa), map[string]any{"main": true}).wantError(t, 422, "invalid_operation", "channel_uuid")
		a.do("POST", "/conversations/"+cbConversation(t, c)+"/messages", map[string]any{"sender": map[string]string{"name": "Support"}, "parts": []any{map[string]any{"mime_type": "text/plain", "body": "Hi"}}}).
			wantError(t, 422, "invalid_operation", "channel_uuid")
		a.wantEvents(t, mark)

		// Pages of 50.
		for i := range 48 {
			a.v1tChannel(t, map[string]any{"type": "sms", "identifier": fmt.Sprintf("+1555000%04d", i)})
		}
		if ids := list("", 1, 2); len(ids) != 50 || ids[0] != id(wa) {
			t.Fatalf("page 1 lists %d channels from %v, want 50 from the oldest", len(ids), ids[:1])
		}
		if ids := list("?page=2", 2, 2); len(ids) != 1 {
			t.Fatalf("page 2 lists %d channels, want 1", len(ids))
		}
		if ids := list("?type=sms&page=1", 1, 1); len(ids) != 48 {
			t.Fatalf("sms channels: %d, want 48", len(ids))
		}
	})
}

// Every field of Callbell's contact object, set through POST and PATCH,
// shows in the API and in contact_updated, each change recorded.
func TestV1CRMContactFields(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		wa := a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		wa2 := a.v1tChannel(t, v1tWhatsapp("+44 7700 900123"))
		tg := a.v1tChannel(t, map[string]any{"type": "telegram", "identifier": "herald_bot"})
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "contact_created", "contact_updated")

		c := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada",
			"note": "Prefers mornings", "bot_status": "bot_start", "bsuid": "bsuid_ada", "blocked": true,
			"channel_uuid": wa2["uuid"]})
		id := c["uuid"].(string)
		if c["note"] != "Prefers mornings" || c["bsuid"] != "bsuid_ada" || obj(t, c["channel"])["uuid"] != wa2["uuid"] {
			t.Fatalf("created contact: %v", c)
		}
		v1tTime(t, "blockedAt", c["blockedAt"])
		if bot := a.v1tDo("GET", "/contacts/"+id+"/bot", nil).must(t, 200).Map(t); obj(t, bot["bot"])["status"] != "started" {
			t.Fatalf("bot after bot_status bot_start: %v", bot)
		}
		created := cbWait(t, rc, 1)[0].Body
		wantJSON(t, "contact_created payload", without(obj(t, cbValue(t, created, "payload")), "closingReason"), without(c, "closingReason"))

		// Each field changes alone, recording contact.updated, carried
		// by contact_updated as the API shows the contact.
		for i, step := range []struct {
			body  map[string]any
			check func(map[string]any) bool
		}{
			{map[string]any{"note": ""}, func(c map[string]any) bool { return c["note"] == nil }},
			{map[string]any{"note": " Call back "}, func(c map[string]any) bool { return c["note"] == "Call back" }},
			{map[string]any{"blocked": false}, func(c map[string]any) bool { return c["blockedAt"] == nil }},
			{map[string]any{"bot_status": "bot_end"}, func(map[string]any) bool {
				return obj(t, a.v1tDo("GET", "/contacts/"+id+"/bot", nil).must(t, 200).Map(t)["bot"])["status"] == "ended"
			}},
			{map[string]any{"bsuid": "bsuid_ada2"}, func(c map[string]any) bool { return c["bsuid"] == "bsuid_ada2" }},
			{map[string]any{"channel_uuid": wa["uuid"]}, func(c map[string]any) bool { return obj(t, c["channel"])["uuid"] == wa["uuid"] }},
			{map[string]any{"custom_fields": map[string]any{"orderNumber": 123}}, func(c map[string]any) bool {
				return fmt.Sprint(c["customFields"]) == "map[orderNumber:123]"
			}},
		} {
			mark := a.eventMark()
			got := a.crmPatch(t, id, step.body)
			if !step.check(got) {
				t.Fatalf("PATCH %v gave %v", step.body, got)
			}
			a.wantEvents(t, mark, "contact.updated")
			hit := cbWait(t, rc, i+2)[i+1].Body
			wantJSON(t, fmt.Sprintf("contact_updated after PATCH %v", step.body),
				without(obj(t, cbValue(t, hit, "payload")), "closingReason"), without(a.v1tGetContact(t, id), "closingReason"))
			// The same PATCH again changes nothing and records nothing.
			a.crmPatch(t, id, step.body)
			a.wantEvents(t, mark, "contact.updated")
		}

		// Refusals name the field and change nothing.
		mark := a.eventMark()
		before := a.v1tGetContact(t, id)
		for _, tc := range []struct {
			body map[string]any
			prop string
		}{
			{map[string]any{"note": strings.Repeat("é", 1001)}, "note"},
			{map[string]any{"bot_status": "started"}, "bot_status"},
			{map[string]any{"bsuid": " "}, "bsuid"},
			{map[string]any{"channel_uuid": tg["uuid"]}, "channel_uuid"},
			{map[string]any{"channel_uuid": v1tUUID32()}, "channel_uuid"},
			{map[string]any{"custom_fields": map[string]any{"vip": true}}, "custom_fields.vip"},
		} {
			a.v1tDo("PATCH", "/contacts/"+id, tc.body).wantError(t, 422, "invalid_property", tc.prop)
		}
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"blocked": "yes"}).wantError(t, 422, "invalid_property", "blocked")
		a.wantEvents(t, mark)
		wantJSON(t, "contact after refusals", a.v1tGetContact(t, id), before)

		// A blocked contact is neither sent to nor heard from.
		a.crmPatch(t, id, map[string]any{"blocked": true})
		a.v1tDo("POST", "/messages/send", map[string]any{"to": "33700000001", "from": "whatsapp", "type": "text",
			"content": map[string]any{"text": "Hi"}}).wantError(t, 422, "invalid_operation", "")
		a.v1tDo("POST", "/channels/"+wa["uuid"].(string)+"/inbound", map[string]any{"from": "33700000001",
			"content": map[string]any{"text": "Hi"}}).wantError(t, 422, "invalid_operation", "")
		a.do("POST", "/conversations/"+cbConversation(t, c)+"/messages", map[string]any{"sender": map[string]string{"name": "Support"}, "parts": []any{map[string]any{"mime_type": "text/plain", "body": "Hi"}}}).
			wantError(t, 422, "invalid_operation", "")
		a.crmPatch(t, id, map[string]any{"blocked": false})
		a.crmSend(t, map[string]any{"to": "33700000001", "content": map[string]any{"text": "Hi"}})

		// Moving to a channel where the address is taken is a conflict.
		a.v1tContact(t, map[string]any{"identifier": "33700000001", "channel_uuid": wa2["uuid"], "name": "Ada's twin"})
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"channel_uuid": wa2["uuid"]}).wantError(t, 409, "conflict", "")
	})
}

func TestV1CRMLookupsAndBsuid(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tDo("GET", "/contacts/phone/33700000001", nil).wantError(t, 422, "missing_property", "channel_uuid")
		wa := a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		wa2 := a.v1tChannel(t, v1tWhatsapp("+44 7700 900123"))
		ada := a.v1tContact(t, map[string]any{"identifier": "+33 7 00 00 00 01", "source": "whatsapp", "name": "Ada", "bsuid": "bs_ada"})
		bob := a.v1tContact(t, map[string]any{"identifier": "33700000001", "channel_uuid": wa2["uuid"], "name": "Bob"})

		// By phone: in any format, on the main WhatsApp channel or the
		// channel named.
		for _, path := range []string{"/contacts/phone/33700000001", "/contacts/phone/" + "%2B33%207%2000%2000%2000%2001",
			"/contacts/phone/33700000001?channel_uuid=" + wa["uuid"].(string)} {
			if got := obj(t, a.v1tDo("GET", path, nil).must(t, 200).Map(t)["contact"]); got["uuid"] != ada["uuid"] {
				t.Fatalf("GET %s found %v, want Ada", path, got["uuid"])
			}
		}
		got := obj(t, a.v1tDo("GET", "/contacts/phone/33700000001?channel_uuid="+v1tDashed(t, wa2["uuid"].(string)), nil).must(t, 200).Map(t)["contact"])
		if got["uuid"] != bob["uuid"] {
			t.Fatalf("lookup on the second channel found %v, want Bob", got["uuid"])
		}
		a.v1tDo("GET", "/contacts/phone/33700000009", nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/contacts/phone/abc", nil).wantError(t, 422, "invalid_property", "phone_number")
		a.v1tDo("GET", "/contacts/phone/33700000001?channel_uuid=nope", nil).wantError(t, 422, "invalid_property", "channel_uuid")

		// By BSUID.
		got = obj(t, a.v1tDo("GET", "/contacts/bsuid/bs_ada", nil).must(t, 200).Map(t)["contact"])
		wantJSON(t, "contact by BSUID", got, a.v1tGetContact(t, ada["uuid"].(string)))
		a.v1tDo("GET", "/contacts/bsuid/bs_ada?channel_uuid="+wa2["uuid"].(string), nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/contacts/bsuid/bs_nobody", nil).wantError(t, 404, "not_found", "")
		a.v1tDo("GET", "/contacts/"+ada["uuid"].(string)+"/nothing", nil).wantError(t, 404, "invalid_endpoint", "")
		// A BSUID is one contact's on a channel.
		a.v1tDo("POST", "/contacts", map[string]any{"identifier": "33700000005", "source": "whatsapp", "name": "Eve", "bsuid": "bs_ada"}).
			wantError(t, 409, "conflict", "bsuid")

		// A contact known only by its BSUID: no phone number.
		only := a.v1tContact(t, map[string]any{"source": "whatsapp", "name": "Private", "bsuid": "bs_private"})
		if only["phoneNumber"] != "" || only["bsuid"] != "bs_private" {
			t.Fatalf("contact by BSUID only: %v", only)
		}
		a.v1tContact(t, map[string]any{"source": "whatsapp", "name": "Private 2", "bsuid": "bs_private2"})

		// Sending by BSUID finds the contact, or creates it; to wins
		// over bsuid.
		send := a.withTemplate(t, map[string]any{"bsuid": "bs_private", "content": map[string]any{"text": "Hi"}})
		mark := a.eventMark()
		a.cbSend(t, send)
		a.wantEvents(t, mark, "message.sent")
		a.crmSend(t, map[string]any{"bsuid": "bs_new", "content": map[string]any{"text": "Hi"}})
		created := obj(t, a.v1tDo("GET", "/contacts/bsuid/bs_new", nil).must(t, 200).Map(t)["contact"])
		if created["name"] != "bs_new" || created["phoneNumber"] != "" {
			t.Fatalf("contact created by a send by BSUID: %v", created)
		}
		mark = a.eventMark()
		a.crmSend(t, map[string]any{"to": "33700000001", "bsuid": "bs_private", "content": map[string]any{"text": "Hi"}})
		msgs := arr(t, a.v1tDo("GET", "/contacts/"+ada["uuid"].(string)+"/messages", nil).must(t, 200).Map(t)["messages"])
		if len(msgs) != 1 {
			t.Fatalf("to and bsuid: Ada has %d messages, want the one", len(msgs))
		}
		a.v1tDo("POST", "/messages/send", map[string]any{"from": "whatsapp", "type": "text", "content": map[string]any{"text": "Hi"}}).
			wantError(t, 422, "missing_property", "to")

		// Inbound: the connector's contact.bsuid finds the contact, even
		// without from; a contact found by address learns its BSUID.
		inbound := func(body map[string]any) {
			t.Helper()
			body["content"] = map[string]any{"text": "Hello"}
			a.v1tDo("POST", "/channels/"+wa["uuid"].(string)+"/inbound", body).must(t, 201)
		}
		mark = a.eventMark()
		inbound(map[string]any{"contact": map[string]any{"bsuid": "bs_private"}})
		a.wantEvents(t, mark, "message.sent")
		mark = a.eventMark()
		inbound(map[string]any{"from": "33700000001", "contact": map[string]any{"bsuid": "bs_ada_new"}})
		a.wantEvents(t, mark, "contact.updated", "message.sent")
		if got := a.v1tGetContact(t, ada["uuid"].(string)); got["bsuid"] != "bs_ada_new" {
			t.Fatalf("Ada's BSUID after an inbound message with another: %v", got["bsuid"])
		}
		mark = a.eventMark()
		inbound(map[string]any{"contact": map[string]any{"bsuid": "bs_stranger", "name": "Stranger"}})
		a.wantEvents(t, mark, "contact.created", "conversation.created", "conversation.opened", "message.sent")
		a.v1tDo("POST", "/channels/"+wa["uuid"].(string)+"/inbound", map[string]any{"contact": map[string]any{"bsuid": ""},
			"content": map[string]any{"text": "Hi"}}).wantError(t, 422, "missing_property", "from")
	})
}

func TestV1CRMBotNotesAndMessages(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		c := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada"})
		id := c["uuid"].(string)

		// The bot: none until started; bot_start and bot_end.
		a.v1tDo("GET", "/contacts/"+id+"/bot", nil).wantError(t, 404, "not_found", "")
		mark := a.eventMark()
		bot := a.v1tDo("POST", "/contacts/"+id+"/bot", map[string]any{"status": "bot_start"}).must(t, 200).Map(t)
		wantJSON(t, "bot", bot, map[string]any{"bot": map[string]any{"uuid": nil, "name": nil, "status": "started",
			"conversationStartedAt": nil, "version": nil, "latestBotVersion": nil}})
		wantJSON(t, "GET bot", a.v1tDo("GET", "/contacts/"+v1tDashed(t, id)+"/bot", nil).must(t, 200).Map(t), bot)
		a.v1tDo("POST", "/contacts/"+id+"/bot", map[string]any{"status": "bot_start"}).must(t, 200)
		a.wantEvents(t, mark, "contact.updated")
		a.v1tDo("POST", "/contacts/"+id+"/bot", map[string]any{"status": "bot_end"}).must(t, 200)
		a.wantEvents(t, mark, "contact.updated", "contact.updated")
		a.v1tDo("POST", "/contacts/"+id+"/bot", map[string]any{"status": "stop"}).wantError(t, 422, "invalid_property", "status")
		a.v1tDo("POST", "/contacts/"+id+"/bot", map[string]any{}).wantError(t, 422, "missing_property", "status")
		a.v1tDo("POST", "/contacts/"+v1tUUID32()+"/bot", map[string]any{"status": "bot_end"}).wantError(t, 404, "not_found", "")

		// A note is a message of the conversation that receivers of
		// message_created never see, and that does not reopen it.
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "message_created")
		a.v1tDo("POST", "/contacts/"+id+"/conversation/close", nil).must(t, 200)
		mark = a.eventMark()
		res := a.v1tDo("POST", "/contacts/"+id+"/conversation/note", map[string]any{"text": "Call back @eve"}).must(t, 200).Map(t)
		if res["success"] != true || !v1tHex32.MatchString(fmt.Sprint(res["uuid"])) {
			t.Fatalf("note response: %v", res)
		}
		a.wantEvents(t, mark, "message.sent")
		if got := a.v1tGetContact(t, id); got["closedAt"] == nil {
			t.Fatal("a note reopened the conversation")
		}
		a.v1tDo("POST", "/contacts/"+id+"/conversation/note", map[string]any{"text": " "}).wantError(t, 422, "missing_property", "text")
		a.v1tDo("POST", "/contacts/"+v1tUUID32()+"/conversation/note", map[string]any{"text": "x"}).wantError(t, 404, "not_found", "")
		sent := a.crmSend(t, map[string]any{"to": "33700000001", "content": map[string]any{"text": "Hello Ada"}})
		hits := cbWait(t, rc, 1)
		if cbString(t, hits[0].Body, "payload", "text") != "Hello Ada" {
			t.Fatalf("the first message_created is not the message: %s", hits[0].Body)
		}
		rc.quiet(t, 1, 300*1e6)
		// In Layer's view, the note is a message of the conversation.
		layer := a.do("GET", "/conversations/"+cbConversation(t, c)+"/messages", nil).must(t, 200)
		var lm []map[string]any
		layer.JSON(t, &lm)
		if len(lm) != 2 || !strings.Contains(fmt.Sprint(lm[1]["parts"]), "Call back @eve") {
			t.Fatalf("Layer's view of the conversation: %v", lm)
		}

		// The contact's messages, newest first, filtered by status.
		a.cbInbound(t, obj(t, c["channel"])["uuid"].(string), map[string]any{"from": "33700000001", "content": map[string]any{"text": "Hi!"}})
		list := func(query string) []map[string]any {
			t.Helper()
			res := a.v1tDo("GET", "/contacts/"+id+"/messages"+query, nil).must(t, 200).Map(t)
			wantKeys(t, "messages", res, "messages")
			out := []map[string]any{}
			for _, m := range arr(t, res["messages"]) {
				out = append(out, obj(t, m))
			}
			return out
		}
		all := list("")
		if len(all) != 3 {
			t.Fatalf("%d messages, want 3", len(all))
		}
		for i, want := range []map[string]any{
			{"text": "Hi!", "status": "received", "channel": "whatsapp", "from": "33700000001", "to": "33612345678"},
			{"text": "Hello Ada", "status": "sent", "channel": "whatsapp", "from": "33612345678", "to": "33700000001", "uuid": sent},
			{"text": "Call back @eve", "status": "note", "channel": "whatsapp", "from": "33612345678", "to": "33612345678", "uuid": res["uuid"]},
		} {
			got := without(all[i], "createdAt")
			if _, ok := want["uuid"]; !ok {
				got = without(got, "uuid")
			}
			wantJSON(t, fmt.Sprintf("message %d", i), got, want)
			v1tTime(t, "message createdAt", all[i]["createdAt"])
		}
		for status, want := range map[string]string{"sent": "Hello Ada", "received": "Hi!", "note": "Call back @eve"} {
			if got := list("?status=" + status); len(got) != 1 || got[0]["text"] != want {
				t.Fatalf("status=%s lists %v", status, got)
			}
		}
		a.v1tDo("GET", "/contacts/"+id+"/messages?status=read", nil).wantError(t, 422, "invalid_property", "status")
		a.v1tDo("GET", "/contacts/"+id+"/messages?page=x", nil).wantError(t, 422, "invalid_property", "page")
		a.v1tDo("GET", "/contacts/"+v1tUUID32()+"/messages", nil).wantError(t, 404, "not_found", "")

		// Pages of 50.
		for i := range 48 {
			a.crmSend(t, map[string]any{"to": "33700000001", "content": map[string]any{"text": fmt.Sprintf("m%d", i)}})
		}
		if got := list(""); len(got) != 50 || got[0]["text"] != "m47" {
			t.Fatalf("page 1: %d messages from %v", len(got), got[0]["text"])
		}
		if got := list("?page=2"); len(got) != 1 || got[0]["text"] != "Call back @eve" {
			t.Fatalf("page 2: %v", got)
		}
		if got := list("?page=2&status=sent"); len(got) != 0 {
			t.Fatalf("page 2 of 49 sent messages: %v", got)
		}
	})
}

func TestV1CRMFunnels(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		c := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada"})
		id := c["uuid"].(string)
		wantJSON(t, "no funnels", a.v1tDo("GET", "/funnels", nil).must(t, 200).Map(t), map[string]any{"funnels": []any{}})
		create := func(body map[string]any) map[string]any {
			t.Helper()
			return obj(t, a.v1tDo("POST", "/funnels", body).must(t, 201).Map(t)["funnel"])
		}
		interest := create(map[string]any{"name": "Interest", "emoji": "👁️"})
		awareness := create(map[string]any{"name": "Awareness", "emoji": "🧘", "position": 0})
		action := create(map[string]any{"name": "Action"})
		if interest["position"] != 1.0 || action["position"] != 2.0 || awareness["position"] != 0.0 {
			t.Fatalf("positions %v %v %v", interest["position"], awareness["position"], action["position"])
		}
		if _, err := uuid.Parse(interest["uuid"].(string)); err != nil || len(interest["uuid"].(string)) != 36 {
			t.Fatalf("funnel uuid %v is not the 36-character form the docs show", interest["uuid"])
		}
		wantKeys(t, "funnel", interest, "position", "name", "emoji", "createdAt", "uuid")
		wantJSON(t, "funnels", a.v1tDo("GET", "/funnels", nil).must(t, 200).Map(t),
			map[string]any{"funnels": []any{awareness, interest, action}})
		for _, tc := range []struct {
			body map[string]any
			prop string
		}{
			{map[string]any{"name": " "}, "name"},
			{map[string]any{"name": "X", "position": -1}, "position"},
			{map[string]any{"name": "X", "emoji": strings.Repeat("x", 17)}, "emoji"},
		} {
			a.v1tDo("POST", "/funnels", tc.body).wantError(t, 422, "invalid_property", tc.prop)
		}

		// update_funnel: by uuid in either form, contact_updated.
		rc := newReceiver(t)
		a.cbSubscribe(t, rc.URL, nil, "contact_updated")
		mark := a.eventMark()
		got := obj(t, a.v1tDo("PUT", "/contacts/"+id+"/conversation/update_funnel",
			map[string]any{"funnel_id": strings.ReplaceAll(interest["uuid"].(string), "-", "")}).must(t, 200).Map(t)["contact"])
		if got["funnelId"] != interest["uuid"] {
			t.Fatalf("funnelId %v, want %v", got["funnelId"], interest["uuid"])
		}
		a.wantEvents(t, mark, "contact.updated")
		if hit := cbWait(t, rc, 1)[0].Body; cbString(t, hit, "payload", "funnelId") != interest["uuid"] {
			t.Fatalf("contact_updated after update_funnel: %s", hit)
		}
		a.v1tDo("PUT", "/contacts/"+id+"/conversation/update_funnel", map[string]any{"funnel_id": interest["uuid"]}).must(t, 200)
		a.wantEvents(t, mark, "contact.updated")
		a.v1tDo("PUT", "/contacts/"+id+"/conversation/update_funnel", map[string]any{"funnel_id": uuid.NewString()}).
			wantError(t, 422, "invalid_property", "funnel_id")
		a.v1tDo("PUT", "/contacts/"+id+"/conversation/update_funnel", map[string]any{}).wantError(t, 422, "missing_property", "funnel_id")
		a.v1tDo("PUT", "/contacts/"+v1tUUID32()+"/conversation/update_funnel", map[string]any{"funnel_id": ""}).wantError(t, 404, "not_found", "")

		// A funnel with contacts stays; without, it goes.
		a.v1tDo("DELETE", "/funnels/"+interest["uuid"].(string), nil).wantError(t, 409, "conflict", "")
		got = obj(t, a.v1tDo("PUT", "/contacts/"+id+"/conversation/update_funnel", map[string]any{"funnel_id": ""}).must(t, 200).Map(t)["contact"])
		if got["funnelId"] != nil {
			t.Fatalf("funnelId %v after funnel_id \"\"", got["funnelId"])
		}
		wantJSON(t, "DELETE funnel", a.v1tDo("DELETE", "/funnels/"+interest["uuid"].(string), nil).must(t, 200).Map(t),
			map[string]any{"status": "funnel was destroyed"})
		a.v1tDo("DELETE", "/funnels/"+interest["uuid"].(string), nil).wantError(t, 404, "not_found", "")
		wantJSON(t, "funnels after a deletion", a.v1tDo("GET", "/funnels", nil).must(t, 200).Map(t),
			map[string]any{"funnels": []any{awareness, action}})
	})
}

func TestV1CRMCustomFieldTypes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		define := func(body map[string]any) {
			t.Helper()
			a.v1tDo("POST", "/custom_fields", body).must(t, 200)
		}
		define(map[string]any{"name": "Work Email", "type": "email"})
		define(map[string]any{"name": "Seats", "type": "number"})
		define(map[string]any{"name": "Birth Date", "type": "date"})
		define(map[string]any{"name": "Status", "type": "dropdown", "options": []string{"Active", "Churned"}})
		define(map[string]any{"name": "Features", "type": "checkbox", "options": []string{"Dark Mode", "Notifications", "Analytics"}})
		define(map[string]any{"name": "Address", "type": "text"})
		fields := arr(t, a.v1tDo("GET", "/custom_fields", nil).must(t, 200).Map(t)["custom_fields"])
		if len(fields) != 6 || obj(t, fields[0])["name"] != "Address" {
			t.Fatalf("custom fields: %v", fields)
		}
		for _, tc := range []struct {
			body map[string]any
			id   string
			prop string
		}{
			{map[string]any{"name": "X", "type": "colour"}, "invalid_property", "type"},
			{map[string]any{"name": "X", "type": "dropdown"}, "missing_property", "options"},
			{map[string]any{"name": "X", "type": "text", "options": []string{"a"}}, "invalid_property", "options"},
			{map[string]any{"name": "X", "type": "checkbox", "options": []string{"a", "a"}}, "invalid_property", "options[1]"},
			{map[string]any{"name": "", "type": "text"}, "invalid_property", "name"},
		} {
			a.v1tDo("POST", "/custom_fields", tc.body).wantError(t, 422, tc.id, tc.prop)
		}

		// Callbell's own example values, and a number sent as a number.
		c := a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada",
			"custom_fields": map[string]any{"Address": "Main Street 1", "Work Email": "user@example.com", "Status": "Active",
				"Features": []string{"Dark Mode", "Notifications"}, "Seats": 42, "Birth Date": "1990-05-15", "Free": "form"}})
		id := c["uuid"].(string)
		want := map[string]any{"Address": "Main Street 1", "Work Email": "user@example.com", "Status": "Active",
			"Features": []string{"Dark Mode", "Notifications"}, "Seats": "42", "Birth Date": "1990-05-15", "Free": "form"}
		wantJSON(t, "typed custom fields", c["customFields"], want)

		// include_field_types: value, type and options.
		meta := map[string]any{
			"Address":    map[string]any{"value": "Main Street 1", "type": "text"},
			"Work Email": map[string]any{"value": "user@example.com", "type": "email"},
			"Status":     map[string]any{"value": "Active", "type": "dropdown", "options": []string{"Active", "Churned"}},
			"Features": map[string]any{"value": []string{"Dark Mode", "Notifications"}, "type": "checkbox",
				"options": []string{"Dark Mode", "Notifications", "Analytics"}},
			"Seats":      map[string]any{"value": "42", "type": "number"},
			"Birth Date": map[string]any{"value": "1990-05-15", "type": "date"},
			"Free":       map[string]any{"value": "form", "type": "text"},
		}
		got := obj(t, a.v1tDo("GET", "/contacts/"+id+"?include_field_types=true", nil).must(t, 200).Map(t)["contact"])
		wantJSON(t, "customFieldsMetadata", got["customFieldsMetadata"], meta)
		listed, _ := a.v1tDo("GET", "/contacts?include_field_types=true", nil).must(t, 200).Map(t)["contacts"].([]any)
		if len(listed) != 1 {
			t.Fatalf("listed %d contacts", len(listed))
		}
		wantJSON(t, "listed customFieldsMetadata", obj(t, listed[0])["customFieldsMetadata"], meta)
		if _, ok := a.v1tGetContact(t, id)["customFieldsMetadata"]; ok {
			t.Fatal("customFieldsMetadata without include_field_types")
		}
		a.v1tDo("GET", "/contacts/"+id+"?include_field_types=perhaps", nil).wantError(t, 422, "invalid_property", "include_field_types")

		// Values against their type: a 422 naming the field, nothing
		// changed.
		mark := a.eventMark()
		for field, v := range map[string]any{
			"Work Email": "not an email", "Seats": "many", "Birth Date": "15/05/1990", "Status": "Gone",
			"Features": []string{"Dark Mode", "Teleport"}, "Address": []string{"a"},
		} {
			a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"custom_fields": map[string]any{field: v}}).
				wantError(t, 422, "invalid_property", "custom_fields."+field)
		}
		a.v1tDo("PATCH", "/contacts/"+id, map[string]any{"custom_fields": map[string]any{"Features": "Dark Mode"}}).
			wantError(t, 422, "invalid_property", "custom_fields.Features")
		a.wantEvents(t, mark)
		wantJSON(t, "fields after refusals", a.v1tGetContact(t, id)["customFields"], want)

		// A deleted definition leaves values free-form.
		a.v1tDo("DELETE", "/custom_fields/Status", nil).must(t, 200)
		a.v1tDo("DELETE", "/custom_fields/Status", nil).wantError(t, 404, "not_found", "")
		got = a.crmPatch(t, id, map[string]any{"custom_fields": map[string]any{"Status": "Gone"}})
		wantJSON(t, "free-form after deletion", got["customFields"], map[string]any{"Status": "Gone"})
	})
}

// The contact wrapping of contact_shape=array, as Callbell's examples show
// it.
func TestV1CRMContactShape(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		res := a.v1tDo("POST", "/contacts?contact_shape=array", map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "Ada"}).
			must(t, 201).Map(t)
		list := arr(t, res["contact"])
		if len(list) != 1 {
			t.Fatalf("contact_shape=array: %v", res)
		}
		c := obj(t, list[0])
		id := c["uuid"].(string)
		for _, r := range []struct{ method, path string }{
			{"GET", "/contacts/" + id}, {"PATCH", "/contacts/" + id}, {"POST", "/contacts/" + id + "/conversation/close"},
			{"POST", "/contacts/" + id + "/conversation/open"}, {"GET", "/contacts/phone/33700000001"},
		} {
			var body any
			if r.method == "PATCH" {
				body = map[string]any{"name": "Ada"}
			}
			got := a.v1tDo(r.method, r.path+"?contact_shape=array", body).must(t, 200).Map(t)
			if l := arr(t, got["contact"]); len(l) != 1 || obj(t, l[0])["uuid"] != id {
				t.Fatalf("%s %s?contact_shape=array: %v", r.method, r.path, got)
			}
			if obj(t, a.v1tDo(r.method, r.path+"?contact_shape=object", body).must(t, 200).Map(t)["contact"])["uuid"] != id {
				t.Fatalf("%s %s?contact_shape=object is not an object", r.method, r.path)
			}
		}
		a.v1tDo("GET", "/contacts/"+id+"?contact_shape=list", nil).wantError(t, 422, "invalid_property", "contact_shape")
	})
}

// crmSend sends a text as an approved template of the same text: these
// tests are about contacts, whom WhatsApp's 24-hour window would otherwise
// keep from free-form messages until they write.
func (a *api) crmSend(t *testing.T, body map[string]any) string {
	t.Helper()
	return a.cbSend(t, a.withTemplate(t, body))
}
