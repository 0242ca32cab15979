package bot

import (
	"cmp"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Slack's limits, with room to spare.
const (
	sectionMax  = 2900 // characters in one section block (Slack: 3,000)
	headerMax   = 150  // characters in a header block
	sectionsPer = 3    // text sections per message: Slack caps a message's blocks at about 13k characters
	maxTextMsgs = 8    // thread messages for one mail's text; the rest is summarised
)

// escape neutralises Slack's control characters in text from mail, so that
// "<!channel>" or "<@U123>" in a mail is shown, not acted on.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// plain makes a plain_text object from untrusted text: Slack renders it
// verbatim (no mrkdwn, no mentions, no :emoji: codes).
func plain(s string) *slack.TextBlockObject {
	if strings.TrimSpace(s) == "" {
		s = "(empty)"
	}
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// cut shortens s to at most n characters, marking the cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// chunks splits s into pieces of at most n characters, preferring to break
// at a line end, then at a space.
func chunks(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		r := []rune(s)
		head := string(r[:n])
		if i := strings.LastIndexByte(head, '\n'); i > len(head)/2 {
			head = head[:i+1]
		} else if i := strings.LastIndexByte(head, ' '); i > len(head)/2 {
			head = head[:i+1]
		}
		out = append(out, strings.TrimRight(head, " \n"))
		s = strings.TrimLeft(s[len(head):], "\n")
	}
	if strings.TrimSpace(s) != "" || len(out) == 0 {
		out = append(out, s)
	}
	return out
}

var statusLook = map[store.Status]struct{ emoji, label string }{
	store.StatusOpen:    {":large_green_circle:", "Open"},
	store.StatusWaiting: {":large_yellow_circle:", "Waiting on customer"},
	store.StatusHold:    {":double_vertical_bar:", "On hold"},
	store.StatusClosed:  {":white_circle:", "Closed"},
}

func statusText(s store.Status) string {
	l, ok := statusLook[s]
	if !ok {
		l = statusLook[store.StatusOpen]
	}
	return l.emoji + " *" + l.label + "*"
}

// fallbackMax bounds the notification text of a post ("text" beside the
// blocks): however long a subject or name, the text stays far within
// Slack's 40,000 characters once escaped.
const fallbackMax = 300

// fallback is the notification text of a post from mail-derived s: cut,
// then escaped.
func fallback(s string) string { return escape(cut(s, fallbackMax)) }

// rootFallback is the notification text of a root message.
func rootFallback(c *store.Conversation) string {
	return fallback(fmt.Sprintf("#%d %s: %s", c.Num, displayName(c.Customer), c.Subject))
}

func displayName(a store.Address) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Addr
}

// cardBlocks renders the status card, the root message of a conversation's
// thread (Bot.card gives it what the conversation alone does not have).
// link, when not nil, links another conversation's number to its thread;
// timers, when not "", is the line of what is due when, shown right below
// the status; extra are elements after the card's buttons.
func cardBlocks(c *store.Conversation, link func(num uint64) string, timers string, extra ...slack.BlockElement) []slack.Block {
	subject := cmp.Or(c.Subject, "(no subject)")
	owner := "Unassigned"
	if c.Assignee != "" {
		owner = "Assigned to <@" + c.Assignee + ">"
	}
	state := statusText(c.Status) + " · " + owner
	if c.LastAgent != "" && c.LastAgent != c.Assignee {
		// Someone else than the owner answered last: say so.
		state += " · last reply by <@" + c.LastAgent + ">"
	}
	context := []slack.MixedElement{mrkdwn(state), plain(cut(peopleText(c), sectionMax))}
	if len(c.Tags) > 0 {
		context = append(context, plain(tagsText(c.Tags)))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(cut(fmt.Sprintf("#%d · %s", c.Num, subject), headerMax))),
		slack.NewContextBlock("", context...),
	}
	if timers != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(timers)))
	}
	preview := c.Preview
	if strings.TrimSpace(preview) != "" {
		blocks = append(blocks, richBlock(cut(preview, sectionMax)))
	}
	if c.First != nil {
		if notes := mailNotes(c.First, previewCut(c)); len(notes) > 0 {
			blocks = append(blocks, notesBlock(notes))
		}
	}
	blocks = append(blocks, relatedBlocks(c, link)...)
	if c.MergedInto == 0 {
		// A merged conversation is worked in the one it was merged into.
		blocks = append(blocks, cardActions(c, extra...))
	}
	return blocks
}

// peopleText says whom a conversation is with, and whom replies go to.
func peopleText(c *store.Conversation) string {
	s := "From: " + c.Customer.String()
	if c.Outbound {
		s = "To: " + c.Customer.String()
	}
	if to := c.ReplyTo; to.Addr != "" && !strings.EqualFold(to.Addr, c.Customer.Addr) {
		s += " · Replies go to: " + to.String()
	}
	if len(c.Cc) > 0 {
		var cc []string
		for _, a := range c.Cc {
			cc = append(cc, a.String())
		}
		s += " · Cc: " + strings.Join(cc, ", ")
	}
	return s
}

// notesBlock shows notes in a context block, cut to fit one.
func notesBlock(notes []string) slack.Block {
	return slack.NewContextBlock("", plain(cut(strings.Join(notes, " · "), sectionMax)))
}

// maxListed bounds the attachments a mail's notes name one by one.
const maxListed = 20

// mailNotes lists what a reader should know about a mail beyond its text.
func mailNotes(m *store.InboundMail, continued bool) []string {
	var notes []string
	if m.ParseError != "" {
		notes = append(notes, "⚠️ This mail could not be parsed ("+m.ParseError+"); it is shown raw")
	}
	if m.Auto {
		notes = append(notes, "🤖 Automated mail (auto-reply or bounce)")
	}
	if m.HTMLOnly {
		notes = append(notes, "Converted from HTML")
	}
	for i, a := range m.Attachments {
		if i == maxListed {
			notes = append(notes, fmt.Sprintf("📎 and %d more", len(m.Attachments)-maxListed))
			break
		}
		notes = append(notes, fmt.Sprintf("📎 %s (%s, %s)", cut(cmp.Or(a.Name, "unnamed"), 100), cut(a.Type, 100), humanSize(a.Size)))
	}
	for _, w := range m.Warnings {
		notes = append(notes, "⚠️ "+w)
	}
	if m.Truncated {
		notes = append(notes, "✂️ The mail was longer than inboxbot keeps; the end is cut")
	}
	if m.QuoteAt > 0 {
		notes = append(notes, "✂️ Quoted history folded: the whole mail is in the thread as "+fullMailName)
	}
	if continued {
		notes = append(notes, "Full text in the thread")
	}
	return notes
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// previewCut reports whether the card's preview is not the whole first mail.
func previewCut(c *store.Conversation) bool { return strings.HasSuffix(c.Preview, "…") }

// post is one Slack message to send.
type post struct {
	root bool // the conversation's root message (top level)
	top  bool // a top-level message that is not the root
	// broadcast also shows a thread reply in the channel ("Also send to
	// #channel").
	broadcast bool
	text      string
	blocks    []slack.Block
	// username and icon post it under another name and picture than the
	// bot's (chat:write.customize): a reply written in the composer.
	username, icon string
	file           *upload // set: the post uploads this file into the thread (text and blocks unused)
}

// mailPosts renders a queued mail: for a new conversation the root card
// (card, which the caller renders only then), then the new text in the
// thread if the card's preview does not show it all; for a mail in an
// existing conversation, the mail in the thread. Its files follow
// (mailfiles.go). The text shown is what the sender wrote: the quoted
// history is folded away, and the whole mail follows as a file.
func mailPosts(c *store.Conversation, j *store.SlackJob, card []slack.Block, attachMax int64) []post {
	var posts []post
	if j.NewConv {
		posts = append(posts, post{root: true, text: rootFallback(c), blocks: card})
	}
	if !j.NewConv || previewCut(c) {
		posts = append(posts, mailTextPosts(c, j)...)
	}
	return append(posts, filePosts(c, j, len(posts), attachMax)...)
}

// mailTextPosts renders the text of a mail in the thread.
func mailTextPosts(c *store.Conversation, j *store.SlackJob) []post {
	m := j.Mail
	var posts []post
	body := m.NewText()
	var head []slack.Block
	if !j.NewConv {
		who := "📨 " + m.From.String()
		if m.Subject != "" {
			who += " · " + m.Subject
		}
		head = append(head, slack.NewContextBlock("", plain(cut(who, sectionMax))))
		if j.NewAddress {
			head = append(head, slack.NewContextBlock("", plain(cut(fmt.Sprintf(
				"⚠️ New address: %s is not part of this conversation. Replies still go to %s; "+
					"to include them, /inbox to %d ADDRESS or /inbox cc %d add ADDRESS.",
				m.From.Addr, replyAddr(c).String(), c.Num, c.Num), sectionMax))))
		}
		if j.Blocked {
			head = append(head, slack.NewContextBlock("", plain(cut(fmt.Sprintf(
				"🚫 %s is blocked: this mail is shown because it answers this conversation, but it reopens nothing and changes no recipient "+
					"(/inbox blocked lists the blocks).", m.From.Addr), sectionMax))))
		}
		if j.Folded > 0 {
			head = append(head, slack.NewContextBlock("", plain(cut(fmt.Sprintf(
				"🔁 Automated mail no. %d from %s this hour: added here instead of opening another conversation.", j.Folded, m.From.Addr), sectionMax))))
		}
		if notes := mailNotes(m, false); len(notes) > 0 {
			head = append(head, notesBlock(notes))
		}
	}
	parts := chunks(body, sectionMax)
	shown := min(len(parts), sectionsPer*maxTextMsgs)
	for i := 0; i < shown; i += sectionsPer {
		blocks := head
		head = nil
		for _, p := range parts[i:min(i+sectionsPer, shown)] {
			blocks = append(blocks, richBlock(p))
		}
		if i+sectionsPer >= shown && shown < len(parts) {
			rest := 0
			for _, p := range parts[shown:] {
				rest += utf8.RuneCountInString(p)
			}
			blocks = append(blocks, slack.NewContextBlock("", plain(fmt.Sprintf("✂️ %d more characters not shown in Slack", rest))))
		}
		text := fallback(parts[i])
		if !j.NewConv && i == 0 {
			text = fallback("Mail from " + cut(m.From.String(), 100) + ": " + parts[0])
		}
		posts = append(posts, post{text: text, blocks: blocks})
	}
	return posts
}

// replyAddr is where a conversation's replies go.
func replyAddr(c *store.Conversation) store.Address {
	if c.ReplyTo.Addr != "" {
		return c.ReplyTo
	}
	return c.Customer
}

// cardActions are the buttons of the root card, then extra. Each carries
// the conversation number, so a click needs no lookup by message.
func cardActions(c *store.Conversation, extra ...slack.BlockElement) slack.Block {
	v := convValue(c.Num)
	btn := func(action, label string, style slack.Style) slack.BlockElement {
		b := slack.NewButtonBlockElement(action, v, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		if style != "" {
			b.Style = style
		}
		return b
	}
	button := func(action string) string { return verbByAction(action).button }
	var els []slack.BlockElement
	if c.Assignee == "" {
		els = append(els, btn(button(store.ActClaim), "Claim", slack.StylePrimary))
	} else {
		els = append(els, btn(button(store.ActUnclaim), "Unclaim", ""))
	}
	pick := slack.NewOptionsSelectBlockElement(slack.OptTypeUser, slack.NewTextBlockObject(slack.PlainTextType, "Assign", false, false), button(store.ActAssign))
	if c.Assignee != "" {
		pick.InitialUser = c.Assignee
	}
	els = append(els, pick)
	if c.Status == store.StatusClosed {
		els = append(els, btn(button(store.ActReopen), "Reopen", ""))
	} else {
		els = append(els, btn(button(store.ActClose), "Close", slack.StyleDanger))
	}
	if c.Status != store.StatusHold && c.Status != store.StatusClosed {
		els = append(els, btn(button(store.ActHold), "On hold", ""))
	}
	els = append(els, btn(actReplyCompose, "Reply", ""))
	els = append(els, extra...)
	return slack.NewActionBlock(actionBlockID(c.Num), els...)
}
