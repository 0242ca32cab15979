package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Tags: /inbox tag N NAME…, /inbox untag N NAME…, and reactions mapped to
// tags per inbox (Inbox.ReactionTags: adding the reaction on the card
// tags, removing it untags). The card shows them; /inbox list tag:NAME
// filters by one.

// tagsText is how the card shows tags.
func tagsText(tags []string) string { return "🏷 " + strings.Join(tags, " · ") }

// tagCommand answers /inbox tag N NAME… and /inbox untag N NAME….
func (b *Bot) tagCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	word := args[0]
	if len(args) < 3 {
		return usageOf(word), nil
	}
	c, answer, err := b.commandConv(ctx, cmd.UserID, word, args[1])
	if c == nil {
		return answer, err
	}
	action := store.ActTag
	if word == "untag" {
		action = store.ActUntag
	}
	answer, _, err = b.tag(ctx, c.Num, action, tagArgs(args[2:]), cmd.UserID, "")
	return answer, err
}

// tagArgs reads tags as typed: "#vip" comes as a link when a channel is
// named vip.
func tagArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = slackToPlain(a, func(string) string { return "" })
	}
	return out
}

// tag changes a conversation's tags and returns the answer for the person
// who did it, and whether anything changed.
func (b *Bot) tag(ctx context.Context, num uint64, action string, tags []string, by, eventID string) (string, bool, error) {
	c, changed, err := b.st.Tag(num, action, tags, by, eventID)
	switch {
	case errors.Is(err, store.ErrBadTag):
		return escape(err.Error()) + ". " + usageOf(map[string]string{store.ActTag: "tag", store.ActUntag: "untag"}[action]), false, nil
	case errors.Is(err, store.ErrNoChange):
		return "Nothing to do: " + escape(strings.TrimSuffix(err.Error(), ": "+store.ErrNoChange.Error())) + ".", false, nil
	case errors.Is(err, store.ErrMerged):
		return mergedAnswer(err), false, nil
	case errors.Is(err, store.ErrDuplicate):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	b.log.Info("tags changed", "conv", num, "action", action, "tags", changed, "by", by)
	b.goRun(ctx, func(ctx context.Context) { b.refreshCardNow(ctx, num) })
	return "Done: " + activityText(c, &c.History[len(c.History)-1]), true, nil
}

// tagReaction is the tag a reaction stands for in channel's inbox ("": none).
func (b *Bot) tagReaction(channel, reaction string) string {
	if in := b.byChannel[channel]; in != nil {
		return in.ReactionTags[reaction]
	}
	return ""
}

// listArgs reads /inbox list's arguments: a list name and a tag:NAME, in
// any order. bad is set when they are not that.
func listArgs(args []string) (filter, tag, bad string) {
	filter = "open"
	named := false
	for _, a := range tagArgs(args) {
		if t, ok := strings.CutPrefix(strings.ToLower(a), "tag:"); ok && tag == "" {
			n, err := store.NormTag(t)
			if err != nil {
				return "", "", escape(err.Error())
			}
			tag = n
			continue
		}
		if named || listFilters[strings.ToLower(a)].title == "" {
			return "", "", "Unknown list"
		}
		filter, named = strings.ToLower(a), true
	}
	return filter, tag, ""
}

// listTitle names a list, with its tag.
func listTitle(filter, tag string) string {
	t := listFilters[filter].title
	if tag != "" {
		t += fmt.Sprintf(" · tag %s", tag)
	}
	return t
}
