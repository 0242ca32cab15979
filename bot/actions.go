package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// isMember reports whether user is a member of channel: only members of an
// inbox's channel may see or work on its conversations. Member lists are
// cached for MemberTTL.
func (b *Bot) isMember(ctx context.Context, user, channel string) (bool, error) {
	set, ok := b.members.get(channel)
	if !ok {
		set = map[string]bool{}
		cursor := ""
		for {
			ids, next, err := b.api.GetUsersInConversationContext(ctx, &slack.GetUsersInConversationParameters{
				ChannelID: channel, Cursor: cursor, Limit: 1000,
			})
			if err != nil {
				return false, fmt.Errorf("conversations.members: %w", err)
			}
			for _, id := range ids {
				set[id] = true
			}
			if next == "" {
				break
			}
			cursor = next
		}
		b.members.put(channel, set)
	}
	return set[user], nil
}

// memberInboxes are the inboxes whose channel user is a member of.
func (b *Bot) memberInboxes(ctx context.Context, user string) ([]*Inbox, error) {
	var out []*Inbox
	for i := range b.cfg.Inboxes {
		in := &b.cfg.Inboxes[i]
		ok, err := b.isMember(ctx, user, in.Channel)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// mayWork reports whether user may see and change conversation c.
func (b *Bot) mayWork(ctx context.Context, user string, c *store.Conversation) (bool, error) {
	ch := b.channelOf(c)
	if ch == "" {
		return false, nil
	}
	return b.isMember(ctx, user, ch)
}

func refusal(channels ...string) string {
	if len(channels) == 0 {
		return "Only members of an inbox channel can see and work on its conversations. Ask to be added to the channel first."
	}
	var names []string
	for _, c := range channels {
		names = append(names, "<#"+c+">")
	}
	return fmt.Sprintf("Only members of %s can see and work on its conversations. Ask to be added to the channel first.", strings.Join(names, ", "))
}

// act applies a workflow verb and returns the answer for the person who
// acted, and whether anything changed. The card is refreshed at once for a
// snappy click (the queue would do it too, paced).
func (b *Bot) act(ctx context.Context, num uint64, action, by, target, eventID string) (string, bool) {
	c, err := b.st.Act(num, action, by, target, eventID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Sprintf("There is no conversation #%d.", num), false
	case errors.Is(err, store.ErrNoChange):
		return fmt.Sprintf("Nothing to do: #%d is %s.", num, strings.TrimSuffix(err.Error(), ": "+store.ErrNoChange.Error())), false
	case errors.Is(err, store.ErrNotOwner):
		owner := ""
		if cur, _ := b.st.Conv(num); cur != nil {
			owner = cur.Assignee
		}
		return fmt.Sprintf("#%d belongs to <@%s>: only they can unclaim it. Use Assign to hand it over.", num, owner), false
	case errors.Is(err, store.ErrMerged):
		return mergedAnswer(err), false
	case errors.Is(err, store.ErrDuplicate):
		return "", false
	case err != nil:
		b.log.Error("workflow action failed", "conv", num, "action", action, "err", err)
		return fmt.Sprintf("Sorry, that did not work: %v", err), false
	}
	b.log.Info("workflow", "conv", num, "action", action, "by", by, "target", target)
	b.goRun(ctx, func(ctx context.Context) { b.refreshCardNow(ctx, num) })
	return "Done: " + activityText(c, &c.History[len(c.History)-1]), true
}

// activityText is the thread line of a change.
func activityText(c *store.Conversation, ch *store.Change) string {
	if line, ok := timerActivity(c, ch); ok {
		return line
	}
	who := "<@" + ch.By + ">"
	switch ch.Action {
	case store.ActClaim:
		if ch.Target == "reply" {
			return fmt.Sprintf(":raising_hand: %s replied and now owns #%d", who, c.Num)
		}
		return fmt.Sprintf(":raising_hand: %s claimed #%d", who, c.Num)
	case store.ActUnclaim:
		return fmt.Sprintf(":wave: %s unclaimed #%d", who, c.Num)
	case store.ActAssign:
		return fmt.Sprintf(":point_right: %s assigned #%d to <@%s>", who, c.Num, ch.Target)
	case store.ActUnassign:
		return fmt.Sprintf(":wave: %s unassigned #%d", who, c.Num)
	case store.ActClose:
		return fmt.Sprintf(":white_check_mark: %s closed #%d", who, c.Num)
	case store.ActReopen:
		if ch.By == "" {
			return fmt.Sprintf(":leftwards_arrow_with_hook: The customer replied: #%d is open again", c.Num)
		}
		return fmt.Sprintf(":leftwards_arrow_with_hook: %s reopened #%d", who, c.Num)
	case store.ActHold:
		return fmt.Sprintf(":double_vertical_bar: %s put #%d on hold", who, c.Num)
	case store.ActKeptClosed:
		return fmt.Sprintf(":pray: That looks like a thank-you: #%d stays closed. Reopen it if it needs an answer.", c.Num)
	case store.ActReplyOver:
		return fmt.Sprintf(":warning: %s is replying in #%d, which belongs to <@%s>", who, c.Num, ch.Target)
	case store.ActCcAdd:
		return fmt.Sprintf(":incoming_envelope: %s added %s to the Cc of #%d's replies", who, escape(ch.Target), c.Num)
	case store.ActCcRemove:
		return fmt.Sprintf(":incoming_envelope: %s took %s out of the Cc of #%d's replies", who, escape(ch.Target), c.Num)
	case store.ActTo:
		return fmt.Sprintf(":incoming_envelope: %s: replies in #%d now go to %s", who, c.Num, escape(ch.Target))
	case store.ActCompose:
		return fmt.Sprintf(":writing_hand: %s started #%d with %s", who, c.Num, escape(ch.Target))
	case store.ActForward:
		return fmt.Sprintf(":arrow_right_hook: %s forwarded #%d to %s", who, c.Num, escape(ch.Target))
	case store.ActTag:
		return fmt.Sprintf(":label: %s tagged #%d: %s", who, c.Num, escape(ch.Target))
	case store.ActUntag:
		return fmt.Sprintf(":label: %s took the tag %s off #%d", who, escape(ch.Target), c.Num)
	case store.ActMerged:
		return fmt.Sprintf(":twisted_rightwards_arrows: %s merged #%d into #%s: new mail lands there, and replies are written there", who, c.Num, escape(ch.Target))
	case store.ActMergedIn:
		return fmt.Sprintf(":twisted_rightwards_arrows: %s merged #%s into #%d: mail to either lands here, and replies from here go to everyone of both", who, escape(ch.Target), c.Num)
	case store.ActBlock:
		return fmt.Sprintf(":no_entry: %s blocked %s: their mail no longer opens conversations, and nothing is mailed to them", who, escape(ch.Target))
	case store.ActUnblock:
		return fmt.Sprintf(":no_entry: %s unblocked %s", who, escape(ch.Target))
	}
	return fmt.Sprintf("%s: %s #%d", who, ch.Action, c.Num)
}

// ---- reactions ----------------------------------------------------------

type reactionEvent struct {
	EventID  string `json:"event_id"`
	User     string `json:"user"`
	Reaction string `json:"reaction"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	Added    bool   `json:"added,omitempty"`
}

// handleReaction acts on a reaction on a conversation's root card (see
// the verb table).
func (b *Bot) handleReaction(ctx context.Context, r reactionEvent) error {
	if b.byChannel[r.Channel] == nil || r.User == b.botUserID || !b.cardReaction(r) {
		return nil
	}
	c, err := b.thread(r.Channel, r.TS, parkedEvent{EventID: r.EventID, Reaction: &r})
	if c == nil || err != nil {
		return err
	}
	return b.reacted(ctx, r, c)
}

func (b *Bot) reacted(ctx context.Context, r reactionEvent, c *store.Conversation) error {
	v := verbByReaction(r.Reaction, r.Added)
	if !b.cardReaction(r) || c.RootTS != r.TS {
		return nil // not on the root card
	}
	ok, err := b.isMember(ctx, r.User, r.Channel)
	if err != nil {
		return err
	}
	if !ok {
		b.ephemeral(ctx, r.Channel, r.User, refusal(r.Channel))
		return nil
	}
	if v == nil {
		return b.reactedMore(ctx, r, c) // tags, block
	}
	if answer, changed := b.act(ctx, c.Num, v.action, r.User, "", r.EventID); !changed && answer != "" {
		b.ephemeral(ctx, r.Channel, r.User, answer)
	}
	return nil
}

// cardReaction reports whether a reaction means something on a card: a
// workflow verb, a reaction tag of the inbox, the block reaction.
func (b *Bot) cardReaction(r reactionEvent) bool {
	return verbByReaction(r.Reaction, r.Added) != nil || r.Reaction == blockReaction || b.tagReaction(r.Channel, r.Reaction) != ""
}

// ---- buttons ------------------------------------------------------------

// blockAction handles a click on a card's button or its assignee picker,
// and returns what to tell the clicker: nothing when it worked (the card
// and the thread show it).
func (b *Bot) blockAction(ctx context.Context, cb slack.InteractionCallback) (string, error) {
	if len(cb.ActionCallback.BlockActions) == 0 {
		return "", nil
	}
	a := cb.ActionCallback.BlockActions[0]
	switch a.ActionID {
	case actSendNow, actSendAnyway, actCancel:
		// A reply's own buttons, on its author's private message.
		b.replyButton(ctx, cb, a)
		return "", nil
	case actReplyCompose:
		return b.composeClick(ctx, cb, a)
	case actComposeSaved:
		return "", b.insertSaved(ctx, cb, a)
	case actCardAI:
		return b.aiClick(ctx, cb, a)
	}
	v := verbByButton(a.ActionID)
	if v == nil {
		return "", nil
	}
	var num uint64
	var err error
	if v.target {
		num, err = parseActionBlockID(a.BlockID) // a users_select carries no value
	} else {
		num, err = parseConvValue(a.Value)
	}
	if err != nil {
		b.log.Warn("unknown button", "action", a.ActionID, "err", err)
		return "", nil
	}
	c, answer, err := b.clickConv(ctx, cb.User.ID, num)
	if c == nil {
		return answer, err
	}
	var text string
	var changed bool
	if v.target {
		text, changed = b.assign(ctx, c, cb.User.ID, a.SelectedUser)
	} else {
		text, changed = b.act(ctx, num, v.action, cb.User.ID, "", "")
	}
	if changed {
		return "", nil
	}
	return text, nil
}

// assign checks the assignee before assigning: a person who can see the
// conversation's channel, not a bot.
func (b *Bot) assign(ctx context.Context, c *store.Conversation, by, target string) (string, bool) {
	if target == "" {
		return "Pick someone to assign it to.", false
	}
	u, err := b.user(ctx, target)
	if err != nil {
		return fmt.Sprintf("I don't know the user %s. %s", escape(target), usageOf("assign")), false
	}
	if u.bot {
		return fmt.Sprintf("<@%s> is a bot; assign a person.", target), false
	}
	ok, err := b.mayWork(ctx, target, c)
	if err != nil {
		return fmt.Sprintf("Sorry, that did not work: %v", err), false
	}
	if !ok {
		return fmt.Sprintf("<@%s> is not in <#%s>; invite them first.", target, b.channelOf(c)), false
	}
	return b.act(ctx, c.Num, store.ActAssign, by, target, "")
}
