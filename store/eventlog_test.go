package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// allEvents reads the whole event log.
func allEvents(t *testing.T, s *Store) []Event {
	t.Helper()
	var out []Event
	err := s.Events(time.Unix(0, 0), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), func(e *Event) error {
		out = append(out, *e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastEvent is the latest event logged about conversation num.
func lastEvent(t *testing.T, s *Store, num uint64) Event {
	t.Helper()
	var last Event
	for _, e := range allEvents(t, s) {
		if e.Conv == num {
			last = e
		}
	}
	return last
}

// evLine is an event as the tests compare it: what it says, with times as
// offsets from t0 in minutes.
func evLine(e Event, t0 time.Time) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprint(int(t.Sub(t0).Minutes()))
	}
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{e.First, "first"}, {e.Auto, "auto"}, {e.Outbound, "outbound"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	return fmt.Sprintf("%s #%d %s by=%s target=%s since=%s wait=%s %s", at(e.At), e.Conv, e.Kind, e.By, e.Target,
		at(e.Since), at(e.Wait), strings.Join(flags, ","))
}

func evLines(es []Event, t0 time.Time) []string {
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimSpace(evLine(e, t0)))
	}
	return out
}

// Each change logs its event once, in its own transaction: a refused or
// repeated change logs nothing, nor does what is not a change of the
// conversation (a failed reply, a forward, a bounce).
func TestEventLogRecordsEachChangeOnce(t *testing.T) {
	cs := openClock(t, Options{})
	t0 := cs.now
	step := func() { cs.now = cs.now.Add(time.Minute) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	record(t, cs.Store, 1, mail("m1@x", "Printer")) // 0: opens #1
	step()
	_, err := cs.Act(1, ActClaim, "UA", "", "Ev1") // 1
	must(err)
	if _, err := cs.Act(1, ActClaim, "UA", "", "Ev1"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("redelivery: %v", err)
	}
	if _, err := cs.Act(1, ActClaim, "UA", "", ""); !errors.Is(err, ErrNoChange) {
		t.Fatalf("no change: %v", err)
	}
	step()
	job, err := cs.EnqueueReply(Reply{EventID: "Ev2", Conv: 1, Channel: "CIN", SlackTS: cs.ts(0), AgentID: "UA", MessageID: "out1@acme.test"})
	must(err)
	step()
	must(cs.MailDone(job.Seq, "")) // 3: the first reply, answering the wait since 0
	step()
	job, err = cs.EnqueueReply(Reply{EventID: "Ev3", Conv: 1, Channel: "CIN", SlackTS: cs.ts(0), AgentID: "UA", MessageID: "out2@acme.test"})
	must(err)
	must(cs.MailDone(job.Seq, "connection refused")) // failed: not a reply sent
	step()
	record(t, cs.Store, 2, mail("m2@x", "Re: Printer", "out1@acme.test")) // 5: the customer answers
	step()
	auto := mail("m3@x", "Out of office", "out1@acme.test")
	auto.Auto = true
	record(t, cs.Store, 3, auto) // 6: an auto-reply, no wait of its own
	step()
	_, err = cs.Act(1, ActClose, "UB", "", "") // 7: closed while the customer waited since 5
	must(err)
	step()
	record(t, cs.Store, 4, mail("m4@x", "Re: Printer", "out1@acme.test")) // 8: reopens
	step()
	job, err = cs.EnqueueReply(Reply{EventID: "Ev4", Conv: 1, Channel: "CIN", SlackTS: cs.ts(0), AgentID: "UB", MessageID: "out3@acme.test"})
	must(err)
	must(cs.MailDone(job.Seq, "")) // 9: a next reply, by someone else than the owner
	step()
	_, err = cs.Act(1, ActHold, "UB", "", "") // 10
	must(err)
	step()
	_, err = cs.Act(1, ActReopen, "UB", "", "") // 11: from hold: not a new resolution cycle
	must(err)
	step()
	_, err = cs.Act(1, ActAssign, "UA", "UB", "") // 12
	must(err)
	step()
	_, err = cs.Act(1, ActClose, "UB", "", "") // 13: resolution counts from the reopen at 8
	must(err)
	step()
	record(t, cs.Store, 5, mail("m5@x", "Another")) // 14: opens #2, replied to without an owner
	step()
	job, err = cs.EnqueueReply(Reply{EventID: "Ev5", Conv: 2, Channel: "CIN", SlackTS: cs.ts(0), AgentID: "UC", MessageID: "out4@acme.test"})
	must(err) // 15: claimed by the reply
	step()
	must(cs.MailDone(job.Seq, "")) // 16
	step()
	fwd, err := cs.EnqueueForward(Forward{Conv: 2, To: Address{Addr: "boss@example.com"}, AgentID: "UC", MessageID: "fwd@acme.test"})
	must(err)
	must(cs.MailDone(fwd.Seq, "")) // a forward is not a reply
	step()
	_, err = cs.Compose(Compose{Inbox: testInbox, To: Address{Addr: "lead@example.com"}, Subject: "Offer", By: "UA"}) // 18: #3
	must(err)
	step()
	job, err = cs.EnqueueReply(Reply{EventID: "Ev6", Conv: 3, Channel: "CIN", SlackTS: cs.ts(0), AgentID: "UA", MessageID: "out5@acme.test"})
	must(err)
	must(cs.MailDone(job.Seq, "")) // 19: the first mail of an outbound conversation: nobody waited
	step()
	bounce := mail("b1@x", "Undelivered", "out5@acme.test")
	bounce.Auto, bounce.Report = true, &DeliveryReport{OriginalMessageID: "out5@acme.test", Action: "failed", Status: "5.1.1"}
	record(t, cs.Store, 6, bounce) // goes on the reply, not into the conversation

	want := []string{
		"0 #1 opened by= target=carl@example.com since=- wait=-",
		"1 #1 assigned by=UA target=UA since=- wait=-",
		"3 #1 replied by=UA target= since=0 wait=- first",
		"5 #1 received by= target=carl@example.com since=- wait=-",
		"5 #1 reopened by= target=waiting since=- wait=-",
		"6 #1 received by= target=carl@example.com since=- wait=- auto",
		"7 #1 closed by=UB target=open since=0 wait=5",
		"8 #1 received by= target=carl@example.com since=- wait=-",
		"8 #1 reopened by= target=closed since=- wait=-",
		"9 #1 replied by=UB target= since=8 wait=-",
		"10 #1 hold by=UB target=waiting since=- wait=-",
		"11 #1 reopened by=UB target=hold since=- wait=-",
		"12 #1 assigned by=UA target=UB since=- wait=-",
		"13 #1 closed by=UB target=open since=8 wait=-",
		"14 #2 opened by= target=carl@example.com since=- wait=-",
		"15 #2 assigned by=UC target=UC since=- wait=-",
		"16 #2 replied by=UC target= since=14 wait=- first",
		"18 #3 opened by=UA target=lead@example.com since=- wait=- outbound",
		"19 #3 replied by=UA target= since=- wait=-",
	}
	got := allEvents(t, cs.Store)
	if !reflect.DeepEqual(evLines(got, t0), want) {
		t.Errorf("event log:\n%s\nwant:\n%s", strings.Join(evLines(got, t0), "\n"), strings.Join(want, "\n"))
	}
	for _, e := range got {
		if e.Inbox != testInbox {
			t.Errorf("event without its inbox: %+v", e)
		}
	}
	c1, _ := cs.Conv(1)
	if !c1.Awaiting.IsZero() || !c1.FirstReply.Equal(t0.Add(3*time.Minute)) || !c1.Reopened.Equal(t0.Add(8*time.Minute)) {
		t.Errorf("timing of #1: awaiting %v, first reply %v, reopened %v", c1.Awaiting, c1.FirstReply, c1.Reopened)
	}

	// A period is a range of the log: [from, to).
	var n int
	cs.Events(t0.Add(5*time.Minute), t0.Add(8*time.Minute), func(e *Event) error { n++; return nil })
	if n != 4 {
		t.Errorf("events in [5, 8): %d, want 4", n)
	}
	stop := errors.New("stop")
	if err := cs.Events(t0, t0.Add(time.Hour), func(e *Event) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("an error of f is not returned: %v", err)
	}
}

// A customer waiting at the close is recorded as such: a close ends the
// wait, and the wait of a conversation never answered is for its first
// reply.
func TestEventLogCloseUnanswered(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("m1@x", "Spam"))
	cs.now = cs.now.Add(time.Hour)
	if _, err := cs.Act(1, ActClose, "UA", "", ""); err != nil {
		t.Fatal(err)
	}
	es := allEvents(t, cs.Store)
	if len(es) != 2 || es[1].Kind != EvClosed || !es[1].First || !es[1].Wait.Equal(es[0].At.Truncate(time.Second)) {
		t.Fatalf("events %+v", es)
	}
	if c, _ := cs.Conv(1); !c.Awaiting.IsZero() {
		t.Errorf("closed, still awaiting since %v", c.Awaiting)
	}
}

func TestEventEncoding(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 0, 0, 123, time.UTC)
	e := Event{At: at, Kind: EvClosed, Conv: 123456, Inbox: "support@acme.test", By: "U0123ABCD", Target: "open",
		Since: at.Add(-time.Hour).Truncate(time.Second), Wait: at.Add(-time.Minute).Truncate(time.Second), First: true}
	v := e.encode()
	if len(v) > 48 {
		t.Errorf("%d bytes for a close: not compact", len(v))
	}
	k := append(nanoKey(at), u64(7)...)
	var got Event
	if err := decodeEvent(k, v, &got); err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(e.At) || !got.Since.Equal(e.Since) || !got.Wait.Equal(e.Wait) {
		t.Errorf("times %v %v %v", got.At, got.Since, got.Wait)
	}
	got.At, got.Since, got.Wait = e.At, e.Since, e.Wait
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip %+v, want %+v", got, e)
	}
	// A record written by a later version, with fields appended, reads.
	if err := decodeEvent(k, append(v, 1, 2, 3), &got); err != nil || got.Target != "open" {
		t.Errorf("with fields appended: %+v %v", got, err)
	}
	for i := range len(v) - 1 {
		if err := decodeEvent(k, v[:i], &got); err == nil && i < len(v)-len("open") {
			t.Errorf("a record cut at %d bytes decoded: %+v", i, got)
		}
	}
	if err := decodeEvent(k[:8], v, &got); err == nil {
		t.Error("a short key decoded")
	}
}

// Pruning deletes exactly the events before the cutoff, however many,
// including runs of consecutive keys and more than one batch.
func TestPruneEventLog(t *testing.T) {
	s, _ := openTest(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 2*pruneBatch + 500
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			if err := logEvent(tx, Event{At: t0.Add(time.Duration(i) * time.Minute), Kind: EvReceived, Conv: uint64(i), Inbox: testInbox}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	keep := 1000
	cutoff := t0.Add(time.Duration(n-keep) * time.Minute)
	pruned, err := s.PruneEventLog(cutoff)
	if err != nil || pruned != n-keep {
		t.Fatalf("pruned %d %v, want %d", pruned, err, n-keep)
	}
	es := allEvents(t, s)
	if len(es) != keep || es[0].At.Before(cutoff) || es[0].Conv != uint64(n-keep) {
		t.Fatalf("%d events left, first %+v", len(es), es[0])
	}
	if pruned, err := s.PruneEventLog(cutoff); err != nil || pruned != 0 {
		t.Errorf("second prune: %d %v", pruned, err)
	}
}

// A week's digest is queued once: its mark and its job are one
// transaction, and an older or equal slot is refused.
func TestQueueDigestOnce(t *testing.T) {
	s, path := openTest(t)
	mon := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	if last, err := s.LastDigest(testInbox); err != nil || !last.IsZero() {
		t.Fatalf("no digest yet: %v %v", last, err)
	}
	if q, err := s.QueueDigest(testInbox, mon.Add(-7*24*time.Hour), ""); err != nil || q {
		t.Fatalf("a mark only: %v %v", q, err)
	}
	if q, err := s.QueueDigest(testInbox, mon, "digest of the week"); err != nil || !q {
		t.Fatalf("queue: %v %v", q, err)
	}
	for _, slot := range []time.Time{mon, mon.Add(-7 * 24 * time.Hour)} {
		if q, err := s.QueueDigest(testInbox, slot, "again"); err != nil || q {
			t.Errorf("slot %v queued twice: %v %v", slot, q, err)
		}
	}
	if q, _ := s.QueueDigest("billing@acme.test", mon, "billing's"); !q {
		t.Error("another inbox's digest refused")
	}
	s.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if last, _ := s.LastDigest(testInbox); !last.Equal(mon) {
		t.Errorf("mark after a restart %v", last)
	}
	if q, _ := s.QueueDigest(testInbox, mon, "after restart"); q {
		t.Error("queued twice across a restart")
	}
	jobs, _ := s.SlackJobs()
	if len(jobs) != 2 || jobs[0].Kind != JobDigest || jobs[0].Inbox != testInbox || jobs[0].Text != "digest of the week" || jobs[1].Inbox != "billing@acme.test" {
		t.Errorf("jobs %+v", jobs)
	}
}
