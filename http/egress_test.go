package http_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/stdwebhooks"
)

// Tests of the egress guard through the API: tenants' URLs reach public
// addresses only (unless the operator exempts ranges), errors do not map
// internal ports, what receivers answer is stored within bounds, and
// verifications and health checks are bounded in number and time.

// guardedForEachEngine runs f per storage engine against an API started as
// a server starts by default: no internal range exempted.
func guardedForEachEngine(t *testing.T, f func(t *testing.T, a *api)) {
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			f(t, startAPI(t, e.Open(t), withoutExemption))
		})
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// listen listens on addr (127.0.0.1:0, [::1]:0), counting connections.
func listen(t *testing.T, addr string) *countingListener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	return &countingListener{Listener: l}
}

// port is the port a listener listens on.
func (l *countingListener) port() string {
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// newReceiverAt is newReceiver on a listener of the test's choosing.
func newReceiverAt(t *testing.T, l net.Listener) *receiver {
	t.Helper()
	rc := &receiver{t: t, done: make(chan struct{})}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.srv.Listener.Close()
	rc.srv.Listener = l
	rc.srv.Start()
	rc.URL = rc.srv.URL
	t.Cleanup(func() {
		close(rc.done)
		rc.srv.Close()
	})
	return rc
}

// storeWebhook registers a Layer webhook straight in the store, as an older
// Herald accepted any URL: the guard must hold at connect time too.
func (a *api) storeWebhook(t *testing.T, target, status string) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	w := &herald.Webhook{ID: uuid.NewString(), AppID: a.AppID, Format: herald.FormatLayer, Version: "1.0",
		TargetURL: target, Events: []string{"message.sent"}, Secret: testSecret, SigningKey: stdwebhooks.NewSecret(),
		Status: status, RetrySchedule: []time.Duration{time.Hour}, Timeout: 2 * time.Second, CreatedAt: now, UpdatedAt: now}
	err := a.Store.Update(ctx, func(tx herald.Tx) error {
		seq, err := tx.LastEventSeq(ctx)
		w.Cursor = seq
		if err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Engine.Notify()
	return w.ID
}

// refusal is the one wording of a refused connection.
func refusal(host string) string { return (&egress.RefusedError{Host: host}).Error() }

// Without an exemption, no webhook reaches a receiver on loopback, however
// its address is written: literal addresses are refused when registered,
// names when connecting, and webhooks an older Herald registered with a
// literal address are refused when connecting too. Not one connection
// reaches the receivers, and the webhook says why in one fixed wording.
func TestEgressKeepsWebhooksOffLoopback(t *testing.T) {
	t.Parallel()
	guardedForEachEngine(t, func(t *testing.T, a *api) {
		l4, l6 := listen(t, "127.0.0.1:0"), listen(t, "[::1]:0")
		rc4, rc6 := newReceiverAt(t, l4), newReceiverAt(t, l6)
		literal := map[string]string{ // URL → host as the refusal names it
			"http://127.0.0.1:" + l4.port() + "/hook":               "127.0.0.1",
			"http://[::1]:" + l6.port() + "/hook":                   "::1",
			"http://[::ffff:127.0.0.1]:" + l4.port() + "/hook":      "::ffff:127.0.0.1",
			"http://[0:0:0:0:0:ffff:7f00:1]:" + l4.port() + "/hook": "0:0:0:0:0:ffff:7f00:1",
		}
		for target := range literal {
			a.do("POST", "/webhooks", hookBody(target, "message.sent")).wantError(t, 422, "invalid_property", "target_url")
		}

		// A name is resolved when connecting: refused then.
		wh := a.createWebhook(t, hookBody("http://localhost:"+l4.port()+"/hook", "message.sent"))
		got := a.waitWebhook(t, localID(wh["id"]), "inactive")
		if want := "Verification failed: " + refusal("localhost") + "."; got["status_reason"] != want {
			t.Fatalf("status_reason %q, want %q", got["status_reason"], want)
		}

		// Webhooks registered before the guard existed: verifications and
		// deliveries are refused when connecting.
		conv := a.newConversation(t, "alice", "bob")
		for target, host := range literal {
			id := a.storeWebhook(t, target, herald.WebhookInactive)
			a.do("POST", "/webhooks/"+id+"/activate", nil).must(t, 200)
			got := a.waitWebhook(t, id, "inactive")
			if want := "Verification failed: " + refusal(host) + "."; got["status_reason"] != want {
				t.Fatalf("%s: status_reason %q, want %q", target, got["status_reason"], want)
			}

			active := a.storeWebhook(t, target, herald.WebhookActive)
			a.sendText(t, conv, "alice", "to "+target)
			var d map[string]any
			eventually(t, func() bool {
				ds := a.deliveries(t, active, "")
				if len(ds) == 1 && ds[0]["attempts"] == 1.0 {
					d = ds[0]
				}
				return d != nil
			}, "the delivery to %s to be attempted", target)
			if d["last_error"] != refusal(host) || d["last_status_code"] != 0.0 {
				t.Fatalf("%s: delivery %v, want last_error %q", target, d, refusal(host))
			}
			attempts := arr(t, a.delivery(t, active, localID(d["id"]))["attempt_log"])
			if len(attempts) != 1 || obj(t, attempts[0])["error"] != refusal(host) {
				t.Fatalf("%s: attempts %v", target, attempts)
			}
		}
		if n := l4.accepted.Load() + l6.accepted.Load(); n != 0 || rc4.challengeCount()+rc6.challengeCount() != 0 {
			t.Fatalf("the loopback receivers accepted %d connections", n)
		}
		rc4.quiet(t, 0, 0)
		rc6.quiet(t, 0, 0)
	})
}

// With loopback exempted, as in development, the same receivers are
// verified and get their deliveries.
func TestEgressExemptionReachesLoopback(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		l4, l6 := listen(t, "127.0.0.1:0"), listen(t, "[::1]:0")
		rc4, rc6 := newReceiverAt(t, l4), newReceiverAt(t, l6)
		conv := a.newConversation(t, "alice", "bob")
		for _, target := range []string{
			"http://127.0.0.1:" + l4.port() + "/hook", "http://localhost:" + l4.port() + "/hook",
			"http://[::ffff:127.0.0.1]:" + l4.port() + "/hook", "http://[::1]:" + l6.port() + "/hook",
		} {
			a.verifiedWebhook(t, hookBody(target, "message.sent"))
		}
		a.sendText(t, conv, "alice", "hi")
		rc4.waitAccepted(t, 3)
		rc6.waitAccepted(t, 1)
		if l4.accepted.Load() == 0 || l6.accepted.Load() == 0 {
			t.Fatal("no connection counted")
		}
	})
}

// 1.3: a Callbell subscription is active at once and its log shows what
// the receiver answered. Pointed at an internal service, it must neither
// reach the service nor show anything of it.
func TestEgressCallbellCannotReadInternalServices(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			a := startAPI(t, e.Open(t), withoutExemption, cbwFastHealth)
			l := listen(t, "127.0.0.1:0")
			internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Internal", "yes")
				io.WriteString(w, "INTERNAL-ADMIN-DATA: db_password=hunter2")
			}))
			internal.Listener.Close()
			internal.Listener = l
			internal.Start()
			defer internal.Close()

			a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": "http://127.0.0.1:" + l.port() + "/admin",
				"subscriptions": []string{"contact_created"}}).wantError(t, 422, "invalid_property", "url")
			a.cbwSubscribe(t, 201, "http://localhost:"+l.port()+"/admin", "contact_created")
			a.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
			a.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "C"})

			var log []map[string]any
			eventually(t, func() bool {
				log, _ = a.cbwLog(t, "")
				return len(log) == 1
			}, "the attempt in the events log")
			res := obj(t, log[0]["response"])
			if res["body"] != refusal("localhost") || res["code"] != 0.0 || len(obj(t, res["headers"])) != 0 {
				t.Fatalf("the log's response: %v", res)
			}
			// The health check is refused the same way.
			wh := a.cbwWaitWebhook(t, "warned", func(wh map[string]any) bool { return wh["statusReason"] != nil })
			if reason, _ := wh["statusReason"].(string); !strings.Contains(reason, refusal("localhost")) {
				t.Fatalf("statusReason %q", reason)
			}
			page := a.do("GET", "//v1/webhooks/events", nil).must(t, 200).Body
			if strings.Contains(string(page), "hunter2") || strings.Contains(string(page), "X-Internal") {
				t.Fatalf("the events log shows the internal service's answer: %s", page)
			}
			if n := l.accepted.Load(); n != 0 {
				t.Fatalf("the internal service accepted %d connections", n)
			}
		})
	}
}

// 1.5: on a refused address, an open port and a closed one give the same
// errors: the guard refuses before connecting.
func TestEgressErrorsDoNotTellPortsApart(t *testing.T) {
	t.Parallel()
	guardedForEachEngine(t, func(t *testing.T, a *api) {
		open := listen(t, "127.0.0.1:0")
		newReceiverAt(t, open)
		closed := listen(t, "127.0.0.1:0")
		closed.Close()
		conv := a.newConversation(t, "alice", "bob")
		reasons, errs := map[string]bool{}, map[string]bool{}
		for _, port := range []string{open.port(), closed.port()} {
			wh := a.createWebhook(t, hookBody("http://localhost:"+port+"/", "message.sent"))
			reasons[a.waitWebhook(t, localID(wh["id"]), "inactive")["status_reason"].(string)] = true

			id := a.storeWebhook(t, "http://127.0.0.1:"+port+"/", herald.WebhookActive)
			a.sendText(t, conv, "alice", "to "+port)
			eventually(t, func() bool {
				ds := a.deliveries(t, id, "")
				if len(ds) == 1 && ds[0]["attempts"] == 1.0 {
					errs[ds[0]["last_error"].(string)] = true
					return true
				}
				return false
			}, "the delivery to port %s to be attempted", port)
		}
		if len(reasons) != 1 || len(errs) != 1 {
			t.Fatalf("an open and a closed port give the status reasons %v and the errors %v", reasons, errs)
		}
		if n := open.accepted.Load(); n != 0 {
			t.Fatalf("the open port accepted %d connections", n)
		}
	})
}

// 7.8 and 1.6: registrations refused with 422 naming the property, in both
// formats: ports that are not ports, URLs over 2,048 bytes, literal
// internal addresses (even with loopback exempted, the other ranges stay
// refused), and the shorthand IPv4 spellings.
func TestEgressRegistrationRefusals(t *testing.T) {
	t.Parallel()
	long := "http://localhost:1/" + strings.Repeat("a", 2048)
	for _, c := range []struct {
		name    string
		opts    []apiOption
		refused []string
		fine    []string
	}{
		{"guarded", []apiOption{withoutExemption}, []string{
			"http://localhost:99999/x", "http://localhost:0/x", "http://localhost:65536/x", long[:2049],
			"http://127.0.0.1/", "http://127.0.0.1:9000/", "http://0.0.0.0/", "http://[::]/", "http://[::1]:9000/",
			"http://[::ffff:127.0.0.1]:9000/", "http://[0:0:0:0:0:ffff:7f00:1]/", "http://169.254.169.254/latest/meta-data/",
			"https://169.254.169.254/", "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/",
			"http://100.100.100.200/", "http://[fd00::1]/", "http://[fd00:ec2::254]/", "http://[fe80::1]/",
			"http://[fe80::1%25eth0]/", "http://224.0.0.1/", "http://[64:ff9b::a9fe:a9fe]/",
			"http://127.1:9000/", "http://0x7f000001:9000/", "http://2130706433:9000/", "http://0177.0.0.1:9000/",
		}, []string{long[:2048], "http://localhost:65535/x", "http://localhost:1/x"}},
		{"loopback exempted", nil, []string{
			"http://10.0.0.1/", "http://169.254.169.254/", "http://[fd00::1]/", "http://127.1:9000/", "http://0x7f000001/",
		}, []string{"http://127.0.0.1:1/", "http://[::1]:1/", "http://[::ffff:127.0.0.1]:1/"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, e := range engines {
				t.Run(e.Name, func(t *testing.T) {
					a := startAPI(t, e.Open(t), c.opts...)
					for _, target := range c.refused {
						res := a.do("POST", "/webhooks", hookBody(target, "message.sent"))
						m := res.wantError(t, 422, "invalid_property", "target_url")
						if msg := m["message"].(string); !strings.Contains(msg, "target_url") {
							t.Fatalf("%.80s: the message %q does not name target_url", target, msg)
						}
						res = a.do("POST", "//v1/webhooks/subscribe", map[string]any{"url": target, "subscriptions": []string{"contact_created"}})
						res.wantError(t, 422, "invalid_property", "url")
					}
					var list []any
					a.do("GET", "/webhooks", nil).must(t, 200).JSON(t, &list)
					if len(list) != 0 {
						t.Fatalf("refused registrations registered %d webhooks", len(list))
					}
					a.do("GET", "//v1/webhooks", nil).wantError(t, 404, "not_found", "")
					for _, target := range c.fine {
						a.createWebhook(t, hookBody(target, "message.sent"))
					}
					a.cbwSubscribe(t, 201, c.fine[0], "contact_created")
				})
			}
		})
	}
}

// 2.9: a receiver may answer up to 64 KiB of headers to every attempt; an
// attempt keeps 32 fields and 4 KiB of them, in the delivery log and in
// Callbell's events log alike. Beyond 64 KiB the attempt fails, saying why.
func TestEgressStoredHeadersAreCapped(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		headers := func(n int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					io.WriteString(w, r.URL.Query().Get("verification_challenge"))
					return
				}
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/plain")
				for i := range n {
					w.Header().Set(fmt.Sprintf("X-Big-%03d", i), strings.Repeat("x", 1000))
				}
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "no")
			}
		}
		big := httptest.NewServer(headers(60)) // 60 KB, under the transport's bound
		defer big.Close()
		huge := httptest.NewServer(headers(100)) // 100 KB, over it
		defer huge.Close()

		conv := a.newConversation(t, "alice", "bob")
		bigHook := localID(a.verifiedWebhook(t, hookBody(big.URL, "message.sent"))["id"])
		hugeHook := localID(a.verifiedWebhook(t, hookBody(huge.URL, "message.sent"))["id"])
		cb := a.cbwAs(t, "callbell")
		cb.cbwSubscribe(t, 201, big.URL, "contact_created")
		cb.v1tChannel(t, v1tWhatsapp("+33 6 12 34 56 78"))
		cb.v1tContact(t, map[string]any{"identifier": "33700000001", "source": "whatsapp", "name": "C"})
		a.sendText(t, conv, "alice", "hi")

		attempts := func(hook string) []any {
			var d map[string]any
			eventually(t, func() bool {
				ds := a.deliveries(t, hook, "")
				if len(ds) == 1 && ds[0]["attempts"].(float64) >= 1 {
					d = ds[0]
				}
				return d != nil
			}, "an attempt of webhook %s", hook)
			return arr(t, a.delivery(t, hook, localID(d["id"]))["attempt_log"])
		}
		capped := func(what string, h map[string]any) {
			fields, size := 0, 0
			for name, v := range h {
				switch v := v.(type) {
				case []any: // the delivery log: the values of each header
					for _, s := range v {
						fields++
						size += len(name) + len(s.(string))
					}
				case string: // Callbell's log: the values joined
					fields++
					size += len(name) + len(v)
				}
			}
			if fields > 32 || size > 4096 {
				t.Fatalf("%s: %d header fields, %d bytes stored", what, fields, size)
			}
			if fields < 4 {
				t.Fatalf("%s: only %d header fields stored: %v", what, fields, h)
			}
		}
		a0 := obj(t, attempts(bigHook)[0])
		if a0["status_code"] != 500.0 || a0["response_body"] != "no" {
			t.Fatalf("attempt %v", a0)
		}
		rh := obj(t, a0["response_headers"])
		capped("delivery log", rh)
		if got := arr(t, rh["Content-Type"]); len(got) != 1 || got[0] != "text/plain" {
			t.Fatalf("Content-Type not kept first: %v", rh["Content-Type"])
		}

		var log []map[string]any
		eventually(t, func() bool {
			log, _ = cb.cbwLog(t, "")
			return len(log) == 1
		}, "the Callbell attempt")
		capped("events log", obj(t, obj(t, log[0]["response"])["headers"]))

		a1 := obj(t, attempts(hugeHook)[0])
		if a1["status_code"] != 0.0 || !strings.Contains(a1["error"].(string), "headers exceeded") {
			t.Fatalf("attempt with 100 KB of headers: %v", a1)
		}
	})
}

// 2.3: once a receiver answered 2xx, the delivery is done, even if the
// body that follows never ends: one request, no retry.
func TestEgressEndlessBodyAfter2xxDeliversOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		var posts atomic.Int64
		done := make(chan struct{})
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				io.WriteString(w, r.URL.Query().Get("verification_challenge"))
				return
			}
			io.Copy(io.Discard, r.Body)
			posts.Add(1)
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := io.WriteString(w, "x"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}))
		defer rcv.Close()
		defer close(done)
		hook := localID(a.verifiedWebhook(t, withKey(hookBody(rcv.URL, "message.sent"), "timeout_seconds", 1))["id"])
		a.sendText(t, a.newConversation(t, "alice", "bob"), "alice", "hi")
		d := a.waitDeliveries(t, hook, "delivered", 1)[0]
		if d["attempts"] != 1.0 || d["last_status_code"] != 200.0 {
			t.Fatalf("delivery %v", d)
		}
		// Retries come 50 ms after a failure.
		time.Sleep(500 * time.Millisecond)
		if n := posts.Load(); n != 1 {
			t.Fatalf("the receiver got %d requests", n)
		}
	})
}

// stallingListener accepts connections, reads each request's head and
// never answers; it tracks how many connections are open at once, in all
// and per app (the first segment of the request's path), over the first
// MaxProbeTimeout after its first connection. In that window no probe can
// have ended (each waits for an answer until its timeout), so the count is
// exact: it does not depend on seeing the sender's closes in time.
type stallingListener struct {
	l       net.Listener
	mu      sync.Mutex
	first   time.Time
	open    int
	byApp   map[string]int
	maxOpen int
	maxApp  int
	conns   []net.Conn
}

func stall(t *testing.T) *stallingListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stallingListener{l: l, byApp: map[string]int{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.first.IsZero() {
				s.first = time.Now()
			}
			s.conns = append(s.conns, c)
			s.open++
			if s.inWindow() {
				s.maxOpen = max(s.maxOpen, s.open)
			}
			s.mu.Unlock()
			go s.hold(c)
		}
	}()
	t.Cleanup(s.close)
	return s
}

// inWindow says whether no probe can have timed out yet.
func (s *stallingListener) inWindow() bool {
	return time.Since(s.first) < delivery.MaxProbeTimeout-200*time.Millisecond
}

func (s *stallingListener) hold(c net.Conn) {
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	app := ""
	if f := strings.Fields(line); len(f) == 3 {
		app = strings.SplitN(strings.TrimPrefix(f[1], "/"), "/", 2)[0]
	}
	s.mu.Lock()
	s.byApp[app]++
	if s.inWindow() {
		s.maxApp = max(s.maxApp, s.byApp[app])
	}
	s.mu.Unlock()
	io.Copy(io.Discard, br) // until the sender gives up
	s.mu.Lock()
	s.open--
	s.byApp[app]--
	s.mu.Unlock()
}

func (s *stallingListener) stats() (open, maxOpen, maxApp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.maxOpen, s.maxApp
}

func (s *stallingListener) close() {
	s.l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// 2.12: hundreds of webhooks created at once, by several apps, against a
// receiver that accepts and never answers hold at most 16 connections, 4
// per app, each for at most 10 s whatever the webhook's timeout, and the
// API answers meanwhile.
func TestEgressVerificationsAreBounded(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		s := stall(t)
		base := "http://" + s.l.Addr().String()
		const apps, perApp = 6, 40
		tenants := []*api{a}
		for i := 1; i < apps; i++ {
			tenants = append(tenants, a.cbwAs(t, fmt.Sprint("app", i)))
		}
		start := time.Now()
		var first string
		create := func(j, i int) {
			body := withKey(hookBody(fmt.Sprintf("%s/a%d/h%d", base, j, i), "message.sent"), "timeout_seconds", 30)
			wh := tenants[j].createWebhook(t, body)
			if first == "" {
				first = localID(wh["id"])
			}
		}
		// The first app alone first: it gets its own bound, no more,
		// however much room the global one leaves.
		for i := range perApp {
			create(0, i)
		}
		eventually(t, func() bool { _, _, maxApp := s.stats(); return maxApp >= delivery.DefaultMaxProbesPerApp },
			"the first app's verifications to take their %d connections", delivery.DefaultMaxProbesPerApp)
		for i := range perApp {
			for j := 1; j < apps; j++ {
				create(j, i)
			}
		}
		created := time.Since(start)
		eventually(t, func() bool { _, maxOpen, _ := s.stats(); return maxOpen >= delivery.DefaultMaxProbes },
			"the verifications to take their %d connections", delivery.DefaultMaxProbes)
		// The API answers while they hang.
		for range 10 {
			begin := time.Now()
			a.do("GET", "/webhooks/"+first, nil).must(t, 200)
			if d := time.Since(begin); d > time.Second {
				t.Fatalf("GET of a webhook took %s during the verifications", d)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The first ones give up after 10 s, not the 60 s of their timeout.
		deadline := time.Now().Add(15 * time.Second)
		var got map[string]any
		for got == nil || got["status"] == "unverified" {
			if time.Now().After(deadline) {
				t.Fatalf("the first verification still hangs after %s", time.Since(start))
			}
			time.Sleep(100 * time.Millisecond)
			got = a.webhook(t, first)
		}
		if reason, _ := got["status_reason"].(string); !strings.Contains(reason, "within 10s") {
			t.Fatalf("status_reason %q", reason)
		}
		_, maxOpen, maxApp := s.stats()
		t.Logf("%d webhooks created in %s; at most %d connections at once, %d of one app", apps*perApp, created, maxOpen, maxApp)
		if maxOpen > delivery.DefaultMaxProbes || maxApp > delivery.DefaultMaxProbesPerApp {
			t.Fatalf("%d connections at once, %d of one app", maxOpen, maxApp)
		}
	})
}

// 1.4: the verification GET and the health check carry a Standard
// Webhooks signature of an empty body with the webhook's key, under an id
// of their own, so that receivers can tell they come from Herald.
func TestEgressProbesAreSigned(t *testing.T) {
	t.Parallel()
	cbwForEachEngine(t, []apiOption{cbwFastHealth}, func(t *testing.T, a *api) {
		gets := make(chan http.Header, 100)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				select {
				case gets <- r.Header.Clone():
				default:
				}
				io.WriteString(w, r.URL.Query().Get("verification_challenge"))
				return
			}
			io.Copy(io.Discard, r.Body)
		}))
		defer rcv.Close()
		next := func(what string) http.Header {
			t.Helper()
			select {
			case h := <-gets:
				return h
			case <-time.After(waitTimeout):
				t.Fatalf("no %s", what)
				return nil
			}
		}
		check := func(what, secret string, h http.Header) string {
			t.Helper()
			swh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := swh.Verify([]byte{}, h); err != nil {
				t.Fatalf("%s: %v; headers %v", what, err, h)
			}
			other, _ := standardwebhooks.NewWebhook(stdwebhooks.NewSecret())
			if other.Verify([]byte{}, h) == nil {
				t.Fatalf("%s: the signature verifies with any key", what)
			}
			return h.Get("webhook-id")
		}
		wh := a.createWebhook(t, hookBody(rcv.URL, "message.sent"))
		id1 := check("verification", wh["signing_secret"].(string), next("verification"))
		a.waitWebhook(t, localID(wh["id"]), "active")
		a.do("POST", "/webhooks/"+localID(wh["id"])+"/activate", nil).must(t, 200)
		id2 := check("second verification", wh["signing_secret"].(string), next("second verification"))
		if id1 == "" || id1 == id2 {
			t.Fatalf("webhook-id %q then %q: want a fresh one each time", id1, id2)
		}

		res := a.cbwAs(t, "callbell").cbwSubscribe(t, 201, rcv.URL, "contact_created")
		h := next("health check")
		if h.Get("X-Herald-Health-Check") != "1" {
			t.Fatalf("a GET that is not a health check: %v", h)
		}
		check("health check", res["secret"].(string), h)
	})
}

// 1.7: redirects are answers, never followed, by the verification, the
// deliveries and the health checks alike: a redirect to an internal
// address reaches nothing.
func TestEgressRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	cbwForEachEngine(t, []apiOption{cbwFastHealth}, func(t *testing.T, a *api) {
		inside := listen(t, "127.0.0.1:0")
		newReceiverAt(t, inside)
		elsewhere := "http://127.0.0.1:" + inside.port() + "/"
		var posts atomic.Int64
		redirect := func(verify bool) *httptest.Server {
			return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c := r.URL.Query().Get("verification_challenge"); verify && c != "" {
					io.WriteString(w, c)
					return
				}
				if r.Method == http.MethodPost {
					posts.Add(1)
				}
				http.Redirect(w, r, elsewhere, http.StatusTemporaryRedirect)
			}))
		}
		verifying, delivering := redirect(false), redirect(true)
		defer verifying.Close()
		defer delivering.Close()

		wh := a.createWebhook(t, hookBody(verifying.URL, "message.sent"))
		if r, _ := a.waitWebhook(t, localID(wh["id"]), "inactive")["status_reason"].(string); !strings.Contains(r, "307") {
			t.Fatalf("status_reason %q", r)
		}
		hook := localID(a.verifiedWebhook(t, hookBody(delivering.URL, "message.sent"))["id"])
		a.sendText(t, a.newConversation(t, "alice", "bob"), "alice", "hi")
		var d map[string]any
		eventually(t, func() bool {
			ds := a.deliveries(t, hook, "")
			if len(ds) == 1 && ds[0]["attempts"].(float64) >= 1 {
				d = ds[0]
			}
			return d != nil
		}, "an attempt")
		if d["last_status_code"] != 307.0 {
			t.Fatalf("delivery %v", d)
		}
		cb := a.cbwAs(t, "callbell")
		cb.cbwSubscribe(t, 201, verifying.URL, "contact_created")
		time.Sleep(cbwWarnAfter + 2*cbwHealthInterval)
		if wh := cb.cbwWebhook(t); wh["enabled"] != true || wh["statusReason"] != nil {
			t.Fatalf("a receiver that answers its health checks with a redirect: %v", wh)
		}
		if n := inside.accepted.Load(); n != 0 || posts.Load() == 0 {
			t.Fatalf("the redirects' target accepted %d connections (%d POSTs redirected)", n, posts.Load())
		}
	})
}
