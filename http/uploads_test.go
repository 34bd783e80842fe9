package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// putRange sends one request of Google Cloud Storage's resumable upload
// protocol: bytes with their Content-Range, or none for a status query.
func putRange(t *testing.T, u, contentRange string, body []byte) *response {
	t.Helper()
	req, err := http.NewRequest("PUT", u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Range", contentRange)
	return send(t, req)
}

func send(t *testing.T, req *http.Request) *response {
	t.Helper()
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

// wantResume checks a 308 Resume Incomplete and the Range it reports:
// none when no byte has arrived.
func wantResume(t *testing.T, res *response, received int) {
	t.Helper()
	res.must(t, http.StatusPermanentRedirect)
	want := ""
	if received > 0 {
		want = fmt.Sprintf("bytes=0-%d", received-1)
	}
	if got := res.Header.Get("Range"); got != want {
		t.Fatalf("Range %q, want %q", got, want)
	}
	if res.Header.Get("Location") != "" || len(res.Body) != 0 {
		t.Fatalf("308 with Location %q and body %q", res.Header.Get("Location"), res.Body)
	}
}

// wantUploaded checks the answer to the request that completed an upload,
// and that the content downloads as data.
func (a *api) wantUploaded(t *testing.T, res *response, id any, data []byte) {
	t.Helper()
	c := res.must(t, 200).Map(t)
	if c["id"] != id || c["size"] != float64(len(data)) || c["download_url"] == nil || c["refresh_url"] == nil {
		t.Fatalf("uploaded content: %v", c)
	}
	if got := a.doAs("", "GET", c["download_url"].(string), nil).must(t, 200).Body; !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes that differ from the %d uploaded", len(got), len(data))
	}
}

func TestResumableUpload(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 600_000)
		size := len(data)
		c := a.newContent(t, conv, "video/mp4", size)
		upload := c["upload_url"].(string)
		status := fmt.Sprintf("bytes */%d", size)

		mark := a.eventMark()
		wantResume(t, putRange(t, upload, status, nil), 0)
		wantResume(t, putRange(t, upload, "bytes */*", nil), 0)
		wantResume(t, putRange(t, upload, fmt.Sprintf("bytes 0-262143/%d", size), data[:262144]), 262144)
		wantResume(t, putRange(t, upload, status, nil), 262144)
		// The total may be unknown until the last range.
		wantResume(t, putRange(t, upload, "bytes 262144-524287/*", data[262144:524288]), 524288)

		// Refused, keeping nothing: a range after a gap, past the declared
		// size, of another total, with a body of other length than it
		// names, and a status query with a body.
		for _, tc := range []struct {
			name, contentRange string
			body               []byte
			status             int
			id, property       string
		}{
			{"a gap", fmt.Sprintf("bytes 524289-599999/%d", size), data[524289:], 400, "upload_mismatch", "Content-Range"},
			{"too many bytes", "bytes 524288-600009/*", append(bytes.Clone(data[524288:]), make([]byte, 10)...), 400, "upload_mismatch", "Content-Range"},
			{"another total", "bytes 524288-599999/700000", data[524288:], 400, "upload_mismatch", "Content-Range"},
			{"a short body", fmt.Sprintf("bytes 524288-599999/%d", size), data[524288:599000], 400, "upload_mismatch", "Content-Length"},
			{"a long body", fmt.Sprintf("bytes 524288-599998/%d", size), data[524288:], 400, "upload_mismatch", "Content-Length"},
			{"a status query with a body", status, []byte("x"), 422, "invalid_property", "Content-Range"},
			{"a malformed range", "bytes 5-", data[:1], 422, "invalid_property", "Content-Range"},
			{"a range ending before it starts", "bytes 9-5/*", data[:1], 422, "invalid_property", "Content-Range"},
			{"another unit", "items 0-0/*", data[:1], 422, "invalid_property", "Content-Range"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				putRange(t, upload, tc.contentRange, tc.body).wantError(t, tc.status, tc.id, tc.property)
			})
		}
		// A body of no stated length is counted as it arrives.
		req, _ := http.NewRequest("PUT", upload, io.MultiReader(bytes.NewReader(data[524288:])))
		req.Header.Set("Content-Range", fmt.Sprintf("bytes 524288-599998/%d", size))
		send(t, req).wantError(t, 400, "upload_mismatch", "Content-Range")
		wantResume(t, putRange(t, upload, status, nil), 524288)
		a.wantEvents(t, mark)
		if got := a.do("GET", a.contentRefreshURL(localID(c["id"])), nil).must(t, 200).Map(t); got["download_url"] != nil {
			t.Fatalf("content is downloadable before its last byte arrived: %v", got)
		}
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{contentPart("video/mp4", c["id"].(string), size)}}).wantError(t, 422, "invalid_property", "parts[0].content.id")

		// A range that repeats bytes already received (its sender did not
		// learn they arrived) is taken for its new bytes.
		a.wantUploaded(t, putRange(t, upload, fmt.Sprintf("bytes 500000-599999/%d", size), data[500000:]), c["id"], data)
		ev := a.wantEvents(t, mark, "content.uploaded")[0]
		if d := obj(t, eventData(t, ev)["content"]); d["size"] != float64(size) || d["uploaded_at"] == nil {
			t.Fatalf("content.uploaded data.content: %v", d)
		}
		// Once complete, a status query answers the content; more bytes are
		// refused.
		mark = a.eventMark()
		a.wantUploaded(t, putRange(t, upload, status, nil), c["id"], data)
		putRange(t, upload, fmt.Sprintf("bytes 0-9/%d", size), data[:10]).wantError(t, 409, "conflict", "")
		a.wantEvents(t, mark)
		a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{contentPart("video/mp4", c["id"].(string), size)}}).must(t, 201)

		// The pieces are gone once put together: only the content's blob
		// stays.
		a.sweepBlobs(t)
		if n := blobFiles(t, a); n != 1 {
			t.Fatalf("%d blobs kept after the upload, want 1", n)
		}

		// Ranges of any length, one byte at a time included.
		small := randomBytes(t, 5)
		s := a.newContent(t, conv, "text/plain", len(small))
		for i := range 4 {
			wantResume(t, putRange(t, s["upload_url"].(string), fmt.Sprintf("bytes %d-%d/5", i, i), small[i:i+1]), i+1)
		}
		a.wantUploaded(t, putRange(t, s["upload_url"].(string), "bytes 4-4/5", small[4:]), s["id"], small)

		// The pieces of an upload never completed go once its URL expired.
		a.sweepBlobs(t)
		kept := blobFiles(t, a)
		late := a.newContent(t, conv, "text/plain", 10)
		wantResume(t, putRange(t, late["upload_url"].(string), "bytes 0-4/10", small), 5)
		a.sweepBlobs(t)
		if n := blobFiles(t, a); n != kept+1 {
			t.Fatalf("%d blobs with a piece of an upload in progress, want %d", n, kept+1)
		}
		a.advance(25 * time.Hour)
		a.sweepBlobs(t)
		if n := blobFiles(t, a); n != kept {
			t.Fatalf("%d blobs after the sweep of an expired upload's pieces, want %d", n, kept)
		}
	})
}

// sweepBlobs runs the blob sweep at once.
func (a *api) sweepBlobs(t *testing.T) {
	t.Helper()
	if err := a.Service.SweepBlobs(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// blobFiles counts the blobs of the API's blob store.
func blobFiles(t *testing.T, a *api) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(a.Service.Blobs.(blob.Dir).Root, "*", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// reopenable lists, per engine, a way to open the same data again, as a
// restarted server does.
var reopenable = []struct {
	name     string
	location func(t *testing.T) func(t *testing.T) herald.Store
}{
	{"sqlite", func(t *testing.T) func(t *testing.T) herald.Store {
		path := enginetest.SQLitePath(t)
		return func(t *testing.T) herald.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{Keyring: storetest.Keyring})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}},
	{"postgres", func(t *testing.T) func(t *testing.T) herald.Store {
		u := enginetest.PostgresURL(t)
		return func(t *testing.T) herald.Store {
			s, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: 8, Keyring: storetest.Keyring})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}},
}

func withBlobs(root string) apiOption {
	return func(srv *heraldhttp.Server) { srv.Service.Blobs = blob.Dir{Root: root} }
}

// onServer points a URL of one API at another's address.
func onServer(t *testing.T, raw, base string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = b.Host
	return u.String()
}

// An upload interrupted, in the middle of a range and then by a restart of
// the server, resumes from the bytes kept on the restarted server.
func TestResumableUploadAfterRestart(t *testing.T) {
	t.Parallel()
	for _, e := range reopenable {
		t.Run(e.name, func(t *testing.T) {
			open, blobs := e.location(t), t.TempDir()
			a := startAPI(t, open(t), withBlobs(blobs))
			conv := a.newConversation(t, "alice", "bob")
			data := randomBytes(t, 700_000)
			size := len(data)
			c := a.newContent(t, conv, "application/zip", size)
			upload := c["upload_url"].(string)
			wantResume(t, putRange(t, upload, fmt.Sprintf("bytes 0-262143/%d", size), data[:262144]), 262144)

			// The connection drops in the middle of the next range.
			u, _ := url.Parse(upload)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 262144\r\nContent-Range: bytes 262144-524287/%d\r\n\r\n",
				u.RequestURI(), u.Host, size)
			conn.Write(data[262144:362144])
			conn.Close()
			wantResume(t, putRange(t, upload, fmt.Sprintf("bytes */%d", size), nil), 262144)

			mark := a.eventMark()
			appID, token := a.AppID, a.Token
			a.stop()

			b := startAPI(t, open(t), withBlobs(blobs))
			b.AppID, b.Token = appID, token
			upload = onServer(t, upload, b.URL)
			wantResume(t, putRange(t, upload, fmt.Sprintf("bytes */%d", size), nil), 262144)
			wantResume(t, putRange(t, upload, fmt.Sprintf("bytes 262144-524287/%d", size), data[262144:524288]), 524288)
			b.wantUploaded(t, putRange(t, upload, fmt.Sprintf("bytes 524288-699999/%d", size), data[524288:]), c["id"], data)
			b.wantEvents(t, mark, "content.uploaded")
		})
	}
}

// form builds a multipart/form-data body as the PHP SDK's Guzzle does: a
// part named file holding the bytes, without a file name.
func form(t *testing.T, parts ...any) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(parts); i += 2 {
		name, data := parts[i].(string), parts[i+1].([]byte)
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="` + name + `"`}
		h["Content-Length"] = []string{strconv.Itoa(len(data))}
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

func postForm(t *testing.T, u string, body []byte, contentType string) *response {
	t.Helper()
	req, err := http.NewRequest("POST", u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return send(t, req)
}

func TestFormUpload(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		png := randomBytes(t, 4321)

		// Declared as the file's size.
		c := a.newContent(t, conv, "image/png", len(png))
		body, ct := form(t, "file", png)
		mark := a.eventMark()
		a.wantUploaded(t, postForm(t, c["upload_url"].(string), body, ct), c["id"], png)
		a.wantEvents(t, mark, "content.uploaded")

		// Declared as laravel-layer-sdk declares it: the file's size and
		// the form's envelope. The content is the file; the size the
		// upload answers is the one its message part gives.
		body, ct = form(t, "file", png)
		c = a.newContent(t, conv, "image/png", len(body))
		res := postForm(t, c["upload_url"].(string), body, ct)
		a.wantUploaded(t, res, c["id"], png)
		m := a.do("POST", "/conversations/"+conv+"/messages", map[string]any{"sender": user("alice"),
			"parts": []any{contentPart("image/png", c["id"].(string), int(res.Map(t)["size"].(float64)))}}).must(t, 201).Map(t)
		if got := obj(t, obj(t, arr(t, m["parts"])[0])["content"]); got["size"] != float64(len(png)) {
			t.Fatalf("message part content: %v", got)
		}
		if usage := a.contentBytes(t); usage != int64(2*len(png)) {
			t.Fatalf("the app's uploaded content counts %d bytes, want %d", usage, 2*len(png))
		}

		// Other fields may come along; the part named file is the content.
		body, ct = form(t, "note", []byte("hello"), "file", png)
		c = a.newContent(t, conv, "image/png", len(png))
		a.wantUploaded(t, postForm(t, c["upload_url"].(string), body, ct), c["id"], png)

		// Refused, keeping nothing.
		c = a.newContent(t, conv, "image/png", len(png))
		upload := c["upload_url"].(string)
		mark = a.eventMark()
		body, ct = form(t, "file", png[:len(png)-1])
		postForm(t, upload, body, ct).wantError(t, 400, "upload_mismatch", "file")
		body, ct = form(t, "file", append(bytes.Clone(png), 'x'))
		postForm(t, upload, body, ct).wantError(t, 400, "upload_mismatch", "")
		body, ct = form(t, "file", png, "padding", make([]byte, 70_000))
		postForm(t, upload, body, ct).wantError(t, 400, "upload_mismatch", "Content-Length")
		body, ct = form(t, "other", png)
		postForm(t, upload, body, ct).wantError(t, 422, "missing_property", "file")
		postForm(t, upload, png, "image/png").wantError(t, 422, "invalid_property", "Content-Type")
		postForm(t, upload, []byte("--x\r\nbroken"), "multipart/form-data; boundary=x").wantError(t, 400, "invalid_request", "")
		a.wantEvents(t, mark)
		body, ct = form(t, "file", png)
		a.wantUploaded(t, postForm(t, upload, body, ct), c["id"], png)
		postForm(t, upload, body, ct).wantError(t, 409, "conflict", "")
	})
}

// contentBytes is the app's uploaded content as its quota counts it.
func (a *api) contentBytes(t *testing.T) int64 {
	t.Helper()
	var uploaded int64
	err := a.Store.View(context.Background(), func(q herald.Queries) (err error) {
		uploaded, _, err = q.ContentUsage(context.Background(), a.AppID, time.Time{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return uploaded
}

func TestUploadOrigin(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		data := randomBytes(t, 300_000)
		declare := func(origin string) *response {
			return a.do("POST", "/conversations/"+conv+"/content", nil, "Upload-Content-Type", "image/jpeg",
				"Upload-Content-Length", strconv.Itoa(len(data)), "Upload-Origin", origin)
		}
		c := declare("HTTPS://App.Example:8443").must(t, 201).Map(t)
		upload := c["upload_url"].(string)
		const origin = "https://app.example:8443"

		// The preflight of layer-websdk's PUT, with its Upload-* headers.
		req, _ := http.NewRequest("OPTIONS", upload, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "upload-content-length,upload-content-type,content-range")
		res := send(t, req).must(t, 204)
		for h, want := range map[string]string{
			"Access-Control-Allow-Origin":  origin,
			"Access-Control-Allow-Methods": "PUT, POST",
			"Access-Control-Allow-Headers": "upload-content-length, upload-content-type, content-range",
		} {
			if got := res.Header.Get(h); got != want {
				t.Fatalf("preflight %s: %q, want %q", h, got, want)
			}
		}
		// The answers carry the origin, and let it read a 308's Range.
		res = putRange(t, upload, fmt.Sprintf("bytes 0-262143/%d", len(data)), data[:262144])
		wantResume(t, res, 262144)
		if res.Header.Get("Access-Control-Allow-Origin") != origin || res.Header.Get("Access-Control-Expose-Headers") != "Range" {
			t.Fatalf("308 CORS headers: %v", res.Header)
		}
		res = putRange(t, upload, fmt.Sprintf("bytes 0-0/%d", len(data)+1), data[:1])
		if res.Status != 400 || res.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("a refusal %d without the origin: %v", res.Status, res.Header)
		}
		res = putRange(t, upload, fmt.Sprintf("bytes 262144-299999/%d", len(data)), data[262144:])
		a.wantUploaded(t, res, c["id"], data)
		if res.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("upload answer without the origin: %v", res.Header)
		}
		download := res.Map(t)["download_url"].(string)
		if got := a.doAs("", "GET", download, nil).Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Fatalf("download Access-Control-Allow-Origin %q", got)
		}

		// Without Upload-Origin, no origin is allowed.
		plain := a.newContent(t, conv, "image/jpeg", len(data))
		res = send(t, func() *http.Request {
			req, _ := http.NewRequest("OPTIONS", plain["upload_url"].(string), nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			return req
		}())
		if res.Status != 204 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight of content without an origin: %d %v", res.Status, res.Header)
		}
		if got := a.doAs("", "PUT", plain["upload_url"].(string), data).must(t, 200).Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("upload of content without an origin allows %q", got)
		}
		// A page without an origin of its own (file:, as in Cordova) is "null".
		declare("null").must(t, 201)
		mark := a.eventMark()
		for _, bad := range []string{"mydomain.com", "ftp://mydomain.com", "http://mydomain.com/path", "http://user@mydomain.com",
			"http://mydomain.com?x", "http://", "*", "http://a.example, http://b.example"} {
			declare(bad).wantError(t, 422, "invalid_property", "Upload-Origin")
		}
		a.wantEvents(t, mark)
	})
}
