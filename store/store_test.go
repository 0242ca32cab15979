package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const testInbox = "support@acme.test"

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenModeAndLock(t *testing.T) {
	s, path := openTest(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
	if v, err := s.Schema(); err != nil || v != SchemaVersion() {
		t.Errorf("schema %d %v, want %d", v, err, SchemaVersion())
	}
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wide.db")
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// Each migration is tested from the state before it.
func TestMigration1CreatesBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v0.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A version-0 file: only meta, no version.
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bMeta); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMailboxes, bConvs, bThreads, bMsgIDs, bToSlack, bToMail, bEvents} {
			if tx.Bucket(b) == nil {
				t.Errorf("bucket %s missing", b)
			}
		}
		if v := getU64(tx.Bucket(bMeta).Get(kSchema)); v != SchemaVersion() {
			t.Errorf("schema %d, want %d", v, SchemaVersion())
		}
		return nil
	})
}

func TestRefusesNewerSchema(t *testing.T) {
	s, path := openTest(t)
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, u64(SchemaVersion()+1)) })
	s.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("opened a file with a newer schema")
	}
}

func mail(id, subject string, inReplyTo ...string) *InboundMail {
	return &InboundMail{
		MessageID: id, InReplyTo: inReplyTo, Subject: subject,
		From: Address{Name: "Carl Customer", Addr: "carl@example.com"}, Text: "hello " + subject,
	}
}

func record(t *testing.T, s *Store, uid uint32, m *InboundMail) Recorded {
	t.Helper()
	r, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: uid, Mail: m}})
	if err != nil {
		t.Fatal(err)
	}
	return r[0]
}

func TestRecordInboundThreading(t *testing.T) {
	s, _ := openTest(t)
	if err := s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7, LastUID: 10}); err != nil {
		t.Fatal(err)
	}
	if r := record(t, s, 10, mail("old@x", "old")); r.Skipped == "" {
		t.Fatalf("UID at the watermark was recorded: %+v", r)
	}
	r1 := record(t, s, 11, mail("a@x", "Printer on fire"))
	if r1.Conv != 1 || !r1.NewConv {
		t.Fatalf("first mail: %+v", r1)
	}
	r2 := record(t, s, 12, mail("b@x", "Another topic"))
	if r2.Conv != 2 || !r2.NewConv {
		t.Fatalf("second mail: %+v", r2)
	}
	// Reply by In-Reply-To.
	if r := record(t, s, 13, mail("c@x", "Re: Printer on fire", "a@x")); r.Conv != 1 || r.NewConv {
		t.Fatalf("reply: %+v", r)
	}
	// Reply whose client dropped In-Reply-To but kept References (newest matching wins).
	m := mail("d@x", "Re: other")
	m.References = []string{"unknown@x", "b@x", "nope@y"}
	if r := record(t, s, 14, m); r.Conv != 2 {
		t.Fatalf("references: %+v", r)
	}
	// A re-fetch after a crash records nothing twice.
	if r := record(t, s, 14, mail("d@x", "dup")); r.Skipped == "" {
		t.Fatal("same UID recorded twice")
	}
	// A sender reusing a Message-ID still gets through in normal operation.
	if r := record(t, s, 15, mail("a@x", "Reused id")); r.Skipped != "" {
		t.Fatalf("reused Message-ID dropped: %+v", r)
	}
	// ...but is skipped in a re-scan.
	r, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: 16, Mail: mail("a@x", "rescan"), DedupByID: true}})
	if err != nil || r[0].Skipped == "" {
		t.Fatalf("rescan duplicate: %+v %v", r, err)
	}
	w, ok, err := s.Watermark(testInbox, "INBOX")
	if err != nil || !ok || w.LastUID != 16 {
		t.Fatalf("watermark %+v %v %v", w, ok, err)
	}
	jobs, err := s.SlackJobs()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, j := range jobs {
		got = append(got, j.Conv)
	}
	if want := []uint64{1, 2, 1, 2, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("queued conversations %v, want %v", got, want)
	}
	if _, err := s.RecordInbound(testInbox, "INBOX", 8, []Inbound{{UID: 17, Mail: mail("e@x", "x")}}); !errors.Is(err, ErrUIDValidity) {
		t.Errorf("UIDVALIDITY change: %v", err)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	m := mail("first@x", "Re: RE: Aw: Invoice")
	m.ReplyTo = &Address{Addr: "billing@example.com"}
	m.References = []string{"earlier@x"}
	record(t, s, 1, m)
	jobs, _ := s.SlackJobs()
	if err := s.BeginSlackPart(jobs[0].Seq, 0, "CIN", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SlackPartDone(jobs[0].Seq, 0, "CIN", "111.222"); err != nil {
		t.Fatal(err)
	}
	c, err := s.ConvByThread("CIN", "111.222")
	if err != nil || c.Num != 1 {
		t.Fatalf("thread lookup: %+v %v", c, err)
	}
	r := Reply{EventID: "Ev1", Conv: 1, Channel: "CIN", SlackTS: "111.333", AgentID: "UA", AgentName: "Alice", Text: "On it", MessageID: "ib.1.abc@acme.test"}
	job, err := s.EnqueueReply(r)
	if err != nil {
		t.Fatal(err)
	}
	if job.Inbox != testInbox || job.To.Addr != "billing@example.com" || job.Subject != "Re: Invoice" || job.InReplyTo != "first@x" ||
		!reflect.DeepEqual(job.References, []string{"earlier@x", "first@x"}) {
		t.Errorf("job headers: %+v", job)
	}
	if _, err := s.EnqueueReply(r); !errors.Is(err, ErrDuplicate) {
		t.Errorf("redelivered event: %v", err)
	}
	r.EventID = "Ev2" // same Slack message under another event ID
	if _, err := s.EnqueueReply(r); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same message twice: %v", err)
	}
	// Our own reply coming back into the inbox is not posted again.
	if rec := record(t, s, 2, mail("ib.1.abc@acme.test", "Re: Invoice")); rec.Skipped == "" {
		t.Error("own reply posted as customer mail")
	}
	// The customer's answer to our reply threads.
	if rec := record(t, s, 3, mail("third@x", "Re: Invoice", "ib.1.abc@acme.test")); rec.Conv != 1 {
		t.Errorf("answer to our reply: %+v", rec)
	}
	if err := s.BeginMailAttempt(job.Seq, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MailDone(job.Seq, ""); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.MailJobs(); len(out) != 0 {
		t.Errorf("outbox not empty: %+v", out)
	}
	c, _ = s.Conv(1)
	if c.Assignee != "UA" {
		t.Errorf("replier not made owner: %+v", c)
	}
	jobs, _ = s.SlackJobs()
	last := jobs[len(jobs)-1]
	if last.Kind != JobSent || last.ReplyTS != "111.333" {
		t.Errorf("sent notice: %+v", last)
	}
}

func TestPruneEvents(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if dup, _ := s.MarkEvent("old"); dup {
		t.Fatal("fresh event reported as duplicate")
	}
	now = now.Add(8 * 24 * time.Hour)
	s.MarkEvent("new")
	if n, err := s.PruneEvents(now.Add(-7 * 24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if dup, _ := s.MarkEvent("new"); !dup {
		t.Error("recent event forgotten")
	}
}

func TestActRulesAndHistory(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("w1@x", "Workflow"))
	steps := []struct {
		action, by, target, event string
		want                      error
		status                    Status
		assignee                  string
	}{
		{ActClaim, "UA", "", "", nil, StatusOpen, "UA"},
		{ActClaim, "UA", "", "", ErrNoChange, StatusOpen, "UA"},
		{ActUnclaim, "UB", "", "", ErrNotOwner, StatusOpen, "UA"},
		{ActAssign, "UA", "UB", "", nil, StatusOpen, "UB"},
		{ActUnassign, "UA", "", "", nil, StatusOpen, ""},
		{ActUnassign, "UA", "", "", ErrNoChange, StatusOpen, ""},
		{ActHold, "UB", "", "", nil, StatusHold, ""},
		{ActClose, "UB", "", "Ev1", nil, StatusClosed, ""},
		{ActReopen, "UB", "", "Ev1", ErrDuplicate, StatusClosed, ""}, // redelivered event
		{ActClose, "UB", "", "", ErrNoChange, StatusClosed, ""},
		{ActReopen, "UA", "", "Ev2", nil, StatusOpen, ""},
		{ActReopen, "UA", "", "", ErrNoChange, StatusOpen, ""},
	}
	for i, st := range steps {
		_, err := s.Act(1, st.action, st.by, st.target, st.event)
		if !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Fatalf("step %d %s: err %v, want %v", i, st.action, err, st.want)
		}
		c, _ := s.Conv(1)
		if c.Status != st.status || c.Assignee != st.assignee {
			t.Fatalf("step %d %s: status %s assignee %q", i, st.action, c.Status, c.Assignee)
		}
	}
	c, _ := s.Conv(1)
	var acts []string
	for _, h := range c.History {
		acts = append(acts, h.Action+":"+h.By)
	}
	want := []string{"claimed:UA", "assigned:UA", "unassigned:UA", "hold:UB", "closed:UB", "reopened:UA"}
	if !reflect.DeepEqual(acts, want) {
		t.Errorf("history %v, want %v", acts, want)
	}
	jobs, _ := s.SlackJobs()
	if n := len(jobs); n != 1+len(want) || jobs[n-1].Kind != JobActivity || jobs[n-1].Change.Action != ActReopen {
		t.Errorf("activity jobs: %d, last %+v", n, jobs[n-1])
	}
	if _, err := s.Act(99, ActClaim, "UA", "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
}

func TestCustomerReplyReopensButAutoReplyDoesNot(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("a1@x", "Reopen"))
	s.Act(1, ActAssign, "UA", "UB", "")
	s.Act(1, ActClose, "UA", "", "")
	auto := mail("a2@x", "Out of office", "a1@x")
	auto.Auto = true
	auto.From = Address{Addr: "mailer-daemon@x"}
	record(t, s, 2, auto)
	if c, _ := s.Conv(1); c.Status != StatusClosed || c.ReplyTo.Addr != "carl@example.com" {
		t.Fatalf("auto-reply changed the conversation: %+v", c)
	}
	record(t, s, 3, mail("a3@x", "Re: Reopen", "a1@x"))
	c, _ := s.Conv(1)
	if c.Status != StatusOpen || c.Assignee != "UB" {
		t.Fatalf("customer reply: status %s assignee %q", c.Status, c.Assignee)
	}
	jobs, _ := s.SlackJobs()
	last := jobs[len(jobs)-1]
	if last.Kind != JobActivity || last.Change.Action != ActReopen || last.Change.Target != "customer" {
		t.Errorf("no reopen line queued after the mail: %+v", last)
	}
}

func TestTSBefore(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "1.000001", true},
		{"1700000000.000100", "1700000000.000200", true},
		{"1700000000.000200", "1700000000.000100", false},
		{"999999999.999999", "1000000000.000000", true},
		{"1700000001.000000", "1700000000.999999", false},
		{"1700000000.000100", "1700000000.000100", false},
	} {
		if got := TSBefore(tc.a, tc.b); got != tc.want {
			t.Errorf("TSBefore(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// A record that does not decode is an error, never taken for an absent
// one: a mail naming a damaged Message-ID record is not recorded (the
// watermark stays, so it is fetched again) instead of opening a
// conversation of its own; an event about a thread is not decided on a
// damaged parked event.
func TestDamagedRecordsAreErrors(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("dm1@x", "Damaged"))
	damage := func(bucket, key []byte) {
		t.Helper()
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, []byte("{not json")) }); err != nil {
			t.Fatal(err)
		}
	}
	damage(bMsgIDs, []byte("dm1@x"))
	for _, m := range []*InboundMail{mail("dm2@x", "An answer", "dm1@x"), mail("dm1@x", "The same mail again")} {
		if _, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: 2, Mail: m}}); err == nil {
			t.Errorf("%s recorded past a damaged Message-ID record", m.MessageID)
		}
	}
	if w, _, _ := s.Watermark(testInbox, "INBOX"); w.LastUID != 1 {
		t.Errorf("watermark %d after a failed record", w.LastUID)
	}
	if n, _ := s.Count([]string{testInbox}, time.Time{}); n.Open != 1 {
		t.Errorf("%d open conversations", n.Open)
	}

	posted(t, s, "1.1")
	damage(bParked, u64(1))
	if _, _, err := s.Park("CIN", "1.1", []byte(`{}`)); err == nil {
		t.Error("Park decided past a damaged parked event")
	}
}
