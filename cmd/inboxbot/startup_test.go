package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
)

// withEnv returns env with each "KEY=value" of set replacing KEY's entry
// ("KEY=" removes it).
func withEnv(env []string, set ...string) []string {
	out := append([]string(nil), env...)
	for _, kv := range set {
		key, val, _ := strings.Cut(kv, "=")
		i := 0
		for _, e := range out {
			if !strings.HasPrefix(e, key+"=") {
				out[i] = e
				i++
			}
		}
		out = out[:i]
		if val != "" {
			out = append(out, kv)
		}
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestProcessCommandLine(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		p := startProc(t, h.env(), args...)
		if code := p.wait(t); code != 0 || !strings.HasPrefix(p.stdout.String(), "inboxbot ") {
			t.Errorf("%v: exit %d, stdout %q", args, code, p.stdout.String())
		}
	}
	// --help with a complete environment prints usage; it does not start the bot.
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		p := startProc(t, h.env(), args...)
		if code := p.wait(t); code != 0 || !strings.Contains(p.stdout.String(), "inboxbot check") {
			t.Errorf("%v: exit %d, stdout %q", args, code, p.stdout.String())
		}
		if h.slack.Calls("auth.test") != 0 {
			t.Fatalf("%v started the bot", args)
		}
	}
	p := startProc(t, h.env(), "frobnicate")
	if code := p.wait(t); code != 2 || !strings.Contains(p.stderr.String(), `"frobnicate"`) ||
		!strings.Contains(p.stderr.String(), "run, check, health, version or help") {
		t.Errorf("unknown command: exit %d, stderr %q", code, p.stderr.String())
	}
	p = startProc(t, h.env(), "check", "now")
	if code := p.wait(t); code != 2 || !strings.Contains(p.stderr.String(), `unexpected argument "now"`) {
		t.Errorf("extra argument: exit %d, stderr %q", code, p.stderr.String())
	}
}

func TestProcessConfigErrorsAllAtOnce(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, withEnv(h.env(), "IMAP_TLS=tls", "INBOX_CHANNEL=#support", "SMTP_ADDR=",
		"SLACK_BOT_TOKEN="+slackfake.AppToken, "SLACK_APP_TOKEN="+slackfake.BotToken))
	if code := p.wait(t); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	want := []string{"SLACK_BOT_TOKEN: and SLACK_APP_TOKEN are swapped", "INBOX_CHANNEL: must be a channel ID", "IMAP_TLS: must be one of", "SMTP_ADDR: is required"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), p.stderr.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "inboxbot: configuration: "+w) {
			t.Errorf("line %d %q, want %q", i, lines[i], w)
		}
	}
}

// What only a change can fix stops start-up with exit status 2 and a line
// naming the variable and the fix.
func TestProcessStartupNeedsAChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness) []string // extra environment
		want  string                    // the line starts "inboxbot: " + want
	}{
		{"bot token invalid", func(h *harness) []string { h.slack.RejectBotToken("invalid_auth"); return nil }, "SLACK_BOT_TOKEN: "},
		{"app token invalid", func(h *harness) []string { h.slack.RejectAppToken("invalid_auth"); return nil }, "SLACK_APP_TOKEN: "},
		{"channel not found", func(h *harness) []string { return []string{"INBOX_CHANNEL=CNOPE"} }, "INBOX_CHANNEL: no channel with this ID"},
		{"bot not a member", func(h *harness) []string { h.slack.AddChannel(inboxChannel, alice, bob); return nil }, "INBOX_CHANNEL: type /invite @inboxbot"},
		{"missing scope", func(h *harness) []string { h.slack.SetScopes("chat:write"); return nil }, "SLACK_BOT_TOKEN: the app lacks scopes"},
		{"IMAP wrong password", func(h *harness) []string { return []string{"IMAP_PASSWORD=bad-pw-7f3a"} }, "IMAP_PASSWORD: the server refused the login"},
		{"IMAP TLS mismatch", func(h *harness) []string { return []string{"IMAP_TLS=implicit"} }, "IMAP_TLS: "},
		{"IMAP certificate", func(h *harness) []string {
			srv := mailtest.NewIMAPServerOpts(h.t, mailtest.IMAPOptions{TLS: true})
			return []string{"IMAP_TLS=implicit", "IMAP_ADDR=" + srv.Addr, "IMAP_USERNAME=" + srv.Username, "IMAP_PASSWORD=" + srv.Password}
		}, "IMAP_ADDR: the IMAP server's certificate does not verify"},
		{"SMTP wrong password", func(h *harness) []string {
			return []string{"SMTP_USERNAME=" + mailtest.SMTPUser, "SMTP_PASSWORD=bad-pw-7f3a"}
		}, "SMTP_PASSWORD: the server refused the login"},
		{"SMTP no STARTTLS", func(h *harness) []string { return []string{"SMTP_TLS=starttls"} }, "SMTP_TLS: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			env := withEnv(h.env(), tc.setup(h)...)
			p := startProc(t, env)
			if code := p.wait(t); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			out := p.stderr.String()
			found := false
			for _, line := range strings.Split(out, "\n") {
				found = found || strings.HasPrefix(line, "inboxbot: "+tc.want)
			}
			if !found {
				t.Errorf("no line starting %q:\n%s", "inboxbot: "+tc.want, out)
			}
			for _, secret := range []string{slackfake.BotToken, slackfake.AppToken, h.imap.Password, "bad-pw-7f3a", mailtest.SMTPPass} {
				if strings.Contains(out, secret) {
					t.Errorf("output shows a secret %q", secret)
				}
			}
			if n := h.slack.Calls("chat.postMessage"); n != 0 {
				t.Errorf("%d posts", n)
			}
		})
	}
}

// A host that does not resolve may be a network blip at boot: retried
// with backoff and logged, never fatal.
func TestProcessDNSFailureAtBootRetried(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, withEnv(h.env(), "IMAP_ADDR=imap.inboxbot.invalid:993"))
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(p.stderr.String(), `check failed; retrying" check="IMAP connection`) < 2 {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no retries logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "does not resolve") {
		t.Errorf("the log does not say the host does not resolve")
	}
	// Slack works meanwhile: mail already queued would be posted.
	if !h.slack.Connected() {
		if err := h.slack.WaitConnected(h.ctx()); err != nil {
			t.Error(err)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

var checkLine = regexp.MustCompile(`^(✓|✗) `)

func TestProcessCheck(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, h.env(), "check")
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0:\n%s", code, p.stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	for _, want := range []string{"✓ Configuration", "✓ Slack bot token", "✓ Slack bot scopes", "✓ Slack app token (Socket Mode): Socket Mode connected",
		"✓ Slack channel CINBOX", "✓ IMAP connection", "✓ IMAP login", "✓ IMAP mailbox INBOX", "✓ IMAP IDLE", "✓ SMTP connection"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("no line %q:\n%s", want, p.stdout.String())
		}
	}
	for _, l := range lines {
		if !checkLine.MatchString(l) {
			t.Errorf("line %q is not a check", l)
		}
	}
	if n := h.slack.Calls("chat.postMessage") + len(h.smtp.Messages()); n != 0 {
		t.Errorf("check posted or sent %d messages", n)
	}

	// Two problems, each said with its fix; the rest still passes.
	h.slack.AddChannel(inboxChannel, alice, bob)
	p = startProc(t, withEnv(h.env(), "IMAP_PASSWORD=wrong"), "check")
	if code := p.wait(t); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	out := p.stdout.String()
	for _, want := range []string{"✗ Slack channel CINBOX: the bot is not a member", "    fix: INBOX_CHANNEL: type /invite @inboxbot",
		"✗ IMAP login as", "    fix: IMAP_PASSWORD: ", "✓ Slack bot token", "✓ IMAP connection", "✓ SMTP connection"} {
		if !strings.Contains(out, "\n"+want) {
			t.Errorf("no line %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "✓ IMAP mailbox") {
		t.Errorf("checks went on after the failed login:\n%s", out)
	}
}

func TestProcessCheckPlaceholders(t *testing.T) {
	env := []string{"INBOXBOT_RUN_MAIN=1", "PATH=" + os.Getenv("PATH")}
	data, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	p := startProc(t, env, "check")
	if code := p.wait(t); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	out := p.stderr.String()
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "INBOX_CHANNEL", "INBOX_ADDRESS", "IMAP_ADDR", "IMAP_PASSWORD", "SMTP_ADDR", "SMTP_PASSWORD"} {
		if !strings.Contains(out, "inboxbot: configuration: "+v+": is still the placeholder from .env.example") {
			t.Errorf("%s not reported as a placeholder:\n%s", v, out)
		}
	}
}

// get fetches a health endpoint of a running inboxbot.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitHTTP(t *testing.T, addr, path string, cond func(code int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get(t, addr, path)
		if cond(code, body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d\n%s", path, code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProcessReadyzFollowsIMAP(t *testing.T) {
	h := newHarness(t)
	addr := freeAddr(t)
	p := startProc(t, withEnv(h.env(), "HTTP_ADDR="+addr))
	p.waitReady(t)
	if code, body := get(t, addr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	waitHTTP(t, addr, "/readyz", func(code int, _ string) bool { return code == 200 })

	h.imap.Close()
	body := waitHTTP(t, addr, "/readyz", func(code int, _ string) bool { return code == 503 })
	if !strings.Contains(body, "imap: down since") || !strings.Contains(body, "slack: ok") {
		t.Errorf("/readyz while IMAP is down:\n%s", body)
	}
	h.imap.Restart(t)
	waitHTTP(t, addr, "/readyz", func(code int, _ string) bool { return code == 200 })
	// The container's HEALTHCHECK.
	hp := startProc(t, []string{"INBOXBOT_RUN_MAIN=1", "HTTP_ADDR=" + addr}, "health")
	if code := hp.wait(t); code != 0 {
		t.Errorf("inboxbot health: exit %d: %s", code, hp.stderr.String())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	hp = startProc(t, []string{"INBOXBOT_RUN_MAIN=1", "HTTP_ADDR=" + addr}, "health")
	if code := hp.wait(t); code != 1 {
		t.Errorf("inboxbot health with nothing running: exit %d", code)
	}
}

// metric reads one sample ("name{labels}") of a Prometheus text exposition.
func metric(body, sample string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func TestProcessMetricsMove(t *testing.T) {
	h := newHarness(t)
	addr := freeAddr(t)
	p := startProc(t, withEnv(h.env(), "HTTP_ADDR="+addr))
	p.waitReady(t)
	_, before := get(t, addr, "/metrics")
	if v := metric(before, "inboxbot_mails_ingested_total"); v != 0 {
		t.Errorf("ingested before any mail: %v", v)
	}
	h.deliver(customerMail{Subject: "Metrics", MessageID: "m1@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "On it")
	h.ack(env)
	h.waitMails(1)
	body := waitHTTP(t, addr, "/metrics", func(_ int, body string) bool {
		return metric(body, "inboxbot_replies_sent_total") == 1 && metric(body, `inboxbot_conversations{status="waiting"}`) == 1 &&
			metric(body, `inboxbot_slack_api_calls_total{method="chat.postMessage"}`) >= 2 // the root, and the reply's "now owns" line
	})
	for sample, want := range map[string]float64{
		"inboxbot_mails_ingested_total":                                  1,
		"inboxbot_mails_posted_total":                                    1,
		"inboxbot_ingest_to_post_seconds_count":                          1,
		"inboxbot_reply_to_smtp_seconds_count":                           1,
		`inboxbot_conversations{status="open"}`:                          0,
		`inboxbot_up{part="imap"}`:                                       1,
		`inboxbot_queue_depth{queue="tomail"}`:                           0,
		`inboxbot_slack_api_calls_total{method="apps.connections.open"}`: 2, // start-up check, then Socket Mode
	} {
		if got := metric(body, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if got := metric(body, `inboxbot_slack_api_calls_total{method="chat.postMessage"}`); got < 2 {
		t.Errorf("chat.postMessage calls %v", got)
	}
	// Lines in the log for the mail and the reply, without the customer's address.
	logs := p.stderr.String()
	if !strings.Contains(logs, `msg="mail posted" component=slack conv=1`) || !strings.Contains(logs, `msg="reply sent" component=smtp conv=1`) {
		t.Errorf("no info lines for the mail and the reply:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if (strings.Contains(line, "mail posted") || strings.Contains(line, "reply sent")) && strings.Contains(line, "carl@example.com") {
			t.Errorf("customer address in %q", line)
		}
	}
}

// The app token revoked while running: events can never reach the bot
// again. That is logged at error level and posted once in the channel
// (the bot token still works), and the process exits non-zero for its
// supervisor; started again, it stops at the start-up check, saying why.
func TestProcessAppTokenRevokedAtRunTime(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, h.env())
	p.waitReady(t)
	h.slack.RevokeAppToken()
	if code := p.wait(t); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	roots := h.roots()
	if len(roots) != 1 || !strings.Contains(roots[0].Text, "Cannot receive thread replies") || !strings.Contains(roots[0].Text, "SLACK_APP_TOKEN") {
		t.Errorf("want one notice naming SLACK_APP_TOKEN, got %+v", roots)
	}
	if out := p.stderr.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "token_revoked") {
		t.Errorf("not logged at error level with the reason:\n%s", out)
	}
	p = startProc(t, h.env())
	if code := p.wait(t); code != 2 || !strings.Contains(p.stderr.String(), "\ninboxbot: SLACK_APP_TOKEN: ") {
		t.Errorf("restart: exit %d:\n%s", code, p.stderr.String())
	}
	if n := len(h.roots()); n != 1 {
		t.Errorf("%d notices after the restart, want still 1", n)
	}
}

// The bot token revoked while running: nothing can work, so the process
// exits non-zero, saying why, for a supervisor to restart it.
func TestProcessBotTokenRevokedAtRunTime(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, h.env())
	p.waitReady(t)
	h.slack.RejectBotToken("token_revoked")
	h.deliver(customerMail{Subject: "Lost?", MessageID: "l@example.com", Body: "x"}.raw())
	if code := p.wait(t); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if out := p.stderr.String(); !strings.Contains(out, "SLACK_BOT_TOKEN") || !strings.Contains(out, "token_revoked") {
		t.Errorf("exit does not say why:\n%s", out)
	}
}

// IMAP credentials revoked while running: logged at error level, posted
// once, in /readyz; the process stays up and retries.
func TestProcessIMAPPasswordRevokedAtRunTime(t *testing.T) {
	h := newHarness(t)
	addr := freeAddr(t)
	p := startProc(t, withEnv(h.env(), "HTTP_ADDR="+addr))
	p.waitReady(t)
	h.imap.SetPassword("changed")
	h.imap.Restart(t)
	notice := h.waitRoots(1)[0]
	if !strings.Contains(notice.Text, "Cannot log in to IMAP") || !strings.Contains(notice.Text, "IMAP_PASSWORD") {
		t.Errorf("notice %q", notice.Text)
	}
	body := waitHTTP(t, addr, "/readyz", func(code int, _ string) bool { return code == 503 })
	if !strings.Contains(body, "imap: down since") || !strings.Contains(body, "fix: IMAP_PASSWORD") {
		t.Errorf("/readyz:\n%s", body)
	}
	if !strings.Contains(p.stderr.String(), `level=ERROR msg="Cannot log in to IMAP`) {
		t.Errorf("not logged at error level:\n%s", p.stderr.String())
	}
}
