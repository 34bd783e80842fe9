package http_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
)

// limitsForEachEngine runs f per storage engine on an API started with
// opts.
func limitsForEachEngine(t *testing.T, opts []apiOption, f func(t *testing.T, a *api)) {
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			f(t, startAPI(t, e.Open(t), opts...))
		})
	}
}

func withBodyTimeout(d time.Duration) apiOption {
	return func(s *heraldhttp.Server) { s.BodyTimeout = d }
}

// slowClient is a client on a raw connection that sends a request's
// headers and only as much of its body as it chooses.
type slowClient struct {
	t    *testing.T
	conn net.Conn
	rd   *bufio.Reader
}

// startRequest connects to the server of rawURL and sends the request's
// headers; headers alternate names and values.
func startRequest(t *testing.T, method, rawURL string, headers ...string) *slowClient {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var head strings.Builder
	head.WriteString(method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		head.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	return &slowClient{t: t, conn: conn, rd: bufio.NewReader(conn)}
}

func (c *slowClient) send(b []byte) error {
	_, err := c.conn.Write(b)
	return err
}

// response reads the server's answer, failing if none comes within wait.
func (c *slowClient) response(wait time.Duration) (*http.Response, []byte) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	res, err := http.ReadResponse(c.rd, nil)
	if err != nil {
		c.t.Fatalf("no answer within %s: %v", wait, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading the answer: %v", err)
	}
	return res, body
}

// closedWithin checks that the server closes the connection within wait,
// while the client sends nothing more.
func (c *slowClient) closedWithin(wait time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c.rd)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("the server kept the connection open for %s", wait)
	}
}

// Answers given before the request's body was read (no token, another
// app's path, no such endpoint, a bad signature) come at once, without the
// body, and close the connection; the client cannot hold it by trickling
// the body.
func TestErrorsBeforeTheBodyDoNotWaitForIt(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		_, otherToken := a.newApp("other")
		for _, c := range []struct {
			name, method, path, token string
			status                    int
			id                        string
		}{
			{"no token", "POST", "/apps/" + a.AppID + "/conversations", "", 401, "authentication_required"},
			{"wrong token", "POST", "/apps/" + a.AppID + "/conversations", "hrld_wrong", 401, "authentication_required"},
			{"another app's path", "POST", "/apps/" + a.AppID + "/conversations", otherToken, 404, "not_found"},
			{"no such endpoint", "POST", "/apps/" + a.AppID + "/nothing", a.Token, 404, "invalid_endpoint"},
			{"bad signature", "PUT", "/uploads/x?expires=9999999999&signature=00", "", 403, "access_denied"},
			{"v1 without a token", "POST", "/v1/contacts", "", 401, "authentication_required"},
		} {
			t.Run(c.name, func(t *testing.T) {
				headers := []string{"Content-Type", "application/json", "Content-Length", "100000"}
				if c.token != "" {
					headers = append(headers, "Authorization", "Bearer "+c.token)
				}
				client := startRequest(t, c.method, a.URL+c.path, headers...)
				client.send([]byte(`{"participants": [`))
				res, body := client.response(3 * time.Second)
				if res.StatusCode != c.status || !bytes.Contains(body, []byte(`"id":"`+c.id+`"`)) {
					t.Fatalf("%d %s, want %d %s", res.StatusCode, body, c.status, c.id)
				}
				if !res.Close {
					t.Fatalf("the answer keeps the connection: %v", res.Header)
				}
				client.closedWithin(5 * time.Second)

				// A client that sends its body whole reads the answer
				// rather than a reset connection.
				for range 10 {
					req, err := http.NewRequest(c.method, a.URL+c.path, bytes.NewReader(bytes.Repeat([]byte(" "), 200<<10)))
					if err != nil {
						t.Fatal(err)
					}
					if c.token != "" {
						req.Header.Set("Authorization", "Bearer "+c.token)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatalf("a client sending its body whole: %v", err)
					}
					res.Body.Close()
					if res.StatusCode != c.status {
						t.Fatalf("a client sending its body whole: %d, want %d", res.StatusCode, c.status)
					}
				}
			})
		}
	})
}

// A body that does not arrive within the body timeout, token or not, gets
// 408 request_timeout and its connection closed.
func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	limitsForEachEngine(t, []apiOption{withBodyTimeout(300 * time.Millisecond)}, func(t *testing.T, a *api) {
		client := startRequest(t, "POST", a.URL+"/apps/"+a.AppID+"/conversations", "Authorization", "Bearer "+a.Token,
			"Content-Type", "application/json", "Content-Length", "100")
		start := time.Now()
		client.send([]byte(`{"participants": [`))
		res, body := client.response(3 * time.Second)
		if res.StatusCode != 408 || !bytes.Contains(body, []byte(`"id":"request_timeout"`)) {
			t.Fatalf("%d %s, want 408 request_timeout", res.StatusCode, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the answer took %s", d)
		}
		client.closedWithin(2 * time.Second)

		// The deadline ends with the body: a client whose body arrived
		// keeps its connection and its next request is served.
		body1, body2 := `{"participants": ["a","b"]`, `}`
		client = startRequest(t, "POST", a.URL+"/apps/"+a.AppID+"/conversations", "Authorization", "Bearer "+a.Token,
			"Content-Type", "application/json", "Content-Length", strconv.Itoa(len(body1+body2)))
		client.send([]byte(body1))
		time.Sleep(100 * time.Millisecond)
		client.send([]byte(body2))
		res, body = client.response(3 * time.Second)
		if res.StatusCode != 201 || res.Close {
			t.Fatalf("%d (close %v) %s, want 201 on a kept connection", res.StatusCode, res.Close, body)
		}
		time.Sleep(500 * time.Millisecond)
		client.send([]byte("GET /apps/" + a.AppID + "/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.Token + "\r\n\r\n"))
		if res, body := client.response(3 * time.Second); res.StatusCode != 200 {
			t.Fatalf("the next request on the connection: %d %s", res.StatusCode, body)
		}
	})
}

// An upload may take longer than the body timeout as long as its bytes keep
// coming at the minimum rate; one that stalls is cut soon after, however
// large its declared size.
func TestUploadPacing(t *testing.T) {
	t.Parallel()
	limitsForEachEngine(t, []apiOption{withBodyTimeout(300 * time.Millisecond)}, func(t *testing.T, a *api) {
		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"a", "b"}}).must(t, 201).Map(t)["id"])
		const size = 1 << 20
		chunk := bytes.Repeat([]byte("x"), 64<<10)

		// 1 MiB at about 800 KiB/s: 1.3 s, over four times the body timeout.
		c := a.newContent(t, conv, "application/octet-stream", size)
		client := startRequest(t, "PUT", c["upload_url"].(string), "Content-Length", strconv.Itoa(size))
		for range size / len(chunk) {
			if err := client.send(chunk); err != nil {
				t.Fatalf("the server cut an upload going at 800 KiB/s: %v", err)
			}
			time.Sleep(80 * time.Millisecond)
		}
		if res, body := client.response(3 * time.Second); res.StatusCode != 200 {
			t.Fatalf("upload at 800 KiB/s: %d %s", res.StatusCode, body)
		}

		// A declared 256 MiB that stalls after 64 KiB.
		c = a.newContent(t, conv, "application/octet-stream", 256<<20)
		client = startRequest(t, "PUT", c["upload_url"].(string), "Content-Length", strconv.Itoa(256<<20))
		start := time.Now()
		client.send(chunk)
		res, body := client.response(5 * time.Second)
		if res.StatusCode != 408 || !bytes.Contains(body, []byte(`"id":"request_timeout"`)) {
			t.Fatalf("stalled upload: %d %s, want 408 request_timeout", res.StatusCode, body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("the stalled upload was cut after %s", d)
		}
		client.closedWithin(2 * time.Second)
	})
}

// A download may take longer than the write timeout as long as the client
// reads at the minimum rate; a client that stops reading is cut soon
// after, however large the content.
func TestDownloadPacing(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := localID(a.do("POST", "/conversations", map[string]any{"participants": []string{"a", "b"}}).must(t, 201).Map(t)["id"])
		const size = 16 << 20
		id := a.uploaded(t, conv, "application/octet-stream", bytes.Repeat([]byte("x"), size))
		content := a.do("GET", "/content/"+localID(id), nil).must(t, 200).Map(t)

		// The same API behind a server with a short write timeout.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := make(chan string, 10)
		srv := &http.Server{Handler: a.Server, WriteTimeout: 300 * time.Millisecond,
			ConnState: func(c net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					closed <- c.RemoteAddr().String()
				}
			}}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		u, _ := url.Parse(content["download_url"].(string))
		u.Host = ln.Addr().String()

		download := func() *slowClient {
			client := startRequest(t, "GET", u.String())
			// A small window, so that the server's writes wait for the
			// client's reads rather than fill the kernel's buffers.
			client.conn.(*net.TCPConn).SetReadBuffer(16 << 10)
			client.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			res, err := http.ReadResponse(client.rd, nil)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("download: %v %v", res, err)
			}
			return client
		}

		// 4 MiB at about 1.3 MiB/s: 3 s, ten times the write timeout.
		client := download()
		buf := make([]byte, 64<<10)
		for got := 0; got < 4<<20; {
			client.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.ReadFull(client.rd, buf)
			got += n
			if err != nil {
				t.Fatalf("the server cut a download read at 1.3 MiB/s after %d bytes: %v", got, err)
			}
			time.Sleep(50 * time.Millisecond)
		}

		// A client that stops reading.
		client = download()
		start := time.Now()
		for {
			select {
			case addr := <-closed:
				if addr != client.conn.LocalAddr().String() {
					continue
				}
				t.Logf("a download not read was cut after %s", time.Since(start).Round(time.Millisecond))
			case <-time.After(15 * time.Second):
				t.Fatal("the server kept a download that is not read for 15 s")
			}
			break
		}
	})
}
