package mailbridge

import (
	"reflect"
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/store"
)

func TestDeliveryReports(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	for _, tc := range []struct {
		name string
		raw  string
		want *store.DeliveryReport
	}{{
		name: "RFC 3464 with returned headers, two recipients",
		raw: `From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: support@acme.test
Subject: Delivery Status Notification (Failure)
Content-Type: multipart/report; report-type="delivery-status"; boundary=b1

--b1
Content-Type: text/plain

Your message wasn't delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com

Final-Recipient: rfc822; ok@example.com
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; carl@example.com
Original-Recipient: rfc822;Carl@Example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach
 does not exist.

--b1
Content-Type: text/rfc822-headers

Message-ID: <inboxbot.3.abc@Acme.Test>
Subject: Re: Help

--b1--
`,
		want: &store.DeliveryReport{OriginalMessageID: "inboxbot.3.abc@acme.test", Recipient: "carl@example.com", Action: "failed",
			Status: "5.1.1", Diagnostic: "550-5.1.1 The email account that you tried to reach does not exist."},
	}, {
		name: "delayed",
		raw: `From: postmaster@mx.example.net
Subject: Delayed Mail (still being retried)
Content-Type: multipart/report; report-type=delivery-status; boundary=b2

--b2
Content-Type: message/delivery-status

Final-Recipient: rfc822; slow@example.net
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mail.example.net: Connection timed out

--b2--
`,
		want: &store.DeliveryReport{Recipient: "slow@example.net", Action: "delayed", Status: "4.4.1",
			Diagnostic: "connect to mail.example.net: Connection timed out"},
	}, {
		name: "informal notice quoting the original",
		raw: `From: MAILER-DAEMON@old.example.org
Subject: failure notice

Hi. This is the qmail-send program at old.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.

<gone@old.example.org>:
192.0.2.7 does not like recipient.
Remote host said: 550 5.1.1 <gone@old.example.org>... User unknown
Giving up on 192.0.2.7.

--- Below this line is a copy of the message.

Message-ID: <inboxbot.9.def@acme.test>
Subject: Re: Order
`,
		want: &store.DeliveryReport{OriginalMessageID: "inboxbot.9.def@acme.test",
			Diagnostic: "550 5.1.1 <gone@old.example.org>... User unknown"},
	}, {
		name: "a read receipt is no bounce",
		raw: `From: carl@example.com
Subject: Read: Help
Content-Type: multipart/report; report-type=disposition-notification; boundary=b3

--b3
Content-Type: message/disposition-notification

Final-Recipient: rfc822; carl@example.com
Disposition: manual-action/MDN-sent-manually; displayed

--b3--
`,
	}, {
		name: "a forwarded mail is no bounce",
		raw: `From: carl@example.com
Subject: Fwd: this
Content-Type: multipart/mixed; boundary=b4

--b4
Content-Type: text/plain

see below
--b4
Content-Type: message/rfc822

Message-ID: <x@y>
Subject: this

body
--b4--
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := ReadInbound(strings.NewReader(crlf(tc.raw)))
			if !reflect.DeepEqual(m.Report, tc.want) {
				t.Errorf("report %+v, want %+v", m.Report, tc.want)
			}
		})
	}
}
