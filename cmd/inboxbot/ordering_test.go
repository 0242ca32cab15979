package main

import (
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// interruptedRoot leaves conversation 2's root in Slack but not recorded:
// the process dies after Slack stored the post and before the bot learnt
// its ts (the answer was lost). It returns the root as Slack has it; the
// bot is stopped.
func (h *harness) interruptedRoot() slackfake.Message {
	h.t.Helper()
	h.conversation("Known one")
	h.slack.DropAfterNext("chat.postMessage")
	h.deliver(customerMail{Subject: "Interrupted", MessageID: "int@example.com", Body: "Body of Interrupted"}.raw())
	h.poll("root post sent, outcome unknown", func() bool {
		jobs, _ := h.m.st.SlackJobs()
		return len(jobs) > 0 && jobs[0].Conv == 2 && jobs[0].Attempting && jobs[0].Attempts > 0
	})
	h.stop()
	roots := h.roots()
	if len(roots) != 2 {
		h.t.Fatalf("%d roots in Slack, want 2", len(roots))
	}
	return roots[1]
}

// restartUnresolved restarts with the lookup of the interrupted root held
// back by Slack's rate limit, so that events come while it is unresolved.
func (h *harness) restartUnresolved() {
	h.t.Helper()
	h.slack.BlockMethod("conversations.history", 1)
	h.start()
}

func (h *harness) parked() int {
	ps, err := h.m.st.ParkedAfter(0, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(ps)
}

// The order of issue 11: root stored by Slack but not recorded; an agent
// replies in its thread while the bot is down; at restart the reply's event
// arrives before the root is found again (the lookup is rate limited). The
// reply must not be taken for a stranger's thread and dropped: it is sent,
// once, when the root is resolved.
func TestReplyInUnresolvedThreadIsSent(t *testing.T) {
	eachTransport(t, testReplyInUnresolvedThreadIsSent)
}

func testReplyInUnresolvedThreadIsSent(t *testing.T, h *harness) {
	h.start()
	root := h.interruptedRoot()
	_, env := h.slack.UserPost(inboxChannel, alice, root.TS, "Answer typed while the bot was down")
	h.restartUnresolved()
	h.ack(env)
	if n := h.parked(); n != 1 {
		t.Fatalf("%d parked events, want the reply", n)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails sent before the thread was known", n)
	}
	h.slack.UnblockMethod("conversations.history")
	got := h.waitMails(1)
	if _, body := parsedMail(t, got[0]); !strings.Contains(body, "Answer typed while the bot was down") {
		t.Errorf("mail body %q", body)
	}
	h.poll("queues drained", func() bool {
		j, _ := h.m.st.SlackJobs()
		o, _ := h.m.st.MailJobs()
		return len(j) == 0 && len(o) == 0 && h.parked() == 0
	})
	if n := len(h.roots()); n != 2 {
		t.Errorf("%d roots, want 2 (the interrupted one posted twice?)", n)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	if c, err := h.m.st.ConvByThread(inboxChannel, root.TS); err != nil || c.Num != 2 {
		t.Errorf("interrupted root not recorded: %+v %v", c, err)
	}
}

// The same order for a reaction on the interrupted root: the close is
// applied once the root is known.
func TestReactionOnUnresolvedRootIsApplied(t *testing.T) {
	eachTransport(t, testReactionOnUnresolvedRootIsApplied)
}

func testReactionOnUnresolvedRootIsApplied(t *testing.T, h *harness) {
	h.start()
	root := h.interruptedRoot()
	env := h.slack.AddReaction(inboxChannel, root.TS, bob, "white_check_mark")
	h.restartUnresolved()
	h.ack(env)
	if c := h.conv(2); c.Status != store.StatusOpen {
		t.Fatalf("closed before the root was known: %s", c.Status)
	}
	h.slack.UnblockMethod("conversations.history")
	h.waitCard(root.TS, "Closed")
	h.waitLine(root.TS, "<@UBOB> closed #2")
	if h.parked() != 0 {
		t.Error("parked event left behind")
	}
}

// A button on the interrupted root's card and a slash command name the
// conversation by number: they take effect at once; the card and the
// thread lines follow once the root is known.
func TestClicksAndCommandsOnUnresolvedRoot(t *testing.T) {
	eachTransport(t, testClicksAndCommandsOnUnresolvedRoot)
}

func testClicksAndCommandsOnUnresolvedRoot(t *testing.T, h *harness) {
	h.start()
	root := h.interruptedRoot()
	h.restartUnresolved()
	h.ack(h.slack.BlockAction(alice, inboxChannel, root.TS, "", "claim", "2", ""))
	if ans := h.slash(bob, "hold 2"); !strings.Contains(ans, "Done") {
		t.Fatalf("/inbox hold 2: %q", ans)
	}
	if c := h.conv(2); c.Assignee != alice || c.Status != store.StatusHold {
		t.Fatalf("conversation 2: %+v", c)
	}
	h.slack.UnblockMethod("conversations.history")
	h.waitCard(root.TS, "On hold", "Assigned to <@UALICE>")
	h.waitLine(root.TS, "<@UALICE> claimed #2")
	h.waitLine(root.TS, "<@UBOB> put #2 on hold")
	if n := len(h.roots()); n != 2 {
		t.Errorf("%d roots, want 2", n)
	}
}

// The catch-up does not skip a missed reply that is older than one handled
// in another thread.
func TestCatchUpTakesOlderReplyOfAnotherThread(t *testing.T) {
	eachTransport(t, testCatchUpTakesOlderReplyOfAnotherThread)
}

func testCatchUpTakesOlderReplyOfAnotherThread(t *testing.T, h *harness) {
	h.start()
	a := h.conversation("Thread A")
	b := h.conversation("Thread B")
	h.stop()
	// While the bot is down: a reply in A, then one in B. B's event comes
	// at restart; A's is lost (Slack gave up on it).
	_, lost := h.slack.UserPost(inboxChannel, alice, a.TS, "older reply in A")
	_, env := h.slack.UserPost(inboxChannel, bob, b.TS, "newer reply in B")
	h.dropEnvelope(lost)
	h.start()
	h.ack(env)
	got := h.waitMails(2)
	bodies := ""
	for _, m := range got {
		_, body := parsedMail(t, m)
		bodies += body
	}
	for _, want := range []string{"older reply in A", "newer reply in B"} {
		if !strings.Contains(bodies, want) {
			t.Errorf("%q not sent", want)
		}
	}
	h.restart()
	h.poll("catch-up done", func() bool { return strings.Count(h.logs.String(), "catch-up done") >= 2 })
	if n := len(h.smtp.Messages()); n != 2 {
		t.Errorf("%d mails after another restart, want 2", n)
	}
}

// An edit of a reply in a thread whose root is unresolved is parked with
// the reply and applied after it, once the root is known.
func TestEditInUnresolvedThreadIsKept(t *testing.T) {
	eachTransport(t, testEditInUnresolvedThreadIsKept)
}

func testEditInUnresolvedThreadIsKept(t *testing.T, h *harness) {
	h.inbox().SendDelay = longHold
	h.start()
	root := h.interruptedRoot()
	ts, env := h.slack.UserPost(inboxChannel, alice, root.TS, "draft typed while the bot was down")
	edit := h.slack.UserEdit(inboxChannel, ts, "final, edited while the bot was down")
	h.restartUnresolved()
	h.ack(env)
	h.ack(edit)
	if n := h.parked(); n != 2 {
		t.Fatalf("%d parked events, want the reply and its edit", n)
	}
	h.slack.UnblockMethod("conversations.history")
	h.waitLine(root.TS, "Edit taken")
	jobs, _ := h.m.st.MailJobs()
	if len(jobs) != 1 || jobs[0].Text != "final, edited while the bot was down" || !jobs[0].Held {
		t.Fatalf("outbox %+v", jobs)
	}
	if h.parked() != 0 {
		t.Error("parked events left behind")
	}
}
