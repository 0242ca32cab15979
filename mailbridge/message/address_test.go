package message

import (
	"reflect"
	"strings"
	"testing"
)

func TestLenientAddresses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Address
	}{
		{`Doe, John <john@example.com>`, []Address{{"Doe, John", "john@example.com"}}},
		{`Doe, John <john@example.com>, Roe, Jane <jane@example.com>`, []Address{{"Doe, John", "john@example.com"}, {"Roe, Jane", "jane@example.com"}}},
		{`"A" <a@example.com>, Broken Name b@example.com`, []Address{{"A", "a@example.com"}, {"", "Broken Name b@example.com"}}},
		{`Team: a@example.com, b@example.com;`, []Address{{"", "a@example.com"}, {"", "b@example.com"}}},
		{`J\xf6rg <joerg@example.de>`, []Address{{"Jörg", "joerg@example.de"}}},
		{`=?utf-8?q?Doe,_Jane?= <jane@example.com>, x@example.com`, []Address{{"Doe, Jane", "jane@example.com"}, {"", "x@example.com"}}},
		{`<unterminated@example.com`, []Address{{"", "unterminated@example.com"}}},
	} {
		in := strings.ReplaceAll(tc.in, `\xf6`, "\xf6")
		got, _ := parseAddressList(in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAddressList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
