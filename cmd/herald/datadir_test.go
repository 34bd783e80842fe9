package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// readOnly makes dir read-only for Herald: a read-only bind mount when the
// tests run as root (whom permissions do not stop), its mode otherwise.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		return
	}
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot make a read-only directory as root without mounts: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v %s", err, out)
	}
}

// Started on a data directory it cannot write, Herald says so, naming the
// directory and the cause (probe 6.7: it said "unable to open database
// file (14)").
func TestReadOnlyDataDir(t *testing.T) {
	dataDir := t.TempDir()
	runHerald(t, "--data", dataDir, "migrate")
	readOnly(t, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, heraldBinary, "serve", "--data", dataDir, "--addr", "127.0.0.1:0").CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve on a read-only data directory: %v\n%s", err, out)
	}
	msg := string(out)
	if !strings.Contains(msg, "the data directory "+dataDir+" cannot be written") ||
		!(strings.Contains(msg, "read-only file system") || strings.Contains(msg, "permission denied")) {
		t.Fatalf("serve on a read-only data directory said:\n%s", out)
	}
}
