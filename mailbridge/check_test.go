package mailbridge

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/store"
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

// A refused login at run time is logged at error level, reported in State
// and posted once, however often it is retried; when the password works
// again, that is posted too.
func TestWatcherLoginRevoked(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)
	cfg := testIMAPConfig(srv)
	cfg.AuthRetry = 20 * time.Millisecond
	w := NewWatcher(cfg, st, log)
	runWatcher(t, w)
	waitFor(t, 10*time.Second, "the watcher to be up", func() bool { return w.State().Up })

	srv.SetPassword("changed")
	srv.Restart(t) // drops the session
	waitFor(t, 10*time.Second, "several refused logins", func() bool {
		return strings.Count(logs.String(), "Cannot log in to IMAP") >= 3
	})
	s := w.State()
	if s.Up || !s.Permanent || !strings.HasPrefix(s.Fix, "IMAP_PASSWORD: ") {
		t.Errorf("state %+v, want down for good with the fix", s)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("not logged at error level")
	}
	notices := func() (down, up int) {
		for _, j := range mustSlackJobs(t, st) {
			if j.Kind == store.JobNotice && j.Notice.Part == "IMAP" {
				if j.Notice.Resolved {
					up++
				} else {
					down++
				}
			}
		}
		return down, up
	}
	if down, _ := notices(); down != 1 {
		t.Errorf("%d notices of the outage, want 1", down)
	}

	srv.SetPassword(srv.Password)
	waitFor(t, 10*time.Second, "the watcher to be up again", func() bool { return w.State().Up })
	waitFor(t, 10*time.Second, "the all-clear", func() bool { _, up := notices(); return up == 1 })
	if down, _ := notices(); down != 1 {
		t.Errorf("%d notices of the outage, want 1", down)
	}
}

// The backoff starts afresh after every session that logged in and idled,
// so a server that keeps dropping connections is redialled within a second.
func TestWatcherBackoffResetsAfterLogin(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)
	w := NewWatcher(testIMAPConfig(srv), st, log)
	runWatcher(t, w)
	for i := range 4 {
		waitFor(t, 10*time.Second, "the watcher to be up", func() bool { return w.State().Up })
		srv.Restart(t)
		waitFor(t, 10*time.Second, "the drop to be noticed", func() bool {
			return strings.Count(logs.String(), "IMAP session ended") > i
		})
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "IMAP session ended") && !strings.Contains(line, "in=1s") {
			t.Errorf("reconnect not after 1 s: %s", line)
		}
	}
}

// A shutdown during a session with a server that stopped answering does
// not wait for the SMTP timeout; the reply stays queued for the next start.
func TestSenderShutdownAbortsSession(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	srv.StallNext()
	st := openStore(t)
	log, _ := testLog(t)
	job := queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	stop := runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	waitFor(t, 10*time.Second, "the session to start", func() bool { return srv.Transactions() == 1 })
	stop() // fails the test unless Run returns within 10 s (the SMTP timeout is 60)
	jobs, err := st.MailJobs()
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].MessageID != job.MessageID || jobs[0].Attempts != 1 {
		t.Errorf("outbox after shutdown: %+v", jobs)
	}
}

// A reply that cannot go out for longer than StillTryingAfter gets one
// line in its thread saying so and why.
func TestSenderTellsThreadWhenLate(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	for range 5 {
		srv.FailNext("MAIL", 451, "mailbox server down")
	}
	st := openStore(t)
	log, _ := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	cfg := testSMTPConfig(srv.Addr)
	cfg.RetryBase, cfg.StillTryingAfter = 10*time.Millisecond, 50*time.Millisecond
	runSender(t, NewSender(cfg, st, log))
	waitOutcome(t, st)
	var late []store.SlackJob
	for _, j := range mustSlackJobs(t, st) {
		if j.Kind == store.JobStillTrying {
			late = append(late, j)
		}
	}
	if len(late) != 1 || !strings.Contains(late[0].Error, "mailbox server down") || late[0].ReplyTS == "" {
		t.Errorf("still-trying jobs %+v, want one with the reason", late)
	}
}

func TestSenderLoginRefused(t *testing.T) {
	srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{STARTTLS: true})
	st := openStore(t)
	log, logs := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	cfg := startTLSConfig(srv.Addr, mailtest.SMTPUser, mailtest.SMTPPass)
	cfg.RetryBase = 10 * time.Millisecond
	srv.SetPassword("revoked")
	s := NewSender(cfg, st, log)
	runSender(t, s)
	waitFor(t, 10*time.Second, "a few refused logins", func() bool {
		return strings.Count(logs.String(), "Cannot log in to SMTP") >= 3
	})
	state := s.State()
	if state.Up || !state.Permanent || !strings.HasPrefix(state.Fix, "SMTP_PASSWORD: ") {
		t.Errorf("state %+v", state)
	}
	n := 0
	for _, j := range mustSlackJobs(t, st) {
		if j.Kind == store.JobNotice {
			n++
		}
		if j.Kind == store.JobFailed {
			t.Errorf("reply given up for a login problem: %+v", j)
		}
	}
	if n != 1 {
		t.Errorf("%d notices, want 1", n)
	}
	srv.SetPassword(mailtest.SMTPPass)
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v", out)
	}
	if !s.State().Up {
		t.Errorf("state %+v after a sent reply", s.State())
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
