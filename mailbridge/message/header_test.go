package message

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// Part headers are read as leniently as the top-level one: a malformed
// line never costs the rest of the multipart.
func TestParsePartHeaders(t *testing.T) {
	const head = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	const att = "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=after.pdf\r\n\r\nPDF\r\n"
	for _, tc := range []struct {
		name, body, text string
		atts             []string // Name/Type of each attachment
		warnings         int
	}{
		{"unindented parameter",
			"--b\r\nContent-Type: application/pdf;\r\nname=\"report.pdf\"\r\nContent-Disposition: attachment;\r\nfilename=\"report.pdf\"\r\n\r\nPDF\r\n" + att + "--b--\r\n",
			"", []string{"report.pdf application/pdf", "after.pdf application/pdf"}, 1},
		{"unindented after a semicolon",
			"--b\r\nContent-Type: text/plain; charset=utf-8;\r\nformat=flowed\r\n\r\nhello \r\nworld\r\n" + att + "--b--\r\n",
			"hello world", []string{"after.pdf application/pdf"}, 1},
		{"malformed line between fields",
			"--b\r\nContent-Type: text/plain\r\nthis is not a field\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n" + att + "--b--\r\n",
			"hello", []string{"after.pdf application/pdf"}, 1},
		{"malformed field name",
			"--b\r\nC\xfftent-Type: text/html\r\n\r\nplain\r\n" + att + "--b--\r\n",
			"plain", []string{"after.pdf application/pdf"}, 1},
		{"blank line missing",
			"--b\r\nContent-Type: text/plain\r\nhello\r\nworld\r\n" + att + "--b--\r\n",
			"hello\nworld", []string{"after.pdf application/pdf"}, 1},
		{"blank line missing at the end",
			"--b\r\nContent-Type: text/plain\r\nhello\r\n--b--\r\n",
			"hello", nil, 1},
		{"no header",
			"--b\r\nhello\r\n\r\nworld\r\n" + att + "--b--\r\n",
			"hello\n\nworld", []string{"after.pdf application/pdf"}, 1},
		{"empty header",
			"--b\r\n\r\nhello\r\n" + att + "--b--\r\n",
			"hello", []string{"after.pdf application/pdf"}, 0},
		{"delimiter with trailing space",
			"--b  \r\nContent-Type: text/plain\r\n\r\nhello\r\n" + att + "--b--\r\n",
			"hello", []string{"after.pdf application/pdf"}, 0},
		{"not delimiters",
			"preamble\r\n--bx\r\n--b-x\r\n--b\r\n\r\nhello\r\n--bb\r\n-- b\r\n" + att + "--b--\r\nepilogue\r\n--b\r\nbad: header\r\n",
			"hello\n--bb\n-- b", []string{"after.pdf application/pdf"}, 0},
		{"nested",
			"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain;\r\ncharset=utf-8\r\n\r\ninner\r\n--c--\r\n" + att + "--b--\r\n",
			"inner", []string{"after.pdf application/pdf"}, 1},
		{"end of input in a part header",
			"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit",
			"", nil, 1},
	} {
		for _, nl := range []string{"\r\n", "\n"} {
			in := strings.ReplaceAll(head+tc.body, "\r\n", nl)
			m, err := Parse(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			var atts []string
			for _, a := range m.Attachments {
				atts = append(atts, a.Name+" "+a.Type)
			}
			if m.Text != tc.text || !reflect.DeepEqual(atts, tc.atts) || len(m.Warnings) != tc.warnings {
				t.Errorf("%s (newline %q): Text %q, attachments %q, warnings %q; want %q, %q, %d warning(s)",
					tc.name, nl, m.Text, atts, m.Warnings, tc.text, tc.atts, tc.warnings)
			}
		}
	}
}

// The top-level header joins the same continuations and drops what
// cannot be one.
func TestParseHeaderContinuations(t *testing.T) {
	m, err := Parse(strings.NewReader("Subject: report\r\nContent-Type: multipart/mixed;\r\nboundary=\"b\"\r\nnot a field\r\n\r\n--b\r\n\r\ntext\r\n--b--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "text" || m.Subject != "report" || len(m.Warnings) != 2 {
		t.Errorf("Text %q Subject %q Warnings %q", m.Text, m.Subject, m.Warnings)
	}
}

// Parsing must not depend on how the input is cut into reads: the part
// filter keeps back what may be the start of a delimiter.
func TestParseOneByteReads(t *testing.T) {
	for _, path := range fixtures(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Parse(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(iotest.OneByteReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: one-byte reads differ:\n%s", path, lineDiff(string(marshal(t, want)), string(marshal(t, got))))
		}
	}
}

// A header that goes on and on (one field continued forever) is cut at
// maxHeaderBytes, not held whole.
func TestParseHugeHeaderField(t *testing.T) {
	line := " " + strings.Repeat("x", 998) + "\r\n"
	in := "Subject: start\r\nX-Long: a\r\n" + strings.Repeat(line, 3*maxHeaderBytes/len(line)) + "\r\nbody\r\n"
	m, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "start" || m.Text != "body" || len(m.Warnings) != 1 {
		t.Errorf("Subject %q Text %q Warnings %q", m.Subject, m.Text, m.Warnings)
	}
}
