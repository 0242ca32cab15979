package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/store/spool"
)

// Files between mail and Slack: attachments and inline images uploaded into
// the thread, replies' files attached to their mail, the limits on both
// sides, and crashes in the middle.

// part is an attachment of a test mail.
type part struct {
	name, ctype, cid string
	inline           bool
	data             []byte
}

// fileMail builds a mail whose HTML body (html) comes with related inline
// parts (those with a cid) and attached files.
func fileMail(subject, msgID, html string, parts ...part) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Carl Customer <carl@example.com>\r\nTo: Acme Support <support@acme.test>\r\nSubject: %s\r\n", subject)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z), msgID)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"MIX\"\r\n\r\n--MIX\r\nContent-Type: multipart/related; boundary=\"REL\"\r\n\r\n")
	fmt.Fprintf(&b, "--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", html)
	write := func(boundary string, p part) {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n", boundary, p.ctype)
		if p.cid != "" {
			fmt.Fprintf(&b, "Content-ID: <%s>\r\n", p.cid)
		}
		disp := "attachment"
		if p.inline {
			disp = "inline"
		}
		if p.name != "" {
			fmt.Fprintf(&b, "Content-Disposition: %s; filename=\"%s\"\r\n", disp, p.name)
		}
		enc := base64.StdEncoding.EncodeToString(p.data)
		b.WriteString("\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	for _, p := range parts {
		if p.cid != "" {
			write("REL", p)
		}
	}
	b.WriteString("--REL--\r\n")
	for _, p := range parts {
		if p.cid == "" {
			write("MIX", p)
		}
	}
	b.WriteString("--MIX--\r\n")
	return b.Bytes()
}

// inReplyTo makes raw an answer to the mail with Message-ID id.
func inReplyTo(raw []byte, id string) []byte {
	return bytes.Replace(raw, []byte("MIME-Version:"), []byte("In-Reply-To: <"+id+">\r\nMIME-Version:"), 1)
}

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 300)...)
	pdfBytes = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("pdf "), 2000)...)
)

// threadFiles returns the files shared in the thread under root, in order,
// by name.
func (h *harness) threadFiles(root string) []slackfake.File {
	var out []slackfake.File
	for _, f := range h.slack.Files() {
		for _, sh := range f.Shares {
			if sh.Channel == inboxChannel && sh.ThreadTS == root {
				out = append(out, f)
			}
		}
	}
	return out
}

// waitFiles waits until the thread under root shares n files.
func (h *harness) waitFiles(root string, n int) []slackfake.File {
	h.t.Helper()
	if err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool { return len(h.threadFiles(root)) >= n }); err != nil {
		h.t.Fatalf("waiting for %d files in thread %s, have %d: %v", n, root, len(h.threadFiles(root)), err)
	}
	return h.threadFiles(root)
}

// spoolEmpty waits until the spool holds no file.
func (h *harness) spoolEmpty() {
	h.t.Helper()
	dir := spool.Dir(h.cfg.DBPath)
	h.poll("the spool emptied", func() bool { e, err := os.ReadDir(dir); return err == nil && len(e) == 0 })
}

func fileNames(fs []slackfake.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// Every attachment and inline image reaches the thread as a file, right
// after the mail, named as in the mail and with its type; an inline image
// the HTML shows twice is uploaded once; a file over ATTACH_MAX is not
// uploaded and the thread says so. The spool is empty afterwards.
func TestMailFilesReachThread(t *testing.T) { eachTransport(t, testMailFilesReachThread) }

func testMailFilesReachThread(t *testing.T, h *harness) {
	h.inbox().AttachMax = 20_000
	h.start()
	big := bytes.Repeat([]byte("z"), 20_001)
	h.deliver(fileMail("Broken printer", "files1@example.com",
		`<p>Here it is: <img src="cid:shot@x"> and again <img src="cid:shot@x"></p>`,
		part{name: "screenshot.png", ctype: "image/png", cid: "shot@x", inline: true, data: pngBytes},
		part{name: "invoice.pdf", ctype: "application/pdf", data: pdfBytes},
		part{name: "dump.bin", ctype: "application/octet-stream", data: big},
		part{ctype: "image/gif", data: []byte("GIF89a-unnamed")},
	))
	root := h.waitRoots(1)[0]
	line := h.waitThreadLine(root.TS, "Not uploaded to Slack")
	if !strings.Contains(line.Text, "dump.bin (19 KB): larger than ATTACH_MAX (19 KB)") {
		t.Errorf("line about the big file: %q", line.Text)
	}
	files := h.waitFiles(root.TS, 3)
	if got, want := fileNames(files), []string{"screenshot.png", "invoice.pdf", "image-4.gif"}; !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	for i, want := range []struct {
		mimetype string
		data     []byte
	}{{"image/png", pngBytes}, {"application/pdf", pdfBytes}, {"image/gif", []byte("GIF89a-unnamed")}} {
		f := files[i]
		if f.Mimetype != want.mimetype || !bytes.Equal(f.Bytes, want.data) || !f.Completed || f.User != slackfake.BotUserID {
			t.Errorf("file %s: %s, %d bytes, completed %v", f.Name, f.Mimetype, len(f.Bytes), f.Completed)
		}
	}
	// After the mail: the files' shares come after the card, in order,
	// and the line about what was not uploaded after them.
	var last string
	for _, f := range files {
		if f.Shares[0].TS <= last || f.Shares[0].TS <= root.TS {
			t.Errorf("file %s shared out of order", f.Name)
		}
		last = f.Shares[0].TS
	}
	if line.TS <= last {
		t.Error("the line about files not uploaded comes before the files")
	}
	h.flushed()
	if n := len(h.slack.Files()); n != 3 {
		t.Errorf("%d files in Slack, want 3 (none twice)", n)
	}
	h.spoolEmpty()

	// A mail in the thread brings its file right after it too.
	h.deliver(inReplyTo(fileMail("Re: Broken printer", "files2@example.com", "<p>One more.</p>",
		part{name: "log.txt", ctype: "text/plain", data: []byte("error 42\n")}), "files1@example.com"))
	h.poll("the second mail's file", func() bool { return len(h.threadFiles(root.TS)) == 4 })
	f := h.threadFiles(root.TS)[3]
	mail := h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "One more.") })
	if f.Name != "log.txt" || string(f.Bytes) != "error 42\n" || f.Shares[0].TS <= mail.TS {
		t.Errorf("second mail's file %s %q shared at %s, the mail at %s", f.Name, f.Bytes, f.Shares[0].TS, mail.TS)
	}
	h.spoolEmpty()
}

// A full disk: the mail is posted all the same, the log says why a file is
// missing, and so does the thread.
func TestSpoolFullMailStillPosted(t *testing.T) {
	h := newHarness(t)
	h.tune = func(m *Main) { m.SpoolLimit = 1000 }
	h.start()
	h.deliver(fileMail("Disk", "full1@example.com", "<p>The text still arrives.</p>",
		part{name: "big.pdf", ctype: "application/pdf", data: pdfBytes}))
	root := h.waitRoots(1)[0]
	if !strings.Contains(text(root), "The text still arrives.") {
		t.Errorf("card: %s", text(root))
	}
	line := h.waitThreadLine(root.TS, "Not uploaded to Slack")
	if !strings.Contains(line.Text, "big.pdf") || !strings.Contains(line.Text, "could not store it") || !strings.Contains(line.Text, "no space left on device") {
		t.Errorf("thread line: %q", line.Text)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "could not be stored in the spool") {
		t.Errorf("no clear error in the log:\n%s", logs)
	}
}

// A thread reply with files is emailed with them attached (downloaded with
// the bot token); so is a reply of files only. A note with files stays in
// Slack. /inbox forward sends the customer's attachments on.
func TestReplyFilesReachSMTP(t *testing.T) { eachTransport(t, testReplyFilesReachSMTP) }

func testReplyFilesReachSMTP(t *testing.T, h *harness) {
	h.start()
	h.deliver(fileMail("Contract", "c1@example.com", "<p>Please sign.</p>",
		part{name: "contract.pdf", ctype: "application/pdf", data: pdfBytes}))
	root := h.waitRoots(1)[0]
	h.waitFiles(root.TS, 1)

	_, env, _ := h.slack.UserShareFiles(inboxChannel, alice, root.TS, "Signed, see attached.",
		slackfake.UserFile{Name: "signed.pdf", Bytes: []byte("%PDF signed")},
		slackfake.UserFile{Name: "notes.txt", Bytes: []byte("two files")})
	h.ack(env)
	_, env, _ = h.slack.UserShareFiles(inboxChannel, bob, root.TS, "note: internal copy",
		slackfake.UserFile{Name: "internal.pdf", Bytes: []byte("%PDF internal")})
	h.ack(env)
	_, env, _ = h.slack.UserShareFiles(inboxChannel, bob, root.TS, "",
		slackfake.UserFile{Name: "photo.png", Bytes: pngBytes})
	h.ack(env)

	got := h.waitMails(2)
	first, second := attachmentsOf(t, got[0]), attachmentsOf(t, got[1])
	if body(t, got[0]) != "Signed, see attached." || len(first) != 2 ||
		first["signed.pdf"] != "application/pdf: %PDF signed" || first["notes.txt"] != "text/plain: two files" {
		t.Errorf("reply with files: %q %q", body(t, got[0]), first)
	}
	if len(second) != 1 || second["photo.png"] != "image/png: "+string(pngBytes) {
		t.Errorf("reply of a file only: %q", second)
	}
	h.outboxEmpty()
	h.spoolEmpty()
	h.flushed() // the uploads recorded: the forward knows the files

	if ans := h.slash(alice, "forward 1 legal@acme-partner.example"); !strings.Contains(ans, "with its attachment") {
		t.Fatalf("/inbox forward: %q", ans)
	}
	got = h.waitMails(3)
	if fw := attachmentsOf(t, got[2]); fw["contract.pdf"] != "application/pdf: "+string(pdfBytes) {
		t.Errorf("forward's attachments: %d", len(fw))
	}
	if n := len(h.smtp.Messages()); n != 3 {
		t.Errorf("%d mails sent, want 3 (the note stays internal)", n)
	}
}

// attachmentsOf lists a received mail's attachments: name -> "type: content".
func attachmentsOf(t *testing.T, r mailtest.Received) map[string]string {
	t.Helper()
	out := map[string]string{}
	message.ParseOptions{Attachment: func(a *message.Attachment, rd io.Reader) error {
		b, err := io.ReadAll(rd)
		out[a.Name] = a.Type + ": " + string(b)
		return err
	}}.ReadInbound(bytes.NewReader(r.Data))
	return out
}

// A reply too big for the SMTP server's SIZE is refused before sending,
// with a line in its thread and :x:; nothing reaches the server.
func TestReplyOverSIZE(t *testing.T) {
	h := newHarness(t)
	h.smtp = mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{MaxMessageBytes: 20_000})
	h.inbox().SMTP.Addr = h.smtp.Addr
	h.start()
	root := h.conversation("Big")
	ts, env, _ := h.slack.UserShareFiles(inboxChannel, alice, root.TS, "Here is the log.",
		slackfake.UserFile{Name: "huge.log", Bytes: bytes.Repeat([]byte("log line\n"), 3000)})
	h.ack(env)
	line := h.waitThreadLine(root.TS, "was NOT sent")
	if !strings.Contains(line.Text, "takes at most 19 KB") {
		t.Errorf("thread line: %q", line.Text)
	}
	h.waitMark(ts, "x", "")
	if n := h.smtp.Transactions(); n != 0 {
		t.Errorf("%d SMTP transactions: the mail was (half) sent", n)
	}
	h.spoolEmpty()
}

// A download cut by a restart is done again after it: the mail is neither
// dropped nor sent without its file.
func TestReplyFileDownloadSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.start()
	root := h.conversation("Restart")
	// The download hangs until inboxbot is stopped (the fake then
	// finishes answering nobody).
	h.slack.DelayNext(slackfake.FileDownloadMethod, 2*time.Second)
	_, env, _ := h.slack.UserShareFiles(inboxChannel, alice, root.TS, "Attached.",
		slackfake.UserFile{Name: "a.pdf", Bytes: []byte("%PDF a")})
	h.ack(env)
	h.poll("the download under way", func() bool { return h.slack.Calls(slackfake.FileDownloadMethod) >= 1 })
	h.stop()
	if n := h.smtp.Transactions(); n != 0 {
		t.Fatalf("sent before its file was downloaded")
	}
	h.start()
	got := h.waitMails(1)
	if a := attachmentsOf(t, got[0]); a["a.pdf"] != "application/pdf: %PDF a" {
		t.Errorf("attachments %q", a)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails", n)
	}
}

// Crashes around an upload: the file ends up in the thread once.
func TestUploadInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(h *harness)
		// interrupted reports, once the fault has struck, that the
		// attempt stands where the test wants to stop.
		interrupted func(h *harness) bool
	}{
		{"uploaded, not completed", func(h *harness) { h.slack.BlockMethod("files.completeUploadExternal", 1) },
			func(h *harness) bool {
				fs := h.slack.Files()
				return len(fs) == 1 && fs[0].Uploaded && !fs[0].Completed
			}},
		{"completed, answer lost", func(h *harness) {
			h.slack.DropAfterNext("files.completeUploadExternal")
			h.slack.BlockMethod("files.info", 1) // no lookup before the restart
		}, func(h *harness) bool { fs := h.slack.Files(); return len(fs) == 1 && fs[0].Completed }},
		{"completed, share not yet posted", func(h *harness) {
			h.slack.DeferFileShares(true)
			h.slack.BlockMethod("files.info", 1)
			h.slack.DropAfterNext("files.completeUploadExternal")
		}, func(h *harness) bool { fs := h.slack.Files(); return len(fs) == 1 && fs[0].Completed }},
		{"upload answer lost", func(h *harness) {
			h.slack.DropAfterNext(slackfake.UploadURLMethod)
			h.slack.BlockMethod("files.info", 1)
		}, func(h *harness) bool { fs := h.slack.Files(); return len(fs) == 1 && fs[0].Uploaded }},
		{"bytes never arrived", func(h *harness) { h.slack.HTTPErrorNext(slackfake.UploadURLMethod, 500) },
			func(h *harness) bool { return h.slack.Calls(slackfake.UploadURLMethod) >= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.start()
			tc.fault(h)
			h.deliver(fileMail("Upload", "up1@example.com", "<p>x</p>", part{name: "a.pdf", ctype: "application/pdf", data: pdfBytes}))
			root := h.waitRoots(1)[0]
			h.poll("the fault", func() bool { return tc.interrupted(h) })
			h.stop()
			h.slack.UnblockMethod("files.completeUploadExternal")
			h.slack.UnblockMethod("files.info")
			h.slack.DeferFileShares(false)
			h.start()
			h.slack.ShareDeferredFiles() // Slack posts the share it owed
			h.flushed()
			completed := 0
			for _, f := range h.slack.Files() {
				if f.Completed {
					completed++
				}
			}
			if completed != 1 {
				t.Errorf("%d files completed in Slack, want 1", completed)
			}
			files := h.threadFiles(root.TS)
			if len(files) != 1 || files[0].Name != "a.pdf" || !bytes.Equal(files[0].Bytes, pdfBytes) || len(files[0].Shares) != 1 {
				t.Errorf("files in the thread: %+v", fileNames(files))
			}
			shares := 0
			for _, m := range h.thread(root.TS) {
				shares += len(m.Files)
			}
			if shares != 1 {
				t.Errorf("%d file shares in the thread, want 1", shares)
			}
			h.spoolEmpty()
		})
	}
}

// kill -9 in the middle of uploads: between the upload and its completion,
// and while the completion is under way. After each restart the file is
// in the thread once: neither lost nor shown twice.
func TestProcessKill9MidUpload(t *testing.T) {
	h := newHarness(t)
	p := startProc(t, h.env())
	p.waitReady(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MB

	// Uploaded, not completed.
	h.slack.BlockMethod("files.completeUploadExternal", 1)
	h.deliver(fileMail("Kill", "kill1@example.com", "<p>first</p>", part{name: "one.bin", ctype: "application/octet-stream", data: big}))
	root := h.waitRoots(1)[0]
	h.poll("the upload, not completed", func() bool {
		fs := h.slack.Files()
		return len(fs) == 1 && fs[0].Uploaded && !fs[0].Completed
	})
	p.cmd.Process.Kill()
	p.wait(t)
	h.slack.UnblockMethod("files.completeUploadExternal")
	p = startProc(t, h.env())
	h.waitFiles(root.TS, 1)

	// Killed while Slack completes it.
	before := h.slack.Calls("files.completeUploadExternal")
	h.slack.DelayNext("files.completeUploadExternal", 2*time.Second)
	h.deliver(inReplyTo(fileMail("Re: Kill", "kill2@example.com", "<p>second</p>",
		part{name: "two.bin", ctype: "application/octet-stream", data: big}), "kill1@example.com"))
	h.poll("the completion under way", func() bool { return h.slack.Calls("files.completeUploadExternal") > before })
	p.cmd.Process.Kill()
	p.wait(t)
	startProc(t, h.env())
	h.waitFiles(root.TS, 2)

	// The same conversation's next mail comes after both jobs are done.
	h.deliver(inReplyTo(fileMail("Re: Kill", "kill3@example.com", "<p>third</p>",
		part{name: "three.txt", ctype: "text/plain", data: []byte("3")}), "kill1@example.com"))
	files := h.waitFiles(root.TS, 3)
	if got, want := fileNames(files), []string{"one.bin", "two.bin", "three.txt"}; !slices.Equal(got, want) {
		t.Errorf("files in the thread %q, want %q", got, want)
	}
	completed := 0
	for _, f := range h.slack.Files() {
		if f.Completed {
			completed++
			if len(f.Shares) != 1 {
				t.Errorf("%s shared %d times", f.Name, len(f.Shares))
			}
		}
	}
	if completed != 3 {
		t.Errorf("%d files completed in Slack, want 3", completed)
	}
	for _, f := range files[:2] {
		if !bytes.Equal(f.Bytes, big) {
			t.Errorf("%s: %d bytes, want %d", f.Name, len(f.Bytes), len(big))
		}
	}
}

// A file Slack will not give (gone, or not readable with the bot token)
// fails the reply, marked :x: with a line: never sent without it.
func TestReplyFileGoneFails(t *testing.T) {
	h := newHarness(t)
	h.start()
	root := h.conversation("Gone")
	h.slack.HTTPErrorNext(slackfake.FileDownloadMethod, 404)
	ts, env, _ := h.slack.UserShareFiles(inboxChannel, alice, root.TS, "Attached.",
		slackfake.UserFile{Name: "gone.pdf", Bytes: []byte("%PDF")})
	h.ack(env)
	line := h.waitThreadLine(root.TS, "was NOT sent")
	if !strings.Contains(line.Text, "gone.pdf could not be taken from Slack") {
		t.Errorf("thread line: %q", line.Text)
	}
	h.waitMark(ts, "x", "")
	h.outboxEmpty()
	if n := h.smtp.Transactions(); n != 0 {
		t.Errorf("%d SMTP transactions", n)
	}
	h.spoolEmpty()
}
