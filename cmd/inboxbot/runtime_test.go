package main

import (
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
)

// The SMTP password revoked while running: the channel hears it once, the
// reply's thread hears it is late and why, and once the password works
// again the reply goes out and the channel hears that too.
func TestSMTPLoginRevokedAtRunTime(t *testing.T) {
	h := newHarness(t)
	h.inbox().SMTP.Username, h.inbox().SMTP.Password = mailtest.SMTPUser, mailtest.SMTPPass
	h.tune = func(m *Main) { m.StillTrying = 200 * time.Millisecond }
	h.start()
	h.deliver(customerMail{Subject: "Late reply", MessageID: "late@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]

	h.smtp.SetPassword("revoked")
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "We are on it")
	h.ack(env)
	notice := h.waitRoots(2)[1]
	if !strings.Contains(notice.Text, "Cannot log in to SMTP") || !strings.Contains(notice.Text, "SMTP_PASSWORD") {
		t.Errorf("notice %q", notice.Text)
	}
	late := h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(m.Text, "not sent to") })
	if !strings.Contains(late.Text, "535") || !strings.Contains(late.Text, "keeps trying") {
		t.Errorf("still-trying line %q", late.Text)
	}
	if s := h.m.mail[0].sender.State(); s.Up || !s.Permanent {
		t.Errorf("sender state %+v", s)
	}

	h.smtp.SetPassword(mailtest.SMTPPass)
	h.waitMails(1)
	ok := h.waitRoots(3)[2]
	if !strings.Contains(ok.Text, "SMTP works again") {
		t.Errorf("all-clear %q", ok.Text)
	}
	lines := 0
	for _, m := range h.thread(root.TS) {
		if strings.Contains(m.Text, "not sent to") {
			lines++
		}
	}
	if lines != 1 || len(h.roots()) != 3 {
		t.Errorf("%d still-trying lines and %d roots, want 1 and 3 (mail, notice, all-clear)", lines, len(h.roots()))
	}
}
