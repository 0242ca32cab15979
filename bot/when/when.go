// Package when reads the times people type after "until" in Slack: "3d",
// "2h", "tomorrow 9:00", "monday", "fri 14:30", "next week", "2026-12-24",
// "17:00", "9am". Times are read in a time zone (the team's), and a day
// without a time means the start of the working day (DayStart).
package when

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DayStart is the time of day a date without a time stands for.
const DayStart = 9 * time.Hour

var (
	reDuration = regexp.MustCompile(`^(\d+)\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|wk|weeks?)$`)
	reClock    = regexp.MustCompile(`^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$`)
)

// Parse reads phrase as a moment after now, in loc. It fails on anything it
// does not understand rather than guessing.
func Parse(phrase string, now time.Time, loc *time.Location) (time.Time, error) {
	p := strings.ToLower(strings.Join(strings.Fields(phrase), " "))
	now = now.In(loc)
	if p == "" {
		return time.Time{}, fmt.Errorf("say when, e.g. 3d, tomorrow 9:00, monday")
	}
	if d, ok := duration(p); ok {
		return now.Add(d), nil
	}
	day, clock, hasClock := splitClock(p)
	var date time.Time
	switch {
	case day == "" && hasClock:
		t := atClock(now, clock)
		if !t.After(now) {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	case day == "today":
		date = now
	case day == "tomorrow":
		date = now.AddDate(0, 0, 1)
	case day == "next week":
		date = now.AddDate(0, 0, 1)
		for date.Weekday() != time.Monday {
			date = date.AddDate(0, 0, 1)
		}
	default:
		if wd, ok := weekday(day); ok {
			date = now.AddDate(0, 0, 1)
			for date.Weekday() != wd {
				date = date.AddDate(0, 0, 1)
			}
			break
		}
		d, err := time.ParseInLocation(time.DateOnly, day, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("I can't read %q as a time: try 3d, 2h, tomorrow 9:00, monday, next week, 2026-12-24 or 17:00", phrase)
		}
		date = d
	}
	if !hasClock {
		clock = DayStart
	}
	t := atClock(date, clock)
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the past", t.Format("Mon 2 Jan 15:04"))
	}
	return t, nil
}

func duration(p string) (time.Duration, bool) {
	m := reDuration.FindStringSubmatch(p)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 3650 {
		return 0, false
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[m[2][0]]
	return time.Duration(n) * unit, true
}

// splitClock separates a trailing time of day ("9:00", "9am", "14:30")
// from the day part.
func splitClock(p string) (day string, clock time.Duration, ok bool) {
	fields := strings.Fields(p)
	for n := min(2, len(fields)); n >= 1; n-- {
		tail := strings.Join(fields[len(fields)-n:], "")
		if c, ok := readClock(tail); ok {
			return strings.TrimSuffix(strings.Join(fields[:len(fields)-n], " "), " at"), c, true
		}
	}
	return p, 0, false
}

func readClock(s string) (time.Duration, bool) {
	m := reClock.FindStringSubmatch(s)
	if m == nil || (m[2] == "" && m[3] == "") { // a bare number is not a time
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mins := 0
	if m[2] != "" {
		mins, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" && (h < 1 || h > 12) {
		return 0, false // 13pm
	}
	switch m[3] {
	case "am":
		if h == 12 {
			h = 0
		}
	case "pm":
		if h < 12 {
			h += 12
		}
	}
	if h > 23 || mins > 59 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(mins)*time.Minute, true
}

func weekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || (len(s) >= 3 && strings.HasPrefix(name, s)) {
			return d, true
		}
	}
	return 0, false
}

func atClock(day time.Time, clock time.Duration) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, day.Location()).Add(clock)
}
