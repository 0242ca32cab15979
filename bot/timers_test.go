package bot

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/workhours"
	"github.com/inboxbot/inboxbot/store"
)

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:                  "less than a minute",
		-time.Minute:                      "less than a minute",
		25*time.Minute + 59*time.Second:   "25 min",
		2 * time.Hour:                     "2 h",
		3*time.Hour + 20*time.Minute:      "3 h 20 min",
		66 * time.Hour:                    "2 d 18 h",
		72 * time.Hour:                    "3 d",
		72*time.Hour + 50*time.Minute:     "3 d",
		24*time.Hour*400 + 5*time.Hour:    "400 d 5 h",
		23*time.Hour + 59*time.Minute + 1: "23 h 59 min",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}

// timerBot is a bot with one inbox working Monday to Friday, 9 to 17 in
// Berlin, at now.
func timerBot(t *testing.T, now time.Time, group string) *Bot {
	t.Helper()
	cal, err := workhours.New("Europe/Berlin", "mon-fri", "09:00-17:00", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := Inbox{ID: "support@acme.test", Address: "support@acme.test", Channel: "CIN", Calendar: cal,
		FirstResponse: 2 * time.Hour, NextResponse: time.Hour, OnDutyGroup: group, AutoCloseAfter: 72 * time.Hour}
	return New(Config{Inboxes: []Inbox{in}, Now: func() time.Time { return now }}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestTimerLine(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	mon10 := time.Date(2026, 12, 7, 10, 0, 0, 0, berlin)
	c := &store.Conversation{Num: 3, Inbox: "support@acme.test", Status: store.StatusOpen,
		Clock: store.Clock{Kind: store.ClockFirst, Start: mon10.Add(-66 * time.Hour), Remind: mon10.Add(-24 * time.Minute), Due: mon10}}
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{mon10.Add(-66 * time.Hour), ":stopwatch: First reply due in 2 d 18 h (<!date^"},
		{mon10.Add(-25 * time.Minute), "First reply due in 25 min"},
		{mon10, ":rotating_light: First reply overdue (was due <!date^"},
		{mon10.Add(10 * time.Minute), "First reply overdue 10 min (was due"},
		{mon10.Add(7*time.Hour + 10*time.Minute), "First reply overdue 7 h (was due"}, // 17:10: working time ends at 17:00
	} {
		b := timerBot(t, tc.now, "")
		if got := b.timerLine(c, tc.now); !strings.Contains(got, tc.want) || !strings.Contains(got, "|Mon 7 Dec 10:00 CET>") {
			t.Errorf("at %v: %q, want %q", tc.now, got, tc.want)
		}
	}
	b := timerBot(t, mon10, "")
	next := *c
	next.Clock.Kind = store.ClockNext
	if got := b.timerLine(&next, mon10.Add(-time.Hour)); !strings.HasPrefix(got, ":stopwatch: Reply due in 1 h") {
		t.Errorf("next response: %q", got)
	}
	// A target turned off is not shown, though a clock ran.
	b.byID["support@acme.test"].FirstResponse = 0
	if got := b.timerLine(c, mon10); got != "" {
		t.Errorf("target off: %q", got)
	}
	hold := &store.Conversation{Num: 4, Inbox: "support@acme.test", Status: store.StatusHold, WakeAt: mon10}
	if got := b.timerLine(hold, mon10.Add(-49*time.Hour)); !strings.Contains(got, ":alarm_clock: On hold until <!date^") || !strings.Contains(got, "(in 2 d 1 h)") {
		t.Errorf("hold: %q", got)
	}
	wait := &store.Conversation{Num: 5, Inbox: "support@acme.test", Status: store.StatusWaiting, AutoCloseAt: mon10}
	if got := b.timerLine(wait, mon10.Add(-time.Hour)); !strings.Contains(got, "Closes by itself <!date^") {
		t.Errorf("waiting: %q", got)
	}
	if got := b.timerLine(&store.Conversation{Num: 6, Inbox: "gone@acme.test", Clock: c.Clock}, mon10); got != "" {
		t.Errorf("an inbox no longer configured: %q", got)
	}
}

func TestCardShowsTimers(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 35, 0, 0, time.UTC)
	b := timerBot(t, now, "")
	c := &store.Conversation{Num: 3, Inbox: "support@acme.test", Status: store.StatusOpen, Subject: "Help",
		Clock: store.Clock{Kind: store.ClockFirst, Start: now, Remind: now, Due: now.Add(25 * time.Minute)}}
	blocks := b.card(c)
	if len(blocks) != len(cardBlocks(c, nil, ""))+1 {
		t.Fatalf("%d blocks", len(blocks))
	}
	if got := blockText(blocks[2]); !strings.Contains(got, "First reply due in 25 min") {
		t.Errorf("the timer line is not right below the status: %q", got)
	}
	c.Clock = store.Clock{}
	if len(b.card(c)) != len(cardBlocks(c, nil, "")) {
		t.Error("a line without timers")
	}
}

func blockText(bl slack.Block) string {
	data, _ := json.Marshal(bl)
	return string(data)
}

func TestReminderText(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := time.Date(2026, 12, 7, 10, 0, 0, 0, berlin)
	c := &store.Conversation{Num: 12, Inbox: "support@acme.test", Channel: "CIN", RootTS: "1.2",
		Subject: "<!channel> *urgent* <@U999>"}
	remind := &store.SlackJob{Kind: store.JobReminder, Event: store.TimerRemind, Target: store.ClockFirst, At: due, Created: due.Add(-24 * time.Minute)}
	breach := &store.SlackJob{Kind: store.JobReminder, Event: store.TimerBreach, Target: store.ClockNext, At: due, Created: due.Add(10 * time.Minute)}
	for _, tc := range []struct {
		group, by string
		j         *store.SlackJob
		want      string
	}{
		{"SDUTY", "", remind, ":hourglass_flowing_sand: <!subteam^SDUTY> #12 is unassigned and needs a first reply: due in 24 min (<!date^"},
		{"", "", remind, ":hourglass_flowing_sand: #12 is unassigned and needs a first reply: due in 24 min"},
		{"SDUTY", "UALICE", remind, ":hourglass_flowing_sand: <@UALICE> #12 needs a first reply: due in 24 min"},
		{"SDUTY", "UALICE", breach, ":rotating_light: <@UALICE> #12 missed its reply target: overdue 10 min (was due <!date^"},
		{"SDUTY", "", breach, ":rotating_light: <!subteam^SDUTY> #12 is unassigned and missed its reply target: overdue 10 min"},
	} {
		b := timerBot(t, due, tc.group)
		j := *tc.j
		j.By = tc.by
		if got := b.reminderText(c, &j); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s by %q, group %q:\n got %q\nwant %q…", j.Event, tc.by, tc.group, got, tc.want)
		}
	}
	// Breach missed over a weekend: overdue in working time.
	b := timerBot(t, due, "")
	fri := time.Date(2026, 12, 4, 16, 50, 0, 0, berlin)
	late := store.SlackJob{Kind: store.JobReminder, Event: store.TimerBreach, Target: store.ClockFirst, At: fri, Created: due}
	if got := b.reminderText(c, &late); !strings.Contains(got, "overdue 1 h 10 min") {
		t.Errorf("over a weekend: %q", got)
	}
	// The DM names the subject, escaped: a mail never pings anyone.
	breach.By = "UALICE"
	dm := b.dmText(c, breach)
	if strings.Contains(dm, "<!channel>") || strings.Contains(dm, "<@U999>") || !strings.Contains(dm, "&lt;!channel&gt;") {
		t.Errorf("DM: %q", dm)
	}
}

func TestTimerActivity(t *testing.T) {
	c := &store.Conversation{Num: 7}
	for _, tc := range []struct {
		ch   store.Change
		want string
	}{
		{store.Change{Action: store.ActWake, Target: "UALICE"}, ":alarm_clock: <@UALICE> #7 is back from hold: it is open again."},
		{store.Change{Action: store.ActWake}, ":alarm_clock: #7 is back from hold: it is open again, and unassigned."},
		{store.Change{Action: store.ActHold, By: "UBOB", Target: "2026-12-07T09:00:00+01:00"},
			":double_vertical_bar: <@UBOB> put #7 on hold until <!date^1796630400^{date_short_pretty} {time}|Mon 7 Dec 09:00 +0100>"},
		{store.Change{Action: store.ActClose, Target: "auto:72h0m0s"},
			":white_check_mark: #7 closed by itself: no answer from the customer for 3 d. Nothing was sent to them."},
		{store.Change{Action: store.ActHold, By: "UBOB"}, ":double_vertical_bar: <@UBOB> put #7 on hold"},
		{store.Change{Action: store.ActClose, By: "UBOB"}, ":white_check_mark: <@UBOB> closed #7"},
	} {
		if got := activityText(c, &tc.ch); got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.ch, got, tc.want)
		}
	}
}
