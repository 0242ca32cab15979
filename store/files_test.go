package store

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

func mailWithFiles(id string, refs ...string) *InboundMail {
	m := mail(id, "Files")
	for i, ref := range refs {
		m.Attachments = append(m.Attachments, Attachment{Name: "f" + string(rune('a'+i)) + ".pdf", Type: "application/pdf", Size: 10, Ref: ref})
	}
	return m
}

func slackJob(t *testing.T, s *Store, seq uint64) SlackJob {
	t.Helper()
	jobs, _ := s.SlackJobs()
	for _, j := range jobs {
		if j.Seq == seq {
			return j
		}
	}
	t.Fatalf("no slack job %d", seq)
	return SlackJob{}
}

// An upload part: its file ID is recorded between Begin and Done, cleared
// by a fresh attempt, a retry that knows nothing happened and Done; a part
// given up becomes a line (FileErrors) and is attempted afresh.
func TestUploadPartRecords(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mailWithFiles("u1@x", "in-1", "in-2"))
	seq := lastSlackJob(t, cs.Store, JobMail).Seq
	if err := cs.SlackFileStarted(seq, 0, "F1"); err == nil {
		t.Error("a file recorded for a part not begun")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.BeginSlackPart(seq, 0, "CIN", false))
	must(cs.SlackFileStarted(seq, 0, "F1"))
	must(cs.RetrySlackJob(seq, cs.now.Add(time.Second), "lost answer", true, true))
	if j := slackJob(t, cs.Store, seq); j.FileID != "F1" || !j.Attempting {
		t.Errorf("after an unknown outcome: %+v", j)
	}
	must(cs.RetrySlackJob(seq, cs.now.Add(time.Second), "refused", false, true))
	if j := slackJob(t, cs.Store, seq); j.FileID != "" || j.Attempting {
		t.Errorf("after a refusal: %+v", j)
	}
	must(cs.BeginSlackPart(seq, 0, "CIN", false))
	must(cs.SlackFileStarted(seq, 0, "F2"))
	must(cs.BeginSlackPart(seq, 0, "CIN", false)) // the lookup said: start over
	if j := slackJob(t, cs.Store, seq); j.FileID != "" {
		t.Errorf("a fresh attempt kept the old file: %+v", j)
	}
	must(cs.SlackFileStarted(seq, 0, "F3"))
	must(cs.SlackFileDone(seq, 0, "F3", "in-1"))
	must(cs.SlackFileDone(seq, 0, "F3", "in-1")) // a repeat
	if j := slackJob(t, cs.Store, seq); j.Done != 1 || j.FileID != "" || j.Attempting {
		t.Errorf("after Done: %+v", j)
	}
	must(cs.BeginSlackPart(seq, 1, "CIN", false))
	must(cs.SlackFileFailed(seq, 1, "the spool lost it"))
	if j := slackJob(t, cs.Store, seq); j.Done != 1 || j.Attempting || j.FileErrors[1] != "the spool lost it" {
		t.Errorf("after a failure: %+v", j)
	}
	c, _ := cs.Conv(1)
	if !maps.Equal(c.LatestFiles, map[string]string{"in-1": "F3"}) {
		t.Errorf("LatestFiles %v", c.LatestFiles)
	}
	// The forward of that mail sends on what is in Slack.
	if got := ForwardFiles(c); len(got) != 1 || got[0].SlackID != "F3" || got[0].Name != "fa.pdf" || got[0].Type != "application/pdf" {
		t.Errorf("ForwardFiles %+v", got)
	}
	// A newer mail is the latest: the old files are not its.
	newer := mailWithFiles("u2@x", "in-3")
	newer.InReplyTo = []string{"u1@x"}
	record(t, cs.Store, 2, newer)
	if c, _ := cs.Conv(1); c.LatestFiles != nil || len(ForwardFiles(c)) != 0 {
		t.Errorf("LatestFiles of the old mail kept: %v", c.LatestFiles)
	}
	must(cs.SlackFileDone(seq, 1, "F9", "in-2")) // the old mail's file: not the latest's
	if c, _ := cs.Conv(1); c.LatestFiles != nil {
		t.Errorf("a file of an older mail recorded as the latest's: %v", c.LatestFiles)
	}
}

func TestSpoolRefsAndQueued(t *testing.T) {
	cs := openClock(t, Options{})
	if r := record(t, cs.Store, 1, mailWithFiles("s1@x", "in-1", "")); !r.Queued {
		t.Errorf("a posted mail is not Queued: %+v", r)
	}
	if r := record(t, cs.Store, 2, mailWithFiles("s2@x", "in-2")); !r.Queued {
		t.Errorf("second mail: %+v", r)
	}
	posted(t, cs.Store, "100.1")
	_, err := cs.EnqueueReply(Reply{EventID: "E1", Conv: 1, Channel: "CIN", SlackTS: "100.2", AgentID: "UA", Text: "see file",
		MessageID: "r1@acme.test", Files: []MailFile{{SlackID: "F1", Name: "x.pdf", Ref: "out-1-0"}, {SlackID: "F2", Name: "y.pdf"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := record(t, cs.Store, 3, mailWithFiles("r1@acme.test", "in-3")); r.Queued || r.Skipped == "" {
		t.Errorf("our own reply coming back: %+v", r)
	}
	refs, err := cs.SpoolRefs()
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(refs))
	if want := []string{"in-2", "out-1-0"}; !slices.Equal(got, want) {
		t.Errorf("SpoolRefs %q, want %q (in-1's job is done)", got, want)
	}
}

// A reply with files waits for them: the sender's queue shows it pending
// until the bot recorded every file as downloaded.
func TestReplyFilesPending(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("p1@x", "Pending"))
	posted(t, cs.Store, "100.1")
	kick := cs.MailKick()
	files := []MailFile{{SlackID: "F1", Name: "x.pdf", URL: "https://files/x"}}
	j, err := cs.EnqueueReply(Reply{EventID: "E1", Conv: 1, Channel: "CIN", SlackTS: "100.2", AgentID: "UA",
		MessageID: "r1@acme.test", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	<-kick
	if !j.FilesPending() {
		t.Fatalf("a reply with files is not pending: %+v", j)
	}
	if err := cs.FileRetry(j.Seq, cs.now.Add(time.Minute), "slack down"); err != nil {
		t.Fatal(err)
	}
	if err := cs.FilesFetched(j.Seq, nil); err == nil {
		t.Error("FilesFetched with the wrong number of files")
	}
	files[0].Ref = "out-1-0"
	if err := cs.FilesFetched(j.Seq, files); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kick:
	default:
		t.Error("the sender was not woken")
	}
	got, _ := cs.MailJob(j.Seq)
	if got.FilesPending() || got.Files[0].Ref != "out-1-0" || got.FileAttempts != 0 || !got.NextFileAttempt.IsZero() {
		t.Errorf("after FilesFetched: %+v", got)
	}
	if err := cs.FilesLost(j.Seq); err != nil {
		t.Fatal(err)
	}
	if got, _ := cs.MailJob(j.Seq); !got.FilesPending() {
		t.Errorf("lost files not pending again: %+v", got)
	}
	cs.MailDone(j.Seq, "")
	if err := cs.FilesFetched(j.Seq, files); !errors.Is(err, ErrNotFound) {
		t.Errorf("FilesFetched of a job gone: %v", err)
	}
}

// At release the files are those the message shares then.
func TestReleaseTakesTheMessageFiles(t *testing.T) {
	cs := openClock(t, Options{})
	record(t, cs.Store, 1, mail("h1@x", "Hold"))
	posted(t, cs.Store, "100.1")
	r := heldReply(cs, 1, "E1", "UA", "with a file", 0)
	r.Files = []MailFile{{SlackID: "F1", Name: "old.pdf"}}
	j, err := cs.EnqueueReply(r)
	if err != nil {
		t.Fatal(err)
	}
	cs.now = cs.now.Add(time.Minute)
	rel, _, err := cs.ReleaseReply(j.Seq, Look{Text: "with a file", Files: []MailFile{{SlackID: "F2", Name: "new.pdf"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.Files) != 1 || rel.Files[0].SlackID != "F2" || !rel.FilesPending() {
		t.Errorf("released with files %+v", rel.Files)
	}
}
