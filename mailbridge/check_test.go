package mailbridge

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
)

func checkCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func lastCheck(t testing.TB, cs []Check) Check {
	t.Helper()
	if len(cs) == 0 {
		t.Fatal("no checks")
	}
	return cs[len(cs)-1]
}

func TestCheckIMAP(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	t.Run("passes", func(t *testing.T) {
		cs := CheckIMAP(checkCtx(t), testIMAPConfig(srv))
		if len(cs) != 4 {
			t.Fatalf("%d checks, want connection, login, mailbox, IDLE: %+v", len(cs), cs)
		}
		for _, c := range cs {
			if !c.OK {
				t.Errorf("%+v failed", c)
			}
		}
		if !strings.Contains(cs[3].Detail, "supported") || strings.Contains(cs[3].Detail, "not supported") {
			t.Errorf("IDLE check %+v", cs[3])
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := testIMAPConfig(srv)
		cfg.Password = "wrong"
		c := lastCheck(t, CheckIMAP(checkCtx(t), cfg))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "IMAP_PASSWORD: ") || !strings.Contains(c.Name, "login") {
			t.Errorf("%+v, want a permanent login failure naming IMAP_PASSWORD", c)
		}
		if strings.Contains(c.Detail+c.Fix, "wrong") {
			t.Errorf("the password shows: %+v", c)
		}
	})
	t.Run("no such mailbox", func(t *testing.T) {
		cfg := testIMAPConfig(srv)
		cfg.Mailbox = "Support"
		c := lastCheck(t, CheckIMAP(checkCtx(t), cfg))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "IMAP_MAILBOX: ") {
			t.Errorf("%+v, want a permanent failure naming IMAP_MAILBOX", c)
		}
	})
	t.Run("implicit TLS to a plaintext server", func(t *testing.T) {
		cfg := testIMAPConfig(srv)
		cfg.TLS = TLSImplicit
		c := lastCheck(t, CheckIMAP(checkCtx(t), cfg))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "IMAP_TLS: ") {
			t.Errorf("%+v, want a permanent TLS failure naming IMAP_TLS", c)
		}
	})
	t.Run("no IDLE", func(t *testing.T) {
		srv := mailtest.NewIMAPServerOpts(t, mailtest.IMAPOptions{NoIDLE: true})
		c := lastCheck(t, CheckIMAP(checkCtx(t), testIMAPConfig(srv)))
		if !c.OK || !strings.Contains(c.Detail, "polled") {
			t.Errorf("%+v, want a pass that says it polls", c)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		cfg := testIMAPConfig(srv)
		cfg.Addr = "imap.inboxbot.invalid:993"
		c := lastCheck(t, CheckIMAP(checkCtx(t), cfg))
		if c.OK || c.Permanent || !strings.HasPrefix(c.Fix, "IMAP_ADDR: ") || !strings.Contains(c.Fix, "resolve") {
			t.Errorf("%+v, want a temporary failure that points at IMAP_ADDR's host name", c)
		}
	})
}

func TestCheckIMAPTLS(t *testing.T) {
	srv := mailtest.NewIMAPServerOpts(t, mailtest.IMAPOptions{TLS: true})
	cfg := testIMAPConfig(srv)
	cfg.TLS, cfg.TLSConfig = TLSImplicit, mailtest.ClientTLSConfig()
	for _, c := range CheckIMAP(checkCtx(t), cfg) {
		if !c.OK {
			t.Errorf("%+v failed", c)
		}
	}
	// The system's CAs do not know the test certificate.
	cfg.TLSConfig = nil
	c := lastCheck(t, CheckIMAP(checkCtx(t), cfg))
	if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "IMAP_ADDR: ") || !strings.Contains(c.Fix, "certificate") {
		t.Errorf("%+v, want a permanent certificate failure", c)
	}
}

func TestCheckSMTP(t *testing.T) {
	tlsSrv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{STARTTLS: true})
	withAuth := func(addr, pw string) SMTPConfig { return startTLSConfig(addr, mailtest.SMTPUser, pw) }
	if c := lastCheck(t, CheckSMTP(checkCtx(t), withAuth(tlsSrv.Addr, mailtest.SMTPPass))); !c.OK {
		t.Errorf("%+v failed", c)
	}
	c := lastCheck(t, CheckSMTP(checkCtx(t), withAuth(tlsSrv.Addr, "wrong")))
	if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "SMTP_PASSWORD: ") {
		t.Errorf("%+v, want a permanent failure naming SMTP_PASSWORD", c)
	}
	plain := mailtest.NewSMTPServer(t)
	c = lastCheck(t, CheckSMTP(checkCtx(t), withAuth(plain.Addr, mailtest.SMTPPass)))
	if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "SMTP_TLS: ") {
		t.Errorf("%+v, want a permanent failure naming SMTP_TLS", c)
	}
	// A local relay: no TLS, login allowed because it is localhost.
	if c := lastCheck(t, CheckSMTP(checkCtx(t), SMTPConfig{Addr: plain.Addr, TLS: TLSNone, Username: mailtest.SMTPUser, Password: mailtest.SMTPPass})); !c.OK {
		t.Errorf("local relay with login: %+v", c)
	}
	if n := len(tlsSrv.Messages()) + len(plain.Messages()); n != 0 {
		t.Errorf("checks sent %d messages", n)
	}
	c = lastCheck(t, CheckSMTP(checkCtx(t), testSMTPConfig(closedAddr(t))))
	if c.OK || c.Permanent || !strings.HasPrefix(c.Fix, "SMTP_ADDR: ") {
		t.Errorf("%+v, want a temporary failure naming SMTP_ADDR", c)
	}
}

func TestIsPermanent(t *testing.T) {
	if IsPermanent(errors.New("x")) || IsPermanent(nil) {
		t.Error("plain errors are not permanent")
	}
	if !IsPermanent(&ConnError{Permanent: true, Err: errors.New("x")}) {
		t.Error("a permanent ConnError is")
	}
}
