package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/stdwebhooks"
)

// listeningRE finds the address in the log line of a server that started.
var listeningRE = regexp.MustCompile(`herald serving"?(?: addr=|,"addr":")([^\s"]+)`)

// credentials are an app and its token, as bootstrap.json holds them.
type credentials struct {
	AppID string `json:"app_id"`
	Token string `json:"token"`
}

// benchSettings are the knobs of `herald bench`.
type benchSettings struct {
	duration      time.Duration
	count         int
	rate          int
	clients       int
	webhooks      int
	conversations int
	drain         time.Duration
	ceiling       time.Duration
	idle          time.Duration
	json          bool
}

func benchCommand(cfg *config) *cobra.Command {
	var s benchSettings
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Herald end to end: messages in through the API, signed webhooks out to a local receiver",
		Long: `bench starts a Herald server as a child process on a fresh data directory (SQLite,
or the database of --db, which it must be allowed to write to), a receiver on 127.0.0.1
that verifies every Standard Webhooks signature and counts each event once, and clients
that send messages through the HTTP API. It reports messages accepted/s, webhooks
delivered/s, publish-to-receipt latency, duplicates, missing events, Herald's CPU time
per delivered webhook and its peak RSS, and the receiver's own ceiling, measured in the
same run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := runBench(cmd.Context(), cfg, s, cmd.ErrOrStderr())
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
				return fmt.Errorf("%d events never reached the receiver", r.Missing)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&s.duration, "duration", 10*time.Second, "how long the clients send")
	f.IntVar(&s.count, "count", 0, "stop after this many messages (0: send for --duration)")
	f.IntVar(&s.rate, "rate", 0, "messages per second across the clients (0: as fast as Herald takes them)")
	f.IntVar(&s.clients, "clients", 64, "concurrent API clients")
	f.IntVar(&s.webhooks, "webhooks", 1, "webhooks subscribed to every message (fan-out)")
	// Each conversation's deliveries reach a webhook one after the other,
	// so a few conversations measure that round trip rather than what
	// Herald can carry.
	f.IntVar(&s.conversations, "conversations", 1000, "conversations the messages are spread over (deliveries of one conversation go one at a time)")
	f.DurationVar(&s.drain, "drain", 60*time.Second, "how long to wait for the last deliveries after the clients stop")
	f.DurationVar(&s.ceiling, "ceiling-duration", 2*time.Second, "how long the receiver's own ceiling is measured")
	f.DurationVar(&s.idle, "idle", 0, "send nothing: measure Herald's CPU for this long with the webhooks registered and no traffic")
	f.BoolVar(&s.json, "json", false, "print the result as JSON")
	cmd.AddCommand(slowBodiesCommand(), socketBenchCommand(cfg))
	return cmd
}

// benchResult is what a run measured.
type benchResult struct {
	Database           string  `json:"database"`
	Clients            int     `json:"clients"`
	Webhooks           int     `json:"webhooks"`
	TargetRate         int     `json:"target_rate"`
	Messages           int64   `json:"messages_accepted"`
	Refused            int64   `json:"messages_refused"`
	AcceptedPerSec     float64 `json:"accepted_per_sec"`
	Delivered          int64   `json:"webhooks_delivered"`
	DeliveredPerSec    float64 `json:"delivered_per_sec"`
	Duplicates         int64   `json:"duplicates"`
	Missing            int64   `json:"missing"`
	BadSignatures      int64   `json:"bad_signatures"`
	LatencyMS          latency `json:"latency_ms"`
	CPUPerDeliveryMS   float64 `json:"herald_cpu_ms_per_delivery"`
	BenchCPUPerDelivMS float64 `json:"bench_cpu_ms_per_delivery"`
	PeakRSSMB          float64 `json:"herald_peak_rss_mb"`
	ReceiverCeiling    float64 `json:"receiver_ceiling_per_sec"`
	DeliveredOfCeiling float64 `json:"delivered_of_receiver_ceiling"`
	SendSeconds        float64 `json:"send_seconds"`
	DeliverySeconds    float64 `json:"delivery_seconds"`
	HeraldCPUSeconds   float64 `json:"herald_cpu_seconds"`
	// HeraldCPUPercent is Herald's CPU over the run's time, in percent of
	// one core.
	HeraldCPUPercent float64 `json:"herald_cpu_percent_of_core"`
	BenchCPUSeconds  float64 `json:"bench_cpu_seconds"`
}

type latency struct {
	P50, P90, P99, P999, Max float64
}

func (r *benchResult) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("database", r.Database)
	row("clients / webhooks", fmt.Sprintf("%d / %d", r.Clients, r.Webhooks))
	if r.TargetRate > 0 {
		row("target rate", fmt.Sprintf("%d messages/s", r.TargetRate))
	}
	row("messages accepted", fmt.Sprintf("%d in %.1f s: %.0f/s (%d refused)", r.Messages, r.SendSeconds, r.AcceptedPerSec, r.Refused))
	row("webhooks delivered", fmt.Sprintf("%d in %.1f s: %.0f/s", r.Delivered, r.DeliverySeconds, r.DeliveredPerSec))
	row("missing / duplicates / bad signatures", fmt.Sprintf("%d / %d / %d", r.Missing, r.Duplicates, r.BadSignatures))
	l := r.LatencyMS
	row("publish to receipt (ms)", fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f", l.P50, l.P90, l.P99, l.P999, l.Max))
	row("Herald CPU per delivery", fmt.Sprintf("%.3f ms (%.1f CPU s)", r.CPUPerDeliveryMS, r.HeraldCPUSeconds))
	row("Herald CPU", fmt.Sprintf("%.2f %% of a core", r.HeraldCPUPercent))
	row("clients + receiver CPU per delivery", fmt.Sprintf("%.3f ms (%.1f CPU s, this process: it shares the cores with Herald)", r.BenchCPUPerDelivMS, r.BenchCPUSeconds))
	row("Herald peak RSS", fmt.Sprintf("%.0f MB", r.PeakRSSMB))
	row("receiver ceiling", fmt.Sprintf("%.0f requests/s; Herald delivered %.0f%% of it", r.ReceiverCeiling, 100*r.DeliveredOfCeiling))
	tw.Flush()
}

// benchReceiver verifies and counts the webhooks of a run.
type benchReceiver struct {
	secrets  map[string]string // webhook path → its signing secret
	sent     *sync.Map
	mu       sync.Mutex
	events   map[string]int // event id + webhook → times, for duplicates
	lat      []time.Duration
	first    time.Time
	last     time.Time
	bad      atomic.Int64
	received atomic.Int64
}

// benchNumber returns the number that the bench wrote into a message's
// text ("bench-N"), as it appears in a webhook body.
func benchNumber(body []byte) string {
	i := bytes.Index(body, []byte("bench-"))
	if i < 0 {
		return ""
	}
	digits := body[i+len("bench-"):]
	n := 0
	for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	return string(digits[:n])
}

func (b *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		io.WriteString(w, r.URL.Query().Get("verification_challenge"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	if r.Header.Get("X-Bench-Ceiling") != "" {
		w.WriteHeader(204)
		return
	}
	now := time.Now()
	// Each webhook has a path of its own, as a receiver has an endpoint
	// per subscription: the path says whose secret signed the body.
	secret, known := b.secrets[r.URL.Path]
	if !known || stdwebhooks.Verify(secret, r.Header, body, now) != nil {
		b.bad.Add(1)
		w.WriteHeader(401)
		return
	}
	n := benchNumber(body)
	b.mu.Lock()
	key := eventID(body) + " " + r.URL.Path
	b.events[key]++
	if b.events[key] == 1 && n != "" {
		if at, ok := b.sent.Load(n); ok {
			b.lat = append(b.lat, now.Sub(at.(time.Time)))
		}
	}
	if b.first.IsZero() {
		b.first = now
	}
	b.last = now
	b.mu.Unlock()
	b.received.Add(1)
	w.WriteHeader(204)
}

// eventID returns the id of the event a webhook body carries, its
// "event" member's "id". It decodes the body only as far as that member:
// payloads name their event first, and the rest is most of the body.
func eventID(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key == "event" {
			var e struct{ ID string }
			dec.Decode(&e)
			return e.ID
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

func runBench(ctx context.Context, cfg *config, s benchSettings, progress io.Writer) (*benchResult, error) {
	// The clients and the receiver share the cores with Herald, and what
	// they keep (every message sent, every event received) grows with the
	// run: a collection at every doubling of the heap would take Herald's
	// CPU to scan it again and again. Herald's memory is what is measured,
	// not the bench's.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	srv, err := startBenchServer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	base, creds, database, server := srv.base, srv.creds, srv.database, srv.cmd
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}, Timeout: 30 * time.Second}

	rcv := &benchReceiver{secrets: map[string]string{}, sent: &sync.Map{}, events: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rsrv := &http.Server{Handler: rcv}
	go rsrv.Serve(ln)
	defer rsrv.Close()
	rurl := "http://" + ln.Addr().String()

	api := func(method, path string, body, out any) error {
		return benchRequest(ctx, client, method, base+"/apps/"+creds.AppID+path, "Bearer "+creds.Token, body, out)
	}
	var hooks []string
	for i := range s.webhooks {
		var wh struct {
			ID            string
			SigningSecret string `json:"signing_secret"`
		}
		path := fmt.Sprintf("/hook/%d", i)
		if err := api("POST", "/webhooks", map[string]any{"target_url": rurl + path, "version": "2.0",
			"events": []string{"message.sent"}, "secret": "bench"}, &wh); err != nil {
			return nil, err
		}
		rcv.secrets[path] = wh.SigningSecret
		hooks = append(hooks, wh.ID[strings.LastIndex(wh.ID, "/")+1:])
	}
	for _, id := range hooks {
		for i := 0; ; i++ {
			var wh struct{ Status string }
			if err := api("GET", "/webhooks/"+id, nil, &wh); err != nil {
				return nil, err
			}
			if wh.Status == "active" {
				break
			}
			if i > 1000 {
				return nil, fmt.Errorf("webhook %s is %s, not active", id, wh.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var convs []string
	for i := range s.conversations {
		var c struct{ ID string }
		if err := api("POST", "/conversations", map[string]any{"participants": []string{"alice", fmt.Sprintf("user-%d", i)}}, &c); err != nil {
			return nil, err
		}
		convs = append(convs, c.ID[strings.LastIndex(c.ID, "/")+1:])
	}

	// The receiver's ceiling: the same clients, straight at it.
	ceiling := benchCeiling(ctx, client, rurl, s.clients, s.ceiling)

	if s.idle > 0 {
		return benchIdle(ctx, s, database, server.Process.Pid)
	}
	cpu0, _ := processCPU(server.Process.Pid)
	self0, _ := processCPU(os.Getpid())
	var accepted, refused, seq atomic.Int64
	start := time.Now()
	stopAt := start.Add(s.duration)
	var wg sync.WaitGroup
	for range s.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := seq.Add(1)
				if s.rate > 0 {
					// At a set rate, message n is due at (n-1)/rate: a
					// schedule, not a ticker, whose ticks would be lost
					// whenever every client is busy, capping the rate.
					time.Sleep(time.Until(start.Add(time.Duration(n-1) * time.Second / time.Duration(s.rate))))
				}
				if time.Now().After(stopAt) || (s.count > 0 && n > int64(s.count)) || ctx.Err() != nil {
					return
				}
				key := strconv.FormatInt(n, 10)
				rcv.sent.Store(key, time.Now())
				// The conversations take the messages in turn, whichever
				// client sends them: each gets an even share, spaced out.
				// (Had each client walked the list from its own start,
				// the clients would crowd a few conversations at a time.)
				conv := convs[(n-1)%int64(len(convs))]
				err := api("POST", "/conversations/"+conv+"/messages", map[string]any{
					"sender": map[string]string{"user_id": "alice"},
					"parts":  []map[string]string{{"mime_type": "text/plain", "body": "bench-" + key}}}, nil)
				if err != nil {
					refused.Add(1)
					rcv.sent.Delete(key)
					continue
				}
				accepted.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	report := func(phase string) {
		fmt.Fprintf(progress, "\r%-8s %5.1fs  accepted %8d  delivered %8d  ", phase, time.Since(start).Seconds(),
			accepted.Load(), rcv.received.Load())
	}
sending:
	for {
		select {
		case <-done:
			break sending
		case <-tick.C:
			report("sending")
		}
	}
	sendTime := time.Since(start)
	want := accepted.Load() * int64(s.webhooks)
	deadline := time.Now().Add(s.drain)
	for rcv.received.Load()-rcv.bad.Load() < want && time.Now().Before(deadline) {
		select {
		case <-tick.C:
			report("draining")
		case <-time.After(5 * time.Millisecond):
		}
	}
	fmt.Fprintln(progress)
	cpu1, _ := processCPU(server.Process.Pid)
	self1, _ := processCPU(os.Getpid())
	rss, _ := peakRSS(server.Process.Pid)

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	r := &benchResult{Database: database, Clients: s.clients, Webhooks: s.webhooks, TargetRate: s.rate,
		Messages: accepted.Load(), Refused: refused.Load(), BadSignatures: rcv.bad.Load(),
		SendSeconds: sendTime.Seconds(), ReceiverCeiling: ceiling, PeakRSSMB: float64(rss) / (1 << 20)}
	r.AcceptedPerSec = float64(r.Messages) / sendTime.Seconds()
	for _, n := range rcv.events {
		r.Delivered++
		r.Duplicates += int64(n - 1)
	}
	r.Missing = want - r.Delivered
	if !rcv.first.IsZero() {
		r.DeliverySeconds = rcv.last.Sub(start).Seconds()
		r.DeliveredPerSec = float64(r.Delivered) / r.DeliverySeconds
	}
	r.HeraldCPUSeconds = (cpu1 - cpu0).Seconds()
	r.HeraldCPUPercent = 100 * r.HeraldCPUSeconds / time.Since(start).Seconds()
	r.BenchCPUSeconds = (self1 - self0).Seconds()
	if r.Delivered > 0 {
		r.CPUPerDeliveryMS = 1000 * r.HeraldCPUSeconds / float64(r.Delivered)
		r.BenchCPUPerDelivMS = 1000 * r.BenchCPUSeconds / float64(r.Delivered)
	}
	if ceiling > 0 {
		r.DeliveredOfCeiling = r.DeliveredPerSec / ceiling
	}
	slices.Sort(rcv.lat)
	pct := func(p float64) float64 {
		if len(rcv.lat) == 0 {
			return 0
		}
		i := min(int(p*float64(len(rcv.lat))), len(rcv.lat)-1)
		return float64(rcv.lat[i]) / float64(time.Millisecond)
	}
	r.LatencyMS = latency{P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), P999: pct(0.999), Max: pct(1)}
	return r, nil
}

// benchIdle measures what Herald costs with nothing to do: its webhooks
// registered and active, no message sent. After a few seconds, so that
// the start-up's work is done.
func benchIdle(ctx context.Context, s benchSettings, database string, pid int) (*benchResult, error) {
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cpu0, err := processCPU(pid)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	select {
	case <-time.After(s.idle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cpu1, err := processCPU(pid)
	if err != nil {
		return nil, err
	}
	rss, _ := peakRSS(pid)
	cpu := (cpu1 - cpu0).Seconds()
	return &benchResult{Database: database, Clients: s.clients, Webhooks: s.webhooks, HeraldCPUSeconds: cpu,
		HeraldCPUPercent: 100 * cpu / time.Since(start).Seconds(), PeakRSSMB: float64(rss) / (1 << 20)}, nil
}

// benchServer is a Herald server that a bench started as a child process,
// on a fresh data directory.
type benchServer struct {
	base     string // its root URL
	creds    credentials
	database string
	cmd      *exec.Cmd
	stop     func()
}

// startBenchServer starts a Herald server for a bench, with extra
// environment variables (NAME=value), and waits until it listens.
func startBenchServer(ctx context.Context, cfg *config, env ...string) (_ *benchServer, err error) {
	var cleanups []func()
	stop := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	dir, err := os.MkdirTemp("", "herald-bench")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// As many webhooks as the run asks for.
	args := []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--max-webhooks", "0"}
	database := "sqlite"
	if cfg.db != "" {
		args, database = append(args, "--db", cfg.db), "postgres"
	}
	server := exec.CommandContext(ctx, self, args...)
	// The bench's receiver listens on loopback, which Herald refuses to
	// contact unless exempted, and its clients send thousands of requests
	// a second with one token, as many at once as there are clients: the
	// exemption, and no rate limits. Through the environment rather than
	// flags, so that the bench can drive builds that have no such flags.
	server.Env = append(os.Environ(), "HERALD_ALLOW_TARGETS=127.0.0.0/8", "HERALD_RATE_LIMIT=0", "HERALD_TOKEN_CONCURRENCY=0")
	server.Env = append(server.Env, env...)
	if cfg.db != "" && cfg.secretKey == "" && cfg.secretKeyFile == "" {
		// The bench's own empty database: a key of its own.
		server.Env = append(server.Env, "HERALD_SECRET_KEY="+keyring.NewKey())
	} else if cfg.secretKeyFile != "" {
		server.Args = append(server.Args, "--secret-key-file", cfg.secretKeyFile)
	} else if cfg.secretKey != "" {
		server.Env = append(server.Env, "HERALD_SECRET_KEY="+cfg.secretKey)
	}
	stderr, err := server.StderrPipe()
	if err != nil {
		return nil, err
	}
	server.Stdout = io.Discard
	if err := server.Start(); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() {
		server.Process.Signal(syscall.SIGTERM)
		server.Wait()
	})
	addr := make(chan string, 1)
	var serverLog bytes.Buffer
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			serverLog.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		return nil, fmt.Errorf("herald did not start:\n%s", serverLog.String())
	}
	creds, err := readBootstrap(dir)
	if errors.Is(err, fs.ErrNotExist) && cfg.db != "" {
		// A database that already had apps: no bootstrap was written, so
		// the bench makes an app of its own there.
		creds, err = benchApp(ctx, self, cfg.db, server.Env)
	}
	if err != nil {
		return nil, err
	}
	return &benchServer{base: base, creds: creds, database: database, cmd: server, stop: stop}, nil
}

// benchRequest sends a JSON request with an Authorization header (none when
// auth is "") and decodes a 2xx answer into out; any other status is an
// error naming it.
func benchRequest(ctx context.Context, client *http.Client, method, url, auth string, body, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

// benchCeiling measures how many requests/s the receiver accepts from the
// clients directly, with a body the size of a webhook's.
func benchCeiling(ctx context.Context, client *http.Client, url string, clients int, d time.Duration) float64 {
	body := bytes.Repeat([]byte("x"), 1500)
	var n atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/ceiling", bytes.NewReader(body))
				req.Header.Set("X-Bench-Ceiling", "1")
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// benchApp creates an app for the bench on the database db, with the
// server's environment (its secret key), and returns its credentials.
func benchApp(ctx context.Context, self, db string, env []string) (credentials, error) {
	var c credentials
	create := exec.CommandContext(ctx, self, "--db", db, "apps", "create", fmt.Sprintf("bench-%d", time.Now().Unix()), "--json")
	create.Env = env
	out, err := create.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return c, fmt.Errorf("creating the bench's app on --db: %s", bytes.TrimSpace(exit.Stderr))
		}
		return c, fmt.Errorf("creating the bench's app on --db: %w", err)
	}
	if err := json.Unmarshal(out, &c); err != nil || c.Token == "" {
		return c, fmt.Errorf("creating the bench's app on --db: unexpected output %q", out)
	}
	return c, nil
}

func readBootstrap(dir string) (credentials, error) {
	var c credentials
	b, err := os.ReadFile(filepath.Join(dir, "bootstrap.json"))
	if err != nil {
		return c, fmt.Errorf("reading the bench server's credentials: %w", err)
	}
	return c, json.Unmarshal(b, &c)
}

// processCPU is the user and system CPU time a process has used, from
// /proc (Linux).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// peakRSS is a process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}
