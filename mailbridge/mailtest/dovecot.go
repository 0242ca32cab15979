package mailtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Dovecot is a real Dovecot IMAP server (Debian package dovecot-imapd) run
// as a child of the test process with a private configuration: one
// passwd-file user with a maildir, IMAP on 127.0.0.1 in plaintext (LOGIN
// allowed without TLS) and with implicit TLS (the package's self-signed
// certificate).
type Dovecot struct {
	IMAPAddr  string // plaintext IMAP (STARTTLS offered), 127.0.0.1:port
	IMAPSAddr string // implicit TLS, 127.0.0.1:port
	Username  string // login name; equal to Address
	Password  string
	Address   string // the user's email address, support@example.test

	dir        string // private root: config, run/, mail/, logs
	confPath   string
	home       string // the user's home; the maildir is home/Maildir
	maildir    string
	authSocket string // SASL socket for Postfix (smtpd_sasl_type = dovecot)
	ldaPath    string
	mailUID    int
	mailGID    int
	logPath    string
}

// Domain is the mail domain of the Dovecot user.
const Domain = "example.test"

// StartDovecot starts Dovecot and waits until both IMAP ports greet. It
// skips the test if Dovecot is not installed or the test does not run as
// root (fails instead with INBOXBOT_REQUIRE_REAL_SERVERS=1). The server is
// stopped by t.Cleanup and its log printed if the test failed.
func StartDovecot(t testing.TB) *Dovecot {
	t.Helper()
	dovecotBin, ok := findBinary("dovecot", "/usr/sbin", "/usr/local/sbin")
	if !ok {
		skipOrFail(t, "dovecot not installed (apt-get install dovecot-imapd)")
	}
	lda, ok := findDovecotLDA()
	if !ok {
		skipOrFail(t, "dovecot-lda not found (package dovecot-core)")
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "StartDovecot needs root (it runs dovecot with its own users)")
	}
	start := time.Now()
	uid, gid, err := systemUser("mail")
	if err != nil {
		t.Fatalf("mailtest: dovecot: looking up user mail: %v", err)
	}

	d := &Dovecot{
		Username: "support@" + Domain,
		Address:  "support@" + Domain,
		Password: randomHex(8),
		mailUID:  uid,
		mailGID:  gid,
	}
	d.dir = shortTempDir(t, "mtdc")
	d.confPath = filepath.Join(d.dir, "dovecot.conf")
	d.home = filepath.Join(d.dir, "mail", "support")
	d.maildir = filepath.Join(d.home, "Maildir")
	d.logPath = filepath.Join(d.dir, "dovecot.log")
	runDir := filepath.Join(d.dir, "run")
	d.authSocket = filepath.Join(runDir, "auth-postfix")
	stdoutLog := filepath.Join(d.dir, "stdout.log")
	logFilesOnFailure(t, "dovecot", stdoutLog, d.logPath)

	if err := loadTestCert(); err != nil {
		t.Fatalf("mailtest: TLS certificate: %v", err)
	}
	certPath := filepath.Join(d.dir, "cert.pem")
	keyPath := filepath.Join(d.dir, "key.pem")
	usersPath := filepath.Join(d.dir, "users")
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{certPath, testCert.certPEM, 0o644},
		{keyPath, testCert.keyPEM, 0o600},
		// passwd-file: user:password:uid:gid:gecos:home:shell:extra
		{usersPath, fmt.Appendf(nil, "%s:{PLAIN}%s:%d:%d::%s::\n", d.Username, d.Password, uid, gid, d.home), 0o644},
	}
	for _, f := range files {
		if err := writeFile(f.path, f.data, f.mode); err != nil {
			t.Fatalf("mailtest: dovecot: %v", err)
		}
	}
	// The maildir is written by the mail user: Dovecot's imap and lda
	// processes, and Postfix's virtual(8).
	if err := mkdirOwned(0, 0, 0o755, filepath.Join(d.dir, "mail"), filepath.Join(d.dir, "state")); err != nil {
		t.Fatalf("mailtest: dovecot: %v", err)
	}
	if err := mkdirOwned(uid, gid, 0o700, d.home, d.maildir,
		filepath.Join(d.maildir, "cur"), filepath.Join(d.maildir, "new"), filepath.Join(d.maildir, "tmp")); err != nil {
		t.Fatalf("mailtest: dovecot: %v", err)
	}
	d.ldaPath = lda

	err = retryOnPortClash(t, "dovecot", []string{stdoutLog, d.logPath}, func() error {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		d.IMAPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		d.IMAPSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
		conf := dovecotConf(d, runDir, certPath, keyPath, usersPath, ports[0], ports[1])
		if err := writeFile(d.confPath, []byte(conf), 0o644); err != nil {
			return err
		}
		// Not graceful: Dovecot's master takes 1 s to stop on SIGTERM, and
		// a SIGTERM to the whole group fills the log with "Killed with
		// signal 15".
		dm, err := startDaemon(t, "dovecot", false, stdoutLog, dovecotBin, "-F", "-c", d.confPath)
		if err != nil {
			return err
		}
		if err := waitGreeting(dm, d.IMAPAddr, false, "* OK", 10*time.Second); err != nil {
			dm.stop()
			return err
		}
		if err := waitGreeting(dm, d.IMAPSAddr, true, "* OK", 10*time.Second); err != nil {
			dm.stop()
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	t.Logf("mailtest: dovecot ready on %s (imaps %s) in %v", d.IMAPAddr, d.IMAPSAddr, time.Since(start).Round(time.Millisecond))
	return d
}

func dovecotConf(d *Dovecot, runDir, certPath, keyPath, usersPath string, imapPort, imapsPort int) string {
	return fmt.Sprintf(`# Generated by mailtest; private test instance.
instance_name = mailtest-%[1]s
base_dir = %[2]s
state_dir = %[3]s
log_path = %[4]s
info_log_path = %[4]s
protocols = imap
listen = 127.0.0.1
hostname = mx.%[5]s
postmaster_address = postmaster@%[5]s

ssl = yes
ssl_cert = <%[6]s
ssl_key = <%[7]s
disable_plaintext_auth = no
auth_mechanisms = plain login
# The default 2 s delay after a failed login only slows tests down.
auth_failure_delay = 0

first_valid_uid = %[8]d
first_valid_gid = %[9]d
mail_location = maildir:~/Maildir
# Fallback for when inotify is unavailable; with inotify IDLE reacts at once.
mailbox_idle_check_interval = 1 secs
lda_mailbox_autocreate = yes

namespace inbox {
  inbox = yes
  separator = /
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[10]s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[10]s
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[11]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[12]d
    ssl = yes
  }
}
# No auth penalty (growing delays for every login from 127.0.0.1 after a
# failed one): tests log in with wrong passwords on purpose.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  # SASL for Postfix (smtpd_sasl_type = dovecot); test-only, so world-usable.
  unix_listener auth-postfix {
    mode = 0666
  }
}
`, randomHex(4), runDir, filepath.Join(d.dir, "state"), d.logPath, Domain,
		certPath, keyPath, min(d.mailUID, 500), min(d.mailGID, 500), usersPath, imapPort, imapsPort)
}

func findDovecotLDA() (string, bool) {
	for _, p := range []string{"/usr/lib/dovecot/dovecot-lda", "/usr/libexec/dovecot/dovecot-lda"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return findBinary("dovecot-lda")
}

// Deliver puts raw into the user's INBOX the way an MTA does: it runs
// dovecot-lda (as root; it switches to the mail user), which writes the
// maildir and Dovecot's index, so IDLE clients are notified, about 0.5 s
// later (Dovecot batches IDLE notifications). Deliver returns once the
// message is stored. Call it from the test goroutine (it uses t.Fatal).
func (d *Dovecot) Deliver(t testing.TB, raw []byte) {
	t.Helper()
	if err := d.deliver(raw); err != nil {
		t.Fatalf("mailtest: %v", err)
	}
}

func (d *Dovecot) deliver(raw []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.ldaPath, "-c", d.confPath, "-e", "-d", d.Username)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("dovecot-lda: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Maildir is the path of the user's maildir (INBOX), e.g. to inspect files.
func (d *Dovecot) Maildir() string { return d.maildir }
