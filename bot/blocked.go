package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Blocked senders (store.Block): /inbox block ADDRESS|DOMAIN, /inbox
// unblock, /inbox blocked, and the blockReaction on a card, which blocks
// that conversation's customer (removing it unblocks). Blocks are
// installation-wide, like the spam they are for: any member of an inbox
// channel may block, unblock and list them.

// blockReaction on a conversation's card blocks its customer.
const blockReaction = "no_entry"

// blockArg reads the address or domain typed after block or unblock
// (Slack sends an address as a mailto link, and a domain as a link).
func blockArg(s string) (string, error) {
	plain := slackToPlain(s, func(string) string { return "" })
	plain = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(plain, "https://"), "http://"), "/")
	return store.BlockKey(plain)
}

// blockCommand answers /inbox block and /inbox unblock.
func (b *Bot) blockCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	word := args[0]
	if len(args) != 2 {
		return usageOf(word), nil
	}
	if mine, err := b.memberInboxes(ctx, cmd.UserID); err != nil || len(mine) == 0 {
		return refusal(), err
	}
	k, err := blockArg(args[1])
	if err != nil {
		return escape(err.Error()) + ". " + usageOf(word), nil
	}
	answer, _, err := b.block(word == "block", k, cmd.UserID, 0, "")
	return answer, err
}

// block blocks or unblocks key and returns the answer for the person who
// did it, and whether anything changed.
func (b *Bot) block(block bool, key, by string, conv uint64, eventID string) (string, bool, error) {
	var err error
	if block {
		err = b.st.Block(key, by, conv, eventID)
	} else {
		err = b.st.Unblock(key, by, conv, eventID)
	}
	switch {
	case errors.Is(err, store.ErrNoChange):
		return "Nothing to do: " + escape(strings.TrimSuffix(err.Error(), ": "+store.ErrNoChange.Error())) + ".", false, nil
	case errors.Is(err, store.ErrOwn):
		return fmt.Sprintf("%s covers this installation's own addresses: it cannot be blocked.", escape(key)), false, nil
	case errors.Is(err, store.ErrDuplicate):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	b.log.Info("block changed", "key", key, "block", block, "by", by, "conv", conv)
	if block {
		return fmt.Sprintf(":no_entry: Blocked %s: their mail no longer opens conversations (it is counted: `/inbox blocked`), and nothing is mailed to them. `/inbox unblock %s` lifts it.",
			escape(key), escape(key)), true, nil
	}
	return fmt.Sprintf("Unblocked %s: their mail opens conversations again.", escape(key)), true, nil
}

// blockedCommand lists the blocks: /inbox blocked.
func (b *Bot) blockedCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	if len(args) != 1 {
		return usageOf("blocked"), nil
	}
	if mine, err := b.memberInboxes(ctx, cmd.UserID); err != nil || len(mine) == 0 {
		return refusal(), err
	}
	bl, err := b.st.Blocked()
	if err != nil {
		return "", err
	}
	if len(bl) == 0 {
		return "Nobody is blocked.", nil
	}
	lines := []string{fmt.Sprintf("*Blocked* (%d):", len(bl))}
	now := b.cfg.Now()
	for i, x := range bl {
		if i == maxListRows {
			lines = append(lines, fmt.Sprintf("…and %d more", len(bl)-i))
			break
		}
		line := fmt.Sprintf("• *%s* — by <@%s> %s ago · %d mail", escape(x.Key), x.By, age(now.Sub(x.At)), x.Count)
		if x.Count != 1 {
			line += "s"
		}
		line += " stopped"
		if n := len(x.Recent); n > 0 {
			last := x.Recent[n-1]
			line += escape(fmt.Sprintf(", the latest %s ago from %s: “%s”", age(now.Sub(last.At)), last.From.Addr, cut(last.Subject, 60)))
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), nil
}

// reactedMore acts on a reaction on a card that is not a workflow verb: a
// reaction tag of the inbox, or the block reaction. The reactor is a
// member of the channel (checked by reacted). What changed shows in the
// thread; the reactor is told only when nothing changed, and why.
func (b *Bot) reactedMore(ctx context.Context, r reactionEvent, c *store.Conversation) error {
	var answer string
	var changed bool
	var err error
	if r.Reaction == blockReaction {
		answer, changed, err = b.block(r.Added, c.Customer.Addr, r.User, c.Num, r.EventID)
	} else if tag := b.tagReaction(r.Channel, r.Reaction); tag != "" {
		action := store.ActTag
		if !r.Added {
			action = store.ActUntag
		}
		answer, changed, err = b.tag(ctx, c.Num, action, []string{tag}, r.User, r.EventID)
	}
	if err == nil && !changed && answer != "" {
		b.ephemeral(ctx, r.Channel, r.User, answer)
	}
	return err
}
