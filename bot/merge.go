package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/store"
)

// /inbox merge N M moves conversation M into N (store.Merge): M's card
// points to N, mail to either thread lands in N's, replies from N go to
// everyone of both, and both threads say so. A reply typed in M's thread
// afterwards is not sent: its author is told to write it in N's thread.
// Sending it "from N" would mail people the author did not see on M's card,
// answer mail they did not see in M's thread, and leave the reply in a
// thread whose hold window and collision guard look at N's: a refusal they
// see at once is cheaper than a mail they did not mean.

// mergeCommand answers /inbox merge N M.
func (b *Bot) mergeCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	if len(args) != 3 {
		return usageOf("merge"), nil
	}
	// Both must be conversations the person may work on.
	into, answer, err := b.commandConv(ctx, cmd.UserID, "merge", args[1])
	if into == nil {
		return answer, err
	}
	from, answer, err := b.commandConv(ctx, cmd.UserID, "merge", args[2])
	if from == nil {
		return answer, err
	}
	n, m, err := b.st.Merge(into.Num, from.Num, cmd.UserID)
	switch {
	case errors.Is(err, store.ErrNoChange):
		return "Nothing to do: " + strings.TrimSuffix(err.Error(), ": "+store.ErrNoChange.Error()) + ". " + usageOf("merge"), nil
	case errors.Is(err, store.ErrMerged):
		return mergedAnswer(err), nil
	case err != nil:
		return "", err
	}
	b.log.Info("conversations merged", "into", n.Num, "from", m.Num, "by", cmd.UserID)
	b.goRun(ctx, func(ctx context.Context) {
		b.refreshCardNow(ctx, n.Num)
		b.refreshCardNow(ctx, m.Num)
	})
	return fmt.Sprintf("Done: #%d is merged into %s. New mail to either lands in #%d's thread; replies from there go to %s.",
		m.Num, convRef(n.Num, b.convLink), n.Num, escape(recipientsLine(replyAddr(n), n.Cc))), nil
}

// mergedAnswer says that a change was refused because its conversation
// was merged (err wraps store.ErrMerged).
func mergedAnswer(err error) string {
	return "Nothing to do: " + strings.TrimSuffix(err.Error(), ": "+store.ErrMerged.Error()) + "; work on that one."
}

// refuseMergedReply tells the author of a reply in a merged conversation's
// thread that it was not sent, and where to write it. The message is
// recorded so that a redelivery or the catch-up does not tell them again.
func (b *Bot) refuseMergedReply(ctx context.Context, eventID string, e *slackevents.MessageEvent, conv *store.Conversation) error {
	into := conv.MergedInto
	if into == 0 { // merged since conv was read (the event raced the merge)
		if c, err := b.st.Conv(conv.Num); err == nil {
			into = c.MergedInto
		}
	}
	return b.refuseReply(ctx, eventID, e, conv, fmt.Sprintf(
		":warning: Your reply in #%d was NOT sent: #%d was merged into %s. Write it in that thread: it goes to everyone of both.",
		conv.Num, conv.Num, convRef(into, b.convLink)))
}

// refuseReply records a thread reply that is not sent, and tells its
// author why (once: a redelivery or the catch-up says nothing more).
func (b *Bot) refuseReply(ctx context.Context, eventID string, e *slackevents.MessageEvent, conv *store.Conversation, why string) error {
	dup, err := b.st.MarkMessage(eventID, e.Channel, e.TimeStamp)
	if err != nil || dup {
		return err
	}
	b.log.Info("reply refused", "conv", conv.Num, "agent", e.User, "why", why)
	b.goRun(ctx, func(ctx context.Context) { b.ephemeral(ctx, e.Channel, e.User, why) })
	return nil
}
