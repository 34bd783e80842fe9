package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// slowBodySettings are the knobs of `herald bench slow-bodies`.
type slowBodySettings struct {
	url, app, token string
	// slowToken is the token of the slow connections that carry one; by
	// default, token.
	slowToken   string
	connections int
	// withToken is the share of the slow connections that carry the
	// token; the others carry none.
	withToken float64
	duration  time.Duration
	// trickle is the pause between two bytes of a slow body.
	trickle      time.Duration
	probeEvery   time.Duration
	probeTimeout time.Duration
	json         bool
}

func slowBodiesCommand() *cobra.Command {
	var s slowBodySettings
	cmd := &cobra.Command{
		Use:   "slow-bodies",
		Short: "Measure how a running Herald answers while many connections trickle request bodies",
		Long: `slow-bodies opens --connections connections to a running Herald, each sending a
request's headers (POST /v1/contacts, Content-Length 100000; a share of them
with the token, the others without) and then its body one byte every --trickle. Meanwhile
a well-behaved client asks GET /health and an authenticated GET every --probe-every,
each on a new connection, as a client that was not already connected would. It reports
the latency of those requests (p50, p99, max), their errors, and how long the server
kept the slow connections open. Point it at a server you own: it is the attack it measures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if s.url == "" || s.app == "" || s.token == "" {
				return fmt.Errorf("--url, --app and --token are required")
			}
			r, err := runSlowBodies(cmd.Context(), s)
			if err != nil {
				return err
			}
			if s.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			r.table(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.url, "url", "", "root URL of the server (http://127.0.0.1:8080)")
	f.StringVar(&s.app, "app", "", "app id of the token")
	f.StringVar(&s.token, "token", "", "an app token, for the authenticated requests")
	f.StringVar(&s.slowToken, "slow-token", "", "the token the slow connections send, as another tenant would (default --token)")
	f.IntVar(&s.connections, "connections", 1000, "slow-body connections")
	f.Float64Var(&s.withToken, "with-token", 0.5, "share of the slow connections that send the token")
	f.DurationVar(&s.duration, "duration", 30*time.Second, "how long the slow connections trickle and the client measures")
	f.DurationVar(&s.trickle, "trickle", time.Second, "pause between two bytes of a slow body")
	f.DurationVar(&s.probeEvery, "probe-every", 100*time.Millisecond, "pause between two requests of the well-behaved client")
	f.DurationVar(&s.probeTimeout, "probe-timeout", 5*time.Second, "how long the well-behaved client waits for an answer")
	f.BoolVar(&s.json, "json", false, "print the result as JSON")
	return cmd
}

// probeStats are the well-behaved client's requests to one endpoint.
type probeStats struct {
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	LatencyMS latency `json:"latency_ms"`
	// FirstError is an example of what went wrong.
	FirstError string `json:"first_error,omitempty"`
	lat        []time.Duration
}

// slowConnStats are the slow connections of one kind (with or without the
// token).
type slowConnStats struct {
	Opened int `json:"opened"`
	// Closed counts those the server closed before the end of the run;
	// LifetimeMS is how long it kept them.
	Closed     int     `json:"closed_by_server"`
	LifetimeMS latency `json:"lifetime_ms"`
	lifetimes  []time.Duration
}

type slowBodyResult struct {
	Connections  int           `json:"connections"`
	DialErrors   int64         `json:"dial_errors"`
	WithToken    slowConnStats `json:"with_token"`
	WithoutToken slowConnStats `json:"without_token"`
	Health       probeStats    `json:"health"`
	AuthGET      probeStats    `json:"authenticated_get"`
	Seconds      float64       `json:"seconds"`
}

func (r *slowBodyResult) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("slow-body connections", fmt.Sprintf("%d over %.0f s (%d could not connect)", r.Connections, r.Seconds, r.DialErrors))
	for _, c := range []struct {
		name string
		s    slowConnStats
	}{{"with the token", r.WithToken}, {"without a token", r.WithoutToken}} {
		l := c.s.LifetimeMS
		row("  "+c.name, fmt.Sprintf("%d opened, %d closed by the server after p50 %.0f ms, max %.0f ms",
			c.s.Opened, c.s.Closed, l.P50, l.Max))
	}
	for _, p := range []struct {
		name string
		s    probeStats
	}{{"GET /health", r.Health}, {"authenticated GET", r.AuthGET}} {
		l := p.s.LatencyMS
		v := fmt.Sprintf("%d requests, %d errors; p50 %.1f ms  p99 %.1f ms  max %.1f ms", p.s.Requests, p.s.Errors, l.P50, l.P99, l.Max)
		if p.s.FirstError != "" {
			v += " (" + p.s.FirstError + ")"
		}
		row(p.name, v)
	}
	tw.Flush()
}

// percentiles summarises durations in milliseconds.
func percentiles(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	pct := func(p float64) float64 {
		i := min(int(p*float64(len(d))), len(d)-1)
		return float64(d[i]) / float64(time.Millisecond)
	}
	return latency{P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), P999: pct(0.999), Max: pct(1)}
}

func runSlowBodies(ctx context.Context, s slowBodySettings) (*slowBodyResult, error) {
	base, err := url.Parse(s.url)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("--url: %q is not a URL", s.url)
	}
	ctx, cancel := context.WithTimeout(ctx, s.duration)
	defer cancel()
	r := &slowBodyResult{Connections: s.connections}
	start := time.Now()

	var mu sync.Mutex
	var wg sync.WaitGroup
	var dialErrors atomic.Int64
	withToken := int(float64(s.connections) * s.withToken)
	if s.slowToken == "" {
		s.slowToken = s.token
	}
	for i := range s.connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats := &r.WithoutToken
			auth := ""
			if i < withToken {
				stats, auth = &r.WithToken, "Authorization: Bearer "+s.slowToken+"\r\n"
			}
			// A /v1 path, whose app is the token's: with another app's
			// token, the request is that app's and is held until its
			// body's deadline, not answered 404 at once.
			lifetime, closed, ok := slowBody(ctx, base.Host, "/v1/contacts", auth, s.trickle)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				dialErrors.Add(1)
				return
			}
			stats.Opened++
			if closed {
				stats.Closed++
				stats.lifetimes = append(stats.lifetimes, lifetime)
			}
		}()
	}
	// The well-behaved client starts once the slow connections had a
	// moment to connect.
	select {
	case <-time.After(min(time.Second, s.duration/4)):
	case <-ctx.Done():
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: s.probeTimeout}
	probe := func(stats *probeStats, path, token string) {
		defer wg.Done()
		for ctx.Err() == nil {
			req, _ := http.NewRequest("GET", s.url+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			t0 := time.Now()
			res, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err == nil && res.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			d := time.Since(t0)
			stats.Requests++
			stats.lat = append(stats.lat, d)
			if err != nil {
				stats.Errors++
				if stats.FirstError == "" {
					stats.FirstError = err.Error()
				}
			}
			select {
			case <-time.After(s.probeEvery):
			case <-ctx.Done():
			}
		}
	}
	wg.Add(2)
	go probe(&r.Health, "/health", "")
	go probe(&r.AuthGET, "/apps/"+s.app+"/conversations?page_size=1", s.token)
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.DialErrors = dialErrors.Load()
	for _, c := range []*slowConnStats{&r.WithToken, &r.WithoutToken} {
		c.LifetimeMS = percentiles(c.lifetimes)
	}
	for _, p := range []*probeStats{&r.Health, &r.AuthGET} {
		p.LatencyMS = percentiles(p.lat)
	}
	return r, nil
}

// slowBody sends a request's headers and then its body a byte at a time
// until ctx ends or the server closes the connection, and says how long
// the server kept it (closed false: it was still open at the end).
func slowBody(ctx context.Context, host, path, auth string, trickle time.Duration) (lifetime time.Duration, closed, ok bool) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return 0, false, false
	}
	defer conn.Close()
	start := time.Now()
	head := "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + auth +
		"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		return time.Since(start), true, true
	}
	gone := make(chan time.Duration, 1)
	go func() {
		// Whatever the server answers is read and dropped; its closing the
		// connection ends the read.
		io.Copy(io.Discard, conn)
		gone <- time.Since(start)
	}()
	tick := time.NewTicker(trickle)
	defer tick.Stop()
	for {
		select {
		case l := <-gone:
			return l, true, true
		case <-ctx.Done():
			return 0, false, true
		case <-tick.C:
			if _, err := conn.Write([]byte{' '}); err != nil {
				return time.Since(start), true, true
			}
		}
	}
}
