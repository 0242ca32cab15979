package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Timers: what happens to a conversation because time passed rather than
// because of an event. A response clock reminds at 80 % of its target and
// again at the target (the breach); a snooze ends; a conversation waiting
// too long on the customer is closed.
//
// The timer queue (bucket timers) is derived from the conversations, like
// the indexes: putConv writes each conversation's entries (timerRules) in
// the transaction of every change, so an entry exists exactly while the
// state that makes it due does, and is gone with the change that stops it.
// FireTimers fires a due entry in one transaction that changes the
// conversation (which removes the entry) and queues what the firing says
// in Slack: a crash either leaves the entry to fire again, with nothing
// queued, or fired and queued; never a reminder twice, never none.
//
// Due instants are worked out when a clock starts, from the inbox's
// Targets (Options.Targets: the targets and the working calendar), and
// stored with the clock: a restart needs no configuration to know what is
// due, and the card shows it. Open works them out again from each running
// clock's start when targets are given, so a configuration changed while
// inboxbot was down applies to the clocks already running.

// Timer kinds.
const (
	TimerRemind    = "remind"     // a response clock's 80 % reminder
	TimerBreach    = "breach"     // a response clock's target
	TimerWake      = "wake"       // the end of a snooze (hold until)
	TimerAutoClose = "auto_close" // a conversation waited on the customer for AutoClose
)

// Response clock kinds.
const (
	ClockFirst = "first" // the first answer to a conversation
	ClockNext  = "next"  // the answer to a later customer mail
)

// History entries and Slack jobs of timers.
const (
	// ActWake is a snooze ending: the conversation is open again. Target
	// is its owner at that time ("" nobody).
	ActWake = "woke"
	// ActBreach records a missed response target (Target: ClockFirst or
	// ClockNext); it is not posted as an activity line (JobReminder is).
	ActBreach = "breached"
	// AutoCloseTarget starts the Target of the ActClose entry of an
	// automatic close, followed by how long the conversation waited
	// ("auto:72h0m0s"); By is empty.
	AutoCloseTarget = "auto:"

	// JobReminder is a reminder line in the thread: Event TimerRemind or
	// TimerBreach, Target the clock kind, At when the target is (was)
	// due, By the owner when it fired ("" : nobody; the line then
	// mentions the inbox's on-duty group).
	JobReminder = "reminder"
	// JobDM tells the owner (By) in a direct message that the target of
	// their conversation was missed; fields as JobReminder's.
	JobDM = "dm"
)

// remindPercent of a target passes before the first reminder.
const remindPercent = 80

// Clock is a running response clock: a customer waits for an answer since
// Start. It stops when a reply is released to the outbox, or when the
// conversation is put on hold or closed.
type Clock struct {
	Kind   string    `json:"kind"`   // ClockFirst or ClockNext
	Start  time.Time `json:"start"`  // the customer mail that started it
	Remind time.Time `json:"remind"` // remindPercent of the target has passed (working time)
	Due    time.Time `json:"due"`    // the target has passed (working time)
	Level  int       `json:"level,omitempty"`
}

// Clock levels: the reminders sent so far.
const (
	LevelNone     = 0
	LevelReminded = 1 // the 80 % reminder
	LevelBreached = 2 // the breach reminder
)

// Running reports whether the clock runs.
func (k Clock) Running() bool { return !k.Due.IsZero() }

// same reports whether two clocks are the same (time.Time values of the
// same instant may differ in their location).
func (k Clock) same(o Clock) bool {
	return k.Kind == o.Kind && k.Level == o.Level && k.Start.Equal(o.Start) && k.Remind.Equal(o.Remind) && k.Due.Equal(o.Due)
}

// Targets are what an inbox's response targets and auto-close are, as the
// store applies them (Options.Targets).
type Targets struct {
	First, Next time.Duration // response targets in working time (0: none)
	// Add is the instant d of working time after t (the inbox's
	// calendar); nil counts every hour. A zero result means never.
	Add func(t time.Time, d time.Duration) time.Time
	// AutoClose closes a conversation that waited this long (wall time)
	// on the customer; 0 never.
	AutoClose time.Duration
}

func (s *Store) targetsOf(inbox string) Targets {
	if s.targets == nil {
		return Targets{}
	}
	return s.targets(inbox)
}

// plan works out a clock of kind started at start (not running when its
// target is off).
func (t Targets) plan(kind string, start time.Time) Clock {
	d := t.First
	if kind == ClockNext {
		d = t.Next
	}
	if d <= 0 {
		return Clock{}
	}
	add := t.Add
	if add == nil {
		add = time.Time.Add
	}
	due := add(start, d)
	if due.IsZero() {
		return Clock{}
	}
	return Clock{Kind: kind, Start: start, Remind: add(start, d*remindPercent/100), Due: due}
}

// startClock starts the response clock of c at now, unless one runs: a
// customer wrote and needs an answer. After a first answer (or in a
// conversation we began) it is the next-response clock.
func (s *Store) startClock(c *Conversation, now time.Time) {
	if c.Clock.Running() || c.Status != StatusOpen {
		return
	}
	kind := ClockFirst
	if c.Outbound || !c.FirstReplyAt.IsZero() {
		kind = ClockNext
	}
	c.Clock = s.targetsOf(c.Inbox).plan(kind, now)
}

// replied records that a reply to c was released to the outbox at now: it
// stops the response clock, counting the target met or breached.
func replied(c *Conversation, now time.Time) {
	if c.FirstReplyAt.IsZero() {
		c.FirstReplyAt = now
	}
	k := c.Clock
	if !k.Running() {
		return
	}
	c.Clock = Clock{}
	switch {
	case k.Level == LevelBreached:
		// counted when the breach fired
	case now.After(k.Due):
		// Late, though the breach had not fired (the reply came in the
		// same instant, or inboxbot was down).
		c.TargetsBreached++
		c.History = append(c.History, Change{At: now, Action: ActBreach, Target: k.Kind})
	default:
		c.TargetsMet++
	}
}

// armAutoClose starts the auto-close wait of c, now waiting on the
// customer since now; not while a customer mail is unanswered.
func (s *Store) armAutoClose(c *Conversation, now time.Time) {
	if c.Status != StatusWaiting || c.Clock.Running() {
		return
	}
	c.WaitingSince = now
	c.AutoCloseAt = time.Time{}
	if d := s.targetsOf(c.Inbox).AutoClose; d > 0 {
		c.AutoCloseAt = now.Add(d)
	}
}

// settleTimers keeps a conversation's timer fields in step with its
// status: a snooze lasts as long as the hold, an auto-close wait as long
// as the wait on the customer, and putting a conversation on hold or
// closing it stops its response clock.
func settleTimers(c *Conversation) {
	if c.Status != StatusHold {
		c.WakeAt = time.Time{}
	}
	if c.Status != StatusWaiting {
		c.WaitingSince, c.AutoCloseAt = time.Time{}, time.Time{}
	}
	if c.Status == StatusHold || c.Status == StatusClosed {
		c.Clock = Clock{}
	}
}

// timerRules derive a conversation's timer entries from its state (zero:
// none of that kind).
var timerRules = []struct {
	kind string
	at   func(c *Conversation) time.Time
}{
	{TimerRemind, func(c *Conversation) time.Time {
		if c.Clock.Running() && c.Clock.Level == LevelNone {
			return c.Clock.Remind
		}
		return time.Time{}
	}},
	{TimerBreach, func(c *Conversation) time.Time {
		if c.Clock.Running() && c.Clock.Level == LevelReminded {
			return c.Clock.Due
		}
		return time.Time{}
	}},
	{TimerWake, func(c *Conversation) time.Time {
		if c.Status == StatusHold {
			return c.WakeAt
		}
		return time.Time{}
	}},
	{TimerAutoClose, func(c *Conversation) time.Time {
		if c.Status == StatusWaiting {
			return c.AutoCloseAt
		}
		return time.Time{}
	}},
}

func timerAt(kind string, c *Conversation) time.Time {
	for _, r := range timerRules {
		if r.kind == kind {
			return r.at(c)
		}
	}
	return time.Time{}
}

// timerKey orders entries by due time: <unix ns u64><conv u64><kind>.
func timerKey(at time.Time, conv uint64, kind string) []byte {
	return append(append(nanoKey(at), u64(conv)...), kind...)
}

func parseTimerKey(k []byte) (at time.Time, conv uint64, kind string) {
	if len(k) < 16 {
		return time.Time{}, 0, ""
	}
	return time.Unix(0, int64(getU64(k[:8]))), getU64(k[8:16]), string(k[16:])
}

// syncTimers brings the timer entries of conversation c in step with its
// state (old is the state it replaces, nil for a new conversation) and
// marks its card when what the card shows of them changed.
func syncTimers(tx *bolt.Tx, old, c *Conversation) error {
	b := tx.Bucket(bTimers)
	for _, r := range timerRules {
		var was, now [][]byte
		if old != nil {
			if at := r.at(old); !at.IsZero() {
				was = [][]byte{timerKey(at, old.Num, r.kind)}
			}
		}
		if at := r.at(c); !at.IsZero() {
			now = [][]byte{timerKey(at, c.Num, r.kind)}
		}
		if err := moveKeys(b, was, now); err != nil {
			return err
		}
	}
	if old != nil && (!old.Clock.same(c.Clock) || !old.WakeAt.Equal(c.WakeAt) || !old.AutoCloseAt.Equal(c.AutoCloseAt)) {
		return markCard(tx, c.Num)
	}
	return nil
}

// Timer is an entry of the timer queue.
type Timer struct {
	At   time.Time
	Conv uint64
	Kind string
}

// Timers returns the timer queue, soonest first (for tests and tools).
func (s *Store) Timers() ([]Timer, error) {
	var out []Timer
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bTimers).ForEach(func(k, _ []byte) error {
			at, conv, kind := parseTimerKey(k)
			out = append(out, Timer{At: at, Conv: conv, Kind: kind})
			return nil
		})
	})
	return out, err
}

// NextTimer is when the soonest timer is due (zero: none).
func (s *Store) NextTimer() (time.Time, error) {
	var at time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bTimers).Cursor().First(); k != nil {
			at, _, _ = parseTimerKey(k)
		}
		return nil
	})
	return at, err
}

// Fired is a timer that fired.
type Fired struct {
	Timer
	// What it did: the kind of reminder sent (TimerBreach for a
	// reminder whose target had passed too), or "" when it found
	// nothing to do.
	Did string
}

// maxFire bounds the timers one FireTimers call fires, so a backlog does
// not hold the caller for long.
const maxFire = 256

// FireTimers fires the timers due by the store's clock, soonest first,
// each in a transaction of its own with everything it causes, and returns
// them and when the next one is due (zero: none). A reminder whose target
// passed too (inboxbot was down) is sent as the breach alone: missed
// levels are not sent late one by one.
func (s *Store) FireTimers() ([]Fired, time.Time, error) {
	var out []Fired
	for range maxFire {
		next, err := s.NextTimer()
		if err != nil || next.IsZero() || next.After(s.now()) {
			s.kickFired(out)
			return out, next, err
		}
		var f *Fired
		err = s.db.Update(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bTimers).Cursor().First()
			if k == nil {
				return nil
			}
			t := Timer{}
			t.At, t.Conv, t.Kind = parseTimerKey(k)
			now := s.now()
			if t.At.After(now) {
				return nil
			}
			did, err := s.fire(tx, k, t, now)
			f = &Fired{Timer: t, Did: did}
			return err
		})
		if err != nil {
			s.kickFired(out)
			return out, time.Time{}, err
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	s.kickFired(out)
	return out, s.now(), nil // more are due: come back at once
}

func (s *Store) kickFired(fired []Fired) {
	for _, f := range fired {
		if f.Did != "" {
			kick(s.slackKick)
			return
		}
	}
}

// fire carries out timer t (key k) at now, in tx.
func (s *Store) fire(tx *bolt.Tx, k []byte, t Timer, now time.Time) (string, error) {
	b := tx.Bucket(bTimers)
	old, err := getConv(tx, t.Conv)
	if errors.Is(err, ErrNotFound) || (err == nil && !timerAt(t.Kind, old).Equal(t.At)) {
		// Not derived from any state (a kind this version does not
		// know, or a conversation gone): nothing to do.
		return "", b.Delete(k)
	}
	if err != nil {
		return "", err
	}
	c := old.mutable()
	did := t.Kind
	var jobs []SlackJob
	job := func(kind string) SlackJob {
		return SlackJob{Kind: kind, Conv: c.Num, Event: did, Target: c.Clock.Kind, At: c.Clock.Due, By: c.Assignee, Created: now}
	}
	switch t.Kind {
	case TimerRemind, TimerBreach:
		if t.Kind == TimerRemind && now.Before(c.Clock.Due) {
			c.Clock.Level = LevelReminded
			jobs = append(jobs, job(JobReminder))
			break
		}
		did = TimerBreach
		c.Clock.Level = LevelBreached
		c.TargetsBreached++
		c.History = append(c.History, Change{At: now, Action: ActBreach, Target: c.Clock.Kind})
		jobs = append(jobs, job(JobReminder))
		if c.Assignee != "" {
			jobs = append(jobs, job(JobDM))
		}
	case TimerWake:
		c.Status = StatusOpen
		if err := logAct(tx, old, c, ActReopen, "", now); err != nil {
			return "", err
		}
		if err := recordChange(tx, c, Change{At: now, Action: ActWake, Target: c.Assignee}); err != nil {
			return "", err
		}
	case TimerAutoClose:
		if c.Clock.Running() {
			// The customer wrote meanwhile and waits for us: no close.
			c.AutoCloseAt = time.Time{}
			did = ""
			break
		}
		waited := c.AutoCloseAt.Sub(c.WaitingSince)
		c.Status, c.ClosedAt = StatusClosed, now
		if err := logAct(tx, old, c, ActClose, "", now); err != nil {
			return "", err
		}
		if err := recordChange(tx, c, Change{At: now, Action: ActClose, Target: AutoCloseTarget + waited.String()}); err != nil {
			return "", err
		}
	}
	if err := putConv(tx, old, c, true); err != nil {
		return "", err
	}
	if b.Get(k) != nil {
		// A firing that leaves its own entry would fire again at once,
		// for ever: refuse it rather than repeat its lines.
		return "", fmt.Errorf("timer %s of conversation %d fired but is still due", t.Kind, t.Conv)
	}
	for i := range jobs {
		if err := enqueue(tx.Bucket(bToSlack), &jobs[i]); err != nil {
			return "", err
		}
	}
	return did, nil
}

// replan works the due instants of running clocks and auto-close waits out
// again with the targets configured now (they may have changed while
// inboxbot was down); a clock whose target is now off stops, uncounted.
func (s *Store) replan() error {
	if s.targets == nil {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		var nums []uint64
		seen := map[uint64]bool{}
		c := tx.Bucket(bTimers).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			_, conv, kind := parseTimerKey(k)
			if kind != TimerWake && !seen[conv] {
				seen[conv] = true
				nums = append(nums, conv)
			}
		}
		for _, num := range nums {
			old, err := getConv(tx, num)
			if errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			c := *old
			t := s.targetsOf(c.Inbox)
			if k := c.Clock; k.Running() {
				if c.Clock = t.plan(k.Kind, k.Start); c.Clock.Running() {
					c.Clock.Level = k.Level
				}
			}
			if !c.WaitingSince.IsZero() {
				c.AutoCloseAt = time.Time{}
				if t.AutoClose > 0 {
					c.AutoCloseAt = c.WaitingSince.Add(t.AutoClose)
				}
			}
			if c.Clock.same(old.Clock) && c.AutoCloseAt.Equal(old.AutoCloseAt) {
				continue
			}
			if err := putConv(tx, old, &c, false); err != nil {
				return err
			}
		}
		return nil
	})
}
