package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/store"
)

// Safe sending: the hold window, its undo, edits and deletions, the
// collision guard, recipients, compose and forward, bounces.

// longHold is a window no test waits out: what happens inside it is
// decided by the test (Send now, Cancel, an edit, a deletion).
const longHold = time.Hour

// reacted reports whether message ts of the inbox channel has reaction name.
func (h *harness) reacted(ts, name string) bool {
	m, ok := h.slack.Message(inboxChannel, ts)
	return ok && len(m.Reactions[name]) > 0
}

// waitMark waits until message ts has reaction on and not reaction off.
func (h *harness) waitMark(ts, on, off string) {
	h.t.Helper()
	err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool {
		return (on == "" || h.reacted(ts, on)) && (off == "" || !h.reacted(ts, off))
	})
	if err != nil {
		m, _ := h.slack.Message(inboxChannel, ts)
		h.t.Fatalf("message %s: want :%s: and not :%s:, has %v", ts, on, off, m.Reactions)
	}
}

// reply posts a thread reply as user and waits until the bot handled it.
func (h *harness) reply(user, root, text string) string {
	h.t.Helper()
	ts, env := h.slack.UserPost(inboxChannel, user, root, text)
	h.ack(env)
	return ts
}

// privateFor waits for an ephemeral to user containing want and returns it.
func (h *harness) privateFor(user, want string) slackfake.Message {
	h.t.Helper()
	var found slackfake.Message
	err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		for _, m := range s.Ephemerals() {
			if m.User == user && strings.Contains(text(m), want) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		h.t.Fatalf("no private message %q for %s; got %q", want, user, h.ephemeralsFor(user))
	}
	return found
}

// click presses a button of an ephemeral as user and waits for the ack.
func (h *harness) click(user string, e slackfake.Message, actionID string) {
	h.t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	json.Unmarshal(e.Blocks, &blocks)
	for _, b := range blocks {
		for _, el := range b.Elements {
			if el.ActionID == actionID {
				env := h.slack.EphemeralAction(user, e.Channel, e.TS, actionID, el.Value)
				if env == "" {
					h.t.Fatalf("%s cannot click %s", user, actionID)
				}
				h.ack(env)
				return
			}
		}
	}
	h.t.Fatalf("no button %s in %s", actionID, e.Blocks)
}

// outboxEmpty waits until nothing is held or waiting to be sent.
func (h *harness) outboxEmpty() {
	h.t.Helper()
	h.poll("outbox empty", func() bool { j, _ := h.m.st.MailJobs(); return len(j) == 0 })
}

// flushed waits until the Slack queue is drained: every line and mark of
// what happened so far is in Slack.
func (h *harness) flushed() {
	h.t.Helper()
	h.poll("slack queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
}

func body(t *testing.T, r mailtest.Received) string {
	t.Helper()
	_, b := parsedMail(t, r)
	return strings.TrimSpace(strings.ReplaceAll(b, "\r\n", "\n"))
}

// A reply is held for SEND_DELAY from its message's own time: marked, shown
// privately to its author with whom it goes to, then sent with the
// signature and marked sent.
func TestHoldThenSend(t *testing.T) {
	h := newHarness(t)
	const delay = 1500 * time.Millisecond
	h.inbox().SendDelay = delay
	h.inbox().Signature = "Best,\n{agent}\nAcme Support"
	h.start()
	root := h.conversation("Hold")
	ts := h.reply(alice, root.TS, "Hi Carl, on it.")
	h.waitMark(ts, "hourglass_flowing_sand", "")
	p := h.privateFor(alice, "goes out at")
	for _, want := range []string{"To: Carl Customer <carl@example.com>", "Send now", "Cancel", "Signature:", "Alice Agent"} {
		if !strings.Contains(text(p), want) {
			t.Errorf("preview lacks %q:\n%s", want, text(p))
		}
	}
	if p.ThreadTS != root.TS {
		t.Errorf("preview not in the thread: %+v", p)
	}
	got := h.waitMails(1)
	if due := store.TSTime(ts).Add(delay); got[0].At.Before(due) {
		t.Errorf("sent at %v, before the window ended at %v", got[0].At, due)
	}
	if b := body(t, got[0]); b != "Hi Carl, on it.\n\n-- \nBest,\nAlice Agent\nAcme Support" {
		t.Errorf("body %q", b)
	}
	h.waitMark(ts, "email", "hourglass_flowing_sand")
}

// Send now ends the window at once; Cancel stops the reply for good; only
// the author can use the buttons; a second click says what became of it.
func TestSendNowAndCancel(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = longHold
	h.start()
	root := h.conversation("Buttons")
	ts1 := h.reply(alice, root.TS, "Send me now")
	p1 := h.privateFor(alice, "goes out at")
	ts2 := h.reply(alice, root.TS, "Cancel me")
	h.waitMark(ts2, "hourglass_flowing_sand", "")
	var p2 slackfake.Message
	// The preview is posted apart from the mark: wait for it.
	h.poll("the second reply's preview", func() bool {
		for _, e := range h.slack.Ephemerals() {
			if e.User == alice && e.TS != p1.TS && strings.Contains(text(e), "goes out at") {
				p2 = e
			}
		}
		return p2.TS != ""
	})
	h.click(alice, p1, "reply_send_now")
	got := h.waitMails(1)
	if !strings.Contains(body(t, got[0]), "Send me now") {
		t.Errorf("sent %q", body(t, got[0]))
	}
	h.waitMark(ts1, "email", "hourglass_flowing_sand")
	h.poll("the preview replaced after Send now", func() bool {
		e, _ := h.slack.Ephemeral(p1.TS)
		return strings.Contains(e.Text, "Sending your reply")
	})
	h.click(alice, p1, "reply_cancel") // too late
	h.poll("answer to a late cancel", func() bool {
		e, _ := h.slack.Ephemeral(p1.TS)
		return strings.Contains(e.Text, "already")
	})

	// Bob cannot cancel Alice's reply (he could not see her preview, but a
	// forged click must not work either).
	jobs, _ := h.m.st.MailJobs()
	h.ack(h.slack.BlockAction(bob, inboxChannel, ts2, root.TS, "reply_cancel", fmt.Sprintf("1:%d", jobs[0].Seq), ""))
	h.waitEphemeral(bob, "Only <@UALICE>")
	if m, _ := h.slack.Message(inboxChannel, ts2); m.Text != "Cancel me" {
		t.Errorf("a click answer replaced a channel message: %q", m.Text)
	}
	h.click(alice, p2, "reply_cancel")
	h.waitLine(root.TS, "<@UALICE> cancelled a reply before it was sent")
	h.waitMark(ts2, "no_entry_sign", "hourglass_flowing_sand")
	h.outboxEmpty()
	if e, _ := h.slack.Ephemeral(p2.TS); !strings.Contains(e.Text, "Cancelled") {
		t.Errorf("preview after Cancel: %q", e.Text)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

// Inside the window an edit changes the mail, an edit into a note or a
// deletion cancels it; each is said in the thread. After the window the
// thread says the customer has the original.
func TestEditsAndDeletions(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = longHold
	h.start()
	root := h.conversation("Edits")

	edited := h.reply(alice, root.TS, "Hi Carl, teh fix is out")
	h.ack(h.slack.UserEdit(inboxChannel, edited, "Hi Carl, the fix is out"))
	h.waitLine(root.TS, "Edit taken")

	noted := h.reply(alice, root.TS, "Carl is a pain")
	h.ack(h.slack.UserEdit(inboxChannel, noted, "note: Carl is a pain"))
	h.waitLine(root.TS, "turned into a note before it was sent")
	h.waitMark(noted, "no_entry_sign", "hourglass_flowing_sand")

	deleted := h.reply(alice, root.TS, "wrong thread!")
	h.waitMark(deleted, "hourglass_flowing_sand", "")
	h.ack(h.slack.UserDelete(inboxChannel, deleted))
	h.waitLine(root.TS, "deleted before it was sent")

	// Only the edited one is left: send it.
	jobs, _ := h.m.st.MailJobs()
	if len(jobs) != 1 || jobs[0].SlackTS != edited {
		t.Fatalf("outbox %+v", jobs)
	}
	h.click(alice, h.privateFor(alice, "goes out at"), "reply_send_now")
	got := h.waitMails(1)
	if b := body(t, got[0]); b != "Hi Carl, the fix is out" {
		t.Errorf("sent %q, want the edited text", b)
	}
	h.waitMark(edited, "email", "")

	// After sending: edit and delete are said to be too late.
	h.ack(h.slack.UserEdit(inboxChannel, edited, "Hi Carl, the fix is out (v2)"))
	h.waitLine(root.TS, "edited after it was sent")
	if !strings.Contains(text(h.waitThreadLine(root.TS, "edited after it was sent")), "<!date^") {
		t.Error("the late-edit line does not say when the reply was sent")
	}
	h.ack(h.slack.UserDelete(inboxChannel, edited))
	h.waitLine(root.TS, "already sent")
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	// A redelivered edit says nothing twice.
	before := len(h.thread(root.TS))
	e := h.slack.UserEdit(inboxChannel, noted, "note: Carl is a pain!")
	h.ack(e)
	env, _ := h.slack.Resend(e, 1)
	h.ack(env)
	h.flushed()
	if n := len(h.thread(root.TS)); n != before {
		t.Errorf("%d new thread messages after edits of a cancelled reply", n-before)
	}
}

func (h *harness) waitThreadLine(root, want string) slackfake.Message {
	h.t.Helper()
	return h.waitThread(root, func(m slackfake.Message) bool { return m.BotID != "" && strings.Contains(m.Text, want) })
}

// A restart inside the window, with an edit made while the bot was down
// and whose event never arrives: the reply is sent once, edited, when the
// window ends (not at start-up).
func TestRestartInsideWindow(t *testing.T) {
	h := newHarness(t)
	const delay = 3 * time.Second
	h.inbox().SendDelay = delay
	h.start()
	root := h.conversation("Restart")
	ts := h.reply(alice, root.TS, "draft before the restart")
	h.waitMark(ts, "hourglass_flowing_sand", "")
	h.stop()
	h.dropEnvelope(h.slack.UserEdit(inboxChannel, ts, "final text, edited while the bot was down")) // Slack gave up on the edit's event
	h.start()
	got := h.waitMails(1)
	if due := store.TSTime(ts).Add(delay); got[0].At.Before(due) {
		t.Errorf("sent at %v, before the window ended at %v", got[0].At, due)
	}
	if b := body(t, got[0]); b != "final text, edited while the bot was down" {
		t.Errorf("sent %q", b)
	}
	h.outboxEmpty()
	h.restart()
	h.conversation("Later") // the restarted bot is past its start
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

// A reply deleted while the bot was down is never sent.
func TestDeletedWhileDown(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = time.Second
	h.start()
	root := h.conversation("Gone")
	ts := h.reply(alice, root.TS, "oops")
	h.stop()
	h.dropEnvelope(h.slack.UserDelete(inboxChannel, ts))
	h.start()
	h.waitLine(root.TS, "deleted before it was sent")
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d mails sent for a deleted reply", n)
	}
}

// The collision guard: the customer writes again while a reply is held,
// or another agent's reply comes after it: the author is asked, nothing
// is sent until they choose.
func TestCollisionGuard(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = 1500 * time.Millisecond
	h.start()
	root := h.conversation("Collide")

	// The customer writes again. Slack fails the first attempt to ask
	// Alice: she is asked all the same.
	ts := h.reply(alice, root.TS, "Have you tried turning it off?")
	h.privateFor(alice, "goes out at")
	h.slack.FailNext("chat.postEphemeral", "internal_error")
	h.deliver(customerMail{Subject: "Re: Collide", MessageID: "again@example.com", InReplyTo: "Collide@example.com", Body: "Never mind, fixed."}.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "Never mind") })
	q := h.privateFor(alice, "was NOT sent")
	if !strings.Contains(h.logs.String(), "private message to a reply's author failed") {
		t.Error("the failed first attempt to ask did not happen")
	}
	if !strings.Contains(text(q), "carl@example.com wrote again") || !strings.Contains(text(q), "Send anyway") {
		t.Errorf("question %s", text(q))
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails sent before the author answered", n)
	}
	h.waitMark(ts, "hourglass_flowing_sand", "")
	h.click(alice, q, "reply_send_anyway")
	got := h.waitMails(1)
	hdr, _ := parsedMail(t, got[0])
	if irt := hdr.Get("In-Reply-To"); irt != "<again@example.com>" {
		t.Errorf("sent anyway, In-Reply-To %q: want the customer's latest", irt)
	}

	// Alice and Bob answer the same mail: Bob wrote after Alice, who is
	// asked and cancels; Bob's goes out.
	h.deliver(customerMail{Subject: "Re: Collide", MessageID: "third@example.com", InReplyTo: "again@example.com", Body: "One more thing"}.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "One more thing") })
	tsA := h.reply(alice, root.TS, "Alice's answer")
	tsB := h.reply(bob, root.TS, "Bob's answer")
	h.waitLine(root.TS, "<@UBOB> is replying in #1, which belongs to <@UALICE>")
	q = h.privateFor(alice, "<@UBOB>")
	got = h.waitMails(2)
	if !strings.Contains(body(t, got[1]), "Bob's answer") {
		t.Errorf("second mail %q", body(t, got[1]))
	}
	h.click(alice, q, "reply_cancel")
	h.waitLine(root.TS, "<@UALICE> cancelled a reply")
	h.waitMark(tsA, "", "hourglass_flowing_sand")
	h.waitMark(tsB, "email", "")
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
	h.waitCard(root.TS, "last reply by <@UBOB>")
}

// An unanswered question expires (a day in production) and says so.
func TestCollisionQuestionExpires(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = time.Second
	h.slackTune.QuestionTTL = 2 * time.Second
	h.start()
	root := h.conversation("Expire")
	ts := h.reply(alice, root.TS, "held")
	h.deliver(customerMail{Subject: "Re: Expire", MessageID: "exp2@example.com", InReplyTo: "Expire@example.com", Body: "hello?"}.raw())
	h.privateFor(alice, "was NOT sent")
	h.waitLine(root.TS, "its author did not say whether to send it")
	h.waitMark(ts, "", "hourglass_flowing_sand")
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d mails sent without an answer", n)
	}
}

// Reply-all: To the customer, Cc whom else they wrote to, never the inbox
// itself; the card shows them; recipients change for one reply or for the
// conversation; a malformed address sends nothing.
func TestRecipients(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.deliver(customerMail{Subject: "Team", MessageID: "team@example.com", Body: "Hello all",
		Extra: map[string]string{"Cc": "Dan <dan@example.com>, support@acme.test, SUPPORT@ACME.TEST"}}.raw())
	root := h.waitRoots(1)[0]
	h.waitCard(root.TS, "Cc: Dan <dan@example.com>")
	if strings.Contains(text(root), "Cc: support@") {
		t.Errorf("card shows the inbox in Cc: %s", text(root))
	}
	h.reply(alice, root.TS, "Hi both")
	got := h.waitMails(1)
	if strings.Join(got[0].To, " ") != "carl@example.com dan@example.com" {
		t.Errorf("reply-all went to %v", got[0].To)
	}
	hdr, _ := parsedMail(t, got[0])
	if cc := hdr.Get("Cc"); !strings.Contains(cc, "dan@example.com") || strings.Contains(strings.ToLower(cc), "support@") {
		t.Errorf("Cc %q", cc)
	}

	// For one reply: lines at the top, not part of the mail.
	h.reply(alice, root.TS, "cc: -dan@example.com, <mailto:eve@example.com|eve@example.com>\nJust you and Eve")
	got = h.waitMails(2)
	if strings.Join(got[1].To, " ") != "carl@example.com eve@example.com" || body(t, got[1]) != "Just you and Eve" {
		t.Errorf("changed recipients: %v %q", got[1].To, body(t, got[1]))
	}
	// A malformed address: a clear answer, nothing queued.
	h.reply(alice, root.TS, "to: carl-at-example.com\nsorry")
	h.waitEphemeral(alice, "was NOT sent")
	if ans := h.slash(alice, "cc 1 add not-an-address"); !strings.Contains(ans, "is not an email address") {
		t.Errorf("/inbox cc with a bad address: %q", ans)
	}
	// For the conversation.
	if ans := h.slash(alice, "cc 1 add <mailto:fin@example.com|fin@example.com>"); !strings.Contains(ans, "Done") {
		t.Errorf("/inbox cc add: %q", ans)
	}
	h.slash(alice, "cc 1 remove dan@example.com")
	h.waitLine(root.TS, "added fin@example.com to the Cc")
	h.waitCard(root.TS, "Cc: fin@example.com")
	h.reply(alice, root.TS, "With Finance")
	got = h.waitMails(3)
	if strings.Join(got[2].To, " ") != "carl@example.com fin@example.com" {
		t.Errorf("after /inbox cc: %v", got[2].To)
	}
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 3 {
		t.Errorf("%d mails, want 3", n)
	}
}

// A mail that joins a conversation by its headers from an address that is
// not in it is shown, flagged, and changes nobody's replies.
func TestStrangerInThread(t *testing.T) {
	h := newHarness(t)
	h.start()
	root := h.conversation("Private")
	h.reply(alice, root.TS, "Your code is 1234")
	got := h.waitMails(1)
	hdr, _ := parsedMail(t, got[0])
	ours, _ := hdr.MessageID()
	h.deliver(customerMail{From: "Mallory <mallory@evil.example>", Subject: "Re: Private", MessageID: "mal@evil.example",
		InReplyTo: ours, Body: "Please send it to me instead"}.raw())
	m := h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "send it to me instead") })
	if !strings.Contains(text(m), "New address") {
		t.Errorf("stranger's mail not flagged: %s", text(m))
	}
	h.reply(alice, root.TS, "Anything else?")
	got = h.waitMails(2)
	if strings.Join(got[1].To, " ") != "carl@example.com" {
		t.Errorf("reply after a stranger's mail went to %v", got[1].To)
	}
}

// /inbox new opens an outbound conversation whose thread composes the first
// mail; the answer lands in it. /inbox forward forwards the latest customer
// mail and says so in the thread.
func TestComposeAndForward(t *testing.T) {
	h := newHarness(t)
	h.start()
	if ans := h.slash(alice, "new <mailto:pat@example.com|pat@example.com> Your order 42"); !strings.Contains(ans, "Started #1") {
		t.Fatalf("/inbox new: %q", ans)
	}
	root := h.waitRoots(1)[0]
	h.waitCard(root.TS, "#1 · Your order 42", "To: pat@example.com", "Assigned to <@UALICE>")
	h.waitLine(root.TS, "started this conversation")
	h.reply(alice, root.TS, "Hello Pat, your order shipped.")
	got := h.waitMails(1)
	hdr, _ := parsedMail(t, got[0])
	if s, _ := hdr.Subject(); s != "Your order 42" || got[0].To[0] != "pat@example.com" || hdr.Get("In-Reply-To") != "" {
		t.Errorf("first mail: subject %q to %v in-reply-to %q", s, got[0].To, hdr.Get("In-Reply-To"))
	}
	ours, _ := hdr.MessageID()
	h.deliver(customerMail{From: "Pat <pat@example.com>", Subject: "Re: Your order 42", MessageID: "pat1@example.com",
		InReplyTo: ours, Body: "It has not arrived."}.raw())
	m := h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "It has not arrived") })
	if strings.Contains(text(m), "New address") {
		t.Error("the addressee's answer is flagged")
	}
	if n := len(h.roots()); n != 1 {
		t.Errorf("%d roots", n)
	}

	if ans := h.slash(alice, "forward 1 logistics@acme-partner.example Please check the shipment"); !strings.Contains(ans, "Forwarding") {
		t.Fatalf("/inbox forward: %q", ans)
	}
	got = h.waitMails(2)
	hdr, b := parsedMail(t, got[1])
	if s, _ := hdr.Subject(); s != "Fwd: Re: Your order 42" || got[1].To[0] != "logistics@acme-partner.example" {
		t.Errorf("forward: subject %q to %v", s, got[1].To)
	}
	for _, want := range []string{"Please check the shipment", "---------- Forwarded message ---------", "From: Pat <pat@example.com>", "It has not arrived."} {
		if !strings.Contains(b, want) {
			t.Errorf("forward lacks %q:\n%s", want, b)
		}
	}
	h.waitLine(root.TS, "<@UALICE> forwarded the latest mail of #1 to logistics@acme-partner.example")
	if ans := h.slash(alice, "forward 1 bad-address"); !strings.Contains(ans, "not an email address") {
		t.Errorf("forward to a bad address: %q", ans)
	}
}

// A bounce of our reply marks it :x: with the reason and opens nothing; an
// out-of-office answer is shown, automated, and changes no status.
func TestBounceAndAutoReply(t *testing.T) {
	h := newHarness(t)
	h.start()
	root := h.conversation("Bouncy")
	ts := h.reply(alice, root.TS, "Our answer")
	got := h.waitMails(1)
	hdr, _ := parsedMail(t, got[0])
	ours, _ := hdr.MessageID()
	h.waitMark(ts, "email", "")
	h.waitCard(root.TS, "Waiting on customer")

	dsn := "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: support@acme.test\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example.com>\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n" +
		"Final-Recipient: rfc822; carl@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n" +
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + ours + ">\r\nSubject: Re: Bouncy\r\n--B--\r\n"
	h.deliver([]byte(dsn))
	h.waitMark(ts, "x", "email")
	line := h.waitThreadLine(root.TS, "bounced")
	if !strings.Contains(line.Text, "550 5.1.1 user unknown") || !strings.Contains(line.Text, "carl@example.com") {
		t.Errorf("bounce line %q", line.Text)
	}

	h.deliver(customerMail{From: "Carl Customer <carl@example.com>", Subject: "Out of office: Re: Bouncy", MessageID: "ooo@example.com",
		InReplyTo: ours, Body: "I am away until Monday.", Extra: map[string]string{"Auto-Submitted": "auto-replied"}}.raw())
	m := h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "away until Monday") })
	if !strings.Contains(text(m), "Automated mail") {
		t.Errorf("auto-reply not marked: %s", text(m))
	}
	h.flushed()
	if n := len(h.roots()); n != 1 {
		t.Errorf("%d roots: a bounce or an auto-reply opened a conversation", n)
	}
	if c := h.conv(1); c.Status != store.StatusWaiting {
		t.Errorf("status %s after a bounce and an auto-reply", c.Status)
	}
}

// A robot's automated mails open at most a few conversations an hour; the
// rest are added to the latest, counted.
func TestAutoReplyFlood(t *testing.T) {
	h := newHarness(t)
	h.start()
	const n = 8
	for i := range n {
		h.deliver(customerMail{From: "Ticket Robot <noreply@tickets.example>", Subject: fmt.Sprintf("[Ticket #%d] received", i),
			MessageID: fmt.Sprintf("robot%d@tickets.example", i), Body: fmt.Sprintf("ticket %d", i),
			Extra: map[string]string{"Auto-Submitted": "auto-generated"}}.raw())
	}
	roots := h.waitRoots(3)
	last := roots[2]
	h.waitThread(last.TS, func(m slackfake.Message) bool {
		return strings.Contains(text(m), fmt.Sprintf("ticket %d", n-1)) && strings.Contains(text(m), fmt.Sprintf("Automated mail no. %d", n))
	})
	h.flushed()
	if got := len(h.roots()); got != 3 {
		t.Errorf("%d roots for %d automated mails, want 3", got, n)
	}
}

// An edit made while the bot is down reaches it after the restart, maybe
// after the window ended and the reply was released with that very edit
// (read from Slack): the mail has the edit, and the thread is not told it
// came too late.
func TestEditRedeliveredAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = time.Second
	h.start()
	root := h.conversation("Redelivered")
	ts := h.reply(alice, root.TS, "draft")
	h.stop()
	env := h.slack.UserEdit(inboxChannel, ts, "final") // delivered at the next connection
	h.start()
	h.ack(env)
	got := h.waitMails(1)
	if b := body(t, got[0]); b != "final" {
		t.Errorf("sent %q", b)
	}
	h.waitMark(ts, "email", "hourglass_flowing_sand")
	h.flushed()
	for _, m := range h.thread(root.TS) {
		if strings.Contains(m.Text, "after it") {
			t.Errorf("misleading line: %q", m.Text)
		}
	}
}

// A crash after the release and before the SMTP server took the mail: the
// restarted bot sends it once, with the text it was released with (an
// edit after the release is too late, and says so when its event comes).
func TestCrashAfterRelease(t *testing.T) {
	h := newHarness(t)
	h.inbox().SendDelay = time.Second
	h.start()
	root := h.conversation("Released")
	h.smtp.FailNext("RCPT", 451, "try later")
	ts := h.reply(alice, root.TS, "as released")
	h.poll("released and tried once", func() bool {
		j, _ := h.m.st.MailJobs()
		return len(j) == 1 && !j[0].Held && j[0].Attempts == 1
	})
	h.stop()
	env := h.slack.UserEdit(inboxChannel, ts, "edited too late")
	h.start()
	h.ack(env)
	got := h.waitMails(1)
	if b := body(t, got[0]); b != "as released" {
		t.Errorf("sent %q", b)
	}
	h.waitLine(root.TS, "edited after it")
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails", n)
	}
}
