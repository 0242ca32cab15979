package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
)

// oauthHarness is the harness with IMAP and SMTP taking OAuth tokens from a
// local token endpoint (IMAP offering XOAUTH2 alone, like Microsoft 365),
// configured through the single-inbox environment: IMAP_AUTH=oauth,
// SMTP_AUTH=oauth and the OAUTH_* variables.
func oauthHarness(t *testing.T) (*harness, *mailtest.TokenServer) {
	t.Helper()
	h := newHarness(t)
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{User: h.imap.Username})
	h.imap.AcceptOAuth(ts, mailtest.XOAuth2)
	h.smtp.AcceptOAuth(ts)
	env := map[string]string{}
	for _, kv := range withEnv(h.env(), "IMAP_PASSWORD=",
		"IMAP_AUTH=oauth", "SMTP_AUTH=oauth", "SMTP_USERNAME="+ts.User,
		"OAUTH_TOKEN_URL="+ts.URL, "OAUTH_CLIENT_ID="+ts.ClientID,
		"OAUTH_CLIENT_SECRET="+ts.ClientSecret, "OAUTH_REFRESH_TOKEN="+ts.RefreshToken()) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	return h, ts
}

// Mail comes in and replies go out with OAuth tokens, each account's got
// once at start; `inboxbot check` shows getting them; no secret reaches
// the log.
func TestOAuthEndToEnd(t *testing.T) {
	h, ts := oauthHarness(t)
	h.start()

	h.deliver(customerMail{Subject: "Invoice", MessageID: "c1@example.com", Body: "Where is my invoice?"}.raw())
	root := h.waitRoots(1)[0]
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "It is on its way.")
	h.ack(env)
	got := h.waitMails(1)
	if got[0].Authed != ts.User {
		t.Errorf("reply sent as %q, want %q by XOAUTH2", got[0].Authed, ts.User)
	}
	if logins := h.imap.Logins(); !strings.Contains(strings.Join(logins, " "), "XOAUTH2") {
		t.Errorf("IMAP logins %q, want XOAUTH2", logins)
	}
	// The start-up checks get the tokens the watcher and the sender then
	// use: one per account, not a second each.
	if n := ts.Grants(); n != 2 {
		t.Errorf("%d tokens issued, want 2 (one for IMAP, one for SMTP)", n)
	}

	var out bytes.Buffer
	if !h.m.runChecks(context.Background(), &out) {
		t.Errorf("checks failed:\n%s", out.String())
	}
	for _, want := range []string{"✓ IMAP OAuth token from 127.0.0.1:", "✓ SMTP OAuth token from 127.0.0.1:", "XOAUTH2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	h.stop()
	for _, secret := range ts.Secrets() {
		if strings.Contains(h.logs.String(), secret) || strings.Contains(out.String(), secret) {
			t.Errorf("a secret (%.5s…) appears in the log or the check output", secret)
		}
	}
}

// A grant revoked at run time: the channel is told once what to change,
// /readyz says IMAP is down with the fix, and both recover when access is
// granted again.
func TestOAuthRevokedAtRunTime(t *testing.T) {
	h, ts := oauthHarness(t)
	h.tune = func(m *Main) { m.IMAPTune.AuthRetry = 50 * time.Millisecond }
	h.start()

	ts.Revoke()
	notice := func(want string) func(*slackfake.Server) bool {
		return func(*slackfake.Server) bool {
			for _, m := range h.roots() {
				if strings.Contains(text(m), want) {
					return true
				}
			}
			return false
		}
	}
	if err := h.slack.WaitFor(h.ctx(), notice("OAUTH_REFRESH_TOKEN")); err != nil {
		t.Fatalf("no notice naming OAUTH_REFRESH_TOKEN: %v", err)
	}
	ready, lines := h.m.readiness(time.Now())
	if ready || !strings.Contains(strings.Join(lines, "\n"), "imap: down") || !strings.Contains(strings.Join(lines, "\n"), "fix: OAUTH_REFRESH_TOKEN") {
		t.Errorf("readiness %v:\n%s", ready, strings.Join(lines, "\n"))
	}

	ts.Restore()
	if err := h.slack.WaitFor(h.ctx(), notice("works again")); err != nil {
		t.Fatalf("no all-clear: %v", err)
	}
	h.deliver(customerMail{Subject: "Back?", MessageID: "c2@example.com", Body: "Hello again"}.raw())
	if err := h.slack.WaitFor(h.ctx(), notice("Hello again")); err != nil {
		t.Fatalf("mail after the recovery not posted: %v", err)
	}
	n := 0
	for _, m := range h.roots() {
		if strings.Contains(text(m), "OAUTH_REFRESH_TOKEN") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notices of the outage, want 1", n)
	}
}
