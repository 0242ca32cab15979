package mailbridge

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

func openSpool(t testing.TB, o spool.Options) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(spool.Dir(filepath.Join(t.TempDir(), "inboxbot.db")), o)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func spooled(t testing.TB, sp *spool.Spool, name string) []byte {
	t.Helper()
	f, err := sp.Open(name)
	if err != nil {
		t.Fatalf("spool file %q: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mailWithFiles is a mail with an HTML body showing an inline image (cid:),
// a PDF and a file of the given size.
func mailWithFiles(msgID string, bigSize int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Carl <carl@example.com>\r\nTo: support@acme.test\r\nSubject: Files\r\nMessage-ID: <%s>\r\n", msgID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"M\"\r\n\r\n" +
		"--M\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n" +
		"--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See <img src=\"cid:logo@x\"> and the files.</p>\r\n" +
		"--R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"iVBORw0KGgo=\r\n--R--\r\n" +
		"--M\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n\r\n%PDF-1.4 fake\r\n" +
		"--M\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n\r\n")
	b.Write(bytes.Repeat([]byte("x"), bigSize))
	b.WriteString("\r\n--M--\r\n")
	return b.Bytes()
}

// Attachments are streamed into the spool under names of their own, and
// one over AttachMax is listed but not stored.
func TestWatcherSpoolsAttachments(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	sp := openSpool(t, spool.Options{})
	cfg := testIMAPConfig(srv)
	cfg.Spool, cfg.AttachMax = sp, 1000
	runWatcher(t, NewWatcher(cfg, st, log))
	waitWatermark(t, st)
	srv.Append(t, "INBOX", mailWithFiles("f1@example.com", 1001))
	srv.Append(t, "INBOX", mailWithFiles("f2@example.com", 1000))

	jobs := waitMailJobs(t, st, 2, 10*time.Second)
	m := jobs[0].Mail
	if len(m.Attachments) != 3 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	logo, pdf, big := m.Attachments[0], m.Attachments[1], m.Attachments[2]
	if !logo.Referenced || logo.Ref == "" || string(spooled(t, sp, logo.Ref)) != "\x89PNG\r\n\x1a\n" {
		t.Errorf("inline image %+v", logo)
	}
	if pdf.Ref == "" || string(spooled(t, sp, pdf.Ref)) != "%PDF-1.4 fake" {
		t.Errorf("pdf %+v", pdf)
	}
	if big.Ref != "" || big.Size != 1001 || big.Error != "" {
		t.Errorf("a file over AttachMax: %+v", big)
	}
	if b := jobs[1].Mail.Attachments[2]; b.Ref == "" || len(spooled(t, sp, b.Ref)) != 1000 {
		t.Errorf("a file of AttachMax bytes: %+v", b)
	}
	// The names say which mail and part: none is shared by two mails.
	var names []string
	for _, j := range jobs {
		for _, a := range j.Mail.Attachments {
			if a.Ref != "" {
				names = append(names, a.Ref)
			}
		}
	}
	got, _ := sp.Names()
	slices.Sort(names)
	if !slices.Equal(got, names) || len(names) != 5 {
		t.Errorf("spool holds %q, the jobs refer to %q", got, names)
	}
}

// A full disk: the mail is recorded all the same, the attachment says why
// it is missing, and the log says so clearly.
func TestWatcherSpoolFull(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)
	sp := openSpool(t, spool.Options{MaxBytes: 100})
	cfg := testIMAPConfig(srv)
	cfg.Spool = sp
	runWatcher(t, NewWatcher(cfg, st, log))
	waitWatermark(t, st)
	srv.Append(t, "INBOX", mailWithFiles("full@example.com", 5000))

	m := waitMailJobs(t, st, 1, 10*time.Second)[0].Mail
	big := m.Attachments[2]
	if big.Ref != "" || !strings.Contains(big.Error, "no space left on device") {
		t.Errorf("attachment on a full disk: %+v", big)
	}
	if m.Attachments[1].Ref == "" || m.Text == "" {
		t.Errorf("the rest of the mail: %+v", m)
	}
	if !strings.Contains(logs.String(), "could not be stored in the spool") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log:\n%s", logs)
	}
	if names, _ := sp.Names(); len(names) != 2 {
		t.Errorf("spool holds %q", names)
	}
	entries, _ := os.ReadDir(sp.Dir())
	if len(entries) != 2 {
		t.Errorf("the failed file left something behind: %v", entries)
	}
}

// A mail that is not posted (our own reply coming back) leaves no files.
func TestWatcherDropsFilesOfSkippedMail(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	sp := openSpool(t, spool.Options{})
	cfg := testIMAPConfig(srv)
	cfg.Spool = sp
	runWatcher(t, NewWatcher(cfg, st, log))
	waitWatermark(t, st)
	srv.Append(t, "INBOX", mailWithFiles("first@example.com", 10))
	first := waitMailJobs(t, st, 1, 10*time.Second)[0].Mail
	if _, err := st.EnqueueReply(store.Reply{EventID: "E1", Conv: 1, Channel: "C", SlackTS: "1.1", AgentID: "U",
		Text: "x", MessageID: "ours@acme.test"}); err != nil {
		t.Fatal(err)
	}
	srv.Append(t, "INBOX", mailWithFiles("ours@acme.test", 10)) // a copy of our reply filed in the inbox
	srv.Append(t, "INBOX", customerMail(3, "after@example.com"))
	waitMailJobs(t, st, 2, 10*time.Second)
	var want []string
	for _, a := range first.Attachments {
		want = append(want, a.Ref)
	}
	slices.Sort(want)
	if names, _ := sp.Names(); !slices.Equal(names, want) {
		t.Errorf("spool holds %q, want only the first mail's files %q", names, want)
	}
}

// The spooler names files by UID even when the server sends the body
// before the UID.
func TestSpoolerNamesBySequenceUntilUIDKnown(t *testing.T) {
	sp := openSpool(t, spool.Options{})
	log, _ := testLog(t)
	w := NewWatcher(IMAPConfig{Inbox: testInbox, Spool: sp}, nil, log)
	s := w.spooler(7, 0, 3)
	m := s.options().ReadInbound(bytes.NewReader(mailWithFiles("seq@example.com", 4)))
	s.done(m, 42)
	want := w.spooler(7, 42, 3).name(42, false, 1)
	if m.Attachments[1].Ref != want || string(spooled(t, sp, want)) != "%PDF-1.4 fake" {
		t.Errorf("ref %q, want %q", m.Attachments[1].Ref, want)
	}
	names, _ := sp.Names()
	for _, n := range names {
		if strings.Contains(n, "seq") {
			t.Errorf("a file kept its sequence-number name: %q", n)
		}
	}
	if s := w.spooler(7, 0, 3); s.name(0, true, 0) == s.name(42, false, 0) {
		t.Error("names clash")
	}
	var nilSpooler *spooler
	if m := nilSpooler.options().ReadInbound(bytes.NewReader(mailWithFiles("none@example.com", 4))); m.Attachments[1].Ref != "" {
		t.Errorf("stored without a spool: %+v", m.Attachments[1])
	}
}

// queueFileReply queues a reply to a new conversation carrying files
// (contents by name); with ready, the files are in the spool and recorded
// as downloaded, as the bot leaves them.
func queueFileReply(t *testing.T, st *store.Store, sp *spool.Spool, ready bool, files map[string]string) *store.MailJob {
	t.Helper()
	var mf []store.MailFile
	for _, name := range slices.Sorted(maps.Keys(files)) {
		mf = append(mf, store.MailFile{SlackID: "F-" + name, Name: name, Type: "application/pdf"})
	}
	raw := inboundFrom("Bob <bob@example.com>", fmt.Sprintf("c%d@example.com", nextUID(t, st)))
	job := queueReply(t, st, raw, "Alice", "See the files.", mf...)
	if ready {
		fetch(t, st, sp, job, files)
	}
	return job
}

// fetch does what the bot does once it downloaded a job's files.
func fetch(t *testing.T, st *store.Store, sp *spool.Spool, job *store.MailJob, files map[string]string) {
	t.Helper()
	mf := slices.Clone(job.Files)
	for i := range mf {
		mf[i].Ref = fmt.Sprintf("out-%d-%d", job.Seq, i)
		if _, err := sp.Write(mf[i].Ref, strings.NewReader(files[mf[i].Name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.FilesFetched(job.Seq, mf); err != nil {
		t.Fatal(err)
	}
}

// attachments parses a sent mail's attachments: name -> (type, content).
func attachments(t *testing.T, data []byte) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	m := message.ParseOptions{Attachment: func(a *message.Attachment, r io.Reader) error {
		b, err := io.ReadAll(r)
		out[a.Name] = [2]string{a.Type, string(b)}
		return err
	}}.ReadInbound(bytes.NewReader(data))
	if m.ParseError != "" {
		t.Fatalf("sent mail: %s", m.ParseError)
	}
	return out
}

// A reply with files waits until they are downloaded, then goes out with
// them attached; the spool is emptied once it is sent.
func TestSenderAttachesFiles(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	sp := openSpool(t, spool.Options{})
	files := map[string]string{"a.pdf": "%PDF-a", "b c.pdf": strings.Repeat("b", 100_000)}
	job := queueFileReply(t, st, sp, false, files)
	cfg := testSMTPConfig(srv.Addr)
	cfg.Spool = sp
	plain := queueReply(t, st, inboundFrom("Dan <dan@example.com>", "d1@example.com"), "Alice", "No files.")
	runSender(t, NewSender(cfg, st, log))
	// The reply queued after it goes; it waits for its files.
	first := waitSMTP(t, srv, 1)[0]
	if got := parseSent(t, first.Data).Header.Get("Message-Id"); got != "<"+plain.MessageID+">" {
		t.Fatalf("first mail sent is %s, want the one without files", got)
	}
	fetch(t, st, sp, job, files)
	got := attachments(t, waitSMTP(t, srv, 2)[1].Data)
	for name, content := range files {
		if got[name] != [2]string{"application/pdf", content} {
			t.Errorf("attachment %q: %q", name, cut(got[name][1], 40))
		}
	}
	waitFor(t, 5*time.Second, "the spool emptied", func() bool { n, _ := sp.Names(); return len(n) == 0 })
}

func cut(s string, n int) string { return s[:min(n, len(s))] }

// A reply bigger than the server's SIZE is refused before anything is
// sent, for good, and its thread is told why.
func TestSenderRespectsSIZE(t *testing.T) {
	srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{MaxMessageBytes: 50_000})
	st := openStore(t)
	log, _ := testLog(t)
	sp := openSpool(t, spool.Options{})
	queueFileReply(t, st, sp, true, map[string]string{"big.pdf": strings.Repeat("x", 60_000)})
	cfg := testSMTPConfig(srv.Addr)
	cfg.Spool = sp
	runSender(t, NewSender(cfg, st, log))
	out := waitOutcome(t, st)
	if out.Kind != store.JobFailed || !strings.Contains(out.Error, "takes at most 48 KB") {
		t.Errorf("outcome %+v", out)
	}
	if n := srv.Transactions(); n != 0 {
		t.Errorf("%d SMTP transactions: something was sent", n)
	}
	// A reply within the limit goes.
	queueFileReply(t, st, sp, true, map[string]string{"small.pdf": "x"})
	if msgs := waitSMTP(t, srv, 1); len(attachments(t, msgs[0].Data)) != 1 {
		t.Errorf("small reply: %s", msgs[0].Data)
	}
}

// Files gone from the spool are downloaded again, not sent without.
func TestSenderFilesLost(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	sp := openSpool(t, spool.Options{})
	job := queueFileReply(t, st, sp, true, map[string]string{"a.pdf": "x"})
	if _, err := sp.Sweep(nil); err != nil { // someone emptied the spool
		t.Fatal(err)
	}
	cfg := testSMTPConfig(srv.Addr)
	cfg.Spool = sp
	runSender(t, NewSender(cfg, st, log))
	waitFor(t, 5*time.Second, "the files to be wanted again", func() bool {
		j, _ := st.MailJob(job.Seq)
		return j != nil && j.FilesPending()
	})
	if n := srv.Transactions(); n != 0 {
		t.Errorf("sent without its files")
	}
}
