package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
)

// newContent declares content of a conversation and returns the response.
func (a *api) newContent(t *testing.T, conv, mimeType string, size int) map[string]any {
	t.Helper()
	return a.do("POST", "/conversations/"+conv+"/content", nil,
		"Upload-Content-Type", mimeType, "Upload-Content-Length", strconv.Itoa(size)).must(t, 201).Map(t)
}

// uploaded declares content, uploads data and returns the content's id.
func (a *api) uploaded(t *testing.T, conv, mimeType string, data []byte) string {
	t.Helper()
	c := a.newContent(t, conv, mimeType, len(data))
	a.doAs("", "PUT", c["upload_url"].(string), data).must(t, 200)
	return c["id"].(string)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// contentPart is a message part referring to rich content.
func contentPart(mimeType, id string, size int) map[string]any {
	return map[string]any{"mime_type": mimeType, "content": map[string]any{"id": id, "size": size}}
}

// tamper changes one query parameter of a signed URL.
func tamper(t *testing.T, raw, param string, change func(string) string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(param, change(q.Get(param)))
	u.RawQuery = q.Encode()
	return u.String()
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	if s == "" {
		return "00"
	}
	c := byte('0')
	if s[0] == '0' {
		c = '1'
	}
	return string(c) + s[1:]
}

func (a *api) contentRefreshURL(id string) string {
	return a.URL + "/apps/" + a.AppID + "/content/" + id
}

func TestContentLifecycle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		// The message is read back below and must render its content's
		// URLs as its creation did, with the same expiration to the
		// second: the clock stands still.
		a.freeze(time.Now())
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 100_000)

		mark := a.eventMark()
		res := a.do("POST", "/conversations/"+esc("layer:///conversations/"+conv)+"/content", nil,
			"Upload-Content-Type", "image/png", "Upload-Content-Length", strconv.Itoa(len(data))).must(t, 201)
		c := res.Map(t)
		id := wantUUID(t, c["id"], "layer:///content/")
		if c["size"] != float64(len(data)) {
			t.Fatalf("declared content: %v", c)
		}
		// As Layer answered (platform/messages/rich-content.md).
		for _, k := range []string{"download_url", "refresh_url", "expiration"} {
			if v, ok := c[k]; !ok || v != nil {
				t.Fatalf("content not yet uploaded has %s %#v, want null", k, v)
			}
		}
		upload, _ := c["upload_url"].(string)
		location := a.URL + "/apps/" + a.AppID + "/conversations/" + conv + "/content/" + id
		if !strings.HasPrefix(upload, a.URL+"/") || res.Header.Get("Location") != location {
			t.Fatalf("upload_url %q, Location %q, want %q", upload, res.Header.Get("Location"), location)
		}
		ev := a.wantEvents(t, mark, "content.created")[0]
		if d := obj(t, eventData(t, ev)["content"]); d["id"] != id || d["conversation_id"] != conv || d["uploaded_at"] != nil {
			t.Fatalf("content.created data.content: %v", d)
		}
		// Before the upload, its Location knows the content but has no download.
		got := a.do("GET", location, nil).must(t, 200).Map(t)
		if got["id"] != c["id"] || got["download_url"] != nil {
			t.Fatalf("refresh_url before upload: %v", got)
		}

		// The upload needs no token: the URL is signed.
		mark = a.eventMark()
		up := a.doAs("", "PUT", upload, data).must(t, 200).Map(t)
		if up["id"] != c["id"] || up["size"] != float64(len(data)) || up["download_url"] == nil {
			t.Fatalf("upload response: %v", up)
		}
		ev = a.wantEvents(t, mark, "content.uploaded")[0]
		if d := obj(t, eventData(t, ev)["content"]); d["id"] != id || d["uploaded_at"] == nil {
			t.Fatalf("content.uploaded data.content: %v", d)
		}

		// A message refers to it, by Layer id or bare id.
		mark = a.eventMark()
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"), "parts": []any{
			map[string]any{"mime_type": "text/plain", "body": "a picture"},
			contentPart("image/png", c["id"].(string), len(data)),
			contentPart("image/png", id, len(data)),
		}}).must(t, 201).Map(t)
		a.wantEvents(t, mark, "message.sent")
		mid := localID(m["id"])
		parts := arr(t, m["parts"])
		if len(parts) != 3 {
			t.Fatalf("parts: %v", parts)
		}
		for i, p := range parts[1:] {
			part := obj(t, p)
			wantKeys(t, "content part", part, "id", "mime_type", "content")
			if part["id"] != fmt.Sprintf("layer:///messages/%s/parts/%d", mid, i+1) || part["mime_type"] != "image/png" {
				t.Fatalf("content part: %v", part)
			}
			content := obj(t, part["content"])
			wantKeys(t, "part content", content, "id", "download_url", "expiration", "refresh_url", "size")
			if content["id"] != c["id"] || content["size"] != float64(len(data)) || content["refresh_url"] != a.contentRefreshURL(id) {
				t.Fatalf("part content: %v", content)
			}
			wantAbout(t, "expiration", content["expiration"], a.now().Add(time.Hour))

			// The download needs no token either, and gives the exact bytes.
			res := a.doAs("", "GET", content["download_url"].(string), nil).must(t, 200)
			if !bytes.Equal(res.Body, data) {
				t.Fatalf("downloaded %d bytes that differ from the %d uploaded", len(res.Body), len(data))
			}
			if ct := res.Header.Get("Content-Type"); ct != "image/png" {
				t.Fatalf("download Content-Type %q", ct)
			}
		}
		// Reading the message renders the content the same way.
		read := a.do("GET", "/messages/"+mid, nil).must(t, 200).Map(t)
		wantJSON(t, "message read back", obj(t, arr(t, read["parts"])[1])["content"], obj(t, parts[1])["content"])
	})
}

func TestContentURLsExpire(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := []byte(`{"big": "document"}`)
		id := a.uploaded(t, conv, "application/json", data)
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{contentPart("application/json", id, len(data))}}).must(t, 201).Map(t)
		content := obj(t, obj(t, arr(t, m["parts"])[0])["content"])
		old := content["download_url"].(string)
		a.doAs("", "GET", old, nil).must(t, 200)

		a.advance(2 * time.Hour)
		e := a.doAs("", "GET", old, nil).wantError(t, 403, "url_expired", "")
		if obj(t, e["data"])["expired_at"] != content["expiration"] {
			t.Fatalf("expired_at %v, want the expiration %v", obj(t, e["data"])["expired_at"], content["expiration"])
		}

		// refresh_url needs the token, and gives a working URL.
		a.doAs("", "GET", content["refresh_url"].(string), nil).wantError(t, 401, "authentication_required", "")
		fresh := a.do("GET", content["refresh_url"].(string), nil).must(t, 200).Map(t)
		if fresh["id"] != id || fresh["download_url"] == nil || fresh["download_url"] == old || fresh["size"] != float64(len(data)) {
			t.Fatalf("refreshed content: %v", fresh)
		}
		wantAbout(t, "fresh expiration", fresh["expiration"], a.now().Add(time.Hour))
		res := a.doAs("", "GET", fresh["download_url"].(string), nil).must(t, 200)
		if !bytes.Equal(res.Body, data) || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("refreshed download: %q %q", res.Body, res.Header.Get("Content-Type"))
		}
		// So does reading the message again.
		again := obj(t, obj(t, arr(t, a.do("GET", "/messages/"+localID(m["id"]), nil).must(t, 200).Map(t)["parts"])[0])["content"])
		a.doAs("", "GET", again["download_url"].(string), nil).must(t, 200)

		// Refreshing is read-only.
		a.do("GET", "/content/"+esc(id), nil).must(t, 200)
		a.do("GET", "/content/"+uuid.NewString(), nil).wantError(t, 404, "not_found", "")
	})
}

func TestContentSignedURLsRefuseTampering(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := []byte("0123456789")
		c := a.newContent(t, conv, "text/plain", len(data))
		other := a.newContent(t, conv, "text/plain", len(data))
		upload := c["upload_url"].(string)
		otherID := localID(other["id"])

		mark := a.eventMark()
		for name, u := range map[string]string{
			"changed signature":   tamper(t, upload, "signature", flipHex),
			"no signature":        tamper(t, upload, "signature", func(string) string { return "" }),
			"later expiry":        tamper(t, upload, "expires", func(s string) string { n, _ := strconv.ParseInt(s, 10, 64); return fmt.Sprint(n + 3600) }),
			"no expiry":           tamper(t, upload, "expires", func(string) string { return "" }),
			"another content":     strings.Replace(upload, localID(c["id"]), otherID, 1),
			"the download signed": strings.Replace(upload, "/uploads/", "/content/", 1),
		} {
			method := "PUT"
			if name == "the download signed" {
				method = "GET"
			}
			a.doAs("", method, u, data).wantError(t, 403, "access_denied", "")
		}
		a.wantEvents(t, mark)
		if got := a.do("GET", a.contentRefreshURL(localID(c["id"])), nil).must(t, 200).Map(t); got["download_url"] != nil {
			t.Fatalf("a refused upload stored content: %v", got)
		}

		a.doAs("", "PUT", upload, data).must(t, 200)
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{contentPart("text/plain", c["id"].(string), len(data))}}).must(t, 201).Map(t)
		download := obj(t, obj(t, arr(t, m["parts"])[0])["content"])["download_url"].(string)
		for _, u := range []string{
			tamper(t, download, "signature", flipHex),
			tamper(t, download, "expires", func(s string) string { n, _ := strconv.ParseInt(s, 10, 64); return fmt.Sprint(n + 1) }),
			strings.Replace(download, localID(c["id"]), otherID, 1),
			strings.Replace(download, "/content/", "/uploads/", 1), // a download signature does not upload
		} {
			method := "GET"
			if strings.Contains(u, "/uploads/") {
				method = "PUT"
			}
			a.doAs("", method, u, data).wantError(t, 403, "access_denied", "")
		}
		a.doAs("", "GET", download, nil).must(t, 200)
	})
}

func TestContentUploadRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 5000)
		c := a.newContent(t, conv, "application/octet-stream", len(data))
		upload := c["upload_url"].(string)

		mark := a.eventMark()
		a.doAs("", "PUT", upload, data[:len(data)-1]).wantError(t, 400, "upload_mismatch", "Content-Length")
		a.doAs("", "PUT", upload, append(bytes.Clone(data), 'x')).wantError(t, 400, "upload_mismatch", "Content-Length")
		a.doAs("", "PUT", upload, []byte{}).wantError(t, 400, "upload_mismatch", "Content-Length")
		// Without a Content-Length, the count of bytes received decides.
		putChunked(t, upload, data[:100]).wantError(t, 400, "upload_mismatch", "")
		putChunked(t, upload, append(bytes.Clone(data), data...)).wantError(t, 400, "upload_mismatch", "")
		a.wantEvents(t, mark)
		if got := a.do("GET", a.contentRefreshURL(localID(c["id"])), nil).must(t, 200).Map(t); got["download_url"] != nil {
			t.Fatalf("a refused upload stored content: %v", got)
		}
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{contentPart("application/octet-stream", c["id"].(string), len(data))}}).wantError(t, 422, "invalid_property", "parts[0].content.id")

		// The right bytes, chunked, are accepted; then the content is final.
		putChunked(t, upload, data).must(t, 200)
		mark = a.eventMark()
		a.doAs("", "PUT", upload, data).wantError(t, 409, "conflict", "")
		a.doAs("", "PUT", upload, bytes.Repeat([]byte{'z'}, len(data))).wantError(t, 409, "conflict", "")
		a.wantEvents(t, mark)

		fresh := a.do("GET", a.contentRefreshURL(localID(c["id"])), nil).must(t, 200).Map(t)
		if res := a.doAs("", "GET", fresh["download_url"].(string), nil).must(t, 200); !bytes.Equal(res.Body, data) {
			t.Fatal("the content changed after a refused second upload")
		}

		// Upload URLs expire too, after a day.
		late := a.newContent(t, conv, "text/plain", 1)
		a.advance(25 * time.Hour)
		a.doAs("", "PUT", late["upload_url"].(string), "x").wantError(t, 403, "url_expired", "")
	})
}

// Content is uploaded once: when uploads race, the bytes served are those
// of the upload that was accepted.
func TestContentConcurrentUploads(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		const size, uploaders = 64 << 10, 8
		for round := range 3 {
			c := a.newContent(t, conv, "application/octet-stream", size)
			var wg sync.WaitGroup
			statuses := make([]int, uploaders)
			payloads := make([][]byte, uploaders)
			for i := range uploaders {
				payloads[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
				wg.Go(func() {
					req, err := http.NewRequest("PUT", c["upload_url"].(string), bytes.NewReader(payloads[i]))
					if err != nil {
						t.Error(err)
						return
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statuses[i] = res.StatusCode
				})
			}
			wg.Wait()
			winner := -1
			for i, s := range statuses {
				switch {
				case s == 200 && winner == -1:
					winner = i
				case s == 200:
					t.Fatalf("round %d: two uploads accepted: %v", round, statuses)
				case s != 409:
					t.Fatalf("round %d: upload statuses %v", round, statuses)
				}
			}
			if winner == -1 {
				t.Fatalf("round %d: no upload accepted: %v", round, statuses)
			}
			fresh := a.do("GET", a.contentRefreshURL(localID(c["id"])), nil).must(t, 200).Map(t)
			got := a.doAs("", "GET", fresh["download_url"].(string), nil).must(t, 200).Body
			if !bytes.Equal(got, payloads[winner]) {
				t.Fatalf("round %d: upload %d was accepted, but the content holds %q…", round, winner, got[:1])
			}
		}
	})
}

// wantAbout checks that v is an instant within a few seconds of want.
func wantAbout(t *testing.T, what string, v any, want time.Time) {
	t.Helper()
	s, _ := v.(string)
	got, err := time.Parse(herald.TimeFormat, s)
	if d := got.Sub(want); err != nil || d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("%s %#v, want about %s", what, v, herald.FormatTime(want))
	}
}

// putChunked uploads data without a Content-Length.
func putChunked(t *testing.T, u string, data []byte) *response {
	t.Helper()
	req, err := http.NewRequest("PUT", u, io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func TestCreateContentValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		for _, tc := range []struct {
			name         string
			headers      []string
			status       int
			id, property string
		}{
			{"no type", []string{"Upload-Content-Length", "10"}, 422, "missing_property", "Upload-Content-Type"},
			{"no length", []string{"Upload-Content-Type", "text/plain"}, 422, "missing_property", "Upload-Content-Length"},
			{"no headers", nil, 422, "missing_property", ""},
			{"length not a number", []string{"Upload-Content-Type", "text/plain", "Upload-Content-Length", "ten"}, 422, "invalid_property", "Upload-Content-Length"},
			{"length zero", []string{"Upload-Content-Type", "text/plain", "Upload-Content-Length", "0"}, 422, "invalid_property", "Upload-Content-Length"},
			{"length negative", []string{"Upload-Content-Type", "text/plain", "Upload-Content-Length", "-5"}, 422, "invalid_property", "Upload-Content-Length"},
			{"length too large", []string{"Upload-Content-Type", "text/plain", "Upload-Content-Length", strconv.Itoa(256<<20 + 1)}, 422, "invalid_property", "Upload-Content-Length"},
			{"type without a subtype", []string{"Upload-Content-Type", "text", "Upload-Content-Length", "10"}, 422, "invalid_property", "Upload-Content-Type"},
			{"type not a MIME type", []string{"Upload-Content-Type", "not a type", "Upload-Content-Length", "10"}, 422, "invalid_property", "Upload-Content-Type"},
			{"type with a bad parameter", []string{"Upload-Content-Type", "text/plain; charset", "Upload-Content-Length", "10"}, 422, "invalid_property", "Upload-Content-Type"},
			{"type not ASCII", []string{"Upload-Content-Type", "text/plain; charset=\"\xff\"", "Upload-Content-Length", "10"}, 422, "invalid_property", "Upload-Content-Type"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				e := a.do("POST", "/conversations/"+conv+"/content", nil, tc.headers...).wantError(t, tc.status, tc.id, tc.property)
				if tc.property == "" && !strings.HasPrefix(fmt.Sprint(obj(t, e["data"])["property"]), "Upload-Content-") {
					t.Fatalf("the error names %v, not a header", e["data"])
				}
				a.wantEvents(t, mark)
			})
		}
		a.do("POST", "/conversations/"+uuid.NewString()+"/content", nil,
			"Upload-Content-Type", "text/plain", "Upload-Content-Length", "10").wantError(t, 404, "not_found", "")
		// Parameters are fine; the largest size is too.
		a.newContent(t, conv, "text/plain; charset=utf-8", 256<<20)
	})
}

func TestContentPartsValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		other := a.newConversation(t, "alice", "carol")
		data := []byte("hello, content")
		good := a.uploaded(t, conv, "text/plain", data)
		foreign := a.uploaded(t, other, "text/plain", data)
		pending := a.newContent(t, conv, "text/plain", len(data))["id"].(string)

		appB, tokenB := a.newApp("other")
		cB := a.doAs(tokenB, "POST", a.URL+"/apps/"+appB+"/conversations", map[string]any{"participants": []string{"alice"}}).must(t, 201).Map(t)
		b := &api{t: t, URL: a.URL, AppID: appB, Token: tokenB}
		otherApp := b.uploaded(t, localID(cB["id"]), "text/plain", data)

		for _, tc := range []struct {
			name         string
			part         map[string]any
			status       int
			id, property string
		}{
			{"unknown content", contentPart("text/plain", "layer:///content/"+uuid.NewString(), len(data)), 422, "invalid_property", "parts[1].content.id"},
			{"size mismatch", contentPart("text/plain", good, len(data)+1), 422, "invalid_property", "parts[1].content.size"},
			{"no size", map[string]any{"mime_type": "text/plain", "content": map[string]any{"id": good}}, 422, "invalid_property", "parts[1].content.size"},
			{"not uploaded", contentPart("text/plain", pending, len(data)), 422, "invalid_property", "parts[1].content.id"},
			{"another conversation's", contentPart("text/plain", foreign, len(data)), 422, "invalid_property", "parts[1].content.id"},
			{"another app's", contentPart("text/plain", otherApp, len(data)), 422, "invalid_property", "parts[1].content.id"},
			{"no id", map[string]any{"mime_type": "text/plain", "content": map[string]any{"size": len(data)}}, 422, "missing_property", "parts[1].content.id"},
			{"with an encoding", map[string]any{"mime_type": "text/plain", "encoding": "base64", "content": map[string]any{"id": good, "size": len(data)}}, 422, "invalid_property", "parts[1].encoding"},
			{"size a string", map[string]any{"mime_type": "text/plain", "content": map[string]any{"id": good, "size": "14"}}, 422, "invalid_property", "parts.content.size"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := a.in(t)
				mark := a.eventMark()
				a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
					"parts": []any{part1(), tc.part}}).wantError(t, tc.status, tc.id, tc.property)
				a.wantEvents(t, mark)
			})
		}
		if ids := messageIDs(t, a.do("GET", "/conversations/"+conv+"/messages", nil).must(t, 200)); len(ids) != 0 {
			t.Fatalf("refused requests sent messages %v", ids)
		}
	})
}

// Announcements are outside conversations: any uploaded content of the app
// may go in one.
func TestContentInAnnouncement(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 4096)
		id := a.uploaded(t, conv, "image/jpeg", data)
		ann := a.do("POST", "/announcements", map[string]any{"recipients": []string{"carol"}, "sender": map[string]any{"name": "Ops"},
			"parts": []any{contentPart("image/jpeg", id, len(data))}}).must(t, 202).Map(t)
		got := a.do("GET", "/users/carol/announcements/"+localID(ann["id"]), nil).must(t, 200).Map(t)
		content := obj(t, obj(t, arr(t, got["parts"])[0])["content"])
		if content["id"] != id {
			t.Fatalf("announcement content %v", content)
		}
		if res := a.doAs("", "GET", content["download_url"].(string), nil).must(t, 200); !bytes.Equal(res.Body, data) {
			t.Fatal("announcement content bytes differ")
		}
	})
}

// Deleting a conversation deletes its content: signed URLs and refresh stop
// working, and no message can refer to it.
func TestContentOfDeletedConversation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 3000)
		id := a.uploaded(t, conv, "image/png", data)
		msg := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{
			"sender": map[string]any{"user_id": "alice"}, "parts": []any{contentPart("image/png", id, len(data))},
		}).must(t, 201).Map(t)
		download := msg["parts"].([]any)[0].(map[string]any)["content"].(map[string]any)["download_url"].(string)
		a.doAs("", "GET", download, nil).must(t, 200)

		a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
		a.doAs("", "GET", download, nil).wantError(t, 404, "not_found", "")
		a.do("GET", a.contentRefreshURL(localID(id)), nil).wantError(t, 404, "not_found", "")
	})
}

// Uploaded content cannot run as a page of Herald's origin (probe 7.5):
// every download says nosniff and carries a sandboxing policy, and types a
// browser would render actively are attachments.
func TestContentDownloadsAreInert(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		for _, tc := range []struct {
			mimeType string
			body     string
			inline   bool
		}{
			{"text/html", `<script>alert(document.domain)</script>`, false},
			{"image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, false},
			{"TEXT/HTML; charset=utf-8", `<script>alert(2)</script>`, false},
			{"application/xhtml+xml", `<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(3)</script></html>`, false},
			{"text/xml", `<x/>`, false},
			{"application/javascript", `alert(4)`, false},
			{"application/pdf", `%PDF-1.4`, false},
			{"application/octet-stream", `<script>alert(5)</script>`, false},
			{"image/png", "\x89PNG\r\n\x1a\n<script>alert(6)</script>", true},
			{"image/jpeg", "\xff\xd8\xff", true},
			{"text/plain; charset=utf-8", `<script>alert(7)</script>`, true},
			{"video/mp4", "\x00\x00\x00\x18ftypmp42", true},
			{"audio/ogg", "OggS", true},
		} {
			id := a.uploaded(t, conv, tc.mimeType, []byte(tc.body))
			got := a.do("GET", "/content/"+localID(id), nil).must(t, 200).Map(t)
			res := a.doAs("", "GET", got["download_url"].(string), nil).must(t, 200)
			if string(res.Body) != tc.body || res.Header.Get("Content-Type") != tc.mimeType {
				t.Fatalf("%s: downloaded %q as %q", tc.mimeType, res.Body, res.Header.Get("Content-Type"))
			}
			if v := res.Header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Fatalf("%s: X-Content-Type-Options %q", tc.mimeType, v)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
				t.Fatalf("%s: Content-Security-Policy %q", tc.mimeType, csp)
			}
			disposition := res.Header.Get("Content-Disposition")
			if tc.inline && disposition != "" || !tc.inline && !strings.HasPrefix(disposition, "attachment") {
				t.Fatalf("%s: Content-Disposition %q", tc.mimeType, disposition)
			}
		}
	})
}

// blobFiles lists the files under the API's blob directory, temporary
// uploads included.
func (a *api) blobFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(a.Service.Blobs.(blob.Dir).Root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, filepath.Base(path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// blobsOf returns which of the files hold the bytes of the content id.
func blobsOf(files []string, id string) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f, localID(id)+".") {
			out = append(out, f)
		}
	}
	return out
}

// Deleting a conversation deletes its content's bytes (probe 7.7), and
// deleting a contact its conversation's.
func TestDeletedConversationsLeaveNoBytes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		other := a.newConversation(t, "alice", "carol")
		gone := []string{a.uploaded(t, conv, "image/png", randomBytes(t, 3000)), a.uploaded(t, conv, "text/plain", []byte("x"))}
		pending := a.newContent(t, conv, "text/plain", 10)
		kept := a.uploaded(t, other, "image/png", randomBytes(t, 100))
		if files := a.blobFiles(t); len(files) != 3 {
			t.Fatalf("blob files before the deletion: %v", files)
		}

		a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
		files := a.blobFiles(t)
		if len(files) != 1 || len(blobsOf(files, kept)) != 1 {
			t.Fatalf("blob files after the deletion: %v; want only those of %s", files, kept)
		}
		for _, id := range append(gone, pending["id"].(string)) {
			a.do("GET", "/content/"+localID(id), nil).wantError(t, 404, "not_found", "")
		}
		a.doAs("", "PUT", pending["upload_url"].(string), "0123456789").wantError(t, 404, "not_found", "")
		if files := a.blobFiles(t); len(files) != 1 {
			t.Fatalf("an upload into a deleted conversation left %v", files)
		}

		// A contact's conversation goes with the contact.
		a.cbChannel(t, seedChannelNumber)
		contact := a.johnDoe(t)
		cbConv := cbConversation(t, contact)
		a.uploaded(t, cbConv, "image/jpeg", randomBytes(t, 500))
		if files := a.blobFiles(t); len(files) != 2 {
			t.Fatalf("blob files with the contact's: %v", files)
		}
		a.v1(t, "DELETE", "/contacts/"+contact["uuid"].(string), nil).must(t, 200)
		if files := a.blobFiles(t); len(files) != 1 || len(blobsOf(files, kept)) != 1 {
			t.Fatalf("blob files after the contact's deletion: %v", files)
		}
	})
}

// What a crash between a deletion's commit and its blobs' removal leaves
// is swept by the periodic job.
func TestBlobsOfDeletedContentAreSwept(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		a.uploaded(t, conv, "image/png", randomBytes(t, 300))
		a.uploaded(t, conv, "image/png", randomBytes(t, 300))
		// The conversation's deletion committed, and the process stopped
		// before it removed the blobs.
		ctx := context.Background()
		err := a.Store.Update(ctx, func(tx herald.Tx) error {
			c, err := tx.Conversation(ctx, a.AppID, conv)
			if err != nil {
				return err
			}
			now := time.Now()
			c.DeletedAt = &now
			if err := tx.UpdateConversation(ctx, c, ""); err != nil {
				return err
			}
			_, err = tx.DropContent(ctx, a.AppID, conv, now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if files := a.blobFiles(t); len(files) != 2 {
			t.Fatalf("blob files before the sweep: %v", files)
		}
		listed := func() []string {
			var keys []string
			err := a.Store.View(ctx, func(q herald.Queries) (err error) {
				keys, err = q.BlobsToDelete(ctx, "", 10)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return keys
		}
		if keys := listed(); len(keys) != 2 {
			t.Fatalf("blobs listed before the sweep: %v", keys)
		}
		eventually(t, func() bool { return len(a.blobFiles(t)) == 0 && len(listed()) == 0 },
			"the sweep removes the blobs and forgets them")
	})
}

// An upload under way when its conversation is deleted is refused, and
// leaves no bytes.
func TestUploadIntoConversationDeletedMeanwhile(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 64<<10)
		c := a.newContent(t, conv, "application/octet-stream", len(data))
		body, w := io.Pipe()
		req, err := http.NewRequest("PUT", c["upload_url"].(string), body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(data))
		result := make(chan *response, 1)
		go func() {
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				result <- nil
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			result <- &response{Status: res.StatusCode, Header: res.Header, Body: b}
		}()
		if _, err := w.Write(data[:1000]); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return len(a.blobFiles(t)) == 1 }, "the upload is being written")

		a.do("DELETE", "/conversations/"+conv, nil).must(t, 204)
		w.Write(data[1000:])
		w.Close()
		res := <-result
		if res == nil {
			return
		}
		res.wantError(t, 404, "not_found", "")
		if files := a.blobFiles(t); len(files) != 0 {
			t.Fatalf("the refused upload left %v", files)
		}
	})
}
