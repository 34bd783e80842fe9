package main

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The quota flags and their environment variables reach the server; bad
// values stop it with the flag named.
func TestQuotaFlags(t *testing.T) {
	dataDir := t.TempDir()
	p := startHerald(t, dataDir, "--max-webhooks", "1", "--min-retry-delay", "2s", "--min-webhook-timeout", "3s")
	creds := readCredentials(t, dataDir)
	hook := func(schedule []float64, timeout float64) map[string]any {
		return map[string]any{"target_url": "http://127.0.0.1:1/hook", "events": []string{"message.sent"}, "secret": "s",
			"retry_schedule": schedule, "timeout_seconds": timeout}
	}
	for _, c := range []struct {
		what   string
		body   map[string]any
		status int
	}{
		{"a retry delay under --min-retry-delay", hook([]float64{1}, 3), 422},
		{"a timeout under --min-webhook-timeout", hook([]float64{2}, 2), 422},
		{"the floors", hook([]float64{2}, 3), 201},
		{"a webhook past --max-webhooks", hook([]float64{2}, 3), 422},
	} {
		if status, err := call(p.URL, creds, "POST", "/webhooks", c.body, nil); err != nil || status != c.status {
			t.Fatalf("%s: %d %v, want %d", c.what, status, err, c.status)
		}
	}

	// HERALD_MAX_CONTENT_BYTES, with a unit.
	dataDir = t.TempDir()
	os.Setenv("HERALD_MAX_CONTENT_BYTES", "1KiB")
	p = startHerald(t, dataDir)
	os.Unsetenv("HERALD_MAX_CONTENT_BYTES")
	creds = readCredentials(t, dataDir)
	var conv struct{ ID string }
	if status, err := call(p.URL, creds, "POST", "/conversations", map[string]any{"participants": []string{"a", "b"}}, &conv); err != nil || status != 201 {
		t.Fatalf("creating a conversation: %d %v", status, err)
	}
	declare := func(size string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", p.URL+"/apps/"+creds.AppID+"/conversations/"+conv.ID[strings.LastIndex(conv.ID, "/")+1:]+"/content", nil)
		req.Header.Set("Authorization", "Bearer "+creds.Token)
		req.Header.Set("Upload-Content-Type", "image/png")
		req.Header.Set("Upload-Content-Length", size)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if a, b := declare("1024"), declare("1"); a != 201 || b != 422 {
		t.Fatalf("declaring 1024 then 1 byte under 1KiB: %d, %d; want 201, 422", a, b)
	}

	for _, flags := range [][]string{{"--max-content-bytes", "lots"}, {"--max-webhooks", "-1"}, {"--min-retry-delay", "-1s"}} {
		out, err := exec.Command(heraldBinary, append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, flags...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), flags[0]) {
			t.Fatalf("serve %s: %v, %s; want it refused, naming the flag", strings.Join(flags, " "), err, out)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "512B": 512, "64KiB": 64 << 10, "10GiB": 10 << 30,
		" 2 TiB ": 2 << 40, "3MiB": 3 << 20} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "1GB", "-1", "1.5GiB", "9999999TiB", "GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
}
