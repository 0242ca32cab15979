package bot

import (
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/store"
)

func TestUploadName(t *testing.T) {
	for _, tc := range []struct {
		a    store.Attachment
		i    int
		want string
	}{
		{store.Attachment{Name: "invoice.pdf", Type: "application/pdf"}, 0, "invoice.pdf"},
		{store.Attachment{Name: "report", Type: "application/pdf"}, 0, "report.pdf"},
		{store.Attachment{Type: "image/png"}, 2, "image-3.png"},
		{store.Attachment{Type: "application/x-unknown-thing"}, 0, "attachment-1"},
		{store.Attachment{Name: "../../etc/passwd", Type: "text/plain"}, 0, "_.._etc_passwd"},
		{store.Attachment{Name: "a\x00b\nc.txt", Type: "text/plain"}, 0, "abc.txt"},
		{store.Attachment{Name: "  .hidden  ", Type: "text/plain"}, 0, "hidden.txt"},
		{store.Attachment{Name: strings.Repeat("n", 300) + ".docx", Type: "application/octet-stream"}, 0, strings.Repeat("n", 195) + ".docx"},
	} {
		if got := uploadName(tc.a, tc.i); got != tc.want {
			t.Errorf("uploadName(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}

func TestFilePosts(t *testing.T) {
	c := &store.Conversation{Num: 4, RootTS: "1.1"}
	m := &store.InboundMail{Subject: "Files", From: store.Address{Addr: "c@x"}, Text: "Hi", Attachments: []store.Attachment{
		{Name: "body.txt", Type: "text/plain", Size: 5, Inline: true, Shown: true, Ref: "r0"}, // the body: not a file
		{Name: "logo.png", Type: "image/png", Size: 10, ContentID: "Logo@x", Referenced: true, Ref: "r1"},
		{Name: "logo.png", Type: "image/png", Size: 10, ContentID: "logo@X", Referenced: true, Ref: "r2"}, // the same image again
		{Name: "big.zip", Type: "application/zip", Size: 2 << 20, Ref: ""},
		{Name: "lost.pdf", Type: "application/pdf", Size: 10, Error: "spool full: no space left on device"},
		{Name: "empty.txt", Type: "text/plain", Size: 0, Ref: "r5"},
		{Name: "a.pdf", Type: "application/pdf", Size: 10, Ref: "r6"},
	}}
	j := &store.SlackJob{Kind: store.JobMail, Mail: m}
	posts := filePosts(c, j, 1, 1<<20)
	var got []string
	for _, p := range posts {
		if p.file != nil {
			got = append(got, "file:"+p.file.name+"@"+p.file.ref)
		} else {
			got = append(got, "line:"+p.text)
		}
	}
	want := []string{
		"file:logo.png@r1",
		"file:a.pdf@r6",
		"line:⚠️ Not uploaded to Slack: big.zip (2.0 MB): larger than ATTACH_MAX (1.0 MB) · " +
			"lost.pdf (10 bytes): inboxbot could not store it: spool full: no space left on device · empty.txt (0 bytes): it is empty",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("posts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A part given up is a line in its place; a folded mail brings the
	// whole mail as a file.
	m.Text, m.QuoteAt = "Thanks\n\n> <!channel> old", 6
	j.FileErrors = map[int]string{2: "Slack said no"}
	posts = filePosts(c, j, 1, 1<<20)
	if p := posts[1]; p.file != nil || p.text != "⚠️ a.pdf could not be uploaded to Slack: Slack said no" {
		t.Errorf("given-up part: %+v", p)
	}
	last := posts[len(posts)-1].file
	if last == nil || last.name != fullMailName || !strings.Contains(last.content, "> <!channel> old") ||
		!strings.HasPrefix(last.content, "From: c@x\nSubject: Files\n\nThanks") || last.size != int64(len(last.content)) {
		t.Errorf("whole mail: %+v", last)
	}
}
