package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestBlockKey(t *testing.T) {
	for in, want := range map[string]string{"Spam@Example.com": "spam@example.com", "Example.COM": "example.com", "@spam.example": "spam.example", "spam.example.": "spam.example"} {
		if got, err := BlockKey(in); err != nil || got != want {
			t.Errorf("BlockKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "com", "localhost", "x@", "a b.com", "-x.com", "x..com", "x@y"} {
		if got, err := BlockKey(bad); err == nil {
			t.Errorf("BlockKey(%q) = %q, want an error", bad, got)
		}
	}
}

func TestBlockedSenders(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{Now: func() time.Time { return now }, OwnAddresses: []string{testInbox}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	spam := func(id, from string, inReplyTo ...string) *InboundMail {
		m := mail(id, "Cheap pills", inReplyTo...)
		m.From = Address{Addr: from}
		return m
	}
	record(t, s, 1, spam("s1@x", "carl@example.com")) // conversation 1, Carl's
	if err := s.Block("Pills.example", "UA", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Block("carl@EXAMPLE.com", "UA", 1, "Ev1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Block("carl@example.com", "UA", 1, "Ev1"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("redelivered reaction: %v", err)
	}
	if err := s.Block("carl@example.com", "UB", 0, ""); !errors.Is(err, ErrNoChange) {
		t.Errorf("blocked twice: %v", err)
	}
	for _, own := range []string{testInbox, "acme.test", "test"} {
		if err := s.Block(own, "UA", 0, ""); err == nil {
			t.Errorf("blocked %s, which covers an own address", own)
		}
	}
	c1, _ := s.Conv(1)
	if last := c1.History[len(c1.History)-1]; last.Action != ActBlock || last.Target != "carl@example.com" {
		t.Errorf("no history entry on the card's conversation: %+v", last)
	}

	// Stopped: not posted, counted, remembered; subdomains too.
	jobs0, _ := s.SlackJobs()
	for i, from := range []string{"a@pills.example", "b@mail.pills.example"} {
		r := record(t, s, uint32(2+i), spam("p"+from, from))
		if r.Conv != 0 || r.Skipped == "" {
			t.Errorf("mail from %s opened a conversation: %+v", from, r)
		}
	}
	if jobs, _ := s.SlackJobs(); len(jobs) != len(jobs0) {
		t.Errorf("stopped mail was queued for Slack: %+v", jobs[len(jobs0):])
	}
	bl, _ := s.Blocked()
	if len(bl) != 2 || bl[1].Key != "pills.example" || bl[1].Count != 2 || len(bl[1].Recent) != 2 || bl[1].Recent[1].From.Addr != "b@mail.pills.example" ||
		!bl[1].Last.Equal(now) || bl[0].Key != "carl@example.com" || bl[0].Count != 0 {
		t.Errorf("blocks %+v", bl)
	}
	// Not a lookalike domain.
	if r := record(t, s, 4, spam("n1@x", "x@notpills.example")); r.Conv == 0 {
		t.Errorf("notpills.example blocked: %+v", r)
	}
	// A blocked sender answering an existing conversation: shown,
	// flagged, changes nothing.
	s.Act(1, ActClose, "UA", "", "")
	r := record(t, s, 5, spam("s2@x", "carl@example.com", "s1@x"))
	if r.Conv != 1 {
		t.Fatalf("answer of a blocked sender: %+v", r)
	}
	jobs, _ := s.SlackJobs()
	if j := jobs[len(jobs)-1]; j.Kind != JobMail || !j.Blocked {
		t.Errorf("answer of a blocked sender posted as %+v", j)
	}
	if c, _ := s.Conv(1); c.Status != StatusClosed {
		t.Errorf("a blocked sender reopened the conversation: %s", c.Status)
	}

	// Nothing is mailed to them.
	if _, err := s.EnqueueReply(Reply{EventID: "R1", Conv: 1, Channel: "CIN", SlackTS: "1.1", AgentID: "UA", Text: "x", MessageID: "o1@acme.test"}); !errors.Is(err, ErrBlocked) {
		t.Errorf("reply to a blocked address: %v", err)
	}
	if ok, _ := s.Handled("CIN", "1.1"); ok {
		t.Error("a refused reply was recorded as handled")
	}
	if _, err := s.EnqueueForward(Forward{Conv: 1, To: Address{Addr: "boss@pills.example"}, MessageID: "f1@acme.test"}); !errors.Is(err, ErrBlocked) {
		t.Errorf("forward to a blocked domain: %v", err)
	}
	if _, err := s.Compose(Compose{Inbox: testInbox, To: Address{Addr: "Carl@example.com"}, Subject: "Hi", By: "UA"}); !errors.Is(err, ErrBlocked) {
		t.Errorf("new conversation with a blocked address: %v", err)
	}
	// A blocked Cc is left out; a reply held before its To was blocked
	// is cancelled at release.
	dora := mail("d1@x", "Dora")
	dora.From = Address{Addr: "dora@example.com"}
	dora.Cc = []Address{{Addr: "x@pills.example"}, {Addr: "eve@example.com"}}
	d := record(t, s, 6, dora).Conv
	job, err := s.EnqueueReply(Reply{EventID: "R2", Conv: d, Channel: "CIN", SlackTS: "2.1", AgentID: "UA", Text: "x", MessageID: "o2@acme.test", HoldUntil: now})
	if err != nil || len(job.Cc) != 1 || job.Cc[0].Addr != "eve@example.com" {
		t.Fatalf("reply with a blocked Cc: %+v %v", job, err)
	}
	if err := s.Block("dora@example.com", "UB", 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReleaseReply(job.Seq, Look{Text: "x"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("release of a reply to an address blocked meanwhile: %v", err)
	}
	if out, _ := s.MailJobs(); len(out) != 0 {
		t.Errorf("outbox %+v", out)
	}
	jobs, _ = s.SlackJobs()
	if j := jobs[len(jobs)-1]; j.Kind != JobCancelled || j.Event != EventInvalid || j.Error != "dora@example.com is blocked" {
		t.Errorf("line about the cancelled reply: %+v", j)
	}

	// Unblocked: their mail opens conversations again.
	if err := s.Unblock("PILLS.example", "UA", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Unblock("pills.example", "UA", 0, ""); !errors.Is(err, ErrNoChange) {
		t.Errorf("unblocked twice: %v", err)
	}
	if r := record(t, s, 7, spam("p3@x", "a@pills.example")); r.Conv == 0 || !r.NewConv {
		t.Errorf("after unblock: %+v", r)
	}
	if rule, _ := s.BlockedBy("X@Mail.Pills.Example"); rule != "" {
		t.Errorf("still blocked by %q", rule)
	}
	if rule, _ := s.BlockedBy("CARL@example.com"); rule != "carl@example.com" {
		t.Errorf("Carl blocked by %q", rule)
	}
}
