package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/when"
	"github.com/inboxbot/inboxbot/store"
)

// Response targets, snoozes and auto-close, Slack side. The store keeps
// the timers (store/timers.go) and fires each, exactly once, with what it
// causes queued for the poster; this file drives them on the bot's clock
// and says in Slack what they did: reminder lines in the thread (the owner
// mentioned, or the inbox's on-duty group when nobody owns it), a direct
// message to the owner at a breach, and the card's line of what is due
// when.

// Targets are what the store applies of an inbox's configuration.
func (in *Inbox) Targets() store.Targets {
	return store.Targets{First: in.FirstResponse, Next: in.NextResponse, Add: in.Calendar.Add, AutoClose: in.AutoCloseAfter}
}

// TargetsOf gives the store (store.Options.Targets) each inbox's targets.
func TargetsOf(inboxes []Inbox) func(inbox string) store.Targets {
	byID := map[string]store.Targets{}
	for i := range inboxes {
		byID[inboxes[i].ID] = inboxes[i].Targets()
	}
	return func(inbox string) store.Targets { return byID[inbox] }
}

// timerQueue fires the store's timers as they fall due, until ctx is done.
func (b *Bot) timerQueue(ctx context.Context) {
	store.DriveOn(ctx, b.cfg.Now, b.st.TimerKick(), b.log, b.drainTimers)
}

func (b *Bot) drainTimers(ctx context.Context) (time.Time, error) {
	fired, next, err := b.st.FireTimers()
	now := b.cfg.Now()
	for _, f := range fired {
		if f.Did == "" {
			continue
		}
		b.log.Info("timer fired", "conv", f.Conv, "timer", f.Kind, "did", f.Did, "late", now.Sub(f.At).Round(time.Second))
	}
	return next, err
}

// target is the inbox's target of a clock kind (0: off).
func (in *Inbox) target(kind string) time.Duration {
	if kind == store.ClockNext {
		return in.NextResponse
	}
	return in.FirstResponse
}

// span says how long d is, as a card does: "25 min", "3 h 20 min", "2 d 4 h".
func span(d time.Duration) string {
	m := int(d / time.Minute)
	switch {
	case m < 1:
		return "less than a minute"
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m < 24*60 && m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	case m < 24*60:
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	case m/60%24 == 0:
		return fmt.Sprintf("%d d", m/60/24)
	}
	return fmt.Sprintf("%d d %d h", m/60/24, m/60%24)
}

// localDate shows t in each reader's own time zone (the fallback, in
// loc's, where Slack cannot).
func localDate(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.In(loc).Format("Mon 2 Jan 15:04 MST"))
}

func (b *Bot) zone(c *store.Conversation) *time.Location {
	if in := b.inboxOf(c); in != nil {
		return in.Calendar.Location()
	}
	return time.UTC
}

// between is the working time of c's inbox from a to b.
func (b *Bot) between(c *store.Conversation, from, to time.Time) time.Duration {
	if in := b.inboxOf(c); in != nil {
		return in.Calendar.Between(from, to)
	}
	return max(to.Sub(from), 0)
}

// timerLine is what a card says of a conversation's timers as of now: when
// its answer is due (or how long overdue, in working time), when its hold
// ends, when it closes by itself. Cards are refreshed when that changes
// (a reminder, a breach), not as time passes.
func (b *Bot) timerLine(c *store.Conversation, now time.Time) string {
	in := b.inboxOf(c)
	if in == nil {
		return ""
	}
	loc := in.Calendar.Location()
	var parts []string
	if k := c.Clock; k.Running() && in.target(k.Kind) > 0 {
		what := "First reply"
		if k.Kind == store.ClockNext {
			what = "Reply"
		}
		switch over := in.Calendar.Between(k.Due, now); {
		case now.Before(k.Due):
			parts = append(parts, fmt.Sprintf(":stopwatch: %s due in %s (%s)", what, span(k.Due.Sub(now)), localDate(k.Due, loc)))
		case over < time.Minute:
			parts = append(parts, fmt.Sprintf(":rotating_light: %s overdue (was due %s)", what, localDate(k.Due, loc)))
		default:
			parts = append(parts, fmt.Sprintf(":rotating_light: %s overdue %s (was due %s)", what, span(over), localDate(k.Due, loc)))
		}
	}
	if c.Status == store.StatusHold && !c.WakeAt.IsZero() {
		parts = append(parts, fmt.Sprintf(":alarm_clock: On hold until %s (in %s)", localDate(c.WakeAt, loc), span(c.WakeAt.Sub(now))))
	}
	if c.Status == store.StatusWaiting && !c.AutoCloseAt.IsZero() {
		parts = append(parts, fmt.Sprintf(":hourglass: Closes by itself %s if the customer does not answer", localDate(c.AutoCloseAt, loc)))
	}
	return strings.Join(parts, " · ")
}

// remindee is whom a reminder mentions: the owner (By), else the inbox's
// on-duty group ("" when there is none).
func (b *Bot) remindee(c *store.Conversation, j *store.SlackJob) string {
	if j.By != "" {
		return "<@" + j.By + "> "
	}
	if in := b.inboxOf(c); in != nil && in.OnDutyGroup != "" {
		return "<!subteam^" + in.OnDutyGroup + "> "
	}
	return ""
}

// reminderText is a reminder's line in the thread (JobReminder): at 80 %
// of the target how long is left, at the breach how long it is overdue
// (in working time, as of when it fired: a breach missed while inboxbot
// was down says how late it is).
func (b *Bot) reminderText(c *store.Conversation, j *store.SlackJob) string {
	loc := b.zone(c)
	who := fmt.Sprintf("%s#%d", b.remindee(c, j), c.Num)
	if j.By == "" {
		who += " is unassigned and"
	}
	if j.Event == store.TimerRemind {
		what := "a first reply"
		if j.Target == store.ClockNext {
			what = "a reply"
		}
		return fmt.Sprintf(":hourglass_flowing_sand: %s needs %s: due in %s (%s).", who, what, span(j.At.Sub(j.Created)), localDate(j.At, loc))
	}
	return fmt.Sprintf(":rotating_light: %s missed its %s: %s.", who, targetName(j.Target), overdue(b.between(c, j.At, j.Created), j.At, loc))
}

func targetName(kind string) string {
	if kind == store.ClockNext {
		return "reply target"
	}
	return "first-reply target"
}

func overdue(d time.Duration, due time.Time, loc *time.Location) string {
	if d < time.Minute {
		return "it was due " + localDate(due, loc)
	}
	return fmt.Sprintf("overdue %s (was due %s)", span(d), localDate(due, loc))
}

// dmText tells an owner, in a direct message, that a target of theirs was
// missed.
func (b *Bot) dmText(c *store.Conversation, j *store.SlackJob) string {
	where := fmt.Sprintf("#%d", c.Num)
	if link := b.permalink(c.Channel, c.RootTS); link != "" {
		where = fmt.Sprintf("<%s|#%d>", link, c.Num)
	}
	return fmt.Sprintf(":rotating_light: Your conversation %s (%s) in <#%s> missed its %s: %s.", where,
		escape(cut(cmp.Or(c.Subject, "no subject"), 100)), b.channelOf(c), targetName(j.Target), overdue(b.between(c, j.At, j.Created), j.At, b.zone(c)))
}

// runDM sends a JobDM. It is sent at most once: finding out whether an
// interrupted one reached Slack would mean reading the direct messages
// (im:history, a scope inboxbot does not ask for), and the reminder in the
// thread, exactly once, is the one that counts. A user Slack will not
// message (deactivated, say) does not hold up the conversation's queue.
func (b *Bot) runDM(ctx context.Context, j *store.SlackJob) error {
	log := b.log.With("conv", j.Conv, "user", j.By)
	if j.Attempting {
		log.Warn("direct message about a missed target interrupted; not sent again")
		return b.st.FinishSlackJob(j.Seq)
	}
	conv, err := b.st.Conv(j.Conv)
	if err != nil {
		return err
	}
	_, err = b.postPart(ctx, j, j.By, "", post{top: true, text: b.dmText(conv, j)})
	var ny *notYet
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &ny):
		return err
	case errors.As(err, &se):
		log.Warn("direct message about a missed target refused", "err", err)
	case err != nil:
		return err
	}
	return b.st.FinishSlackJob(j.Seq)
}

// timerActivity is the thread line of a change a timer made, or of a hold
// with a wake time; ok is false for other changes.
func timerActivity(c *store.Conversation, ch *store.Change) (string, bool) {
	switch {
	case ch.Action == store.ActWake && ch.Target != "":
		return fmt.Sprintf(":alarm_clock: <@%s> #%d is back from hold: it is open again.", ch.Target, c.Num), true
	case ch.Action == store.ActWake:
		return fmt.Sprintf(":alarm_clock: #%d is back from hold: it is open again, and unassigned.", c.Num), true
	case ch.Action == store.ActHold && ch.Target != "":
		wake, err := time.Parse(time.RFC3339, ch.Target)
		if err != nil {
			return "", false
		}
		return fmt.Sprintf(":double_vertical_bar: <@%s> put #%d on hold until %s", ch.By, c.Num, localDate(wake, wake.Location())), true
	case ch.Action == store.ActClose && ch.By == "" && strings.HasPrefix(ch.Target, store.AutoCloseTarget):
		waited, _ := time.ParseDuration(strings.TrimPrefix(ch.Target, store.AutoCloseTarget))
		return fmt.Sprintf(":white_check_mark: #%d closed by itself: no answer from the customer for %s. Nothing was sent to them.", c.Num, span(waited)), true
	}
	return "", false
}

// until reads "until TIME" after a command that takes it (hold) for
// conversation c, in its inbox's time zone: the time as the store takes it
// (RFC 3339), or the answer to give when it cannot be read.
func (b *Bot) until(c *store.Conversation, word string, rest []string) (string, string) {
	if !strings.EqualFold(rest[0], "until") || len(rest) < 2 {
		return "", usageOf(word)
	}
	phrase := strings.Join(rest[1:], " ")
	t, err := when.Parse(phrase, b.cfg.Now(), b.zone(c))
	if err != nil {
		return "", fmt.Sprintf("%s. %s", escape(err.Error()), usageOf(word))
	}
	return t.Format(time.RFC3339), ""
}
