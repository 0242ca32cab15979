package mailbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-imap/v2"
)

// Check is the outcome of one check of a mail server (see CheckIMAP and
// CheckSMTP): what was checked, what was found, and on failure what to
// change and whether it can pass without a change.
type Check struct {
	Name      string
	OK        bool
	Detail    string
	Fix       string // "VAR: what to do"
	Permanent bool
}

func failedCheck(name string, err error) Check {
	c := Check{Name: name, Detail: err.Error()}
	var ce *ConnError
	if errors.As(err, &ce) {
		c.Permanent = ce.Permanent
		c.Fix = ce.Fix
		if ce.Var != "" {
			c.Fix = ce.Var + ": " + ce.Fix
		}
	}
	return c
}

// CheckIMAP connects to the IMAP server as configured, gets an OAuth token
// (if configured), logs in, opens the mailbox and looks for IDLE, changing
// nothing (mail is not even read). It stops at the first step that fails;
// the checks run so far come back in order.
func CheckIMAP(ctx context.Context, cfg IMAPConfig) []Check {
	return NewWatcher(cfg, nil, slog.New(slog.DiscardHandler)).Check(ctx)
}

// Check runs CheckIMAP's checks with the watcher's settings and OAuth
// tokens: the token a start-up check gets is the one Run then logs in
// with, not a second one.
func (w *Watcher) Check(ctx context.Context) []Check {
	cfg := w.cfg
	var out []Check
	name := fmt.Sprintf("IMAP connection to %s (IMAP_TLS=%s)", cfg.Addr, cfg.TLS)
	c, err := w.dial(ctx, make(chan struct{}, 1))
	if err != nil {
		return append(out, failedCheck(name, err))
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	out = append(out, Check{Name: name, OK: true, Detail: tlsDetail(cfg.TLS)})

	if w.tokens != nil {
		check := w.tokens.check(ctx)
		if out = append(out, check); !check.OK {
			return out
		}
	}
	name = "IMAP login as " + cfg.Username
	if _, err := w.login(ctx, c); err != nil {
		return append(out, failedCheck(name, err))
	}
	out = append(out, Check{Name: name, OK: true})

	name = "IMAP mailbox " + cfg.Mailbox
	var sel *imap.SelectData
	err = w.timed(c, func() (err error) {
		sel, err = c.Select(cfg.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		return append(out, failedCheck(name, imapError("mailbox", &cfg, err)))
	}
	out = append(out, Check{Name: name, OK: true, Detail: fmt.Sprintf("%d messages", sel.NumMessages)})

	idle := Check{Name: "IMAP IDLE", OK: true, Detail: "supported: new mail shows at once"}
	if !c.Caps().Has(imap.CapIdle) {
		idle.Detail = fmt.Sprintf("not supported: the mailbox is polled every %v instead", cfg.Poll)
	}
	out = append(out, idle)
	_ = w.timed(c, func() error { return c.Logout().Wait() })
	return out
}

func tlsDetail(mode string) string {
	switch mode {
	case TLSNone:
		return "no TLS"
	case TLSStartTLS:
		return "STARTTLS, certificate verified"
	}
	return "TLS, certificate verified"
}

// CheckSMTP gets an OAuth token (if configured), connects to the SMTP
// server as configured and logs in (when a username is set), then quits:
// no mail is sent. It stops at the first step that fails.
func CheckSMTP(ctx context.Context, cfg SMTPConfig) []Check {
	return NewSender(cfg, nil, slog.New(slog.DiscardHandler)).Check(ctx)
}

// Check runs CheckSMTP's checks with the sender's settings and OAuth
// tokens (the token it gets is the one Run then sends with). When they
// pass, the sender's State is up before its first reply is sent.
func (s *Sender) Check(ctx context.Context) []Check {
	var out []Check
	if s.tokens != nil {
		check := s.tokens.check(ctx)
		if out = append(out, check); !check.OK {
			return out
		}
	}
	name := fmt.Sprintf("SMTP connection to %s (SMTP_TLS=%s)", s.cfg.Addr, s.cfg.TLS)
	if s.cfg.Username != "" {
		name += ", login as " + s.cfg.Username
	}
	sess, done, err := s.dial(ctx)
	if err != nil {
		return append(out, failedCheck(name, err))
	}
	defer done()
	_ = sess.close()
	s.health.up()
	detail := tlsDetail(s.cfg.TLS)
	switch {
	case s.tokens != nil:
		detail += "; XOAUTH2"
	case s.cfg.Username == "":
		detail += "; no login (SMTP_USERNAME empty)"
	}
	return append(out, Check{Name: name, OK: true, Detail: detail})
}
