package main

import (
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/netutil"

	heraldhttp "github.com/heraldhq/herald/http"
)

// serverLimits bound what the API's clients may hold of the server:
// connections, the time a request or response may take, requests per
// second.
type serverLimits struct {
	bodyTimeout, writeTimeout, idleTimeout time.Duration
	// maxConnections is the bound on open API connections; 0 derives it
	// from the file-descriptor limit.
	maxConnections int
	// rateLimit is each token's requests per second, and tokenConcurrency
	// its requests in progress at once; 0 means no limit.
	rateLimit        float64
	tokenConcurrency int
}

func (l *serverLimits) flags(cmd *cobra.Command) {
	durationFlag(cmd, &l.bodyTimeout, "body-timeout", "HERALD_BODY_TIMEOUT", heraldhttp.DefaultBodyTimeout,
		"how long a request's body may take to arrive; uploads get more, by their size (64 KiB/s); 0: no bound")
	durationFlag(cmd, &l.writeTimeout, "write-timeout", "HERALD_WRITE_TIMEOUT", heraldhttp.DefaultWriteTimeout,
		"how long a response may take to leave; downloads get more, by their size (64 KiB/s); 0: no bound")
	durationFlag(cmd, &l.idleTimeout, "idle-timeout", "HERALD_IDLE_TIMEOUT", heraldhttp.DefaultIdleTimeout,
		"how long a kept-alive connection may wait for its next request")
	intFlag(cmd, &l.maxConnections, "max-connections", "HERALD_MAX_CONNECTIONS", 0,
		"open API connections at most; more wait to be accepted; 0: the file-descriptor limit less room for the database and the delivery workers")
	rate := envFloat(cmd, "rate-limit", "HERALD_RATE_LIMIT", heraldhttp.DefaultRateLimit)
	cmd.Flags().Float64Var(&l.rateLimit, "rate-limit", rate,
		"requests per second each token may send (with a burst of as many); more get 429; 0: no limit (env HERALD_RATE_LIMIT)")
	intFlag(cmd, &l.tokenConcurrency, "token-concurrency", "HERALD_TOKEN_CONCURRENCY", heraldhttp.DefaultTokenConcurrency,
		"requests each token may have in progress at once; more get 429; 0: no limit")
}

// connectionReserve is what the server keeps of its file descriptors for
// other than API connections, besides one per delivery worker: the
// database's connections and files (SQLite's three files per connection,
// or PostgreSQL's pool of 32), content being uploaded or downloaded,
// webhook verifications and health checks, the log.
const connectionReserve = 128

// maxDefaultConnections caps the derived bound where the file-descriptor
// limit is huge: an open connection costs some 20 KiB of memory, and
// 10,000 of them already ask for some 200 MiB, well into the server's
// default memory limit.
const maxDefaultConnections = 10_000

// defaultMaxConnections derives the bound on API connections from the
// process's file-descriptor limit (Go raises the soft limit to the hard
// one at start): what is left once the delivery workers and the reserve
// have theirs, so that a flood of connections cannot take the descriptors
// the database and the deliveries need. It keeps at least a quarter of the
// limit for connections, whatever the workers.
func defaultMaxConnections(fdLimit uint64, workers int) int {
	limit := int(min(fdLimit, 1<<30))
	n := max(limit-workers-connectionReserve, limit/4)
	return max(min(n, maxDefaultConnections), 1)
}

// listener bounds ln to the limits' connections.
func (l serverLimits) listener(ln net.Listener, workers int) (net.Listener, int) {
	n := l.maxConnections
	if n <= 0 {
		n = defaultMaxConnections(fileLimit(), workers)
	}
	return netutil.LimitListener(ln, n), n
}

// server is the API's http.Server with the limits' timeouts.
func (l serverLimits) server(api *heraldhttp.Server) *http.Server {
	api.BodyTimeout, api.RateLimit, api.TokenConcurrency = l.bodyTimeout, l.rateLimit, l.tokenConcurrency
	return &http.Server{Handler: api.Handler(), ReadHeaderTimeout: heraldhttp.HeaderTimeout,
		WriteTimeout: l.writeTimeout, IdleTimeout: l.idleTimeout}
}
