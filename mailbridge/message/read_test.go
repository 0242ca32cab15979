package message

import (
	"bytes"
	"strings"
	"testing"

	"github.com/inboxbot/inboxbot/mailbridge/message/messagetest"
)

func TestReadInboundUnparseable(t *testing.T) {
	raw := "not a header line\r\n" + strings.Repeat("x", rawKeep+100) + "\r\n"
	m := ReadInbound(strings.NewReader(raw))
	if m.ParseError == "" || m.Subject != "(unreadable mail)" || m.From.Addr != "unknown" {
		t.Errorf("got ParseError %q Subject %q From %+v", m.ParseError, m.Subject, m.From)
	}
	if !strings.HasPrefix(m.Text, "not a header line\n") || len(m.Text) > rawKeep || !m.Truncated {
		t.Errorf("Text: %d bytes, Truncated %v, starts %q", len(m.Text), m.Truncated, m.Text[:30])
	}
}

func TestReadInboundNoFrom(t *testing.T) {
	m := ReadInbound(bytes.NewReader([]byte("Subject: hi\r\n\r\nbody\r\n")))
	if m.ParseError != "" || m.From.Addr != "unknown" || len(m.Warnings) != 1 || m.Text != "body" {
		t.Errorf("got %+v", m)
	}
}

// ReadInbound must stream: what it allocates for a mail does not grow
// with the size of an attachment.
func TestReadInboundBigAttachmentMemory(t *testing.T) {
	const size = 20 << 20
	r := messagetest.BigAttachmentMail(size)
	var m *Message
	alloc, inuse := allocated(func() { m = ReadInbound(r) })

	want := messagetest.BigAttachmentSize(size)
	if m.ParseError != "" || len(m.Attachments) != 1 || m.Attachments[0].Size != want {
		t.Fatalf("ReadInbound: %+v", m)
	}
	t.Logf("ReadInbound of a mail with a %.1f MiB attachment: TotalAlloc +%d KiB, HeapInuse %+d KiB",
		float64(want)/(1<<20), alloc>>10, inuse>>10)
	if alloc > 8<<20 {
		t.Errorf("ReadInbound allocated %d bytes for a %d byte attachment; want < 8 MB", alloc, want)
	}
}
