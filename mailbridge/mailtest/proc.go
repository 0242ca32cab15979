package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireRealServersEnv makes StartDovecot and StartPostfix fail instead of
// skip when the servers cannot run here.
const RequireRealServersEnv = "INBOXBOT_REQUIRE_REAL_SERVERS"

// skipOrFail skips the test, or fails it when real servers are required.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireRealServersEnv) == "1" {
		t.Fatalf("mailtest: %s (and %s=1)", msg, RequireRealServersEnv)
	} else {
		t.Skipf("mailtest: %s (set %s=1 to fail instead)", msg, RequireRealServersEnv)
	}
}

// findBinary looks name up in PATH, then in the given directories (sbin is
// often missing from PATH).
func findBinary(name string, dirs ...string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// shortTempDir makes a world-traversable directory under os.TempDir()
// that t.Cleanup removes. Not t.TempDir(): its path embeds the test name
// and can push the servers' unix sockets (…/queue/private/proxywrite,
// …/run/login/…) past the 107-byte sun_path limit, and its 0700 parent
// directory would have to be opened up for the servers' unprivileged users.
func shortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	return dir
}

// systemUser returns the uid and gid of a system account.
func systemUser(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err = strconv.Atoi(u.Gid)
	return uid, gid, err
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. Another process may take one before the server binds it: see
// retryOnPortClash.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// retryOnPortClash runs start up to 3 times while it fails and a log says
// a port was taken between freePorts and the server's bind. The logs are
// removed before each attempt.
func retryOnPortClash(t testing.TB, name string, logs []string, start func() error) error {
	t.Helper()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		for _, p := range logs {
			os.Remove(p)
		}
		if err = start(); err == nil {
			return nil
		}
		clash := false
		for _, p := range logs {
			if b, rerr := os.ReadFile(p); rerr == nil && bytes.Contains(b, []byte("Address already in use")) {
				clash = true
			}
		}
		if !clash {
			return err
		}
		t.Logf("mailtest: %s: a port was taken meanwhile, retrying (%v)", name, err)
	}
	return err
}

// daemon is a server process run in its own process group, with a
// watchdog that stops it if the test process dies.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done

	graceful bool // stop with SIGTERM first (see stop)

	watchdog     *exec.Cmd
	watchdogPipe *os.File // write end of the watchdog's stdin
}

// watchdogScript waits for EOF on stdin, which comes when the test process
// closes the pipe or dies, however it dies; then it stops the daemon whose
// pid is $1 (SIGTERM to its master, SIGKILL to its process group 5 s later).
// Pdeathsig is not enough: it is cleared when a process changes
// credentials, as Postfix's master does.
const watchdogScript = `read _; kill -TERM "$1" 2>/dev/null; sleep 5; kill -KILL -- "-$1" 2>/dev/null`

// startDaemon starts argv in its own process group with stdout and stderr
// appended to logPath; t.Cleanup stops it.
func startDaemon(t testing.TB, name string, graceful bool, logPath string, argv ...string) (*daemon, error) {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = nil
	cmd.Stdout = logFile // an *os.File: no copying goroutines that grandchildren could hold open
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{}), graceful: graceful}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(d.stop)

	r, w, err := os.Pipe()
	if err != nil {
		return d, err
	}
	d.watchdog = exec.Command("/bin/sh", "-c", watchdogScript, "mailtest-watchdog", strconv.Itoa(cmd.Process.Pid))
	d.watchdog.Stdin = r
	d.watchdog.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = d.watchdog.Start()
	r.Close()
	if err != nil {
		w.Close()
		d.watchdog = nil
		return d, fmt.Errorf("start watchdog for %s: %w", name, err)
	}
	d.watchdogPipe = w
	return d, nil
}

// stop ends the daemon (idempotent). With graceful, SIGTERM goes to its
// master process, which stops its children (a clean shutdown, quiet logs),
// and stop waits for it (up to 5 s); then whatever is left in its process
// group is SIGKILLed. Dovecot's and Postfix's (-d) masters stay in the
// process group they were started in, which Setpgid made theirs, so -pid
// names it.
func (d *daemon) stop() {
	if d.watchdog != nil {
		_ = d.watchdog.Process.Kill()
		_ = d.watchdog.Wait()
		d.watchdogPipe.Close()
		d.watchdog = nil
	}
	pid := d.cmd.Process.Pid
	if d.graceful {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-d.done
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitGreeting polls addr until a connection gets a greeting line starting
// with prefix (e.g. "* OK", "220 "), within timeout. It gives up early if the
// daemon exits.
func waitGreeting(d *daemon, addr string, useTLS bool, prefix string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if d.exited() {
			return fmt.Errorf("%s exited during start-up (%v)", d.name, d.err)
		}
		lastErr = probeGreeting(addr, useTLS, prefix)
		if lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready on %s after %v: %w", d.name, addr, timeout, lastErr)
		}
		select {
		case <-d.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func probeGreeting(addr string, useTLS bool, prefix string) error {
	var c net.Conn
	var err error
	dialer := &net.Dialer{Timeout: time.Second}
	if useTLS {
		c, err = tls.DialWithDialer(dialer, "tcp", addr, ClientTLSConfig())
	} else {
		c, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading greeting: %w", err)
	}
	if !strings.HasPrefix(line, prefix) {
		return fmt.Errorf("unexpected greeting %q", strings.TrimSpace(line))
	}
	return nil
}

// logFilesOnFailure prints the given log files with t.Log if t failed.
// Register it before the daemons so that it runs after they stopped.
func logFilesOnFailure(t testing.TB, name string, paths ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			switch {
			case errors.Is(err, os.ErrNotExist):
				continue
			case err != nil:
				t.Logf("%s log %s: %v", name, p, err)
			default:
				t.Logf("%s log %s:\n%s", name, p, b)
			}
		}
	})
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode) // WriteFile's mode is subject to umask
}

// mkdirOwned creates dirs (and parents) with mode, owned by uid:gid.
func mkdirOwned(uid, gid int, mode os.FileMode, dirs ...string) error {
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, mode); err != nil {
			return err
		}
		if err := os.Chmod(dir, mode); err != nil {
			return err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
