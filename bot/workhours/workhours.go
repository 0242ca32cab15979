// Package workhours is a team's working calendar: the time zone, the
// weekdays and the hours of a working day, and holidays. Response targets
// count only working time: a mail that comes on Friday evening with a
// 4-hour target is due on Monday morning.
package workhours

import (
	"fmt"
	"strings"
	"time"
)

// Calendar is a team's working time. The zero value (or Always) counts
// every minute.
type Calendar struct {
	loc      *time.Location
	days     [7]bool // by time.Weekday
	from, to int     // minutes after midnight; from < to
	holidays map[string]bool
	always   bool
}

// Always is the calendar of a team that counts every minute.
func Always() *Calendar { return &Calendar{always: true, loc: time.UTC} }

// New builds a calendar: zone is an IANA name ("Europe/Berlin"), days a
// list like "mon-fri" or "mon,tue,thu", hours "09:00-17:30", holidays
// dates "2026-12-25".
func New(zone, days, hours string, holidays []string) (*Calendar, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", zone, err)
	}
	c := &Calendar{loc: loc, holidays: map[string]bool{}}
	if err := c.parseDays(days); err != nil {
		return nil, err
	}
	if c.from, c.to, err = parseHours(hours); err != nil {
		return nil, err
	}
	for _, h := range holidays {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(h), loc)
		if err != nil {
			return nil, fmt.Errorf("holiday %q: want YYYY-MM-DD", h)
		}
		c.holidays[d.Format(time.DateOnly)] = true
	}
	return c, nil
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func dayIndex(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, d := range dayNames {
		if strings.HasPrefix(s, d) && len(s) >= 3 {
			return i, true
		}
	}
	return 0, false
}

func (c *Calendar) parseDays(spec string) error {
	for part := range strings.SplitSeq(spec, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := dayIndex(lo)
		if !ok {
			return fmt.Errorf("days %q: %q is not a weekday (mon, tue, …)", spec, lo)
		}
		b := a
		if isRange {
			if b, ok = dayIndex(hi); !ok {
				return fmt.Errorf("days %q: %q is not a weekday (mon, tue, …)", spec, hi)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			c.days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

func parseHours(spec string) (from, to int, err error) {
	lo, hi, ok := strings.Cut(spec, "-")
	clock := func(s string) (int, error) {
		if strings.TrimSpace(s) == "24:00" {
			return 24 * 60, nil
		}
		t, err := time.Parse("15:04", strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("hours %q: want HH:MM-HH:MM", spec)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if !ok {
		return 0, 0, fmt.Errorf("hours %q: want HH:MM-HH:MM", spec)
	}
	if from, err = clock(lo); err != nil {
		return
	}
	if to, err = clock(hi); err != nil {
		return
	}
	if from >= to {
		return 0, 0, fmt.Errorf("hours %q: the day must end after it starts", spec)
	}
	return from, to, nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location {
	if c == nil || c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// workday reports whether the day of t (in the calendar's zone) is worked.
func (c *Calendar) workday(t time.Time) bool {
	return c.days[t.Weekday()] && !c.holidays[t.Format(time.DateOnly)]
}

// window returns the working interval of the day of t (zero times if none).
func (c *Calendar) window(t time.Time) (start, end time.Time) {
	if !c.workday(t) {
		return time.Time{}, time.Time{}
	}
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, c.loc)
	return midnight.Add(time.Duration(c.from) * time.Minute), midnight.Add(time.Duration(c.to) * time.Minute)
}

func nextDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// Between is the working time from a to b (0 when b is not after a).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c == nil || c.always {
		return b.Sub(a)
	}
	a, b = a.In(c.loc), b.In(c.loc)
	var total time.Duration
	for day := a; day.Before(b); day = nextDay(day) {
		start, end := c.window(day)
		if start.IsZero() {
			continue
		}
		lo, hi := maxTime(start, a), minTime(end, b)
		if hi.After(lo) {
			total += hi.Sub(lo)
		}
	}
	return total
}

// Add is the instant when d of working time has passed from t.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if c == nil || c.always {
		return t.Add(d)
	}
	t = t.In(c.loc)
	for i := 0; i < 3660; i++ { // ten years of days at most: a calendar with no working day never ends
		start, end := c.window(t)
		if !start.IsZero() && t.Before(end) {
			from := maxTime(start, t)
			if left := end.Sub(from); d <= left {
				return from.Add(d)
			} else {
				d -= left
			}
		}
		t = nextDay(t)
	}
	return time.Time{}
}

// Working reports whether t is within working time.
func (c *Calendar) Working(t time.Time) bool {
	if c == nil || c.always {
		return true
	}
	t = t.In(c.loc)
	start, end := c.window(t)
	return !start.IsZero() && !t.Before(start) && t.Before(end)
}

// NextStart is the start of the first working period at or after t.
func (c *Calendar) NextStart(t time.Time) time.Time {
	if c == nil || c.always || c.Working(t) {
		return t
	}
	return c.Add(t, 0)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Weekly is a time of the week (a weekly digest's): a weekday and a time
// of day, in a calendar's zone.
type Weekly struct {
	Day time.Weekday
	At  time.Duration // after midnight
}

// ParseWeekly reads "mon 09:00" (or "Monday 9:00").
func ParseWeekly(v string) (Weekly, error) {
	day, clock, ok := strings.Cut(strings.TrimSpace(v), " ")
	bad := fmt.Errorf("must be a weekday and a time, e.g. mon 09:00, got %q", v)
	if !ok {
		return Weekly{}, bad
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(day, d.String()[:3]) || strings.EqualFold(day, d.String()) {
			t, err := time.Parse("15:04", strings.TrimSpace(clock))
			if err != nil {
				return Weekly{}, bad
			}
			return Weekly{Day: d, At: time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute}, nil
		}
	}
	return Weekly{}, bad
}

// Last is the latest time of the week w at or before t, in loc.
func (w Weekly) Last(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	back := (int(t.Weekday()) - int(w.Day) + 7) % 7
	// Built from the date, not by subtracting hours: a day with a clock
	// change is not 24 hours long.
	at := w.on(y, m, d-back, loc)
	if at.After(t) {
		at = w.on(y, m, d-back-7, loc)
	}
	return at
}

// Next is the first time of the week w after t, in loc.
func (w Weekly) Next(t time.Time, loc *time.Location) time.Time {
	last := w.Last(t, loc).In(loc)
	y, m, d := last.Date()
	return w.on(y, m, d+7, loc)
}

func (w Weekly) on(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, int(w.At/time.Hour), int(w.At%time.Hour/time.Minute), 0, 0, loc)
}
