package mailtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func testMessage(subject string) []byte {
	return []byte("From: Alice <alice@example.com>\r\n" +
		"To: support@example.test\r\n" +
		"Subject: " + subject + "\r\n" +
		"Message-Id: <" + randomHex(6) + "@example.com>\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"\r\n" +
		"Hello from " + subject + ".\r\n")
}

// imapConn is an imapclient connection whose EXISTS updates are reported
// on exists.
type imapConn struct {
	*imapclient.Client
	exists chan uint32
}

type dialMode int

const (
	plain dialMode = iota
	implicitTLS
)

func dialIMAP(t *testing.T, addr string, mode dialMode, tlsConfig *tls.Config) *imapConn {
	t.Helper()
	ic := &imapConn{exists: make(chan uint32, 1000)}
	opts := &imapclient.Options{
		TLSConfig: tlsConfig,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					select {
					case ic.exists <- *data.NumMessages:
					default:
					}
				}
			},
		},
	}
	var err error
	switch mode {
	case implicitTLS:
		ic.Client, err = imapclient.DialTLS(addr, opts)
	default:
		ic.Client, err = imapclient.DialInsecure(addr, opts)
	}
	if err != nil {
		t.Fatalf("dial IMAP %s: %v", addr, err)
	}
	t.Cleanup(func() { ic.Close() })
	return ic
}

func (ic *imapConn) loginSelect(t *testing.T, user, pass string) *imap.SelectData {
	t.Helper()
	if err := ic.Login(user, pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT INBOX: %v", err)
	}
	return sel
}

// waitExists waits for an EXISTS update reporting at least n messages.
func (ic *imapConn) waitExists(t *testing.T, n uint32, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-ic.exists:
			if got >= n {
				return
			}
		case <-deadline:
			t.Fatalf("no EXISTS >= %d within %v", n, timeout)
		}
	}
}

// fetchBody returns the full raw message with sequence number seq.
func (ic *imapConn) fetchBody(t *testing.T, seq uint32) []byte {
	t.Helper()
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := ic.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("FETCH %d: %v", seq, err)
	}
	if len(msgs) != 1 {
		t.Fatalf("FETCH %d: got %d messages", seq, len(msgs))
	}
	return msgs[0].FindBodySection(section)
}

func TestIMAPServerIdleSeesAppend(t *testing.T) {
	s := NewIMAPServer(t)
	c := dialIMAP(t, s.Addr, plain, nil)
	if sel := c.loginSelect(t, s.Username, s.Password); sel.NumMessages != 0 {
		t.Fatalf("fresh INBOX has %d messages", sel.NumMessages)
	}
	if !c.Caps().Has(imap.CapIdle) {
		t.Fatalf("IDLE not advertised: %v", c.Caps())
	}
	msg := testMessage("idle test")
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	s.Append(t, "INBOX", msg)
	c.waitExists(t, 1, 5*time.Second)
	if err := idle.Close(); err != nil {
		t.Fatalf("IDLE close: %v", err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	if got := c.fetchBody(t, 1); !bytes.Equal(got, msg) {
		t.Fatalf("fetched %q, want %q", got, msg)
	}
}

// An APPEND right after the client entered IDLE must be announced during
// IDLE (plain imapmemserver loses it until DONE about 1 time in 10).
func TestIMAPServerIdleNoLostUpdates(t *testing.T) {
	s := NewIMAPServer(t)
	c := dialIMAP(t, s.Addr, plain, nil)
	c.loginSelect(t, s.Username, s.Password)
	for i := uint32(1); i <= 30; i++ {
		idle, err := c.Idle()
		if err != nil {
			t.Fatalf("IDLE: %v", err)
		}
		s.Append(t, "INBOX", testMessage(fmt.Sprint("race ", i)))
		c.waitExists(t, i, 2*time.Second)
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIMAPServerAppendCreatesMailbox(t *testing.T) {
	s := NewIMAPServer(t)
	s.Append(t, "Archive/2024", testMessage("archived"))
	s.Append(t, "Archive/2024", testMessage("archived too"))
	c := dialIMAP(t, s.Addr, plain, nil)
	c.loginSelect(t, s.Username, s.Password)
	st, err := c.Status("Archive/2024", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS: %v", err)
	}
	if st.NumMessages == nil || *st.NumMessages != 2 {
		t.Fatalf("Archive/2024 has %v messages, want 2", st.NumMessages)
	}
}

func TestIMAPServerNoIDLE(t *testing.T) {
	s := NewIMAPServerOpts(t, IMAPOptions{NoIDLE: true})
	c := dialIMAP(t, s.Addr, plain, nil)
	c.loginSelect(t, s.Username, s.Password)
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatalf("CAPABILITY: %v", err)
	}
	if caps.Has(imap.CapIdle) || c.Caps().Has(imap.CapIdle) {
		t.Fatalf("IDLE advertised: %v", caps)
	}
	if !caps.Has(imap.CapIMAP4rev1) || !caps.Has(imap.CapUIDPlus) {
		t.Fatalf("capabilities lost: %v", caps)
	}
	if idle, err := c.Idle(); err == nil {
		idle.Close()
		t.Fatal("IDLE accepted by a server without IDLE")
	}
	// Polling still works: NOOP reports the new message.
	s.Append(t, "INBOX", testMessage("polled"))
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP: %v", err)
	}
	c.waitExists(t, 1, time.Second)
}

func TestIMAPServerCloseRestart(t *testing.T) {
	s := NewIMAPServer(t)
	s.Append(t, "INBOX", testMessage("kept"))
	c := dialIMAP(t, s.Addr, plain, nil)
	c.loginSelect(t, s.Username, s.Password)

	s.Close()
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("client connection not dropped by Close")
	}
	if _, err := imapclient.DialInsecure(s.Addr, nil); err == nil {
		t.Fatal("dial succeeded while the server is closed")
	}

	s.Restart(t)
	c2 := dialIMAP(t, s.Addr, plain, nil)
	if sel := c2.loginSelect(t, s.Username, s.Password); sel.NumMessages != 1 {
		t.Fatalf("after restart INBOX has %d messages, want 1", sel.NumMessages)
	}
}

// sendSMTP runs one transaction on a fresh connection.
func sendSMTP(addr string, auth sasl.Client, from string, to []string, data []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(data)); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestSMTPServerRecords(t *testing.T) {
	s := NewSMTPServer(t)
	msg1, msg2 := testMessage("one"), testMessage("two")
	if err := sendSMTP(s.Addr, sasl.NewPlainClient("", SMTPUser, SMTPPass), "support@example.test",
		[]string{"a@example.com", "b@example.com"}, msg1); err != nil {
		t.Fatalf("send with auth: %v", err)
	}
	if err := sendSMTP(s.Addr, nil, "support@example.test", []string{"c@example.com"}, msg2); err != nil {
		t.Fatalf("send without auth: %v", err)
	}
	if err := sendSMTP(s.Addr, sasl.NewPlainClient("", SMTPUser, "wrong"), "x@example.test", []string{"c@example.com"}, msg2); smtpCode(err) != 535 {
		t.Fatalf("bad password: got %v, want 535", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.WaitFor(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d messages", len(got))
	}
	if got[0].From != "support@example.test" || strings.Join(got[0].To, ",") != "a@example.com,b@example.com" ||
		got[0].Authed != SMTPUser || !bytes.Equal(got[0].Data, msg1) {
		t.Errorf("message 1 = %+v", got[0])
	}
	if got[1].Authed != "" || strings.Join(got[1].To, ",") != "c@example.com" || !bytes.Equal(got[1].Data, msg2) {
		t.Errorf("message 2 = %+v", got[1])
	}
	if n := s.Transactions(); n != 2 {
		t.Errorf("Transactions() = %d, want 2", n)
	}
	// Messages returns copies.
	s.Messages()[0].Data[0] = 'X'
	if s.Messages()[0].Data[0] == 'X' {
		t.Error("Messages() exposes internal buffers")
	}
}

func TestSMTPServerWaitFor(t *testing.T) {
	s := NewSMTPServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitFor(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor on empty server: %v", err)
	}
	done := make(chan []Received, 1)
	go func() {
		got, _ := s.WaitFor(context.Background(), 3)
		done <- got
	}()
	for i := range 3 {
		if err := sendSMTP(s.Addr, nil, "a@example.test", []string{"b@example.com"}, testMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-done:
		if len(got) != 3 {
			t.Fatalf("WaitFor returned %d messages", len(got))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitFor did not return")
	}
}

func TestSMTPServerFaults(t *testing.T) {
	s := NewSMTPServer(t)
	s.FailNext("MAIL", 451, "try later")
	s.FailNext("RCPT", 550, "no such user")
	s.FailNext("DATA", 452, "disk full")
	s.DropAfterDataNext()
	s.FailNext("DATA", 554, "spam")

	send := func(subject string) error {
		return sendSMTP(s.Addr, nil, "support@example.test", []string{"customer@example.com"}, testMessage(subject))
	}
	for _, tc := range []struct {
		subject string
		code    int
	}{{"mail", 451}, {"rcpt", 550}, {"data", 452}} {
		err := send(tc.subject)
		if smtpCode(err) != tc.code {
			t.Fatalf("%s: got %v, want SMTP %d", tc.subject, err, tc.code)
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Temporary() != (tc.code < 500) {
			t.Errorf("%s: Temporary() = %v", tc.subject, se.Temporary())
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages recorded after failures", n)
	}

	// Lost reply: the client sees a broken connection, not an SMTP reply,
	// but the message was accepted.
	err := send("dropped")
	if err == nil || smtpCode(err) != 0 {
		t.Fatalf("dropped reply: got %v, want a connection error", err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || !bytes.Contains(msgs[0].Data, []byte("Subject: dropped")) {
		t.Fatalf("dropped message not recorded: %+v", msgs)
	}

	if err := send("spam"); smtpCode(err) != 554 {
		t.Fatalf("got %v, want 554", err)
	}
	// Faults are used up: the next one goes through.
	if err := send("ok"); err != nil {
		t.Fatalf("after faults: %v", err)
	}
	if n := len(s.Messages()); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
	if n := s.Transactions(); n != 6 {
		t.Fatalf("Transactions() = %d, want 6", n)
	}
}

func TestSMTPServerSTARTTLS(t *testing.T) {
	s := NewSMTPServerOpts(t, SMTPOptions{STARTTLS: true})
	c, err := smtp.DialStartTLS(s.Addr, ClientTLSConfig()) // verifies the certificate
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", SMTPUser, SMTPPass)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("support@example.test", []string{"c@example.com"}, bytes.NewReader(testMessage("tls"))); err != nil {
		t.Fatal(err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Authed != SMTPUser {
		t.Fatalf("messages: %+v", msgs)
	}
}

func TestDovecot(t *testing.T) {
	d := StartDovecot(t)

	// Plaintext, then implicit TLS with and without verification.
	c := dialIMAP(t, d.IMAPAddr, plain, nil)
	if sel := c.loginSelect(t, d.Username, d.Password); sel.NumMessages != 0 {
		t.Fatalf("fresh INBOX has %d messages", sel.NumMessages)
	}
	for _, cfg := range []*tls.Config{{InsecureSkipVerify: true}, ClientTLSConfig()} {
		ct := dialIMAP(t, d.IMAPSAddr, implicitTLS, cfg)
		ct.loginSelect(t, d.Username, d.Password)
		if err := ct.Logout().Wait(); err != nil {
			t.Fatalf("LOGOUT: %v", err)
		}
	}
	if err := dialIMAP(t, d.IMAPAddr, plain, nil).Login(d.Username, "wrong").Wait(); err == nil {
		t.Fatal("LOGIN with a wrong password succeeded")
	}

	if !c.Caps().Has(imap.CapIdle) {
		t.Fatalf("Dovecot without IDLE? %v", c.Caps())
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	msg := testMessage("delivered")
	start := time.Now()
	d.Deliver(t, msg)
	c.waitExists(t, 1, 10*time.Second)
	t.Logf("IDLE saw the delivery %v after Deliver began", time.Since(start).Round(time.Millisecond))
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	got := c.fetchBody(t, 1)
	if !bytes.Contains(got, []byte("Subject: delivered")) || !bytes.Contains(got, []byte("Hello from delivered.")) {
		t.Fatalf("fetched %q", got)
	}
}

func TestPostfix(t *testing.T) {
	d := StartDovecot(t)
	p := StartPostfix(t, d)

	c := dialIMAP(t, d.IMAPAddr, plain, nil)
	c.loginSelect(t, d.Username, d.Password)
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}

	// Submission: STARTTLS (verified), AUTH through Dovecot, one message to
	// the Dovecot user and one to the outside world.
	sc, err := smtp.DialStartTLS(p.SMTPAddr, ClientTLSConfig())
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer sc.Close()
	if err := sc.Auth(sasl.NewPlainClient("", p.Username, p.Password)); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	start := time.Now()
	inbound := testMessage("to the inbox")
	if err := sc.SendMail("customer@example.com", []string{d.Address}, bytes.NewReader(inbound)); err != nil {
		t.Fatalf("send to %s: %v", d.Address, err)
	}
	outbound := testMessage("to a customer")
	if err := sc.SendMail(d.Address, []string{"customer@example.com"}, bytes.NewReader(outbound)); err != nil {
		t.Fatalf("send to customer: %v", err)
	}
	if err := sc.Quit(); err != nil {
		t.Fatal(err)
	}

	c.waitExists(t, 1, 10*time.Second)
	t.Logf("Dovecot IDLE saw the Postfix delivery after %v", time.Since(start).Round(time.Millisecond))
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := c.fetchBody(t, 1); !bytes.Contains(got, []byte("Subject: to the inbox")) {
		t.Fatalf("INBOX message: %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := p.WaitOutside(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !bytes.Contains(out[0], []byte("Subject: to a customer")) ||
		!bytes.Contains(out[0], []byte("Delivered-To: customer@example.com")) {
		t.Fatalf("outside messages: %q", out)
	}

	// Without AUTH, Postfix is only the MX of Dovecot's domain.
	if err := sendSMTP(p.SMTPAddr, nil, "x@example.org", []string{"customer@example.com"}, outbound); smtpCode(err) != 554 {
		t.Errorf("unauthenticated relay: got %v, want 554 Relay access denied", err)
	}
	if err := sendSMTP(p.SMTPAddr, nil, "x@example.org", []string{"nobody@" + Domain}, outbound); smtpCode(err) != 550 {
		t.Errorf("unknown local user: got %v, want 550", err)
	}
	if err := sendSMTP(p.SMTPAddr, sasl.NewPlainClient("", p.Username, p.Password), d.Address, []string{"customer@example.com"}, outbound); err == nil {
		t.Error("AUTH accepted without TLS")
	}
	if err := sendSMTP(p.SMTPAddr, nil, "x@example.org", []string{d.Address}, inbound); err != nil {
		t.Errorf("unauthenticated inbound mail: %v", err)
	}
}

// recordingTB records Skipf and Fatalf instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                           {}
func (r *recordingTB) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestSkipOrFail(t *testing.T) {
	t.Setenv(RequireRealServersEnv, "")
	r := &recordingTB{TB: t}
	skipOrFail(r, "dovecot not installed")
	if r.fatal != "" || !strings.Contains(r.skipped, "dovecot not installed") {
		t.Errorf("without %s: skipped=%q fatal=%q", RequireRealServersEnv, r.skipped, r.fatal)
	}
	t.Setenv(RequireRealServersEnv, "1")
	r = &recordingTB{TB: t}
	skipOrFail(r, "dovecot not installed")
	if r.skipped != "" || !strings.Contains(r.fatal, "dovecot not installed") {
		t.Errorf("with %s=1: skipped=%q fatal=%q", RequireRealServersEnv, r.skipped, r.fatal)
	}
}
