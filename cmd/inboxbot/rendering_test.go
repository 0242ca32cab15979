package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// How mail reads in Slack: rich text that pings nobody, quoted history
// folded with the whole mail at hand, and limits kept whatever the mail.

// noPings fails the test for every message of the inbox channel that
// notifies anyone, as Slack reads it.
func (h *harness) noPings() {
	h.t.Helper()
	for _, m := range h.slack.Messages(inboxChannel) {
		if m.BotID == "" {
			continue
		}
		if p := slackfake.Pings(m); len(p) > 0 || m.LinkNames {
			h.t.Errorf("message %s pings %q (link_names %v): %s", m.TS, p, m.LinkNames, text(m))
		}
	}
}

// Mention markup in a mail, shown as rich text, pings nobody: not in the
// card, not in the thread, not in the fallback text; links are clickable.
func TestRichMailPingsNobody(t *testing.T) { eachTransport(t, testRichMailPingsNobody) }

func testRichMailPingsNobody(t *testing.T, h *harness) {
	h.start()
	markup := "<!channel> <!here> <!everyone> <@U123> <@UALICE|alice> <!subteam^S1|@ops> @alice"
	h.deliver(customerMail{
		From:    fmt.Sprintf("\"%s\" <carl@example.com>", "<!channel> Carl"),
		Subject: "Ping " + markup, MessageID: "ping1@example.com",
		Body: "Hello " + markup + "\n\n> quoted " + markup + "\n\n- item <@U123>\n- item <!channel>\n\nSee https://acme.test/docs?a=1&b=2.\n" +
			strings.Repeat("filler line so the card cuts the text\n", 120) + "end " + markup,
	}.raw())
	root := h.waitRoots(1)[0]
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "end <!channel>") })
	h.deliver(customerMail{Subject: "Re: Ping", MessageID: "ping2@example.com", InReplyTo: "ping1@example.com",
		From: "\"<@UALICE>\" <carl@example.com>", Body: "Again " + markup}.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "Again <!channel>") })
	h.flushed()
	h.noPings()

	// The thread shows the mail as rich text: the quote as a quote, the
	// list as a list, the link as a link.
	var rich string
	for _, m := range h.thread(root.TS) {
		rich += string(m.Blocks)
	}
	for _, want := range []string{`"type":"rich_text_quote"`, `"type":"rich_text_list"`,
		`"type":"link","url":"https://acme.test/docs?a=1\u0026b=2"`} {
		if !strings.Contains(rich+string(root.Blocks), want) {
			t.Errorf("no %s in the rendering", want)
		}
	}
}

// A long quoted chain is folded: the card and the thread show what the
// customer wrote, and the whole mail, history included, is in the thread
// as a file. A mail that is only a quote shows the quote.
func TestQuotedHistoryFolded(t *testing.T) {
	h := newHarness(t)
	h.start()
	var chain strings.Builder
	chain.WriteString("Thanks, that fixed it!\n\nOn Tue, 3 Mar 2026 at 10:00, Acme Support <support@acme.test> wrote:\n")
	for i := range 200 {
		fmt.Fprintf(&chain, "> earlier message line %d of a long history\n", i)
	}
	chain.WriteString(">\n> On Mon, 2 Mar 2026, Carl wrote:\n>> the original question\n")
	h.deliver(customerMail{Subject: "Fixed", MessageID: "fold1@example.com", Body: chain.String()}.raw())
	root := h.waitRoots(1)[0]
	if !strings.Contains(text(root), "Thanks, that fixed it!") || strings.Contains(text(root), "earlier message line") {
		t.Errorf("card shows the history: %s", text(root))
	}
	if !strings.Contains(text(root), "Quoted history folded") {
		t.Errorf("card does not say the history is folded: %s", text(root))
	}
	f := h.waitFiles(root.TS, 1)[0]
	if f.Name != "full-mail.txt" || !strings.Contains(string(f.Bytes), "earlier message line 199") ||
		!strings.Contains(string(f.Bytes), "Thanks, that fixed it!") || !strings.Contains(string(f.Bytes), "Subject: Fixed") {
		t.Errorf("the whole mail: %s %q", f.Name, cutBytes(f.Bytes, 200))
	}

	// In the thread too.
	h.deliver(customerMail{Subject: "Re: Fixed", MessageID: "fold2@example.com", InReplyTo: "fold1@example.com",
		Body: "One more thing.\n\n-----Original Message-----\nFrom: Acme Support\nSent: Tuesday\nTo: Carl\nSubject: Fixed\n\nold text here"}.raw())
	m := h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "One more thing.") })
	if strings.Contains(text(m), "old text here") {
		t.Errorf("thread post shows the history: %s", text(m))
	}
	h.poll("the second mail's whole text", func() bool { return len(h.threadFiles(root.TS)) == 2 })
	if f := h.threadFiles(root.TS)[1]; !strings.Contains(string(f.Bytes), "old text here") {
		t.Errorf("second whole mail: %q", f.Bytes)
	}

	// Only a quote: nothing folded, nothing uploaded.
	h.deliver(customerMail{Subject: "Fwd", MessageID: "fold3@example.com", Body: "> only a quote\n> of something"}.raw())
	r := h.waitRoots(2)[1]
	if !strings.Contains(text(r), "only a quote") {
		t.Errorf("a mail that is only a quote: %s", text(r))
	}
	h.flushed()
	if n := len(h.threadFiles(r.TS)); n != 0 {
		t.Errorf("%d files for a mail with nothing folded", n)
	}
}

func cutBytes(b []byte, n int) []byte { return b[:min(n, len(b))] }

// Pathological mail: a 100 KB subject, a 100 KB name, hundreds of
// attachments with long names, many warnings. Slack takes every post
// (none falls back to "Slack refused"), the card first.
func TestPathologicalMailFitsSlack(t *testing.T) {
	h := newHarness(t)
	h.inbox().AttachMax = 1
	h.start()
	long := strings.Repeat("Säure <!channel> & ", 100_000/19)
	var parts []part
	for i := range 300 {
		parts = append(parts, part{name: fmt.Sprintf("%03d-%s.pdf", i, strings.Repeat("n", 180)), ctype: "application/pdf", data: []byte("xx")})
	}
	raw := fileMail("S"+long, "patho@example.com", "<p>"+strings.Repeat("body ", 20_000)+"</p>", parts...)
	raw = bytes.Replace(raw, []byte("From: Carl Customer"), []byte("From: \""+strings.ReplaceAll(long, "\"", "")+"\""), 1)
	h.deliver(raw)
	root := h.waitRoots(1)[0]
	if len(root.Blocks) == 0 || strings.Contains(root.Text, "refused") {
		t.Fatalf("the card was refused: %q", cutBytes([]byte(root.Text), 300))
	}
	h.deliver(inReplyTo(bytes.Replace(raw, []byte("patho@example.com"), []byte("patho2@example.com"), 1), "patho@example.com"))
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(m.Text, "Mail from") })
	h.flushed()
	for _, m := range append(h.thread(root.TS), root) {
		if strings.Contains(m.Text, "refused the full rendering") {
			t.Errorf("Slack refused a post: %q", cutBytes([]byte(m.Text), 200))
		}
		if n := len([]rune(m.Text)); n > 40_000 {
			t.Errorf("text of %d characters", n)
		}
	}
	h.noPings()
}
