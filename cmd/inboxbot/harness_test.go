package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/inboxbot/inboxbot/bot"
	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
)

const (
	inboxChannel = "CINBOX"
	alice        = "UALICE" // member of the inbox channel
	bob          = "UBOB"   // member
	mallory      = "UMAL"   // not a member
)

// harness runs the real wiring (Main) against in-process counterparts: an
// IMAP server, an SMTP server that records, and the Slack fake driven by the
// real slack-go client.
type harness struct {
	t     testing.TB
	imap  *mailtest.IMAPServer
	smtp  *mailtest.SMTPServer
	slack *slackfake.Server
	cfg   Config
	// slackTune is the bot's pacing: fast by default, as the fake has no
	// limits unless a test sets them.
	slackTune bot.Config
	tune      func(*Main) // more knobs, set before each start
	m         *Main
	logs      *syncBuffer
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{
		t:         t,
		imap:      mailtest.NewIMAPServer(t),
		smtp:      mailtest.NewSMTPServer(t),
		slack:     slackfake.New(),
		logs:      &syncBuffer{},
		slackTune: bot.Config{MemberTTL: -1, PostRate: 200, PostBurst: 50, UpdateRate: 200, UpdateBurst: 50, ReadRate: 200},
	}
	t.Cleanup(h.slack.Close)
	h.slack.AddUser(alice, "alice", "Alice Agent")
	h.slack.AddUser(bob, "bob", "Bob Builder")
	h.slack.AddUser(mallory, "mallory", "Mallory Outsider")
	h.slack.AddChannel(inboxChannel, alice, bob, slackfake.BotUserID)
	h.cfg = Config{
		SlackBotToken: slackfake.BotToken, SlackAppToken: slackfake.AppToken, SlackAPIURL: h.slack.URL(), SlackMode: "socket",
		DBPath: filepath.Join(t.TempDir(), "inboxbot.db"),
		Inboxes: []InboxConfig{{
			Address: "support@acme.test", Name: "Acme Support", Channel: inboxChannel,
			IMAP:    Account{Addr: h.imap.Addr, Username: h.imap.Username, Password: h.imap.Password, TLS: "none"},
			Mailbox: "INBOX",
			SMTP:    Account{Addr: h.smtp.Addr, TLS: "none"},
		}},
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("inboxbot log:\n%s", h.logs.String())
		}
	})
	return h
}

// start runs Main and waits until it is connected to Slack and watching
// the mailbox (so that mail appended from now on is new mail).
func (h *harness) start() {
	h.t.Helper()
	if h.m != nil {
		h.t.Fatal("already running")
	}
	m := NewMain(h.cfg, slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	m.IMAPTune = mailbridge.IMAPConfig{Recheck: 100 * time.Millisecond, IdleRestart: 3 * time.Second, Poll: 200 * time.Millisecond}
	m.SMTPRetry = 50 * time.Millisecond
	m.SlackTune = h.slackTune
	if h.tune != nil {
		h.tune(m)
	}
	if err := m.Run(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.m = m
	ctx := h.ctx()
	if h.httpMode() {
		h.serveHTTP()
	} else if err := h.slack.WaitConnected(ctx); err != nil {
		h.t.Fatalf("socket mode never connected: %v", err)
	}
	h.poll("mailboxes watched", func() bool {
		for _, in := range h.cfg.Inboxes {
			if _, ok, _ := m.st.Watermark(in.ID(), in.Mailbox); !ok {
				return false
			}
		}
		return true
	})
}

// stop shuts Main down the way a crash at this point would leave things:
// nothing more is done after the call returns.
func (h *harness) stop() {
	if h.m == nil {
		return
	}
	if err := h.m.Close(); err != nil {
		h.t.Errorf("close: %v", err)
	}
	h.m = nil
	// Until the fake notices the socket is gone it may still write an
	// event to it, which nobody would ack: "stopped" means Slack knows.
	if err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool { return !s.Connected() }); err != nil {
		h.t.Errorf("the fake still sees a socket after Close: %v", err)
	}
}

// signingSecret signs the fake's requests in HTTP mode.
const signingSecret = "e2e-signing-secret-0123456789abcdef"

// eachTransport runs a test body twice, as subtests: with Socket Mode and
// with SLACK_MODE=http, where the fake POSTs events, clicks and commands,
// signed, to Main's HTTP server. The body starts the harness itself.
func eachTransport(t *testing.T, body func(t *testing.T, h *harness)) {
	for _, mode := range []string{"socket", "http"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			if mode == "http" {
				h.useHTTP()
			}
			body(t, h)
		})
	}
}

// useHTTP makes the harness run inboxbot with SLACK_MODE=http (and no app
// token); call it before start.
func (h *harness) useHTTP() {
	h.cfg.SlackMode, h.cfg.SlackSigningSecret, h.cfg.SlackAppToken = "http", signingSecret, ""
	h.cfg.HTTPAddr = "127.0.0.1:0"
}

func (h *harness) httpMode() bool { return h.cfg.SlackMode == "http" }

// serveHTTP points the fake at the running Main's request URLs (a new
// port at each start) and waits until the bot takes requests. Then come
// the deliveries that failed while inboxbot was down (or starting), as
// Slack's retries would: the HTTP counterpart of the Socket Mode queue
// being written to the new connection.
func (h *harness) serveHTTP() {
	h.t.Helper()
	base := "http://" + h.m.HTTPAddr()
	h.slack.UseHTTP(slackfake.HTTPConfig{
		EventsURL: base + bot.EventsPath, InteractivityURL: base + bot.InteractivityPath, CommandsURL: base + bot.CommandsPath,
		SigningSecret: h.cfg.SlackSigningSecret,
		// Slack gives up after 3 s. Keeping within that is AckBudget's
		// job (TestSlowCommandAckedFirst); here a CI machine busy with
		// -race must not turn a slow scheduler into a lost command.
		Timeout: 10 * time.Second,
	})
	if err := h.slack.VerifyURL(h.ctx()); err != nil {
		h.t.Fatalf("url_verification: %v", err)
	}
	h.poll("the bot taking Slack's requests", func() bool { return h.m.bot.State().Up })
	h.settle()
	h.slack.RetryFailed()
}

// settle waits, in HTTP mode, until every delivery the fake started was
// answered or failed (in Socket Mode, undelivered envelopes wait in the
// fake's queue instead).
func (h *harness) settle() {
	h.t.Helper()
	if !h.httpMode() {
		return
	}
	if err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool { return s.HTTPInFlight() == 0 }); err != nil {
		h.t.Fatalf("HTTP deliveries still under way: %v", err)
	}
}

// dropPending makes Slack give up on the events inboxbot did not get
// (while it was down) and returns how many.
func (h *harness) dropPending() int {
	h.t.Helper()
	h.settle()
	return h.slack.DropPending()
}

// dropEnvelope makes Slack give up on one event inboxbot did not get.
func (h *harness) dropEnvelope(envelopeID string) {
	h.t.Helper()
	h.settle()
	if !h.slack.DropEnvelope(envelopeID) {
		h.t.Fatalf("envelope %s was not pending", envelopeID)
	}
}

// inboxID is the store's key of the harness's inbox.
func (h *harness) inboxID() string { return h.cfg.Inboxes[0].ID() }

// inbox is the harness's (first) inbox's configuration, to change before start.
func (h *harness) inbox() *InboxConfig { return &h.cfg.Inboxes[0] }

func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// poll waits for a condition that nothing signals (state in the store).
func (h *harness) poll(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// roots are the top-level messages of the inbox channel.
func (h *harness) roots() []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.slack.Messages(inboxChannel) {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			if m.BotID != "" {
				out = append(out, m)
			}
		}
	}
	return out
}

// thread returns the replies under root.
func (h *harness) thread(root string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.slack.Messages(inboxChannel) {
		if m.ThreadTS == root && m.TS != root {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) waitRoots(n int) []slackfake.Message {
	h.t.Helper()
	if err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool { return len(h.roots()) >= n }); err != nil {
		h.t.Fatalf("waiting for %d root messages, have %d: %v", n, len(h.roots()), err)
	}
	return h.roots()
}

// waitThread waits until the thread under root has a reply for which match is true.
func (h *harness) waitThread(root string, match func(slackfake.Message) bool) slackfake.Message {
	h.t.Helper()
	var found slackfake.Message
	err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool {
		for _, m := range h.thread(root) {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		h.t.Fatalf("waiting in thread %s: %v; thread has %d replies", root, err, len(h.thread(root)))
	}
	return found
}

func (h *harness) waitMails(n int) []mailtest.Received {
	h.t.Helper()
	got, err := h.smtp.WaitFor(h.ctx(), n)
	if err != nil {
		h.t.Fatalf("waiting for %d mails, have %d: %v", n, len(h.smtp.Messages()), err)
	}
	return got
}

// ack waits until the bot acked an envelope: by then whatever it does with
// the event is committed.
func (h *harness) ack(envelopeID string) json.RawMessage {
	h.t.Helper()
	p, err := h.slack.WaitAck(h.ctx(), envelopeID)
	if err != nil {
		var tried []string
		for _, d := range h.slack.Deliveries() {
			if d.EnvelopeID == envelopeID {
				tried = append(tried, fmt.Sprintf("attempt %d: %d %s %s", d.Attempt, d.Status, d.Err, d.Body))
			}
		}
		h.t.Fatalf("envelope %s not acked: %v; HTTP deliveries: %q", envelopeID, err, tried)
	}
	return p
}

func (h *harness) deliver(raw []byte) {
	h.t.Helper()
	h.imap.Append(h.t, "INBOX", raw)
}

// text is everything a Slack message shows, blocks included (with the
// JSON encoder's \u003c-style escapes undone, so "<@U1>" reads as sent).
func text(m slackfake.Message) string {
	blocks := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(m.Blocks))
	return m.Text + "\n" + blocks
}

// customerMail builds an inbound mail.
type customerMail struct {
	From, ReplyTo, Subject, MessageID, InReplyTo, References, Body string
	Extra                                                          map[string]string
}

func (c customerMail) raw() []byte {
	var b bytes.Buffer
	from := c.From
	if from == "" {
		from = "Carl Customer <carl@example.com>"
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: Acme Support <support@acme.test>\r\nSubject: %s\r\n", from, c.Subject)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s>\r\n", time.Now().Format(time.RFC1123Z), c.MessageID)
	if c.ReplyTo != "" {
		fmt.Fprintf(&b, "Reply-To: %s\r\n", c.ReplyTo)
	}
	if c.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\n", c.InReplyTo)
	}
	if c.References != "" {
		fmt.Fprintf(&b, "References: %s\r\n", c.References)
	}
	for k, v := range c.Extra {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(c.Body, "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes()
}

// parsedMail reads a received mail's header.
func parsedMail(t *testing.T, r mailtest.Received) (*mail.Header, string) {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("received mail does not parse: %v\n%s", err, r.Data)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatalf("received mail has no body: %v", err)
	}
	var body bytes.Buffer
	body.ReadFrom(p.Body)
	return &mr.Header, body.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
