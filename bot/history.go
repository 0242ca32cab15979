package bot

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// A customer's history: the card of a new conversation names their
// earlier ones (a snapshot taken when it opened, see store.Earlier), and
// /inbox history ADDRESS lists them all as they are now. The card also
// says what was merged into what.

// card is a conversation's status card, as its root post, its refreshes and
// a composed conversation's root all show it: other conversations' numbers
// linked to their threads (links need the workspace's URL and the other
// threads, which the conversation alone does not have), what is due when
// (timers.go), and the AI menu when it is on (ai.go).
func (b *Bot) card(c *store.Conversation) []slack.Block {
	return cardBlocks(c, b.convLink, b.timerLine(c, b.cfg.Now()), b.cardExtras(c)...)
}

// convLink is the link to conversation num's thread ("" : none yet).
func (b *Bot) convLink(num uint64) string {
	c, err := b.st.Conv(num)
	if err != nil {
		return ""
	}
	return b.permalink(c.Channel, c.RootTS)
}

// convRef is "#N", linked to its thread when link knows it.
func convRef(num uint64, link func(uint64) string) string {
	if link != nil {
		if l := link(num); l != "" {
			return fmt.Sprintf("<%s|#%d>", l, num)
		}
	}
	return fmt.Sprintf("#%d", num)
}

// statusWord is a status in a few words, for lines that name many.
func statusWord(s store.Status) string {
	switch s {
	case store.StatusWaiting:
		return "waiting"
	case store.StatusHold:
		return "on hold"
	case store.StatusClosed:
		return "closed"
	}
	return "open"
}

// relatedBlocks are the card's lines about other conversations: what it
// was merged into or what was merged into it, and the customer's earlier
// conversations when it opened.
func relatedBlocks(c *store.Conversation, link func(uint64) string) []slack.Block {
	var lines []string
	if c.MergedInto != 0 {
		lines = append(lines, fmt.Sprintf("🔀 *Merged into %s*: its mail lands there, and replies are written there.", convRef(c.MergedInto, link)))
	}
	if len(c.MergedFrom) > 0 {
		var refs []string
		for _, n := range c.MergedFrom {
			refs = append(refs, convRef(n, link))
		}
		lines = append(lines, "🔀 Merged into this one: "+strings.Join(refs, ", ")+". Replies go to everyone of them.")
	}
	if e := c.Earlier; e != nil && e.Count > 0 {
		var refs []string
		for _, ec := range e.Recent {
			st := statusWord(ec.Status)
			if ec.MergedInto != 0 {
				st = fmt.Sprintf("merged into #%d", ec.MergedInto)
			}
			refs = append(refs, convRef(ec.Num, link)+" "+st)
		}
		more := ""
		if e.Count > len(e.Recent) {
			more = " · …"
		}
		count := fmt.Sprintf("%d earlier conversations", e.Count)
		switch {
		case e.More:
			count = fmt.Sprintf("%d+ earlier conversations", e.Count)
		case e.Count == 1:
			count = "1 earlier conversation"
		}
		lines = append(lines, fmt.Sprintf("🗂 %s with %s when this one opened: %s%s · `/inbox history %s` for all",
			count, escape(c.Customer.Addr), strings.Join(refs, " · "), more, escape(c.Customer.Addr)))
	}
	var out []slack.Block
	for _, l := range lines {
		out = append(out, slack.NewContextBlock("", mrkdwn(cut(l, sectionMax))))
	}
	return out
}

// historyCommand lists a customer's conversations: /inbox history ADDRESS,
// those of the inboxes whose channels the asker is in, newest first.
func (b *Bot) historyCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	if len(args) != 2 {
		return usageOf("history"), nil
	}
	addr, err := parseAddress(args[1])
	if err != nil {
		return err.Error() + ". " + usageOf("history"), nil
	}
	inboxes, err := b.memberInboxes(ctx, cmd.UserID)
	if err != nil || len(inboxes) == 0 {
		return refusal(), err
	}
	rows, total, err := b.st.History(addr.Addr, inboxIDs(inboxes), maxListRows)
	if err != nil {
		return "", err
	}
	who := escape(addr.Addr)
	if total == 0 {
		return fmt.Sprintf("No conversations with %s.", who), nil
	}
	lines := []string{fmt.Sprintf("*Conversations with %s* (%d), newest first:", who, total)}
	now := b.cfg.Now()
	for i := range rows {
		lines = append(lines, b.historyRow(&rows[i], now, len(inboxes) > 1))
	}
	if total > len(rows) {
		lines = append(lines, fmt.Sprintf("…and %d older", total-len(rows)))
	}
	return strings.Join(lines, "\n"), nil
}

// historyRow is one conversation of a history: number, subject linked to
// its thread, status now, owner, age, and its inbox when there are several.
func (b *Bot) historyRow(c *store.Conversation, now time.Time, inbox bool) string {
	subject := escape(cut(cmp.Or(c.Subject, "(no subject)"), 80))
	if link := b.permalink(c.Channel, c.RootTS); link != "" {
		subject = "<" + link + "|" + subject + ">"
	}
	st := statusWord(c.Status)
	if c.MergedInto != 0 {
		st = fmt.Sprintf("merged into #%d", c.MergedInto)
	}
	parts := []string{st}
	if c.Assignee != "" {
		parts = append(parts, "<@"+c.Assignee+">")
	}
	parts = append(parts, age(now.Sub(c.Created))+" ago")
	if in := b.inboxOf(c); inbox && in != nil {
		parts = append(parts, escape(in.Name))
	}
	return fmt.Sprintf("• *#%d* %s — %s", c.Num, subject, strings.Join(parts, " · "))
}
