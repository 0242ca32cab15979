package when

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 12, 1, 15, 30, 0, 0, loc) // a Tuesday
	for _, tc := range []struct{ in, want string }{
		{"3d", "2026-12-04 15:30"},
		{"2h", "2026-12-01 17:30"},
		{"90 min", "2026-12-01 17:00"},
		{"1w", "2026-12-08 15:30"},
		{"tomorrow", "2026-12-02 09:00"},
		{"tomorrow 9:00", "2026-12-02 09:00"},
		{"Tomorrow at 2pm", "2026-12-02 14:00"},
		{"monday", "2026-12-07 09:00"},
		{"tue", "2026-12-08 09:00"}, // today is Tuesday: the next one
		{"fri 14:30", "2026-12-04 14:30"},
		{"next week", "2026-12-07 09:00"},
		{"2026-12-24", "2026-12-24 09:00"},
		{"2026-12-24 18:00", "2026-12-24 18:00"},
		{"17:00", "2026-12-01 17:00"},
		{"9am", "2026-12-02 09:00"}, // already past today
		{"12am", "2026-12-02 00:00"},
		{"today 16:00", "2026-12-01 16:00"},
	} {
		got, err := Parse(tc.in, now, loc)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if w := got.Format("2006-01-02 15:04"); w != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, w, tc.want)
		}
	}
	for _, bad := range []string{"", "soon", "3", "0d", "yesterday", "2026-11-01", "today 9:00", "25:00", "13pm", "monday 99:00"} {
		if got, err := Parse(bad, now, loc); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", bad, got)
		}
	}
}
