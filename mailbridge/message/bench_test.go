package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bigAttachmentMail streams a multipart/mixed mail with a base64 attachment of
// size decoded bytes, generated on the fly.
func bigAttachmentMail(size int) io.Reader {
	head := "From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n" +
		"--BIG\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n" +
		"--BIG\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"big.zip\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n"
	tail := "\r\n--BIG--\r\n"
	// 57 decoded bytes per 76-char line; 1024 lines per block.
	raw := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 57*1024/4+1)[:57*1024]
	var block bytes.Buffer
	for i := 0; i < 1024; i++ {
		block.WriteString(base64.StdEncoding.EncodeToString(raw[i*57 : (i+1)*57]))
		block.WriteString("\r\n")
	}
	blocks := size / len(raw)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(head))
		b := block.Bytes()
		for i := 0; i < blocks; i++ {
			if _, err := pw.Write(b); err != nil {
				return
			}
		}
		pw.Write([]byte(tail))
		pw.Close()
	}()
	return pr
}

func TestParseBigAttachmentStreams(t *testing.T) {
	const size = 20 << 20
	want := int64(size / (57 * 1024) * (57 * 1024))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Parse(bigAttachmentMail(size))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Size != want || m.Attachments[0].Name != "big.zip" {
		t.Fatalf("attachments = %+v, want one of %d bytes", m.Attachments, want)
	}
	if m.Text != "See attachment." || len(m.Warnings) != 0 {
		t.Errorf("Text=%q Warnings=%q", m.Text, m.Warnings)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
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
	n, err := io.Copy(io.Discard, bigAttachmentMail(size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		m := ReadInbound(bigAttachmentMail(size))
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
