package push

import "github.com/heraldhq/herald/metrics"

// metric names the outcome of the attempt n of at most max for the
// sends counter.
func (o outcome) metric(n, max int) string {
	switch {
	case o.sent:
		return metrics.Sent
	case o.invalidToken, !o.retry, n >= max:
		return metrics.Failed
	}
	return metrics.Retry
}
