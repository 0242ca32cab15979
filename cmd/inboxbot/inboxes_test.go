package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/store"
)

const billingChannel = "CBILLING"

// billing is the second inbox of a two-inbox harness: its own servers and
// channel (Alice is in it, Bob is not).
type billing struct {
	imap *mailtest.IMAPServer
	smtp *mailtest.SMTPServer
}

func newTwoInboxHarness(t *testing.T) (*harness, billing) {
	h := newHarness(t)
	b := billing{imap: mailtest.NewIMAPServer(t), smtp: mailtest.NewSMTPServer(t)}
	h.slack.AddChannel(billingChannel, alice, slackfake.BotUserID)
	h.cfg.Inboxes = append(h.cfg.Inboxes, InboxConfig{
		Address: "billing@acme.test", Name: "Acme Billing", Channel: billingChannel,
		IMAP:    Account{Addr: b.imap.Addr, Username: b.imap.Username, Password: b.imap.Password, TLS: "none"},
		Mailbox: "INBOX",
		SMTP:    Account{Addr: b.smtp.Addr, TLS: "none"},
	})
	return h, b
}

// rootsIn are the bot's top-level messages in channel.
func (h *harness) rootsIn(channel string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.slack.Messages(channel) {
		if (m.ThreadTS == "" || m.ThreadTS == m.TS) && m.BotID != "" {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) waitIn(channel string, n int) []slackfake.Message {
	h.t.Helper()
	if err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool { return len(h.rootsIn(channel)) >= n }); err != nil {
		h.t.Fatalf("%s: %d of %d top-level messages: %v", channel, len(h.rootsIn(channel)), n, err)
	}
	return h.rootsIn(channel)
}

// convOf waits until the root ts of channel is recorded as a thread and
// returns its conversation (the post reaches Slack before it is recorded).
func (h *harness) convOf(channel, ts string) *store.Conversation {
	h.t.Helper()
	var c *store.Conversation
	h.poll("thread recorded", func() bool {
		c, _ = h.m.st.ConvByThread(channel, ts)
		return c != nil
	})
	return c
}

func TestTwoInboxes(t *testing.T) {
	h, b := newTwoInboxHarness(t)
	h.start()
	h.deliver(customerMail{Subject: "Printer", MessageID: "s1@example.com", Body: "support question"}.raw())
	b.imap.Append(t, "INBOX", customerMail{Subject: "Invoice", MessageID: "b1@example.com", Body: "billing question"}.raw())
	sup := h.waitIn(inboxChannel, 1)[0]
	bil := h.waitIn(billingChannel, 1)[0]
	if !strings.Contains(text(sup), "Printer") || !strings.Contains(text(bil), "Invoice") {
		t.Fatalf("mail in the wrong channel:\nsupport: %s\nbilling: %s", text(sup), text(bil))
	}
	// Numbers are unique per installation.
	cs, cb := h.convOf(inboxChannel, sup.TS), h.convOf(billingChannel, bil.TS)
	if cs.Num == cb.Num || cs.Inbox != "support@acme.test" || cb.Inbox != "billing@acme.test" {
		t.Fatalf("conversations %+v / %+v", cs, cb)
	}

	// Permissions follow the channels: Bob is not in billing.
	if ans := h.slash(bob, "claim "+strconv.FormatUint(cb.Num, 10)); !strings.Contains(ans, "Only members of <#"+billingChannel+">") {
		t.Errorf("Bob claimed a billing conversation: %q", ans)
	}
	if ans := h.slashIn(alice, billingChannel, "list"); !strings.Contains(ans, "Invoice") || strings.Contains(ans, "Printer") {
		t.Errorf("/inbox list in the billing channel: %q", ans)
	}
	if ans := h.slashIn(alice, "CELSEWHERE", "list"); !strings.Contains(ans, "Invoice") || !strings.Contains(ans, "Printer") {
		t.Errorf("/inbox list elsewhere: %q", ans)
	}
	if ans := h.slashIn(bob, "CELSEWHERE", "list"); strings.Contains(ans, "Invoice") || !strings.Contains(ans, "Printer") {
		t.Errorf("/inbox list by Bob: %q", ans)
	}
	// Replies leave from each inbox's address, through its own server.
	_, env := h.slack.UserPost(billingChannel, alice, bil.TS, "Your invoice is attached in spirit.")
	h.ack(env)
	got, err := b.smtp.WaitFor(h.ctx(), 1)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := parsedMail(t, got[0])
	from, _ := hdr.AddressList("From")
	if len(from) != 1 || from[0].Address != "billing@acme.test" || from[0].Name != "Alice Agent (Acme Billing)" {
		t.Errorf("billing reply From %v", from)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("billing's reply went through support's server (%d mails)", n)
	}

	// App Home groups by inbox, and shows only the inboxes one works in.
	home := func(user string) string {
		h.ack(h.slack.AppHomeOpened(user))
		var v string
		h.poll("home published", func() bool { v = string(h.slack.HomeViews()[user]); return v != "" })
		return v
	}
	if v := home(alice); !strings.Contains(v, "Acme Support · support@acme.test") || !strings.Contains(v, "Acme Billing · billing@acme.test") {
		t.Errorf("Alice's Home lacks an inbox: %s", v)
	}
	if v := home(bob); strings.Contains(v, "billing@acme.test") || !strings.Contains(v, "Printer") {
		t.Errorf("Bob's Home: %s", v)
	}
}

// One inbox's broken servers do not hold up the other's mail or replies.
func TestBrokenInboxDoesNotStallTheOther(t *testing.T) {
	h, b := newTwoInboxHarness(t)
	h.start()
	b.imap.Close()
	b.smtp.Close()
	h.deliver(customerMail{Subject: "Still flowing", MessageID: "f1@example.com", Body: "x"}.raw())
	root := h.waitIn(inboxChannel, 1)[0]
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "answered")
	h.ack(env)
	h.waitMails(1)
}

// Every part of several inboxes failing its start-up checks for good: the
// first failure is reported and Close still returns, though nobody takes
// the others.
func TestManyStartupFailuresDoNotBlockClose(t *testing.T) {
	h := newHarness(t)
	h.inbox().IMAP.Password = "wrong"
	h.inbox().SMTP.TLS = "starttls" // the server offers no STARTTLS
	for i := range 3 {
		in := *h.inbox()
		in.Address, in.Channel = fmt.Sprintf("team%d@acme.test", i), fmt.Sprintf("CTEAM%d", i)
		h.slack.AddChannel(in.Channel, alice, slackfake.BotUserID)
		h.cfg.Inboxes = append(h.cfg.Inboxes, in)
	}
	m := NewMain(h.cfg, slog.New(slog.NewTextHandler(h.logs, nil)))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	failing := 2 * len(h.cfg.Inboxes)
	h.poll("every mail part to fail its checks", func() bool {
		return strings.Count(h.logs.String(), "this needs a change") >= failing && len(m.failed) == cap(m.failed)
	})
	var se *StartupError
	if err := <-m.Failed(); !errors.As(err, &se) {
		t.Errorf("failure %v, want a StartupError", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Close did not return: parts blocked reporting their failures")
	}
}

// A mail to both addresses opens one conversation, in the inbox that
// records it first; the other channel gets a line pointing to it.
func TestSameMailToTwoInboxes(t *testing.T) {
	h, b := newTwoInboxHarness(t)
	h.start()
	raw := customerMail{Subject: "To both", MessageID: "both@example.com", Body: "hello both",
		Extra: map[string]string{"Cc": "billing@acme.test"}}.raw()
	h.deliver(raw)
	root := h.waitIn(inboxChannel, 1)[0]
	b.imap.Append(t, "INBOX", raw)
	pointer := h.waitIn(billingChannel, 1)[0]
	if !strings.Contains(pointer.Text, "conversation <") || !strings.Contains(pointer.Text, "#1") ||
		!strings.Contains(pointer.Text, "<#"+inboxChannel+">") || !strings.Contains(pointer.Text, "support@acme.test") {
		t.Errorf("pointer line: %q", pointer.Text)
	}
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	if n, _ := h.m.st.Count([]string{"billing@acme.test"}, h.conv(1).Created); n.Open != 0 {
		t.Errorf("billing has %d open conversations", n.Open)
	}
	if c := h.conv(1); c.Inbox != "support@acme.test" || c.RootTS != root.TS {
		t.Errorf("conversation 1: %+v", c)
	}
	if _, err := h.m.st.Conv(2); err == nil {
		t.Error("a second conversation was opened")
	}
}

// A database written by the schema-1 (single-inbox) version is migrated in
// place at start and keeps working: a reply in a thread it knew is sent,
// and the customer's next mail lands in its conversation.
func TestUpgradeFromSchema1(t *testing.T) {
	h := newHarness(t)
	data, err := os.ReadFile("../../store/testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.cfg.DBPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// The schema-1 watermark is for another server's UIDVALIDITY: the
	// watcher re-scans, which is fine here.
	h.start()
	_, env := h.slack.UserPost(inboxChannel, alice, "1700000000.000100", "Reply in a thread from before the upgrade")
	h.ack(env)
	// The reply queued before the upgrade goes out too.
	var id string
	for _, m := range h.waitMails(2) {
		hdr, body := parsedMail(t, m)
		if strings.Contains(body, "before the upgrade") {
			if irt := hdr.Get("In-Reply-To"); irt != "<m5@example.com>" {
				t.Errorf("reply In-Reply-To %q", irt)
			}
			id, _ = hdr.MessageID()
		} else if !strings.Contains(body, "On it") {
			t.Errorf("unexpected mail %q", body)
		}
	}
	h.deliver(customerMail{Subject: "Re: Printer on fire", MessageID: "after@example.com", InReplyTo: id, Body: "thanks"}.raw())
	h.poll("answer threaded into conversation 1", func() bool {
		c, err := h.m.st.Conv(1)
		return err == nil && c.LastInbound == "after@example.com"
	})
	if v, _ := h.m.st.Schema(); v != store.SchemaVersion() {
		t.Errorf("schema %d", v)
	}
}
