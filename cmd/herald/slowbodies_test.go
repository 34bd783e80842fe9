package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// 1,010 connections that send their headers and then trickle their
// bodies, half of them with another app's token, the others with none, on
// a server allowed 1,024 file descriptors (probe 6.3): those without a token are
// answered and closed at once, those with one when their body's deadline
// passes, and meanwhile GET /health and an authenticated GET, each on a
// new connection, keep answering at once. (Before the deadlines and the
// bound on connections, the slow connections took every descriptor:
// accept failed and every request timed out for as long as they lasted.)
func TestSlowBodiesDoNotStallTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a thousand connections for 10 s")
	}
	dataDir := t.TempDir()
	var victim, attacker credentials
	for name, c := range map[string]*credentials{"victim": &victim, "attacker": &attacker} {
		if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "apps", "create", name)), c); err != nil {
			t.Fatal(err)
		}
	}
	const bodyTimeout = 3 * time.Second
	p := startProcess(t, exec.Command("sh", "-c", `ulimit -n 1024 && exec "$0" "$@"`, heraldBinary,
		"serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--body-timeout", bodyTimeout.String()))

	r, err := runSlowBodies(context.Background(), slowBodySettings{url: p.URL, app: victim.AppID, token: victim.Token,
		slowToken: attacker.Token, connections: 1010, withToken: 0.5, duration: 10 * time.Second,
		trickle: time.Second, probeEvery: 100 * time.Millisecond, probeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]probeStats{"GET /health": r.Health, "authenticated GET": r.AuthGET} {
		l := s.LatencyMS
		t.Logf("%s: %d requests, %d errors; p50 %.1f ms, p99 %.1f ms, max %.1f ms", name, s.Requests, s.Errors, l.P50, l.P99, l.Max)
		if s.Requests < 20 || s.Errors > 0 || l.P99 > 1000 {
			t.Errorf("%s under 1,010 slow bodies: %d requests, %d errors (%s), p99 %.0f ms", name, s.Requests, s.Errors, s.FirstError, l.P99)
		}
	}
	for name, c := range map[string]struct {
		s   slowConnStats
		max time.Duration
	}{"without a token": {r.WithoutToken, 2 * time.Second}, "with a token": {r.WithToken, bodyTimeout + 2*time.Second}} {
		t.Logf("slow bodies %s: %d opened, %d closed by the server after p50 %.0f ms, max %.0f ms",
			name, c.s.Opened, c.s.Closed, c.s.LifetimeMS.P50, c.s.LifetimeMS.Max)
		if c.s.Opened != 505 || c.s.Closed != c.s.Opened || c.s.LifetimeMS.Max > float64(c.max/time.Millisecond) {
			t.Errorf("slow bodies %s: %d opened, %d closed by the server, the last after %.0f ms; want all 505 within %s",
				name, c.s.Opened, c.s.Closed, c.s.LifetimeMS.Max, c.max)
		}
	}
}
