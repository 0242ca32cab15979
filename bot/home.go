package bot

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/store"
)

// listFilter is a named list of /inbox list and the Home tab.
type listFilter struct {
	title    string
	statuses []store.Status
	mine     bool // assigned to the person asking
	nobody   bool // unassigned
	newest   bool // newest first (closed ones); else oldest first: they waited longest
}

var listFilters = map[string]listFilter{
	"open":       {title: "Open", statuses: []store.Status{store.StatusOpen}},
	"mine":       {title: "Mine", statuses: []store.Status{store.StatusOpen, store.StatusWaiting}, mine: true},
	"unassigned": {title: "Unassigned", statuses: []store.Status{store.StatusOpen}, nobody: true},
	"waiting":    {title: "Waiting on customer", statuses: []store.Status{store.StatusWaiting}},
	"hold":       {title: "On hold", statuses: []store.Status{store.StatusHold}},
	"closed":     {title: "Closed", statuses: []store.Status{store.StatusClosed}, newest: true},
}

func inboxIDs(inboxes []*Inbox) []string {
	var ids []string
	for _, in := range inboxes {
		ids = append(ids, in.ID)
	}
	return ids
}

// list reads one list from the store's indexes: at most limit rows, and
// how many there are in all.
func (b *Bot) list(inboxes []*Inbox, user, filter, tag string, limit int) ([]store.Conversation, int, error) {
	f := listFilters[filter]
	q := store.ListQuery{Inboxes: inboxIDs(inboxes), Statuses: f.statuses, Limit: limit, Newest: f.newest, Tag: tag}
	nobody := ""
	switch {
	case f.mine:
		q.Assignee = &user
	case f.nobody:
		q.Assignee = &nobody
	}
	return b.st.List(q)
}

func countsText(n store.Counts) string {
	s := fmt.Sprintf("*%d open* (%d unassigned) · %d waiting on customer · %d on hold · %d closed today",
		n.Open, n.Unassigned, n.Waiting, n.Hold, n.ClosedSince)
	if len(n.OpenPerAssignee) > 0 {
		var per []string
		for u, k := range n.OpenPerAssignee {
			per = append(per, fmt.Sprintf("<@%s> %d", u, k))
		}
		slices.Sort(per)
		s += "\nOpen per assignee: " + strings.Join(per, " · ")
	}
	return s
}

func midnight(now time.Time) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, now.Location())
}

func (b *Bot) statusText(inboxes []*Inbox) (string, error) {
	n, err := b.st.Count(inboxIDs(inboxes), midnight(b.cfg.Now()))
	if err != nil {
		return "", err
	}
	return countsText(n), nil
}

const maxListRows = 40 // keeps an answer well under Slack's size limits

func (b *Bot) listText(inboxes []*Inbox, user, filter, tag string) (string, error) {
	rows, total, err := b.list(inboxes, user, filter, tag, maxListRows)
	if err != nil {
		return "", err
	}
	title := listTitle(filter, tag)
	if total == 0 {
		return fmt.Sprintf("*%s*: none.", title), nil
	}
	lines := []string{fmt.Sprintf("*%s* (%d):", title, total)}
	now := b.cfg.Now()
	for i := range rows {
		lines = append(lines, b.row(&rows[i], now))
	}
	if total > len(rows) {
		lines = append(lines, fmt.Sprintf("…and %d more", total-len(rows)))
	}
	return strings.Join(lines, "\n"), nil
}

// row is one conversation in a list: number, subject (linking to the
// thread), customer, assignee and age.
func (b *Bot) row(c *store.Conversation, now time.Time) string {
	subject := escape(cut(cmp.Or(c.Subject, "(no subject)"), 80))
	if link := b.permalink(c.Channel, c.RootTS); link != "" {
		subject = "<" + link + "|" + subject + ">"
	}
	owner := "unassigned"
	if c.Assignee != "" {
		owner = "<@" + c.Assignee + ">"
	}
	return fmt.Sprintf("• *#%d* %s — %s · %s · %s", c.Num, subject, escape(displayName(c.Customer)), owner, age(now.Sub(c.Created)))
}

// permalink links to a thread root without an API call per row.
func (b *Bot) permalink(channel, ts string) string {
	if ts == "" || channel == "" || b.teamURL == "" {
		return ""
	}
	return b.teamURL + "archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
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
	inboxes, err := b.memberInboxes(ctx, e.User)
	if err != nil {
		return err
	}
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(mrkdwn(refusal()), nil, nil),
	}}}
	if len(inboxes) > 0 {
		if view, err = b.homeView(inboxes, e.User); err != nil {
			return err
		}
	}
	if _, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: e.User, View: view}); err != nil {
		b.log.Error("views.publish", "user", e.User, "err", err)
	}
	return nil
}

const homeRows = 15 // per section; a Home view holds at most 100 blocks

// homeView shows, per inbox the person works in, their queue: Mine,
// Unassigned and Waiting on customer, oldest first.
func (b *Bot) homeView(inboxes []*Inbox, user string) (slack.HomeTabViewRequest, error) {
	now := b.cfg.Now()
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Your inbox"))}
	for _, in := range inboxes {
		scope := []*Inbox{in}
		n, err := b.st.Count(inboxIDs(scope), midnight(now))
		if err != nil {
			return slack.HomeTabViewRequest{}, err
		}
		if len(inboxes) > 1 {
			blocks = append(blocks, slack.NewHeaderBlock(plain(cut(fmt.Sprintf("%s · %s", in.Name, in.Address), headerMax))))
		}
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(countsText(n))))
		for _, filter := range []string{"mine", "unassigned", "waiting"} {
			rows, total, err := b.list(scope, user, filter, "", homeRows)
			if err != nil {
				return slack.HomeTabViewRequest{}, err
			}
			blocks = append(blocks, slack.NewDividerBlock(),
				slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*%s* (%d)", listFilters[filter].title, total)), nil, nil))
			if total == 0 {
				blocks = append(blocks, slack.NewContextBlock("", mrkdwn("Nothing here.")))
				continue
			}
			var lines []string
			for i := range rows {
				lines = append(lines, b.row(&rows[i], now))
			}
			if total > len(rows) {
				lines = append(lines, fmt.Sprintf("…and %d more: `/inbox list %s`", total-len(rows), filter))
			}
			text := ""
			for _, r := range lines {
				if len(text)+len(r) > sectionMax {
					blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
					text = ""
				}
				text += r + "\n"
			}
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.TrimSpace(text)), nil, nil))
		}
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}, nil
}
