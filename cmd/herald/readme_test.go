package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The README's walkthrough runs top to bottom as written: every ```sh
// block, in order, in one bash session, in a fresh directory where
// `herald serve` runs as the README's first command starts it, with the
// README's addresses (127.0.0.1:8080 for Herald, 127.0.0.1:9000 for the
// reader's webhook receiver) replaced by the test's free ports. A block
// whose preceding line is `<!-- not run: why -->` is skipped; the reason
// is the README's, for its readers too.
//
// Each curl must answer the status the README gives for it (a comment on
// its last line or the comment line right after it starting with the
// status, "# 201 {…}"), or 2xx when it gives none; any other command
// must succeed.
func TestREADMEWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README walkthrough needs %s: %v", tool, err)
			}
			t.Skipf("the README walkthrough needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme))
	if len(blocks) < 10 {
		t.Fatalf("found %d runnable sh blocks in the README", len(blocks))
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(heraldBinary, filepath.Join(bin, "herald")); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	env := walkthroughEnv(bin)

	// The README's first command, from the reader's directory.
	serve := exec.Command(heraldBinary, "serve", "--addr", "127.0.0.1:0", "--allow-targets", loopbackTargets)
	serve.Dir, serve.Env = work, env
	server := startProcess(t, serve)
	receiver := newWalkthroughReceiver(t)

	script := walkthroughPrelude + strings.Join(blocks, "\n")
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", server.URL)
	script = strings.ReplaceAll(script, "http://127.0.0.1:9000", receiver.URL)
	if err := os.WriteFile(filepath.Join(dir, "walkthrough.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(dir, "walkthrough.sh"))
	cmd.Dir, cmd.Env = work, env
	cmd.WaitDelay = time.Second
	// In a process group of its own, so that whatever an example leaves
	// running in the background goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err := runBounded(cmd, 5*time.Minute)
	if err != nil {
		t.Fatalf("the README walkthrough failed: %v\n%s\nserver log (end):\n%s", err, tail(out, 60), tail(server.logs.String(), 30))
	}
	if n := receiver.deliveries.Load(); n == 0 {
		t.Errorf("the walkthrough's receiver got no delivery")
	}
	t.Logf("%d blocks, %d requests checked, %d deliveries received", len(blocks), strings.Count(out, "\n→ "), receiver.deliveries.Load())
}

// walkthroughEnv is a newcomer's environment: theirs, with herald on the
// PATH, and without the key and database the other tests set.
func walkthroughEnv(bin string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HERALD_") {
			continue
		}
		if strings.HasPrefix(kv, "PATH=") {
			kv = "PATH=" + bin + string(os.PathListSeparator) + kv[len("PATH="):]
		}
		env = append(env, kv)
	}
	return env
}

// walkthroughPrelude stops at the first failure, and wraps curl so that
// each request's status is checked against the README's (WANT, set by
// shellBlocks before each command).
const walkthroughPrelude = `set -euo pipefail
export WANT=
curl() {
	local hdr code
	hdr=$(mktemp)
	command curl -D "$hdr" "$@" || { echo "curl $* failed" >&2; return 1; }
	code=$(awk 'toupper($1) ~ /^HTTP\// { c = $2 } END { print c }' "$hdr")
	rm -f "$hdr"
	echo "→ $code curl $*" >&2
	if [[ -n $WANT && $code != "$WANT" ]] || [[ -z $WANT && $code != 2?? ]]; then
		echo "README line $LINE: status $code, want ${WANT:-2xx}" >&2
		return 1
	fi
}
`

var (
	statusComment = regexp.MustCompile(`#\s*([1-5][0-9][0-9])\b`)
	notRun        = regexp.MustCompile(`^<!--\s*not run\b`)
)

// shellBlocks returns the README's runnable sh blocks, each command
// preceded by the status it must answer (WANT) and its README line (LINE).
func shellBlocks(readme string) []string {
	lines := strings.Split(readme, "\n")
	var blocks []string
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		skip := false
		for j := i - 1; j >= 0; j-- {
			if s := strings.TrimSpace(lines[j]); s != "" {
				skip = notRun.MatchString(s)
				break
			}
		}
		if !skip {
			blocks = append(blocks, annotate(lines[start:end], start+1))
		}
		i = end
	}
	return blocks
}

// annotate sets WANT and LINE before each command of a block whose first
// line is README line first.
func annotate(block []string, first int) string {
	var b strings.Builder
	for i := 0; i < len(block); {
		line := block[i]
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			b.WriteString(line + "\n")
			i++
			continue
		}
		// A command runs on while a line ends with a backslash or inside
		// quotes; its last line's comment may give its status.
		var quote byte
		end, last := i, ""
		for ; end < len(block); end++ {
			var c int
			c, quote = scanShell(block[end], quote)
			last = ""
			if c >= 0 {
				last = block[end][c:]
			}
			code := block[end]
			if c >= 0 {
				code = code[:c]
			}
			if quote == 0 && !strings.HasSuffix(strings.TrimRight(code, " "), `\`) {
				break
			}
		}
		if end == len(block) {
			end--
		}
		want := ""
		if m := statusComment.FindStringSubmatch(last); m != nil {
			want = m[1]
		} else if end+1 < len(block) {
			next := strings.TrimSpace(block[end+1])
			if m := statusComment.FindStringSubmatch(next); m != nil && strings.HasPrefix(next, m[0]) {
				want = m[1]
			}
		}
		fmt.Fprintf(&b, "WANT=%s LINE=%d\n", want, first+i)
		for _, l := range block[i : end+1] {
			b.WriteString(l + "\n")
		}
		i = end + 1
	}
	return b.String()
}

// scanShell reads one line of shell that starts inside quote (0 for none)
// and returns where its comment starts (-1 for none) and the quote open at
// its end.
func scanShell(line string, quote byte) (int, byte) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '\\':
			i++
		case quote == '"':
			if c == '"' {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i, 0
		}
	}
	return -1, quote
}

type walkthroughReceiver struct {
	*httptest.Server
	deliveries atomic.Int64
}

// newWalkthroughReceiver stands for the reader's webhook receiver: it
// answers Herald's verification challenge and takes every delivery.
func newWalkthroughReceiver(t *testing.T) *walkthroughReceiver {
	r := &walkthroughReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			io.WriteString(w, req.URL.Query().Get("verification_challenge"))
			return
		}
		io.Copy(io.Discard, req.Body)
		r.deliveries.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// runBounded runs cmd, killing its process group after limit, and returns its combined
// output.
func runBounded(cmd *exec.Cmd, limit time.Duration) (string, error) {
	var out strings.Builder
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return "", err
	}
	copied := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
		close(copied)
	}()
	timer := time.AfterFunc(limit, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	timer.Stop()
	pw.Close()
	<-copied
	return out.String(), err
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
