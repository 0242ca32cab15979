package store

import (
	"context"
	"log/slog"
	"time"
)

// Drive runs a queue until ctx is done: drain handles every due job and
// returns when the next one falls due (zero: none waiting); Drive then
// sleeps until that time, or until kick says a commit queued new work.
// A failing drain (the store, not a job) is logged and tried again soon.
func Drive(ctx context.Context, kick <-chan struct{}, log *slog.Logger, drain func(context.Context) (time.Time, error)) {
	DriveOn(ctx, time.Now, kick, log, drain)
}

// DriveOn is Drive on the clock now: the times drain returns are now's,
// and sleeps are worked out from it. A clock that jumps (a test's) must
// kick the loop, which then drains again at once.
func DriveOn(ctx context.Context, now func() time.Time, kick <-chan struct{}, log *slog.Logger, drain func(context.Context) (time.Time, error)) {
	for {
		next, err := drain(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("queue", "err", err)
			next = now().Add(5 * time.Second)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(now()), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// Soonest keeps the earliest of the times it is given (the zero time:
// none): a drain's answer to when its next job falls due.
type Soonest struct{ t time.Time }

// At offers t; the zero time is ignored.
func (s *Soonest) At(t time.Time) {
	if !t.IsZero() && (s.t.IsZero() || t.Before(s.t)) {
		s.t = t
	}
}

// Time is the earliest time offered (zero: none).
func (s *Soonest) Time() time.Time { return s.t }

// queueSlice is how many jobs one read transaction of a queue decodes at
// most: a long queue is read in slices, never whole.
const queueSlice = 64

// MailJobsEach calls f with each outbox job, oldest first, reading the
// queue a slice at a time; f returning false stops.
func (s *Store) MailJobsEach(f func(j *MailJob) bool) error {
	var seq uint64
	for {
		jobs, err := s.MailJobsAfter(seq, queueSlice)
		if err != nil || len(jobs) == 0 {
			return err
		}
		for i := range jobs {
			seq = jobs[i].Seq
			if !f(&jobs[i]) {
				return nil
			}
		}
	}
}
