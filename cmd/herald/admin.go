package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/messaging"
)

// admin holds what the administration commands share: where Herald is
// (a server, or the data of config) and how to print.
type admin struct {
	cfg                   *config
	server, token, app    string
	json                  bool
	baseURL, allowTargets string
}

// adminCommands are the commands of an operator's day: apps, tokens,
// webhooks, deliveries and events, each against a running server
// (--server, --token) or the data directory (--data, --db).
func adminCommands(cfg *config) []*cobra.Command {
	a := &admin{cfg: cfg}
	return []*cobra.Command{a.appsCommand(), a.tokensCommand(), a.webhooksCommand(), a.deliveriesCommand(), a.eventsCommand()}
}

// group is a command of subcommands, with the flags every one of them
// takes.
func (a *admin) group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		Long: short + `.

Each command works against a running server, through its API:
  --server URL --token TOKEN --app APP_ID (env HERALD_SERVER, HERALD_TOKEN, HERALD_APP)
or on the data directory or PostgreSQL database, as serve uses them:
  --data DIR, or --db postgres://... (env HERALD_DATA, HERALD_DB)
It prints a table, or JSON with --json.`,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	f := g.PersistentFlags()
	f.StringVar(&a.server, "server", env("HERALD_SERVER", ""), "root URL of a running Herald server to work through; default: work on --data or --db (env HERALD_SERVER)")
	f.StringVar(&a.token, "token", env("HERALD_TOKEN", ""), "with --server, a token of the app (env HERALD_TOKEN; default: DATA/bootstrap.json's)")
	f.StringVar(&a.app, "app", env("HERALD_APP", ""), "the app's id; with --server, the app of --token (default: DATA/bootstrap.json's); on the data directory, needed only when it has several apps (env HERALD_APP)")
	f.BoolVar(&a.json, "json", false, "print JSON instead of a table")
	g.AddCommand(subs...)
	return g
}

// args checks a command's positional arguments, and says what they are.
func args(n, optional int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n || len(args) > n+optional {
			return fmt.Errorf("%s takes %s, not %d arguments; see %s --help", cmd.CommandPath(),
				strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name())), len(args), cmd.CommandPath())
		}
		return nil
	}
}

// ops opens the way to Herald the flags give. create lets the data
// directory's database be created (apps create only).
func (a *admin) ops(cmd *cobra.Command, create bool) (operations, error) {
	ctx := cmd.Context()
	if (cmd.Flags().Changed("data") || cmd.Flags().Changed("db")) && !cmd.Flags().Changed("server") {
		// Data given on the command line wins over a server of the
		// environment.
		a.server, a.token = "", ""
	}
	if a.server != "" {
		if cmd.Flags().Changed("data") || cmd.Flags().Changed("db") {
			return nil, errors.New("give --server (a running server) or --data/--db (its data), not both")
		}
		if err := checkServerURL(a.server); err != nil {
			return nil, err
		}
		if a.app == "" || a.token == "" {
			// As herald listen: the first app a server created on the
			// data directory, when its bootstrap.json is still there.
			if b, err := os.ReadFile(filepath.Join(a.cfg.data, "bootstrap.json")); err == nil {
				var c credentials
				if json.Unmarshal(b, &c) == nil && c.AppID != "" && c.Token != "" {
					a.app, a.token = cmp.Or(a.app, c.AppID), cmp.Or(a.token, c.Token)
				}
			}
		}
		if a.token == "" {
			return nil, errors.New("--server needs --token (env HERALD_TOKEN), a token of the app")
		}
		return newHTTPOps(a.server, a.token), nil
	}
	if a.token != "" && cmd.Flags().Changed("token") {
		return nil, errors.New("--token is for --server; on the data directory (--data, --db) no token is needed")
	}
	svc, closeStore, err := a.cfg.open(ctx, create)
	if err != nil {
		return nil, err
	}
	base := a.baseURL
	if base == "" {
		base = env("HERALD_BASE_URL", "http://127.0.0.1:8080")
	}
	return newLocalOps(ctx, svc, closeStore, base, a.allowTargets)
}

// appID is the app a command is about: its argument, else --app, else the
// data directory's only app.
func (a *admin) appID(ctx context.Context, ops operations, arg string) (string, error) {
	switch {
	case arg != "" && a.app != "" && bareID(arg) != bareID(a.app):
		return "", fmt.Errorf("the app %s and --app %s differ; give one", arg, a.app)
	case arg != "":
		return bareID(arg), nil
	case a.app != "":
		return bareID(a.app), nil
	case a.server != "":
		return "", errors.New("which app? give --app APP_ID (env HERALD_APP), the app of --token")
	}
	apps, err := ops.Apps(ctx)
	if err != nil {
		return "", err
	}
	switch len(apps) {
	case 0:
		return "", errors.New("this installation has no app yet; create one with herald apps create NAME")
	case 1:
		return apps[0].ID, nil
	}
	return "", fmt.Errorf("this installation has %d apps; give --app APP_ID (env HERALD_APP); herald apps list shows them", len(apps))
}

// run opens Herald, runs f and prints what it returns: as JSON with --json,
// else through table.
func run[T any](a *admin, cmd *cobra.Command, create bool, f func(ctx context.Context, ops operations) (T, error), table func(w io.Writer, v T)) error {
	ops, err := a.ops(cmd, create)
	if err != nil {
		return err
	}
	defer ops.Close()
	v, err := f(cmd.Context(), ops)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if a.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	table(tw, v)
	return tw.Flush()
}

// runForApp is run for a command on the app of --app (or the
// installation's only one).
func runForApp[T any](a *admin, cmd *cobra.Command, f func(ctx context.Context, ops operations, app string) (T, error), table func(w io.Writer, v T)) error {
	return run(a, cmd, false, func(ctx context.Context, ops operations) (T, error) {
		app, err := a.appID(ctx, ops, "")
		if err != nil {
			var none T
			return none, err
		}
		return f(ctx, ops, app)
	}, table)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orDashPtr(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// --- apps ---

func (a *admin) appsCommand() *cobra.Command {
	var tokenName string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an app and its first token (shown this once); creates the database if there is none",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(a, cmd, true, func(ctx context.Context, ops operations) (*createdApp, error) {
				return ops.CreateApp(ctx, args[0], tokenName)
			}, func(w io.Writer, c *createdApp) {
				fmt.Fprintf(w, "App:\t%s\nName:\t%s\nToken id:\t%s\nToken name:\t%s\nToken:\t%s\t(shown this once)\n",
					c.AppID, c.Name, c.TokenID, c.TokenName, c.Token)
			})
		},
	}
	create.Flags().StringVar(&tokenName, "token-name", messaging.DefaultTokenName, "name of the app's first token")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the apps",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(a, cmd, false, func(ctx context.Context, ops operations) ([]*appView, error) {
				return ops.Apps(ctx)
			}, func(w io.Writer, apps []*appView) {
				fmt.Fprintln(w, "ID\tNAME\tCREATED")
				for _, app := range apps {
					fmt.Fprintf(w, "%s\t%s\t%s\n", app.ID, app.Name, app.CreatedAt)
				}
			})
		},
	}
	show := &cobra.Command{
		Use:   "show [APP_ID]",
		Short: "Show an app",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(a, cmd, false, func(ctx context.Context, ops operations) (*appView, error) {
				if a.server != "" {
					return ops.App(ctx, "")
				}
				id, err := a.appID(ctx, ops, first(args))
				if err != nil {
					return nil, err
				}
				return ops.App(ctx, id)
			}, func(w io.Writer, app *appView) {
				fmt.Fprintf(w, "ID:\t%s\nName:\t%s\nCreated:\t%s\n", app.ID, app.Name, app.CreatedAt)
			})
		},
	}
	return a.group("apps", "Manage apps: create, list, show (on the data directory only: the API has no route for them)", create, list, show)
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// --- tokens ---

func tokenTable(w io.Writer, tokens []*tokenView) {
	fmt.Fprintln(w, "ID\tNAME\tPREFIX\tCREATED\tLAST USED")
	for _, t := range tokens {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, t.CreatedAt, orDashPtr(t.LastUsedAt))
	}
}

func (a *admin) tokensCommand() *cobra.Command {
	var name string
	create := &cobra.Command{
		Use:   "create [APP_ID]",
		Short: "Create a token for an app (the secret is shown this once)",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(a, cmd, false, func(ctx context.Context, ops operations) (*tokenView, error) {
				app, err := a.appID(ctx, ops, first(args))
				if err != nil {
					return nil, err
				}
				return ops.CreateToken(ctx, app, name)
			}, func(w io.Writer, t *tokenView) {
				fmt.Fprintf(w, "ID:\t%s\nApp:\t%s\nName:\t%s\nToken:\t%s\t(shown this once)\n", t.ID, t.AppID, t.Name, t.Token)
			})
		},
	}
	create.Flags().StringVar(&name, "name", messaging.DefaultTokenName, "name of the token, to tell it from the app's others")
	list := &cobra.Command{
		Use:   "list [APP_ID]",
		Short: "List an app's tokens, without their secrets (last used is written at most once a minute)",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(a, cmd, false, func(ctx context.Context, ops operations) ([]*tokenView, error) {
				app, err := a.appID(ctx, ops, first(args))
				if err != nil {
					return nil, err
				}
				return ops.Tokens(ctx, app)
			}, tokenTable)
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token; running servers refuse it within 0.1 s (on the data directory, even an app's last token)",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(a, cmd, false, func(ctx context.Context, ops operations) (*tokenView, error) {
				app := bareID(a.app)
				if a.server != "" && app == "" {
					return nil, errors.New("which app? give --app APP_ID (env HERALD_APP), the app of --token")
				}
				return ops.RevokeToken(ctx, app, args[0])
			}, func(w io.Writer, t *tokenView) {
				fmt.Fprintf(w, "Revoked the token %s (%s) of the app %s.\n", t.ID, orDash(t.Name), t.AppID)
			})
		},
	}
	return a.group("tokens", "Manage an app's tokens: create, list, revoke", create, list, revoke)
}

// --- webhooks ---

func webhookTable(w io.Writer, wh *webhookView) {
	fmt.Fprintf(w, "ID:\t%s\nStatus:\t%s\n", wh.ID, wh.Status)
	if wh.StatusReason != "" {
		fmt.Fprintf(w, "Reason:\t%s\n", wh.StatusReason)
	}
	schedule := make([]string, len(wh.RetrySchedule))
	for i, s := range wh.RetrySchedule {
		schedule[i] = shortDuration(time.Duration(s * float64(time.Second)))
	}
	fmt.Fprintf(w, "Target URL:\t%s\nFormat:\t%s %s\nEvents:\t%s\nRetry schedule:\t%s\nTimeout:\t%s\nConfig:\t%s\nCreated:\t%s\n",
		wh.TargetURL, wh.Format, wh.Version, strings.Join(wh.Events, ", "), orDash(strings.Join(schedule, ", ")),
		shortDuration(time.Duration(wh.TimeoutSeconds*float64(time.Second))), compactJSON(wh.Config), wh.CreatedAt)
	if wh.SigningSecret != "" {
		fmt.Fprintf(w, "Signing secret:\t%s\t(Standard Webhooks; shown this once)\n", wh.SigningSecret)
	}
	if wh.SigningPublicKey != "" {
		fmt.Fprintf(w, "Signing public key:\t%s\n", wh.SigningPublicKey)
	}
}

// webhookSettings reads the settings flags of webhooks create and update
// into the API's body: those given only.
type webhookSettings struct {
	url, events, secret, version, retry, config string
	timeout                                     time.Duration
	asymmetric                                  bool
}

func (s *webhookSettings) flags(cmd *cobra.Command, create bool) {
	f := cmd.Flags()
	f.StringVar(&s.url, "url", "", "the receiver's URL (target_url)")
	f.StringVar(&s.events, "events", "", "the event types to deliver, comma-separated, such as message.sent,conversation.created")
	f.StringVar(&s.secret, "secret", "", "the secret of Layer's HMAC-SHA1 signature (layer-webhook-signature)")
	f.StringVar(&s.version, "version", "", "payload version: 1.0, 2.0 or 3.0 (default 1.0)")
	f.StringVar(&s.retry, "retry-schedule", "", "delays before each retry, comma-separated, such as 10s,30s,2m; none for no retry")
	f.DurationVar(&s.timeout, "timeout", 0, "how long an attempt may wait for the receiver's answer, such as 5s")
	f.StringVar(&s.config, "config", "", `a JSON object echoed in every payload, such as {"env":"prod"}; null removes it`)
	if create {
		f.BoolVar(&s.asymmetric, "asymmetric-signature", false, "sign each delivery with an ed25519 key too (Standard Webhooks v1a)")
	}
}

func (s *webhookSettings) body(cmd *cobra.Command) (map[string]any, error) {
	in := map[string]any{}
	changed := cmd.Flags().Changed
	if changed("url") {
		in["target_url"] = s.url
	}
	if changed("events") {
		var list []string
		for _, e := range strings.Split(s.events, ",") {
			if e = strings.TrimSpace(e); e != "" {
				list = append(list, e)
			}
		}
		if len(list) == 0 {
			return nil, errors.New("--events names no event type; give at least one, such as --events message.sent")
		}
		in["events"] = list
	}
	if changed("secret") {
		in["secret"] = s.secret
	}
	if changed("version") {
		in["version"] = s.version
	}
	if changed("retry-schedule") {
		schedule := []float64{}
		if s.retry != "none" {
			for _, v := range strings.Split(s.retry, ",") {
				d, err := parseDelay(strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("--retry-schedule: %q is not a delay such as 30s or 2m", v)
				}
				schedule = append(schedule, d.Seconds())
			}
		}
		in["retry_schedule"] = schedule
	}
	if changed("timeout") {
		if s.timeout <= 0 {
			return nil, fmt.Errorf("--timeout: %s is not a timeout; give one such as 5s", s.timeout)
		}
		in["timeout_seconds"] = s.timeout.Seconds()
	}
	if changed("config") {
		var v any
		if err := json.Unmarshal([]byte(s.config), &v); err != nil {
			return nil, fmt.Errorf("--config: %q is not JSON: %v", s.config, err)
		}
		if _, isObject := v.(map[string]any); !isObject && v != nil {
			return nil, fmt.Errorf("--config: %s is not a JSON object", s.config)
		}
		in["config"] = v
	}
	if s.asymmetric {
		in["asymmetric_signature"] = true
	}
	return in, nil
}

// shortDuration writes 2m rather than 2m0s.
func shortDuration(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// parseDelay reads a duration, or a number of seconds.
func parseDelay(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

func (a *admin) webhookCommand(use, short string, f func(ctx context.Context, ops operations, app, id string) (*webhookView, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use + " WEBHOOK_ID",
		Short: short,
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*webhookView, error) {
				return f(ctx, ops, app, args[0])
			}, webhookTable)
		},
	}
}

func (a *admin) webhooksCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the app's webhooks, newest first",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) ([]*webhookView, error) {
				return ops.Webhooks(ctx, app)
			}, func(w io.Writer, list []*webhookView) {
				fmt.Fprintln(w, "ID\tSTATUS\tFORMAT\tTARGET URL\tEVENTS")
				for _, wh := range list {
					fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\n", wh.ID, wh.Status, wh.Format, wh.Version, wh.TargetURL, strings.Join(wh.Events, ","))
				}
			})
		},
	}
	show := a.webhookCommand("show", "Show a webhook", func(ctx context.Context, ops operations, app, id string) (*webhookView, error) {
		return ops.Webhook(ctx, app, id)
	})
	var created webhookSettings
	create := &cobra.Command{
		Use:   "create --url URL --events TYPE,... --secret SECRET",
		Short: "Register a Layer-format webhook; its receiver must echo the verification challenge (the signing secret is shown this once)",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range []string{"url", "events", "secret"} {
				if !cmd.Flags().Changed(name) {
					return fmt.Errorf("herald webhooks create needs --%s; see herald webhooks create --help", name)
				}
			}
			body, err := created.body(cmd)
			if err != nil {
				return err
			}
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*webhookView, error) {
				return ops.CreateWebhook(ctx, app, body)
			}, webhookTable)
		},
	}
	created.flags(create, true)
	var changed webhookSettings
	update := &cobra.Command{
		Use:   "update WEBHOOK_ID [--url URL] [--events TYPE,...] [--secret S] [--version V] [--retry-schedule D,...] [--timeout D] [--config JSON]",
		Short: "Change a webhook's settings; a new URL is verified before anything is sent to it",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := changed.body(cmd)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return errors.New("herald webhooks update changes nothing without a setting; see herald webhooks update --help")
			}
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*webhookView, error) {
				return ops.UpdateWebhook(ctx, app, args[0], body)
			}, webhookTable)
		},
	}
	changed.flags(update, false)
	test := &cobra.Command{
		Use:   "test WEBHOOK_ID",
		Short: "Send a signed test event (webhook.test) to the webhook's receiver now, and show its answer",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*testView, error) {
				return ops.TestWebhook(ctx, app, args[0])
			}, func(w io.Writer, t *testView) {
				fmt.Fprintf(w, "Delivered:\t%s\nEvent:\t%s %s\nStatus:\t%s\nLatency:\t%.1f ms\n", yesNo(t.Delivered), t.EventType, t.ID,
					statusText(t.StatusCode), t.DurationMS)
				if t.Error != "" {
					fmt.Fprintf(w, "Error:\t%s\n", t.Error)
				}
				headerLines(w, "Response header", t.ResponseHeaders)
				if t.ResponseBody != "" {
					fmt.Fprintf(w, "Response body:\t%s\n", oneLine(t.ResponseBody, 200))
				}
			})
		},
	}
	var rotation struct {
		grace  time.Duration
		secret string
	}
	rotate := &cobra.Command{
		Use:   "rotate-secret WEBHOOK_ID",
		Short: "Give a webhook a new signing secret (shown this once); the old one still signs for the grace period",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("grace") {
				if rotation.grace < 0 {
					return fmt.Errorf("--grace: %s is not a grace period (0 or more)", rotation.grace)
				}
				body["grace_period_seconds"] = rotation.grace.Seconds()
			}
			if cmd.Flags().Changed("secret") {
				body["secret"] = rotation.secret
			}
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*webhookView, error) {
				return ops.RotateWebhookSecret(ctx, app, args[0], body)
			}, webhookTable)
		},
	}
	rotate.Flags().DurationVar(&rotation.grace, "grace", 24*time.Hour, "how long the replaced secret still signs beside the new one; 0 drops it at once")
	rotate.Flags().StringVar(&rotation.secret, "secret", "", "a new secret for Layer's HMAC-SHA1 signature too")
	activate := a.webhookCommand("activate", "Verify a webhook's receiver again and resume its deliveries, failed ones included",
		func(ctx context.Context, ops operations, app, id string) (*webhookView, error) {
			return ops.ActivateWebhook(ctx, app, id)
		})
	deactivate := a.webhookCommand("deactivate", "Pause a webhook: its events wait for it",
		func(ctx context.Context, ops operations, app, id string) (*webhookView, error) {
			return ops.DeactivateWebhook(ctx, app, id)
		})
	del := &cobra.Command{
		Use:   "delete WEBHOOK_ID",
		Short: "Delete a webhook, its deliveries and their log",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (map[string]string, error) {
				return map[string]string{"deleted": bareID(args[0])}, ops.DeleteWebhook(ctx, app, args[0])
			}, func(w io.Writer, m map[string]string) { fmt.Fprintf(w, "Deleted the webhook %s.\n", m["deleted"]) })
		},
	}
	g := a.group("webhooks", "Manage the app's webhooks: list, show, create, update, test, rotate-secret, activate, deactivate, delete",
		list, show, create, update, test, rotate, activate, deactivate, del)
	a.localFlags(g)
	return g
}

// localFlags are those of work on the data directory that renders or sends
// deliveries as the server would.
func (a *admin) localFlags(g *cobra.Command) {
	g.PersistentFlags().StringVar(&a.baseURL, "base-url", env("HERALD_BASE_URL", ""),
		"on the data directory, the server's public URL, for the url fields of payloads rendered here; default http://127.0.0.1:8080 (env HERALD_BASE_URL)")
	g.PersistentFlags().StringVar(&a.allowTargets, "allow-targets", env("HERALD_ALLOW_TARGETS", ""),
		"on the data directory, internal address ranges receivers may be reached at, as serve's (env HERALD_ALLOW_TARGETS)")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func statusText(code int) string {
	if code == 0 {
		return "no answer"
	}
	return strconv.Itoa(code)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func headerLines(w io.Writer, label string, h map[string][]string) {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range h[name] {
			fmt.Fprintf(w, "%s:\t%s: %s\n", label, name, v)
		}
	}
}

// --- deliveries ---

// parseWhen reads a time: RFC 3339, or a duration before now ("1h": an
// hour ago).
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s: %q is neither an RFC 3339 time (2026-12-01T09:00:00Z) nor a duration before now (90m)", flag, v)
}

func (a *admin) deliveriesCommand() *cobra.Command {
	var q deliveryQuery
	var since, until string
	list := &cobra.Command{
		Use:   "list WEBHOOK_ID",
		Short: "List a webhook's deliveries, newest first, by status, event type, conversation and time",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			for _, b := range []struct {
				flag, v string
				dst     **time.Time
			}{{"since", since, &q.Since}, {"until", until, &q.Until}} {
				if b.v != "" {
					t, err := parseWhen(b.flag, b.v, now)
					if err != nil {
						return err
					}
					*b.dst = &t
				}
			}
			if q.Limit < 1 || q.Limit > 500 {
				return fmt.Errorf("--limit: %d is not from 1 to 500", q.Limit)
			}
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) ([]*deliveryView, error) {
				return ops.Deliveries(ctx, app, args[0], q)
			}, func(w io.Writer, list []*deliveryView) {
				fmt.Fprintln(w, "ID\tEVENT TYPE\tSTATUS\tATTEMPTS\tLAST STATUS\tCREATED")
				for _, d := range list {
					last := "-"
					if d.Attempts > 0 {
						last = statusText(d.LastStatusCode)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.EventType, d.Status, d.Attempts, last, d.CreatedAt)
				}
			})
		},
	}
	f := list.Flags()
	f.StringVar(&q.Status, "status", "", "pending, delivered or failed")
	f.StringVar(&q.EventType, "event-type", "", "the event type, such as message.sent")
	f.StringVar(&q.Conversation, "conversation", "", "a conversation's id: the deliveries of its events and its messages'")
	f.StringVar(&since, "since", "", "created at or after: an RFC 3339 time, or a duration before now (1h)")
	f.StringVar(&until, "until", "", "created before: an RFC 3339 time, or a duration before now")
	f.IntVar(&q.Limit, "limit", 50, "the most deliveries listed, from 1 to 500")
	show := &cobra.Command{
		Use:   "show WEBHOOK_ID DELIVERY_ID",
		Short: "Show a delivery: its payload and every attempt with the receiver's answer (status, headers, body)",
		Args:  args(2, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*deliveryView, error) {
				return ops.Delivery(ctx, app, args[0], args[1])
			}, deliveryTable)
		},
	}
	resend := &cobra.Command{
		Use:   "resend WEBHOOK_ID DELIVERY_ID",
		Short: "Queue a delivered or failed delivery again, with the same body and id",
		Args:  args(2, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*deliveryView, error) {
				return ops.Resend(ctx, app, args[0], args[1])
			}, func(w io.Writer, d *deliveryView) {
				fmt.Fprintf(w, "Queued the delivery %s (%s) again: %s.\n", d.ID, d.EventType, d.Status)
			})
		},
	}
	var replaySince, replayUntil string
	replay := &cobra.Command{
		Use:   "replay WEBHOOK_ID --since TIME [--until TIME]",
		Short: "Queue the app's events of a time window again for a webhook, as new deliveries",
		Args:  args(1, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			if replaySince == "" {
				return errors.New("herald deliveries replay needs --since: an RFC 3339 time, or a duration before now (1h)")
			}
			from, err := parseWhen("since", replaySince, now)
			if err != nil {
				return err
			}
			to := now
			if replayUntil != "" {
				if to, err = parseWhen("until", replayUntil, now); err != nil {
					return err
				}
			}
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) (*replayView, error) {
				return ops.Replay(ctx, app, args[0], from, to)
			}, func(w io.Writer, r *replayView) {
				fmt.Fprintf(w, "Queued:\t%d\nAlready queued:\t%d\n", r.Queued, r.AlreadyQueued)
				if r.ResumeSince != "" {
					fmt.Fprintf(w, "Stopped early; resume with:\t--since %s\n", r.ResumeSince)
				}
			})
		},
	}
	replay.Flags().StringVar(&replaySince, "since", "", "start of the window: an RFC 3339 time, or a duration before now (1h)")
	replay.Flags().StringVar(&replayUntil, "until", "", "end of the window, excluded; default now")
	g := a.group("deliveries", "Inspect and redeliver a webhook's deliveries: list, show, resend, replay", list, show, resend, replay)
	a.localFlags(g)
	return g
}

func deliveryTable(w io.Writer, d *deliveryView) {
	fmt.Fprintf(w, "ID:\t%s\nEvent:\t%s %s\nStatus:\t%s\nAttempts:\t%d\nCreated:\t%s\n", d.ID, d.EventType, d.EventID, d.Status, d.Attempts, d.CreatedAt)
	if d.NextAttemptAt != nil {
		fmt.Fprintf(w, "Next attempt:\t%s\n", *d.NextAttemptAt)
	}
	if d.DeliveredAt != nil {
		fmt.Fprintf(w, "Delivered:\t%s\n", *d.DeliveredAt)
	}
	for i, at := range d.AttemptLog {
		outcome := statusText(at.StatusCode)
		if at.Error != "" {
			outcome += " (" + at.Error + ")"
		}
		fmt.Fprintf(w, "Attempt %d:\t%s, %.1f ms, %s\n", i+1, at.StartedAt, at.DurationMS, outcome)
		headerLines(w, "  Response header", at.ResponseHeaders)
		if at.ResponseBody != "" {
			fmt.Fprintf(w, "  Response body:\t%s\n", oneLine(at.ResponseBody, 200))
		}
	}
	// The payload whole, as the receiver got it, indented for reading.
	var payload bytes.Buffer
	if json.Indent(&payload, d.Payload, "", "  ") != nil {
		payload.Reset()
		payload.Write(d.Payload)
	}
	fmt.Fprintf(w, "Payload:\n%s\n", payload.String())
}

// --- events ---

func eventLine(w io.Writer, e *eventView) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.ID, e.Type, e.CreatedAt, eventActor(e))
}

// tailLine is an event's line in a tail, whose lines are printed one by
// one: in columns of fixed widths.
func tailLine(w io.Writer, e *eventView) {
	fmt.Fprintf(w, "%-36s  %-33s  %-24s  %s\n", e.ID, e.Type, e.CreatedAt, eventActor(e))
}

func eventActor(e *eventView) string {
	actor := "-"
	var who struct {
		UserID string `json:"user_id"`
		Name   string `json:"name"`
	}
	if json.Unmarshal(e.Actor, &who) == nil && (who.UserID != "" || who.Name != "") {
		actor = who.UserID
		if actor == "" {
			actor = who.Name
		}
	}
	return actor
}

const eventsHeader = "ID\tTYPE\tCREATED\tACTOR\n"

func (a *admin) eventsCommand() *cobra.Command {
	var after string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List the app's events, oldest first",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("--limit: %d is not from 1 to 1000", limit)
			}
			return runForApp(a, cmd, func(ctx context.Context, ops operations, app string) ([]*eventView, error) {
				return ops.Events(ctx, app, after, limit)
			}, func(w io.Writer, list []*eventView) {
				io.WriteString(w, eventsHeader)
				for _, e := range list {
					eventLine(w, e)
				}
			})
		},
	}
	list.Flags().StringVar(&after, "after", "", "list the events after the one with this id")
	list.Flags().IntVar(&limit, "limit", 100, "the most events listed, from 1 to 1000")
	var tail tailSettings
	tailCmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the app's new events as they are recorded, until interrupted",
		Long: `Print the app's new events as they are recorded, until interrupted (or
--count events were printed). It polls the event log from the last event
seen, every --interval; with --json, it prints one JSON object a line.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error { return a.tail(cmd, tail) },
	}
	tailCmd.Flags().StringVar(&tail.after, "after", "", "start after the event with this id; default: after the newest")
	tailCmd.Flags().BoolVar(&tail.fromStart, "from-start", false, "start from the first event of the log")
	tailCmd.Flags().DurationVar(&tail.interval, "interval", time.Second, "how long to wait between polls when nothing is new, from 100ms to 1m")
	tailCmd.Flags().IntVar(&tail.count, "count", 0, "stop after printing this many events; 0: never")
	return a.group("events", "Read the app's event log: list, tail", list, tailCmd)
}

type tailSettings struct {
	after     string
	fromStart bool
	interval  time.Duration
	count     int
}

// tailPage is the events one poll reads at most.
const tailPage = 1000

func (a *admin) tail(cmd *cobra.Command, s tailSettings) error {
	if s.interval < 100*time.Millisecond || s.interval > time.Minute {
		return fmt.Errorf("--interval: %s is not from 100ms to 1m", s.interval)
	}
	if s.count < 0 {
		return fmt.Errorf("--count: %d is not a number of events (0 for no end)", s.count)
	}
	if s.fromStart && s.after != "" {
		return errors.New("give --after or --from-start, not both")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ops, err := a.ops(cmd, false)
	if err != nil {
		return err
	}
	defer ops.Close()
	app, err := a.appID(ctx, ops, "")
	if err != nil {
		return err
	}
	cursor := bareID(s.after)
	if cursor == "" && !s.fromStart {
		// The newest event: the log read to its end, a page at a time.
		for {
			page, err := ops.Events(ctx, app, cursor, tailPage)
			if err != nil {
				return err
			}
			if len(page) > 0 {
				cursor = page[len(page)-1].ID
			}
			if len(page) < tailPage {
				break
			}
		}
	}
	out := cmd.OutOrStdout()
	enc := json.NewEncoder(out)
	printed := 0
	if !a.json {
		tailLine(out, &eventView{ID: "ID", Type: "TYPE", CreatedAt: "CREATED", Actor: json.RawMessage(`{"name":"ACTOR"}`)})
	}
	for {
		page, err := ops.Events(ctx, app, cursor, tailPage)
		if ctx.Err() != nil {
			return nil // interrupted: the end of a tail
		}
		if err != nil {
			return err
		}
		for _, e := range page {
			if a.json {
				enc.Encode(e)
			} else {
				tailLine(out, e)
			}
			cursor = e.ID
			if printed++; s.count > 0 && printed == s.count {
				return nil
			}
		}
		if len(page) == tailPage {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.interval):
		}
	}
}
