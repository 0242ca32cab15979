package store

import (
	"errors"
	"testing"
	"time"
)

// A composed reply is a Slack job until its post is recorded; then, in the
// same transaction, a reply like a typed one, held from the post's time.
func TestComposedReply(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("c1@x", "Compose"))
	posted(t, cs.Store, "100.1")
	cr := ComposedReply{ViewID: "V1", Conv: 1, AgentID: "UA", AgentName: "Alice", Shown: "cc: dan@example.com\nHi Carl",
		Text: "Hi Carl\n\n-- \nAlice", Recipients: Recipients{Cc: []Address{{Addr: "dan@example.com"}}}}
	sj, err := cs.ComposeReply(cr)
	if err != nil {
		t.Fatal(err)
	}
	if sj.Kind != JobComposed || sj.Composed == nil || sj.Composed.Text != cr.Text {
		t.Fatalf("job %+v", sj)
	}
	if _, err := cs.ComposeReply(cr); !errors.Is(err, ErrDuplicate) {
		t.Errorf("a second submission of the same view: %v", err)
	}
	if _, err := cs.ComposeReply(ComposedReply{ViewID: "V2", Conv: 9, Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown conversation: %v", err)
	}
	if jobs, _ := cs.MailJobs(); len(jobs) != 0 {
		t.Fatalf("queued before it is posted: %+v", jobs)
	}

	if err := cs.BeginSlackPart(sj.Seq, 0, "CIN", false); err != nil {
		t.Fatal(err)
	}
	ts := cs.ts(2 * time.Second)
	hold := TSTime(ts).Add(10 * time.Second)
	job, err := cs.ComposedPosted(sj.Seq, 0, "CIN", ts, hold, "out-c@acme.test")
	if err != nil || job == nil {
		t.Fatalf("posted: %+v %v", job, err)
	}
	if !job.Held || !job.HoldUntil.Equal(hold) || !job.Composed || job.SlackTS != ts || job.Text != cr.Text ||
		job.AgentID != "UA" || len(job.Cc) != 1 || job.Cc[0].Addr != "dan@example.com" || job.To.Addr != "carl@example.com" {
		t.Fatalf("queued reply %+v", job)
	}
	if again, err := cs.ComposedPosted(sj.Seq, 0, "CIN", ts, hold, "out-d@acme.test"); err != nil || again != nil {
		t.Errorf("a repeat queued again: %+v %v", again, err)
	}
	if jobs, _ := cs.MailJobs(); len(jobs) != 1 {
		t.Errorf("outbox %+v", jobs)
	}
	if j := lastSlackJob(t, cs.Store, JobHeld); j == nil || j.ReplyTS != ts {
		t.Errorf("no hold mark on the post: %+v", j)
	}
	c, _ := cs.Conv(1)
	if r := replyRef(c, byTS(ts)); r == nil || r.State != ReplyHeld || r.Seq != job.Seq || c.Assignee != "UA" {
		t.Errorf("conversation's reply %+v, assignee %q", r, c.Assignee)
	}
	// The same message cannot come in as a typed reply as well.
	if _, err := cs.EnqueueReply(Reply{EventID: "Ev9", Conv: 1, Channel: "CIN", SlackTS: ts, AgentID: "UA", Text: "x", MessageID: "m@x"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("the post taken as a second reply: %v", err)
	}

	// Not held: queued for sending at once.
	sj2, err := cs.ComposeReply(ComposedReply{ViewID: "V3", Conv: 1, AgentID: "UA", Text: "Now"})
	if err != nil {
		t.Fatal(err)
	}
	job2, err := cs.ComposedPosted(sj2.Seq, 0, "CIN", cs.ts(3*time.Second), time.Time{}, "out-e@acme.test")
	if err != nil || job2 == nil || job2.Held {
		t.Fatalf("unheld: %+v %v", job2, err)
	}
	if _, err := cs.ComposedPosted(lastSlackJob(t, cs.Store, JobHeld).Seq, 0, "CIN", "1.1", time.Time{}, "x@x"); err == nil {
		t.Error("another kind of job taken as a composed reply")
	}
}

func TestReplyRecipients(t *testing.T) {
	s := openClock(t, Options{}).Store
	m := mail("r1@x", "Who")
	m.Cc = []Address{{Addr: "dan@example.com"}, {Addr: testInbox}}
	record(t, s, 1, m)
	to, cc, err := s.ReplyRecipients(1, Recipients{NoCc: []string{"dan@example.com"}, Cc: []Address{{Addr: "eve@example.com"}}})
	if err != nil || to.Addr != "carl@example.com" || len(cc) != 1 || cc[0].Addr != "eve@example.com" {
		t.Errorf("to %v cc %v %v", to, cc, err)
	}
	if _, _, err := s.ReplyRecipients(5, Recipients{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
}
