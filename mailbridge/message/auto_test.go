package message

import (
	"net/textproto"
	"testing"
)

func TestIsAutomated(t *testing.T) {
	for _, tc := range []struct {
		hdr  map[string]string
		want bool
	}{
		{map[string]string{"From": "a@example.com"}, false},
		{map[string]string{"Auto-Submitted": "no"}, false},
		{map[string]string{"Auto-Submitted": "No (manual)"}, false},
		{map[string]string{"Auto-Submitted": "auto-generated"}, true},
		{map[string]string{"Return-Path": " <> "}, true},
		{map[string]string{"Return-Path": "<a@example.com>"}, false},
		{map[string]string{"From": "Mail Delivery Subsystem <Mailer-Daemon@example.com>"}, true},
		{map[string]string{"From": "MAILER-DAEMON (Mail Delivery System)"}, true},
		{map[string]string{"From": "postmaster@example.com"}, true},
		{map[string]string{"From": "MAILER-DAEMON <>"}, true},
		{map[string]string{"From": "<>"}, true},
		{map[string]string{"From": "postmaster-team@example.com"}, false},
		{map[string]string{"Content-Type": "multipart/report; report-type=delivery-status; boundary=x"}, true},
		{map[string]string{"Content-Type": "multipart/mixed; boundary=x"}, false},
		{map[string]string{"Precedence": "bulk"}, true},
		{map[string]string{"Precedence": "List"}, true},
		{map[string]string{"Precedence": "junk"}, true},
		{map[string]string{"Precedence": "first-class"}, false},
		{map[string]string{"X-Autoreply": "yes"}, true},
		{map[string]string{"X-Autorespond": "Out of office"}, true},
	} {
		h := textproto.MIMEHeader{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		if got := IsAutomated(h); got != tc.want {
			t.Errorf("IsAutomated(%v) = %v, want %v", tc.hdr, got, tc.want)
		}
	}
}
