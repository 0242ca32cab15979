package message

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, path := range fixtures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(bytes.NewReader(b))
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			return
		}
		if len(m.Text) > MaxText {
			t.Fatalf("Text is %d bytes", len(m.Text))
		}
		for _, s := range append([]string{m.Text, m.Subject, m.From.Name, m.From.Addr}, m.Warnings...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8: %q", s)
			}
		}
		if strings.Contains(m.Text, "\r") {
			t.Fatal("Text contains CR")
		}
	})
}
