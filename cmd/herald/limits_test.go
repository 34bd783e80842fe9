package main

import "testing"

func TestDefaultMaxConnections(t *testing.T) {
	for _, c := range []struct {
		fdLimit uint64
		workers int
		want    int
	}{
		{1024, 256, 640},          // the rest after the workers and the reserve
		{20000, 256, 10_000},      // capped
		{512, 256, 128},           // at least a quarter of the limit
		{1 << 62, 256, 10_000},    // unlimited
		{4, 256, 1},               // never none
		{65536, 4096, 10_000},     // many workers, more descriptors
		{4096, 4096 - 200, 1024},  // a quarter again
		{8192, 1024, 8192 - 1152}, // under the cap
	} {
		if got := defaultMaxConnections(c.fdLimit, c.workers); got != c.want {
			t.Errorf("fd limit %d, %d workers: %d connections, want %d", c.fdLimit, c.workers, got, c.want)
		}
	}
}
