package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// commandFunc answers one /inbox command; args[0] is the command word.
type commandFunc func(b *Bot, ctx context.Context, cmd slack.SlashCommand, args []string) (string, error)

// command is one /inbox command: its usage (shown by help and when it is
// used wrongly) and what answers it.
type command struct {
	usage string // after "/inbox "
	run   commandFunc
}

type namedCommand struct {
	word string
	command
}

// commands is the table of /inbox: the workflow verbs (verbs.go) first,
// then the others, each answered in the file of its feature. help lists
// them in this order.
func commands() []namedCommand {
	out := []namedCommand{
		{"status", command{"status", (*Bot).statusCommand}},
		{"list", command{"list [open|mine|unassigned|waiting|hold|closed] [tag:NAME]", (*Bot).listCommand}},
		{"stats", command{"stats [7d|30d|week|month]", (*Bot).statsCommand}},
	}
	for _, v := range verbs {
		u := v.command + " N"
		if v.target {
			u += " @user"
		}
		if v.until {
			u += " [until TIME]"
		}
		out = append(out, namedCommand{v.command, command{u, (*Bot).verbCommand}})
	}
	return append(out, []namedCommand{
		{"new", command{"new ADDRESS SUBJECT", (*Bot).composeCommand}},
		{"forward", command{"forward N ADDRESS [comment]", (*Bot).mailCommand}},
		{"cc", command{"cc N add|remove ADDRESS", (*Bot).mailCommand}},
		{"to", command{"to N ADDRESS", (*Bot).mailCommand}},
		{"tag", command{"tag N NAME…", (*Bot).tagCommand}},
		{"untag", command{"untag N NAME…", (*Bot).tagCommand}},
		{"history", command{"history ADDRESS", (*Bot).historyCommand}},
		{"merge", command{"merge N M", (*Bot).mergeCommand}},
		{"block", command{"block ADDRESS|DOMAIN", (*Bot).blockCommand}},
		{"unblock", command{"unblock ADDRESS|DOMAIN", (*Bot).blockCommand}},
		{"blocked", command{"blocked", (*Bot).blockedCommand}},
		{"replies", command{"replies [add NAME TEXT | edit NAME TEXT | remove NAME]", (*Bot).repliesCommand}},
	}...)
}

func lookupCommand(word string) (command, bool) {
	for _, c := range commands() {
		if c.word == word {
			return c.command, true
		}
	}
	return command{}, false
}

// usage lists every command.
func usage() string {
	var parts []string
	for _, c := range commands() {
		parts = append(parts, "`/inbox "+c.usage+"`")
	}
	return "Usage: " + strings.Join(parts, " · ")
}

func usageOf(word string) string {
	if c, ok := lookupCommand(word); ok {
		return "Usage: `/inbox " + c.usage + "`"
	}
	return usage()
}

// command answers one /inbox command. An error is answered as a failure
// (commands are not redelivered); a wrong command gets usage.
func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) (string, error) {
	args := strings.Fields(cmd.Text)
	if len(args) == 0 || strings.EqualFold(args[0], "help") {
		return usage(), nil
	}
	args[0] = strings.ToLower(args[0])
	c, ok := lookupCommand(args[0])
	if !ok {
		return fmt.Sprintf("I don't know `%s`. %s", escape(args[0]), usage()), nil
	}
	return c.run(b, ctx, cmd, args)
}

func (b *Bot) statusCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	if len(args) != 1 {
		return usageOf("status"), nil
	}
	inboxes, err := b.scope(ctx, cmd.UserID, cmd.ChannelID)
	if err != nil || len(inboxes) == 0 {
		return refusal(), err
	}
	return b.statusText(inboxes)
}

func (b *Bot) listCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	filter, tag, bad := listArgs(args[1:])
	if bad != "" {
		return bad + ". " + usageOf("list"), nil
	}
	inboxes, err := b.scope(ctx, cmd.UserID, cmd.ChannelID)
	if err != nil || len(inboxes) == 0 {
		return refusal(), err
	}
	return b.listText(inboxes, cmd.UserID, filter, tag)
}

// verbCommand runs a workflow verb on conversation N.
func (b *Bot) verbCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	word, user := args[0], cmd.UserID
	v := verbByCommand(word)
	want := 2
	if v.target {
		want = 3
	}
	if len(args) != want && (!v.until || len(args) < want) {
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
	target := ""
	if len(args) > want {
		if target, answer = b.until(c, word, args[want:]); answer != "" {
			return answer, nil
		}
	}
	answer, _ = b.act(ctx, c.Num, v.action, user, target, "")
	return answer, nil
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
