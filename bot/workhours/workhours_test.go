package workhours

import (
	"testing"
	"time"
)

func berlin(t *testing.T) *Calendar {
	t.Helper()
	c, err := New("Europe/Berlin", "mon-fri", "09:00-17:00", []string{"2026-12-25"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t *testing.T, c *Calendar, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, c.Location())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAdd(t *testing.T) {
	c := berlin(t)
	for _, tc := range []struct {
		from string
		d    time.Duration
		want string
	}{
		{"2026-12-01 10:00", 2 * time.Hour, "2026-12-01 12:00"},     // Tuesday, within the day
		{"2026-12-01 16:00", 2 * time.Hour, "2026-12-02 10:00"},     // over the evening
		{"2026-12-01 07:00", time.Hour, "2026-12-01 10:00"},         // before the day starts
		{"2026-12-04 16:30", 4 * time.Hour, "2026-12-07 12:30"},     // Friday evening → Monday
		{"2026-12-05 12:00", time.Hour, "2026-12-07 10:00"},         // Saturday
		{"2026-12-24 16:00", 2 * time.Hour, "2026-12-28 10:00"},     // Christmas Eve, holiday, weekend
		{"2026-12-01 10:00", 0, "2026-12-01 10:00"},                 // nothing to add
		{"2026-12-01 20:00", 0, "2026-12-02 09:00"},                 // nothing to add, outside hours: next start
		{"2026-12-01 09:00", 5 * 8 * time.Hour, "2026-12-07 17:00"}, // a working week
		{"2026-03-27 16:00", 2 * time.Hour, "2026-03-30 10:00"},     // over the spring DST change
	} {
		if got := c.Add(at(t, c, tc.from), tc.d); !got.Equal(at(t, c, tc.want)) {
			t.Errorf("Add(%s, %v) = %s, want %s", tc.from, tc.d, got.Format("2006-01-02 15:04 Mon"), tc.want)
		}
	}
}

func TestBetween(t *testing.T) {
	c := berlin(t)
	for _, tc := range []struct {
		a, b string
		want time.Duration
	}{
		{"2026-12-01 10:00", "2026-12-01 12:00", 2 * time.Hour},
		{"2026-12-04 16:30", "2026-12-07 12:30", 4 * time.Hour},
		{"2026-12-05 10:00", "2026-12-06 18:00", 0}, // a weekend
		{"2026-12-01 12:00", "2026-12-01 10:00", 0}, // backwards
		{"2026-12-24 08:00", "2026-12-28 09:30", 8*time.Hour + 30*time.Minute},
	} {
		if got := c.Between(at(t, c, tc.a), at(t, c, tc.b)); got != tc.want {
			t.Errorf("Between(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	// Add and Between agree.
	from := at(t, c, "2026-12-03 15:10")
	for _, d := range []time.Duration{time.Minute, 3 * time.Hour, 17 * time.Hour, 50 * time.Hour} {
		if got := c.Between(from, c.Add(from, d)); got != d {
			t.Errorf("Between(from, Add(from, %v)) = %v", d, got)
		}
	}
}

func TestAlwaysAndErrors(t *testing.T) {
	a := Always()
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	if got := a.Add(now, time.Hour); !got.Equal(now.Add(time.Hour)) || a.Between(now, got) != time.Hour || !a.Working(now) {
		t.Error("Always does not count every minute")
	}
	var nilCal *Calendar
	if nilCal.Between(now, now.Add(time.Minute)) != time.Minute {
		t.Error("a nil calendar does not count every minute")
	}
	for _, tc := range [][3]string{
		{"Mars/Olympus", "mon-fri", "09:00-17:00"},
		{"UTC", "mon-funday", "09:00-17:00"},
		{"UTC", "mon-fri", "17:00-09:00"},
		{"UTC", "mon-fri", "9 to 5"},
	} {
		if _, err := New(tc[0], tc[1], tc[2], nil); err == nil {
			t.Errorf("New%q accepted", tc)
		}
	}
	if _, err := New("UTC", "mon-fri", "09:00-17:00", []string{"25.12.2026"}); err == nil {
		t.Error("a malformed holiday accepted")
	}
	c, err := New("UTC", "sat-sun", "00:00-24:00", nil) // wraps? no: sat..sun
	if err != nil {
		t.Fatal(err)
	}
	if !c.Working(time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC)) || c.Working(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) {
		t.Error("weekend calendar wrong")
	}
}

func TestWeekly(t *testing.T) {
	c := berlin(t)
	for _, bad := range []string{"", "monday", "mon", "mon 25:00", "someday 09:00", "09:00 mon"} {
		if _, err := ParseWeekly(bad); err == nil {
			t.Errorf("ParseWeekly(%q) accepted", bad)
		}
	}
	w, err := ParseWeekly(" Monday 9:00 ")
	if err != nil || w != (Weekly{Day: time.Monday, At: 9 * time.Hour}) {
		t.Fatalf("%+v %v", w, err)
	}
	for _, tc := range []struct{ now, last, next string }{
		{"2026-12-02 12:00", "2026-11-30 09:00", "2026-12-07 09:00"}, // Wednesday
		{"2026-12-07 09:00", "2026-12-07 09:00", "2026-12-14 09:00"}, // on the minute
		{"2026-12-07 08:59", "2026-11-30 09:00", "2026-12-07 09:00"}, // just before
		{"2026-12-06 23:00", "2026-11-30 09:00", "2026-12-07 09:00"}, // Sunday
		{"2026-03-30 10:00", "2026-03-30 09:00", "2026-04-06 09:00"}, // after the spring clock change
		{"2026-03-29 12:00", "2026-03-23 09:00", "2026-03-30 09:00"}, // on its day
	} {
		now := at(t, c, tc.now)
		if got := w.Last(now, c.Location()); !got.Equal(at(t, c, tc.last)) {
			t.Errorf("Last(%s) = %s, want %s", tc.now, got.In(c.Location()), tc.last)
		}
		if got := w.Next(now, c.Location()); !got.Equal(at(t, c, tc.next)) {
			t.Errorf("Next(%s) = %s, want %s", tc.now, got.In(c.Location()), tc.next)
		}
	}
}
