package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// testClock is Main's clock in a test: it moves only when the test moves it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// useClock makes Main run on a clock starting at start (call before start).
// The fake Slack keeps the wall clock: its request signatures must be
// fresh for the bot's HTTP mode.
func (h *harness) useClock(start time.Time) *testClock {
	c := &testClock{t: start}
	prev := h.tune
	h.tune = func(m *Main) {
		if prev != nil {
			prev(m)
		}
		m.Now = c.Now
	}
	return c
}

// setClock moves the clock and wakes the timer loop, as the passing of
// time would.
func (h *harness) setClock(c *testClock, t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
	if h.m != nil {
		h.m.st.KickTimers()
	}
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// nextFriday is 16:00 in Berlin on the first Friday after tomorrow: times
// of a test stay ahead of the wall clock (nothing treats them as long past).
func nextFriday() time.Time {
	d := time.Now().In(berlin).AddDate(0, 0, 2)
	for d.Weekday() != time.Friday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 16, 0, 0, 0, berlin)
}

// at is a time on the day offset days after fri, in Berlin.
func at(fri time.Time, days int, clock string) time.Time {
	t, err := time.Parse("15:04", clock)
	if err != nil {
		panic(err)
	}
	return time.Date(fri.Year(), fri.Month(), fri.Day()+days, t.Hour(), t.Minute(), 0, 0, berlin)
}

// workingWeek gives the harness's inbox business hours (Berlin, Monday to
// Friday, 9 to 17), a 2-hour first-response and a 1-hour next-response
// target, and an on-duty group.
func (h *harness) workingWeek() {
	in := h.inbox()
	in.Hours = BusinessHours{Zone: "Europe/Berlin", Days: "mon-fri", Hours: "09:00-17:00"}
	in.FirstResponse, in.NextResponse, in.OnDutyGroup = 2*time.Hour, time.Hour, "SONDUTY"
}

// waitCardWithout waits until the root message shows none of gone.
func (h *harness) waitCardWithout(root string, gone ...string) {
	h.t.Helper()
	err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		m, ok := s.Message(inboxChannel, root)
		if !ok {
			return false
		}
		for _, g := range gone {
			if strings.Contains(text(m), g) {
				return false
			}
		}
		return true
	})
	if err != nil {
		m, _ := h.slack.Message(inboxChannel, root)
		h.t.Fatalf("card still shows one of %q:\n%s", gone, text(m))
	}
}

// lines are the bot's thread lines under root that contain s.
func (h *harness) lines(root, s string) []string {
	var out []string
	for _, m := range h.thread(root) {
		if m.BotID != "" && strings.Contains(m.Text, s) {
			out = append(out, m.Text)
		}
	}
	return out
}

// dms are the bot's direct messages to user.
func (h *harness) dms(user string) []string {
	var out []string
	for _, m := range h.slack.Messages("D" + user) {
		out = append(out, m.Text)
	}
	return out
}

// quiet waits until the bot has nothing left to post or refresh, and no
// timer is due: what it will say, it has said.
func (h *harness) quiet(clk *testClock) {
	h.t.Helper()
	h.poll("the bot to be done", func() bool {
		jobs, _ := h.m.st.SlackJobs()
		cards, _ := h.m.st.CardsAfter(0, 1)
		next, _ := h.m.st.NextTimer()
		return len(jobs) == 0 && len(cards) == 0 && (next.IsZero() || next.After(clk.Now()))
	})
}

// A mail on Friday afternoon with a 2-hour target in a Monday-to-Friday
// week is due on Monday morning: nothing is said over the weekend, the
// 80 % reminder comes on Monday and mentions the on-duty group (nobody
// owns it), the breach mentions the owner and tells them in a DM, the card
// follows, and a reply stops the clock.
func TestResponseTargetsAcrossWeekend(t *testing.T) {
	eachTransport(t, testResponseTargetsAcrossWeekend)
}

func testResponseTargetsAcrossWeekend(t *testing.T, h *harness) {
	fri := nextFriday()
	clk := h.useClock(fri)
	h.workingWeek()
	h.start()
	root := h.conversation("Printer on fire").TS
	h.waitCard(root, "First reply due in 2 d 18 h") // 1 h on Friday, 1 h on Monday: due Monday 10:00

	h.setClock(clk, at(fri, 1, "12:00")) // Saturday
	h.quiet(clk)
	h.setClock(clk, at(fri, 3, "09:35")) // Monday, a minute before 80 %
	h.quiet(clk)
	if got := h.lines(root, "needs a first reply"); len(got) != 0 {
		t.Fatalf("reminded before 80 %% of working time: %q", got)
	}

	h.setClock(clk, at(fri, 3, "09:36"))
	h.waitLine(root, "<!subteam^SONDUTY> #1 is unassigned and needs a first reply: due in 24 min")
	h.waitCard(root, "First reply due in 24 min")

	h.ack(h.slack.AddReaction(inboxChannel, root, alice, "eyes"))
	h.waitCard(root, "Assigned to <@UALICE>")
	h.setClock(clk, at(fri, 3, "10:00"))
	h.waitLine(root, "<@UALICE> #1 missed its first-reply target")
	h.waitCard(root, ":rotating_light: First reply overdue")
	h.poll("the DM to the owner", func() bool { return len(h.dms(alice)) == 1 })
	if dm := h.dms(alice)[0]; !strings.Contains(dm, "missed its first-reply target") || !strings.Contains(dm, "Printer on fire") {
		t.Errorf("DM: %q", dm)
	}

	h.setClock(clk, at(fri, 3, "10:20"))
	_, e := h.slack.UserPost(inboxChannel, alice, root, "Sorry for the wait: try turning it off.")
	h.ack(e)
	h.waitMails(1)
	h.waitCardWithout(root, "overdue", "due in")
	c := h.conv(1)
	if c.Clock.Running() || c.TargetsBreached != 1 || c.TargetsMet != 0 || !c.FirstReplyAt.Equal(at(fri, 3, "10:20")) {
		t.Errorf("after the reply: clock %+v, met %d, breached %d, first reply %v", c.Clock, c.TargetsMet, c.TargetsBreached, c.FirstReplyAt)
	}
	// Each reminder once.
	h.quiet(clk)
	if n, m := len(h.lines(root, "needs a first reply")), len(h.lines(root, "missed its")); n != 1 || m != 1 {
		t.Errorf("%d 80 %% reminders and %d breach lines", n, m)
	}
}

// Reminders missed while inboxbot was down are sent once, late: only the
// latest level (the breach, saying how late), not one per level missed.
// They survive restarts without being sent again.
func TestRemindersAfterRestart(t *testing.T) {
	h := newHarness(t)
	fri := nextFriday()
	clk := h.useClock(fri)
	h.workingWeek()
	h.start()
	root := h.conversation("Invoice missing").TS
	h.ack(h.slack.AddReaction(inboxChannel, root, alice, "eyes"))
	h.waitCard(root, "Assigned to <@UALICE>", "First reply due in")
	h.stop()

	h.setClock(clk, at(fri, 3, "10:10")) // past 80 % (09:36) and the target (10:00)
	h.start()
	h.waitLine(root, "<@UALICE> #1 missed its first-reply target: overdue 10 min")
	h.waitCard(root, "First reply overdue 10 min")
	h.quiet(clk)
	h.restart()
	h.quiet(clk)
	if n, m := len(h.lines(root, "needs a first reply")), len(h.lines(root, "missed its")); n != 0 || m != 1 {
		t.Errorf("%d 80 %% reminders, %d breach lines; want the breach alone, once", n, m)
	}
	if dms := h.dms(alice); len(dms) != 1 {
		t.Errorf("DMs: %q", dms)
	}

	// A target changed while inboxbot was down applies to running clocks.
	h.stop()
	h.deliver(customerMail{Subject: "Second", MessageID: "second@example.com", Body: "hello"}.raw())
	h.start()
	root2 := h.waitRoots(2)[1].TS
	h.waitCard(root2, "First reply due in 2 h") // Monday 10:10 + 2 h: 12:10
	h.stop()
	h.inbox().FirstResponse = 30 * time.Minute
	h.start()
	h.waitCard(root2, "First reply due in 30 min")
}

// /inbox hold N until TIME parks a conversation and brings it back at that
// time, mentioning its owner; a customer mail brings it back earlier and
// drops the timer. Only channel members may, and the time must read.
func TestSnooze(t *testing.T) { eachTransport(t, testSnooze) }

func testSnooze(t *testing.T, h *harness) {
	fri := nextFriday()
	clk := h.useClock(fri)
	h.inbox().Hours = BusinessHours{Zone: "Europe/Berlin", Days: "mon-fri", Hours: "09:00-17:00"}
	h.start()
	root1 := h.conversation("Refund").TS
	root2 := h.conversation("Delivery").TS
	h.slash(alice, "claim 1")

	if a := h.slash(mallory, "hold 1 until monday"); !strings.Contains(a, "Only members") {
		t.Errorf("a non-member: %q", a)
	}
	if a := h.slash(alice, "hold 1 until someday"); !strings.Contains(a, "can't read") || !strings.Contains(a, "hold N [until TIME]") {
		t.Errorf("unreadable time: %q", a)
	}
	if a := h.slash(alice, "hold 1 until"); !strings.Contains(a, "Usage: `/inbox hold N [until TIME]`") {
		t.Errorf("no time: %q", a)
	}
	if a := h.slash(alice, "hold 1 monday"); !strings.Contains(a, "Usage") {
		t.Errorf("no until: %q", a)
	}
	if c := h.conv(1); c.Status != store.StatusOpen {
		t.Fatalf("refused commands changed it: %s", c.Status)
	}
	if a := h.slash(alice, "hold 1 until monday"); !strings.Contains(a, "put #1 on hold until") || !strings.Contains(a, "Mon") {
		t.Errorf("answer: %q", a)
	}
	h.waitCard(root1, "On hold", "On hold until", "(in 2 d 17 h)") // Monday 09:00
	h.waitLine(root1, "<@UALICE> put #1 on hold until")
	if a := h.slash(bob, "hold 2 until tomorrow 9:00"); !strings.Contains(a, "put #2 on hold until") {
		t.Errorf("answer: %q", a)
	}
	h.waitCard(root2, "On hold until")

	// The customer of 2 writes: open at once, no wake-up on Saturday.
	h.deliver(customerMail{Subject: "Re: Delivery", MessageID: "d2@example.com", InReplyTo: "Delivery@example.com", Body: "Any news?"}.raw())
	h.waitLine(root2, "The customer replied: #2 is open again")
	h.waitCardWithout(root2, "On hold until")

	h.setClock(clk, at(fri, 1, "09:00"))
	h.quiet(clk)
	if c := h.conv(1); c.Status != store.StatusHold {
		t.Fatalf("woke early: %s", c.Status)
	}
	h.setClock(clk, at(fri, 3, "09:00"))
	h.waitLine(root1, "<@UALICE> #1 is back from hold: it is open again.")
	h.waitCard(root1, "Open")
	h.waitCardWithout(root1, "On hold until")
	h.quiet(clk)
	if got := h.lines(root2, "back from hold"); len(got) != 0 {
		t.Errorf("the conversation the customer reopened woke again: %q", got)
	}
}

// A conversation waiting on the customer for AUTO_CLOSE_AFTER is closed,
// with a line saying why, and nothing is mailed; one the customer answered
// is not.
func TestAutoClose(t *testing.T) {
	h := newHarness(t)
	start := nextFriday()
	clk := h.useClock(start)
	h.inbox().AutoCloseAfter = 72 * time.Hour // wall time, business hours or not
	h.inbox().Hours = BusinessHours{Zone: "Europe/Berlin", Days: "mon-fri", Hours: "09:00-17:00"}
	h.start()
	root1 := h.conversation("Password reset").TS
	root2 := h.conversation("Broken link").TS
	for i, root := range []string{root1, root2} {
		_, e := h.slack.UserPost(inboxChannel, alice, root, "Does this help?")
		h.ack(e)
		h.waitMails(i + 1)
		h.waitCard(root, "Waiting on customer", "Closes by itself")
	}
	h.deliver(customerMail{Subject: "Re: Broken link", MessageID: "b2@example.com", InReplyTo: "Broken-link@example.com", Body: "Still broken"}.raw())
	h.waitLine(root2, "The customer replied")
	h.waitCardWithout(root2, "Closes by itself")

	h.setClock(clk, start.Add(72*time.Hour-time.Minute))
	h.quiet(clk)
	if c := h.conv(1); c.Status != store.StatusWaiting {
		t.Fatalf("closed early: %s", c.Status)
	}
	h.setClock(clk, start.Add(72*time.Hour))
	h.waitLine(root1, "#1 closed by itself: no answer from the customer for 3 d. Nothing was sent to them.")
	h.waitCard(root1, "Closed")
	h.quiet(clk)
	if c := h.conv(2); c.Status != store.StatusOpen {
		t.Errorf("the answered conversation: %s", c.Status)
	}
	if n := len(h.smtp.Messages()); n != 2 {
		t.Errorf("%d mails sent; the two replies only", n)
	}
}
