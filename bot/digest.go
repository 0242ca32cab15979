package bot

import (
	"context"
	"time"

	"github.com/inboxbot/inboxbot/bot/workhours"
	"github.com/inboxbot/inboxbot/store"
)

// The weekly digest: each inbox with a Digest time ("mon 09:00", in its
// calendar's zone) gets the stats of the week before that time posted in
// its channel, once a week. The store queues each week's post with the
// week's mark in one transaction, so a restart never posts a week twice,
// and one after the time posts it late, once. A week missed entirely (the
// bot was down across two digest times) is not made up: only the latest
// is posted.

type digestPlan struct {
	in   *Inbox
	when workhours.Weekly
}

// digests runs the weekly digests until ctx is done.
func (b *Bot) digests(ctx context.Context) {
	var plans []digestPlan
	for i := range b.cfg.Inboxes {
		in := &b.cfg.Inboxes[i]
		if in.Digest == "" {
			continue
		}
		w, err := workhours.ParseWeekly(in.Digest)
		if err != nil {
			b.log.Error("weekly digest off", "inbox", in.ID, "err", err)
			continue
		}
		plans = append(plans, digestPlan{in, w})
	}
	if len(plans) == 0 {
		return
	}
	// No kick: the only news is the clock, looked at every ClockRecheck
	// besides the next digest time (a changed wall clock or a test's
	// clock is not followed by a timer).
	store.DriveOn(ctx, b.cfg.Now, nil, b.log, func(ctx context.Context) (time.Time, error) {
		now := b.cfg.Now()
		next := now.Add(b.cfg.ClockRecheck)
		for _, p := range plans {
			if err := b.digest(ctx, p, now); err != nil && ctx.Err() == nil {
				b.log.Warn("weekly digest", "inbox", p.in.ID, "err", err)
			}
			if t := p.when.Next(now, p.in.Calendar.Location()); t.Before(next) {
				next = t
			}
		}
		return next, nil
	})
}

// digest queues p's inbox's digest of the latest digest time, unless it
// was queued already. The first time an inbox has a digest time, the
// latest one is only marked: the first digest comes at the next.
func (b *Bot) digest(ctx context.Context, p digestPlan, now time.Time) error {
	loc := p.in.Calendar.Location()
	slot := p.when.Last(now, loc)
	last, err := b.st.LastDigest(p.in.ID)
	if err != nil || !last.Before(slot) {
		return err
	}
	if last.IsZero() {
		_, err := b.st.QueueDigest(p.in.ID, slot, "")
		return err
	}
	r := newReport(p.in, p.when.Last(slot.Add(-time.Second), loc), slot, "weekly digest")
	text, err := b.statsText(ctx, []*report{r}, now)
	if err != nil {
		return err
	}
	queued, err := b.st.QueueDigest(p.in.ID, slot, ":bar_chart: "+text)
	if queued {
		b.log.Info("weekly digest queued", "inbox", p.in.ID, "week_to", slot, "late", now.Sub(slot).Round(time.Second))
	}
	return err
}

// runDigest posts a digest at the top of its inbox's channel, exactly once.
func (b *Bot) runDigest(ctx context.Context, j *store.SlackJob) error {
	in := b.byID[j.Inbox]
	if in == nil {
		b.log.Warn("digest dropped: its inbox is not configured any more", "inbox", j.Inbox)
		return b.st.FinishSlackJob(j.Seq)
	}
	if err := b.postTop(ctx, j, in.Channel); err != nil {
		return err
	}
	b.log.Info("weekly digest posted", "inbox", j.Inbox)
	return b.st.FinishSlackJob(j.Seq)
}
