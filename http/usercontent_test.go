package http_test

import (
	"strconv"
	"testing"
	"time"
)

// Content a user declares through the Client API Proxy (POST
// /users/:u/content, audit rows C11/C12) belongs to no conversation until a
// message uses it: only its user, or the app, may send it; it then belongs
// to that message's conversation, and whoever takes part there sees it.
// Content never used is dropped once UnboundContentTTL has passed.
func TestUserContent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		declare := func(user string, data []byte) map[string]any {
			t.Helper()
			res := a.do("POST", "/users/"+user+"/content", nil,
				"Upload-Content-Type", "image/png", "Upload-Content-Length", strconv.Itoa(len(data))).must(t, 201)
			c := res.Map(t)
			id := localID(c["id"])
			if got, want := res.Header.Get("Location"), a.URL+"/apps/"+a.AppID+"/users/"+user+"/content/"+id; got != want {
				t.Fatalf("Location %q, want %q", got, want)
			}
			if c["download_url"] != nil {
				t.Fatalf("declared content with a download_url: %v", c)
			}
			a.doAs("", "PUT", c["upload_url"].(string), data).must(t, 200)
			return c
		}
		part := func(c map[string]any, size int) map[string]any {
			return map[string]any{"mime_type": "image/png", "content": map[string]any{"id": c["id"], "size": size}}
		}
		data := randomBytes(t, 3000)
		mine := declare("alice", data)
		id := localID(mine["id"])

		// Its user sees it; nobody else does yet.
		got := a.do("GET", "/users/alice/content/"+id, nil).must(t, 200).Map(t)
		if got["download_url"] == nil {
			t.Fatalf("uploaded content without a download_url: %v", got)
		}
		a.do("GET", "/users/bob/content/"+id, nil).wantError(t, 404, "not_found", "")

		// Another user may not send it; an announcement may not carry it.
		a.do("POST", "/users/bob/conversations/"+conv+"/messages", map[string]any{"parts": []any{part(mine, len(data))}}).
			wantError(t, 422, "invalid_property", "parts[0].content.id")
		a.do("POST", "/announcements", map[string]any{"sender": map[string]any{"name": "Ops"}, "recipients": []string{"bob"},
			"parts": []any{part(mine, len(data))}}).wantError(t, 422, "invalid_property", "parts[0].content.id")

		// Its user sends it: it now belongs to the conversation.
		mark := a.eventMark()
		m := a.do("POST", "/users/alice/conversations/"+conv+"/messages", map[string]any{"parts": []any{part(mine, len(data))}}).
			must(t, 201).Map(t)
		a.wantEvents(t, mark, "message.sent")
		content := obj(t, obj(t, arr(t, m["parts"])[0])["content"])
		if content["id"] != mine["id"] || content["download_url"] == nil {
			t.Fatalf("the sent part's content: %v", content)
		}
		a.do("GET", "/users/bob/content/"+id, nil).must(t, 200)
		a.do("GET", "/conversations/"+conv+"/content/"+id, nil).must(t, 200)
		a.do("GET", "/users/carol/content/"+id, nil).wantError(t, 404, "not_found", "")
		other := a.newConversation(t, "alice", "carol")
		a.do("POST", "/users/alice/conversations/"+other+"/messages", map[string]any{"parts": []any{part(mine, len(data))}}).
			wantError(t, 422, "invalid_property", "parts[0].content.id")

		// The app may send a user's content from a named sender.
		theirs := declare("bob", data)
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": map[string]any{"name": "Bot"},
			"parts": []any{part(theirs, len(data))}}).must(t, 201)

		// Content nobody sends is dropped, bytes and all, once its time is
		// up; the content in use stays.
		unused := declare("bob", data)
		blobs := blobFiles(t, a)
		a.advance(49 * time.Hour)
		a.sweepBlobs(t)
		a.do("GET", "/users/bob/content/"+localID(unused["id"]), nil).wantError(t, 404, "not_found", "")
		if n := blobFiles(t, a); n != blobs-1 {
			t.Fatalf("%d blobs after the sweep, want %d", n, blobs-1)
		}
		a.do("GET", "/users/bob/content/"+id, nil).must(t, 200)

		// The declaration is checked as any other.
		a.do("POST", "/users/bob/content", nil, "Upload-Content-Type", "image/png").
			wantError(t, 422, "missing_property", "Upload-Content-Length")
		a.do("POST", "/users/bob/content", nil, "Upload-Content-Length", "10").
			wantError(t, 422, "missing_property", "Upload-Content-Type")
	})
}
