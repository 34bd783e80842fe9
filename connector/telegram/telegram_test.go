package telegram

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/connector"
)

func TestRequests(t *testing.T) {
	out := &connector.Outgoing{To: "4242", ReplyTo: "4242:7", Message: &herald.Message{Channel: &herald.MessageChannel{}, Parts: []herald.Part{
		{MimeType: herald.MimeText, Body: "Rate us"},
		{MimeType: herald.MimeReplyButtons, Body: `{"metadata":{"type":"button","content":"How was it?","options":[{"title":"Good"},{"title":"Bad"}]}}`},
		{MimeType: herald.MimeURIList, Body: "https://example.com/a.pdf"},
		{MimeType: herald.MimeLocation, Body: `{"coordinates":{"x":1.5,"y":2.5}}`},
	}}}
	methods, bodies := Requests(out)
	if !reflect.DeepEqual(methods, []string{"sendMessage", "sendDocument", "sendLocation"}) {
		t.Fatalf("methods %v", methods)
	}
	got, _ := json.Marshal(bodies[0])
	want := `{"chat_id":"4242","reply_markup":{"keyboard":[[{"text":"Good"}],[{"text":"Bad"}]],"one_time_keyboard":true,"resize_keyboard":true},` +
		`"reply_parameters":{"allow_sending_without_reply":true,"message_id":7},"text":"Rate us\nHow was it?"}`
	if string(got) != want {
		t.Errorf("sendMessage\n got %s\nwant %s", got, want)
	}
	if bodies[1]["document"] != "https://example.com/a.pdf" || bodies[2]["latitude"] != 1.5 {
		t.Errorf("bodies %v", bodies)
	}
}

func TestParse(t *testing.T) {
	u, err := Parse([]byte(`{"update_id":1,"message":{"message_id":9,"chat":{"id":-100,"type":"group","title":"Team"},
		"from":{"id":5,"first_name":"Ada"},"photo":[{"file_id":"small"},{"file_id":"large"}],"caption":"Look",
		"reply_to_message":{"message_id":8}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.Input.From != "-100" || u.Input.ExternalID != "-100:9" || u.ReplyTo != "-100:8" || u.Input.Content.Text != "Look" ||
		string(u.Input.Metadata) != `{"telegram_file_id":"large"}` || u.Input.Contact.Name != "Ada" {
		t.Errorf("photo update: %+v %s", u, u.Input.Metadata)
	}
	u, err = Parse([]byte(`{"update_id":2,"message":{"message_id":3,"chat":{"id":5,"first_name":"Ada"},
		"contact":{"phone_number":"+331","first_name":"Bob","last_name":"Stone"}}}`))
	if err != nil || string(u.Input.Content.ContactCard) != `{"contactsInfo":[{"name":"Bob Stone","phones":[{"phone":"+331"}]}]}` {
		t.Errorf("contact update: %+v, %v", u, err)
	}
	if u, err := Parse([]byte(`{"update_id":3,"edited_message":{"message_id":3}}`)); u != nil || err != nil {
		t.Errorf("an edit: %v, %v", u, err)
	}
	if _, err := Parse([]byte(`{"update_id":4,"message":{"text":"x"}}`)); err == nil {
		t.Error("a message without ids was taken")
	}
}
