package mailbridge

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// BenchmarkParseAndRecord20KB is the watcher's work per mail without the
// network: parse a typical 20 KB mail and record it in the store (a new
// conversation and a Slack job). "single" commits once per mail, as in
// normal operation; "batch64" once per 64 mails, as the watcher does when
// it catches up after downtime. bbolt fsyncs on every commit, so the
// difference is mostly the disk's.
func BenchmarkParseAndRecord20KB(b *testing.B) {
	msg, err := os.ReadFile(filepath.Join("message", "testdata", "bench-typical.eml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 64} {
		name := "single"
		if batch > 1 {
			name = fmt.Sprintf("batch%d", batch)
		}
		b.Run(name, func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if err := st.SetWatermark(testInbox, "INBOX", store.Watermark{UIDValidity: 1}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			uid := uint32(0)
			pending := make([]store.Inbound, 0, batch)
			flush := func() {
				if len(pending) == 0 {
					return
				}
				if _, err := st.RecordInbound(testInbox, "INBOX", 1, pending); err != nil {
					b.Fatal(err)
				}
				pending = pending[:0]
			}
			for b.Loop() {
				uid++
				m := message.ReadInbound(bytes.NewReader(msg))
				if m.ParseError != "" {
					b.Fatal(m.ParseError)
				}
				m.MessageID = fmt.Sprintf("bench-%d@example.com", uid)
				pending = append(pending, store.Inbound{UID: uid, Mail: m})
				if len(pending) == batch {
					flush()
				}
			}
			flush()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
		})
	}
}

// BenchmarkSpool20MBAttachment is the watcher's reading of a mail with a
// 20 MB attachment, streamed into the spool: B/op must stay far below the
// 20 MB (the attachment goes to disk, not to memory).
func BenchmarkSpool20MBAttachment(b *testing.B) {
	const size = 20 << 20
	n, err := io.Copy(io.Discard, bigAttachmentMail(size))
	if err != nil {
		b.Fatal(err)
	}
	sp := openSpool(b, spool.Options{})
	w := NewWatcher(IMAPConfig{Inbox: testInbox, Spool: sp}, nil, slog.New(slog.DiscardHandler))
	b.SetBytes(n)
	b.ReportAllocs()
	uid := uint32(0)
	for b.Loop() {
		uid++
		s := w.spooler(1, uid, uid)
		m := s.options().ReadInbound(bigAttachmentMail(size))
		s.done(m, uid)
		if len(m.Attachments) != 1 || m.Attachments[0].Ref == "" {
			b.Fatalf("attachments: %+v", m.Attachments)
		}
		sp.Remove(m.Attachments[0].Ref)
	}
}

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
