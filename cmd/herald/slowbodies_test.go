package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// 1,010 connections that send their headers and then trickle their bodies
// to a server allowed 1,024 file descriptors (probe 6.3), while GET /health
// and an authenticated GET, each on a new connection, must keep answering
// at once:
//   - half of them with another app's token, the others with none: those
//     without a token are answered at once and closed within a second or
//     two, those with one when their body's deadline passes (or at once,
//     past the token's bound on requests in progress);
//   - all of them with another app's token, with no rate limit: past the
//     token's bound on requests in progress, they are refused at once,
//     rather than take every connection the server accepts.
//
// (Before the deadlines and the bounds, the slow connections took every
// descriptor: accept failed and every request timed out while they lasted.)
func TestSlowBodiesDoNotStallTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a thousand connections for 20 s")
	}
	const bodyTimeout = 3 * time.Second
	for _, c := range []struct {
		name      string
		withToken float64
		flags     []string
	}{
		{"half with a token", 0.5, nil},
		{"all with a token", 1, []string{"--rate-limit", "0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dataDir := t.TempDir()
			var victim, attacker credentials
			for name, c := range map[string]*credentials{"victim": &victim, "attacker": &attacker} {
				if err := json.Unmarshal([]byte(runHerald(t, "--data", dataDir, "apps", "create", "--json", name)), c); err != nil {
					t.Fatal(err)
				}
			}
			p := startProcess(t, exec.Command("sh", append([]string{"-c", `ulimit -n 1024 && exec "$0" "$@"`, heraldBinary,
				"serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--body-timeout", bodyTimeout.String()}, c.flags...)...))

			const connections = 1010
			r, err := runSlowBodies(context.Background(), slowBodySettings{url: p.URL, app: victim.AppID, token: victim.Token,
				slowToken: attacker.Token, connections: connections, withToken: c.withToken, duration: 10 * time.Second,
				trickle: time.Second, probeEvery: 100 * time.Millisecond, probeTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for name, s := range map[string]probeStats{"GET /health": r.Health, "authenticated GET": r.AuthGET} {
				l := s.LatencyMS
				t.Logf("%s: %d requests, %d errors; p50 %.1f ms, p99 %.1f ms, max %.1f ms", name, s.Requests, s.Errors, l.P50, l.P99, l.Max)
				// The first requests may wait while the first thousand
				// connections are answered: 2 s at most, on a busy machine.
				if s.Requests < 20 || s.Errors > 0 || l.P50 > 100 || l.P99 > 2000 {
					t.Errorf("%s under %d slow bodies: %d requests, %d errors (%s), p50 %.0f ms, p99 %.0f ms",
						name, connections, s.Requests, s.Errors, s.FirstError, l.P50, l.P99)
				}
			}
			withToken := int(connections * c.withToken)
			for name, s := range map[string]struct {
				s      slowConnStats
				opened int
				max    time.Duration
			}{
				"without a token": {r.WithoutToken, connections - withToken, 3 * time.Second},
				"with a token":    {r.WithToken, withToken, bodyTimeout + 2*time.Second},
			} {
				t.Logf("slow bodies %s: %d opened, %d closed by the server after p50 %.0f ms, max %.0f ms",
					name, s.s.Opened, s.s.Closed, s.s.LifetimeMS.P50, s.s.LifetimeMS.Max)
				if s.s.Opened != s.opened || s.s.Closed != s.s.Opened || s.s.LifetimeMS.Max > float64(s.max/time.Millisecond) {
					t.Errorf("slow bodies %s: %d opened, %d closed by the server, the last after %.0f ms; want all %d within %s",
						name, s.s.Opened, s.s.Closed, s.s.LifetimeMS.Max, s.opened, s.max)
				}
			}
		})
	}
}
