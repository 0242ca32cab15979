package bot

import (
	"reflect"
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/store"
)

func TestParseRecipients(t *testing.T) {
	pat := &store.Address{Name: "Pat Jones", Addr: "pat@example.com"}
	for _, tc := range []struct {
		in, body string
		want     store.Recipients
		bad      string // part of the complaint, "" none
	}{
		{in: "Hi Carl,\nall good", body: "Hi Carl,\nall good"},
		{in: "Re: your order: it shipped", body: "Re: your order: it shipped"},
		{in: "to: Pat Jones <pat@example.com>\nHi Pat", body: "Hi Pat", want: store.Recipients{To: pat}},
		{in: "CC: dan@example.com, -old@example.com,+eve@example.com\n\nHello", body: "Hello",
			want: store.Recipients{Cc: []store.Address{{Addr: "dan@example.com"}, {Addr: "eve@example.com"}}, NoCc: []string{"old@example.com"}}},
		{in: "to: pat@example.com\ncc: dan@example.com\nHi", body: "Hi",
			want: store.Recipients{To: &store.Address{Addr: "pat@example.com"}, Cc: []store.Address{{Addr: "dan@example.com"}}}},
		{in: "to: carl-at-example.com\nHi", bad: "is not an email address"},
		{in: "to: a@example.com, b@example.com\nHi", bad: "takes one address"},
		{in: "cc: dan@example.com, oops\nHi", bad: "`oops` in `cc:`"},
		{in: "bcc: boss@example.com\nHi", bad: "not supported"},
		{in: "cc: dan@example.com", want: store.Recipients{Cc: []store.Address{{Addr: "dan@example.com"}}}}, // no body: the caller refuses it
	} {
		body, r, bad := parseRecipients(tc.in)
		if tc.bad != "" {
			if !strings.Contains(bad, tc.bad) {
				t.Errorf("%q: complaint %q, want %q", tc.in, bad, tc.bad)
			}
			continue
		}
		if bad != "" || body != tc.body || !reflect.DeepEqual(r, tc.want) {
			t.Errorf("%q: body %q recipients %+v bad %q; want %q %+v", tc.in, body, r, bad, tc.body, tc.want)
		}
	}
}

func TestSigned(t *testing.T) {
	in := &Inbox{Signature: "Best,\n{agent}\nAcme"}
	if got := signed(in, "Hello", "Alice Agent"); got != "Hello\n\n-- \nBest,\nAlice Agent\nAcme" {
		t.Errorf("signed %q", got)
	}
	if got := signed(&Inbox{}, "Hello", "Alice"); got != "Hello" {
		t.Errorf("without a signature %q", got)
	}
}
