package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"
)

// socketBenchSettings are the knobs of `herald bench sockets`.
type socketBenchSettings struct {
	sessions     int
	participants int
	rate         int
	duration     time.Duration
	drain        time.Duration
	json         bool
}

func socketBenchCommand(cfg *config) *cobra.Command {
	var s socketBenchSettings
	cmd := &cobra.Command{
		Use:   "sockets",
		Short: "Measure the Client API's WebSocket: sessions held, and the time from a message's POST to each participant's socket",
		Long: `bench sockets starts a Herald server as a child process on a fresh data directory,
registers an identity provider key, signs in --sessions users through the Client API
(nonce, identity token, session) and opens one WebSocket per session. The users are put
in conversations of --participants each; messages are then POSTed through the server
API at --rate, round robin over the conversations, each from one of its participants.
It reports Herald's memory with every socket open, and the time from the start of
each POST to the change packet reaching each participant's socket (every delivery),
and to reaching the last of them (every message).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := runSocketBench(cmd.Context(), cfg, s, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if s.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			r.table(cmd.OutOrStdout())
			if r.Missing > 0 {
				return fmt.Errorf("%d change packets never reached their socket", r.Missing)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&s.sessions, "sessions", 10_000, "users signed in, one WebSocket each")
	f.IntVar(&s.participants, "participants", 10, "participants of each conversation")
	f.IntVar(&s.rate, "rate", 500, "messages per second")
	f.DurationVar(&s.duration, "duration", 20*time.Second, "how long messages are sent")
	f.DurationVar(&s.drain, "drain", 30*time.Second, "how long to wait for the last change packets")
	f.BoolVar(&s.json, "json", false, "print the result as JSON")
	return cmd
}

// socketBenchResult is what a sockets bench measured.
type socketBenchResult struct {
	Database       string  `json:"database"`
	Sessions       int     `json:"sessions"`
	Participants   int     `json:"participants"`
	TargetRate     int     `json:"target_rate"`
	SignInSeconds  float64 `json:"sign_in_seconds"`
	ConnectSeconds float64 `json:"connect_seconds"`
	// RSS with every socket open and idle, and at its peak.
	IdleRSSMB      float64 `json:"herald_rss_connected_mb"`
	PeakRSSMB      float64 `json:"herald_peak_rss_mb"`
	Messages       int64   `json:"messages_accepted"`
	Refused        int64   `json:"messages_refused"`
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	Deliveries     int64   `json:"socket_deliveries"`
	Missing        int64   `json:"missing"`
	Duplicates     int64   `json:"duplicates"`
	// The POSTs' answers (the send path's share), every (message,
	// participant) delivery, and every message's last.
	PostMS           latency `json:"post_ms"`
	DeliveryMS       latency `json:"post_to_socket_ms"`
	LastDeliveryMS   latency `json:"post_to_every_socket_ms"`
	HeraldCPUSeconds float64 `json:"herald_cpu_seconds"`
	CPUPerMessageMS  float64 `json:"herald_cpu_ms_per_message"`
	// The bench's own: its clients and 10,000 sockets share the cores with
	// Herald.
	BenchCPUSeconds      float64 `json:"bench_cpu_seconds"`
	BenchCPUPerMessageMS float64 `json:"bench_cpu_ms_per_message"`
}

func (r *socketBenchResult) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("database", r.Database)
	row("sessions / participants", fmt.Sprintf("%d / %d per conversation", r.Sessions, r.Participants))
	row("signed in / connected", fmt.Sprintf("%.1f s / %.1f s", r.SignInSeconds, r.ConnectSeconds))
	row("Herald RSS, all connected", fmt.Sprintf("%.0f MB (peak %.0f MB)", r.IdleRSSMB, r.PeakRSSMB))
	row("messages accepted", fmt.Sprintf("%d: %.0f/s of %d/s (%d refused)", r.Messages, r.AcceptedPerSec, r.TargetRate, r.Refused))
	row("socket deliveries", fmt.Sprintf("%d (missing %d, duplicates %d)", r.Deliveries, r.Missing, r.Duplicates))
	l := r.PostMS
	row("POST answered (ms)", fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f", l.P50, l.P90, l.P99, l.P999, l.Max))
	l = r.DeliveryMS
	row("POST to a socket (ms)", fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f", l.P50, l.P90, l.P99, l.P999, l.Max))
	l = r.LastDeliveryMS
	row("POST to every socket (ms)", fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f", l.P50, l.P90, l.P99, l.P999, l.Max))
	row("Herald CPU per message", fmt.Sprintf("%.3f ms (%.1f CPU s)", r.CPUPerMessageMS, r.HeraldCPUSeconds))
	row("clients CPU per message", fmt.Sprintf("%.3f ms (%.1f CPU s, this process: it shares the cores with Herald)", r.BenchCPUPerMessageMS, r.BenchCPUSeconds))
	tw.Flush()
}

// socketTally counts the change packets of the bench's messages.
type socketTally struct {
	sent       sync.Map // "N" → time the POST began
	mu         sync.Mutex
	got        map[string]int // "N" → sockets that got its create
	last       map[string]time.Duration
	lat        []time.Duration
	dup        int64
	deliveries atomic.Int64
}

func (s *socketTally) received(n string, at time.Time, seen map[string]bool) {
	began, ok := s.sent.Load(n)
	if !ok {
		return
	}
	d := at.Sub(began.(time.Time))
	s.mu.Lock()
	defer s.mu.Unlock()
	if seen[n] {
		s.dup++
		return
	}
	seen[n] = true
	s.got[n]++
	s.lat = append(s.lat, d)
	if d > s.last[n] {
		s.last[n] = d
	}
	s.deliveries.Add(1)
}

func runSocketBench(ctx context.Context, cfg *config, s socketBenchSettings, progress io.Writer) (*socketBenchResult, error) {
	if s.sessions < s.participants || s.participants < 2 {
		return nil, fmt.Errorf("--sessions must be at least --participants, and --participants at least 2")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	srv, err := startBenchServer(ctx, cfg, fmt.Sprintf("HERALD_MAX_CONNECTIONS=%d", s.sessions+1000))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	call := func(method, url, auth string, body, out any) error {
		return benchRequest(ctx, client, method, url, auth, body, out)
	}
	appURL := srv.base + "/apps/" + srv.creds.AppID
	bearer := "Bearer " + srv.creds.Token

	// The app's identity provider.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	var registered struct {
		ID         string `json:"id"`
		ProviderID string `json:"provider_id"`
	}
	if err := call("POST", appURL+"/keys", bearer, map[string]string{
		"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, &registered); err != nil {
		return nil, err
	}

	// Sign every user in, two at a time: signing is the costly part, and
	// the bench shares the cores with Herald.
	began := time.Now()
	tokens := make([]string, s.sessions)
	var next atomic.Int64
	var signErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= s.sessions || ctx.Err() != nil {
					return
				}
				var nonce struct{ Nonce string }
				err := call("POST", srv.base+"/nonces", "", nil, &nonce)
				if err == nil {
					now := time.Now()
					t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": registered.ProviderID,
						"prn": fmt.Sprintf("user-%d", i), "nce": nonce.Nonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
						"display_name": fmt.Sprintf("User %d", i)})
					t.Header["cty"], t.Header["kid"] = "layer-eit;v=1", registered.ID
					var signed string
					if signed, err = t.SignedString(key); err == nil {
						var sess struct {
							SessionToken string `json:"session_token"`
						}
						err = call("POST", srv.base+"/sessions", "", map[string]string{"identity_token": signed,
							"app_id": srv.creds.AppID}, &sess)
						tokens[i] = sess.SessionToken
					}
				}
				if err != nil {
					errOnce.Do(func() { signErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if signErr != nil {
		return nil, fmt.Errorf("signing in: %w", signErr)
	}
	signIn := time.Since(began)
	fmt.Fprintf(progress, "signed in %d users in %.1f s\n", s.sessions, signIn.Seconds())

	// One socket per session, each read by a goroutine of its own, as
	// devices would.
	tally := &socketTally{got: map[string]int{}, last: map[string]time.Duration{}}
	wsBase := "ws" + strings.TrimPrefix(srv.base, "http") + "/?session_token="
	began = time.Now()
	var opened atomic.Int64
	next.Store(0)
	conns := make([]*websocket.Conn, s.sessions)
	var dialErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= s.sessions {
					return
				}
				c, _, err := websocket.Dial(ctx, wsBase+tokens[i], &websocket.DialOptions{Subprotocols: []string{"layer-2.0"}})
				if err != nil {
					errOnce.Do(func() { dialErr = err })
					return
				}
				c.SetReadLimit(1 << 20)
				conns[i] = c
				opened.Add(1)
				// Closing the socket ends its reader: a context that
				// can end would cost each read a callback registered
				// and removed, on the cores Herald runs on.
				go readSocket(context.Background(), c, tally)
			}
		}()
	}
	wg.Wait()
	if dialErr != nil {
		return nil, fmt.Errorf("opening sockets: %w", dialErr)
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	}()
	connect := time.Since(began)
	fmt.Fprintf(progress, "opened %d sockets in %.1f s\n", opened.Load(), connect.Seconds())

	// Conversations of --participants users each.
	nconv := s.sessions / s.participants
	convs := make([]string, nconv)
	members := make([][]string, nconv)
	for c := range nconv {
		for p := range s.participants {
			members[c] = append(members[c], fmt.Sprintf("user-%d", c*s.participants+p))
		}
		var conv struct{ ID string }
		if err := call("POST", appURL+"/conversations", bearer, map[string]any{"participants": members[c], "distinct": false}, &conv); err != nil {
			return nil, err
		}
		convs[c] = conv.ID[strings.LastIndex(conv.ID, "/")+1:]
	}
	// Let the conversations' own change packets pass, then measure memory
	// with everything connected and quiet.
	time.Sleep(2 * time.Second)
	idleRSS, _ := currentRSS(srv.cmd.Process.Pid)

	cpu0, _ := processCPU(srv.cmd.Process.Pid)
	self0, _ := processCPU(os.Getpid())
	var accepted, refused, seq atomic.Int64
	var postMu sync.Mutex
	var posts []time.Duration
	start := time.Now()
	stopAt := start.Add(s.duration)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := seq.Add(1)
				time.Sleep(time.Until(start.Add(time.Duration(n-1) * time.Second / time.Duration(s.rate))))
				if time.Now().After(stopAt) || ctx.Err() != nil {
					return
				}
				c := int((n - 1) % int64(nconv))
				sender := members[c][int((n-1)/int64(nconv))%s.participants]
				key := strconv.FormatInt(n, 10)
				began := time.Now()
				tally.sent.Store(key, began)
				err := call("POST", appURL+"/conversations/"+convs[c]+"/messages", bearer, map[string]any{
					"sender": map[string]string{"user_id": sender},
					"parts":  []map[string]string{{"mime_type": "text/plain", "body": "bench-" + key}}}, nil)
				if err != nil {
					refused.Add(1)
					tally.sent.Delete(key)
					continue
				}
				postMu.Lock()
				posts = append(posts, time.Since(began))
				postMu.Unlock()
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	sendTime := time.Since(start)
	want := accepted.Load() * int64(s.participants)
	deadline := time.Now().Add(s.drain)
	for tally.deliveries.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cpu1, _ := processCPU(srv.cmd.Process.Pid)
	self1, _ := processCPU(os.Getpid())
	peak, _ := peakRSS(srv.cmd.Process.Pid)

	tally.mu.Lock()
	defer tally.mu.Unlock()
	r := &socketBenchResult{Database: srv.database, Sessions: s.sessions, Participants: s.participants, TargetRate: s.rate,
		SignInSeconds: signIn.Seconds(), ConnectSeconds: connect.Seconds(),
		IdleRSSMB: float64(idleRSS) / (1 << 20), PeakRSSMB: float64(peak) / (1 << 20),
		Messages: accepted.Load(), Refused: refused.Load(), AcceptedPerSec: float64(accepted.Load()) / sendTime.Seconds(),
		Deliveries: tally.deliveries.Load(), Duplicates: tally.dup, HeraldCPUSeconds: (cpu1 - cpu0).Seconds(),
		BenchCPUSeconds: (self1 - self0).Seconds()}
	r.Missing = want - r.Deliveries
	r.PostMS = percentiles(posts)
	r.DeliveryMS = percentiles(tally.lat)
	var lasts []time.Duration
	for n, d := range tally.last {
		// A message some participant never got has no last delivery: it
		// counts among the missing, not in these times.
		if tally.got[n] == s.participants {
			lasts = append(lasts, d)
		}
	}
	r.LastDeliveryMS = percentiles(lasts)
	if r.Messages > 0 {
		r.CPUPerMessageMS = 1000 * r.HeraldCPUSeconds / float64(r.Messages)
		r.BenchCPUPerMessageMS = 1000 * r.BenchCPUSeconds / float64(r.Messages)
	}
	return r, nil
}

// readSocket reads a session's packets until the bench ends, noting each
// bench message's create packet (a change creating a Message whose text is
// "bench-N") once. Each packet is read into the socket's one buffer: the
// bench shares the cores with Herald, and what it allocates per packet
// would be collected on them.
func readSocket(ctx context.Context, c *websocket.Conn, tally *socketTally) {
	seen := map[string]bool{}
	var buf bytes.Buffer
	for {
		_, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		at := time.Now()
		b := buf.Bytes()
		if !bytes.Contains(b, []byte(`"create"`)) {
			continue
		}
		n := benchNumber(b)
		if n == "" {
			continue
		}
		tally.received(n, at, seen)
	}
}

// currentRSS is a process's resident set size in bytes (VmRSS).
func currentRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
