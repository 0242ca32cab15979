package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot"
	"github.com/inboxbot/inboxbot/mailbridge"
	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// Main is the whole program, wired: the store, the Slack bot, the IMAP
// watcher and the SMTP sender, and the HTTP server for health and metrics.
// Tests build it the same way main does.
type Main struct {
	Config Config
	Log    *slog.Logger

	// Knobs for tests; zero values are right for production.
	TLSConfig      *tls.Config // certificate checks for IMAP and SMTP
	IMAPTune       mailbridge.IMAPConfig
	SMTPRetry      time.Duration
	StillTrying    time.Duration    // mailbridge.SMTPConfig.StillTryingAfter
	SlackTune      bot.Config       // pacing and caching; its Inboxes and Metrics are ignored
	PreflightRetry time.Duration    // first wait before a start-up check that may pass is run again (default 1 s, doubling to 1 min)
	QueueStuck     time.Duration    // a due job older than this makes /readyz fail (default 10 minutes)
	Now            func() time.Time // the clock of the store and the bot (default time.Now)
	SpoolLimit     int64            // bytes the spool may hold (0: the disk's room): a test's full disk

	st       *store.Store
	spool    *spool.Spool
	bot      *bot.Bot
	mail     []*mailSide // one per inbox, in configuration order
	registry *prometheus.Registry
	http     *http.Server
	httpAddr string
	slackIn  http.Handler // Slack's requests in HTTP mode (SLACK_MODE=http); nil in Socket Mode
	fresh    *freshConns
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	failed   chan error

	mu      sync.Mutex
	started map[string]bool // parts past their start-up checks
	parts   int             // how many parts there are
}

// NewMain returns an unstarted Main.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log, failed: make(chan error, 4), started: map[string]bool{}}
}

// StartupError is a start-up check that failed in a way only a change of
// configuration (or of the account) can fix.
type StartupError struct{ Checks []check }

func (e *StartupError) Error() string {
	var lines []string
	for _, c := range e.Checks {
		lines = append(lines, c.Fix+" ("+c.Name+": "+c.Detail+")")
	}
	return strings.Join(lines, "; ")
}

// check is the outcome of one check, whichever side made it (checks
// converts bot.Check and mailbridge.Check to it).
type check struct {
	Name      string
	OK        bool
	Detail    string
	Fix       string
	Permanent bool
}

func checks[C bot.Check | mailbridge.Check](cs []C) []check {
	out := make([]check, len(cs))
	for i, c := range cs {
		out[i] = check(c)
	}
	return out
}

// slackAPI is the Slack client everything uses; with metrics, the client
// counts calls and reports a revoked bot token.
func (m *Main) slackAPI(metrics *bot.Metrics) *slack.Client {
	c := m.Config
	opts := []slack.Option{slack.OptionAPIURL(c.SlackAPIURL), slack.OptionAppLevelToken(c.SlackAppToken)}
	if metrics != nil {
		opts = append(opts, slack.OptionHTTPClient(metrics.HTTPClient(nil)))
	}
	return slack.New(c.SlackBotToken, opts...)
}

// mailSide is the mail side of one inbox: its watcher and its sender.
type mailSide struct {
	inbox   InboxConfig
	watcher *mailbridge.Watcher
	sender  *mailbridge.Sender
}

// partName names a part of one inbox in logs and health ("imap", or
// "imap support@acme.com" when there are several inboxes).
func (m *Main) partName(part string, in InboxConfig) string {
	if len(m.Config.Inboxes) == 1 {
		return part
	}
	return part + " " + in.Address
}

func (m *Main) botInboxes() []bot.Inbox {
	var out []bot.Inbox
	for _, in := range m.Config.Inboxes {
		cal, _ := in.Calendar() // checked with the configuration
		out = append(out, bot.Inbox{ID: in.ID(), Address: in.Address, Name: in.Name, Channel: in.Channel,
			SendDelay: in.SendDelay, Signature: in.Signature, AttachMax: in.AttachMax,
			Calendar: cal, FirstResponse: in.FirstResponse, NextResponse: in.NextResponse, OnDutyGroup: in.OnDutyGroup,
			AutoCloseAfter: in.AutoCloseAfter, Digest: in.Digest, ReactionTags: in.ReactionTags})
	}
	return out
}

// ownAddresses are the installation's own mail addresses: every inbox's,
// and the mail accounts' logins that are addresses. A reply never goes to
// them (reply-all would otherwise mail the inbox itself).
func (m *Main) ownAddresses() []string {
	var out []string
	for _, in := range m.Config.Inboxes {
		out = append(out, in.Address)
		for _, login := range []string{in.IMAP.Username, in.SMTP.Username} {
			if strings.Contains(login, "@") {
				out = append(out, login)
			}
		}
	}
	return out
}

func (m *Main) channels() []string {
	var out []string
	for _, in := range m.Config.Inboxes {
		out = append(out, in.Channel)
	}
	return out
}

func (m *Main) imapConfig(in InboxConfig, metrics *mailbridge.Metrics) mailbridge.IMAPConfig {
	cfg := m.IMAPTune
	cfg.Inbox = in.ID()
	cfg.Addr, cfg.Username, cfg.Password = in.IMAP.Addr, in.IMAP.Username, in.IMAP.Password
	cfg.TLS, cfg.Mailbox, cfg.TLSConfig, cfg.Metrics = in.IMAP.TLS, in.Mailbox, m.TLSConfig, metrics
	cfg.OAuth = in.IMAP.OAuth.mailbridge()
	cfg.Spool, cfg.AttachMax = m.spool, in.AttachMax
	return cfg
}

func (m *Main) smtpConfig(in InboxConfig, metrics *mailbridge.Metrics) mailbridge.SMTPConfig {
	return mailbridge.SMTPConfig{
		Inbox: in.ID(), Addr: in.SMTP.Addr, Username: in.SMTP.Username, Password: in.SMTP.Password, TLS: in.SMTP.TLS,
		OAuth: in.SMTP.OAuth.mailbridge(), TLSConfig: m.TLSConfig, FromAddr: in.Address, FromName: in.Name, RetryBase: m.SMTPRetry,
		StillTryingAfter: m.StillTrying, Metrics: metrics, Spool: m.spool,
	}
}

// mailbridge is the account's OAuth settings for mailbridge (nil: none).
func (o *OAuth) mailbridge() *mailbridge.OAuth {
	if o == nil {
		return nil
	}
	return &mailbridge.OAuth{Provider: o.Provider, TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		RefreshToken: o.RefreshToken, Tenant: o.Tenant, Scopes: o.Scopes}
}

// appTokenCheck is how the start-up checks look at the app token.
func (m *Main) appTokenCheck(connect bool) bot.AppTokenCheck {
	switch {
	case m.Config.SlackMode == "http":
		return bot.NoAppToken
	case connect:
		return bot.ConnectSocket
	}
	return bot.OpenSocket
}

// transport is how Slack's events reach the bot: Socket Mode, or with
// SLACK_MODE=http requests to HTTP_ADDR, whose handler it sets for
// httpHandler.
func (m *Main) transport(api *slack.Client) bot.Transport {
	if m.Config.SlackMode != "http" {
		m.slackIn = nil
		return bot.NewSocketMode(api, m.Log)
	}
	t := bot.NewHTTP(m.Config.SlackSigningSecret, m.Log)
	m.slackIn = t.Handler()
	return t
}

// Run opens the database, starts the HTTP server and every part, and
// returns. Each part first runs the start-up checks that concern it: one
// that only a change can fix stops start-up (Failed delivers a
// *StartupError); one that may pass is logged and tried again with
// backoff. Parts keep running (and reconnecting) until Close.
func (m *Main) Run(ctx context.Context) error {
	first := m.Config.Inboxes[0]
	inboxes := m.botInboxes()
	st, err := store.Open(m.Config.DBPath, store.Options{Timeout: 5 * time.Second, Now: m.Now,
		Legacy: store.Legacy{Inbox: first.ID(), Channel: first.Channel}, OwnAddresses: m.ownAddresses(),
		Targets: bot.TargetsOf(inboxes)})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w (is another inboxbot running with DB_PATH=%s?)", err, m.Config.DBPath)
		}
		return err
	}
	m.st = st
	if err := m.openSpool(); err != nil {
		st.Close()
		m.st = nil
		return err
	}
	ctx, m.cancel = context.WithCancel(ctx)

	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{m: m})
	botMetrics := bot.NewMetrics(m.registry)
	mailMetrics := mailbridge.NewMetrics(m.registry)

	c := m.Config
	api := m.slackAPI(botMetrics)
	botCfg := m.SlackTune
	botCfg.Inboxes, botCfg.Metrics, botCfg.Now, botCfg.Spool = inboxes, botMetrics, m.Now, m.spool
	botCfg.AI.URL, botCfg.AI.Model, botCfg.AI.Key = c.AIURL, c.AIModel, c.AIKey
	m.bot = bot.New(botCfg, api, st, m.Log)
	transport := m.transport(api)
	m.mail = nil
	for _, in := range c.Inboxes {
		m.mail = append(m.mail, &mailSide{inbox: in,
			watcher: mailbridge.NewWatcher(m.imapConfig(in, mailMetrics), st, m.Log),
			sender:  mailbridge.NewSender(m.smtpConfig(in, mailMetrics), st, m.Log)})
	}

	if c.HTTPAddr != "" {
		if err := m.serveHTTP(c.HTTPAddr); err != nil {
			m.cancel()
			st.Close()
			m.st = nil
			return err
		}
	}

	type part struct {
		name  string
		check func(context.Context) []check
		run   func(context.Context) error
	}
	parts := []part{{"slack", func(ctx context.Context) []check {
		return checks(bot.CheckSlack(ctx, api, m.channels(), m.appTokenCheck(false)))
	}, func(ctx context.Context) error { return m.bot.Run(ctx, transport) }}}
	// Each inbox's watcher and sender start, check and retry on their own:
	// one inbox's broken server never holds up another.
	for _, ms := range m.mail {
		parts = append(parts,
			part{m.partName("imap", ms.inbox), func(ctx context.Context) []check {
				return checks(ms.watcher.Check(ctx))
			}, ms.watcher.Run},
			part{m.partName("smtp", ms.inbox), func(ctx context.Context) []check {
				return checks(ms.sender.Check(ctx))
			}, ms.sender.Run})
	}
	m.parts = len(parts)
	// Failed is read once; a part whose error is not taken before Close
	// must not block Close's wait for it.
	fail := func(err error) {
		select {
		case m.failed <- err:
		case <-ctx.Done():
		}
	}
	for _, p := range parts {
		m.wg.Go(func() {
			if err := m.preflight(ctx, p.name, p.check); err != nil {
				if ctx.Err() == nil {
					fail(err)
				}
				return
			}
			if err := p.run(ctx); err != nil {
				fail(fmt.Errorf("%s: %w", p.name, err))
			}
		})
	}
	m.Log.Info("inboxbot started; checking Slack, IMAP and SMTP", "config", c)
	return nil
}

// openSpool opens the spool beside the database, where files wait between
// mail and Slack, and removes what no queued job needs any more (left by a
// crash, or by jobs finished before their files were removed).
func (m *Main) openSpool() error {
	dir := spool.Dir(m.Config.DBPath)
	sp, err := spool.Open(dir, spool.Options{MaxBytes: m.SpoolLimit})
	if err != nil {
		return fmt.Errorf("spool directory %s (beside DB_PATH): %w", dir, err)
	}
	refs, err := m.st.SpoolRefs()
	if err != nil {
		return err
	}
	n, err := sp.Sweep(refs)
	if err != nil {
		m.Log.Warn("spool: removing left-over files", "dir", dir, "err", err)
	} else if n > 0 {
		m.Log.Info("spool: removed left-over files", "dir", dir, "files", n)
	}
	m.spool = sp
	return nil
}

// preflight runs a part's start-up checks until they pass, logging each.
func (m *Main) preflight(ctx context.Context, part string, run func(context.Context) []check) error {
	wait := m.PreflightRetry
	if wait <= 0 {
		wait = time.Second
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		results := run(cctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var permanent []check
		passed := true
		for _, c := range results {
			switch {
			case c.OK:
				m.Log.Info("check passed", "check", c.Name, "detail", c.Detail)
			case c.Permanent:
				m.Log.Error("check failed; this needs a change", "check", c.Name, "err", c.Detail, "fix", c.Fix)
				permanent = append(permanent, c)
			default:
				m.Log.Warn("check failed; retrying", "check", c.Name, "err", c.Detail, "hint", c.Fix, "in", wait)
			}
			passed = passed && c.OK
		}
		if len(permanent) > 0 {
			return &StartupError{Checks: permanent}
		}
		if passed {
			m.mu.Lock()
			m.started[part] = true
			all := len(m.started) == m.parts
			m.mu.Unlock()
			if all {
				m.Log.Info("inboxbot ready: Slack, IMAP and SMTP checked")
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
}

// Failed delivers the error of a part that stopped by itself (a revoked
// Slack token, say), or a *StartupError; the program should then Close
// and exit.
func (m *Main) Failed() <-chan error { return m.failed }

// HTTPAddr is the address the health and metrics server listens on ("" if off).
func (m *Main) HTTPAddr() string { return m.httpAddr }

// Close stops every part, waits for them, and closes the database.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.fresh.closeAll()
		if err := m.http.Shutdown(ctx); err != nil {
			// Requests still under way were cut; Slack retries its own.
			m.Log.Warn("stopping the HTTP server", "err", err)
		}
		cancel()
		m.http = nil
	}
	if m.st == nil {
		return nil
	}
	err := m.st.Close()
	m.st = nil
	return err
}

func (m *Main) serveHTTP(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", addr, err)
	}
	m.httpAddr = ln.Addr().String()
	m.fresh = &freshConns{conns: map[net.Conn]struct{}{}}
	m.http = &http.Server{Handler: m.httpHandler(), ReadHeaderTimeout: 10 * time.Second, ConnState: m.fresh.track}
	srv := m.http
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("health and metrics server stopped", "err", err)
		}
	}()
	if m.slackIn != nil {
		m.Log.Info("serving Slack's requests (SLACK_MODE=http) and /healthz, /readyz, /metrics", "addr", m.httpAddr,
			"slack", []string{bot.EventsPath, bot.InteractivityPath, bot.CommandsPath})
		return nil
	}
	m.Log.Info("serving /healthz, /readyz and /metrics", "addr", m.httpAddr)
	return nil
}

// freshConns closes, at shutdown, the connections on which no request has
// started: http.Server.Shutdown would wait 5 seconds for each, and HTTP
// clients (Slack's, when it sends requests in parallel) keep spare ones.
type freshConns struct {
	mu      sync.Mutex
	closing bool
	conns   map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, s http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case s == http.StateNew && f.closing:
		c.Close()
	case s == http.StateNew:
		f.conns[c] = struct{}{}
	default:
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closing = true
	for c := range f.conns {
		c.Close()
	}
}
