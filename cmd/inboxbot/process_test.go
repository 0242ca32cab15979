package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// The test binary doubles as the inboxbot binary: with INBOXBOT_RUN_MAIN
// set it runs main(), so these tests exercise the real program (signals,
// exit codes, a kill -9) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("INBOXBOT_RUN_MAIN") == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// proc is inboxbot running as a child process.
type proc struct {
	cmd            *exec.Cmd
	stderr, stdout *syncBuffer
	done           chan error
}

// waitLog waits until the process logged a line containing s.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("inboxbot exited (%v) before logging %q", err, s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("inboxbot did not log %q", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReady waits until the process is connected to Slack and watches the
// mailbox (mail appended from then on is new mail).
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	p.waitLog(t, "inboxbot ready")
	p.waitLog(t, "IMAP connected")
}

func (h *harness) env() []string {
	c := h.cfg
	in := c.Inboxes[0]
	env := []string{
		"INBOXBOT_RUN_MAIN=1", "PATH=" + os.Getenv("PATH"),
		"SLACK_BOT_TOKEN=" + c.SlackBotToken, "SLACK_APP_TOKEN=" + c.SlackAppToken, "SLACK_API_URL=" + c.SlackAPIURL,
		"INBOX_CHANNEL=" + in.Channel, "INBOX_ADDRESS=" + in.Address, "INBOX_NAME=" + in.Name,
		"IMAP_ADDR=" + in.IMAP.Addr, "IMAP_USERNAME=" + in.IMAP.Username, "IMAP_PASSWORD=" + in.IMAP.Password, "IMAP_TLS=none",
		"SMTP_ADDR=" + in.SMTP.Addr, "SMTP_TLS=none", "DB_PATH=" + c.DBPath, "SEND_DELAY=0s",
	}
	return env
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], args...), stderr: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan error, 1)}
	// A test binary built with -cover writes coverage data, or a warning
	// that it cannot, when it exits: give it a place so it does not warn.
	p.cmd.Env = append(env, "GOCOVERDIR="+t.TempDir())
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("inboxbot stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *proc) wait(t *testing.T) (exitCode int) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatal("inboxbot did not exit")
		return -1
	}
}

func TestProcessConfigError(t *testing.T) {
	h := newHarness(t)
	var env []string
	for _, kv := range h.env() {
		if !strings.HasPrefix(kv, "IMAP_TLS=") {
			env = append(env, kv)
		}
	}
	p := startProc(t, append(env, "IMAP_TLS=tls"))
	if code := p.wait(t); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	out := strings.TrimSpace(p.stderr.String())
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, "IMAP_TLS") || !strings.Contains(out, "implicit, starttls, none") {
		t.Errorf("want one line naming IMAP_TLS and what it expects, got:\n%s", out)
	}
}

func TestProcessGracefulStopAndNoSecretsInLogs(t *testing.T) {
	h := newHarness(t)
	h.inbox().IMAP.Password = h.imap.Password
	p := startProc(t, h.env())
	p.waitReady(t)
	h.deliver(customerMail{Subject: "Before stop", MessageID: "bs@example.com", Body: "x"}.raw())
	h.waitRoots(1)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	logs := p.stderr.String()
	for _, secret := range []string{slackfake.BotToken, slackfake.AppToken, h.imap.Password} {
		if strings.Contains(logs, secret) {
			t.Errorf("log shows a secret %q", secret)
		}
	}
	if !strings.Contains(logs, "shutting down") {
		t.Errorf("no shutdown in the log:\n%s", logs)
	}
}

// kill -9 while mail is flowing in both directions, then start again: every
// mail posted once, every reply sent.
func TestProcessKill9(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, h.env())
	p.waitReady(t)
	// The first start leaves mail already there alone: let it get past that.
	h.deliver(customerMail{Subject: "Mail 0", MessageID: "k0@example.com", Body: "first"}.raw())
	root := h.waitRoots(1)[0]
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "reply before the crash")
	h.ack(env)
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(m.Text, "replied and now owns") })
	// Crash at the worst moment: Slack made the next post, but its answer
	// was lost, so the bot has recorded only that it was attempting it.
	posts := h.slack.Calls("chat.postMessage")
	h.slack.DropAfterNext("chat.postMessage")
	const n = 6
	for i := 1; i < n; i++ {
		h.deliver(customerMail{Subject: fmt.Sprintf("Mail %d", i), MessageID: fmt.Sprintf("k%d@example.com", i), Body: "x"}.raw())
	}
	h.poll("the post whose answer is lost", func() bool { return h.slack.Calls("chat.postMessage") > posts })
	p.cmd.Process.Kill()
	p.wait(t)
	// Its retry would come a second later: the kill comes first. Other
	// conversations' mails go on meanwhile, so more may be posted already.
	if got := len(h.roots()); got < 2 {
		t.Fatalf("%d roots at the crash, want the lost-answer one among them", got)
	}

	startProc(t, h.env())
	roots := h.waitRoots(n)
	h.waitMails(1)
	// Let any duplicate show up: wait until the restarted bot has nothing
	// left to do, which its next root post proves (queues run in order).
	h.deliver(customerMail{Subject: "Sentinel", MessageID: "sentinel@example.com", Body: "x"}.raw())
	roots = h.waitRoots(n + 1)
	seen := map[string]int{}
	for _, r := range roots {
		seen[strings.SplitN(r.Text, "\n", 2)[0]]++
	}
	for subject, count := range seen {
		if count != 1 {
			t.Errorf("%q posted %d times", subject, count)
		}
	}
	if len(roots) != n+1 {
		t.Errorf("%d roots, want %d: %v", len(roots), n+1, seen)
	}
	if got := h.smtp.Messages(); len(got) < 1 || !bytes.Contains(got[0].Data, []byte("reply before the crash")) {
		t.Errorf("reply lost: %d mails", len(got))
	}
	lines := 0
	for _, m := range h.thread(root.TS) {
		if strings.Contains(m.Text, "replied and now owns") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d activity lines for one claim", lines)
	}
}

// kill -9 inside the hold window, for a reply left alone, one edited (its
// event handled) and one edited just before the kill (its event perhaps
// not): after the restart each is sent once, with its latest text, and
// none before its window ends.
func TestProcessKill9InsideWindow(t *testing.T) {
	h := newHarness(t)
	const delay = 5 * time.Second
	env := withEnv(h.env(), "SEND_DELAY=5s")
	p := startProc(t, env)
	p.waitReady(t)
	var roots []slackfake.Message
	for i := range 3 {
		h.deliver(customerMail{Subject: fmt.Sprintf("Window %d", i), MessageID: fmt.Sprintf("w%d@example.com", i), Body: "x"}.raw())
		roots = h.waitRoots(i + 1)
	}
	type reply struct{ ts, want string }
	var replies []reply
	ts, e := h.slack.UserPost(inboxChannel, alice, roots[0].TS, "left alone")
	h.ack(e)
	replies = append(replies, reply{ts, "left alone"})
	ts, e = h.slack.UserPost(inboxChannel, alice, roots[1].TS, "edited, draft")
	h.ack(e)
	h.ack(h.slack.UserEdit(inboxChannel, ts, "edited, final"))
	replies = append(replies, reply{ts, "edited, final"})
	ts, e = h.slack.UserPost(inboxChannel, bob, roots[2].TS, "edited at the kill, draft")
	h.ack(e)
	h.slack.UserEdit(inboxChannel, ts, "edited at the kill, final")
	replies = append(replies, reply{ts, "edited at the kill, final"})
	p.cmd.Process.Kill()
	p.wait(t)
	if n := len(h.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails sent inside the window", n)
	}

	startProc(t, env)
	h.waitMails(3)
	for _, r := range replies {
		h.waitMark(r.ts, "email", "hourglass_flowing_sand")
	}
	got := h.smtp.Messages()
	if len(got) != 3 {
		t.Fatalf("%d mails, want 3", len(got))
	}
	for _, r := range replies {
		n := 0
		for _, m := range got {
			if body(t, m) == r.want {
				n++
				if due := store.TSTime(r.ts).Add(delay); m.At.Before(due) {
					t.Errorf("%q sent at %v, before its window ended at %v", r.want, m.At, due)
				}
			}
		}
		if n != 1 {
			t.Errorf("%q sent %d times", r.want, n)
		}
	}
}
