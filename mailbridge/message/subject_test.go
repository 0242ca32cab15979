package message

import (
	"testing"
)

func TestReplySubject(t *testing.T) {
	for in, want := range map[string]string{
		"Invoice":              "Re: Invoice",
		"Re: Invoice":          "Re: Invoice",
		"RE: re: Invoice":      "Re: Invoice",
		"Re[2]: Invoice":       "Re: Invoice",
		"AW: Rechnung":         "Re: Rechnung",
		"Fwd: Invoice":         "Re: Fwd: Invoice",
		"Reply needed":         "Re: Reply needed",
		"":                     "Re: (no subject)",
		"  Re:   spaced  ":     "Re: spaced",
		"Regarding the report": "Re: Regarding the report",
	} {
		if got := ReplySubject(in); got != want {
			t.Errorf("ReplySubject(%q) = %q, want %q", in, got, want)
		}
	}
}
