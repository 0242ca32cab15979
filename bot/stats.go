package bot

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Stats: how an inbox is doing over a period, computed from the store's
// event log in one pass (store.Events). Response and resolution times
// count the inbox's working time (its Calendar); response targets are
// judged here from the log and the configured targets, not from any
// reminder's timer.

// periods are the spans /inbox stats knows; "" is the default.
var periods = []string{"7d", "30d", "week", "month"}

// period returns the span named by word ending at now: the last 7 or 30
// days, or the calendar week (from Monday) or month so far in loc.
func period(word string, now time.Time, loc *time.Location) (from time.Time, label string, ok bool) {
	local := now.In(loc)
	switch word {
	case "", "7d":
		return now.Add(-7 * 24 * time.Hour), "last 7 days", true
	case "30d":
		return now.Add(-30 * 24 * time.Hour), "last 30 days", true
	case "week":
		back := (int(local.Weekday()) + 6) % 7 // days since Monday
		return midnight(local.AddDate(0, 0, -back)), "this week", true
	case "month":
		y, m, _ := local.Date()
		return time.Date(y, m, 1, 0, 0, 0, 0, loc), "this month", true
	}
	return time.Time{}, "", false
}

// report is one inbox's figures over [from, to).
type report struct {
	inbox    *Inbox
	from, to time.Time
	label    string

	received int // conversations customers opened (automated mail included)
	started  int // conversations agents started
	mails    int // mails by people (not automated) received
	closed   int
	reopened int // after a close

	firstResp, nextResp, resolution []time.Duration // business time, sorted once collected
	first, next                     tally           // response targets
	agents                          map[string]*agentTally
	hours                           [24]int // mails by people, by hour of the day in the inbox's zone
	overdue                         int     // conversations waiting now past their target
}

type tally struct{ met, breached int }

type agentTally struct{ replies, closed int }

func newReport(in *Inbox, from, to time.Time, label string) *report {
	return &report{inbox: in, from: from, to: to, label: label, agents: map[string]*agentTally{}}
}

func (r *report) agent(id string) *agentTally {
	a := r.agents[id]
	if a == nil {
		a = &agentTally{}
		r.agents[id] = a
	}
	return a
}

// judge counts a response time against a target (none: not counted).
func judge(t *tally, d, target time.Duration) {
	switch {
	case target <= 0:
	case d <= target:
		t.met++
	default:
		t.breached++
	}
}

// targetFor is the target of a wait: for the first reply or a later one.
func (r *report) targetFor(first bool) (time.Duration, *tally) {
	if first {
		return r.inbox.FirstResponse, &r.first
	}
	return r.inbox.NextResponse, &r.next
}

// add counts one event of the report's inbox and period.
func (r *report) add(e *store.Event) {
	cal := r.inbox.Calendar
	person := func() {
		r.mails++
		r.hours[e.At.In(cal.Location()).Hour()]++
	}
	switch e.Kind {
	case store.EvOpened:
		if e.Outbound {
			r.started++
			return
		}
		r.received++
		if !e.Auto {
			person()
		}
	case store.EvReceived:
		if !e.Auto {
			person()
		}
	case store.EvReplied:
		if e.By != "" {
			r.agent(e.By).replies++
		}
		if e.Since.IsZero() {
			return // nobody was waiting
		}
		d := cal.Between(e.Since, e.At)
		if e.First {
			r.firstResp = append(r.firstResp, d)
		} else {
			r.nextResp = append(r.nextResp, d)
		}
		target, t := r.targetFor(e.First)
		judge(t, d, target)
	case store.EvClosed:
		r.closed++
		if e.By != "" {
			r.agent(e.By).closed++
		}
		if !e.Since.IsZero() {
			r.resolution = append(r.resolution, cal.Between(e.Since, e.At))
		}
		// Closed while the customer waited: past the target, that wait
		// was breached; within it, there was nothing to answer.
		if target, t := r.targetFor(e.First); !e.Wait.IsZero() && target > 0 && cal.Between(e.Wait, e.At) > target {
			t.breached++
		}
	case store.EvReopened:
		if e.Target == string(store.StatusClosed) {
			r.reopened++
		}
	}
}

// collect fills reports (one per inbox) from the event log in one cursor
// pass over the union of their periods, then counts the conversations
// waiting now past their target.
func collect(st *store.Store, reports []*report, now time.Time) error {
	if len(reports) == 0 {
		return nil
	}
	byInbox := map[string]*report{}
	from, to := reports[0].from, reports[0].to
	for _, r := range reports {
		byInbox[r.inbox.ID] = r
		if r.from.Before(from) {
			from = r.from
		}
		if r.to.After(to) {
			to = r.to
		}
	}
	err := st.Events(from, to, func(e *store.Event) error {
		if r := byInbox[e.Inbox]; r != nil && !e.At.Before(r.from) && e.At.Before(r.to) {
			r.add(e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range reports {
		slices.Sort(r.firstResp)
		slices.Sort(r.nextResp)
		slices.Sort(r.resolution)
		if err := r.countOverdue(st, now); err != nil {
			return err
		}
	}
	return nil
}

// countOverdue counts the open conversations whose customer has waited
// longer than the target, now.
func (r *report) countOverdue(st *store.Store, now time.Time) error {
	in := r.inbox
	if in.FirstResponse <= 0 && in.NextResponse <= 0 {
		return nil
	}
	rows, _, err := st.List(store.ListQuery{Inboxes: []string{in.ID}, Statuses: []store.Status{store.StatusOpen}, Limit: math.MaxInt32})
	if err != nil {
		return err
	}
	for _, c := range rows {
		if c.Awaiting.IsZero() {
			continue
		}
		target, _ := r.targetFor(c.FirstReply.IsZero() && !c.Outbound)
		if target > 0 && in.Calendar.Between(c.Awaiting, now) > target {
			r.overdue++
		}
	}
	return nil
}

// percentile is the nearest-rank p-th percentile (0 < p <= 1) of sorted
// durations: a time one of them took.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// tableSpan shows a duration of working time in a stats table briefly, in
// hours and minutes: 45m, 3h 20m, 51h. Days would mislead: a working day
// is not 24 hours.
func tableSpan(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0 || h >= 10:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

// spread is "median 2h · p90 10h (4)", or "none".
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	return fmt.Sprintf("median %s · p90 %s (%d)", tableSpan(percentile(ds, 0.5)), tableSpan(percentile(ds, 0.9)), len(ds))
}

func (t tally) String() string {
	s := fmt.Sprintf("%d met, %d breached", t.met, t.breached)
	if n := t.met + t.breached; n > 0 {
		s += fmt.Sprintf(" (%d%%)", t.met*100/n)
	}
	return s
}

const (
	maxAgentRows = 15
	barWidth     = 20
)

// render lays a report out for Slack: a title line, then a short table
// in a code block (monospace, so it lines up). name gives agents' names;
// nothing in it comes from mail.
func (r *report) render(name func(id string) string) string {
	in, loc := r.inbox, r.inbox.Calendar.Location()
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* · %s (%s – %s, %s)\n```\n", escape(cmp.Or(in.Name, in.Address)), r.label,
		r.from.In(loc).Format("Mon 2 Jan 15:04"), r.to.In(loc).Format("Mon 2 Jan 15:04"), loc)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-13s %s\n", label, fmt.Sprintf(format, args...))
	}
	received := fmt.Sprintf("%d conversations, %d mails", r.received, r.mails)
	if r.started > 0 {
		received += fmt.Sprintf(" (+%d started by us)", r.started)
	}
	row("Received", "%s", received)
	closed := fmt.Sprint(r.closed)
	if r.reopened > 0 {
		closed += fmt.Sprintf(" (%d reopened)", r.reopened)
	}
	row("Closed", "%s", closed)
	row("First reply", "%s", spread(r.firstResp))
	if len(r.nextResp) > 0 {
		row("Next replies", "%s", spread(r.nextResp))
	}
	row("Resolution", "%s", spread(r.resolution))
	if in.FirstResponse > 0 {
		row("First target", "%s: %s", tableSpan(in.FirstResponse), r.first)
	}
	if in.NextResponse > 0 {
		row("Next target", "%s: %s", tableSpan(in.NextResponse), r.next)
	}
	if in.FirstResponse > 0 || in.NextResponse > 0 {
		row("Waiting now", "%d past target", r.overdue)
	}
	b.WriteString("(times in working hours)\n")

	if len(r.agents) > 0 {
		type line struct {
			name string
			agentTally
		}
		var lines []line
		for id, a := range r.agents {
			lines = append(lines, line{cut(cmp.Or(name(id), id), 20), *a})
		}
		slices.SortFunc(lines, func(x, y line) int {
			return cmp.Or(cmp.Compare(y.replies, x.replies), cmp.Compare(y.closed, x.closed), strings.Compare(x.name, y.name))
		})
		fmt.Fprintf(&b, "\n%-20s %7s %7s\n", "Agent", "Replies", "Closed")
		for i, l := range lines {
			if i == maxAgentRows {
				fmt.Fprintf(&b, "…and %d more\n", len(lines)-i)
				break
			}
			// Padded before it is escaped: &lt; shows as one character.
			fmt.Fprintf(&b, "%s %7d %7d\n", codeSafe(fmt.Sprintf("%-20s", l.name)), l.replies, l.closed)
		}
	}

	b.WriteString("\n" + r.histogram())
	b.WriteString("```")
	return b.String()
}

// histogram is customer mail by hour of the day, as bars, from the first
// hour with mail to the last.
func (r *report) histogram() string {
	lo, hi, top := -1, -1, 0
	for h, n := range r.hours {
		if n > 0 {
			if lo < 0 {
				lo = h
			}
			hi, top = h, max(top, n)
		}
	}
	if lo < 0 {
		return "No mail from customers in this period.\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Mails by hour (%s)\n", r.inbox.Calendar.Location())
	for h := lo; h <= hi; h++ {
		n := r.hours[h]
		bar := strings.Repeat("█", (n*barWidth+top-1)/top)
		fmt.Fprintf(&b, "%02d %-*s %d\n", h, barWidth, bar, n)
	}
	return b.String()
}

// codeSafe keeps a name from ending the code block it is shown in, or
// being read as Slack markup.
func codeSafe(s string) string {
	return escape(strings.ReplaceAll(s, "`", "'"))
}

// statsCommand answers /inbox stats [7d|30d|week|month], privately.
func (b *Bot) statsCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	word := ""
	if len(args) > 1 {
		word = strings.ToLower(args[1])
	}
	if (word != "" && !slices.Contains(periods, word)) || len(args) > 2 {
		return "Unknown period. " + usageOf("stats"), nil
	}
	inboxes, err := b.scope(ctx, cmd.UserID, cmd.ChannelID)
	if err != nil || len(inboxes) == 0 {
		return refusal(), err
	}
	now := b.cfg.Now()
	var reports []*report
	for _, in := range inboxes {
		from, label, _ := period(word, now, in.Calendar.Location())
		reports = append(reports, newReport(in, from, now, label))
	}
	return b.statsText(ctx, reports, now)
}

// statsText computes and renders reports.
func (b *Bot) statsText(ctx context.Context, reports []*report, now time.Time) (string, error) {
	if err := collect(b.st, reports, now); err != nil {
		return "", err
	}
	var parts []string
	for _, r := range reports {
		parts = append(parts, r.render(func(id string) string { return b.userName(ctx, id) }))
	}
	return strings.Join(parts, "\n\n"), nil
}
