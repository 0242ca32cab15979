package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// Tags, customer history, merge and block (issue 10), end to end.

// mailFrom opens a conversation with a mail from addr and returns its
// root, once its thread is recorded (cards link to recorded threads only).
func (h *harness) mailFrom(from, subject, messageID string) slackfake.Message {
	h.t.Helper()
	before := len(h.roots())
	h.deliver(customerMail{From: from, Subject: subject, MessageID: messageID, Body: "Body of " + subject}.raw())
	root := h.waitRoots(before + 1)[before]
	h.convOf(inboxChannel, root.TS)
	return root
}

// slashCase is a command, who types it, and what its answer must say.
type slashCase struct{ user, cmd, want string }

// answers checks the answers of commands.
func (h *harness) answers(cases []slashCase) {
	h.t.Helper()
	for _, tc := range cases {
		if got := h.slash(tc.user, tc.cmd); !strings.Contains(got, tc.want) {
			h.t.Errorf("/inbox %s by %s = %q, want %q", tc.cmd, tc.user, got, tc.want)
		}
	}
}

// cardText is what the root message ts shows now.
func (h *harness) cardText(ts string) string {
	m, _ := h.slack.Message(inboxChannel, ts)
	return text(m)
}

func TestTags(t *testing.T) { eachTransport(t, testTags) }

func testTags(t *testing.T, h *harness) {
	h.inbox().ReactionTags = map[string]string{"moneybag": "billing"}
	h.start()
	r1 := h.conversation("Invoice wrong")
	r2 := h.conversation("Refund please")
	h.conversation("Printer on fire")

	h.answers([]slashCase{
		{alice, "tag 1", "Usage: `/inbox tag N NAME…`"},
		{alice, "tag x billing", "`x` is not a conversation number"},
		{alice, "tag 99 billing", "There is no conversation #99"},
		{alice, "tag 1 no*good", "letters, digits"},
		{alice, "untag 1 billing", "Nothing to do: #1 has none of those tags"},
		{mallory, "tag 1 billing", "Only members"},
		{mallory, "list tag:billing", "Only members"},
		{alice, "list tag:bad*tag", "Usage: `/inbox list"},
	})
	if c := h.conv(1); len(c.Tags) != 0 {
		t.Fatalf("refused commands tagged #1: %v", c.Tags)
	}

	if got := h.slash(alice, "tag 1 Billing <#C0VIP|vip>"); !strings.Contains(got, "tagged #1: billing, vip") {
		t.Errorf("tag: %q", got)
	}
	h.waitCard(r1.TS, "🏷 billing · vip")
	h.waitLine(r1.TS, "<@UALICE> tagged #1: billing, vip")
	if got := h.slash(alice, "tag 1 billing"); !strings.Contains(got, "Nothing to do") {
		t.Errorf("tag again: %q", got)
	}

	// The inbox's reaction tag, on the card: added tags, removed untags.
	h.ack(h.slack.AddReaction(inboxChannel, r2.TS, bob, "moneybag"))
	h.waitCard(r2.TS, "🏷 billing")
	h.waitLine(r2.TS, "<@UBOB> tagged #2: billing")
	h.ack(h.slack.AddReaction(inboxChannel, r1.TS, mallory, "moneybag"))
	h.waitEphemeral(mallory, "Only members")

	list := h.slash(bob, "list tag:billing")
	if !strings.Contains(list, "Open · tag billing* (2)") || !strings.Contains(list, "*#1*") || !strings.Contains(list, "*#2*") || strings.Contains(list, "*#3*") {
		t.Errorf("list tag:billing = %q", list)
	}
	h.slash(bob, "close 2")
	if got := h.slash(bob, "list closed tag:billing"); !strings.Contains(got, "*#2*") || strings.Contains(got, "*#1*") {
		t.Errorf("list closed tag:billing = %q", got)
	}
	if got := h.slash(bob, "list tag:vip"); !strings.Contains(got, "*#1*") || strings.Contains(got, "*#2*") {
		t.Errorf("list tag:vip = %q", got)
	}

	h.ack(h.slack.RemoveReaction(inboxChannel, r2.TS, bob, "moneybag"))
	h.waitLine(r2.TS, "<@UBOB> took the tag billing off #2")
	if got := h.slash(alice, "untag 1 vip"); !strings.Contains(got, "took the tag vip off #1") {
		t.Errorf("untag: %q", got)
	}
	h.waitCard(r1.TS, "🏷 billing")
	h.flushed()
	if card := h.cardText(r1.TS); strings.Contains(card, "vip") {
		t.Errorf("card still shows vip: %s", card)
	}
	if card := h.cardText(r2.TS); strings.Contains(card, "🏷") {
		t.Errorf("card 2 still shows a tag: %s", card)
	}
	if got := h.slash(bob, "list closed tag:billing"); strings.Contains(got, "*#2*") {
		t.Errorf("untagged #2 still listed: %q", got)
	}
	if n, _ := h.m.st.TagCounts([]string{h.inboxID()}); n["billing"] != 1 || n["vip"] != 0 {
		t.Errorf("tag counts %v", n)
	}
}

// Reactions on a card whose root is not known yet are parked like the
// others, and applied once it is.
func TestTagAndBlockReactionsOnUnresolvedRoot(t *testing.T) {
	eachTransport(t, testTagAndBlockReactionsOnUnresolvedRoot)
}

func testTagAndBlockReactionsOnUnresolvedRoot(t *testing.T, h *harness) {
	h.inbox().ReactionTags = map[string]string{"bug": "bug"}
	h.start()
	root := h.interruptedRoot()
	tagEnv := h.slack.AddReaction(inboxChannel, root.TS, bob, "bug")
	blockEnv := h.slack.AddReaction(inboxChannel, root.TS, bob, "no_entry")
	h.restartUnresolved()
	h.ack(tagEnv)
	h.ack(blockEnv)
	if c := h.conv(2); len(c.Tags) != 0 {
		t.Fatalf("tagged before the root was known: %v", c.Tags)
	}
	h.slack.UnblockMethod("conversations.history")
	h.waitCard(root.TS, "🏷 bug")
	h.waitLine(root.TS, "<@UBOB> blocked carl@example.com")
	if rule, _ := h.m.st.BlockedBy("carl@example.com"); rule == "" {
		t.Error("the parked block reaction was not applied")
	}
	if h.parked() != 0 {
		t.Error("parked events left behind")
	}
}

func TestCustomerHistory(t *testing.T) { eachTransport(t, testCustomerHistory) }

func testCustomerHistory(t *testing.T, h *harness) {
	h.start()
	first := h.mailFrom("Carl Customer <carl@example.com>", "First question", "q1@example.com")
	if card := h.cardText(first.TS); strings.Contains(card, "earlier") {
		t.Errorf("the first conversation names earlier ones: %s", card)
	}
	h.slash(alice, "close 1")
	h.mailFrom("Dora <dora@example.com>", "Dora's question", "d1@example.com")
	second := h.mailFrom("Carl C. <CARL@Example.com>", "Second question", "q2@example.com")
	// The new card names the earlier one, linked, with its status then.
	h.waitCard(second.TS, "1 earlier conversation with CARL@Example.com", "/archives/"+inboxChannel+"/p", "|#1> closed", "/inbox history CARL@Example.com")
	if card := h.cardText(second.TS); strings.Contains(card, "#2>") {
		t.Errorf("Dora's conversation is in Carl's history: %s", card)
	}

	h.slash(alice, "reopen 1")
	got := h.slash(bob, "history <mailto:carl@example.com|carl@example.com>")
	i1, i3 := strings.Index(got, "*#1*"), strings.Index(got, "*#3*")
	if !strings.Contains(got, "Conversations with carl@example.com* (2)") || i1 < 0 || i3 < 0 || i3 > i1 || strings.Contains(got, "*#2*") ||
		!strings.Contains(got, "First question>") || !strings.Contains(got, "/archives/"+inboxChannel+"/p") {
		t.Errorf("history: %q", got)
	}
	// Statuses as they are now: #1 was reopened.
	if line := got[i1:]; !strings.Contains(line, "— open") {
		t.Errorf("history shows #1 as %q", line)
	}
	h.answers([]slashCase{
		{alice, "history", "Usage: `/inbox history ADDRESS`"},
		{alice, "history nobody", "is not an email address"},
		{alice, "history nobody@example.com", "No conversations with nobody@example.com"},
		{mallory, "history carl@example.com", "Only members"},
	})
}

// History and the card's earlier conversations show only what one may
// see: a card in the support channel does not name billing's
// conversations, and /inbox history lists those of one's own inboxes.
func TestHistoryIsMembersOnly(t *testing.T) {
	h, b := newTwoInboxHarness(t)
	h.start()
	b.imap.Append(t, "INBOX", customerMail{Subject: "Invoice", MessageID: "b1@example.com", Body: "billing question"}.raw())
	h.waitIn(billingChannel, 1)
	sup := h.mailFrom("Carl Customer <carl@example.com>", "Printer", "s1@example.com")
	if card := h.cardText(sup.TS); strings.Contains(card, "earlier") {
		t.Errorf("the support card names a billing conversation: %s", card)
	}
	if got := h.slash(alice, "history carl@example.com"); !strings.Contains(got, "(2)") || !strings.Contains(got, "Acme Billing") {
		t.Errorf("Alice's history: %q", got)
	}
	if got := h.slash(bob, "history carl@example.com"); !strings.Contains(got, "(1)") || strings.Contains(got, "Invoice") {
		t.Errorf("Bob (not in billing) sees: %q", got)
	}
	// Merging needs both channels.
	bil := h.convOf(billingChannel, h.rootsIn(billingChannel)[0].TS)
	sc := h.convOf(inboxChannel, sup.TS)
	cmd := "merge " + strconv.FormatUint(sc.Num, 10) + " " + strconv.FormatUint(bil.Num, 10)
	if got := h.slash(bob, cmd); !strings.Contains(got, "Only members of <#"+billingChannel+">") {
		t.Errorf("Bob merged a billing conversation: %q", got)
	}
	if c := h.conv(bil.Num); c.MergedInto != 0 {
		t.Fatal("refused merge applied")
	}
	if got := h.slash(alice, cmd); !strings.Contains(got, "Done") {
		t.Errorf("Alice's merge: %q", got)
	}
}

func TestMerge(t *testing.T) { eachTransport(t, testMerge) }

func testMerge(t *testing.T, h *harness) {
	h.start()
	r1 := h.mailFrom("Carl Customer <carl@example.com>", "Printer", "p1@example.com")
	r2 := h.mailFrom("Dora <dora@example.com>", "Printer (colleague)", "p2@example.com")
	h.answers([]slashCase{
		{alice, "merge 1", "Usage: `/inbox merge N M`"},
		{alice, "merge 1 1", "cannot be merged into itself"},
		{alice, "merge 1 99", "There is no conversation #99"},
		{mallory, "merge 1 2", "Only members"},
	})
	if got := h.slash(alice, "merge 1 2"); !strings.Contains(got, "Done: #2 is merged into") || !strings.Contains(got, "dora@example.com") {
		t.Fatalf("merge: %q", got)
	}
	// Shown in both threads; M's card points to N and has no buttons.
	h.waitLine(r1.TS, "<@UALICE> merged #2 into #1: mail to either lands here")
	h.waitLine(r2.TS, "<@UALICE> merged #2 into #1: new mail lands there")
	h.waitCard(r2.TS, "Merged into <https://fake.slack.com/archives/"+inboxChannel+"/p", "|#1>")
	h.waitCard(r1.TS, "Merged into this one: <https://fake.slack.com/archives/"+inboxChannel+"/p")
	if card := h.cardText(r2.TS); strings.Contains(card, `"action_id":"reopen"`) {
		t.Errorf("merged card has buttons: %s", card)
	}

	// Mail to the merged thread lands in N's.
	h.deliver(customerMail{From: "Dora <dora@example.com>", Subject: "Re: Printer (colleague)", MessageID: "p3@example.com",
		InReplyTo: "p2@example.com", Body: "Any news?"}.raw())
	h.waitThread(r1.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "Any news?") })
	if strings.Contains(text(h.waitThread(r1.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "Any news?") })), "New address") {
		t.Error("the merged customer's mail is flagged as a stranger's")
	}
	// Replies from N reach everyone of both.
	h.reply(bob, r1.TS, "Fixed for both of you.")
	got := h.waitMails(1)
	if rcpt := got[0].To; !slices.Contains(rcpt, "carl@example.com") || !slices.Contains(rcpt, "dora@example.com") {
		t.Errorf("reply after the merge went to %v", rcpt)
	}
	// Nothing more happens in M's thread: a reply there is refused.
	h.reply(alice, r2.TS, "Typed in the old thread")
	h.waitEphemeral(alice, "was NOT sent: #2 was merged into")
	if got := h.slash(alice, "reopen 2"); !strings.Contains(got, "#2 was merged into #1") {
		t.Errorf("reopen of the merged one: %q", got)
	}
	if got := h.slash(alice, "merge 1 2"); !strings.Contains(got, "#2 was merged into #1") {
		t.Errorf("merged twice: %q", got)
	}
	h.flushed()
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails sent, want only the reply from #1", n)
	}
	for _, m := range h.thread(r2.TS) {
		if strings.Contains(text(m), "Any news?") {
			t.Error("mail to the merged thread was posted there too")
		}
	}
	if c := h.conv(2); c.Status != store.StatusClosed || c.MergedInto != 1 {
		t.Errorf("merged conversation: %+v", c)
	}
}

func TestBlock(t *testing.T) { eachTransport(t, testBlock) }

func testBlock(t *testing.T, h *harness) {
	h.start()
	spam := h.mailFrom("Pills <spam@pills.example>", "Cheap pills", "s1@pills.example")
	h.answers([]slashCase{
		{alice, "block", "Usage: `/inbox block ADDRESS|DOMAIN`"},
		{alice, "block nonsense", "is not an address or a domain"},
		{alice, "block support@acme.test", "cannot be blocked"},
		{alice, "block acme.test", "cannot be blocked"},
		{alice, "unblock pills.example", "Nothing to do: pills.example is not blocked"},
		{alice, "blocked", "Nobody is blocked"},
		{mallory, "block pills.example", "Only members"},
		{mallory, "blocked", "Only members"},
	})
	h.ack(h.slack.AddReaction(inboxChannel, spam.TS, mallory, "no_entry"))
	h.waitEphemeral(mallory, "Only members")

	// The reaction on the card blocks its customer; the command a domain.
	h.ack(h.slack.AddReaction(inboxChannel, spam.TS, alice, "no_entry"))
	h.waitLine(spam.TS, "<@UALICE> blocked spam@pills.example")
	if got := h.slash(bob, "block <http://pills.example|pills.example>"); !strings.Contains(got, "Blocked pills.example") {
		t.Errorf("block: %q", got)
	}
	// Their new mail opens nothing; it is counted and listed.
	h.deliver(customerMail{From: "spam@pills.example", Subject: "More pills", MessageID: "s2@pills.example", Body: "buy"}.raw())
	h.deliver(customerMail{From: "Other <other@mail.pills.example>", Subject: "Even more", MessageID: "s3@pills.example", Body: "buy"}.raw())
	carl := h.mailFrom("Carl Customer <carl@example.com>", "Real question", "c1@example.com") // after the others: they were recorded
	if roots := h.roots(); len(roots) != 2 || roots[1].TS != carl.TS {
		t.Fatalf("%d roots: a blocked sender's mail opened a conversation", len(roots))
	}
	list := h.slash(bob, "blocked")
	for _, want := range []string{"*Blocked* (2)", "*pills.example* — by <@UBOB>", "1 mail stopped", "“Even more”", "*spam@pills.example* — by <@UALICE>", "“More pills”"} {
		if !strings.Contains(list, want) {
			t.Errorf("/inbox blocked lacks %q: %q", want, list)
		}
	}
	// Their answer in an existing conversation is shown, flagged.
	h.deliver(customerMail{From: "spam@pills.example", Subject: "Re: Cheap pills", MessageID: "s4@pills.example", InReplyTo: "s1@pills.example", Body: "answer"}.raw())
	h.waitThread(spam.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "spam@pills.example is blocked") })
	// Nothing is mailed to them.
	h.reply(alice, spam.TS, "Please stop.")
	h.waitEphemeral(alice, "was NOT sent: spam@pills.example is blocked")
	if got := h.slash(alice, "forward 2 sales@pills.example"); !strings.Contains(got, "Not forwarded: sales@pills.example is blocked") {
		t.Errorf("forward to a blocked domain: %q", got)
	}
	h.outboxEmpty()
	if n := len(h.smtp.Messages()); n != 0 {
		t.Errorf("%d mails went out", n)
	}

	// Lifted: by removing the reaction, and by command.
	h.ack(h.slack.RemoveReaction(inboxChannel, spam.TS, alice, "no_entry"))
	h.waitLine(spam.TS, "<@UALICE> unblocked spam@pills.example")
	if got := h.slash(alice, "unblock pills.example"); !strings.Contains(got, "Unblocked pills.example") {
		t.Errorf("unblock: %q", got)
	}
	h.mailFrom("spam@pills.example", "Pills again", "s5@pills.example")
	if got := h.slash(alice, "blocked"); !strings.Contains(got, "Nobody is blocked") {
		t.Errorf("after unblocking: %q", got)
	}
}
