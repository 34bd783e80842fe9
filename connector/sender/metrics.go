package sender

import (
	"github.com/heraldhq/herald/connector"
	"github.com/heraldhq/herald/metrics"
)

// sendMetric names the outcome of the attempt n of at most max for the
// sends counter.
func sendMetric(err error, n, max int) string {
	if err == nil {
		return metrics.Sent
	}
	if _, refused := connector.IsRefused(err); refused || n >= max {
		return metrics.Failed
	}
	return metrics.Retry
}
