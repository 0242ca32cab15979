package mailtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Credentials accepted by SMTPServer for AUTH PLAIN. Authentication is
// optional: unauthenticated clients may send too.
const (
	SMTPUser = "smtpuser"
	SMTPPass = "smtppass"
)

// Received is a message accepted by SMTPServer.
type Received struct {
	From   string    // envelope sender (MAIL FROM)
	To     []string  // envelope recipients (RCPT TO), in order
	Data   []byte    // raw message as received (dot-unstuffed, CRLF line ends)
	Authed string    // AUTH identity (username), "" if the client did not authenticate
	At     time.Time // when the server accepted it (after DATA)
}

// SMTPOptions configures NewSMTPServerOpts.
type SMTPOptions struct {
	// STARTTLS offers STARTTLS with the package's self-signed certificate
	// (see ClientTLSConfig). Off by default, so clients with an
	// opportunistic TLS policy stay in plaintext.
	STARTTLS bool
	// RequireAuth refuses MAIL FROM from a client that has not logged in
	// (530), like a submission server.
	RequireAuth bool
	// MaxMessageBytes, if set, is advertised as the EHLO SIZE and
	// enforced: a larger message is refused (552).
	MaxMessageBytes int64
}

// SMTPServer is an in-process SMTP server (go-smtp) on 127.0.0.1 that
// records every accepted message and can inject failures.
type SMTPServer struct {
	Addr string // 127.0.0.1:port

	srv  *smtp.Server
	logs logBuffer

	mu           sync.Mutex
	msgs         []Received
	faults       []smtpFault
	transactions int
	arrived      broadcast
	password     string        // what AUTH accepts (SMTPPass until SetPassword)
	requireAuth  bool          // see SMTPOptions.RequireAuth
	stalls       int           // sessions to stall at DATA (see StallNext)
	release      chan struct{} // closed by Close: stalled sessions end
	oauth        *TokenServer  // whose tokens AUTH XOAUTH2 accepts (see AcceptOAuth)
	tokensUsed   []string      // the token of each XOAUTH2 login, in order
}

type smtpFault struct {
	stage string // "MAIL", "RCPT", "DATA"; "" for drop
	code  int
	msg   string
	drop  bool
}

// NewSMTPServer starts an SMTP server without STARTTLS; it is closed by
// t.Cleanup. AUTH PLAIN is offered without TLS (AllowInsecureAuth) and
// accepts SMTPUser/SMTPPass; authentication is optional.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	return NewSMTPServerOpts(t, SMTPOptions{})
}

// NewSMTPServerOpts is NewSMTPServer with options.
func NewSMTPServerOpts(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{password: SMTPPass, requireAuth: o.RequireAuth, release: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxRecipients = 100
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.ErrorLog = &s.logs
	if o.STARTTLS {
		cfg, err := serverTLSConfig()
		if err != nil {
			t.Fatalf("mailtest: TLS certificate: %v", err)
		}
		srv.TLSConfig = cfg
	}
	s.srv = srv
	s.logs.logOnFailure(t, "in-process SMTP server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: SMTP listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			s.logs.Printf("mailtest: SMTP Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.Close()
		<-served
	})
	return s
}

// Close stops listening and drops every connection. Idempotent.
func (s *SMTPServer) Close() {
	s.mu.Lock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
	s.mu.Unlock()
	s.srv.Close() // returns an error when already closed
}

// SetPassword changes the password AUTH accepts for SMTPUser (a password
// changed or revoked on the server).
func (s *SMTPServer) SetPassword(pw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password = pw
}

// AcceptOAuth makes the server offer AUTH XOAUTH2 (besides PLAIN) and
// accept the token server's user with its access tokens while they are
// valid; an expired or revoked one is refused (535).
func (s *SMTPServer) AcceptOAuth(ts *TokenServer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth = ts
}

// TokensUsed lists the access token of each successful XOAUTH2 login, in
// order.
func (s *SMTPServer) TokensUsed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokensUsed...)
}

// StallNext makes the next transaction hang after its message was sent,
// before the reply to DATA, until the server is closed: a server that
// stopped answering mid-session. The message is not recorded.
func (s *SMTPServer) StallNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls++
}

// Messages returns the messages accepted so far, in order.
func (s *SMTPServer) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneReceived(s.msgs)
}

// WaitFor blocks until at least n messages have been accepted and returns
// them all, or returns ctx's error with the messages so far.
func (s *SMTPServer) WaitFor(ctx context.Context, n int) ([]Received, error) {
	for {
		arrived := s.arrived.wait()
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := cloneReceived(s.msgs)
			s.mu.Unlock()
			return msgs, nil
		}
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			msgs := s.Messages()
			return msgs, fmt.Errorf("mailtest: waiting for %d SMTP messages, have %d: %w", n, len(msgs), ctx.Err())
		}
	}
}

// Transactions returns how many SMTP transactions (MAIL FROM commands) the
// server has seen, failed ones included.
func (s *SMTPServer) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transactions
}

// FailNext queues a failure for a future transaction. Faults (FailNext and
// DropAfterDataNext) are consumed in order, one per transaction, when its
// MAIL FROM arrives; the fault then fires at stage: "MAIL" rejects MAIL
// FROM, "RCPT" rejects every RCPT TO of the transaction, "DATA" rejects
// the message after receiving it (not recorded). A 4xx code is a temporary
// failure, 5xx permanent; the client sees an *smtp.SMTPError with that code
// and msg.
func (s *SMTPServer) FailNext(stage string, code int, msg string) {
	stage = strings.ToUpper(stage)
	switch stage {
	case "MAIL", "RCPT", "DATA":
	default:
		panic(fmt.Sprintf("mailtest: FailNext: unknown stage %q (want MAIL, RCPT or DATA)", stage))
	}
	if code < 400 || code > 599 {
		panic(fmt.Sprintf("mailtest: FailNext: code %d is not 4xx or 5xx", code))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, smtpFault{stage: stage, code: code, msg: msg})
}

// DropAfterDataNext queues a fault (see FailNext for the ordering) that
// accepts and records the message of its transaction, then closes the
// connection before the reply to DATA is sent: the client cannot tell
// whether the message was delivered (a crash or lost reply).
func (s *SMTPServer) DropAfterDataNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, smtpFault{drop: true})
}

func (s *SMTPServer) beginTransaction() *smtpFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transactions++
	if len(s.faults) == 0 {
		return nil
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return &f
}

func (s *SMTPServer) record(m Received) {
	m.At = time.Now()
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	s.arrived.notify()
}

func cloneReceived(in []Received) []Received {
	out := make([]Received, len(in))
	for i, m := range in {
		out[i] = Received{
			From:   m.From,
			To:     append([]string(nil), m.To...),
			Data:   append([]byte(nil), m.Data...),
			Authed: m.Authed,
			At:     m.At,
		}
	}
	return out
}

type smtpSession struct {
	srv    *SMTPServer
	conn   *smtp.Conn
	authed string

	from  string
	to    []string
	fault *smtpFault
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (f *smtpFault) err() error {
	return &smtp.SMTPError{Code: f.code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: f.msg}
}

func (s *smtpSession) AuthMechanisms() []string {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.oauth != nil {
		return []string{sasl.Plain, XOAuth2}
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	s.srv.mu.Lock()
	ts := s.srv.oauth
	s.srv.mu.Unlock()
	if mech == XOAuth2 && ts != nil {
		return &xoauth2Server{check: func(user, token string) error {
			if _, ok := ts.Valid(token); !ok || user != ts.User {
				return smtp.ErrAuthFailed
			}
			s.srv.mu.Lock()
			s.srv.tokensUsed = append(s.srv.tokensUsed, token)
			s.srv.mu.Unlock()
			s.authed = user
			return nil
		}}, nil
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.srv.mu.Lock()
		want := s.srv.password
		s.srv.mu.Unlock()
		if username != SMTPUser || password != want || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		s.authed = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.Reset()
	s.srv.mu.Lock()
	mustAuth := s.srv.requireAuth
	s.srv.mu.Unlock()
	if mustAuth && s.authed == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.fault = s.srv.beginTransaction()
	if s.fault != nil && s.fault.stage == "MAIL" {
		return s.fault.err()
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.fault != nil && s.fault.stage == "RCPT" {
		return s.fault.err()
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.fault != nil && s.fault.stage == "DATA" {
		return s.fault.err()
	}
	s.srv.mu.Lock()
	stall := s.srv.stalls > 0
	if stall {
		s.srv.stalls--
	}
	release := s.srv.release
	s.srv.mu.Unlock()
	if stall {
		<-release
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "shutting down"}
	}
	s.srv.record(Received{From: s.from, To: append([]string(nil), s.to...), Data: data, Authed: s.authed})
	if s.fault != nil && s.fault.drop {
		// The whole message has been read; close before the 250 reply.
		s.conn.Conn().Close()
	}
	return nil
}

func (s *smtpSession) Reset() {
	s.from, s.to, s.fault = "", nil, nil
}

func (s *smtpSession) Logout() error { return nil }
