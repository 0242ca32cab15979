package message

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// The fuzz targets are seeded with the golden fixtures (and the crashers
// they found, in testdata/fuzz); plain go test runs only the seeds.

func FuzzParse(f *testing.F) {
	for _, path := range fixtures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var sizes []int64
		m, err := ParseOptions{Attachment: func(a *Attachment, r io.Reader) error {
			n, err := io.Copy(io.Discard, r)
			sizes = append(sizes, n)
			return err
		}}.Parse(bytes.NewReader(b))
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			return
		}
		checkMessage(t, m)
		if len(sizes) != len(m.Attachments) {
			t.Fatalf("callback called %d times for %d attachments", len(sizes), len(m.Attachments))
		}
		for i, a := range m.Attachments {
			if sizes[i] > a.Size {
				t.Fatalf("attachment %d: callback read %d bytes of %d", i, sizes[i], a.Size)
			}
		}

		// The result does not depend on how the input is cut into reads.
		m2, err := Parse(iotest.OneByteReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("one-byte reads: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("one-byte reads differ:\n%s", lineDiff(string(marshal(t, m)), string(marshal(t, m2))))
		}

		// The stored form reads back to the same.
		j, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Message
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatal(err)
		}
		if j2, _ := json.Marshal(back); !bytes.Equal(j, j2) {
			t.Fatalf("JSON round trip differs:\n%s\n%s", j, j2)
		}
	})
}

// checkMessage checks what every parsed mail must be.
func checkMessage(t *testing.T, m *Message) {
	t.Helper()
	if len(m.Text) > MaxText {
		t.Fatalf("Text is %d bytes", len(m.Text))
	}
	strs := append([]string{m.Text, m.Subject, m.From.Name, m.From.Addr, m.MessageID}, m.Warnings...)
	strs = append(strs, m.InReplyTo...)
	strs = append(strs, m.References...)
	for _, l := range [][]Address{m.To, m.Cc, m.ReplyToAll} {
		for _, a := range l {
			strs = append(strs, a.Name, a.Addr)
		}
	}
	for _, a := range m.Attachments {
		strs = append(strs, a.Name, a.Type, a.ContentID)
		if a.Size < 0 || a.Error != "" {
			t.Fatalf("attachment %+v", a)
		}
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8: %q", s)
		}
	}
	if strings.Contains(m.Text, "\r") {
		t.Fatal("Text contains CR")
	}
	if strings.HasPrefix(m.Text, "\n") || m.Text != strings.TrimRight(m.Text, " \t\n\f\v") {
		t.Fatalf("Text has leading blank lines or trailing whitespace: %q", m.Text)
	}
	if m.QuoteAt < 0 || m.QuoteAt >= len(m.Text) && m.QuoteAt != 0 || !utf8.ValidString(m.NewText()) || !utf8.ValidString(m.Quoted()) {
		t.Fatalf("QuoteAt %d in %q", m.QuoteAt, m.Text)
	}
	if m.QuoteAt > 0 && strings.TrimSpace(m.NewText()) == "" {
		t.Fatalf("everything folded: %q", m.Text)
	}
	if len(m.Warnings) > maxWarnings+1 {
		t.Fatalf("%d warnings", len(m.Warnings))
	}
}

func FuzzHTMLToText(f *testing.F) {
	for _, tc := range htmlCases {
		f.Add([]byte(tc.in), 0)
	}
	for _, path := range fixtures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if i := bytes.Index(b, []byte("<html")); i >= 0 {
			f.Add(b[i:], 0)
		}
		f.Add(b, 100)
	}
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		limit %= 1 << 20
		text, truncated, err := HTMLToText(bytes.NewReader(b), limit)
		if err != nil && !truncated {
			t.Fatalf("error without truncation: %v", err)
		}
		if limit > 0 && len(text) > limit {
			t.Fatalf("%d bytes of text for a limit of %d", len(text), limit)
		}
		if !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8: %q", text)
		}
		if strings.Contains(text, "\r") || strings.Contains(text, "\n\n\n") {
			t.Fatalf("CR or more than one blank line: %q", text)
		}
		if strings.HasPrefix(text, "\n") || text != strings.TrimRight(text, " \t\n\f\v") {
			t.Fatalf("leading blank lines or trailing whitespace: %q", text)
		}
		for _, l := range strings.Split(text, "\n") {
			if l != strings.TrimRight(l, " \t") {
				t.Fatalf("trailing whitespace in line %q", l)
			}
		}
	})
}

func FuzzFoldQuote(f *testing.F) {
	f.Add("Thanks!\n\nOn Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n> Could you try again?")
	f.Add("Hi,\n\nok.\n\nFrom: Support <support@inboxbot.test>\nSent: Tuesday\nTo: Jane\nSubject: Re: x\n\nold")
	f.Add("---------- Forwarded message ---------\nFrom: A <a@x>\nDate: Mon\nSubject: S\nTo: B\n\nbody\n\n--\nsig")
	f.Fuzz(func(t *testing.T, text string) {
		n := FoldQuote(text)
		if n < 0 || n > len(text) {
			t.Fatalf("FoldQuote = %d for %d bytes", n, len(text))
		}
		if n < len(text) {
			if strings.TrimSpace(text[:n]) == "" {
				t.Fatalf("everything folded: %q", text)
			}
			if text[:n] != strings.TrimRight(text[:n], " \t\n\r\f\v") {
				t.Fatalf("new part ends in whitespace: %q", text[:n])
			}
		}
	})
}
