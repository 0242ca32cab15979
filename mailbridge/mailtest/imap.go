package mailtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// IMAPOptions configures NewIMAPServerOpts.
type IMAPOptions struct {
	// NoIDLE hides the IDLE capability (and answers an IDLE command with
	// BAD), to test a client's polling fallback.
	NoIDLE bool
	// TLS serves implicit TLS (like port 993) with the package's
	// self-signed certificate (see ClientTLSConfig).
	TLS bool
}

// IMAPServer is an in-process IMAP server (go-imap v2 imapserver with the
// imapmemserver backend) on 127.0.0.1, plaintext only (LOGIN allowed
// without TLS), with one user whose INBOX exists.
//
// It advertises IMAP4rev1 with IDLE, NAMESPACE, UIDPLUS, MOVE and LITERAL+
// (like Dovecot), not IMAP4rev2.
//
// Unlike plain imapmemserver, IDLE re-checks the mailbox when it starts, so
// a message appended just as a client enters IDLE is announced during IDLE
// (real servers behave like that too).
type IMAPServer struct {
	Addr     string // 127.0.0.1:port
	Username string
	Password string

	opts    IMAPOptions
	user    *imapmemserver.User
	changed broadcast // notified after every change to any mailbox
	logs    logBuffer

	mu       sync.Mutex
	srv      *imapserver.Server
	served   chan struct{} // closed when srv.Serve returns
	password string        // what Login accepts now (see SetPassword)
	oauth    *TokenServer  // whose tokens AUTHENTICATE accepts (see AcceptOAuth)
	mechs    []string      // the OAuth mechanisms offered
	logins   []string      // the mechanism of each successful login
	cut      int           // sessions ended for an expired token
}

// NewIMAPServer starts an IMAP server with IDLE; it is closed by t.Cleanup.
func NewIMAPServer(t testing.TB) *IMAPServer {
	t.Helper()
	return NewIMAPServerOpts(t, IMAPOptions{})
}

// NewIMAPServerOpts is NewIMAPServer with options.
func NewIMAPServerOpts(t testing.TB, o IMAPOptions) *IMAPServer {
	t.Helper()
	s := &IMAPServer{
		Username: "bot@example.test",
		Password: randomHex(8),
		opts:     o,
	}
	s.password = s.Password
	s.user = imapmemserver.NewUser(s.Username, s.Password)
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatalf("mailtest: create INBOX: %v", err)
	}
	s.logs.logOnFailure(t, "in-process IMAP server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: IMAP listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

func (s *IMAPServer) serve(ln net.Listener) {
	caps := imap.CapSet{
		imap.CapIMAP4rev1:   {},
		imap.CapNamespace:   {},
		imap.CapUIDPlus:     {},
		imap.CapMove:        {},
		imap.CapLiteralPlus: {},
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(conn *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{srv: s, conn: conn}, nil, nil
		},
		Caps:         caps,
		Logger:       &s.logs,
		InsecureAuth: true,
	})
	if s.opts.NoIDLE {
		ln = noIdleListener{ln}
	}
	if s.opts.TLS {
		cfg, err := serverTLSConfig()
		if err != nil {
			panic("mailtest: TLS certificate: " + err.Error())
		}
		ln = tls.NewListener(ln, cfg)
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.srv, s.served = srv, served
	s.mu.Unlock()
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			s.logs.Printf("mailtest: IMAP Serve: %v", err)
		}
	}()
}

// Close stops listening and drops every connection (to simulate losing the
// server). The messages are kept; Restart serves them again on the same
// address. Close is idempotent.
func (s *IMAPServer) Close() {
	s.mu.Lock()
	srv, served := s.srv, s.served
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-served
}

// Restart listens again on the same address after Close, with the same
// user and mailboxes (fails the test if the port was taken meanwhile).
// Call it from the test goroutine.
func (s *IMAPServer) Restart(t testing.TB) {
	t.Helper()
	s.Close()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatalf("mailtest: IMAP restart on %s: %v", s.Addr, err)
	}
	s.serve(ln)
}

// Append stores raw in mailbox (created if missing) through a real IMAP
// connection (LOGIN, APPEND, LOGOUT), so IDLE clients are notified the
// normal way. Call it from the test goroutine (it uses t.Fatal).
func (s *IMAPServer) Append(t testing.TB, mailbox string, raw []byte) {
	t.Helper()
	if err := s.appendRaw(mailbox, raw); err != nil {
		t.Fatalf("mailtest: IMAP append to %q: %v", mailbox, err)
	}
}

// SetPassword changes the password the server accepts from now on (a
// password changed or an app password revoked); sessions already logged
// in go on until the client reconnects (see Restart).
func (s *IMAPServer) SetPassword(pw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password = pw
}

// AcceptOAuth makes the server offer the SASL mechanisms mechs (default
// XOAUTH2 and OAUTHBEARER, like Gmail; Microsoft 365 offers XOAUTH2 alone)
// and accept the user's access tokens from ts while they are valid. A
// session ends (BYE, as Microsoft 365 does) at its first command after its
// token expired, or at once while it idles, and when ts revokes its tokens.
// LOGIN and AUTHENTICATE PLAIN keep working with the password.
func (s *IMAPServer) AcceptOAuth(ts *TokenServer, mechs ...string) {
	if len(mechs) == 0 {
		mechs = []string{XOAuth2, sasl.OAuthBearer}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth, s.mechs = ts, mechs
}

// Logins lists the mechanism of each successful login so far, in order:
// "LOGIN", "PLAIN", "XOAUTH2" or "OAUTHBEARER".
func (s *IMAPServer) Logins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logins...)
}

// TokenCuts is how many sessions the server ended because their OAuth
// token had expired or was revoked.
func (s *IMAPServer) TokenCuts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

func (s *IMAPServer) loggedIn(mech string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins = append(s.logins, mech)
}

func (s *IMAPServer) currentPassword() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.password
}

func (s *IMAPServer) appendRaw(mailbox string, raw []byte) error {
	var c *imapclient.Client
	var err error
	if s.opts.TLS {
		c, err = imapclient.DialTLS(s.Addr, &imapclient.Options{TLSConfig: ClientTLSConfig()})
	} else {
		c, err = imapclient.DialInsecure(s.Addr, nil)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(s.Username, s.currentPassword()).Wait(); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if _, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		if err := c.Create(mailbox, nil).Wait(); err != nil {
			var imapErr *imap.Error
			if !errors.As(err, &imapErr) || imapErr.Code != imap.ResponseCodeAlreadyExists {
				return fmt.Errorf("create: %w", err)
			}
		}
	}
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		cmd.Close()
		return fmt.Errorf("append: %w", err)
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if _, err := cmd.Wait(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	return c.Logout().Wait()
}

// imapSession wraps the imapmemserver session: login against the one user,
// a change notification after each mutating command, and an IDLE without
// the lost-update window of imapmemserver's (whose IDLE only reacts to
// updates queued after its goroutine registered, so an APPEND landing
// between "+ idling" and that registration was announced only at DONE).
type imapSession struct {
	*imapmemserver.UserSession // nil until Login
	srv                        *IMAPServer
	conn                       *imapserver.Conn
	tokens                     *TokenServer // set with token by an OAuth login
	token                      string
}

var (
	_ imapserver.SessionIMAP4rev2 = (*imapSession)(nil)
	_ imapserver.SessionSASL      = (*imapSession)(nil)
)

func (s *imapSession) Close() error {
	if s.UserSession == nil {
		return nil
	}
	return s.UserSession.Close()
}

func (s *imapSession) Login(username, password string) error {
	return s.login("LOGIN", username, password)
}

func (s *imapSession) login(mech, username, password string) error {
	if password != s.srv.currentPassword() {
		return imapserver.ErrAuthFailed
	}
	if err := s.srv.user.Login(username, s.srv.Password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.srv.user)
	s.srv.loggedIn(mech)
	return nil
}

func (s *imapSession) AuthenticateMechanisms() []string {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.oauth == nil {
		return []string{sasl.Plain}
	}
	return append([]string{sasl.Plain}, s.srv.mechs...)
}

func (s *imapSession) Authenticate(mech string) (sasl.Server, error) {
	s.srv.mu.Lock()
	ts, offered := s.srv.oauth, slices.Contains(s.srv.mechs, mech)
	s.srv.mu.Unlock()
	check := func(user, token string) error { return s.tokenLogin(ts, mech, user, token) }
	switch {
	case mech == sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return imapserver.ErrAuthFailed
			}
			return s.login(sasl.Plain, username, password)
		}), nil
	case ts != nil && offered && mech == XOAuth2:
		return &xoauth2Server{check: check}, nil
	case ts != nil && offered && mech == sasl.OAuthBearer:
		return oauthBearerServer(check, imapserver.ErrAuthFailed), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

func (s *imapSession) tokenLogin(ts *TokenServer, mech, user, token string) error {
	if _, ok := ts.Valid(token); !ok || user != s.srv.Username || user != ts.User {
		return imapserver.ErrAuthFailed
	}
	if err := s.srv.user.Login(user, s.srv.Password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.srv.user)
	s.tokens, s.token = ts, token
	s.srv.loggedIn(mech)
	return nil
}

// errTokenExpired ends a session whose token is no longer valid.
var errTokenExpired = errors.New("mailtest: session token expired")

// expired ends the session if it was logged in with a token that is no
// longer valid.
func (s *imapSession) expired() error {
	if s.tokens == nil {
		return nil
	}
	if _, ok := s.tokens.Valid(s.token); ok {
		return nil
	}
	s.srv.mu.Lock()
	s.srv.cut++
	s.srv.mu.Unlock()
	s.conn.Bye("Session invalidated - AccessTokenExpired")
	return errTokenExpired
}

func (s *imapSession) Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if err := s.expired(); err != nil {
		return nil, err
	}
	return s.UserSession.Select(mailbox, options)
}

func (s *imapSession) Status(mailbox string, options *imap.StatusOptions) (*imap.StatusData, error) {
	if err := s.expired(); err != nil {
		return nil, err
	}
	return s.UserSession.Status(mailbox, options)
}

func (s *imapSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	if err := s.expired(); err != nil {
		return nil, err
	}
	return s.UserSession.Search(kind, criteria, options)
}

func (s *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if err := s.expired(); err != nil {
		return err
	}
	return s.UserSession.Fetch(w, numSet, options)
}

func (s *imapSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if err := s.expired(); err != nil {
		return err
	}
	return s.UserSession.Poll(w, allowExpunge)
}

func (s *imapSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	defer s.srv.changed.notify()
	return s.UserSession.Append(mailbox, r, options)
}

func (s *imapSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	defer s.srv.changed.notify()
	return s.UserSession.Copy(numSet, dest)
}

func (s *imapSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	defer s.srv.changed.notify()
	return s.UserSession.Move(w, numSet, dest)
}

func (s *imapSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	defer s.srv.changed.notify()
	return s.UserSession.Expunge(w, uids)
}

func (s *imapSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	defer s.srv.changed.notify()
	return s.UserSession.Store(w, numSet, flags, options)
}

func (s *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	var expiry <-chan time.Time
	var revoked <-chan struct{}
	if s.tokens != nil {
		revoked = s.tokens.watch() // before the check: no revocation can slip between
		exp, ok := s.tokens.Valid(s.token)
		if !ok {
			return s.expired()
		}
		t := time.NewTimer(time.Until(exp))
		defer t.Stop()
		expiry = t.C
	}
	for {
		changed := s.srv.changed.wait() // before Poll: no update can slip between
		if err := s.UserSession.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stop:
			return nil
		case <-expiry:
			if err := s.expired(); err != nil {
				return err
			}
			expiry = nil
		case <-revoked:
			revoked = s.tokens.watch()
			if err := s.expired(); err != nil {
				return err
			}
		}
	}
}

// noIdleListener wraps accepted connections so the server looks like one
// without IDLE: the IDLE capability is removed from CAPABILITY responses and
// an IDLE command is renamed so the server answers "BAD Unknown command".
type noIdleListener struct{ net.Listener }

func (l noIdleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &noIdleConn{Conn: c, br: bufio.NewReader(c)}, nil
}

var (
	idleCommandRe = regexp.MustCompile(`(?i)^([^ ]+) IDLE\r?\n$`)
	capLineRe     = regexp.MustCompile(`^(\* CAPABILITY |\* OK \[CAPABILITY |[^ ]+ OK \[CAPABILITY )`)
	idleCapRe     = regexp.MustCompile(` IDLE([ \]\r])`)
)

type noIdleConn struct {
	net.Conn
	br      *bufio.Reader
	pending []byte // rest of the current client line
}

// Read hands the server one client line at a time, so IDLE commands can be
// recognised.
func (c *noIdleConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		line, err := c.br.ReadSlice('\n')
		if len(line) == 0 {
			return 0, err
		}
		if err == nil {
			if m := idleCommandRe.FindSubmatch(line); m != nil {
				line = append(append([]byte(nil), m[1]...), " XIDLE-UNSUPPORTED\r\n"...)
			}
		}
		c.pending = append(c.pending[:0], line...)
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *noIdleConn) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte("CAPABILITY")) {
		return c.Conn.Write(p)
	}
	lines := bytes.SplitAfter(p, []byte("\n"))
	for i, line := range lines {
		if capLineRe.Match(line) {
			lines[i] = idleCapRe.ReplaceAll(line, []byte("$1"))
		}
	}
	if _, err := c.Conn.Write(bytes.Join(lines, nil)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
