package message

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/mailbridge/message/messagetest"
)

// allocated runs f and returns the bytes it allocated and how much the
// heap in use grew.
func allocated(f func()) (alloc uint64, inuse int64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, int64(after.HeapInuse) - int64(before.HeapInuse)
}

func TestParseBigAttachmentStreams(t *testing.T) {
	const size = 20 << 20
	want := messagetest.BigAttachmentSize(size)
	var m *Message
	var err error
	alloc, _ := allocated(func() { m, err = Parse(messagetest.BigAttachmentMail(size)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Size != want || m.Attachments[0].Name != "big.zip" {
		t.Fatalf("attachments = %+v, want one of %d bytes", m.Attachments, want)
	}
	if m.Text != "See attachment." || len(m.Warnings) != 0 {
		t.Errorf("Text=%q Warnings=%q", m.Text, m.Warnings)
	}
	t.Logf("parsing a mail with a %.1f MiB attachment allocated %d KiB", float64(want)/(1<<20), alloc>>10)
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes for a %d byte attachment; want < 4 MB", alloc, want)
	}
}

// typicalMail is a ~20 KB multipart/alternative mail like a human-written
// reply: quoted-printable text and HTML versions with some quoted history.
// mailbridge's benchmarks read the same file.
func typicalMail(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bench-typical.eml"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func BenchmarkParse20KB(b *testing.B) {
	msg := typicalMail(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(bytes.NewReader(msg))
		if err != nil || m.Text == "" {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTMLToText(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("<html><head><style>p{margin:0}</style></head><body>")
	for sb.Len() < 20<<10 {
		sb.WriteString(`<table><tr><td class="x"><p>Some <b>bold</b> text &amp; a <a href="https://example.com/track?id=1234">link</a>.</p></td></tr></table>`)
	}
	sb.WriteString("</body></html>")
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := HTMLToText(strings.NewReader(in), MaxText+1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadInbound20MBAttachment: B/op must stay far below the 20 MB
// of the attachment (ReadInbound streams it).
func BenchmarkReadInbound20MBAttachment(b *testing.B) {
	const size = 20 << 20
	n, err := io.Copy(io.Discard, messagetest.BigAttachmentMail(size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		m := ReadInbound(messagetest.BigAttachmentMail(size))
		if len(m.Attachments) != 1 {
			b.Fatalf("attachments: %+v", m.Attachments)
		}
	}
}

// BenchmarkFoldQuote folds the longest text a mail can have: MaxText of
// a reply with a long quoted history.
func BenchmarkFoldQuote(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("Thanks, that fixed it!\n\nOn Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n")
	for sb.Len() < MaxText-100 {
		sb.WriteString("> A line of the quoted history: what was said before, wrapped at 72 columns.\n")
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if FoldQuote(text) != len("Thanks, that fixed it!") {
			b.Fatal("not folded")
		}
	}
}

// BenchmarkFoldQuoteTypical folds the text of the typical mail.
func BenchmarkFoldQuoteTypical(b *testing.B) {
	m, err := Parse(bytes.NewReader(typicalMail(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(m.Text)))
	b.ReportAllocs()
	for b.Loop() {
		FoldQuote(m.Text)
	}
}
