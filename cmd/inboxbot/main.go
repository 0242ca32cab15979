// Command inboxbot runs a Slack channel as a team's shared email inbox.
// Configuration is by environment variables; see README.md.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot"
	"github.com/inboxbot/inboxbot/mailbridge"
	"github.com/inboxbot/inboxbot/store"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "inboxbot: configuration:", err)
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		log.Info("shutting down (signal again to exit at once)")
		cancel()
		<-sigs
		log.Warn("second signal: exiting now")
		os.Exit(1)
	}()

	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "inboxbot:", err)
		os.Exit(1)
	}
	select {
	case <-ctx.Done():
	case err = <-m.Failed():
		log.Error("stopping after a fatal error", "err", err)
	}
	if cerr := m.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		os.Exit(1)
	}
}

// Main is the whole program, wired: the store, the Slack bot, the IMAP
// watcher and the SMTP sender. Tests build it the same way main does.
type Main struct {
	Config Config
	Log    *slog.Logger

	// Knobs for tests; zero values are right for production.
	TLSConfig *tls.Config // certificate checks for IMAP and SMTP
	IMAPTune  mailbridge.IMAPConfig
	SMTPRetry time.Duration
	SlackTune bot.Config // pacing and caching; its Inboxes are ignored

	st     *store.Store
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed chan error
}

// NewMain returns an unstarted Main.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log, failed: make(chan error, 4)}
}

// Run opens the database and starts every part; it returns once they run.
// Parts keep running (and reconnecting) until Close.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	inbox := bot.Inbox{ID: strings.ToLower(c.InboxAddress), Address: c.InboxAddress, Name: c.InboxName, Channel: c.Channel}
	st, err := store.Open(c.DBPath, store.Options{Timeout: 5 * time.Second,
		Legacy: store.Legacy{Inbox: inbox.ID, Channel: inbox.Channel}})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w (is another inboxbot running with DB_PATH=%s?)", err, c.DBPath)
		}
		return err
	}
	m.st = st
	ctx, m.cancel = context.WithCancel(ctx)

	api := slack.New(c.SlackBotToken, slack.OptionAPIURL(c.SlackAPIURL), slack.OptionAppLevelToken(c.SlackAppToken))
	botCfg := m.SlackTune
	botCfg.Inboxes = []bot.Inbox{inbox}
	b := bot.New(botCfg, api, st, m.Log)
	socket := bot.NewSocketMode(api, m.Log)

	imapCfg := m.IMAPTune
	imapCfg.Inbox, imapCfg.Addr, imapCfg.Username, imapCfg.Password = inbox.ID, c.IMAPAddr, c.IMAPUsername, c.IMAPPassword
	imapCfg.TLS, imapCfg.Mailbox, imapCfg.TLSConfig = c.IMAPTLS, c.IMAPMailbox, m.TLSConfig
	w := mailbridge.NewWatcher(imapCfg, st, m.Log)

	s := mailbridge.NewSender(mailbridge.SMTPConfig{
		Inbox: inbox.ID, Addr: c.SMTPAddr, Username: c.SMTPUsername, Password: c.SMTPPassword, TLS: c.SMTPTLS,
		TLSConfig: m.TLSConfig, FromAddr: c.InboxAddress, FromName: c.InboxName, RetryBase: m.SMTPRetry,
	}, st, m.Log)

	slackRun := func(ctx context.Context) error { return b.Run(ctx, socket) }
	for name, run := range map[string]func(context.Context) error{"slack": slackRun, "imap": w.Run, "smtp": s.Run} {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := run(ctx); err != nil {
				m.failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	m.Log.Info("inboxbot started", "config", c)
	return nil
}

// Failed delivers the error of a part that stopped by itself (a revoked
// Slack token, say); the program should then Close and exit.
func (m *Main) Failed() <-chan error { return m.failed }

// Close stops every part, waits for them, and closes the database.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.st == nil {
		return nil
	}
	err := m.st.Close()
	m.st = nil
	return err
}
