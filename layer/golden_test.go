package layer_test

import (
	"bytes"
	"github.com/heraldhq/herald/internal/seedtest"
	"net/url"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/urls"
)

// pngBytes stand in for an image: the payload carries only its size.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0x42}, 3000)...)

// The seed message.sent payload (version 1.0), acted out in Herald: user
// 12345 sends a text part and an uploaded image to 999 and 111.
func TestGoldenMessageSent(t *testing.T) {
	f := newFixture(t)
	c := f.conversation("", "12345", "999", "111")
	image := f.content(c.ID, "image/png", pngBytes)
	m := f.send(c.ID, herald.Sender{UserID: "12345"}, text("This is the message."), image)
	e := f.event(herald.EventMessageSent)

	body, p := f.render(e, "1.0", seedConfig)
	seedtest.Compare(t, "layer-message-sent.md", body)

	// What the normaliser hides must still be Herald's own values.
	wantValue(t, p, "event.id", e.ID)
	wantValue(t, p, "event.created_at", herald.FormatTime(e.CreatedAt))
	wantValue(t, p, "message.id", herald.MessageIDPrefix+m.ID)
	wantValue(t, p, "message.sent_at", herald.FormatTime(m.SentAt))
	wantValue(t, p, "message.conversation.id", herald.ConversationIDPrefix+c.ID)
	wantValue(t, p, "message.conversation.url", f.u.Conversation(f.app, c.ID))
	parts := at(t, p, "message.parts").([]any)
	wantValue(t, parts[0].(map[string]any), "id", herald.MessageIDPrefix+m.ID+"/parts/0")
	part := parts[1].(map[string]any)
	wantValue(t, part, "id", herald.MessageIDPrefix+m.ID+"/parts/1")
	contentID := image.Content.ID
	download, exp := f.u.ContentDownload(contentID)
	wantValue(t, part, "content.id", herald.ContentIDPrefix+contentID)
	wantValue(t, part, "content.download_url", download)
	wantValue(t, part, "content.expiration", herald.FormatTime(exp))
	wantValue(t, part, "content.refresh_url", f.u.ContentRefresh(f.app, contentID))
	wantValue(t, part, "content.size", float64(len(pngBytes)))
	// The download URL really opens the content.
	du, err := url.Parse(download)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.u.Verify(du.Query(), urls.Download, contentID); err != nil {
		t.Errorf("download_url does not verify: %v", err)
	}
}

// The seed message.deleted payload (version 2.0), acted out in Herald: 1234
// sends to 999 and 111, both read it, and 111 deletes it for everyone.
func TestGoldenMessageDeleted(t *testing.T) {
	f := newFixture(t)
	f.identity("111", "Number One, You have the Bridge", "https://mydomain.com/images/111.gif")
	f.identity("1234", "One Two Three Four", "https://mydomain.com/images/1234.gif")
	f.identity("999", "Nein!", "https://mydomain.com/images/999.gif")
	c := f.conversation("", "1234", "999", "111")
	m := f.send(c.ID, herald.Sender{UserID: "1234"}, text("This is the message."))
	f.receipt("999", m.ID, "read")
	f.receipt("111", m.ID, "read")
	if err := f.svc.DeleteMessage(f.ctx, f.app, c.ID, m.ID, &herald.Actor{UserID: "111"}); err != nil {
		t.Fatal(err)
	}
	e := f.event(herald.EventMessageDeleted)

	body, p := f.render(e, "2.0", seedConfig)
	seedtest.Compare(t, "layer-message-deleted.md", body)

	wantValue(t, p, "event.id", e.ID)
	wantValue(t, p, "event.actor.url", f.u.Identity(f.app, "111"))
	wantValue(t, p, "message.id", herald.MessageIDPrefix+m.ID)
	wantValue(t, p, "message.url", f.u.Message(f.app, m.ID))
	wantValue(t, p, "message.conversation.url", f.u.Conversation(f.app, c.ID))
	wantValue(t, p, "message.sender.url", f.u.Identity(f.app, "1234"))
}
