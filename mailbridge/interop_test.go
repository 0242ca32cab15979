package mailbridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/mailbridge/message/messagetest"
	"github.com/inboxbot/inboxbot/store"
)

// Interop tests against a real Dovecot and Postfix (skipped when they are
// not installed, unless INBOXBOT_REQUIRE_REAL_SERVERS=1). Dovecot announces
// new mail in IDLE about half a second after it lands: waits are on
// conditions with generous deadlines.

const interopDeadline = 30 * time.Second

func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

func dovecotConfig(d *mailtest.Dovecot, mode string) IMAPConfig {
	addr := d.IMAPAddr
	if mode == TLSImplicit {
		addr = d.IMAPSAddr
	}
	return IMAPConfig{
		Inbox: testInbox, Addr: addr, Username: d.Username, Password: d.Password, TLS: mode, TLSConfig: insecureTLS(),
		Recheck: 100 * time.Millisecond, IdleRestart: 2 * time.Second, Poll: 200 * time.Millisecond,
	}
}

func TestInteropWatcherDovecot(t *testing.T) {
	d := mailtest.StartDovecot(t)
	for _, mode := range []string{TLSImplicit, TLSStartTLS, TLSNone} {
		t.Run(mode, func(t *testing.T) {
			st := openStore(t)
			log, logs := testLog(t)
			runWatcher(t, NewWatcher(dovecotConfig(d, mode), st, log))
			waitWatermark(t, st)
			waitFor(t, 10*time.Second, "the watcher to connect", func() bool { return strings.Contains(logs.String(), "IMAP connected") })
			if !strings.Contains(logs.String(), "idle=true") {
				t.Errorf("Dovecot's IDLE not seen")
			}
			id := fmt.Sprintf("interop-%s@example.com", mode)
			d.Deliver(t, customerMail(1, id))
			jobs := waitMailJobs(t, st, 1, interopDeadline)
			if len(jobs) != 1 || jobs[0].Mail.MessageID != id || jobs[0].Mail.Text != "Body of question 1." {
				t.Errorf("jobs = %+v", jobs)
			}
			big := bigAttachmentMailBytes(t, 2<<20)
			d.Deliver(t, big)
			jobs = waitMailJobs(t, st, 2, interopDeadline)
			if a := jobs[1].Mail.Attachments; len(a) != 1 || a[0].Name != "big.zip" {
				t.Errorf("attachments of the second mail: %+v", a)
			}
		})
	}
}

func bigAttachmentMailBytes(t testing.TB, size int) []byte {
	t.Helper()
	b, err := io.ReadAll(messagetest.BigAttachmentMail(size))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func postfixSender(d *mailtest.Dovecot, p *mailtest.Postfix, st *store.Store, t testing.TB) *Sender {
	log, _ := testLog(t)
	return NewSender(SMTPConfig{
		Addr: p.SMTPAddr, Username: p.Username, Password: p.Password, TLS: TLSStartTLS, TLSConfig: insecureTLS(),
		FromAddr: d.Address, FromName: "Acme Support", RetryBase: 100 * time.Millisecond,
	}, st, log)
}

func waitOutside(t testing.TB, p *mailtest.Postfix, n int) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopDeadline)
	defer cancel()
	msgs, err := p.WaitOutside(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestInteropSenderPostfix(t *testing.T) {
	d := mailtest.StartDovecot(t)
	p := mailtest.StartPostfix(t, d)
	st := openStore(t)
	job := queueReply(t, st, inboundFrom("Carla Customer <customer@example.com>", "c1@example.com", "c0@example.com"),
		"Alice Agent", "Hello Carla,\n\nit is fixed.")

	runSender(t, postfixSender(d, p, st, t))
	msgs := waitOutside(t, p, 1)
	checkReply(t, msgs[0], job, "Alice Agent (Acme Support)", d.Address, "Hello Carla,\n\nit is fixed.")
	if h := parseSent(t, msgs[0]).Header; !strings.Contains(h.Get("Delivered-To"), "customer@example.com") {
		t.Errorf("Delivered-To %q", h.Get("Delivered-To"))
	}
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v", out)
	}
}

// sendViaPostfix submits raw from a customer to Dovecot's user, the way a
// customer's provider would hand it over (no AUTH, plaintext).
func sendViaPostfix(t testing.TB, p *mailtest.Postfix, from, to string, raw []byte) {
	t.Helper()
	c, err := smtp.Dial(p.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mail.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// The whole loop through real servers: a customer's mail goes through
// Postfix into Dovecot, the watcher records it, the agent's reply goes
// out through Postfix, and the customer's answer to it comes back into
// the same conversation.
func TestInteropFullLoop(t *testing.T) {
	d := mailtest.StartDovecot(t)
	p := mailtest.StartPostfix(t, d)
	st := openStore(t)
	log, _ := testLog(t)
	runWatcher(t, NewWatcher(dovecotConfig(d, TLSImplicit), st, log))
	runSender(t, postfixSender(d, p, st, t))
	waitWatermark(t, st)

	sendViaPostfix(t, p, "customer@example.com", d.Address,
		[]byte("From: Carla Customer <customer@example.com>\r\nTo: "+d.Address+"\r\nSubject: Invoice missing\r\n"+
			"Message-ID: <loop-1@example.com>\r\nDate: Tue, 5 Mar 2024 10:15:00 +0100\r\n\r\nWhere is my invoice?\r\n"))
	jobs := waitMailJobs(t, st, 1, interopDeadline)
	in := jobs[0]
	if in.Mail.MessageID != "loop-1@example.com" || in.Mail.From.Addr != "customer@example.com" || in.Mail.Text != "Where is my invoice?" {
		t.Fatalf("recorded %+v", in.Mail)
	}

	job, err := st.EnqueueReply(store.Reply{
		EventID: "EvLoop", Conv: in.Conv, SlackTS: "1700000000.000001", AgentID: "UALICE", AgentName: "Alice Agent",
		Text: "Attached now.", MessageID: "loop-reply@" + mailtest.Domain,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := waitOutside(t, p, 1)
	checkReply(t, out[0], job, "Alice Agent (Acme Support)", d.Address, "Attached now.")

	sendViaPostfix(t, p, "customer@example.com", d.Address,
		[]byte("From: Carla Customer <customer@example.com>\r\nTo: "+d.Address+"\r\nSubject: Re: Invoice missing\r\n"+
			"Message-ID: <loop-2@example.com>\r\nIn-Reply-To: <"+job.MessageID+">\r\nReferences: <loop-1@example.com> <"+job.MessageID+">\r\n"+
			"Date: Tue, 5 Mar 2024 10:20:00 +0100\r\n\r\nThanks!\r\n"))
	jobs = waitMailJobs(t, st, 2, interopDeadline)
	if jobs[1].Conv != in.Conv || jobs[1].NewConv || jobs[1].Mail.Text != "Thanks!" {
		t.Errorf("the customer's answer: %+v, want it in conversation %d", jobs[1], in.Conv)
	}
}
