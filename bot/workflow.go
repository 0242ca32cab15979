package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/inboxbot/inboxbot/store"
)

const usage = "Usage: `/inbox status` · `/inbox list [open|mine|unassigned|waiting|hold|closed]` · " +
	"`/inbox claim N` · `/inbox assign N @user` · `/inbox unassign N` · `/inbox close N` · `/inbox reopen N` · `/inbox hold N`"

// isMember reports whether user may act: only members of the inbox channel
// can. The member list is cached for MemberTTL.
func (b *Bot) isMember(ctx context.Context, user string) (bool, error) {
	set, ok := b.members.get(b.cfg.Channel)
	if !ok {
		set = map[string]bool{}
		cursor := ""
		for {
			ids, next, err := b.api.GetUsersInConversationContext(ctx, &slack.GetUsersInConversationParameters{
				ChannelID: b.cfg.Channel, Cursor: cursor, Limit: 1000,
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
		b.members.put(b.cfg.Channel, set)
	}
	return set[user], nil
}

func (b *Bot) refusal() string {
	return fmt.Sprintf("Only members of <#%s> can see and work on its conversations. Ask to be added to the channel first.", b.cfg.Channel)
}

// act applies a workflow action and returns the answer for the person who
// acted, and whether anything changed. The card is updated at once; the
// thread line follows through the queue, with the card refreshed once more.
func (b *Bot) act(ctx context.Context, num uint64, action, by, target, eventID string) (string, bool) {
	c, err := b.st.Act(num, action, by, target, eventID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Sprintf("There is no conversation #%d.", num), false
	case errors.Is(err, store.ErrNoChange):
		return fmt.Sprintf("Nothing to do: #%d is %s.", num, strings.TrimSuffix(err.Error(), ": "+store.ErrNoChange.Error())), false
	case errors.Is(err, store.ErrNotOwner):
		cur, _ := b.st.Conv(num)
		owner := ""
		if cur != nil {
			owner = cur.Assignee
		}
		return fmt.Sprintf("#%d belongs to <@%s>: only they can unclaim it. Use Assign to hand it over.", num, owner), false
	case errors.Is(err, store.ErrDuplicate):
		return "", false
	case err != nil:
		b.log.Error("workflow action failed", "conv", num, "action", action, "err", err)
		return fmt.Sprintf("Sorry, that did not work: %v", err), false
	}
	b.log.Info("workflow", "conv", num, "action", action, "by", by, "target", target)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.refreshCard(ctx, num); err != nil {
			b.log.Warn("card update failed; the queue will retry", "conv", num, "err", err)
		}
	}()
	return "Done: " + activityText(c, &c.History[len(c.History)-1]), true
}

// activityText is the thread line of a change.
func activityText(c *store.Conversation, ch *store.Change) string {
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
	}
	return fmt.Sprintf("%s: %s #%d", who, ch.Action, c.Num)
}

// ---- reactions ----------------------------------------------------------

// Reactions on a conversation's root message: :eyes: claims,
// :white_check_mark: closes, and removing it reopens.
func (b *Bot) handleReaction(ctx context.Context, eventID, user, reaction, channel, ts string, added bool) error {
	if channel != b.cfg.Channel || user == b.botUserID {
		return nil
	}
	var action string
	switch {
	case added && reaction == "eyes":
		action = store.ActClaim
	case added && reaction == "white_check_mark":
		action = store.ActClose
	case !added && reaction == "white_check_mark":
		action = store.ActReopen
	default:
		return nil
	}
	c, err := b.convByThread(ts)
	if errors.Is(err, store.ErrNotFound) {
		return nil // not a root message
	} else if err != nil {
		return err
	}
	if c.RootTS != ts {
		return nil
	}
	ok, err := b.isMember(ctx, user)
	if err != nil {
		return err
	}
	if !ok {
		b.ephemeral(ctx, user, b.refusal())
		return nil
	}
	if answer, changed := b.act(ctx, c.Num, action, user, "", eventID); !changed && answer != "" {
		b.ephemeral(ctx, user, answer)
	}
	return nil
}

// ephemeral tells one user something in the inbox channel, or in a direct
// message when they are not in it (in a public channel anyone can react,
// but only members can see an ephemeral message there).
func (b *Bot) ephemeral(ctx context.Context, user, text string) {
	_, err := b.api.PostEphemeralContext(ctx, b.cfg.Channel, user, slack.MsgOptionText(text, false))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "user_not_in_channel" {
		_, _, err = b.api.PostMessageContext(ctx, user, slack.MsgOptionText(text, false))
	}
	if err != nil {
		b.log.Warn("answer to user failed", "user", user, "err", err)
	}
}

// ---- buttons ------------------------------------------------------------

func (b *Bot) handleInteractive(ctx context.Context, ev socketmode.Event) (any, error) {
	cb, ok := ev.Data.(slack.InteractionCallback)
	if !ok || cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		return nil, nil
	}
	a := cb.ActionCallback.BlockActions[0]
	user := cb.User.ID
	answer := func(text string) {
		if text == "" {
			return
		}
		if cb.ResponseURL != "" {
			_, _, err := b.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral),
				slack.MsgOptionText(text, false))
			if err == nil {
				return
			}
			b.log.Warn("response_url answer failed", "err", err)
		}
		b.ephemeral(ctx, user, text)
	}
	var num uint64
	var err error
	if a.ActionID == actAssign {
		num, err = parseActionBlockID(a.BlockID)
	} else {
		num, err = parseConvValue(a.Value)
	}
	if err != nil {
		b.log.Warn("unknown button", "action", a.ActionID, "err", err)
		return nil, nil
	}
	ok, err = b.isMember(ctx, user)
	if err != nil {
		return nil, err
	}
	if !ok {
		answer(b.refusal())
		return nil, nil
	}
	var text string
	var changed bool
	if a.ActionID == actAssign {
		text, changed = b.assign(ctx, num, user, a.SelectedUser)
	} else {
		action, known := buttonActions[a.ActionID]
		if !known {
			return nil, nil
		}
		text, changed = b.act(ctx, num, action, user, "", "")
	}
	// Success shows on the card and in the thread; only say what did not happen.
	if !changed {
		answer(text)
	}
	return nil, nil
}

var buttonActions = map[string]string{
	actClaim: store.ActClaim, actUnclaim: store.ActUnclaim, actClose: store.ActClose,
	actReopen: store.ActReopen, actHold: store.ActHold,
}

// assign checks the assignee before assigning: a person who can see the
// inbox channel, not a bot.
func (b *Bot) assign(ctx context.Context, num uint64, by, target string) (string, bool) {
	if target == "" {
		return "Pick someone to assign it to.", false
	}
	u, err := b.api.GetUserInfoContext(ctx, target)
	if err != nil {
		return fmt.Sprintf("I don't know the user %s. %s", escape(target), usageOf("assign")), false
	}
	if u.IsBot {
		return fmt.Sprintf("<@%s> is a bot; assign a person.", target), false
	}
	ok, err := b.isMember(ctx, target)
	if err != nil {
		return fmt.Sprintf("Sorry, that did not work: %v", err), false
	}
	if !ok {
		return fmt.Sprintf("<@%s> is not in <#%s>; invite them first.", target, b.cfg.Channel), false
	}
	return b.act(ctx, num, store.ActAssign, by, target, "")
}

// ---- /inbox -----------------------------------------------------------------

func (b *Bot) handleSlash(ctx context.Context, ev socketmode.Event) (any, error) {
	cmd, ok := ev.Data.(slack.SlashCommand)
	if !ok {
		return nil, nil
	}
	text, err := b.slash(ctx, cmd.UserID, cmd.Text)
	if err != nil {
		return nil, err
	}
	return map[string]any{"response_type": "ephemeral", "text": text}, nil
}

// slash answers one /inbox command. An error means "try again later"
// (the envelope is not acked); a wrong command gets an answer.
func (b *Bot) slash(ctx context.Context, user, text string) (string, error) {
	args := strings.Fields(text)
	if len(args) == 0 || args[0] == "help" {
		return usage, nil
	}
	verb := strings.ToLower(args[0])
	// Reading is as private as the channel: subjects and customers are
	// for its members only.
	member, err := b.isMember(ctx, user)
	if err != nil {
		return "", err
	}
	switch verb {
	case "status":
		if !member {
			return b.refusal(), nil
		}
		return b.statusText(user)
	case "list":
		filter := "open"
		if len(args) > 1 {
			filter = strings.ToLower(args[1])
		}
		if len(args) > 2 || listFilters[filter] == nil {
			return "Unknown list. " + usageOf("list"), nil
		}
		if !member {
			return b.refusal(), nil
		}
		return b.listText(user, filter)
	}
	action, ok := map[string]string{
		"claim": store.ActClaim, "assign": store.ActAssign, "unassign": store.ActUnassign,
		"close": store.ActClose, "reopen": store.ActReopen, "hold": store.ActHold,
	}[verb]
	if !ok {
		return fmt.Sprintf("I don't know `%s`. %s", escape(args[0]), usage), nil
	}
	wantArgs := 2
	if verb == "assign" {
		wantArgs = 3
	}
	if len(args) != wantArgs {
		return usageOf(verb), nil
	}
	num, err := parseConvValue(args[1])
	if err != nil {
		return fmt.Sprintf("`%s` is not a conversation number. %s", escape(args[1]), usageOf(verb)), nil
	}
	if !member {
		return b.refusal(), nil
	}
	if _, err := b.st.Conv(num); errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("There is no conversation #%d (`/inbox list` shows them). %s", num, usageOf(verb)), nil
	}
	if verb == "assign" {
		target, ok := parseUserMention(args[2])
		if !ok {
			return fmt.Sprintf("`%s` is not a user: mention them, e.g. @alice. %s", escape(args[2]), usageOf(verb)), nil
		}
		answer, _ := b.assign(ctx, num, user, target)
		return answer, nil
	}
	answer, _ := b.act(ctx, num, action, user, "", "")
	return answer, nil
}

func usageOf(verb string) string {
	switch verb {
	case "assign":
		return "Usage: `/inbox assign N @user`"
	case "list":
		return "Usage: `/inbox list [open|mine|unassigned|waiting|hold|closed]`"
	}
	return "Usage: `/inbox " + verb + " N`"
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

// ---- status, lists and the Home tab -------------------------------------------

var listFilters = map[string]func(c *store.Conversation, user string) bool{
	"open":       func(c *store.Conversation, _ string) bool { return c.Status == store.StatusOpen },
	"mine":       func(c *store.Conversation, u string) bool { return c.Assignee == u && active(c) },
	"unassigned": func(c *store.Conversation, _ string) bool { return c.Assignee == "" && c.Status == store.StatusOpen },
	"waiting":    func(c *store.Conversation, _ string) bool { return c.Status == store.StatusWaiting },
	"hold":       func(c *store.Conversation, _ string) bool { return c.Status == store.StatusHold },
	"closed":     func(c *store.Conversation, _ string) bool { return c.Status == store.StatusClosed },
}

// active: needs us or waits on the customer (the "Mine" queue).
func active(c *store.Conversation) bool {
	return c.Status == store.StatusOpen || c.Status == store.StatusWaiting
}

var listTitles = map[string]string{
	"open": "Open", "mine": "Mine", "unassigned": "Unassigned", "waiting": "Waiting on customer",
	"hold": "On hold", "closed": "Closed",
}

type counts struct {
	open, unassigned, waiting, hold, closedToday int
	perAssignee                                  map[string]int
}

func countConvs(convs []store.Conversation, now time.Time) counts {
	n := counts{perAssignee: map[string]int{}}
	y, m, d := now.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	for i := range convs {
		c := &convs[i]
		switch c.Status {
		case store.StatusOpen:
			n.open++
			if c.Assignee == "" {
				n.unassigned++
			} else {
				n.perAssignee[c.Assignee]++
			}
		case store.StatusWaiting:
			n.waiting++
		case store.StatusHold:
			n.hold++
		case store.StatusClosed:
			if !c.ClosedAt.Before(midnight) {
				n.closedToday++
			}
		}
	}
	return n
}

func (n counts) String() string {
	s := fmt.Sprintf("*%d open* (%d unassigned) · %d waiting on customer · %d on hold · %d closed today",
		n.open, n.unassigned, n.waiting, n.hold, n.closedToday)
	if len(n.perAssignee) > 0 {
		var per []string
		for u, k := range n.perAssignee {
			per = append(per, fmt.Sprintf("<@%s> %d", u, k))
		}
		slices.Sort(per)
		s += "\nOpen per assignee: " + strings.Join(per, " · ")
	}
	return s
}

func (b *Bot) statusText(string) (string, error) {
	convs, err := b.st.Convs(nil)
	if err != nil {
		return "", err
	}
	return countConvs(convs, time.Now()).String(), nil
}

const maxListRows = 40 // keeps an answer well under Slack's size limits

func (b *Bot) listText(user, filter string) (string, error) {
	rows, err := b.st.Convs(func(c *store.Conversation) bool { return listFilters[filter](c, user) })
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return fmt.Sprintf("*%s*: none.", listTitles[filter]), nil
	}
	lines := []string{fmt.Sprintf("*%s* (%d):", listTitles[filter], len(rows))}
	for i := range rows {
		if i == maxListRows {
			lines = append(lines, fmt.Sprintf("…and %d more", len(rows)-maxListRows))
			break
		}
		lines = append(lines, b.row(&rows[i], time.Now()))
	}
	return strings.Join(lines, "\n"), nil
}

// row is one conversation in a list: number, subject (linking to the
// thread), customer, assignee and age.
func (b *Bot) row(c *store.Conversation, now time.Time) string {
	subject := escape(cut(cmp.Or(c.Subject, "(no subject)"), 80))
	if link := b.permalink(c.RootTS); link != "" {
		subject = "<" + link + "|" + subject + ">"
	}
	owner := "unassigned"
	if c.Assignee != "" {
		owner = "<@" + c.Assignee + ">"
	}
	return fmt.Sprintf("• *#%d* %s — %s · %s · %s", c.Num, subject, escape(displayName(c.Customer)), owner, age(now.Sub(c.Created)))
}

// permalink links to a thread root without an API call per row.
func (b *Bot) permalink(ts string) string {
	if ts == "" || b.teamURL == "" {
		return ""
	}
	return b.teamURL + "archives/" + b.cfg.Channel + "/p" + strings.ReplaceAll(ts, ".", "")
}

func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// handleHome publishes the person's queue when they open the Home tab.
func (b *Bot) handleHome(ctx context.Context, e *slackevents.AppHomeOpenedEvent) error {
	if e.Tab != "" && e.Tab != "home" {
		return nil
	}
	member, err := b.isMember(ctx, e.User)
	if err != nil {
		return err
	}
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(mrkdwn(b.refusal()), nil, nil),
	}}}
	if member {
		if view, err = b.homeView(e.User); err != nil {
			return err
		}
	}
	if _, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: e.User, View: view}); err != nil {
		b.log.Error("views.publish", "user", e.User, "err", err)
	}
	return nil
}

const homeRows = 15 // per section; a Home view holds at most 100 blocks

func (b *Bot) homeView(user string) (slack.HomeTabViewRequest, error) {
	convs, err := b.st.Convs(nil)
	now := time.Now()
	if err != nil {
		return slack.HomeTabViewRequest{}, err
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("Your inbox")),
		slack.NewContextBlock("", mrkdwn(countConvs(convs, now).String())),
	}
	for _, filter := range []string{"mine", "unassigned", "waiting"} {
		var rows []string
		for i := range convs {
			if listFilters[filter](&convs[i], user) {
				rows = append(rows, b.row(&convs[i], now))
			}
		}
		// Oldest first: they have waited longest.
		blocks = append(blocks, slack.NewDividerBlock(),
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*%s* (%d)", listTitles[filter], len(rows))), nil, nil))
		if len(rows) == 0 {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn("Nothing here.")))
			continue
		}
		if len(rows) > homeRows {
			rows = append(rows[:homeRows], fmt.Sprintf("…and %d more: `/inbox list %s`", len(rows)-homeRows, filter))
		}
		text := ""
		for _, r := range rows {
			if len(text)+len(r) > sectionMax {
				blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
				text = ""
			}
			text += r + "\n"
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.TrimSpace(text)), nil, nil))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}, nil
}
