// Command herald runs the Herald messaging server and its administration
// commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles on HERALD_DEBUG_ADDR only
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/blob"
	"github.com/heraldhq/herald/callbell"
	"github.com/heraldhq/herald/callbellapi"
	"github.com/heraldhq/herald/clientapi"
	connectorsender "github.com/heraldhq/herald/connector/sender"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/egress"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/layer"
	"github.com/heraldhq/herald/layerapi"
	"github.com/heraldhq/herald/messaging"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/push"
	"github.com/heraldhq/herald/sqlite"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// config is what every command needs to reach Herald's data.
type config struct {
	data     string
	db       string
	syncFull bool
	// dbRequests is postgres.Options.MaxRequests.
	dbRequests int
	// secretKey and secretKeyFile give the keys that seal the secrets kept
	// in the database (see secretkey.go).
	secretKey, secretKeyFile string
	logger                   *slog.Logger
	logs                     logSettings
}

func (c *config) flags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&c.data, "data", env("HERALD_DATA", "./herald-data"),
		"directory of Herald's database and uploaded content (env HERALD_DATA)")
	cmd.PersistentFlags().StringVar(&c.db, "db", env("HERALD_DB", ""),
		"PostgreSQL database shared by every node, postgres://user:password@host:port/dbname; default: the embedded SQLite file DATA/herald.db (env HERALD_DB)")
	cmd.PersistentFlags().BoolVar(&c.syncFull, "sync-full", envBool(cmd, "sync-full", "HERALD_SYNC_FULL"),
		"fsync every commit: survives power loss, not only crashes, at a cost in throughput (env HERALD_SYNC_FULL=true)")
	requests := postgres.DefaultMaxRequests
	if v := env("HERALD_DB_REQUESTS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			badEnv(cmd, "db-requests", "HERALD_DB_REQUESTS", v, "a number of transactions (1 or more)")
		} else {
			requests = n
		}
	}
	cmd.PersistentFlags().IntVar(&c.dbRequests, "db-requests", requests,
		"with PostgreSQL, how many transactions of API requests a node runs at once; the delivery engine's work does not count (env HERALD_DB_REQUESTS)")
	c.secretKeyFlags(cmd)
}

// open opens the store and the service over the data directory; create
// says whether the database may be created (by serve, migrate and apps
// create), else it must exist.
func (c *config) open(ctx context.Context, create bool) (*messaging.Service, func() error, error) {
	if !create {
		if err := c.checkExists(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data directory: %w", err)
	}
	database := ""
	if c.db == "" {
		database = filepath.Join(c.data, "herald.db")
	}
	if err := checkWritable(c.data, database); err != nil {
		return nil, nil, err
	}
	store, err := c.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc := &messaging.Service{Store: store, Blobs: blob.Dir{Root: filepath.Join(c.data, "content")}}
	return svc, store.Close, nil
}

// openStore opens the database, migrating its schema and sealing its
// secrets.
func (c *config) openStore(ctx context.Context) (herald.Store, error) {
	logger := c.logger
	if logger == nil {
		logger = slog.Default()
	}
	switch {
	case c.db == "":
		keys, created, err := c.keyring(logger)
		if err != nil {
			return nil, err
		}
		s, err := sqlite.Open(ctx, filepath.Join(c.data, "herald.db"), sqlite.Options{SyncFull: c.syncFull, Keyring: keys})
		if err != nil {
			if created != "" {
				// Nothing was sealed with it.
				os.Remove(created)
			}
			return nil, keyError(err, keys)
		}
		logSealed(logger, s.Sealed(), keys)
		return s, nil
	case isPostgresURL(c.db):
		if c.dbRequests < 1 {
			return nil, fmt.Errorf("--db-requests: %d is not a number of transactions (1 or more)", c.dbRequests)
		}
		keys, _, err := c.keyring(logger)
		if err != nil {
			return nil, err
		}
		s, err := postgres.Open(ctx, c.db, postgres.Options{MaxRequests: c.dbRequests, Keyring: keys})
		if err != nil {
			return nil, keyError(err, keys)
		}
		logSealed(logger, s.Sealed(), keys)
		return s, nil
	}
	return nil, fmt.Errorf("--db: %q is not a postgres:// URL; leave it empty for the embedded SQLite database", c.db)
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func migrateCommand(cfg *config) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (serve also does it on start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.db == "" {
				if err := os.MkdirAll(cfg.data, 0o700); err != nil {
					return fmt.Errorf("creating data directory: %w", err)
				}
			}
			before, err := cfg.schemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			store, err := cfg.openStore(cmd.Context())
			if err != nil {
				return err
			}
			if err := store.Close(); err != nil {
				return err
			}
			after, err := cfg.schemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			if before == after {
				fmt.Fprintf(cmd.OutOrStdout(), "The database schema was already up to date, at version %d.\n", after)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Migrated the database schema from version %d to %d.\n", before, after)
			}
			return nil
		},
	}
}

func rootCommand() *cobra.Command {
	cfg := &config{}
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Herald: a self-hosted messaging backend whose events reach other systems as webhooks",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	cfg.flags(root)
	cfg.logs.flags(root)
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) (err error) {
		// Every environment value a command reads parses, or it fails
		// naming it.
		if err := checkEnv(cmd); err != nil {
			return err
		}
		cfg.logger, err = cfg.logs.logger()
		return err
	}
	root.AddCommand(serveCommand(cfg), migrateCommand(cfg), benchCommand(cfg), versionCommand())
	root.AddCommand(adminCommands(cfg)...)
	root.AddCommand(keysCommand(cfg),
		secretKeyCommand(), pushCommand(cfg), connectorCommand(cfg))
	root.AddCommand(listenCommand(cfg))
	return root
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Herald's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "herald", herald.Version)
		},
	}
}

// withService runs an administration command against the data directory and
// prints its result as JSON.
func (c *config) withService(cmd *cobra.Command, f func(*messaging.Service) (any, error)) error {
	svc, closeStore, err := c.open(cmd.Context(), false)
	if err != nil {
		return err
	}
	defer closeStore()
	v, err := f(svc)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func serveCommand(cfg *config) *cobra.Command {
	var addr, baseURL string
	var contentTTL time.Duration
	var health healthSettings
	var limits serverLimits
	var metrics metricsSettings
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cmd, cfg, addr, baseURL, contentTTL, health, limits, metrics)
		},
	}
	ttl := envDuration(cmd, "content-url-ttl", "HERALD_CONTENT_URL_TTL", time.Hour)
	cmd.Flags().StringVar(&addr, "addr", env("HERALD_ADDR", "127.0.0.1:8080"), "address to listen on (env HERALD_ADDR)")
	cmd.Flags().StringVar(&baseURL, "base-url", env("HERALD_BASE_URL", ""),
		"public URL of the API, used in the url fields of objects; default http://ADDR (env HERALD_BASE_URL)")
	cmd.Flags().DurationVar(&contentTTL, "content-url-ttl", ttl, "lifetime of rich-content download URLs (env HERALD_CONTENT_URL_TTL)")
	durationFlag(cmd, &health.interval, "health-interval", "HERALD_HEALTH_INTERVAL", delivery.DefaultHealthInterval,
		"how often the receivers of Callbell-format webhooks are checked")
	durationFlag(cmd, &health.warnAfter, "health-warn-after", "HERALD_HEALTH_WARN_AFTER", delivery.DefaultHealthWarnAfter,
		"how long a receiver may fail its checks before a warning is logged and shown on its webhook")
	durationFlag(cmd, &health.disableAfter, "health-disable-after", "HERALD_HEALTH_DISABLE_AFTER", delivery.DefaultHealthDisableAfter,
		"how long a receiver may fail its checks before its webhook is disabled")
	durationFlag(cmd, &health.retention, "retention", "HERALD_RETENTION", delivery.DefaultRetention,
		"how long delivered deliveries, their attempts and events are kept; 0 keeps them forever")
	durationFlag(cmd, &health.nodeTimeout, "node-timeout", "HERALD_NODE_TIMEOUT", delivery.DefaultNodeTimeout,
		"with several nodes on one database, how long a node may stay silent before the others take over its deliveries")
	intFlag(cmd, &health.workers, "workers", "HERALD_WORKERS", delivery.DefaultWorkers,
		"concurrent delivery attempts, across all receivers")
	intFlag(cmd, &health.appWorkers, "app-workers", "HERALD_APP_WORKERS", 0,
		"once half of --workers are busy, the most delivery attempts one app may have in flight beside other apps, per node; 0: a quarter of --workers")
	intFlag(cmd, &health.webhookWorkers, "webhook-workers", "HERALD_WEBHOOK_WORKERS", 0,
		"once half of --workers are busy, the most delivery attempts one webhook may have in flight beside other webhooks, per node (alone, it may have up to three quarters of --workers); 0: half of --app-workers")
	durationFlag(cmd, &health.maxAttemptTimeout, "max-attempt-timeout", "HERALD_MAX_ATTEMPT_TIMEOUT", delivery.DefaultMaxAttemptTimeout,
		"the longest timeout_seconds a webhook may set; it bounds every delivery attempt")
	cmd.Flags().StringVar(&health.allowTargets, "allow-targets", env("HERALD_ALLOW_TARGETS", ""),
		"address ranges that webhooks may reach although they are internal (loopback, private, link-local...), "+
			"comma-separated CIDRs such as 127.0.0.0/8,::1/128 for local development (env HERALD_ALLOW_TARGETS)")
	cmd.Flags().StringVar(&health.apnsURL, "apns-url", env("HERALD_APNS_URL", ""),
		"base URL of APNs, for every app whatever its environment; default Apple's production or development host (env HERALD_APNS_URL)")
	cmd.Flags().StringVar(&health.fcmURL, "fcm-url", env("HERALD_FCM_URL", push.DefaultFCMURL), "base URL of FCM's HTTP v1 API (env HERALD_FCM_URL)")
	intFlag(cmd, &health.pushWorkers, "push-workers", "HERALD_PUSH_WORKERS", push.DefaultWorkers,
		"concurrent push notification attempts per node; one app takes at most a quarter of them")
	intFlag(cmd, &health.connectorWorkers, "connector-workers", "HERALD_CONNECTOR_WORKERS", connectorsender.DefaultWorkers,
		"concurrent sends through WhatsApp's and Telegram's APIs per node; one app takes at most a quarter of them")
	limits.flags(cmd)
	health.quotas.flags(cmd)
	metrics.flags(cmd)
	return cmd
}

// healthSettings are the durations of the receivers' health checks, and
// the retention of delivered deliveries and events.
type healthSettings struct {
	interval, warnAfter, disableAfter, retention, nodeTimeout time.Duration
	// workers is the number of concurrent delivery attempts; appWorkers
	// and webhookWorkers bound those of one app and of one webhook.
	workers, appWorkers, webhookWorkers int
	// maxAttemptTimeout bounds the timeout of every attempt.
	maxAttemptTimeout time.Duration
	// allowTargets lists the address ranges exempted from the egress
	// guard, as egress.ParseAllowList reads them.
	allowTargets string
	quotas       quotaSettings
	// apnsURL and fcmURL replace the push services' hosts; pushWorkers
	// bounds the push attempts in flight.
	apnsURL, fcmURL string
	pushWorkers     int
	// connectorWorkers bounds the sends through channel connectors.
	connectorWorkers int
}

// durationFlag declares a duration flag whose default comes from an
// environment variable, then from def.
func durationFlag(cmd *cobra.Command, dst *time.Duration, name, envName string, def time.Duration, usage string) {
	cmd.Flags().DurationVar(dst, name, envDuration(cmd, name, envName, def), usage+" (env "+envName+")")
}

// intFlag declares an integer flag as durationFlag does a duration.
func intFlag(cmd *cobra.Command, dst *int, name, envName string, def int, usage string) {
	cmd.Flags().IntVar(dst, name, envInt(cmd, name, envName, def), usage+" (env "+envName+")")
}

// Garbage collector defaults of the server, unless GOGC or GOMEMLIMIT say
// otherwise. Each delivery allocates its request, rendering and records;
// collecting four times less often saves about a tenth of the CPU, and the
// limit makes the collector work harder rather than let the heap pass it.
// The limit is well above what the server keeps: 10,000 open Client API
// sockets hold some 200 MiB (buffers, stacks), and a limit below what is
// kept has the collector run without pause, on up to half the CPU.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 512 << 20
)

func serve(ctx context.Context, cmd *cobra.Command, cfg *config, addr, baseURL string, contentTTL time.Duration, health healthSettings, limits serverLimits, metrics metricsSettings) error {
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := metrics.check(); err != nil {
		return err
	}
	allowTargets, err := egress.ParseAllowList(health.allowTargets)
	if err != nil {
		return fmt.Errorf("--allow-targets: %w", err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
	if health.appWorkers < 0 || health.webhookWorkers < 0 {
		return fmt.Errorf("--app-workers and --webhook-workers are numbers of attempts (0 for the default), not %d and %d",
			health.appWorkers, health.webhookWorkers)
	}
	if health.maxAttemptTimeout < time.Second {
		return fmt.Errorf("--max-attempt-timeout: %s is too short for an attempt (1s or more)", health.maxAttemptTimeout)
	}
	if health.quotas.minTimeout > health.maxAttemptTimeout {
		return fmt.Errorf("--min-webhook-timeout (%s) is above --max-attempt-timeout (%s): no webhook could set a timeout",
			health.quotas.minTimeout, health.maxAttemptTimeout)
	}
	svc, closeStore, err := cfg.open(ctx, true)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := bootstrap(ctx, cmd, cfg, svc); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if debug := os.Getenv("HERALD_DEBUG_ADDR"); debug != "" {
		// Go's profiles (/debug/pprof/), on an address of their own.
		dln, err := net.Listen("tcp", debug)
		if err != nil {
			return fmt.Errorf("the environment variable HERALD_DEBUG_ADDR=%q: %w", debug, err)
		}
		go http.Serve(dln, http.DefaultServeMux)
		defer dln.Close()
	}
	if baseURL == "" {
		baseURL = "http://" + ln.Addr().String()
	}
	sockets := &clientapi.API{}
	api, err := heraldhttp.New(ctx, svc, baseURL, &layerapi.API{}, &callbellapi.API{}, sockets)
	if err != nil {
		return err
	}
	api.URLs.ContentTTL = contentTTL
	api.Logger = logger
	closeMetrics, err := metrics.apply(api, ln.Addr().String(), logger)
	if err != nil {
		return err
	}
	defer closeMetrics()
	engine := &delivery.Engine{Store: svc.Store, Logger: logger, Metrics: api.Metrics,
		Formats: map[string]delivery.Format{
			herald.FormatLayer:    layer.Format{URLs: api.URLs},
			herald.FormatCallbell: callbell.Format{URLs: api.URLs},
		},
		HealthInterval: health.interval, HealthWarnAfter: health.warnAfter, HealthDisableAfter: health.disableAfter,
		Retention: health.retention, NodeTimeout: health.nodeTimeout, Workers: health.workers, AllowTargets: allowTargets,
		AppWorkers: health.appWorkers, WebhookWorkers: health.webhookWorkers, MaxAttemptTimeout: health.maxAttemptTimeout}
	if health.retention == 0 {
		engine.Retention = -1 // kept forever
	}
	svc.Logger = logger
	engine.Jobs = append(engine.Jobs, delivery.Job{Name: "blob_sweep", Every: messaging.BlobSweepInterval, Run: svc.SweepBlobs},
		delivery.Job{Name: "export_schedule", Every: messaging.ExportScheduleInterval, Run: svc.ScheduleExports},
		delivery.Job{Name: "export_prune", Every: messaging.ExportPruneInterval, Run: svc.PruneExports},
		delivery.Job{Name: "session_sweep", Every: messaging.SessionSweepInterval, Run: svc.SweepSessions})
	// Archives are written beside the data, not in a temporary directory
	// that may be small or in memory.
	exportDir := filepath.Join(cfg.data, "exports")
	if err := os.MkdirAll(exportDir, 0o700); err != nil {
		return err
	}
	exports := &messaging.ExportRunner{Service: svc, URLs: api.URLs, Dir: exportDir}
	if err := health.quotas.apply(engine, svc); err != nil {
		return err
	}
	api.Engine = engine
	// Users with a Client API socket open hear of changes over it: no push.
	sender := &push.Sender{Store: svc.Store, Service: svc, APNSURL: health.apnsURL, FCMURL: health.fcmURL,
		AllowTargets: allowTargets, Workers: health.pushWorkers, Logger: logger, Metrics: api.Metrics, Online: push.OnlineOf(sockets.ConnectedUsers)}
	// Outgoing messages of channels with a connector go to WhatsApp or
	// Telegram.
	connectors := &connectorsender.Sender{Store: svc.Store, Service: svc, AllowTargets: allowTargets,
		Workers: health.connectorWorkers, Logger: logger, Metrics: api.Metrics}
	svc.Notify = func() {
		engine.Notify()
		sender.Notify()
		connectors.Notify()
	}
	if err := engine.Start(ctx); err != nil {
		return err
	}
	// The routes are built before anything runs that asks the APIs: the
	// push sender asks the sockets who is online from its first pass.
	api.Handler()
	if err := sender.Start(ctx); err != nil {
		return err
	}
	if err := connectors.Start(ctx); err != nil {
		return err
	}
	// Scheduled messages are sent until the server stops; what a stop
	// interrupts stays scheduled, and is sent at the next start.
	schedulerCtx, stopScheduler := context.WithCancel(ctx)
	schedulerDone := make(chan struct{})
	go func() {
		defer close(schedulerDone)
		svc.RunScheduledMessages(schedulerCtx)
	}()
	defer func() {
		stopScheduler()
		<-schedulerDone
	}()
	exports.Start()
	defer exports.Stop()
	srv := limits.server(api)
	bounded, maxConns := limits.listener(ln, engine.Workers)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(bounded) }()
	database := "sqlite"
	if cfg.db != "" {
		database = "postgres"
	}
	exempted := "none"
	if len(allowTargets) > 0 {
		exempted = egress.FormatAllowList(allowTargets)
	}
	logger.Info("herald serving", "addr", ln.Addr().String(), "base_url", baseURL, "data", cfg.data,
		"database", database, "node", engine.Node, "version", herald.Version, "allow_targets", exempted,
		"max_connections", maxConns)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("herald shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Shutdown leaves the sockets, which the server no longer tracks once
	// upgraded: their clients reconnect to another node and replay.
	sockets.Close()
	// The uses of tokens since the last write would be lost with the
	// process.
	if err := svc.FlushTokenUses(shutdownCtx); err != nil {
		logger.Error("writing when tokens were last used", "err", err)
	}
	// Attempts in flight finish and their outcomes are recorded; what was
	// not attempted yet stays queued for the next start.
	if err := sender.Stop(shutdownCtx); err != nil {
		logger.Error("stopping the push sender", "err", err)
	}
	if err := connectors.Stop(shutdownCtx); err != nil {
		logger.Error("stopping the connector sender", "err", err)
	}
	return engine.Stop(shutdownCtx)
}

// bootstrap creates a default app and token on first start, so that a new
// installation is usable at once, and writes them to bootstrap.json.
func bootstrap(ctx context.Context, cmd *cobra.Command, cfg *config, svc *messaging.Service) error {
	apps, err := svc.Apps(ctx)
	if err != nil || len(apps) > 0 {
		return err
	}
	// Of several nodes starting on a new database, one creates the app.
	var first bool
	now := time.Now()
	err = svc.Store.Update(ctx, func(tx herald.Tx) (err error) {
		first, err = tx.ClaimJob(ctx, "bootstrap", now, now.AddDate(100, 0, 0))
		return err
	})
	if err != nil || !first {
		return err
	}
	app, token, err := svc.CreateApp(ctx, "default")
	if err != nil {
		return err
	}
	creds := map[string]string{"app_id": app.ID, "token": token}
	b, _ := json.MarshalIndent(creds, "", "  ")
	path := filepath.Join(cfg.data, "bootstrap.json")
	if err := writePrivateFile(path, append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Created the default app (the token is shown once here, and kept in %s):\n%s\n", path, b)
	return nil
}

// writePrivateFile writes a file only its owner may read. os.WriteFile
// alone would keep the mode of a file already there (a bootstrap.json left
// by an earlier installation, made readable by all): the new secret goes
// into a new file, which then takes the old one's place.
func writePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes it 0600 already; say so rather than rely on it.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
