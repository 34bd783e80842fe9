package whatsapp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/connector"
)

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func wantJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if g := roundTrip(t, got); !reflect.DeepEqual(g, w) {
		b, _ := json.Marshal(got)
		t.Errorf("%s:\n got %s\nwant %s", what, b, want)
	}
}

func outgoing(mc *herald.MessageChannel, parts ...herald.Part) *connector.Outgoing {
	if mc == nil {
		mc = &herald.MessageChannel{}
	}
	return &connector.Outgoing{To: "33612345678", Message: &herald.Message{Parts: parts, Channel: mc}}
}

// Each kind of content becomes the Cloud API's message of its type, as
// the messages reference shows them.
func TestRequests(t *testing.T) {
	for _, c := range []struct {
		name string
		out  *connector.Outgoing
		want string
	}{
		{"template", outgoing(&herald.MessageChannel{Template: &herald.MessageTemplate{Name: "order_update", Language: "en_US", Values: []string{"Ann", "42"}}},
			herald.Part{MimeType: herald.MimeText, Body: "Hi Ann, order 42 shipped"}),
			`[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"template","template":{"name":"order_update",
			"language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ann"},{"type":"text","text":"42"}]}]}}]`},
		{"document with caption", outgoing(nil, herald.Part{MimeType: herald.MimeText, Body: "Your invoice"},
			herald.Part{MimeType: herald.MimeURIList, Body: "https://example.com/invoice.pdf"}),
			`[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"document","document":{"link":"https://example.com/invoice.pdf","caption":"Your invoice"}}]`},
		{"location", outgoing(nil, herald.Part{MimeType: herald.MimeLocation, Body: `{"coordinates":{"x":48.85,"y":2.35}}`}),
			`[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"location","location":{"latitude":48.85,"longitude":2.35}}]`},
		{"contacts", outgoing(nil, herald.Part{MimeType: herald.MimeContactCard, Body: `{"contactsInfo":[{"name":"Bob","phones":["+33 6 11",{"phone":"+1 555","type":"WORK"}]}]}`}),
			`[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"contacts","contacts":[{"name":{"formatted_name":"Bob","first_name":"Bob"},
			"phones":[{"phone":"+33 6 11"},{"phone":"+1 555"}]}]}]`},
		{"reply buttons", outgoing(nil, herald.Part{MimeType: herald.MimeReplyButtons, Body: `{"metadata":{"type":"button","content":"Rate us","options":[{"title":"Good"},{"title":"A very long button title"}]}}`}),
			`[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"interactive","interactive":{"type":"button","body":{"text":"Rate us"},
			"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"Good"}},{"type":"reply","reply":{"id":"2","title":"A very long button t"}}]}}}]`},
		{"list, metadata as JSON text", outgoing(&herald.MessageChannel{}, herald.Part{MimeType: herald.MimeInteractiveList,
			Body: `{"metadata":"{\"header\":\"Menu\",\"body\":\"Pick one\",\"buttons\":[{\"title\":\"See\"}],\"sections\":[{\"title\":\"Breakfast\",\"items\":[{\"header\":\"Yogurt\",\"description\":null}]}]}"}`}),
			`[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"Menu"},
			"body":{"text":"Pick one"},"action":{"button":"See","sections":[{"title":"Breakfast","rows":[{"id":"1","title":"Yogurt"}]}]}}}]`},
	} {
		wantJSON(t, c.name, Requests(c.out), c.want)
	}
	reply := outgoing(nil, herald.Part{MimeType: herald.MimeText, Body: "Yes"})
	reply.ReplyTo = "wamid.X"
	wantJSON(t, "reply", Requests(reply), `[{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"text",
		"text":{"body":"Yes","preview_url":false},"context":{"message_id":"wamid.X"}}]`)
}

func notification(t *testing.T, messages string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
		"contacts":[{"profile":{"name":"Ann"},"wa_id":"33612345678","user_id":"FR.134912"}],"messages":` + messages + `}}]}]}`)
}

// The messages of a notification become inbound messages in Callbell's
// shapes; what Herald cannot take is counted, not refused.
func TestParse(t *testing.T) {
	media := func(id string) string { return "https://graph.example.com/v23.0/" + id }
	n, err := Parse(notification(t, `[
		{"from":"33612345678","id":"wamid.1","type":"image","image":{"id":"MEDIA1","mime_type":"image/jpeg","caption":"Look"},"context":{"from":"15550783881","id":"wamid.0"}},
		{"from":"33612345678","id":"wamid.2","type":"location","location":{"latitude":48.85,"longitude":2.35,"name":"Louvre"}},
		{"from":"33612345678","id":"wamid.3","type":"contacts","contacts":[{"name":{"formatted_name":"Bob"},"phones":[{"phone":"+1 555","wa_id":"1555","type":"CELL"}]}]},
		{"from":"33612345678","id":"wamid.4","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"1","title":"Good"}}},
		{"from":"33612345678","id":"wamid.5","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"2","title":"Yogurt"}}},
		{"from":"33612345678","id":"wamid.6","type":"reaction","reaction":{"message_id":"wamid.0","emoji":"👍"}},
		{"from_user_id":"FR.999","id":"wamid.7","type":"text","text":{"body":"no phone"}}]`), "106540352242922", media)
	if err != nil {
		t.Fatal(err)
	}
	if n.Skipped != 2 || len(n.Messages) != 5 {
		t.Fatalf("%d messages, %d skipped; want 5 and 2", len(n.Messages), n.Skipped)
	}
	m := n.Messages[0]
	if m.ReplyTo != "wamid.0" || m.Input.Content.URL != media("MEDIA1") || m.Input.Content.Text != "Look" ||
		m.Input.Contact.Name != "Ann" || m.Input.Contact.Bsuid != "FR.134912" || m.Input.ExternalID != "wamid.1" {
		t.Errorf("image: %+v", m)
	}
	wantJSON(t, "location", n.Messages[1].Input.Content.Location, `{"coordinates":{"x":48.85,"y":2.35}}`)
	wantJSON(t, "contacts", n.Messages[2].Input.Content.ContactCard, `{"contactsInfo":[{"name":"Bob","phones":[{"phone":"+1 555","wa_id":"1555","type":"CELL"}]}]}`)
	if n.Messages[3].Input.Content.Text != "Good" || n.Messages[4].Input.Content.Text != "Yogurt" {
		t.Errorf("replies: %q, %q", n.Messages[3].Input.Content.Text, n.Messages[4].Input.Content.Text)
	}
	other, err := Parse(notification(t, `[{"from":"33612345678","id":"wamid.1","type":"text","text":{"body":"hi"}}]`), "999", media)
	if err != nil || len(other.Messages) != 0 || other.Skipped != 1 {
		t.Errorf("another number's notification: %+v, %v", other, err)
	}
	for _, bad := range []string{`{"object":"page","entry":[]}`, `[`, `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"status":"read"}]}}]}]}`} {
		if _, err := Parse([]byte(bad), "106540352242922", media); err == nil {
			t.Errorf("Parse(%s) took it", bad)
		}
	}
}

func TestSignature(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account"}`)
	sig := Sign("secret", body)
	if !CheckSignature("secret", body, sig) {
		t.Fatal("a good signature is refused")
	}
	for _, bad := range []string{"", sig[7:], "sha1=" + sig[7:], Sign("other", body), sig[:len(sig)-1] + "0", "sha256=zz"} {
		if bad != sig && CheckSignature("secret", body, bad) {
			t.Errorf("signature %q taken", bad)
		}
	}
}
