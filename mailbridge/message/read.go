package message

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

// rawKeep is how much of an unparseable mail ReadInbound shows.
const rawKeep = 32 << 10

// ReadInbound parses one raw mail from r, reading r to its end, and never
// fails: a mail that cannot be parsed at all comes back with ParseError set
// and the beginning of the raw text as Text, so that nothing is lost from
// sight. A mail without From gets the address "unknown" and a warning (a
// named null sender, "MAILER-DAEMON <>", keeps its name and no address).
func ReadInbound(r io.Reader) *Message {
	return ParseOptions{}.ReadInbound(r)
}

// ReadInbound is the package's ReadInbound with these options.
func (o ParseOptions) ReadInbound(r io.Reader) *Message {
	raw := &headBuffer{max: rawKeep}
	m, err := o.Parse(io.TeeReader(r, raw))
	// Whatever the parser left unread must still leave the connection.
	if _, cerr := io.Copy(raw, r); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		text := strings.ReplaceAll(strings.ToValidUTF8(raw.String(), "\uFFFD"), "\r\n", "\n")
		return &Message{
			Subject:    "(unreadable mail)",
			From:       Address{Addr: "unknown"},
			Text:       text,
			Truncated:  raw.n > int64(len(raw.buf)),
			ParseError: err.Error(),
		}
	}
	if m.From == (Address{}) {
		m.From.Addr = "unknown"
		m.Warnings = append(m.Warnings, "no From address")
	}
	return m
}

// headBuffer keeps the first max bytes written to it and counts the rest.
type headBuffer struct {
	buf []byte
	max int
	n   int64
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) String() string {
	s := b.buf
	for len(s) > 0 && !utf8.Valid(s[len(s)-min(len(s), 3):]) {
		s = s[:len(s)-1]
	}
	return string(bytes.TrimRight(s, "\r\n "))
}
