package callbell_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/seedtest"
)

// The bodies of the seed's channel parts, as Herald stores them: the JSON
// text of the matching Callbell fields, copied from the seed.
const (
	seedLocation = `{
      "coordinates": { "x": -23.605403621614, "y": -46.637346962613 },
      "googleMapsLocation": "https://maps.googleapis.com/maps/api/staticmap?zoom=15&size=270x200&scale=2&maptype=roadmap&markers=color:red%7C-24.605403621614,-47.637346962613&key=AIzaSyByh_wmPx1e3qOzsUTa-xjKHFSEDvpzT0Y&signature=e8lZQ-eMXUwBwqmA1FAXksGtiR8="
    }`
	seedContactCard = `{
      "contactsInfo": [
        {
          "name": "Peter Parker",
          "phones": [
            { "phone": "3331122336699", "wa_id": "", "type": "MOBILE" }
          ]
        }
      ]
    }`
	seedReplyButtons = `{
      "metadata": {
        "type": "quick_reply",
        "content": {
          "url": "https://url.com/uploads/conversation_attachment/url/12389/file.png",
          "text": "hello text",
          "header": "header",
          "caption": "caption",
          "filename": "file.png",
          "contentType": "image"
        },
        "options": [
          { "type": "text", "title": "Yes", "postback_url": "", "postback_text": "" },
          { "type": "text", "title": "No", "postback_url": "", "postback_text": "" },
          { "type": "text", "title": "Maybe", "postback_url": "", "postback_text": "" }
        ]
      }
    }`
	// seedListMetadata is the interactive list's metadata, which Callbell
	// sends as a JSON-encoded string.
	seedListMetadata = `{"header":"Welcome to our restaurant","body":"Have a look at our menu","buttons":[{"title":"click here"}],"sections":[{"title":"Breakfast","subtitle":null,"items":[{"header":"Yogurt","description":null},{"header":"Pancakes","description":null}]}]}`
	// seedListObject is the same metadata stored as an object.
	seedListObject = `{"metadata": {
      "header": "Welcome to our restaurant",
      "body": "Have a look at our menu",
      "buttons": [{ "title": "click here" }],
      "sections": [
        { "title": "Breakfast", "subtitle": null,
          "items": [{ "header": "Yogurt", "description": null }, { "header": "Pancakes", "description": null }] }
      ]
    }}`
)

func seedListString() string {
	b, _ := json.Marshal(map[string]string{"metadata": seedListMetadata})
	return string(b)
}

// The seed message_created payload, acted out in Herald: John Doe writes
// "Hello" on WhatsApp with a location, a contact card, reply buttons and an
// interactive list.
func TestGoldenMessageCreated(t *testing.T) {
	for _, tc := range []struct{ name, list string }{
		{"list metadata stored as a string", seedListString()},
		{"list metadata stored as an object", seedListObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := inbound(
				text("Hello"),
				jsonPart(herald.MimeLocation, seedLocation),
				jsonPart(herald.MimeContactCard, seedContactCard),
				jsonPart(herald.MimeReplyButtons, seedReplyButtons),
				jsonPart(herald.MimeInteractiveList, tc.list),
			)
			body := render(t, messageEvent(t, herald.EventMessageSent, m), "")
			seedtest.Compare(t, "callbell-message-created.md", withoutCRM(t, body))

			// What the normaliser hides must still be Herald's own values.
			wantString(t, body, contactURL, "payload", "contact", "href")
			wantString(t, body, conversationURL, "payload", "contact", "conversationHref")
			wantString(t, body, "2022-10-12T15:57:16Z", "payload", "contact", "createdAt")
			wantString(t, body, "2022-10-18T10:06:29.000+00:00", "payload", "createdAt")
			wantString(t, body, "https://maps.googleapis.com/maps/api/staticmap?zoom=15&size=270x200&scale=2&maptype=roadmap&markers=color:red%7C-24.605403621614,-47.637346962613&key=AIzaSyByh_wmPx1e3qOzsUTa-xjKHFSEDvpzT0Y&signature=e8lZQ-eMXUwBwqmA1FAXksGtiR8=",
				"payload", "messageLocation", "googleMapsLocation")
			wantString(t, body, "https://url.com/uploads/conversation_attachment/url/12389/file.png",
				"payload", "messageReplyButton", "metadata", "content", "url")
			wantString(t, body, seedListMetadata, "payload", "messageInteractiveList", "metadata")
			// The whole contact, byte for byte.
			wantJSON(t, body, johnDoeJSON, "payload", "contact")
			// '&' is not escaped as \u0026.
			if bytes.Contains(body, []byte(`\u0026`)) {
				t.Errorf("the body escapes '&':\n%s", body)
			}
		})
	}
}

// The French page of the same event: John Doe writes "Bonjour", nothing
// else.
func TestGoldenMessageCreatedFrench(t *testing.T) {
	body := render(t, messageEvent(t, herald.EventMessageSent, inbound(text("Bonjour"))), "")

	// The French page predates conversationHref, which Callbell added to
	// the contact object on 2024-09-24 (the English page has it). Herald
	// sends it; check that it is there with Herald's value, then compare
	// the rest of the body with the French seed without that one key.
	href := `"conversationHref":"` + conversationURL + `",`
	if n := bytes.Count(body, []byte(href)); n != 1 {
		t.Fatalf("the body holds %s %d times, want once:\n%s", href, n, body)
	}
	wantKeys(t, body, contactKeys, "payload", "contact")
	withoutHref := bytes.Replace(withoutCRM(t, body), []byte(href), nil, 1)
	seedtest.Compare(t, "callbell-message-created.fr.md", withoutHref)

	wantString(t, body, "Bonjour", "payload", "text")
	wantString(t, body, contactURL, "payload", "contact", "href")
	wantString(t, body, "2022-10-18T10:06:29.000+00:00", "payload", "createdAt")
}
