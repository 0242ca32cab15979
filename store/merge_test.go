package store

import (
	"errors"
	"slices"
	"testing"
)

func TestMerge(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	carl := mail("c1@example.com", "Invoice wrong")
	record(t, s, 1, carl)
	dora := mail("d1@example.com", "Invoice (my colleague wrote too)")
	dora.From = Address{Name: "Dora", Addr: "dora@example.com"}
	dora.Cc = []Address{{Addr: "eve@example.com"}, {Addr: testInbox}}
	record(t, s, 2, dora)
	s.Tag(2, ActTag, []string{"billing"}, "UA", "")
	// A reply sent from 2 before the merge: its bounce stays on it.
	if _, err := s.EnqueueReply(Reply{EventID: "E1", Conv: 2, Channel: "CIN", SlackTS: "1.1", AgentID: "UA", Text: "x", MessageID: "r2@acme.test"}); err != nil {
		t.Fatal(err)
	}
	s.Act(1, ActClose, "UA", "", "")

	if _, _, err := s.Merge(1, 1, "UA"); !errors.Is(err, ErrNoChange) {
		t.Errorf("merge into itself: %v", err)
	}
	if _, _, err := s.Merge(1, 99, "UA"); !errors.Is(err, ErrNotFound) {
		t.Errorf("merge of an unknown conversation: %v", err)
	}
	into, from, err := s.Merge(1, 2, "UB")
	if err != nil {
		t.Fatal(err)
	}
	if from.MergedInto != 1 || from.Status != StatusClosed || into.Status != StatusOpen || !slices.Equal(into.MergedFrom, []uint64{2}) ||
		!slices.Equal(into.Tags, []string{"billing"}) {
		t.Errorf("after the merge: into %+v, from %+v", into, from)
	}
	var cc []string
	for _, a := range into.Cc {
		cc = append(cc, a.Addr)
	}
	if !slices.Equal(cc, []string{"dora@example.com", "eve@example.com"}) || !isParticipant(into, "dora@example.com") || !slices.Contains(into.Chain, "d1@example.com") {
		t.Errorf("recipients after the merge: cc %v, participants %v, chain %v", cc, into.Participants, into.Chain)
	}
	jobs, _ := s.SlackJobs()
	lines := map[uint64]string{}
	for _, j := range jobs[len(jobs)-2:] {
		if j.Kind == JobActivity {
			lines[j.Conv] = j.Change.Action + " " + j.Change.Target
		}
	}
	if lines[1] != ActMergedIn+" 2" || lines[2] != ActMerged+" 1" {
		t.Errorf("thread lines %v", lines)
	}
	for _, n := range []uint64{1, 2} {
		if v, _ := s.CardVersion(n); v == 0 {
			t.Errorf("card %d not marked", n)
		}
	}
	checkIndexes(t, s)

	// Mail threaded to the merged conversation lands in the other one,
	// its sender a participant there.
	re := mail("d2@example.com", "Re: Invoice", "d1@example.com")
	re.From = dora.From
	if r := record(t, s, 3, re); r.Conv != 1 || r.NewConv {
		t.Fatalf("answer to the merged conversation: %+v", r)
	}
	jobs, _ = s.SlackJobs()
	if j := jobs[len(jobs)-1]; j.Conv != 1 || j.NewAddress {
		t.Errorf("answer posted as %+v", j)
	}
	// ... and so does a reply to our reply sent from it.
	if r := record(t, s, 4, mail("d3@example.com", "Re: x", "r2@acme.test")); r.Conv != 1 {
		t.Errorf("answer to a reply sent from the merged conversation: %+v", r)
	}
	// The bounce of that reply is about that reply, in its thread.
	bounce := mail("b1@daemon", "Undelivered")
	bounce.Auto, bounce.Report = true, &DeliveryReport{OriginalMessageID: "r2@acme.test", Action: "failed", Diagnostic: "550 no"}
	if r := record(t, s, 5, bounce); r.Conv != 2 {
		t.Errorf("bounce of a reply of the merged conversation: %+v", r)
	}
	// Replies from the one merged into go to everyone of both.
	job, err := s.EnqueueReply(Reply{EventID: "E2", Conv: 1, Channel: "CIN", SlackTS: "2.1", AgentID: "UB", Text: "Both fixed", MessageID: "r1@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	// Carl wrote last, to us alone: everyone of both stays in Cc all the same.
	cc = nil
	for _, a := range job.Cc {
		cc = append(cc, a.Addr)
	}
	if job.To.Addr != "carl@example.com" || !slices.Equal(cc, []string{"dora@example.com", "eve@example.com"}) {
		t.Errorf("reply after the merge: To %v Cc %v", job.To, job.Cc)
	}
	// Until an agent takes one out.
	if _, err := s.SetRecipient(1, ActCcRemove, Address{Addr: "Eve@example.com"}, "UB"); err != nil {
		t.Fatal(err)
	}
	re3 := mail("d5@example.com", "Re: Invoice", "d2@example.com")
	re3.From = dora.From
	record(t, s, 8, re3)
	if c, _ := s.Conv(1); len(c.Cc) != 1 || c.Cc[0].Addr != "carl@example.com" || c.ReplyTo.Addr != "dora@example.com" {
		t.Errorf("after Eve was taken out and Dora wrote: reply to %v, Cc %v", c.ReplyTo, c.Cc)
	}

	// Nothing more is done in the merged conversation.
	if _, err := s.Act(2, ActReopen, "UA", "", ""); !errors.Is(err, ErrMerged) {
		t.Errorf("reopen of a merged conversation: %v", err)
	}
	if _, err := s.EnqueueReply(Reply{EventID: "E3", Conv: 2, Channel: "CIN", SlackTS: "3.1", AgentID: "UA", Text: "x", MessageID: "r3@acme.test"}); !errors.Is(err, ErrMerged) {
		t.Errorf("reply in a merged conversation: %v", err)
	}
	if _, _, err := s.Tag(2, ActTag, []string{"x"}, "UA", ""); !errors.Is(err, ErrMerged) {
		t.Errorf("tag of a merged conversation: %v", err)
	}
	if _, _, err := s.Merge(1, 2, "UA"); !errors.Is(err, ErrMerged) {
		t.Errorf("merged twice: %v", err)
	}
	if _, _, err := s.Merge(2, 1, "UA"); !errors.Is(err, ErrMerged) {
		t.Errorf("merge into a merged conversation: %v", err)
	}

	// Merges chain: 1 into 3, and mail to 2's thread lands in 3.
	third := record(t, s, 9, mail("c3@example.com", "Third")).Conv
	if _, _, err := s.Merge(third, 1, "UA"); err != nil {
		t.Fatal(err)
	}
	re2 := mail("d4@example.com", "Re: Invoice", "d2@example.com")
	re2.From = dora.From
	if r := record(t, s, 10, re2); r.Conv != third {
		t.Errorf("mail to a conversation merged twice over: %+v", r)
	}
	checkIndexes(t, s)
}
