package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	rcv "github.com/heraldhq/herald/receiver"
)

// listenSettings are the flags of `herald listen`.
type listenSettings struct {
	server, token, app string
	format             string
	events             []string
	port               int
	forward            string
	asymmetric         bool
}

// listenFormats are the values of --format: a Layer payload version, or
// Callbell's format.
var listenFormats = []string{"layer-1.0", "layer-2.0", "layer-3.0", "callbell"}

func listenCommand(cfg *config) *cobra.Command {
	var s listenSettings
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Receive a running Herald's webhooks on this machine: verify, print and forward each delivery",
		Long: `listen starts a webhook receiver on 127.0.0.1, registers it as a webhook of an app on a
running Herald (POST /apps/{app}/webhooks, or for --format callbell the app's one Callbell
subscription), and for each delivery prints its event type, ids and which signatures
verified, then its body as indented JSON. With --forward it posts each verified delivery,
body and headers unchanged, to that URL, prints the answer, and answers Herald with the
same status, so that Herald retries what your application fails, as it would in
production. On SIGINT or SIGTERM it deletes the webhook and exits.

The server must be allowed to deliver to loopback addresses: start it with
--allow-targets 127.0.0.0/8,::1/128.

The app and token default to HERALD_APP and HERALD_TOKEN, else to DATA/bootstrap.json, the
first app a server creates on its data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.complete(cfg); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runListen(ctx, s, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.server, "server", env("HERALD_SERVER", "http://127.0.0.1:8080"), "URL of the running Herald (env HERALD_SERVER)")
	f.StringVar(&s.token, "token", env("HERALD_TOKEN", ""), "an API token of the app (env HERALD_TOKEN; default: DATA/bootstrap.json's)")
	f.StringVar(&s.app, "app", env("HERALD_APP", ""), "the app's id (env HERALD_APP; default: DATA/bootstrap.json's)")
	f.StringVar(&s.format, "format", "layer-1.0", "webhook format and payload version: "+strings.Join(listenFormats, ", "))
	f.StringSliceVar(&s.events, "events", nil, "event types to receive, comma-separated (default: every event of the format)")
	f.IntVar(&s.port, "port", 0, "port on 127.0.0.1 to listen on (default: a free port)")
	f.StringVar(&s.forward, "forward", "", "URL to post each verified delivery to, body and headers unchanged")
	f.BoolVar(&s.asymmetric, "asymmetric-signature", false, "give the webhook an ed25519 key, and verify its v1a signatures too")
	return cmd
}

// complete fills in the app and token from bootstrap.json and checks every
// setting, naming the flag of the one at fault.
func (s *listenSettings) complete(cfg *config) error {
	if err := checkHTTPURL("--server", s.server); err != nil {
		return err
	}
	s.server = strings.TrimSuffix(s.server, "/")
	if s.forward != "" {
		if err := checkHTTPURL("--forward", s.forward); err != nil {
			return err
		}
	}
	if !slices.Contains(listenFormats, s.format) {
		return fmt.Errorf("--format must be one of %s, not %q", strings.Join(listenFormats, ", "), s.format)
	}
	if s.port < 0 || s.port > 65535 {
		return fmt.Errorf("--port must be from 0 (a free port) to 65535, not %d", s.port)
	}
	types := s.eventTypes()
	if len(s.events) == 0 {
		s.events = types
	}
	for _, e := range s.events {
		if !slices.Contains(types, e) {
			return fmt.Errorf("--events: %q is not an event of format %s; its events are %s", e, s.format, strings.Join(types, ", "))
		}
	}
	if s.app == "" || s.token == "" {
		path := filepath.Join(cfg.data, "bootstrap.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--app and --token are required (or HERALD_APP and HERALD_TOKEN), and %s, which would give them, cannot be read: %w", path, err)
		}
		var c credentials
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("--app and --token are required: %s does not hold them: %w", path, err)
		}
		if s.app == "" {
			s.app = c.AppID
		}
		if s.token == "" {
			s.token = c.Token
		}
	}
	if strings.ContainsAny(s.app, "/?#") || strings.TrimSpace(s.app) == "" {
		return fmt.Errorf("--app must be an app id, not %q", s.app)
	}
	return nil
}

func (s *listenSettings) eventTypes() []string {
	if s.format == "callbell" {
		return rcv.CallbellEventTypes()
	}
	return rcv.LayerEventTypes(strings.TrimPrefix(s.format, "layer-"))
}

func checkHTTPURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an absolute http:// or https:// URL, not %q", flag, raw)
	}
	return nil
}

// listener is a running `herald listen`.
type listener struct {
	s      listenSettings
	client *http.Client
	out    io.Writer
	outMu  sync.Mutex

	// ready is closed once the webhook is registered and h holds its keys:
	// Herald's verification challenge may come before the registration's
	// answer, and waits for it.
	ready chan struct{}
	h     *rcv.Handler

	// webhookID is the registered Layer webhook's id.
	webhookID string
}

func runListen(ctx context.Context, s listenSettings, out io.Writer) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("--port %d: %w", s.port, err)
	}
	l := &listener{s: s, client: &http.Client{Timeout: 30 * time.Second}, out: out, ready: make(chan struct{})}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	target := "http://" + ln.Addr().String() + "/"

	v, err := l.register(ctx, target)
	if err != nil {
		return err
	}
	l.h = &rcv.Handler{Verifier: v}
	close(l.ready)
	l.printf("Listening on %s for %s events of app %s on %s (%s).\n", target, l.s.format, l.s.app, l.s.server, strings.Join(l.s.events, ", "))
	if l.s.forward != "" {
		l.printf("Forwarding verified deliveries to %s.\n", l.s.forward)
	}
	err = l.waitActive(ctx)
	if err == nil {
		l.printf("Ready. Press Ctrl-C to stop; the webhook is deleted then.\n")
		<-ctx.Done()
	}
	// The deletion outlives the signal that ends the wait.
	cleanup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if derr := l.unregister(cleanup); derr != nil {
		return errors.Join(err, derr)
	}
	return err
}

func (l *listener) printf(format string, args ...any) {
	l.outMu.Lock()
	defer l.outMu.Unlock()
	fmt.Fprintf(l.out, format, args...)
}

// apiError is an error answer of Herald's API.
type apiError struct {
	Status  int
	ID      string `json:"id"`
	Message string `json:"message"`
	Data    struct {
		Property string `json:"property"`
	} `json:"data"`
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.ID, e.Message)
}

// call sends a request to Herald's API and decodes a 2xx answer into out.
func (l *listener) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.s.server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+l.s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("--server %s: %w", l.s.server, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		e := &apiError{Status: res.StatusCode}
		json.Unmarshal(b, e)
		return e
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// explain turns the API's refusal of a registration into what to do.
func (l *listener) explain(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		return fmt.Errorf("the server refused the token (--token): %w", err)
	case e.Status == http.StatusNotFound:
		return fmt.Errorf("the server knows no app %s for this token (--app): %w", l.s.app, err)
	case (e.Data.Property == "target_url" || e.Data.Property == "url") && strings.Contains(e.Message, "loopback"):
		return fmt.Errorf("the server refuses to deliver webhooks to this machine's loopback address; "+
			"start it with --allow-targets 127.0.0.0/8,::1/128 (or HERALD_ALLOW_TARGETS) for development: %w", err)
	}
	return fmt.Errorf("registering the webhook: %w", err)
}

// register registers the receiver at target and returns a verifier with the
// webhook's keys.
func (l *listener) register(ctx context.Context, target string) (*rcv.Verifier, error) {
	v := &rcv.Verifier{}
	if l.s.format == "callbell" {
		// An app has one Callbell webhook: subscribing would replace the
		// one it has, which deleting on exit would then lose.
		var existing struct {
			Webhook struct {
				URL string `json:"url"`
			} `json:"webhook"`
		}
		err := l.call(ctx, "GET", "/v1/webhooks", nil, &existing)
		var e *apiError
		switch {
		case err == nil:
			return nil, fmt.Errorf("--format callbell: app %s already has its one Callbell webhook (to %s); "+
				"listen would replace it. Unsubscribe it first (DELETE /v1/webhooks/unsubscribe), or use another app (--app)", l.s.app, existing.Webhook.URL)
		case !errors.As(err, &e) || e.Status != http.StatusNotFound || e.ID != "not_found":
			return nil, l.explain(err)
		}
		var res struct {
			Secret string `json:"secret"`
		}
		if err := l.call(ctx, "POST", "/v1/webhooks/subscribe", map[string]any{"url": target, "subscriptions": l.s.events,
			"asymmetric_signature": l.s.asymmetric}, &res); err != nil {
			return nil, l.explain(err)
		}
		v.Secrets = []string{res.Secret}
		if l.s.asymmetric {
			var got struct {
				Webhook struct {
					PublicKey string `json:"signingPublicKey"`
				} `json:"webhook"`
			}
			if err := l.call(ctx, "GET", "/v1/webhooks", nil, &got); err != nil {
				return nil, err
			}
			v.PublicKeys = []string{got.Webhook.PublicKey}
		}
		return v, nil
	}
	secret := make([]byte, 24)
	rand.Read(secret)
	layerSecret := hex.EncodeToString(secret)
	var wh struct {
		ID            string `json:"id"`
		SigningSecret string `json:"signing_secret"`
		PublicKey     string `json:"signing_public_key"`
	}
	err := l.call(ctx, "POST", "/apps/"+l.s.app+"/webhooks", map[string]any{"version": strings.TrimPrefix(l.s.format, "layer-"),
		"target_url": target, "events": l.s.events, "secret": layerSecret, "asymmetric_signature": l.s.asymmetric}, &wh)
	if err != nil {
		return nil, l.explain(err)
	}
	l.webhookID = wh.ID[strings.LastIndex(wh.ID, "/")+1:]
	v.Secrets, v.LayerSecrets = []string{wh.SigningSecret}, []string{layerSecret}
	if wh.PublicKey != "" {
		v.PublicKeys = []string{wh.PublicKey}
	}
	return v, nil
}

// waitActive waits until Herald has verified the Layer webhook (Callbell's
// are active at once), for at most 30 seconds.
func (l *listener) waitActive(ctx context.Context) error {
	if l.webhookID == "" {
		l.printf("Subscribed (Callbell webhooks are active at once).\n")
		return nil
	}
	for range 300 {
		var wh struct {
			Status       string `json:"status"`
			StatusReason string `json:"status_reason"`
		}
		if err := l.call(ctx, "GET", "/apps/"+l.s.app+"/webhooks/"+l.webhookID, nil, &wh); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch wh.Status {
		case "active":
			l.printf("Webhook %s is active.\n", l.webhookID)
			return nil
		case "inactive":
			return fmt.Errorf("Herald did not activate webhook %s: %s", l.webhookID, wh.StatusReason)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("Herald has not verified webhook %s after 30 seconds", l.webhookID)
}

// unregister deletes the webhook.
func (l *listener) unregister(ctx context.Context) error {
	if l.s.format == "callbell" {
		if err := l.call(ctx, "DELETE", "/v1/webhooks/unsubscribe", nil, nil); err != nil {
			return fmt.Errorf("unsubscribing the Callbell webhook: %w", err)
		}
		l.printf("Unsubscribed the Callbell webhook.\n")
		return nil
	}
	if l.webhookID == "" {
		return nil
	}
	if err := l.call(ctx, "DELETE", "/apps/"+l.s.app+"/webhooks/"+l.webhookID, nil, nil); err != nil {
		return fmt.Errorf("deleting webhook %s: %w", l.webhookID, err)
	}
	l.printf("Deleted webhook %s.\n", l.webhookID)
	return nil
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-l.ready:
	case <-r.Context().Done():
		return
	case <-time.After(30 * time.Second):
		http.Error(w, "not registered yet", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost {
		l.h.ServeHTTP(w, r)
		return
	}
	d, status, err := l.h.Receive(r)
	if err != nil {
		body, _ := io.ReadAll(r.Body)
		l.printf("!! refused a delivery (%d): %v\n%s\n\n", status, err, body)
		http.Error(w, err.Error(), status)
		return
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, d.Body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(d.Body)
	}
	schemes := make([]string, len(d.Verified.Schemes))
	for i, s := range d.Verified.Schemes {
		schemes[i] = string(s)
	}
	line := "--> " + d.Event.EventType()
	if id := d.Event.EventID(); id != "" {
		line += "  event " + id
	}
	line += "  delivery " + d.ID
	if c := d.Event.ConversationID(); c != "" {
		line += "  conversation " + c
	}
	line += "  signature ok (" + strings.Join(schemes, ", ") + ")"
	if l.s.forward == "" {
		l.printf("%s\n%s\n\n", line, pretty.Bytes())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	code, fwd := l.forward(r.Context(), d)
	l.printf("%s\n%s\n    forwarded to %s: %s\n\n", line, pretty.Bytes(), l.s.forward, fwd)
	w.WriteHeader(code)
}

// forward posts a delivery, body and headers as they came, to --forward,
// and returns the status to answer Herald with and what to print of the
// answer.
func (l *listener) forward(ctx context.Context, d *rcv.Delivery) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.s.forward, bytes.NewReader(d.Body))
	if err != nil {
		return http.StatusBadGateway, err.Error()
	}
	for k, vs := range d.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Content-Length", "Accept-Encoding":
			continue
		}
		req.Header[k] = slices.Clone(vs)
	}
	res, err := l.client.Do(req)
	if err != nil {
		return http.StatusBadGateway, "no answer: " + err.Error()
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, res.Status
}
