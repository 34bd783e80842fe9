package delivery

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/egress"
)

// The default client's deliveries skip Client.Do; what reaches the receiver
// and what comes back must be what Client.Do would give.
func TestSendAsTheClientWould(t *testing.T) {
	e := &Engine{Workers: 4, AllowTargets: egress.Loopback}
	e.defaultClient()
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	post := func(target string) *http.Request {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target, bytes.NewReader([]byte("{}")))
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	withUser := strings.Replace(srv.URL, "http://", "http://hook:s%20cret@", 1)

	// Credentials in the URL go as basic auth; a redirect is the answer.
	for _, send := range []func(*http.Request) (*http.Response, error){e.send, e.Client.Do} {
		res, err := send(post(withUser))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want the redirect itself", res.StatusCode)
		}
	}
	if len(auth) != 2 || auth[0] == "" || auth[0] != auth[1] {
		t.Fatalf("Authorization through send and Client.Do: %q", auth)
	}

	// Errors read the same, the password hidden.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strings.Replace("http://"+l.Addr().String(), "http://", "http://hook:s%20cret@", 1)
	l.Close()
	_, got := e.send(post(closed))
	_, want := e.Client.Do(post(closed))
	if got == nil || want == nil || got.Error() != want.Error() {
		t.Fatalf("send's error %q, Client.Do's %q", got, want)
	}
	if strings.Contains(got.Error(), "cret") {
		t.Fatalf("the error shows the password: %q", got)
	}
}
