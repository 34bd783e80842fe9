package delivery

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// The queue runs at most its limit at once and its per-app bound of one
// app, the apps taking turns: an app that queued first and most does not
// hold back the others.
func TestProbeQueueBoundsAndTurns(t *testing.T) {
	q := (&Engine{MaxProbes: 4, MaxProbesPerApp: 2}).probeQueue()
	var mu sync.Mutex
	running, maxRunning := 0, 0
	byApp, maxByApp := map[string]int{}, 0
	var order []string
	release := make(chan struct{})
	var done sync.WaitGroup
	submit := func(app string, n int) {
		for i := range n {
			done.Add(1)
			q.submit(app, fmt.Sprint(app, i), func() {
				defer done.Done()
				mu.Lock()
				running++
				byApp[app]++
				maxRunning, maxByApp = max(maxRunning, running), max(maxByApp, byApp[app])
				order = append(order, app)
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				byApp[app]--
				mu.Unlock()
			}, done.Done)
		}
	}
	submit("greedy", 20)
	submit("a", 3)
	submit("b", 3)
	// Let them through one at a time.
	go func() {
		for range 26 {
			time.Sleep(time.Millisecond)
			release <- struct{}{}
		}
	}()
	done.Wait()
	if maxRunning > 4 || maxByApp > 2 {
		t.Fatalf("%d probes at once, %d of one app", maxRunning, maxByApp)
	}
	// a and b are done before greedy's last ten.
	last := order[len(order)-10:]
	for _, app := range last {
		if app != "greedy" {
			t.Fatalf("order %v: a and b waited behind greedy", order)
		}
	}
}

// A probe queued under the key of one still waiting replaces it; stopping
// drops the waiting ones, and refuses new ones.
func TestProbeQueueReplacesAndDrops(t *testing.T) {
	q := (&Engine{MaxProbes: 1, MaxProbesPerApp: 1}).probeQueue()
	release := make(chan struct{})
	var ran []string
	var mu sync.Mutex
	probe := func(name string) func() {
		return func() {
			mu.Lock()
			ran = append(ran, name)
			mu.Unlock()
			<-release
		}
	}
	dropped := map[string]bool{}
	drop := func(name string) func() {
		return func() {
			mu.Lock()
			dropped[name] = true
			mu.Unlock()
		}
	}
	q.submit("app", "busy", probe("busy"), drop("busy"))
	q.submit("app", "verify:w", probe("old"), drop("old"))
	q.submit("app", "verify:w", probe("new"), drop("new"))
	q.submit("app", "health:w", probe("health"), drop("health"))
	close(release)
	q.wait()
	mu.Lock()
	if strings.Join(ran, ",") != "busy,new,health" || !dropped["old"] || len(dropped) != 1 {
		t.Fatalf("ran %v, dropped %v", ran, dropped)
	}
	mu.Unlock()

	q = (&Engine{MaxProbes: 1, MaxProbesPerApp: 1}).probeQueue()
	ran, dropped = nil, map[string]bool{}
	block := make(chan struct{})
	q.submit("app", "running", func() { <-block }, drop("running"))
	q.submit("app", "waiting", probe("waiting"), drop("waiting"))
	q.stop()
	q.submit("app", "late", probe("late"), drop("late"))
	close(block)
	q.wait()
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 0 || !dropped["waiting"] || !dropped["late"] || dropped["running"] {
		t.Fatalf("after stop: ran %v, dropped %v", ran, dropped)
	}
}

func TestProbeTimeout(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0: DefaultTimeout, time.Second: time.Second, 60 * time.Second: MaxProbeTimeout,
	} {
		if got := probeTimeout(&herald.Webhook{Timeout: in}); got != want {
			t.Errorf("probeTimeout(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestStoredHeaders(t *testing.T) {
	small := http.Header{"Content-Type": {"text/plain"}, "Date": {"today"}}
	if got := storedHeaders(small); len(got) != 2 || got.Get("Date") != "today" {
		t.Fatalf("small headers changed: %v", got)
	}

	many := http.Header{"Content-Type": {"application/json"}, "Retry-After": {"7"}}
	for i := range 100 {
		many.Set(fmt.Sprintf("X-%03d", i), "v")
	}
	got := storedHeaders(many)
	fields := 0
	for _, vs := range got {
		fields += len(vs)
	}
	if fields != maxStoredHeaderFields || got.Get("Content-Type") != "application/json" || got.Get("Retry-After") != "7" ||
		got.Get("X-000") != "v" || got.Get("X-099") != "" {
		t.Fatalf("%d fields stored: %v", fields, got)
	}

	long := http.Header{"Server": {"s"}, "X-Long": {strings.Repeat("é", 3000)}, "X-Next": {"lost"}}
	got = storedHeaders(long)
	size := 0
	for name, vs := range got {
		for _, v := range vs {
			size += len(name) + len(v)
			if !strings.HasPrefix(strings.Repeat("é", 3000), v) && v != "s" {
				t.Fatalf("%s cut inside a character", name)
			}
		}
	}
	if size > maxStoredHeaderBytes || size < maxStoredHeaderBytes-1 || got.Get("Server") != "s" || got.Get("X-Next") != "" {
		t.Fatalf("%d bytes stored: %d fields", size, len(got))
	}
}
