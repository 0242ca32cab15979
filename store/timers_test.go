package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// clock is a test's store clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// openTimers opens a store at t0 whose inbox has targets t.
func openTimers(t *testing.T, path string, clk *clock, tg Targets) *Store {
	t.Helper()
	s, err := Open(path, Options{Now: clk.Now, NoSync: true, Targets: func(inbox string) Targets {
		if inbox != testInbox {
			return Targets{}
		}
		return tg
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	return s
}

func timers(t *testing.T, s *Store) []string {
	t.Helper()
	ts, err := s.Timers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tm := range ts {
		out = append(out, fmt.Sprintf("%d %s %s", tm.Conv, tm.Kind, tm.At.UTC().Format("Jan 2 15:04")))
	}
	return out
}

func fire(t *testing.T, s *Store) []string {
	t.Helper()
	fired, _, err := s.FireTimers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fired {
		out = append(out, fmt.Sprintf("%d %s→%s", f.Conv, f.Kind, f.Did))
	}
	return out
}

// jobsOf lists the queued Slack jobs of kinds, as "kind event by".
func jobsOf(t *testing.T, s *Store, kinds ...string) []string {
	t.Helper()
	jobs, err := s.SlackJobs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range jobs {
		for _, k := range kinds {
			if j.Kind == k {
				out = append(out, fmt.Sprintf("%d %s %s %s %s", j.Conv, j.Kind, j.Event, j.Target, j.By))
			}
		}
	}
	return out
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
	}
}

func reply(t *testing.T, s *Store, conv uint64, ts string) *MailJob {
	t.Helper()
	j, err := s.EnqueueReply(Reply{EventID: "Ev" + ts, Conv: conv, Channel: "CIN", SlackTS: ts, AgentID: "UA", AgentName: "Alice",
		Text: "On it", MessageID: "ib." + ts + "@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestResponseClock(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{First: 2 * time.Hour, Next: time.Hour, AutoClose: 72 * time.Hour})
	record(t, s, 1, mail("a@x", "Printer on fire"))
	c, _ := s.Conv(1)
	if k := c.Clock; k.Kind != ClockFirst || !k.Start.Equal(t0) || !k.Remind.Equal(t0.Add(96*time.Minute)) || !k.Due.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("clock %+v", k)
	}
	eq(t, "timers", timers(t, s), []string{"1 remind Dec 1 11:36"})

	clk.Set(t0.Add(time.Hour))
	if f, next, _ := s.FireTimers(); len(f) != 0 || !next.Equal(t0.Add(96*time.Minute)) {
		t.Fatalf("before the reminder: fired %v, next %v", f, next)
	}
	s.CardDone(Card{Conv: 1, Version: mustVersion(t, s, 1)})
	clk.Set(t0.Add(96 * time.Minute))
	eq(t, "fired at 80 %", fire(t, s), []string{"1 remind→remind"})
	eq(t, "fired again", fire(t, s), nil) // exactly once
	eq(t, "reminder", jobsOf(t, s, JobReminder, JobDM), []string{"1 reminder remind first "})
	eq(t, "timers", timers(t, s), []string{"1 breach Dec 1 12:00"})
	if mustVersion(t, s, 1) == 0 {
		t.Error("the card is not marked: it shows how long is left")
	}

	// Assigned now: the breach reminds the owner, in the thread and in a DM.
	if _, err := s.Act(1, ActClaim, "UA", "", ""); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(2*time.Hour + time.Minute))
	eq(t, "fired at the target", fire(t, s), []string{"1 breach→breach"})
	eq(t, "reminders", jobsOf(t, s, JobReminder, JobDM), []string{"1 reminder remind first ", "1 reminder breach first UA", "1 dm breach first UA"})
	eq(t, "timers after the breach", timers(t, s), nil)
	c, _ = s.Conv(1)
	if c.TargetsBreached != 1 || c.Clock.Level != LevelBreached || c.History[len(c.History)-1].Action != ActBreach {
		t.Fatalf("after the breach: %+v", c)
	}

	// A reply stops the clock (a breached target is not counted twice).
	clk.Set(t0.Add(3 * time.Hour))
	j := reply(t, s, 1, "1700000000.000100")
	c, _ = s.Conv(1)
	if c.Clock.Running() || c.TargetsBreached != 1 || c.TargetsMet != 0 || !c.FirstReplyAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("after the reply: %+v", c)
	}
	// Sent: the conversation waits on the customer, and would close.
	if err := s.MailDone(j.Seq, ""); err != nil {
		t.Fatal(err)
	}
	eq(t, "timers while waiting", timers(t, s), []string{"1 auto_close Dec 4 13:00"})

	// The customer answers: the next-response clock starts, the wait ends.
	clk.Set(t0.Add(4 * time.Hour))
	record(t, s, 2, mail("b@x", "Re: Printer on fire", "ib.1700000000.000100@acme.test"))
	c, _ = s.Conv(1)
	if c.Status != StatusOpen || c.Clock.Kind != ClockNext || !c.WaitingSince.IsZero() {
		t.Fatalf("after the answer: %+v", c)
	}
	eq(t, "timers", timers(t, s), []string{"1 remind Dec 1 14:48"})
	clk.Set(t0.Add(4*time.Hour + 30*time.Minute))
	reply(t, s, 1, "1700000000.000200")
	c, _ = s.Conv(1)
	if c.TargetsMet != 1 || c.TargetsBreached != 1 || !c.FirstReplyAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("a reply in time: %+v", c)
	}
	eq(t, "timers", timers(t, s), nil)
}

func mustVersion(t *testing.T, s *Store, num uint64) uint64 {
	t.Helper()
	v, err := s.CardVersion(num)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestClockStopsAndDoesNotStart(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{First: time.Hour})
	record(t, s, 1, mail("a@x", "one"))
	record(t, s, 2, mail("b@x", "two"))
	auto := mail("c@x", "Out of office")
	auto.Auto = true
	record(t, s, 3, auto) // an automated mail waits for nobody
	eq(t, "timers", timers(t, s), []string{"1 remind Dec 1 10:48", "2 remind Dec 1 10:48"})
	s.Act(1, ActClose, "UA", "", "")
	s.Act(2, ActHold, "UA", "", "")
	eq(t, "timers after close and hold", timers(t, s), nil)
	if c, _ := s.Conv(2); c.Clock.Running() || c.TargetsMet+c.TargetsBreached != 0 {
		t.Errorf("a hold counts as an answer: %+v", c)
	}
	// An agent's reopen is no customer waiting.
	s.Act(1, ActReopen, "UA", "", "")
	eq(t, "timers after reopen", timers(t, s), nil)
	// Another inbox without targets: no clock.
	s.SetWatermark("other@acme.test", "INBOX", Watermark{UIDValidity: 1})
	s.RecordInbound("other@acme.test", "INBOX", 1, []Inbound{{UID: 1, Mail: mail("d@x", "elsewhere")}})
	eq(t, "timers", timers(t, s), nil)
}

// When inboxbot was down past several levels of a clock, only the latest
// is sent, once, late.
func TestMissedLevelsCollapse(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{First: 2 * time.Hour})
	record(t, s, 1, mail("a@x", "one"))
	clk.Set(t0.Add(26 * time.Hour))
	eq(t, "fired", fire(t, s), []string{"1 remind→breach"})
	eq(t, "jobs", jobsOf(t, s, JobReminder, JobDM), []string{"1 reminder breach first "})
	eq(t, "fired again", fire(t, s), nil)
	if c, _ := s.Conv(1); c.TargetsBreached != 1 {
		t.Errorf("breaches %d", c.TargetsBreached)
	}
}

// Every state a crash can leave (each committed transaction) is
// consistent: a conversation's reminder is queued exactly when its clock
// records it as sent, which is exactly when its entry moved on. Snapshots
// are taken while many timers fire.
func TestTimerFiringIsAtomic(t *testing.T) {
	clk := &clock{t: t0}
	dir := t.TempDir()
	s := openTimers(t, filepath.Join(dir, "t.db"), clk, Targets{First: time.Hour})
	const n = 40
	for i := 1; i <= n; i++ {
		record(t, s, uint32(i), mail(fmt.Sprintf("m%d@x", i), "help"))
	}
	clk.Set(t0.Add(50 * time.Minute)) // past every 80 % reminder, before the targets
	done := make(chan error, 1)
	go func() { _, _, err := s.FireTimers(); done <- err }()
	var snaps []string
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("snap%d.db", i))
		if err := s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(p, 0o600) }); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, p)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			goto check
		default:
		}
	}
check:
	t.Logf("%d snapshots", len(snaps))
	for _, p := range snaps {
		snap, err := Open(p, Options{Now: clk.Now, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		reminded := map[uint64]int{}
		jobs, _ := snap.SlackJobs()
		for _, j := range jobs {
			if j.Kind == JobReminder {
				reminded[j.Conv]++
			}
		}
		entries := map[uint64]string{}
		ts, _ := snap.Timers()
		for _, tm := range ts {
			entries[tm.Conv] = tm.Kind
		}
		for i := uint64(1); i <= n; i++ {
			c, _ := snap.Conv(i)
			want := map[int]string{LevelNone: TimerRemind, LevelReminded: TimerBreach}[c.Clock.Level]
			if reminded[i] != c.Clock.Level || entries[i] != want {
				t.Fatalf("%s: conversation %d at level %d has %d reminders queued and entry %q", p, i, c.Clock.Level, reminded[i], entries[i])
			}
		}
		snap.Close()
	}
	if c, _ := s.Conv(n); c.Clock.Level != LevelReminded {
		t.Fatalf("not all fired: %+v", c.Clock)
	}
}

func TestSnooze(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{})
	record(t, s, 1, mail("a@x", "one"))
	record(t, s, 2, mail("b@x", "two"))
	wake := t0.Add(24 * time.Hour).Format(time.RFC3339)
	if _, err := s.Act(1, ActHold, "UA", t0.Add(-time.Hour).Format(time.RFC3339), ""); err == nil {
		t.Error("a hold until the past was taken")
	}
	s.Act(1, ActClaim, "UA", "", "")
	if _, err := s.Act(1, ActHold, "UA", wake, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Act(2, ActHold, "UB", wake, ""); err != nil {
		t.Fatal(err)
	}
	// A new time for a hold that is on.
	later := t0.Add(48 * time.Hour).Format(time.RFC3339)
	if _, err := s.Act(2, ActHold, "UB", later, ""); err != nil {
		t.Fatalf("a new wake time: %v", err)
	}
	if _, err := s.Act(2, ActHold, "UB", later, ""); err == nil {
		t.Error("the same wake time again is a change")
	}
	eq(t, "timers", timers(t, s), []string{"1 wake Dec 2 10:00", "2 wake Dec 3 10:00"})
	// A customer mail reopens 2 before its time, and drops its timer.
	record(t, s, 3, mail("c@x", "Re: two", "b@x"))
	eq(t, "timers", timers(t, s), []string{"1 wake Dec 2 10:00"})
	if c, _ := s.Conv(2); c.Status != StatusOpen || !c.WakeAt.IsZero() {
		t.Fatalf("after the customer's mail: %+v", c)
	}
	clk.Set(t0.Add(25 * time.Hour))
	eq(t, "fired", fire(t, s), []string{"1 wake→wake"})
	c, _ := s.Conv(1)
	last := c.History[len(c.History)-1]
	if c.Status != StatusOpen || last.Action != ActWake || last.Target != "UA" {
		t.Fatalf("after the wake: %s %+v", c.Status, last)
	}
	if e := lastEvent(t, s, 1); e.Kind != EvReopened || e.By != "" || e.Target != string(StatusHold) {
		t.Errorf("the wake logged %+v", e)
	}
	jobs, _ := s.SlackJobs()
	if j := jobs[len(jobs)-1]; j.Kind != JobActivity || j.Change.Action != ActWake {
		t.Errorf("no line for the wake: %+v", j)
	}
	eq(t, "timers", timers(t, s), nil)
}

func TestAutoClose(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{AutoClose: 72 * time.Hour})
	for i := uint64(1); i <= 2; i++ {
		record(t, s, uint32(i), mail(fmt.Sprintf("m%d@x", i), "help"))
		j := reply(t, s, i, fmt.Sprintf("1700000000.00010%d", i))
		if err := s.MailDone(j.Seq, ""); err != nil {
			t.Fatal(err)
		}
	}
	// The customer of 2 answers: it is not closed.
	record(t, s, 3, mail("a2@x", "Re: help", "ib.1700000000.000102@acme.test"))
	clk.Set(t0.Add(72 * time.Hour))
	eq(t, "fired", fire(t, s), []string{"1 auto_close→auto_close"})
	c, _ := s.Conv(1)
	last := c.History[len(c.History)-1]
	if c.Status != StatusClosed || last.Action != ActClose || last.By != "" || last.Target != "auto:72h0m0s" {
		t.Fatalf("after auto-close: %s %+v", c.Status, last)
	}
	// The event log has the close, as it has an agent's.
	if e := lastEvent(t, s, 1); e.Kind != EvClosed || e.By != "" || e.Target != string(StatusWaiting) || !e.Since.Equal(c.Created.Truncate(time.Second)) {
		t.Errorf("auto-close logged %+v", e)
	}
	if c, _ := s.Conv(2); c.Status != StatusOpen {
		t.Errorf("the answered conversation: %s", c.Status)
	}
	if jobs, _ := s.MailJobs(); len(jobs) != 0 {
		t.Errorf("auto-close queued mail: %+v", jobs)
	}
}

// Targets changed while inboxbot was down apply to the clocks running.
func TestReplanAtOpen(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "t.db")
	s := openTimers(t, path, clk, Targets{First: 2 * time.Hour, AutoClose: time.Hour})
	record(t, s, 1, mail("a@x", "one"))
	record(t, s, 2, mail("b@x", "two"))
	j := reply(t, s, 2, "1700000000.000100")
	s.MailDone(j.Seq, "")
	eq(t, "timers", timers(t, s), []string{"2 auto_close Dec 1 11:00", "1 remind Dec 1 11:36"})
	s.Close()

	s = openTimers(t, path, clk, Targets{First: time.Hour, AutoClose: 3 * time.Hour})
	eq(t, "timers after a change", timers(t, s), []string{"1 remind Dec 1 10:48", "2 auto_close Dec 1 13:00"})
	if c, _ := s.Conv(1); !c.Clock.Due.Equal(t0.Add(time.Hour)) {
		t.Errorf("due %v", c.Clock.Due)
	}
	s.Close()

	s = openTimers(t, path, clk, Targets{})
	eq(t, "timers with targets off", timers(t, s), nil)
	if c, _ := s.Conv(1); c.Clock.Running() {
		t.Errorf("clock runs without a target: %+v", c.Clock)
	}
	s.Close()

	// A store opened without targets (a tool) changes nothing.
	s2, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

// A wall-time-free calendar: working time counts only on weekdays.
func TestClockInWorkingTime(t *testing.T) {
	weekdays := func(t time.Time, d time.Duration) time.Time {
		for {
			if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
				y, m, dd := t.Date()
				t = time.Date(y, m, dd+1, 0, 0, 0, 0, t.Location())
				continue
			}
			y, m, dd := t.Date()
			end := time.Date(y, m, dd+1, 0, 0, 0, 0, t.Location())
			if left := end.Sub(t); d < left {
				return t.Add(d)
			} else {
				d -= left
				t = end
			}
		}
	}
	fri := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	clk := &clock{t: fri}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{First: 4 * time.Hour, Add: weekdays})
	record(t, s, 1, mail("a@x", "one"))
	c, _ := s.Conv(1)
	if want := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC); !c.Clock.Due.Equal(want) {
		t.Fatalf("due %v, want %v", c.Clock.Due, want)
	}
	clk.Set(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)) // Sunday
	eq(t, "fired on Sunday", fire(t, s), nil)
}

// A merged conversation's waiting customer is waited for in the one it is
// merged into: the earlier clock wins.
func TestMergeKeepsTheEarlierClock(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{First: 2 * time.Hour})
	record(t, s, 1, mail("a@x", "one"))
	clk.Set(t0.Add(30 * time.Minute))
	record(t, s, 2, mail("b@x", "two"))
	s.Act(2, ActHold, "UA", "", "")
	if _, _, err := s.Merge(2, 1, "UA"); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Conv(2)
	if c.Status != StatusOpen || !c.Clock.Start.Equal(t0) || !c.Awaiting.Equal(t0) {
		t.Fatalf("after the merge: %s, clock %+v, awaiting %v", c.Status, c.Clock, c.Awaiting)
	}
	eq(t, "timers", timers(t, s), []string{"2 remind Dec 1 11:36"})
	// Opened again by the merge: logged like any reopen.
	if e := lastEvent(t, s, 2); e.Kind != EvReopened || e.By != "UA" || e.Target != string(StatusHold) {
		t.Errorf("the merge logged %+v", e)
	}
	if m, _ := s.Conv(1); !m.Awaiting.IsZero() {
		t.Errorf("the merged conversation still awaits an answer since %v", m.Awaiting)
	}
}

// A blocked sender's mail in a conversation is shown, but nobody is
// reminded to answer it.
func TestBlockedSenderStartsNoClock(t *testing.T) {
	clk := &clock{t: t0}
	s := openTimers(t, filepath.Join(t.TempDir(), "t.db"), clk, Targets{First: time.Hour, Next: time.Hour})
	record(t, s, 1, mail("a@x", "one"))
	reply(t, s, 1, "1700000000.000100")
	if err := s.Block("carl@example.com", "UA", 1, ""); err != nil {
		t.Fatal(err)
	}
	if r := record(t, s, 2, mail("b@x", "Re: one", "a@x")); r.Conv != 1 {
		t.Fatalf("not shown in its conversation: %+v", r)
	}
	eq(t, "timers", timers(t, s), nil)
}
