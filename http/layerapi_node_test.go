package http_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// layerAPIModulesVar names the node_modules directory holding Layer's Node
// client, npm layer-api pinned by testdata/layer-api/package.json;
// scripts/test installs it there with npm ci and sets it.
const layerAPIModulesVar = "HERALD_TEST_LAYER_API"

// layerAPIModules returns where layer-api is installed and the node to run
// it with. Without them the test skips, except under CI, where it fails: a
// missing client there is a broken setup, not a reason to test less.
func layerAPIModules(t *testing.T) (modules, node string) {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("Layer's Node client cannot run: %s (scripts/test installs it)", why)
		}
		t.Skipf("skipping Layer's Node client: %s (scripts/test installs it)", why)
	}
	modules = os.Getenv(layerAPIModulesVar)
	if modules == "" {
		// Left by an earlier scripts/test or npm ci in testdata/layer-api.
		modules = filepath.Join("testdata", "layer-api", "node_modules")
		if _, err := os.Stat(filepath.Join(modules, "layer-api", "package.json")); err != nil {
			unavailable(layerAPIModulesVar + " is not set and testdata/layer-api has no node_modules")
		}
	}
	abs, err := filepath.Abs(modules)
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Version string }
	b, err := os.ReadFile(filepath.Join(abs, "layer-api", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil || pkg.Version != "2.3.3" {
		unavailable("no layer-api 2.3.3 in " + abs)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	return abs, node
}

// clientCall is one line of testdata/layer-api/run.js's output.
type clientCall struct {
	Version string `json:"version"`
	Style   string `json:"style"`
	Call    string `json:"call"`
	OK      *bool  `json:"ok"`
	Error   string `json:"error"`
	Summary map[string]struct {
		Conversations []string `json:"conversations"`
		Messages      []string `json:"messages"`
		Announcements []string `json:"announcements"`
		Identities    []string `json:"identities"`
		Deleted       struct {
			Conversation string `json:"conversation"`
			Identity     string `json:"identity"`
		} `json:"deleted"`
	} `json:"summary"`
}

// TestLayerAPINodeClient drives Herald with Layer's own Node client, loaded
// unmodified and pointed at Herald through its agent option, calling every
// method of every resource in each API version, then checks in Herald that
// what the client did happened.
func TestLayerAPINodeClient(t *testing.T) {
	t.Parallel()
	modules, node := layerAPIModules(t)
	forEachEngine(t, func(t *testing.T, a *api) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "layer-api", "run.js"))
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules,
			"HERALD_URL="+a.URL, "HERALD_APP_ID="+a.AppID, "HERALD_TOKEN="+a.Token)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, runErr := cmd.Output()

		var failed []string
		var last clientCall
		calls := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c clientCall
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("the client printed %q: %v\nstderr: %s", sc.Text(), err, &stderr)
			}
			if c.OK != nil {
				calls++
				if !*c.OK {
					failed = append(failed, c.Version+" "+c.Style+" "+c.Call+": "+c.Error)
				}
			}
			last = c
		}
		if len(failed) > 0 {
			t.Fatalf("%d of %d calls of Layer's Node client failed:\n%s\nstderr: %s", len(failed), calls,
				strings.Join(failed, "\n"), &stderr)
		}
		if runErr != nil || last.Summary == nil {
			t.Fatalf("the client ended with %v after %d calls, without a summary; stdout:\n%s\nstderr: %s",
				runErr, calls, out, &stderr)
		}

		// What the client did is in Herald: the objects, and one event for
		// each change, none for a deduplicated retry.
		for _, v := range []string{"1.0", "1.1", "2.0", "3.0"} {
			s, ok := last.Summary[v]
			if !ok {
				t.Fatalf("the client's summary has no version %s: %v", v, last.Summary)
			}
			for _, c := range s.Conversations {
				status := 200
				if c == s.Deleted.Conversation {
					status = 410
				}
				a.do("GET", "/conversations/"+localID(c), nil).must(t, status)
			}
			for _, m := range s.Messages {
				a.do("GET", "/messages/"+localID(m), nil).must(t, 200)
			}
			for _, an := range s.Announcements {
				a.do("GET", "/announcements/"+localID(an), nil).must(t, 200)
			}
			for _, u := range s.Identities {
				status := 200
				if u == s.Deleted.Identity {
					status = 404
				}
				a.do("GET", "/users/"+u+"/identity", nil).must(t, status)
			}
			if len(s.Conversations) != 2 || len(s.Messages) != 4 || len(s.Announcements) != 2 || len(s.Identities) != 3 {
				t.Fatalf("version %s: the client made %v", v, s)
			}
		}
		counts := map[string]int{}
		for _, e := range a.events() {
			counts[e["type"].(string)]++
		}
		versions := len(last.Summary)
		want := map[string]int{
			"identity.created":     3,
			"identity.updated":     3, // edit, edit of metadata, replace
			"identity.deleted":     1,
			"conversation.created": 2,
			// One per PATCH, however many operations it holds: edit,
			// addParticipants, removeParticipants, replaceParticipants.
			"conversation.updated.participants": 4,
			// setMetadataProperties and deleteMetadataProperties; the
			// refused one changes nothing.
			"conversation.updated.metadata": 2,
			"conversation.deleted":          1,
			"message.sent":                  4,
			"announcement.sent":             2,
			"user.blocked":                  1,
			"user.unblocked":                1,
		}
		for typ, n := range counts {
			if want[typ]*versions != n {
				t.Errorf("%d %s events, want %d; all: %v", n, typ, want[typ]*versions, counts)
			}
		}
		for typ := range want {
			if counts[typ] == 0 {
				t.Errorf("no %s event; all: %v", typ, counts)
			}
		}
	})
}
