package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// clockStore is a store whose clock the test moves.
type clockStore struct {
	*Store
	now time.Time
}

func openClock(t *testing.T, o Options) *clockStore {
	t.Helper()
	cs := &clockStore{now: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	o.Now = func() time.Time { return cs.now }
	s, err := Open(filepath.Join(t.TempDir(), "h.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cs.Store = s
	if err := s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7}); err != nil {
		t.Fatal(err)
	}
	return cs
}

// ts is the Slack ts of the clock's time plus d.
func (cs *clockStore) ts(d time.Duration) string {
	return formatTS(cs.now.Add(d))
}

func formatTS(t time.Time) string { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) }

// posted records the root of conversation num as posted at root ts.
func posted(t *testing.T, s *Store, root string) {
	t.Helper()
	jobs, _ := s.SlackJobs()
	for _, j := range jobs {
		if j.Kind == JobMail && j.NewConv {
			if err := s.BeginSlackPart(j.Seq, 0, "CIN", true); err != nil {
				t.Fatal(err)
			}
			if err := s.SlackPartDone(j.Seq, 0, "CIN", root); err != nil {
				t.Fatal(err)
			}
			s.FinishSlackJob(j.Seq)
			return
		}
	}
	t.Fatal("no root to post")
}

func heldReply(cs *clockStore, conv uint64, ev, agent, text string, wrote time.Duration) Reply {
	ts := cs.ts(wrote)
	return Reply{EventID: ev, Conv: conv, Channel: "CIN", SlackTS: ts, AgentID: agent, AgentName: agent, Text: text,
		MessageID: "out-" + ev + "@acme.test", HoldUntil: TSTime(ts).Add(10 * time.Second)}
}

func lastSlackJob(t *testing.T, s *Store, kind string) *SlackJob {
	t.Helper()
	jobs, _ := s.SlackJobs()
	for i := len(jobs) - 1; i >= 0; i-- {
		if jobs[i].Kind == kind {
			return &jobs[i]
		}
	}
	return nil
}

func TestHoldEditRelease(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("h1@x", "Hold"))
	posted(t, cs.Store, "100.1")
	r := heldReply(cs, 1, "Ev1", "UA", "Hi Carl, frist draft", 0)
	job, err := cs.EnqueueReply(r)
	if err != nil {
		t.Fatal(err)
	}
	if !job.Held || !job.HoldUntil.Equal(TSTime(r.SlackTS).Add(10*time.Second)) || job.Channel != "CIN" {
		t.Fatalf("job not held until the message's time + delay: %+v", job)
	}
	if j := lastSlackJob(t, cs.Store, JobHeld); j == nil || j.ReplyTS != r.SlackTS {
		t.Fatalf("no hold mark queued: %+v", j)
	}
	if held, _ := cs.HeldJobs(); len(held) != 1 {
		t.Fatalf("held jobs %+v", held)
	}
	if _, mail, _ := cs.Stats(cs.now); !mail.OldestDue.IsZero() {
		t.Errorf("a held reply counts as due: %+v", mail)
	}

	// Edits inside the window: the newest wins, whatever order they come in.
	edit := Edit{EventID: "EvE2", Conv: 1, SlackTS: r.SlackTS, EditedTS: "200.2", Text: "Hi Carl, second draft"}
	if ev, err := cs.EditReply(edit); err != nil || ev != EventEdited {
		t.Fatalf("edit: %q %v", ev, err)
	}
	if _, err := cs.EditReply(edit); !errors.Is(err, ErrDuplicate) {
		t.Errorf("redelivered edit: %v", err)
	}
	if ev, _ := cs.EditReply(Edit{EventID: "EvE1", Conv: 1, SlackTS: r.SlackTS, EditedTS: "200.1", Text: "Hi Carl, first draft"}); ev != "" {
		t.Errorf("an older edit was applied: %q", ev)
	}
	if j, _ := cs.MailJob(job.Seq); j.Text != "Hi Carl, second draft" || j.EditedTS != "200.2" {
		t.Fatalf("after edits: %+v", j)
	}
	// The bot's look at the message was taken before the latest edit:
	// the edit is kept.
	rel, q, err := cs.ReleaseReply(job.Seq, Look{Text: "Hi Carl, frist draft"})
	if err != nil || q != nil {
		t.Fatalf("release: %v %+v", err, q)
	}
	if rel.Held || rel.Text != "Hi Carl, second draft" {
		t.Errorf("released %+v", rel)
	}
	if _, _, err := cs.ReleaseReply(job.Seq, Look{Text: "x"}); !errors.Is(err, ErrNotHeld) {
		t.Errorf("second release: %v", err)
	}
	if _, err := cs.CancelReply(job.Seq, "UA"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("cancel after release: %v", err)
	}
	// Released, not sent yet: an edit is too late.
	if ev, _ := cs.EditReply(Edit{EventID: "EvE3", Conv: 1, SlackTS: r.SlackTS, EditedTS: "200.3", Text: "third"}); ev != EventEditedLate {
		t.Errorf("edit after release: %q", ev)
	}
	cs.now = cs.now.Add(time.Minute)
	if err := cs.MailDone(job.Seq, ""); err != nil {
		t.Fatal(err)
	}
	c, _ := cs.Conv(1)
	if ref := replyRef(c, byTS(r.SlackTS)); ref == nil || ref.State != ReplySent || !ref.At.Equal(cs.now) {
		t.Fatalf("reply ref %+v", ref)
	}
	if c.LastAgent != "UA" || c.Status != StatusWaiting {
		t.Errorf("after sending: %+v", c)
	}
	ev, _ := cs.EditReply(Edit{EventID: "EvD", Conv: 1, SlackTS: r.SlackTS, Deleted: true})
	line := lastSlackJob(t, cs.Store, JobReplyLine)
	if ev != EventDeletedLate || line.Event != EventDeletedLate || !line.At.Equal(cs.now) || line.Error != ReplySent {
		t.Errorf("deletion after sending: %q %+v", ev, line)
	}
	// Not a reply at all (a note): nothing.
	if ev, err := cs.EditReply(Edit{EventID: "EvN", Conv: 1, SlackTS: "999.9", EditedTS: "1000.1", Text: "x"}); ev != "" || err != nil {
		t.Errorf("edit of a message that is no reply: %q %v", ev, err)
	}
}

func TestHoldCancelled(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("c1@x", "Cancel"))
	posted(t, cs.Store, "100.1")
	for i, tc := range []struct {
		name  string
		do    func(seq uint64, r Reply) error
		event string
	}{
		{"deleted", func(_ uint64, r Reply) error {
			_, err := cs.EditReply(Edit{EventID: "EvDel", Conv: 1, SlackTS: r.SlackTS, Deleted: true})
			return err
		}, EventDeleted},
		{"note", func(_ uint64, r Reply) error {
			_, err := cs.EditReply(Edit{EventID: "EvNote", Conv: 1, SlackTS: r.SlackTS, EditedTS: "300.1", Note: true})
			return err
		}, EventNote},
		{"button", func(seq uint64, _ Reply) error {
			if _, err := cs.CancelReply(seq, "UB"); !errors.Is(err, ErrNotAuthor) {
				t.Errorf("cancel by someone else: %v", err)
			}
			_, err := cs.CancelReply(seq, "UA")
			return err
		}, EventCancelled},
		{"unseen", func(seq uint64, _ Reply) error { return cs.CancelHeld(seq, EventDeleted, "") }, EventDeleted},
	} {
		r := heldReply(cs, 1, "Ev"+tc.name, "UA", "text "+tc.name, time.Duration(i)*time.Second)
		job, err := cs.EnqueueReply(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.do(job.Seq, r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := cs.MailJob(job.Seq); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: job still in the outbox", tc.name)
		}
		j := lastSlackJob(t, cs.Store, JobCancelled)
		if j == nil || j.Event != tc.event || j.ReplyTS != r.SlackTS {
			t.Errorf("%s: cancel line %+v", tc.name, j)
		}
		c, _ := cs.Conv(1)
		if ref := replyRef(c, byTS(r.SlackTS)); ref.State != ReplyCancelled || slices.Contains(c.Chain, r.MessageID) {
			t.Errorf("%s: %+v, chain %v", tc.name, ref, c.Chain)
		}
		// A later edit of the cancelled reply does nothing.
		if ev, _ := cs.EditReply(Edit{EventID: "EvAfter" + tc.name, Conv: 1, SlackTS: r.SlackTS, EditedTS: "400.1", Text: "y"}); ev != "" {
			t.Errorf("%s: edit after cancel: %q", tc.name, ev)
		}
		// An answer quoting the cancelled Message-ID opens a new conversation.
		if rec := record(t, cs.Store, uint32(10+i), mail("ans-"+tc.name+"@x", "Re", r.MessageID)); rec.Conv == 1 {
			t.Errorf("%s: the cancelled reply's Message-ID still threads", tc.name)
		}
	}
}

func TestCollisionGuard(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("g1@x", "Guard"))
	posted(t, cs.Store, "100.1")

	// The customer writes again while Alice's reply is held.
	ra := heldReply(cs, 1, "EvA", "UA", "from Alice", 0)
	a, _ := cs.EnqueueReply(ra)
	cs.now = cs.now.Add(5 * time.Second)
	record(t, cs.Store, 2, mail("g2@x", "Re: Guard", "g1@x"))
	cs.now = cs.now.Add(5 * time.Second)
	job, q, err := cs.ReleaseReply(a.Seq, Look{Text: "from Alice"})
	if err != nil || q == nil || len(q.Why) != 1 || !q.Why[0].Customer || q.Why[0].Who != "carl@example.com" {
		t.Fatalf("release with the customer's new mail: %v %+v", err, q)
	}
	if !job.Held || !q.Expires.Equal(cs.now.Add(QuestionTTL)) {
		t.Errorf("asked job %+v", job)
	}
	if _, _, err := cs.ReleaseReply(a.Seq, Look{Text: "from Alice"}); !errors.Is(err, ErrNotHeld) {
		t.Errorf("release while asked: %v", err)
	}
	if err := cs.QuestionShown(a.Seq); err != nil {
		t.Fatal(err)
	}
	// Send anyway: what was shown no longer holds it back, and it now
	// answers the customer's latest mail.
	if _, err := cs.SendNow(a.Seq, "UB"); !errors.Is(err, ErrNotAuthor) {
		t.Errorf("send anyway by someone else: %v", err)
	}
	if _, err := cs.SendNow(a.Seq, "UA"); err != nil {
		t.Fatal(err)
	}
	job, q, err = cs.ReleaseReply(a.Seq, Look{Text: "from Alice"})
	if err != nil || q != nil || job.Held || job.InReplyTo != "g2@x" {
		t.Fatalf("after send anyway: %v %+v %+v", err, q, job)
	}

	// Bob replies while Carl's latest is answered by Alice's reply held:
	// Bob wrote after Alice, so Alice is asked; Bob saw hers, so he is not.
	record(t, cs.Store, 3, mail("g3@x", "Re: Guard", "g2@x"))
	cs.now = cs.now.Add(time.Minute)
	ra2 := heldReply(cs, 1, "EvA2", "UA", "Alice again", 0)
	a2, _ := cs.EnqueueReply(ra2)
	rb := heldReply(cs, 1, "EvB", "UB", "Bob too", 5*time.Second)
	b, _ := cs.EnqueueReply(rb)
	cs.now = cs.now.Add(10 * time.Second)
	_, q, _ = cs.ReleaseReply(a2.Seq, Look{Text: "Alice again"})
	if q == nil || len(q.Why) != 1 || q.Why[0].Customer || q.Why[0].Who != "UB" || q.Why[0].State != ReplyHeld {
		t.Fatalf("Alice not asked about Bob's reply: %+v", q)
	}
	if _, q, err := cs.ReleaseReply(b.Seq, Look{Text: "Bob too"}); q != nil || err != nil {
		t.Fatalf("Bob asked about a reply he could see: %+v %v", q, err)
	}
	if j := lastSlackJob(t, cs.Store, JobActivity); j == nil || j.Change.Action != ActReplyOver || j.Change.By != "UB" || j.Change.Target != "UA" {
		t.Errorf("no line about Bob replying in Alice's conversation: %+v", j)
	}
	// Unanswered, the question expires after a day.
	if done, _ := cs.ExpireQuestion(a2.Seq); done {
		t.Fatal("expired early")
	}
	cs.now = cs.now.Add(QuestionTTL)
	if done, err := cs.ExpireQuestion(a2.Seq); !done || err != nil {
		t.Fatalf("not expired: %v", err)
	}
	if j := lastSlackJob(t, cs.Store, JobCancelled); j.Event != EventExpired || j.ReplyTS != ra2.SlackTS {
		t.Errorf("expiry line %+v", j)
	}
}

// The bot released a reply with an edit it read from Slack; the event of
// that same edit, redelivered after a restart, is no news.
func TestEditAlreadyInReleasedMail(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("e1@x", "Edit"))
	posted(t, cs.Store, "100.1")
	r := heldReply(cs, 1, "Ev1", "UA", "draft", 0)
	job, _ := cs.EnqueueReply(r)
	if _, q, err := cs.ReleaseReply(job.Seq, Look{Text: "final", EditedTS: "300.1"}); err != nil || q != nil {
		t.Fatal(err, q)
	}
	if ev, err := cs.EditReply(Edit{EventID: "EvRedelivered", Conv: 1, SlackTS: r.SlackTS, EditedTS: "300.1", Text: "final"}); ev != "" || err != nil {
		t.Errorf("the edit the mail has: %q %v", ev, err)
	}
	if ev, _ := cs.EditReply(Edit{EventID: "EvLater", Conv: 1, SlackTS: r.SlackTS, EditedTS: "300.2", Text: "later"}); ev != EventEditedLate {
		t.Errorf("a later edit: %q", ev)
	}
}

// HeldJobs reads the outbox in slices: the held jobs of every slice are
// found, in order, among the jobs waiting for the sender.
func TestHeldJobsAcrossSlices(t *testing.T) {
	cs := openClock(t, Options{NoSync: true})
	record(t, cs.Store, 1, mail("hs@x", "Slices"))
	var want []uint64
	for i := range 3*queueSlice + 5 {
		r := heldReply(cs, 1, fmt.Sprintf("Ev%d", i), "UA", "text", time.Duration(i)*time.Millisecond)
		if i%7 != 3 {
			r.HoldUntil = time.Time{} // ready for the sender
		}
		job, err := cs.EnqueueReply(r)
		if err != nil {
			t.Fatal(err)
		}
		if job.Held {
			want = append(want, job.Seq)
		}
	}
	held, err := cs.HeldJobs()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, j := range held {
		if !j.Held || j.Text != "text" {
			t.Errorf("not a held job: %+v", j)
		}
		got = append(got, j.Seq)
	}
	if !slices.Equal(got, want) {
		t.Errorf("held jobs %v, want %v", got, want)
	}
}
