package message

import (
	"reflect"
	"testing"
)

func TestLenientMsgIDs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"<a@X.com> <b c@x.com> <d@y.COM>", []string{"a@x.com", "d@y.com"}},
		{"a@X.com, b@y.com", []string{"a@x.com", "b@y.com"}},
		{"<a@x.com> (comment) <b@x.com", []string{"a@x.com", "b@x.com"}},
		{"Your message of Mon <a@x.com>", []string{"a@x.com"}},
	} {
		got, _ := lenientMsgIDs(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("lenientMsgIDs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCanonMsgID(t *testing.T) {
	for in, want := range map[string]string{
		"<Abc@Example.COM>":  "Abc@example.com",
		"  <x.y@z>  ":        "x.y@z",
		"bare@HOST":          "bare@host",
		"<no-at-sign>":       "no-at-sign",
		"<a@b@C>":            "a@b@c",
		"< spaced@example >": "spaced@example",
	} {
		if got := CanonMsgID(in); got != want {
			t.Errorf("CanonMsgID(%q) = %q, want %q", in, got, want)
		}
	}
}
