package message

import (
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/transform"
)

func TestUTF7(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hi Mom -+Jjo--!", "Hi Mom -☺-!"}, // RFC 2152 examples
		{"+ZeVnLIqe-", "日本語"},
		{"A+ImIDkQ.", "A≢Α."},
		{"Item 3 is +AKM-1.", "Item 3 is £1."},
		{"1 +- 1 = 2", "1 + 1 = 2"}, // "+-" is "+"
		{"a+ b", "a+ b"},            // a "+" without base64 is kept
		{"end+", "end+"},
		{"+2D3eAA-", "\U0001F600"},   // surrogate pair 😀
		{"+2D3eAA", "\U0001F600"},    // run ended by the end of input
		{"+2D0-x", "\uFFFDx"},        // high surrogate alone
		{"+3gA-", "\uFFFD"},          // low surrogate alone
		{"+2D3YPQ-", "\uFFFD\uFFFD"}, // two high surrogates
		{"caf\xe9", "caf\uFFFD"},     // 8-bit bytes are not UTF-7
		{"+AGEAYgBj-", "abc"},
		{"+AGEAYgBjAGQ-", "abcd"},
		{"", ""},
	} {
		got, _, err := transform.String(new(utf7Decoder), tc.in)
		if err != nil || got != tc.want {
			t.Errorf("UTF-7 %q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		// The same, one byte at a time and into small buffers.
		r := transform.NewReader(iotest.OneByteReader(strings.NewReader(tc.in)), new(utf7Decoder))
		var b strings.Builder
		buf := make([]byte, 1)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if b.String() != tc.want {
			t.Errorf("UTF-7 %q streamed = %q; want %q", tc.in, b.String(), tc.want)
		}
	}
}
