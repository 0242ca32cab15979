package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// /inbox stats answers members privately with the figures of their
// inboxes, computed from what the store logged; others learn nothing.
func TestStatsCommand(t *testing.T) { eachTransport(t, testStatsCommand) }

func testStatsCommand(t *testing.T, h *harness) {
	h.inbox().FirstResponse = 4 * time.Hour
	h.start()
	root := h.conversation("Printer")
	h.conversation("Scanner")
	_, e := h.slack.UserPost(inboxChannel, bob, root.TS, "We'll look into it.")
	h.ack(e)
	h.waitMails(1)
	h.poll("the reply recorded as sent", func() bool { return !h.conv(1).FirstReply.IsZero() })
	if got := h.slash(alice, "close 1"); !strings.Contains(got, "closed #1") {
		t.Fatalf("close: %q", got)
	}

	for _, cmd := range []string{"stats", "stats 7d", "stats 30d", "stats WEEK", "stats month"} {
		got := h.slash(alice, cmd)
		for _, want := range []string{
			"*Acme Support* · ", "```\n",
			"Received      2 conversations, 2 mails\n",
			"Closed        1\n",
			"First reply   median 0m · p90 0m (1)\n",
			"Resolution    median 0m · p90 0m (1)\n",
			"First target  4h: 1 met, 0 breached (100%)\n",
			"Waiting now   0 past target\n",
			"Bob Builder                1       0\n",
			"Alice Agent                0       1\n",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("/inbox %s lacks %q:\n%s", cmd, want, got)
			}
		}
	}
	if got := h.slash(alice, "stats week"); !strings.Contains(got, "· this week (") {
		t.Errorf("/inbox stats week: %s", got)
	}
	// Typed anywhere else: every inbox the person is a member of.
	if got := h.slashIn(bob, "CELSEWHERE", "stats"); !strings.Contains(got, "Received      2 conversations") {
		t.Errorf("/inbox stats elsewhere: %s", got)
	}
	for _, cmd := range []string{"stats fortnight", "stats 7d 30d"} {
		if got := h.slash(alice, cmd); !strings.Contains(got, "Unknown period. Usage: `/inbox stats [7d|30d|week|month]`") {
			t.Errorf("/inbox %s: %q", cmd, got)
		}
	}
	if got := h.slash(alice, "help"); !strings.Contains(got, "`/inbox stats [7d|30d|week|month]`") {
		t.Errorf("help lacks stats: %q", got)
	}
	for _, ch := range []string{inboxChannel, "CELSEWHERE"} {
		if got := h.slashIn(mallory, ch, "stats"); !strings.Contains(got, "Only members") || strings.Contains(got, "Received") {
			t.Errorf("non-member /inbox stats in %s: %q", ch, got)
		}
	}
}

// clock is a clock a test moves: it runs with real time from where the
// test set it.
type clock struct {
	mu    sync.Mutex
	base  time.Time
	since time.Time
}

func newClock(at time.Time) *clock { return &clock{base: at, since: time.Now()} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Since(c.since))
}

func (c *clock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.since = at, time.Now()
}

// digests are the weekly digests posted in the inbox channel.
func (h *harness) digests() []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.roots() {
		if strings.HasPrefix(m.Text, ":bar_chart:") {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) waitDigests(n int) []slackfake.Message {
	h.t.Helper()
	if err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool { return len(h.digests()) >= n }); err != nil {
		h.t.Fatalf("%d digests, want %d: %v", len(h.digests()), n, err)
	}
	return h.digests()
}

// The weekly digest is posted once a week at its time, in the inbox's
// zone: late, once, after a restart past the time; never twice. Over
// Socket Mode only: the fake signs HTTP deliveries with its clock, which
// this test moves days away from the real one that signatures are
// checked against.
func TestWeeklyDigest(t *testing.T) {
	h := newHarness(t)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	in := h.inbox()
	in.Digest, in.FirstResponse = "mon 09:00", 4*time.Hour
	in.Hours = BusinessHours{Zone: "Europe/Berlin", Days: "mon-fri", Hours: "09:00-17:00"}
	clk := newClock(time.Date(2026, 12, 7, 8, 0, 0, 0, berlin)) // Monday, before the digest
	h.slack.Clock = clk.now
	h.slackTune.ClockRecheck = 20 * time.Millisecond
	h.tune = func(m *Main) { m.Now = clk.now }
	h.start()
	// The first start only marks the latest digest time: no digest of a
	// week from before it was configured.
	h.poll("the digest time marked", func() bool {
		last, _ := h.m.st.LastDigest(h.inboxID())
		return last.Equal(time.Date(2026, 11, 30, 9, 0, 0, 0, berlin))
	})
	root := h.conversation("Printer")
	_, e := h.slack.UserPost(inboxChannel, bob, root.TS, "On it.")
	h.ack(e)
	h.waitMails(1)
	h.slash(alice, "close 1")
	if n := len(h.digests()); n != 0 {
		t.Fatalf("%d digests before the time", n)
	}

	// Down across the digest time: the digest comes late, once.
	h.stop()
	clk.set(time.Date(2026, 12, 7, 10, 0, 0, 0, berlin))
	h.start()
	d := h.waitDigests(1)[0]
	for _, want := range []string{
		":bar_chart: *Acme Support* · weekly digest (Mon 30 Nov 09:00 – Mon 7 Dec 09:00, Europe/Berlin)",
		"Received      1 conversations, 1 mails\n", "Closed        1\n", "Bob Builder", "Alice Agent",
		"Mails by hour (Europe/Berlin)\n08 ",
	} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, d.Text)
		}
	}
	if d.ThreadTS != "" && d.ThreadTS != d.TS {
		t.Errorf("digest posted in a thread")
	}
	h.conversation("Scanner") // this week's: never answered

	// A restart after it is posted posts nothing again; the next week's
	// comes at its time while running. Had the restart posted the first
	// week again, that post would come before the second week's.
	h.restart()
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	clk.set(time.Date(2026, 12, 14, 9, 0, 30, 0, berlin))
	ds := h.waitDigests(2)
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	if ds = h.digests(); len(ds) != 2 {
		t.Fatalf("%d digests, want 2", len(ds))
	}
	for _, want := range []string{"weekly digest (Mon 7 Dec 09:00 – Mon 14 Dec 09:00, Europe/Berlin)",
		"Received      1 conversations, 1 mails\n", "Closed        0\n", "Waiting now   1 past target\n"} {
		if !strings.Contains(ds[1].Text, want) {
			t.Errorf("second digest lacks %q:\n%s", want, ds[1].Text)
		}
	}
	if strings.Contains(ds[1].Text, "Bob Builder") {
		t.Errorf("last week's reply in this week's digest:\n%s", ds[1].Text)
	}
}
