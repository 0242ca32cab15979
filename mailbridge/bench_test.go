package mailbridge

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/inboxbot/inboxbot/store"
)

// BenchmarkParseAndRecord20KB is the watcher's work per mail without the
// network: parse a typical 20 KB mail and record it in the store (a new
// conversation and a Slack job). "single" commits once per mail, as in
// normal operation; "batch64" once per 64 mails, as the watcher does when
// it catches up after downtime. bbolt fsyncs on every commit, so the
// difference is mostly the disk's.
func BenchmarkParseAndRecord20KB(b *testing.B) {
	msg := typicalMail()
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
				m := ReadInbound(bytes.NewReader(msg))
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
