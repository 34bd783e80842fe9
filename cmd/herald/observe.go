package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/logs"
)

// logSettings choose the log lines' format and level, for every command.
type logSettings struct {
	format, level string
}

func (l *logSettings) flags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&l.format, "log-format", env("HERALD_LOG_FORMAT", ""),
		"format of the log lines on stderr: json or text; default text on a terminal, json otherwise (env HERALD_LOG_FORMAT)")
	cmd.PersistentFlags().StringVar(&l.level, "log-level", env("HERALD_LOG_LEVEL", "info"),
		"least level logged: debug (adds a line per API request and per delivered attempt), info, warn or error (env HERALD_LOG_LEVEL)")
}

// logger makes the logger the flags describe, and makes it slog's default
// for the code that logs without one.
func (l *logSettings) logger() (*slog.Logger, error) {
	level, err := logs.ParseLevel(l.level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	format := l.format
	if format == "" {
		format = logs.DefaultFormat(os.Stderr)
	}
	logger, err := logs.New(os.Stderr, format, level)
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	slog.SetDefault(logger)
	return logger, nil
}

// metricsSettings say where /metrics is served and who may scrape it.
type metricsSettings struct {
	addr, token string
}

// metricsOff is the --metrics-addr that serves no metrics.
const metricsOff = "off"

func (m *metricsSettings) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.addr, "metrics-addr", env("HERALD_METRICS_ADDR", ""),
		"where Prometheus metrics are served: empty for GET /metrics on --addr, host:port for a listener of their own "+
			"(then not on --addr), or off (env HERALD_METRICS_ADDR)")
	cmd.Flags().StringVar(&m.token, "metrics-token", env("HERALD_METRICS_TOKEN", ""),
		"if set, scrapes of /metrics must send it as 'Authorization: Bearer TOKEN' (env HERALD_METRICS_TOKEN)")
}

// check refuses an address that is not one, before anything starts.
func (m *metricsSettings) check() error {
	if m.addr == "" || m.addr == metricsOff {
		return nil
	}
	if _, port, err := net.SplitHostPort(m.addr); err != nil || port == "" {
		return fmt.Errorf("--metrics-addr: %q is not host:port (such as 127.0.0.1:9090), nor empty (on --addr) nor off", m.addr)
	}
	return nil
}

// apply sets up the API's metrics, and serves them on their own listener
// if asked; the returned function closes that listener.
func (m *metricsSettings) apply(api *heraldhttp.Server, apiAddr string, logger *slog.Logger) (func(), error) {
	api.MetricsToken = m.token
	switch m.addr {
	case metricsOff:
		api.Metrics = nil
		return func() {}, nil
	case "":
		if m.token == "" && !loopback(apiAddr) {
			logger.Warn("metrics are served to anyone who reaches the API at GET /metrics: set --metrics-token, or --metrics-addr to a private address",
				"addr", apiAddr)
		}
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	api.MetricsElsewhere = true
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", api.MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: heraldhttp.HeaderTimeout, WriteTimeout: time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving metrics", "addr", m.addr, "err", err)
		}
	}()
	logger.Info("metrics served", "addr", ln.Addr().String(), "path", "/metrics")
	return func() { srv.Close() }, nil
}

// loopback reports whether a listening address is reachable only from
// this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
