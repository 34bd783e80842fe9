//go:build race

package http_test

// The race detector makes the embedded store ten to twenty times slower:
// tests that need bulk keep to a size it runs in reasonable time.
func init() { largeBacklog = 5_000 }
