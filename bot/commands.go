package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

const usage = "Usage: `/inbox status` · `/inbox list [open|mine|unassigned|waiting|hold|closed]` · " +
	"`/inbox claim N` · `/inbox unclaim N` · `/inbox assign N @user` · `/inbox unassign N` · `/inbox close N` · `/inbox reopen N` · `/inbox hold N` · " +
	"`/inbox new ADDRESS SUBJECT` · `/inbox forward N ADDRESS [comment]` · `/inbox cc N add|remove ADDRESS` · `/inbox to N ADDRESS`"

func usageOf(word string) string {
	switch word {
	case "assign":
		return "Usage: `/inbox assign N @user`"
	case "list":
		return "Usage: `/inbox list [open|mine|unassigned|waiting|hold|closed]`"
	case "new":
		return "Usage: `/inbox new ADDRESS SUBJECT`"
	case "forward":
		return "Usage: `/inbox forward N ADDRESS [comment]`"
	case "cc":
		return "Usage: `/inbox cc N add ADDRESS` or `/inbox cc N remove ADDRESS`"
	case "to":
		return "Usage: `/inbox to N ADDRESS`"
	}
	return "Usage: `/inbox " + word + " N`"
}

// command answers one /inbox command. An error is answered as a failure
// (commands are not redelivered); a wrong command gets usage.
func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) (string, error) {
	args := strings.Fields(cmd.Text)
	if len(args) == 0 || strings.EqualFold(args[0], "help") {
		return usage, nil
	}
	word := strings.ToLower(args[0])
	user := cmd.UserID
	switch word {
	case "status", "list":
		filter := "open"
		if word == "list" && len(args) > 1 {
			filter = strings.ToLower(args[1])
		}
		if word == "list" && (len(args) > 2 || listFilters[filter].title == "") {
			return "Unknown list. " + usageOf("list"), nil
		}
		inboxes, err := b.scope(ctx, user, cmd.ChannelID)
		if err != nil || len(inboxes) == 0 {
			return refusal(), err
		}
		if word == "status" {
			return b.statusText(inboxes)
		}
		return b.listText(inboxes, user, filter)
	}
	switch word {
	case "new":
		return b.composeCommand(ctx, cmd, args)
	case "forward", "cc", "to":
		return b.mailCommand(ctx, cmd, word, args)
	}
	v := verbByCommand(word)
	if v == nil {
		return fmt.Sprintf("I don't know `%s`. %s", escape(args[0]), usage), nil
	}
	want := 2
	if v.target {
		want = 3
	}
	if len(args) != want {
		return usageOf(word), nil
	}
	c, answer, err := b.commandConv(ctx, user, word, args[1])
	if c == nil {
		return answer, err
	}
	if v.target {
		target, ok := parseUserMention(args[2])
		if !ok {
			return fmt.Sprintf("`%s` is not a user: mention them, e.g. @alice. %s", escape(args[2]), usageOf(word)), nil
		}
		answer, _ = b.assign(ctx, c, user, target)
		return answer, nil
	}
	answer, _ = b.act(ctx, c.Num, v.action, user, "", "")
	return answer, nil
}

// commandConv is the conversation a command names (arg), if user may
// work on it; otherwise nil and the answer to give.
func (b *Bot) commandConv(ctx context.Context, user, word, arg string) (*store.Conversation, string, error) {
	num, err := parseConvValue(arg)
	if err != nil {
		return nil, fmt.Sprintf("`%s` is not a conversation number. %s", escape(arg), usageOf(word)), nil
	}
	// Reading is as private as the channels: a person in none of them
	// learns nothing, not even which numbers exist.
	if mine, err := b.memberInboxes(ctx, user); err != nil || len(mine) == 0 {
		return nil, refusal(), err
	}
	c, err := b.st.Conv(num)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Sprintf("There is no conversation #%d (`/inbox list` shows them). %s", num, usageOf(word)), nil
	} else if err != nil {
		return nil, "", err
	}
	if ok, err := b.mayWork(ctx, user, c); err != nil || !ok {
		return nil, refusal(b.channelOf(c)), err
	}
	return c, "", nil
}

// scope is what status and list cover: typed in an inbox channel, that
// inbox; elsewhere, every inbox whose channel the user is a member of.
func (b *Bot) scope(ctx context.Context, user, channel string) ([]*Inbox, error) {
	if in := b.byChannel[channel]; in != nil {
		ok, err := b.isMember(ctx, user, channel)
		if err != nil || !ok {
			return nil, err
		}
		return []*Inbox{in}, nil
	}
	return b.memberInboxes(ctx, user)
}

// parseUserMention reads "<@U123>" or "<@U123|name>" (how Slack sends a
// mention with should_escape).
func parseUserMention(s string) (string, bool) {
	inner, ok := strings.CutPrefix(s, "<@")
	if !ok || !strings.HasSuffix(inner, ">") {
		return "", false
	}
	id, _, _ := strings.Cut(strings.TrimSuffix(inner, ">"), "|")
	if len(id) < 2 || (id[0] != 'U' && id[0] != 'W') {
		return "", false
	}
	return id, true
}
