package http_test

import "testing"

func TestHealth(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		a.do("GET", "//health", nil).must(t, 200)
		a.do("GET", "/conversations", nil).must(t, 200)
	})
}
