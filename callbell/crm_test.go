package callbell_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// Every field of Callbell's contact object reaches receivers, in every
// event that carries a contact.
func TestContactCarriesEveryField(t *testing.T) {
	c := johnDoe()
	blocked := time.Date(2022, 10, 19, 8, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	closed := blocked.Add(time.Hour)
	c.AssignedUser, c.CustomFields = "eve@example.com", map[string]any{"Plan": "Gold", "Features": []any{"A", "B"}}
	c.ClosedAt, c.BlockedAt = &closed, &blocked
	c.FunnelUUID, c.Bsuid, c.Note = "1cd7845e-6b93-453d-b015-9dce35d16f39", "bsuid_abc123", "Prefers mornings"
	c.Team = &herald.Team{UUID: "7c996996fea947f4a1d5a11e7fac84db", Name: "Sales", Default: true, Members: 3,
		CreatedAt: time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)}
	ch := whatsapp()
	discarded := time.Date(2022, 11, 1, 0, 0, 0, 0, time.UTC)
	ch.DiscardedAt, ch.Main = &discarded, false
	all := append(append([]string{}, contactKeys[:len(contactKeys)-1]...), "bsuid", "note")
	for _, e := range []struct {
		event *herald.Event
		path  []string
	}{
		{event(t, herald.EventContactUpdated, herald.EventData{Contact: c, Conversation: conversation(), Channel: ch}), []string{"payload"}},
		{event(t, herald.EventConversationClosed, herald.EventData{Contact: c, Conversation: conversation(), Channel: ch}), []string{"payload", "contact"}},
		{event(t, herald.EventMessageSent, herald.EventData{Message: inbound(text("Hi")), Conversation: conversation(), Contact: c, Channel: ch}), []string{"payload", "contact"}},
	} {
		body := render(t, e.event, "")
		wantKeys(t, body, all, e.path...)
		at := func(k ...string) []string { return append(append([]string{}, e.path...), k...) }
		wantString(t, body, "eve@example.com", at("assignedUser")...)
		wantJSON(t, body, `{"Features":["A","B"],"Plan":"Gold"}`, at("customFields")...)
		wantString(t, body, "2022-10-19T07:00:00Z", at("closedAt")...)
		wantString(t, body, "2022-10-19T06:00:00Z", at("blockedAt")...)
		wantString(t, body, "1cd7845e-6b93-453d-b015-9dce35d16f39", at("funnelId")...)
		wantJSON(t, body, `{"uuid":"7c996996fea947f4a1d5a11e7fac84db","name":"Sales","createdAt":"2021-01-02T03:04:05Z","default":true,"members":3}`, at("team")...)
		wantJSON(t, body, `{"uuid":"5d1c9a7e3b2f4e6a9c8d7f1e2a3b4c5d","title":"Support","type":"whatsapp","main":false,"discardedAt":"2022-11-01T00:00:00Z"}`, at("channel")...)
		wantString(t, body, "bsuid_abc123", at("bsuid")...)
		wantString(t, body, "Prefers mornings", at("note")...)
	}
}

// An internal note is never a message_created: receivers would take it
// for a message to or from the contact.
func TestNoteIsNotAMessage(t *testing.T) {
	m := outbound(text("Call back tomorrow"))
	m.Channel.Direction, m.Channel.Status = herald.DirectionNote, ""
	body, ok, err := format().Render(messageEvent(t, herald.EventMessageSent, m), decoded(t, messageEvent(t, herald.EventMessageSent, m)), webhook(""))
	if err != nil || ok {
		t.Fatalf("a note rendered: ok=%v err=%v body=%s", ok, err, body)
	}
}
