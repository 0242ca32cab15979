package store

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func addrs(as ...string) []Address {
	var out []Address
	for _, a := range as {
		out = append(out, Address{Addr: a})
	}
	return out
}

func addrList(as []Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Addr)
	}
	return out
}

func TestReplyAllRecipients(t *testing.T) {
	cs := openClock(t, Options{OwnAddresses: []string{"Billing@Acme.test", "bot@acme.test"}})
	m := mail("r1@x", "Team question")
	m.To = addrs("Support@acme.test", "partner@example.com")
	m.Cc = addrs("dan@example.com", "billing@acme.test", "DAN@example.com", "carl@example.com", "bot@acme.test", "undisclosed-recipients:;")
	record(t, cs.Store, 1, m)
	posted(t, cs.Store, "100.1")
	c, _ := cs.Conv(1)
	if got := addrList(c.Cc); !reflect.DeepEqual(got, []string{"partner@example.com", "dan@example.com"}) {
		t.Fatalf("conversation Cc %v: want the others, without own addresses, the customer or duplicates", got)
	}
	r := Reply{EventID: "Ev1", Conv: 1, Channel: "CIN", SlackTS: "100.2", AgentID: "UA", Text: "x", MessageID: "o1@acme.test"}
	job, err := cs.EnqueueReply(r)
	if err != nil {
		t.Fatal(err)
	}
	if job.To.Addr != "carl@example.com" || !reflect.DeepEqual(addrList(job.Cc), []string{"partner@example.com", "dan@example.com"}) {
		t.Errorf("reply-all: to %v cc %v", job.To, job.Cc)
	}
	// One reply's own recipients.
	r = Reply{EventID: "Ev2", Conv: 1, Channel: "CIN", SlackTS: "100.3", AgentID: "UA", Text: "y", MessageID: "o2@acme.test",
		Recipients: Recipients{To: &Address{Addr: "boss@example.com"}, Cc: addrs("eve@example.com", "support@acme.test"), NoCc: []string{"DAN@example.com"}}}
	job, _ = cs.EnqueueReply(r)
	if job.To.Addr != "boss@example.com" || !reflect.DeepEqual(addrList(job.Cc), []string{"partner@example.com", "eve@example.com"}) {
		t.Errorf("changed recipients: to %v cc %v", job.To, job.Cc)
	}
	// For the conversation.
	if _, err := cs.SetRecipient(1, ActCcRemove, Address{Addr: "partner@example.com"}, "UA"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.SetRecipient(1, ActCcAdd, Address{Addr: "Finance@Example.com"}, "UA"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		action, addr string
	}{{ActCcAdd, "finance@example.com"}, {ActCcRemove, "nobody@example.com"}, {ActCcAdd, "billing@acme.test"}, {ActTo, "carl@example.com"}} {
		if _, err := cs.SetRecipient(1, bad.action, Address{Addr: bad.addr}, "UA"); !errors.Is(err, ErrNoChange) {
			t.Errorf("%s %s: %v", bad.action, bad.addr, err)
		}
	}
	if j := lastSlackJob(t, cs.Store, JobActivity); j.Change.Action != ActCcAdd || j.Change.Target != "Finance@Example.com" {
		t.Errorf("activity %+v", j.Change)
	}
	job, _ = cs.EnqueueReply(Reply{EventID: "Ev3", Conv: 1, Channel: "CIN", SlackTS: "100.4", AgentID: "UA", Text: "z", MessageID: "o3@acme.test"})
	if !reflect.DeepEqual(addrList(job.Cc), []string{"dan@example.com", "Finance@Example.com"}) {
		t.Errorf("after changes: cc %v", job.Cc)
	}

	// A mail joining by its headers from a stranger: shown, flagged,
	// redirects nothing.
	stranger := mail("s1@x", "Re: Team question", "o1@acme.test")
	stranger.From = Address{Addr: "mallory@evil.example"}
	stranger.Cc = addrs("mallory2@evil.example")
	if rec := record(t, cs.Store, 2, stranger); rec.Conv != 1 {
		t.Fatalf("stranger's mail not threaded: %+v", rec)
	}
	if j := lastSlackJob(t, cs.Store, JobMail); !j.NewAddress {
		t.Error("stranger's mail not flagged")
	}
	c, _ = cs.Conv(1)
	if c.ReplyTo.Addr != "carl@example.com" || c.LastInbound != "r1@x" || len(c.Cc) != 2 || c.Latest.MessageID != "r1@x" {
		t.Errorf("a stranger redirected the conversation: reply-to %v, last %s, cc %v", c.ReplyTo, c.LastInbound, c.Cc)
	}
	// Until an agent adds them.
	if _, err := cs.SetRecipient(1, ActTo, Address{Addr: "mallory@evil.example"}, "UA"); err != nil {
		t.Fatal(err)
	}
	again := mail("s2@x", "Re: Team question", "s1@x")
	again.From = Address{Addr: "Mallory@Evil.example"}
	record(t, cs.Store, 3, again)
	if j := lastSlackJob(t, cs.Store, JobMail); j.NewAddress {
		t.Error("an address an agent added is still flagged")
	}
	// A Cc'd participant answering becomes the reply address, the rest
	// stay in Cc (reply-all).
	dan := mail("d1@x", "Re: Team question", "s2@x")
	dan.From = Address{Addr: "dan@example.com"}
	dan.To = addrs("support@acme.test", "mallory@evil.example")
	record(t, cs.Store, 4, dan)
	c, _ = cs.Conv(1)
	if c.ReplyTo.Addr != "dan@example.com" || !reflect.DeepEqual(addrList(c.Cc), []string{"mallory@evil.example"}) {
		t.Errorf("after Dan's answer: to %v cc %v", c.ReplyTo, c.Cc)
	}
}

func TestBounceMarksReply(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("b1@x", "Bounce"))
	posted(t, cs.Store, "100.1")
	job, _ := cs.EnqueueReply(Reply{EventID: "Ev1", Conv: 1, Channel: "CIN", SlackTS: "100.2", AgentID: "UA", Text: "x", MessageID: "our1@acme.test"})
	cs.MailDone(job.Seq, "")
	cs.Act(1, ActClose, "UA", "", "")
	before, _ := cs.Conv(1)

	b := mail("dsn1@x", "Undelivered Mail Returned to Sender")
	b.From = Address{Addr: "MAILER-DAEMON@mx.example.com"}
	b.Auto = true
	b.Report = &DeliveryReport{OriginalMessageID: "our1@acme.test", Recipient: "carl@example.com", Action: "failed",
		Status: "5.1.1", Diagnostic: "550 5.1.1 user unknown"}
	rec := record(t, cs.Store, 2, b)
	if rec.Conv != 1 || rec.NewConv {
		t.Fatalf("bounce recorded as %+v", rec)
	}
	j := lastSlackJob(t, cs.Store, JobBounced)
	if j == nil || j.ReplyTS != "100.2" || j.Error != "550 5.1.1 user unknown" || j.To != "carl@example.com" || j.Event != "" {
		t.Fatalf("bounce job %+v", j)
	}
	c, _ := cs.Conv(1)
	if c.Status != StatusClosed || c.ReplyTo != before.ReplyTo || replyRef(c, byTS("100.2")).State != ReplyBounced {
		t.Errorf("after the bounce: %+v", c)
	}
	// Matched by References when the report lacks the original.
	b2 := mail("dsn2@x", "failure notice")
	b2.Auto, b2.From = true, Address{Addr: "postmaster@mx.example.com"}
	b2.References = []string{"b1@x", "our1@acme.test"}
	b2.Report = &DeliveryReport{Action: "delayed", Status: "4.4.1"}
	if rec := record(t, cs.Store, 3, b2); rec.Conv != 1 {
		t.Fatalf("delay report %+v", rec)
	}
	if j := lastSlackJob(t, cs.Store, JobBounced); j.Event != EventDelayed {
		t.Errorf("delay %+v", j)
	}
	// A report about no mail of ours is an ordinary automated mail.
	b3 := mail("dsn3@x", "Returned mail")
	b3.Auto, b3.From = true, Address{Addr: "mailer-daemon@other.example"}
	b3.Report = &DeliveryReport{OriginalMessageID: "someone-else@x"}
	if rec := record(t, cs.Store, 4, b3); !rec.NewConv {
		t.Errorf("foreign bounce %+v", rec)
	}
	// An out-of-office answer to our reply is shown in the thread and
	// changes nothing.
	ooo := mail("ooo@x", "Out of office", "our1@acme.test")
	ooo.Auto = true
	if rec := record(t, cs.Store, 5, ooo); rec.Conv != 1 {
		t.Errorf("auto-reply %+v", rec)
	}
	if c, _ := cs.Conv(1); c.Status != StatusClosed || !c.LastHumanAt.Equal(before.LastHumanAt) {
		t.Errorf("auto-reply changed the conversation: %+v", c)
	}
}

func TestLoopGuard(t *testing.T) {
	cs := openClock(t, Options{})
	robot := func(i int) *InboundMail {
		m := mail(fmt.Sprintf("robot%d@x", i), "Ticket received")
		m.Auto, m.From = true, Address{Addr: "noreply@robot.example"}
		return m
	}
	var convs []uint64
	for i := 1; i <= 8; i++ {
		rec := record(t, cs.Store, uint32(i), robot(i))
		convs = append(convs, rec.Conv)
		cs.now = cs.now.Add(time.Minute)
	}
	if !reflect.DeepEqual(convs, []uint64{1, 2, 3, 3, 3, 3, 3, 3}) {
		t.Fatalf("conversations %v: want %d opened, the rest added to the last", convs, autoPerHour)
	}
	if j := lastSlackJob(t, cs.Store, JobMail); j.Folded != 8 || j.NewConv {
		t.Errorf("folded count %+v", j)
	}
	// A person is never held back.
	h := mail("human@x", "Hello")
	h.From = Address{Addr: "noreply@robot.example"}
	if rec := record(t, cs.Store, 9, h); !rec.NewConv {
		t.Error("a human mail was folded")
	}
	// A new hour, new conversations.
	cs.now = cs.now.Add(time.Hour)
	if n, err := cs.PruneEvents(cs.now.Add(-24 * time.Hour)); err != nil {
		t.Fatal(n, err)
	}
	if rec := record(t, cs.Store, 10, robot(10)); !rec.NewConv {
		t.Error("the guard did not reset after an hour")
	}
}

func TestComposeAndForward(t *testing.T) {
	cs := openClock(t, Options{})
	c, err := cs.Compose(Compose{Inbox: testInbox, To: Address{Name: "Pat", Addr: "pat@example.com"}, Subject: "Your order", By: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Num != 1 || c.Assignee != "UA" || !c.Outbound {
		t.Fatalf("composed %+v", c)
	}
	jobs, _ := cs.SlackJobs()
	if len(jobs) != 1 || jobs[0].Kind != JobCompose || !jobs[0].NewConv {
		t.Fatalf("card job %+v", jobs)
	}
	if err := cs.BeginSlackPart(jobs[0].Seq, 0, "CIN", true); err != nil {
		t.Fatal(err)
	}
	cs.SlackPartDone(jobs[0].Seq, 0, "CIN", "500.1")
	job, err := cs.EnqueueReply(Reply{EventID: "Ev1", Conv: 1, Channel: "CIN", SlackTS: "500.2", AgentID: "UA", Text: "Hello Pat", MessageID: "first@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Subject != "Your order" || job.To.Addr != "pat@example.com" || job.InReplyTo != "" || len(job.References) != 0 {
		t.Errorf("first mail %+v", job)
	}
	if _, err := cs.EnqueueForward(Forward{Conv: 1, To: Address{Addr: "eng@acme.test"}, MessageID: "fw0@acme.test"}); !errors.Is(err, ErrNoMail) {
		t.Errorf("forward without a customer mail: %v", err)
	}
	ans := mail("pat1@x", "Re: Your order", "first@acme.test")
	ans.From = Address{Name: "Pat", Addr: "pat@example.com"}
	ans.Text = "Where is it?"
	ans.Date = time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	ans.To = addrs("support@acme.test")
	if rec := record(t, cs.Store, 1, ans); rec.Conv != 1 || rec.NewConv {
		t.Fatalf("answer %+v", rec)
	}
	fw, err := cs.EnqueueForward(Forward{Conv: 1, To: Address{Addr: "eng@acme.test"}, Comment: "Can you check?", AgentID: "UA", AgentName: "Alice", MessageID: "fw1@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Can you check?\n\n---------- Forwarded message ---------\nFrom: Pat <pat@example.com>\nDate: Tue, 01 Dec 2026 15:00:00 +0000\n" +
		"Subject: Re: Your order\nTo: support@acme.test\n\nWhere is it?"
	if fw.Subject != "Fwd: Re: Your order" || fw.Text != want || fw.Held || !fw.Forward || fw.InReplyTo != "" {
		t.Errorf("forward %+v\n%s", fw, fw.Text)
	}
	cs.MailDone(fw.Seq, "")
	if j := lastSlackJob(t, cs.Store, JobSent); !j.Forward || j.To != "eng@acme.test" || j.By != "UA" {
		t.Errorf("forward recorded as %+v", j)
	}
	// The engineer's answer threads, flagged, and redirects nothing.
	eng := mail("eng1@x", "Re: Fwd: Re: Your order", "fw1@acme.test")
	eng.From = Address{Addr: "eng@acme.test"}
	if rec := record(t, cs.Store, 2, eng); rec.Conv != 1 {
		t.Fatalf("answer to the forward %+v", rec)
	}
	if c, _ := cs.Conv(1); c.ReplyTo.Addr != "pat@example.com" || !lastSlackJob(t, cs.Store, JobMail).NewAddress {
		t.Errorf("forward recipient redirected the conversation: %+v", c.ReplyTo)
	}
}
