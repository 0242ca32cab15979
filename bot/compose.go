package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// The /inbox commands that write mail or change whom it goes to: new,
// forward, cc and to.

// composeCommand starts an outbound conversation: /inbox new ADDRESS SUBJECT.
// The inbox is the channel's it is typed in; elsewhere, the only inbox.
func (b *Bot) composeCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	if len(args) < 3 {
		return usageOf("new"), nil
	}
	to, err := parseAddress(args[1])
	if err != nil {
		return err.Error() + ". " + usageOf("new"), nil
	}
	in := b.byChannel[cmd.ChannelID]
	if in == nil {
		if len(b.cfg.Inboxes) != 1 {
			return "Type `/inbox new` in the channel of the inbox it should be sent from.", nil
		}
		in = &b.cfg.Inboxes[0]
	}
	if ok, err := b.isMember(ctx, cmd.UserID, in.Channel); err != nil || !ok {
		return refusal(in.Channel), err
	}
	subject := strings.TrimSpace(strings.Join(args[2:], " "))
	subject = b.plainText(ctx, subject)
	c, err := b.st.Compose(store.Compose{Inbox: in.ID, To: to, Subject: subject, By: cmd.UserID})
	if errors.Is(err, store.ErrBlocked) {
		return fmt.Sprintf("Not started: %s, and nothing is mailed to blocked senders.", escape(err.Error())), nil
	} else if err != nil {
		return "", err
	}
	b.log.Info("conversation started", "conv", c.Num, "by", cmd.UserID)
	return fmt.Sprintf("Started #%d with %s: its card is coming in <#%s>. Write the first email as a reply in its thread.",
		c.Num, escape(to.String()), in.Channel), nil
}

// mailCommand handles /inbox forward N ADDRESS [comment], /inbox cc N
// add|remove ADDRESS and /inbox to N ADDRESS.
func (b *Bot) mailCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	word := args[0]
	want := map[string]int{"forward": 3, "cc": 4, "to": 3}[word]
	if len(args) < want || (word != "forward" && len(args) != want) {
		return usageOf(word), nil
	}
	c, answer, err := b.commandConv(ctx, cmd.UserID, word, args[1])
	if c == nil {
		return answer, err
	}
	num := c.Num
	addrArg := args[2]
	action := store.ActTo
	if word == "cc" {
		switch strings.ToLower(args[2]) {
		case "add":
			action = store.ActCcAdd
		case "remove":
			action = store.ActCcRemove
		default:
			return usageOf("cc"), nil
		}
		addrArg = args[3]
	}
	addr, err := parseAddress(addrArg)
	if err != nil {
		return err.Error() + "; nothing was changed. " + usageOf(word), nil
	}
	if word == "forward" {
		return b.forward(ctx, cmd, c, addr, strings.Join(args[3:], " "))
	}
	nc, err := b.st.SetRecipient(num, action, addr, cmd.UserID)
	switch {
	case errors.Is(err, store.ErrNoChange):
		return fmt.Sprintf("Nothing to do: %s.", escape(strings.TrimSuffix(err.Error(), ": "+store.ErrNoChange.Error()))), nil
	case err != nil:
		return "", err
	}
	b.log.Info("recipients changed", "conv", num, "action", action, "by", cmd.UserID)
	b.goRun(ctx, func(ctx context.Context) { b.refreshCardNow(ctx, num) })
	return "Done: " + escape(peopleText(nc)), nil
}

// forward queues a forward of the conversation's latest customer mail.
func (b *Bot) forward(ctx context.Context, cmd slack.SlashCommand, c *store.Conversation, to store.Address, comment string) (string, error) {
	in := b.inboxOf(c)
	if in == nil {
		return fmt.Sprintf("#%d belongs to an inbox that is not configured any more.", c.Num), nil
	}
	agent := b.userName(ctx, cmd.UserID)
	comment = b.plainText(ctx, comment)
	job, err := b.st.EnqueueForward(store.Forward{
		Conv: c.Num, To: to, Comment: signed(in, comment, agent), AgentID: cmd.UserID, AgentName: agent,
		MessageID: newMessageID(c.Num, domainOf(in.Address)),
	})
	switch {
	case errors.Is(err, store.ErrNoMail):
		return fmt.Sprintf("#%d has no mail from the customer to forward yet.", c.Num), nil
	case errors.Is(err, store.ErrBlocked):
		return fmt.Sprintf("Not forwarded: %s, and nothing is mailed to blocked senders.", escape(err.Error())), nil
	case err != nil:
		return "", err
	}
	b.log.Info("forward queued", "conv", c.Num, "seq", job.Seq, "by", cmd.UserID, "files", len(job.Files))
	return fmt.Sprintf("Forwarding the latest mail of #%d to %s%s; its thread will say when it is sent.",
		c.Num, escape(to.String()), forwardFilesText(c, job)), nil
}

// forwardFilesText says which attachments of c's latest mail, forwarded by
// job, go with it, and which do not (those that are not in Slack).
func forwardFilesText(c *store.Conversation, job *store.MailJob) string {
	if c.Latest == nil {
		return ""
	}
	var left []string
	for _, a := range c.Latest.Attachments {
		if a.Shown && a.Inline {
			continue
		}
		if c.LatestFiles[a.Ref] == "" || a.Ref == "" {
			left = append(left, cut(cmp.Or(a.Name, "unnamed"), 100))
		}
	}
	s := ""
	switch n := len(job.Files); n {
	case 0:
	case 1:
		s = ", with its attachment"
	default:
		s = fmt.Sprintf(", with its %d attachments", n)
	}
	if len(left) > 0 {
		s += escape(fmt.Sprintf(" (not with it, as they are not in Slack: %s)", strings.Join(left, ", ")))
	}
	return s
}
