package mailbridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/textproto"
	"os"
	"strings"
	"syscall"

	"github.com/emersion/go-imap/v2"
	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// ConnError is a failure to reach, secure or log in to a mail server,
// classified: Permanent means no retry can succeed until the configuration
// (or the account on the server) changes: credentials refused, a TLS mode
// that does not match the port, a certificate that does not verify, a
// mailbox that does not exist. Anything else (DNS, a refused or dropped
// connection, a timeout) may pass by itself. It says which variable to
// change and how.
type ConnError struct {
	Server    string // "IMAP" or "SMTP"
	Step      string // "connect", "TLS", "login", "mailbox"
	Permanent bool
	Var       string // the variable to change, for a permanent failure
	Fix       string // what to do about it
	Err       error
}

func (e *ConnError) Error() string { return e.Server + " " + e.Step + ": " + e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// IsPermanent reports whether err says a mail server cannot be used as
// configured (see ConnError). It is about the connection, never about one
// message: a reply refused for its recipient is not a permanent ConnError.
func IsPermanent(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce) && ce.Permanent
}

// tlsProblem recognises TLS failures that retrying cannot fix; it returns
// the fix, or "" for anything else.
func tlsProblem(err error, server, tlsVar, addrVar, addr string) (varName, fix string) {
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &rh):
		return tlsVar, "the server at " + addr + " does not speak TLS from the start: use " + tlsVar + "=starttls (or the server's implicit-TLS port)"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &verify):
		return addrVar, "the " + server + " server's certificate does not verify for " + addr + ": use the host name the certificate is issued to, or give the server a valid certificate"
	case errors.As(err, &alert):
		return tlsVar, "the server refused the TLS handshake: check " + tlsVar + " against the port of " + addrVar
	}
	return "", ""
}

// imapError classifies a failure of IMAP step ("connect", "TLS", "login",
// "mailbox") for cfg.
func imapError(step string, cfg *IMAPConfig, err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		return err
	}
	e := &ConnError{Server: "IMAP", Step: step, Err: err}
	if v, fix := tlsProblem(err, "IMAP", "IMAP_TLS", "IMAP_ADDR", cfg.Addr); fix != "" {
		e.Step, e.Permanent, e.Var, e.Fix = "TLS", true, v, fix
		return e
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type != imap.StatusResponseTypeBye {
		switch {
		case step == "TLS":
			e.Permanent, e.Var = true, "IMAP_TLS"
			e.Fix = "the server refused STARTTLS: use IMAP_TLS=implicit with its TLS port (usually 993)"
		case step == "login" && ie.Code == imap.ResponseCodePrivacyRequired:
			e.Permanent, e.Var = true, "IMAP_TLS"
			e.Fix = "the server allows login only over TLS: set IMAP_TLS to implicit or starttls"
		case step == "login" && (ie.Type == imap.StatusResponseTypeNo || ie.Code == imap.ResponseCodeAuthenticationFailed):
			e.Permanent, e.Var = true, "IMAP_PASSWORD"
			e.Fix = "the server refused the login of IMAP_USERNAME=" + cfg.Username + ": check IMAP_USERNAME and IMAP_PASSWORD (many providers need an app password, see README)"
		case step == "mailbox" && ie.Type == imap.StatusResponseTypeNo:
			e.Permanent, e.Var = true, "IMAP_MAILBOX"
			e.Fix = "the mailbox " + cfg.Mailbox + " cannot be opened: check IMAP_MAILBOX (folder names are case-sensitive, INBOX is the default)"
		}
	}
	if !e.Permanent {
		e.Var, e.Fix = netHint(err, "IMAP_ADDR", cfg.Addr)
	}
	return e
}

// netHint says what to look at for a failure that may pass by itself.
func netHint(err error, addrVar, addr string) (varName, fix string) {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return addrVar, "the host name of " + addr + " does not resolve: check it, and DNS on this machine"
	case errors.Is(err, syscall.ECONNREFUSED):
		return addrVar, "nothing accepts connections on " + addr + ": check the host and port"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return addrVar, "no answer from " + addr + " in time: check host, port and firewalls"
	case errors.As(err, &op):
		return addrVar, "the connection to " + addr + " failed: check the network"
	}
	return "", "retried automatically; if it persists, check the server"
}

// smtpError classifies a failure to connect to or log in to the SMTP server.
func smtpError(cfg *SMTPConfig, err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		return err
	}
	e := &ConnError{Server: "SMTP", Step: "connect", Err: err}
	if v, fix := tlsProblem(err, "SMTP", "SMTP_TLS", "SMTP_ADDR", cfg.Addr); fix != "" {
		e.Step, e.Permanent, e.Var, e.Fix = "TLS", true, v, fix
		return e
	}
	var te *textproto.Error
	msg := err.Error()
	switch {
	case errors.As(err, &te) && (te.Code == 535 || te.Code == 534 || te.Code == 538):
		e.Step, e.Permanent, e.Var = "login", true, "SMTP_PASSWORD"
		e.Fix = "the server refused the login of SMTP_USERNAME=" + cfg.Username + ": check SMTP_USERNAME and SMTP_PASSWORD (many providers need an app password, see README)"
	case errors.As(err, &te) && te.Code == 530:
		e.Step, e.Permanent, e.Var = "login", true, "SMTP_TLS"
		e.Fix = "the server wants TLS before login: set SMTP_TLS to starttls or implicit"
	case strings.Contains(msg, "does not support STARTTLS"):
		e.Step, e.Permanent, e.Var = "TLS", true, "SMTP_TLS"
		e.Fix = "the server at " + cfg.Addr + " offers no STARTTLS: use SMTP_TLS=implicit with its TLS port (usually 465), or none only for a relay on this host"
	case errors.Is(err, smtp.ErrUnencrypted), errors.Is(err, mail.ErrNoSupportedAuthDiscovered),
		errors.Is(err, mail.ErrPlainAuthNotSupported), errors.Is(err, mail.ErrLoginAuthNotSupported),
		strings.Contains(msg, "does not support SMTP AUTH"):
		e.Step, e.Permanent, e.Var = "login", true, "SMTP_USERNAME"
		e.Fix = "the server offers no login this client can use here: leave SMTP_USERNAME empty for a relay that needs none, or use TLS (SMTP_TLS)"
	}
	if !e.Permanent {
		e.Var, e.Fix = netHint(err, "SMTP_ADDR", cfg.Addr)
	}
	return e
}
