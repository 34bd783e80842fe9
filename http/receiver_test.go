package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A loopback webhook receiver for the delivery tests: it answers the
// verification challenge, records every POST with its headers and body, and
// lets each test script its answers.

// hit is one POST a receiver got.
type hit struct {
	At     time.Time
	Header http.Header
	Body   []byte
	// Status is the status the receiver answered (0 while answering).
	Status int
}

// payload decodes the body.
func (h *hit) payload(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(h.Body, &m); err != nil {
		t.Fatalf("delivery body is not a JSON object: %v: %s", err, h.Body)
	}
	return m
}

// eventType, eventID, requestID and conversation read a delivery without a
// *testing.T, for use in scripts (they return "" on any surprise).
func (h *hit) eventType() string { return h.Header.Get("layer-webhook-event-type") }
func (h *hit) requestID() string { return h.Header.Get("layer-webhook-request-id") }

func (h *hit) eventID() string {
	var p struct {
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	json.Unmarshal(h.Body, &p)
	return p.Event.ID
}

// conversation is the Layer id of the conversation a delivery is about.
func (h *hit) conversation() string {
	var p struct {
		Message *struct {
			Conversation struct {
				ID string `json:"id"`
			} `json:"conversation"`
		} `json:"message"`
		Conversation *struct {
			ID string `json:"id"`
		} `json:"conversation"`
	}
	json.Unmarshal(h.Body, &p)
	switch {
	case p.Message != nil:
		return p.Message.Conversation.ID
	case p.Conversation != nil:
		return p.Conversation.ID
	}
	return ""
}

// messageID is the Layer id of the message a delivery is about.
func (h *hit) messageID() string {
	var p struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	json.Unmarshal(h.Body, &p)
	return p.Message.ID
}

// text is the body of the delivered message's first part.
func (h *hit) text() string {
	var p struct {
		Message struct {
			Parts []struct {
				Body string `json:"body"`
			} `json:"parts"`
		} `json:"message"`
	}
	json.Unmarshal(h.Body, &p)
	if len(p.Message.Parts) == 0 {
		return ""
	}
	return p.Message.Parts[0].Body
}

// reply is a scripted answer to a POST.
type reply struct {
	Status int // 204 when 0
	Header map[string]string
	Body   string
	// Hang holds the answer until the request is abandoned by its sender
	// (or the receiver closes).
	Hang bool
}

type receiver struct {
	t   *testing.T
	URL string
	srv *httptest.Server

	done chan struct{}

	mu         sync.Mutex
	hits       []*hit
	challenges []string
	respond    func(h *hit) reply
	verify     func(challenge string) (int, string)
}

// newReceiver starts a receiver that echoes challenges and answers 204 to
// every POST until scripted otherwise. It is closed when the test ends.
func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{t: t, done: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	rc.URL = rc.srv.URL
	t.Cleanup(func() {
		close(rc.done)
		rc.srv.Close()
	})
	return rc
}

// script sets the function answering POSTs. It runs outside the receiver's
// lock, so it may call the receiver's methods.
func (rc *receiver) script(f func(h *hit) reply) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

// scriptVerify sets the function answering verification challenges; it
// returns the status and body. The default echoes the challenge.
func (rc *receiver) scriptVerify(f func(challenge string) (int, string)) {
	rc.mu.Lock()
	rc.verify = f
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		c := r.URL.Query().Get("verification_challenge")
		rc.mu.Lock()
		rc.challenges = append(rc.challenges, c)
		verify := rc.verify
		rc.mu.Unlock()
		status, body := 200, c
		if verify != nil {
			status, body = verify(c)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	checkDelivery(rc.t, r.Header, body)
	h := &hit{At: time.Now(), Header: r.Header.Clone(), Body: body}
	rc.mu.Lock()
	rc.hits = append(rc.hits, h)
	respond := rc.respond
	rc.mu.Unlock()
	rp := reply{}
	if respond != nil {
		rp = respond(h)
	}
	if rp.Status == 0 {
		rp.Status = http.StatusNoContent
	}
	if rp.Hang {
		select {
		case <-r.Context().Done():
		case <-rc.done:
		}
		rp.Status = -1
	}
	rc.mu.Lock()
	h.Status = rp.Status
	rc.mu.Unlock()
	if rp.Status < 0 {
		return
	}
	for k, v := range rp.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rp.Status)
	io.WriteString(w, rp.Body)
}

// all returns a snapshot of the POSTs received so far.
func (rc *receiver) all() []*hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]*hit, len(rc.hits))
	for i, h := range rc.hits {
		c := *h
		out[i] = &c
	}
	return out
}

// count returns how many POSTs so far match f (all when f is nil).
func (rc *receiver) count(f func(h *hit) bool) int {
	n := 0
	for _, h := range rc.all() {
		if f == nil || f(h) {
			n++
		}
	}
	return n
}

// accepted returns the POSTs answered 2xx so far, in order.
func (rc *receiver) accepted() []*hit {
	var out []*hit
	for _, h := range rc.all() {
		if h.Status >= 200 && h.Status < 300 {
			out = append(out, h)
		}
	}
	return out
}

// challengeCount returns how many verification challenges came.
func (rc *receiver) challengeCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.challenges)
}

// waitHits waits until n POSTs came and returns them all.
func (rc *receiver) waitHits(t *testing.T, n int) []*hit {
	t.Helper()
	eventually(t, func() bool { return len(rc.all()) >= n }, "%d deliveries to arrive (got %d)", n, func() int { return len(rc.all()) })
	return rc.all()
}

// waitAccepted waits until n POSTs were answered 2xx and returns those.
func (rc *receiver) waitAccepted(t *testing.T, n int) []*hit {
	t.Helper()
	eventually(t, func() bool { return len(rc.accepted()) >= n }, "%d deliveries to be accepted (got %d)", n, func() int { return len(rc.accepted()) })
	return rc.accepted()
}

// waitTimeout bounds every wait for something asynchronous.
const waitTimeout = 5 * time.Second

// eventually polls cond every 5 ms until it holds, failing the test after
// waitTimeout. The message args that are funcs returning int are called at
// failure time, so the message shows the final state.
func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			for i, a := range args {
				if f, ok := a.(func() int); ok {
					args[i] = f()
				}
			}
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quiet checks that exactly n POSTs arrived, and that no more arrive for d
// (0 checks once): d is long enough for several dispatch rounds of the
// engine (whose poll backstop is 100 ms in the tests), short enough to keep
// the suite fast.
func (rc *receiver) quiet(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if all := rc.all(); len(all) != n {
			last := []byte("none")
			if len(all) > 0 {
				last = all[len(all)-1].Body
			}
			t.Fatalf("%d deliveries arrived, want %d; the last: %s", len(all), n, last)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedURL returns a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}
