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
		// The null address of bounces is not malformed: a name, no address.
		{`MAILER-DAEMON <>`, []Address{{"MAILER-DAEMON", ""}}},
		{`"Mail Delivery System" < >`, []Address{{"Mail Delivery System", ""}}},
		{`<>, a@example.com`, []Address{{"", ""}, {"", "a@example.com"}}},
	} {
		in := strings.ReplaceAll(tc.in, `\xf6`, "\xf6")
		got, _ := parseAddressList(in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAddressList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNullMailboxNotLenient(t *testing.T) {
	for _, in := range []string{"MAILER-DAEMON <>", "<>", "<>, Ann <ann@example.com>"} {
		if _, lenient := parseAddressList(in); lenient {
			t.Errorf("parseAddressList(%q) needed the lenient parser", in)
		}
	}
	if _, lenient := parseAddressList("<>, Doe, John <john@example.com>"); !lenient {
		t.Error("a malformed address next to a null one is still reported")
	}
}

func TestReadInboundNullSender(t *testing.T) {
	m := ReadInbound(strings.NewReader("From: MAILER-DAEMON <>\r\nSubject: failure\r\n\r\nbounced\r\n"))
	if m.From != (Address{"MAILER-DAEMON", ""}) || !m.Auto || len(m.Warnings) != 0 {
		t.Errorf("From %+v Auto %v Warnings %q", m.From, m.Auto, m.Warnings)
	}
	m = ReadInbound(strings.NewReader("From: <>\r\nSubject: failure\r\n\r\nbounced\r\n"))
	if m.From.Addr != "unknown" || !m.Auto {
		t.Errorf("nameless null sender: From %+v Auto %v", m.From, m.Auto)
	}
}
