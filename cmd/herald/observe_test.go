package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// serve refuses metrics and log flags that say nothing it can do, before
// it starts anything.
func TestObserveFlagsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-addr", "9090"}, "--metrics-addr: \"9090\" is not host:port"},
		{[]string{"--metrics-addr", "on"}, "--metrics-addr: \"on\" is not host:port"},
		{[]string{"--log-level", "verbose"}, "--log-level: \"verbose\" is not a log level"},
		{[]string{"--log-format", "yaml"}, "--log-format: \"yaml\" is not a log format"},
	} {
		args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, c.args...)
		out, err := exec.Command(heraldBinary, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("serve %v: %v, output %s; want an error saying %s", c.args, err, out, c.want)
		}
	}
}

// --metrics-addr serves the metrics on a listener of their own, and no
// longer on the API's; the logs are JSON lines when asked.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	p := startHerald(t, t.TempDir(), "--metrics-addr", metricsAddr, "--metrics-token", "scrape")
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := get("http://"+metricsAddr+"/metrics", "scrape"); status != 200 || !strings.Contains(body, "herald_store_commit_duration_seconds") {
		t.Errorf("metrics listener: %d %.200s", status, body)
	}
	if status, _ := get("http://"+metricsAddr+"/metrics", ""); status != 401 {
		t.Errorf("metrics listener without the token: %d, want 401", status)
	}
	if status, _ := get(p.URL+"/metrics", "scrape"); status != 404 {
		t.Errorf("API's /metrics with a metrics listener: %d, want 404", status)
	}

	q := startHerald(t, t.TempDir(), "--log-format", "json", "--metrics-addr", "off")
	if status, _ := get(q.URL+"/metrics", ""); status != 404 {
		t.Errorf("API's /metrics with --metrics-addr off: %d, want 404", status)
	}
	for _, line := range strings.Split(strings.TrimSpace(q.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil {
			t.Errorf("log line %q is not a JSON record: %v", line, err)
		}
	}
}
