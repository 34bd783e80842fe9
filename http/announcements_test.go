package http_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// announce sends an announcement and returns it as rendered.
func (a *api) announce(t *testing.T, body string, recipients ...string) map[string]any {
	t.Helper()
	return a.do("POST", "/announcements", map[string]any{
		"recipients": recipients, "sender": map[string]any{"name": "Herald"},
		"parts": []any{map[string]any{"mime_type": "text/plain", "body": body}},
	}).must(t, 202).Map(t)
}

func TestSendAnnouncement(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		mark := a.eventMark()
		ann := a.do("POST", "/announcements", map[string]any{
			"recipients":   []any{"alice", "layer:///identities/bob", map[string]any{"user_id": "carol"}, "alice"},
			"sender":       map[string]any{"name": "The Team"},
			"parts":        []any{map[string]any{"mime_type": "text/plain", "body": "Scheduled maintenance tonight"}},
			"notification": map[string]any{"text": "Maintenance"},
		}).must(t, 202).Map(t)
		id := wantUUID(t, ann["id"], "layer:///announcements/")
		wantKeys(t, "announcement", ann, "id", "url", "parts", "sent_at", "sender", "recipient_status", "recipients")
		// Its url is the app's view of it.
		wantJSON(t, "the announcement at its url", a.do("GET", ann["url"].(string), nil).must(t, 200).Map(t), ann)
		wantJSON(t, "announcement", without(ann, "sent_at"), map[string]any{
			"id":               "layer:///announcements/" + id,
			"parts":            []any{map[string]any{"id": "layer:///announcements/" + id + "/parts/0", "mime_type": "text/plain", "body": "Scheduled maintenance tonight"}},
			"sender":           map[string]any{"user_id": nil, "name": "The Team"},
			"recipient_status": map[string]any{"alice": "sent", "bob": "sent", "carol": "sent"},
			"recipients":       []any{"alice", "bob", "carol"},
			"url":              a.URL + "/apps/" + a.AppID + "/announcements/" + id,
		})
		a.wantNow(t, ann["sent_at"])

		// One announcement.sent event, no message.sent, no conversation.
		ev := a.wantEvents(t, mark, "announcement.sent")[0]
		wantJSON(t, "actor", ev["actor"], map[string]any{"name": "The Team"})
		if d := obj(t, eventData(t, ev)["announcement"]); d["id"] != id {
			t.Fatalf("announcement.sent data.announcement: %v", d)
		}
		wantJSON(t, "conversations", conversationIDs(t, a.do("GET", "/conversations", nil).must(t, 200)), []string{conv})
		wantJSON(t, "messages", messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)), []string{})
		a.do("GET", "/messages/"+id, nil).wantError(t, 404, "not_found", "")

		// Each recipient sees only their own status.
		for _, who := range []string{"alice", "bob", "carol"} {
			userURL := a.URL + "/apps/" + a.AppID + "/users/" + who + "/announcements/" + id
			want := without(ann, "recipient_status", "recipients", "url")
			want["recipient_status"] = map[string]any{who: "sent"}
			want["url"], want["is_unread"] = userURL, true
			got := a.do("GET", "/users/"+who+"/announcements/"+id, nil).must(t, 200).Map(t)
			wantJSON(t, who+"'s announcement", got, want)
			wantJSON(t, who+"'s announcement by Layer id", a.do("GET", "/users/"+who+"/announcements/"+esc("layer:///announcements/"+id), nil).must(t, 200).Map(t), want)
			wantJSON(t, who+"'s announcement by url", a.do("GET", userURL, nil).must(t, 200).Map(t), want)
			var list []map[string]any
			a.do("GET", "/users/"+who+"/announcements", nil).must(t, 200).JSON(t, &list)
			wantJSON(t, who+"'s announcements", list, []any{want})
		}
		a.do("GET", "/users/dave/announcements/"+id, nil).wantError(t, 404, "not_found", "")
		var none []any
		a.do("GET", "/users/dave/announcements", nil).must(t, 200).JSON(t, &none)
		if none == nil || len(none) != 0 {
			t.Fatalf("dave's announcements: %#v, want []", none)
		}
		a.do("GET", "/users/alice/announcements/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
	})
}

func TestSendAnnouncementValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		parts := []any{map[string]any{"mime_type": "text/plain", "body": "x"}}
		named := map[string]any{"name": "Ops"}
		for _, tc := range []struct {
			name         string
			body         any
			status       int
			id, property string
		}{
			{"sender.user_id", map[string]any{"recipients": []string{"alice"}, "sender": map[string]any{"user_id": "alice"}, "parts": parts}, 422, "invalid_property", "sender.user_id"},
			{"sender as identity", map[string]any{"recipients": []string{"alice"}, "sender": map[string]any{"id": "layer:///identities/alice"}, "parts": parts}, 422, "invalid_property", "sender.user_id"},
			{"no sender", map[string]any{"recipients": []string{"alice"}, "parts": parts}, 422, "missing_property", "sender"},
			{"no recipients", map[string]any{"sender": named, "parts": parts}, 422, "missing_property", "recipients"},
			{"empty recipients", map[string]any{"recipients": []string{}, "sender": named, "parts": parts}, 422, "invalid_property", "recipients"},
			{"recipients a string", map[string]any{"recipients": "alice", "sender": named, "parts": parts}, 422, "invalid_property", "recipients"},
			{"a number recipient", map[string]any{"recipients": []any{"alice", 2}, "sender": named, "parts": parts}, 422, "invalid_property", "recipients[1]"},
			{"an empty recipient", map[string]any{"recipients": []any{""}, "sender": named, "parts": parts}, 422, "missing_property", "recipients[0]"},
			{"no parts", map[string]any{"recipients": []string{"alice"}, "sender": named}, 422, "missing_property", "parts"},
			{"a part without mime_type", map[string]any{"recipients": []string{"alice"}, "sender": named, "parts": []any{map[string]any{"body": "x"}}}, 422, "missing_property", "parts[0].mime_type"},
			{"a body too large", map[string]any{"recipients": []string{"alice"}, "sender": named, "parts": []any{map[string]any{"mime_type": "text/plain", "body": strings.Repeat("x", 2049)}}}, 422, "invalid_property", "parts[0].body"},
			{"unknown content", map[string]any{"recipients": []string{"alice"}, "sender": named, "parts": []any{map[string]any{"mime_type": "text/plain", "content": map[string]any{"id": uuid.NewString(), "size": 1}}}}, 422, "invalid_property", "parts[0].content.id"},
			{"notification a list", map[string]any{"recipients": []string{"alice"}, "sender": named, "parts": parts, "notification": []any{}}, 422, "invalid_property", "notification"},
			{"malformed JSON", `{"recipients": [`, 400, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				a.do("POST", "/announcements", tc.body).wantError(t, tc.status, tc.id, tc.property)
				a.wantEvents(t, mark)
			})
		}
		var list []any
		a.do("GET", "/users/alice/announcements", nil).must(t, 200).JSON(t, &list)
		if len(list) != 0 {
			t.Fatalf("refused requests sent announcements: %v", list)
		}
	})
}

func TestAnnouncementReceipts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		id := localID(a.announce(t, "hello", "alice", "bob")["id"])
		status := func(who string) (string, any) {
			t.Helper()
			got := a.do("GET", "/users/"+who+"/announcements/"+id, nil).must(t, 200).Map(t)
			return canon(t, got["recipient_status"]), got["is_unread"]
		}
		for _, step := range []struct {
			name, who, typ string
			event          string
			want           string
			unread         bool
		}{
			{"alice's delivery", "alice", "delivery", "announcement.delivered", `{"alice":"delivered"}`, true},
			{"alice's delivery again", "alice", "delivery", "", `{"alice":"delivered"}`, true},
			{"alice reads", "alice", "read", "announcement.read", `{"alice":"read"}`, false},
			{"alice's late delivery", "alice", "delivery", "", `{"alice":"read"}`, false},
		} {
			mark := a.eventMark()
			path := "/users/" + step.who + "/messages/" + id + "/receipts"
			if step.name == "alice reads" {
				path = "/users/" + step.who + "/messages/" + esc("layer:///announcements/"+id) + "/receipts"
			}
			a.do("POST", path, map[string]any{"type": step.typ}).must(t, 204)
			got, unread := status(step.who)
			if got != step.want || unread != step.unread {
				t.Fatalf("%s: status %s unread %v, want %s %v", step.name, got, unread, step.want, step.unread)
			}
			if step.event == "" {
				a.wantEvents(t, mark)
				continue
			}
			ev := a.wantEvents(t, mark, step.event)[0]
			wantJSON(t, step.name+": actor", ev["actor"], user(step.who))
			if d := eventData(t, ev); d["user_id"] != step.who || obj(t, d["announcement"])["id"] != id {
				t.Fatalf("%s: event data %v", step.name, d)
			}
		}
		// Bob's status is his own.
		if got, unread := status("bob"); got != `{"bob":"sent"}` || unread != true {
			t.Fatalf("bob's status %s unread %v", got, unread)
		}

		mark := a.eventMark()
		a.do("POST", "/users/carol/messages/"+id+"/receipts", map[string]any{"type": "read"}).wantError(t, 404, "not_found", "")
		a.do("POST", "/users/bob/messages/"+id+"/receipts", map[string]any{"type": "opened"}).wantError(t, 422, "invalid_property", "type")
		a.wantEvents(t, mark)
		if got, _ := status("bob"); got != `{"bob":"sent"}` {
			t.Fatalf("bob's status after refused receipts: %s", got)
		}
	})
}

func TestListAnnouncements(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var sent []string
		for i := range 5 {
			recipients := []string{"alice"}
			if i%2 == 0 {
				recipients = append(recipients, "bob")
			}
			sent = append(sent, localID(a.announce(t, fmt.Sprint("news ", i), recipients...)["id"]))
		}
		ids := func(path string) ([]string, string) {
			t.Helper()
			res := a.do("GET", path, nil).must(t, 200)
			var list []map[string]any
			res.JSON(t, &list)
			out := []string{}
			for _, an := range list {
				out = append(out, wantUUID(t, an["id"], "layer:///announcements/"))
			}
			return out, res.Header.Get("Link")
		}
		newest := slices.Clone(sent)
		slices.Reverse(newest)
		got, _ := ids("/users/alice/announcements")
		wantJSON(t, "alice's announcements", got, newest)
		got, _ = ids("/users/bob/announcements")
		wantJSON(t, "bob's announcements", got, []string{sent[4], sent[2], sent[0]})

		got, link := ids("/users/alice/announcements?page_size=3")
		wantJSON(t, "first page", got, newest[:3])
		if !strings.Contains(link, `rel="next"`) {
			t.Fatalf("a full page has Link %q", link)
		}
		next := strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		got, link = ids(next)
		wantJSON(t, "second page", got, newest[3:])
		if link != "" {
			t.Fatalf("the last page has Link %q", link)
		}
		a.do("GET", "/users/alice/announcements?page_size=0", nil).wantError(t, 422, "invalid_property", "page_size")
	})
}
