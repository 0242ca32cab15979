package mailbridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// SMTPConfig says how replies leave.
type SMTPConfig struct {
	Inbox    string // the inbox whose replies this server sends ("" : every inbox's)
	Addr     string // host:port
	Username string // no AUTH when empty
	Password string
	OAuth    *OAuth // log in with OAuth tokens (XOAUTH2) instead of Password
	TLS      string // TLSImplicit, TLSStartTLS (default) or TLSNone
	// TLSConfig overrides certificate checks (tests against self-signed servers).
	TLSConfig *tls.Config

	FromAddr string // INBOX_ADDRESS
	FromName string // INBOX_NAME, the team's display name

	// Spool holds the files replies carry (the bot downloads them there
	// from Slack); they are removed once the reply is done.
	Spool *spool.Spool

	// MaxAttempts bounds retries of temporary failures; then the reply is
	// reported as failed in its thread.
	MaxAttempts int // default 12 (about 3 hours with the backoff below)
	// RetryBase is the wait after the first failed attempt; it doubles
	// with each further one, up to half an hour.
	RetryBase time.Duration // default 5 seconds
	// StillTryingAfter is how long a reply may stay unsent before its
	// thread is told it is late, and why.
	StillTryingAfter time.Duration // default 5 minutes
	// ShutdownGrace is how long a session in flight may go on once Run is
	// cancelled before its connection is cut: enough for a healthy server
	// to answer (a reply cut after its DATA is sent again at the next
	// start), far less than the 60-second SMTP timeout.
	ShutdownGrace time.Duration // default 3 seconds

	Metrics *Metrics // nil: counted nowhere
}

// Sender drains the store's outbox.
type Sender struct {
	cfg    SMTPConfig
	st     *store.Store
	log    *slog.Logger
	health *health
	tokens *tokens // nil: password login or none
}

// NewSender returns a sender; Run starts it.
func NewSender(cfg SMTPConfig, st *store.Store, log *slog.Logger) *Sender {
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.StillTryingAfter <= 0 {
		cfg.StillTryingAfter = 5 * time.Minute
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 3 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	log = log.With("component", "smtp")
	s := &Sender{cfg: cfg, st: st, log: log, health: &health{part: "SMTP", inbox: cfg.Inbox, st: st, log: log}}
	if cfg.OAuth != nil {
		s.tokens = newTokens("SMTP", *cfg.OAuth, log, keptIn(st))
	}
	return s
}

// State says whether the last SMTP session (or start-up check) could
// connect and log in. A recipient refused by the server does not make it
// down: the server works.
func (s *Sender) State() State { return s.health.state() }

// backoff is the wait after the n-th failed attempt.
func (s *Sender) backoff(n int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < n && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Run sends due jobs until ctx is done. It wakes when the store queues a
// reply and when a retry falls due.
func (s *Sender) Run(ctx context.Context) error {
	store.Drive(ctx, s.st.MailKick(), s.log, s.drain)
	return nil
}

// drain sends every due job once and returns when the next one falls due.
func (s *Sender) drain(ctx context.Context) (time.Time, error) {
	var next store.Soonest
	var failed error
	err := s.st.MailJobsEach(func(j *store.MailJob) bool {
		if failed = ctx.Err(); failed != nil {
			return false
		}
		switch {
		case s.cfg.Inbox != "" && j.Inbox != s.cfg.Inbox:
			return true // another inbox's sender sends it
		case j.Held:
			return true // the bot releases it at the end of its hold window
		case j.FilesPending():
			return true // the bot is downloading its files
		}
		now := time.Now()
		if j.NextAttempt.After(now) {
			next.At(j.NextAttempt)
			return true
		}
		if failed = s.attempt(ctx, *j); failed != nil {
			return false
		}
		// A retry may be due later; read the queue again for it.
		next.At(now)
		return true
	})
	if err == nil {
		err = failed
	}
	if err != nil {
		return time.Time{}, err
	}
	return next.Time(), nil
}

// attempt sends one job, recording the attempt before and the outcome after.
func (s *Sender) attempt(ctx context.Context, j store.MailJob) error {
	attempt := j.Attempts + 1
	if err := s.st.BeginMailAttempt(j.Seq, time.Now().Add(s.backoff(attempt))); err != nil {
		return err
	}
	// No customer address in the log: the conversation number finds it.
	log := s.log.With("conv", j.Conv, "seq", j.Seq, "message_id", j.MessageID, "attempt", attempt)
	err := s.send(ctx, log, j)
	switch {
	case errors.Is(err, errFilesLost):
		log.Warn("the reply's files are not in the spool: downloading them again", "err", err)
		return s.st.FilesLost(j.Seq)
	case err == nil:
		log.Info("reply sent", "files", len(j.Files))
		s.cfg.Metrics.RepliesSent.Inc()
		s.cfg.Metrics.ReplyLatency.Observe(time.Since(j.Created).Seconds())
		defer s.dropFiles(j)
		return s.st.MailDone(j.Seq, "")
	case ctx.Err() != nil:
		// Shutting down: the attempt stays recorded and is retried after
		// its backoff, with the same Message-ID.
		return ctx.Err()
	case IsTemporary(err) && attempt < s.cfg.MaxAttempts:
		log.Warn("reply not sent, will retry", "err", err, "in", s.backoff(attempt))
		s.cfg.Metrics.ReplyRetries.Inc()
		if time.Since(j.Created) >= s.cfg.StillTryingAfter {
			if told, err := s.st.MailStillTrying(j.Seq, err.Error()); err != nil {
				return err
			} else if told {
				log.Info("told the thread the reply is late")
			}
		}
		return s.st.MailRetry(j.Seq, time.Now().Add(s.backoff(attempt)), err.Error())
	default:
		log.Error("reply could not be sent", "err", err)
		s.cfg.Metrics.RepliesFailed.Inc()
		defer s.dropFiles(j)
		return s.st.MailDone(j.Seq, err.Error())
	}
}

// IsTemporary reports whether a send error may go away by itself: a 4xx
// reply, or no reply at all (the server could not be reached, the link
// broke). Only a 5xx reply is a final no. Failing to connect or log in is
// never the reply's fault: it is retried even when it needs a change of
// configuration (IsPermanent), which health and the channel then report.
func IsTemporary(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		return true
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		// go-mail classifies only SMTP replies; a link that broke
		// mid-session comes as a SendError without a code.
		return se.IsTemp() || se.ErrorCode() == 0
	}
	return true
}

func (s *Sender) send(ctx context.Context, log *slog.Logger, j store.MailJob) error {
	m, err := s.compose(j)
	if err != nil {
		return &permanentError{err}
	}
	if err := s.attach(m, j); err != nil {
		return err
	}
	sess, done, err := s.dial(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.health.down(problemOf(err), err)
		}
		return err
	}
	defer done()
	s.health.up()
	if limit := sess.sizeLimit(); limit > 0 {
		// Refused before anything is sent: a server would take the
		// message and refuse it at its end, or cut it.
		if size, err := msgSize(m); err != nil {
			sess.close()
			return err
		} else if size > limit {
			sess.close()
			return &permanentError{fmt.Errorf("the mail is %s with its files; the mail server (%s) takes at most %s",
				humanSize(size), s.cfg.Addr, humanSize(limit))}
		}
	}
	err = sess.send(m)
	if cerr := sess.close(); err == nil && cerr != nil && !m.IsDelivered() {
		err = cerr
	}
	if err != nil && m.IsDelivered() {
		// The server took the mail (250 after DATA); what failed is the
		// RSET or QUIT after it. Retrying would send it twice.
		log.Warn("reply delivered; the SMTP session then failed", "err", err)
		return nil
	}
	return err
}

// connect connects and logs in (a ConnError when it cannot), with token
// (XOAUTH2) if not empty. The connection is closed ShutdownGrace after ctx
// is done, so a shutdown does not wait out a slow session; done releases
// that watch.
func (s *Sender) connect(ctx context.Context, token string) (sess *session, done func(), err error) {
	host, portStr, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return nil, nil, &permanentError{fmt.Errorf("SMTP_ADDR %q: %w", s.cfg.Addr, err)}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, &permanentError{fmt.Errorf("SMTP_ADDR %q: bad port", s.cfg.Addr)}
	}
	tc := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		tc = s.cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	var stops []func() bool
	var mu sync.Mutex
	done = func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range stops {
			stop()
		}
		stops = nil
	}
	// Our own dialer, so that ctx can cut the session: go-mail's bounds
	// only the dial. It does the implicit TLS itself, hence no WithSSL.
	dialer := func(dctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{KeepAlive: 30 * time.Second}
		var conn net.Conn
		var err error
		if s.cfg.TLS == TLSImplicit {
			conn, err = (&tls.Dialer{NetDialer: nd, Config: tc}).DialContext(dctx, network, addr)
		} else {
			conn, err = nd.DialContext(dctx, network, addr)
		}
		if err == nil {
			mu.Lock()
			stops = append(stops, context.AfterFunc(ctx, func() {
				t := time.AfterFunc(s.cfg.ShutdownGrace, func() { conn.Close() })
				mu.Lock()
				stops = append(stops, t.Stop)
				mu.Unlock()
			}))
			mu.Unlock()
		}
		return conn, err
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(60 * time.Second),
		mail.WithTLSConfig(tc), mail.WithDialContextFunc(dialer)}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default: // none, or implicit: TLS is up before the greeting
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	switch {
	case token != "":
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthXOAUTH2), mail.WithUsername(s.cfg.Username), mail.WithPassword(token))
	case s.cfg.Username != "":
		// Not AutoDiscover: it judges encryption by go-mail's own TLS
		// dial, which our dialer replaces, and would never pick PLAIN or
		// LOGIN. Those two refuse an unencrypted link by themselves
		// (except to localhost, which configuration allows for relays).
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1,
			mail.SMTPAuthCramMD5, mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	client, err := mail.NewClient(host, opts...)
	if err != nil {
		done()
		return nil, nil, &permanentError{err}
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		done()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, smtpError(&s.cfg, fmt.Errorf("%s: %w", s.cfg.Addr, err))
	}
	return &session{client: client, conn: conn}, done, nil
}

// session is one SMTP connection, logged in.
type session struct {
	client *mail.Client
	conn   *smtp.Client
}

func (ss *session) send(m *mail.Msg) error { return ss.client.SendWithSMTPClient(ss.conn, m) }
func (ss *session) close() error           { return ss.client.CloseWithSMTPClient(ss.conn) }

// sizeLimit is the largest message the server takes (its EHLO SIZE; 0:
// it names none).
func (ss *session) sizeLimit() int64 {
	ok, param := ss.conn.Extension("SIZE")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(param), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// permanentError marks a failure no retry can fix (a malformed address).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// compose builds the reply. Threading: In-Reply-To names the customer's
// mail, References the chain, as one space-separated value (go-mail would
// join several values with ", ", which some clients read as one ID).
func (s *Sender) compose(j store.MailJob) (*mail.Msg, error) {
	m := mail.NewMsg()
	from, err := mailAddress(FromName(j.AgentName, s.cfg.FromName), s.cfg.FromAddr)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to, err := mailAddress(j.To.Name, j.To.Addr)
	if err != nil {
		return nil, fmt.Errorf("to %q: %w", j.To.Addr, err)
	}
	m.FromMailAddress(from)
	m.ToMailAddress(to)
	var cc []*netmail.Address
	for _, a := range j.Cc {
		c, err := mailAddress(a.Name, a.Addr)
		if err != nil {
			return nil, fmt.Errorf("cc %q: %w", a.Addr, err)
		}
		cc = append(cc, c)
	}
	if len(cc) > 0 {
		m.CcMailAddress(cc...)
	}
	m.Subject(j.Subject)
	m.SetMessageIDWithValue(j.MessageID)
	m.SetDateWithValue(j.Created)
	if j.InReplyTo != "" {
		m.SetGenHeader(mail.HeaderInReplyTo, "<"+j.InReplyTo+">")
	}
	if len(j.References) > 0 {
		m.SetGenHeader(mail.HeaderReferences, "<"+strings.Join(j.References, "> <")+">")
	}
	m.SetUserAgent("inboxbot")
	m.SetBodyString(mail.TypeTextPlain, j.Text)
	return m, nil
}

// mailAddress checks addr and pairs it with a display name. go-mail's
// FromFormat and AddToFormat paste the name between quotes and parse the
// result: a name with quotes in it (an agent's Slack name with a nickname
// in quotes) lost them, and one with an odd number of quotes or a
// trailing backslash made the reply fail for good. net/mail quotes or
// encodes the name as needed when the header is written.
func mailAddress(name, addr string) (*netmail.Address, error) {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	return &netmail.Address{Name: name, Address: a.Address}, nil
}

// FromName is the display name of a reply: the agent, then the team, so the
// customer sees who answered and for whom ("Alice Agent (Acme Support)").
func FromName(agent, team string) string {
	switch {
	case agent == "":
		return team
	case team == "":
		return agent
	default:
		return agent + " (" + team + ")"
	}
}
