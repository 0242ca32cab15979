package main

import (
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// The core loop: a mail opens a thread, a thread reply goes out as a
// correctly threaded mail, the customer's answer lands in the same thread.
func TestCoreLoop(t *testing.T) { eachTransport(t, testCoreLoop) }

func testCoreLoop(t *testing.T, h *harness) {
	h.start()

	h.deliver(customerMail{
		From: "Carl Customer <carl@example.com>", ReplyTo: "Carl at Work <carl@work.example>",
		Subject: "Re: Printer <!channel> on fire", MessageID: "c1@example.com", References: "<older@example.com>",
		Body: "Hello <@UALICE> & team,\nthe printer is on fire.",
	}.raw())
	root := h.waitRoots(1)[0]
	shown := text(root)
	for _, want := range []string{"#1", "Carl Customer", "carl@example.com", "Printer", "the printer is on fire"} {
		if !strings.Contains(shown, want) {
			t.Errorf("root lacks %q:\n%s", want, shown)
		}
	}
	if strings.Contains(root.Text, "<!channel>") || strings.Contains(root.Text, "<@UALICE>") || strings.Contains(string(root.Blocks), `"type":"mrkdwn","text":"Hello`) {
		t.Errorf("mail content could ping people: %s", shown)
	}
	if root.LinkNames || root.Unfurl {
		t.Errorf("root posted with link_names=%v unfurl=%v", root.LinkNames, root.Unfurl)
	}

	// Alice answers in the thread.
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "Hi Carl, we're on it &amp; will call <https://acme.test/status|status page>.")
	h.ack(env)
	got := h.waitMails(1)
	hdr, body := parsedMail(t, got[0])
	from, _ := hdr.AddressList("From")
	if len(from) != 1 || from[0].Name != "Alice Agent (Acme Support)" || from[0].Address != "support@acme.test" {
		t.Errorf("From = %v", from)
	}
	if rcpt := got[0].To; len(rcpt) != 1 || rcpt[0] != "carl@work.example" {
		t.Errorf("sent to %v, want the Reply-To address", rcpt)
	}
	if s, _ := hdr.Subject(); s != "Re: Printer <!channel> on fire" {
		t.Errorf("Subject = %q", s)
	}
	if irt := hdr.Get("In-Reply-To"); irt != "<c1@example.com>" {
		t.Errorf("In-Reply-To = %q", irt)
	}
	if refs := hdr.Get("References"); refs != "<older@example.com> <c1@example.com>" {
		t.Errorf("References = %q", refs)
	}
	ourID, _ := hdr.MessageID()
	if !strings.HasPrefix(ourID, "inboxbot.1.") || !strings.HasSuffix(ourID, "@acme.test") {
		t.Errorf("Message-ID = %q", ourID)
	}
	if !strings.Contains(body, "we're on it & will call status page (https://acme.test/status).") {
		t.Errorf("body = %q", body)
	}
	// The agent sees it went out.
	if err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		for _, m := range h.thread(root.TS) {
			if m.User == alice && len(m.Reactions["email"]) > 0 {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("reply not marked as sent: %v", err)
	}

	// The customer answers our reply: same thread, no new conversation.
	h.deliver(customerMail{Subject: "Re: Printer on fire", MessageID: "c2@example.com", InReplyTo: ourID,
		Body: "Thanks! It's out now."}.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "It's out now") })
	if n := len(h.roots()); n != 1 {
		t.Errorf("%d root messages, want 1", n)
	}

	// A second reply threads under the customer's latest mail.
	_, env = h.slack.UserPost(inboxChannel, bob, root.TS, "Glad to hear it.")
	h.ack(env)
	got = h.waitMails(2)
	hdr, _ = parsedMail(t, got[1])
	if irt := hdr.Get("In-Reply-To"); irt != "<c2@example.com>" {
		t.Errorf("second reply In-Reply-To = %q", irt)
	}
	if s, _ := hdr.Subject(); s != "Re: Printer <!channel> on fire" {
		t.Errorf("second reply Subject = %q (never Re: Re:)", s)
	}
	if got[1].To[0] != "carl@example.com" {
		t.Errorf("second reply to %v: the latest mail had no Reply-To", got[1].To)
	}
	from, _ = hdr.AddressList("From")
	if from[0].Name != "Bob Builder (Acme Support)" {
		t.Errorf("second reply From %v", from)
	}
}

// Notes stay internal, and nothing but a thread reply produces mail.
func TestOnlyRepliesProduceMail(t *testing.T) { eachTransport(t, testOnlyRepliesProduceMail) }

func testOnlyRepliesProduceMail(t *testing.T, h *harness) {
	h.start()
	h.deliver(customerMail{Subject: "Question", MessageID: "q1@example.com", Body: "How?"}.raw())
	root := h.waitRoots(1)[0]

	// An unrelated thread: a top-level human message with a reply under it.
	top, env := h.slack.UserPost(inboxChannel, alice, "", "lunch anyone?")
	h.ack(env)

	var envs []string
	post := func(user, thread, text string) {
		_, e := h.slack.UserPost(inboxChannel, user, thread, text)
		envs = append(envs, e)
	}
	post(alice, root.TS, "note: customer is a VIP")
	post(alice, root.TS, "NOTE: shouting notes are notes")
	post(alice, root.TS, "// internal aside")
	post(bob, top, "sure, 12:30")
	// (A reply with files, subtype file_share, is mail: files_test.go.)
	for i, sub := range []string{"thread_broadcast", "message_changed", "bot_message"} {
		e, err := h.slack.SendEvent(map[string]any{
			"type": "message", "subtype": sub, "channel": inboxChannel, "user": alice,
			"text": "not mail " + sub, "ts": "1800000000.00000" + string(rune('1'+i)), "thread_ts": root.TS,
		}, "EvSub"+sub, 0)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	// A message from another bot in the thread.
	e, _ := h.slack.SendEvent(map[string]any{
		"type": "message", "channel": inboxChannel, "user": "UOTHERBOT", "bot_id": "BOTHER",
		"text": "beep", "ts": "1800000000.000100", "thread_ts": root.TS,
	}, "EvBot", 0)
	envs = append(envs, e)
	// A reply in another channel's thread.
	e, _ = h.slack.SendEvent(map[string]any{
		"type": "message", "channel": "COTHER", "user": alice, "text": "elsewhere",
		"ts": "1800000000.000200", "thread_ts": root.TS,
	}, "EvOther", 0)
	envs = append(envs, e)
	for _, e := range envs {
		h.ack(e) // acked means handled
	}
	if jobs, _ := h.m.st.MailJobs(); len(jobs) != 0 {
		t.Fatalf("outbox holds %d jobs after notes and non-replies: %+v", len(jobs), jobs)
	}
	// A real reply still goes out, and it is the only mail.
	_, e = h.slack.UserPost(inboxChannel, alice, root.TS, "Like this.")
	h.ack(e)
	got := h.waitMails(1)
	if len(h.smtp.Messages()) != 1 || !strings.Contains(string(got[0].Data), "Like this.") {
		t.Errorf("mails sent: %d", len(h.smtp.Messages()))
	}
}

// Slack redelivers an event (same event_id) when the ack was late: one mail.
func TestRedeliveryNeverSendsTwice(t *testing.T) { eachTransport(t, testRedeliveryNeverSendsTwice) }

func testRedeliveryNeverSendsTwice(t *testing.T, h *harness) {
	h.start()
	h.deliver(customerMail{Subject: "Dup", MessageID: "d1@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]
	ev := map[string]any{"type": "message", "channel": inboxChannel, "user": alice, "text": "once only",
		"ts": "1800000001.000100", "thread_ts": root.TS}
	for attempt := range 3 {
		e, err := h.slack.SendEvent(ev, "EvDup", attempt)
		if err != nil {
			t.Fatal(err)
		}
		h.ack(e)
	}
	h.waitMails(1)
	// Also after a restart (the dedup is on disk).
	h.restart()
	e, _ := h.slack.SendEvent(ev, "EvDup", 3)
	h.ack(e)
	// Flush the outbox with a later reply, then count.
	_, e = h.slack.UserPost(inboxChannel, alice, root.TS, "second")
	h.ack(e)
	h.waitMails(2)
	if n := len(h.smtp.Messages()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}

// Mail already there on the very first start is not imported; mail that
// arrives while the bot is down is.
func TestFirstStartAndDowntime(t *testing.T) {
	h := newHarness(t)
	h.deliver(customerMail{Subject: "Ancient history", MessageID: "old@example.com", Body: "old"}.raw())
	h.start()
	h.deliver(customerMail{Subject: "Fresh", MessageID: "new1@example.com", Body: "new"}.raw())
	h.waitRoots(1)
	h.stop()
	h.deliver(customerMail{Subject: "While down 1", MessageID: "down1@example.com", Body: "a"}.raw())
	h.deliver(customerMail{Subject: "While down 2", MessageID: "down2@example.com", Body: "b"}.raw())
	h.start()
	roots := h.waitRoots(3)
	var subjects []string
	for _, r := range roots {
		subjects = append(subjects, text(r))
	}
	all := strings.Join(subjects, "\n")
	if strings.Contains(all, "Ancient history") {
		t.Error("mail from before the first start was imported")
	}
	for _, s := range []string{"#1 · Fresh", "#2 · While down 1", "#3 · While down 2"} {
		if !strings.Contains(all, s) {
			t.Errorf("missing root %q", s)
		}
	}
	if len(roots) != 3 {
		t.Errorf("%d roots, want 3", len(roots))
	}
}

// A long mail: preview in the root, all of it in the thread, no Slack error.
func TestLongMail(t *testing.T) {
	h := newHarness(t)
	h.start()
	var b strings.Builder
	for i := range 800 {
		b.WriteString("Line ")
		b.WriteString(strings.Repeat("x", i%40))
		b.WriteString(" of a very long complaint.\n")
	}
	b.WriteString("THE END")
	h.deliver(customerMail{Subject: "Long", MessageID: "long@example.com", Body: b.String()}.raw())
	root := h.waitRoots(1)[0]
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "THE END") })
	if !strings.Contains(text(root), "Full text in the thread") {
		t.Error("root does not point to the thread for the rest")
	}
	if n := h.slack.Calls("chat.postMessage"); n != 1+len(h.thread(root.TS)) {
		t.Errorf("%d postMessage calls for %d messages: something was refused", n, 1+len(h.thread(root.TS)))
	}
}

// Replies that cannot be delivered are retried when the failure is
// temporary and reported in the thread when it is permanent.
func TestSMTPFailures(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.deliver(customerMail{Subject: "Fail", MessageID: "f1@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]

	h.smtp.FailNext("RCPT", 451, "try later")
	_, e := h.slack.UserPost(inboxChannel, alice, root.TS, "temporary trouble")
	h.ack(e)
	got := h.waitMails(1)
	if !strings.Contains(string(got[0].Data), "temporary trouble") {
		t.Error("retried mail lost its text")
	}

	h.smtp.FailNext("RCPT", 550, "no such user")
	ts, e := h.slack.UserPost(inboxChannel, alice, root.TS, "doomed")
	h.ack(e)
	h.waitThread(root.TS, func(m slackfake.Message) bool {
		return m.BotID != "" && strings.Contains(m.Text, "NOT sent") && strings.Contains(m.Text, "no such user")
	})
	if err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool {
		for _, m := range h.thread(root.TS) {
			if m.TS == ts && len(m.Reactions["x"]) > 0 {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("failed reply not marked: %v", err)
	}
	if jobs, _ := h.m.st.MailJobs(); len(jobs) != 0 {
		t.Errorf("outbox still holds %+v", jobs)
	}
}

// A Slack post that succeeded but whose answer was lost is not repeated,
// neither by the retry nor after a restart.
func TestLostSlackAnswerNoDuplicate(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.slack.DropAfterNext("chat.postMessage")
	h.deliver(customerMail{Subject: "Once", MessageID: "o1@example.com", Body: "x"}.raw())
	h.waitRoots(1)
	// Crash before the retry has looked.
	h.stop()
	h.deliver(customerMail{Subject: "Twice?", MessageID: "o2@example.com", Body: "y"}.raw())
	h.start()
	roots := h.waitRoots(2)
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	roots = h.roots()
	if len(roots) != 2 {
		t.Fatalf("%d roots, want 2 (one per mail)", len(roots))
	}
	c, err := h.m.st.ConvByThread(inboxChannel, roots[0].TS)
	if err != nil || c.Num != 1 {
		t.Errorf("first root not mapped to its conversation: %+v %v", c, err)
	}
}

// Slack down while a mail arrives, then a crash: the mail is posted once
// after the restart.
func TestSlackDownThenCrash(t *testing.T) {
	h := newHarness(t)
	h.start()
	for range 3 {
		h.slack.FailNext("chat.postMessage", "internal_error")
	}
	h.deliver(customerMail{Subject: "Patience", MessageID: "p1@example.com", Body: "x"}.raw())
	h.poll("first attempt failed", func() bool { return h.slack.Calls("chat.postMessage") >= 1 })
	h.stop()
	h.start()
	h.waitRoots(1)
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	if n := len(h.roots()); n != 1 {
		t.Errorf("%d roots, want 1", n)
	}
}

// An SMTP session that dies after the server took the mail: the retry
// reuses the Message-ID, so the customer's client sees one message.
func TestLostSMTPAnswerReusesMessageID(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.deliver(customerMail{Subject: "Once", MessageID: "s1@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]
	h.smtp.DropAfterDataNext()
	_, e := h.slack.UserPost(inboxChannel, alice, root.TS, "exactly this")
	h.ack(e)
	h.waitMails(1)
	h.stop() // crash right after the lost answer
	h.start()
	got := h.waitMails(2)
	h.poll("outbox drained", func() bool { j, _ := h.m.st.MailJobs(); return len(j) == 0 })
	h1, _ := parsedMail(t, got[0])
	h2, _ := parsedMail(t, got[1])
	id1, _ := h1.MessageID()
	id2, _ := h2.MessageID()
	if id1 == "" || id1 != id2 {
		t.Errorf("retry used Message-ID %q, first attempt %q", id2, id1)
	}
}

// The store the core loop leaves behind threads an answer that only
// carries References (clients that drop In-Reply-To).
func TestThreadingByReferences(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.deliver(customerMail{Subject: "Refs", MessageID: "r1@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]
	h.deliver(customerMail{Subject: "Re: Refs", MessageID: "r2@example.com",
		References: "<unknown@elsewhere> <r1@example.com>", Body: "follow-up by references"}.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "follow-up by references") })
	c, _ := h.m.st.Conv(1)
	if c.Status != store.StatusOpen || len(h.roots()) != 1 {
		t.Errorf("conversation %+v, %d roots", c, len(h.roots()))
	}
}

// A reply typed while inboxbot was down for longer than Slack keeps
// redelivering is found at start-up and sent, once.
func TestRepliesWhileDownAreCaughtUp(t *testing.T) { eachTransport(t, testRepliesWhileDownAreCaughtUp) }

func testRepliesWhileDownAreCaughtUp(t *testing.T, h *harness) {
	h.start()
	h.deliver(customerMail{Subject: "Offline", MessageID: "off1@example.com", Body: "x"}.raw())
	root := h.waitRoots(1)[0]
	_, e := h.slack.UserPost(inboxChannel, alice, root.TS, "first, while up")
	h.ack(e)
	h.waitMails(1)
	h.stop()
	h.slack.UserPost(inboxChannel, bob, root.TS, "typed while the bot was down")
	h.slack.UserPost(inboxChannel, bob, root.TS, "note: and a note")
	if n := h.dropPending(); n < 2 { // both posts (and maybe echoes of the bot's own)
		t.Fatalf("dropped %d undelivered events, want at least 2", n)
	}
	// Slack is busy when the catch-up reads the thread: it must wait, not skip.
	h.slack.RateLimitNext("conversations.replies", 1)
	h.start()
	got := h.waitMails(2)
	if !strings.Contains(string(got[1].Data), "typed while the bot was down") {
		t.Errorf("second mail: %s", got[1].Data)
	}
	// Nothing else is sent: not the note, not the reply sent before.
	_, e = h.slack.UserPost(inboxChannel, alice, root.TS, "after the restart")
	h.ack(e)
	got = h.waitMails(3)
	if len(h.smtp.Messages()) != 3 || !strings.Contains(string(got[2].Data), "after the restart") {
		t.Errorf("%d mails after catch-up", len(h.smtp.Messages()))
	}
	// A second restart finds nothing new.
	h.restart()
	_, e = h.slack.UserPost(inboxChannel, alice, root.TS, "last")
	h.ack(e)
	h.waitMails(4)
	if n := len(h.smtp.Messages()); n != 4 {
		t.Errorf("%d mails, want 4", n)
	}
}

// A rate-limited post waits for Retry-After and is then posted once; a post
// whose blocks Slack refuses is shown as text with a warning, not dropped.
func TestSlackRefusalsAndRateLimits(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.slack.RateLimitNext("chat.postMessage", 1)
	h.deliver(customerMail{Subject: "Limited", MessageID: "rl@example.com", Body: "x"}.raw())
	h.waitRoots(1)
	h.slack.FailNext("chat.postMessage", "invalid_blocks")
	h.deliver(customerMail{Subject: "Refused", MessageID: "ref@example.com", Body: "y"}.raw())
	roots := h.waitRoots(2)
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	if n := len(h.roots()); n != 2 {
		t.Fatalf("%d roots, want 2", n)
	}
	if !strings.Contains(roots[1].Text, "Slack refused the full rendering") || !strings.Contains(roots[1].Text, "Refused") {
		t.Errorf("fallback root: %q", roots[1].Text)
	}
	if c, err := h.m.st.ConvByThread(inboxChannel, roots[1].TS); err != nil || c.Num != 2 {
		t.Errorf("fallback root not mapped: %v", err)
	}
}
