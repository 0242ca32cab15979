package mailbridge

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/mailbridge/message/messagetest"
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
	n, err := io.Copy(io.Discard, messagetest.BigAttachmentMail(size))
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
		m := s.options().ReadInbound(messagetest.BigAttachmentMail(size))
		s.done(m, uid)
		if len(m.Attachments) != 1 || m.Attachments[0].Ref == "" {
			b.Fatalf("attachments: %+v", m.Attachments)
		}
		sp.Remove(m.Attachments[0].Ref)
	}
}
