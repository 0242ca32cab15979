package mailbridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

func fixtures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.eml fixtures")
	}
	return files
}

func parseFile(t testing.TB, path string) *Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return m
}

func marshal(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestParseGolden compares Parse's output for every testdata/NAME.eml with
// testdata/NAME.golden.json. Regenerate with
// go test ./mailbridge -run TestParseGolden -update
func TestParseGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			got := marshal(t, parseFile(t, path))
			golden := strings.TrimSuffix(path, ".eml") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update if intended)\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines of want and got.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, w, g)
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}

// TestParseLF checks that the fixtures give the same result with bare LF line
// endings (mbox files, maildir on Unix), except for the warnings and the size
// of attachments that are not base64-encoded.
func TestParseLF(t *testing.T) {
	for _, path := range fixtures(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(raw, []byte("\r\n")) {
				t.Fatalf("%s: fixtures must use CRLF line endings", name)
			}
			crlf := parseFile(t, path)
			lf, err := Parse(bytes.NewReader(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))))
			if err != nil {
				t.Fatal(err)
			}
			crlf.Warnings, lf.Warnings = nil, nil
			// Parts that are not base64 keep their line endings.
			for i := range crlf.Attachments {
				crlf.Attachments[i].Size = 0
			}
			for i := range lf.Attachments {
				lf.Attachments[i].Size = 0
			}
			if !reflect.DeepEqual(crlf, lf) {
				t.Errorf("LF result differs:\n%s", lineDiff(string(marshal(t, crlf)), string(marshal(t, lf))))
			}
		})
	}
}

// TestParseFixtureFacts spells out the key expectations behind the goldens so
// that an -update cannot silently bless a regression in them.
func TestParseFixtureFacts(t *testing.T) {
	m := func(name string) *Message { return parseFile(t, filepath.Join("testdata", name+".eml")) }
	check := func(name, what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s = %#v, want %#v", name, what, got, want)
		}
	}

	p := m("plain")
	check("plain", "MessageID", p.MessageID, "20240305091500.GA1234@mail.example.org")
	check("plain", "Subject", p.Subject, "Cannot log in since this morning")
	check("plain", "From", p.From, Address{"Alice Example", "alice@example.org"})
	check("plain", "Auto", p.Auto, false)
	check("plain", "Warnings", len(p.Warnings), 0)
	// Trailing spaces are stripped from every line, the "-- " signature
	// separator included.
	if !strings.HasPrefix(p.Text, "Hi team,\n\nsince") || !strings.HasSuffix(p.Text, "form.\n\nSteps I tried:\n  1. cleared cookies\n  2. another browser (Firefox 123)\n\nThanks,\nAlice\n\n--\nAlice Example | Example Org") {
		t.Errorf("plain: Text = %q", p.Text)
	}

	h := m("html-only")
	check("html-only", "HTMLOnly", h.HTMLOnly, true)
	for _, s := range []string{"should never appear", "trackOpen", "font-family", "Your order #10423</", "on its way"} {
		if strings.Contains(h.Text, s) {
			t.Errorf("html-only: text contains %q:\n%s", s, h.Text)
		}
	}
	for _, s := range []string{"• We hand the parcel", "  • usually within 24 hours", "track my parcel (https://shop.example.com/track?o=10423&k=abc)",
		"Café mug | 2 | € 18.00", "shop.example.com.", "Example Shop (https://shop.example.com/)", "help@shop.example.com."} {
		if !strings.Contains(h.Text, s) {
			t.Errorf("html-only: text lacks %q:\n%s", s, h.Text)
		}
	}

	a := m("alternative")
	check("alternative", "HTMLOnly", a.HTMLOnly, false)
	check("alternative", "MessageID", a.MessageID, "CAF=abc123+XyZ@mail.gmail.com")
	if strings.Contains(a.Text, "<") || !strings.Contains(a.Text, "https://wiki.example.net/reports/q1\n\nBest,") {
		t.Errorf("alternative: plain part not chosen:\n%s", a.Text)
	}

	l := m("latin1")
	check("latin1", "Subject", l.Subject, "Übersicht für März")
	check("latin1", "From", l.From, Address{"Jürgen Müller", "juergen@example.de"})
	check("latin1", "Text", l.Text, "Hallo Jörg,\n\nanbei die Übersicht für die Größenänderung. Grüße aus München!\n\nÄrger mit ß? Nein.\n\n"+
		"Second part in Windows-1252: \u201cquoted\u201d \u2013 costs \u20ac 12 \u2026 that\u2019s all.")

	e := m("encoded-subject")
	check("encoded-subject", "Subject", e.Subject, "Résumé – café ☕会議の件 naïve")
	check("encoded-subject", "From", e.From, Address{"Renée O’Brien", "renee@example.com"})
	check("encoded-subject", "To", e.To, []Address{{"山田太郎", "yamada@example.jp"}, {"Zoë Quoted", "zoe@example.com"}})
	check("encoded-subject", "Cc", e.Cc, []Address{{"François", "francois@example.fr"}})

	at := m("attachment")
	check("attachment", "Attachments", at.Attachments, []Attachment{
		{Filename: "invoice-2024-03.pdf", ContentType: "application/pdf", Size: 2266},
		{Filename: "lögo.png", ContentType: "image/png", Size: 69, Inline: true},
	})
	check("attachment", "Text", at.Text, "Please find the invoice for March attached.\n\nOur logo is inline below.")

	r := m("reply")
	check("reply", "InReplyTo", r.InReplyTo, []string{"thread-2@inboxbot.test"})
	check("reply", "References", r.References, []string{"thread-0@inboxbot.test", "thread-1@mail.customer.example", "thread-2@inboxbot.test"})
	check("reply", "ReplyTo", r.ReplyTo, []Address{{"Erin", "erin.work@customer.example"}, {"", "tickets@customer.example"}})
	check("reply", "Cc", r.Cc, []Address{{"Ops, Frank", "frank@customer.example"}, {"Grace Hopper", "grace@customer.example"}})
	if !strings.Contains(r.Text, "> Could you try the export again?\n>\n> > Export fails") {
		t.Errorf("reply: quoted history not kept:\n%s", r.Text)
	}

	check("autoreply", "Auto", m("autoreply").Auto, true)

	b := m("bounce")
	check("bounce", "Auto", b.Auto, true)
	check("bounce", "From", b.From, Address{"Mail Delivery System", "MAILER-DAEMON@mx.example.net"})
	check("bounce", "attachment types", []string{b.Attachments[0].ContentType, b.Attachments[1].ContentType}, []string{"message/delivery-status", "message/rfc822"})

	br := m("broken")
	check("broken", "From", br.From, Address{"Doe, John", "john@example.com"})
	check("broken", "References", br.References, []string{"good-1@example.com", "no-at-sign", "good-2@example.com"})
	check("broken", "InReplyTo", br.InReplyTo, []string{"good-2@example.com"})
	check("broken", "Subject", br.Subject, "=?x-unknown?Q?caf=E9?= broken mail")
	check("broken", "To", br.To, []Address{{"", "support@inboxbot.test"}, {"=?x-klingon?Q?Worf?=", "worf@example.com"}})
	check("broken", "Text", br.Text, "The closing boundary of this mail is missing.")
	check("broken", "Attachments", br.Attachments, []Attachment{{Filename: "data.bin", ContentType: "application/octet-stream", Size: 10}})
	if len(br.Warnings) == 0 {
		t.Error("broken: no warnings")
	}

	f := m("flowed")
	check("flowed", "Text", f.Text, "This paragraph was written as one long line and wrapped by the mail client for transport.\n"+
		"Second line stays separate.\n\nFrom a space-stuffed line.\n\nOn Fri, Ivy wrote:\n"+
		"> Quoted text that was also wrapped by the client.\n>> Deeper quote continues here.\n\n--\nIvy")

	n := m("nested-broken")
	check("nested-broken", "Text", n.Text, "Plain body of a mail whose alternative part is never closed.")
	check("nested-broken", "Attachments", n.Attachments, []Attachment{{Filename: "report.csv", ContentType: "text/csv", Size: 8}})

	nb := m("no-boundary")
	check("no-boundary", "Text", nb.Text, "This body claims to be multipart but has no boundary lines.\nIt should still be shown.")

	hm := m("html-meta-charset")
	check("html-meta-charset", "Text", hm.Text, "Zażółć gęślą jaźń.")
}

func TestParseNoHeader(t *testing.T) {
	for _, in := range []string{"", "\r\n\r\nbody only\r\n", "just some text\nwithout header\n"} {
		if m, err := Parse(strings.NewReader(in)); !errors.Is(err, ErrNoHeader) {
			t.Errorf("Parse(%q) = %v, %v; want ErrNoHeader", in, m, err)
		}
	}
	// A header without body is fine.
	m, err := Parse(strings.NewReader("Subject: hi"))
	if err != nil || m.Subject != "hi" || m.Text != "" {
		t.Errorf("header only: %+v, %v", m, err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Parse(errReader{boom}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	// An error after the header keeps what was read.
	m, err := Parse(io.MultiReader(strings.NewReader("Subject: partial\r\n\r\nHello"), errReader{boom}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "partial" || m.Text != "Hello" || len(m.Warnings) == 0 {
		t.Errorf("got %+v", m)
	}
}

func TestParseBadPartHeader(t *testing.T) {
	in := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\nC\xfftent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n"
	m, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	// go-message's part header parser is strict: the part and everything
	// after it is lost, with a warning.
	if m.Text != "first" || len(m.Warnings) != 1 || !utf8.ValidString(m.Warnings[0]) {
		t.Errorf("Text=%q Warnings=%q", m.Text, m.Warnings)
	}
}

func TestParseEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(m *Message) bool
	}{
		{"malformed content-type params", "Subject: x\r\nContent-Type: text/plain; charset=iso-8859-2; name=a b\r\n\r\nZab\xb3ocki\r\n",
			func(m *Message) bool { return m.Text == "Zabłocki" && len(m.Warnings) == 1 }},
		{"missing semicolon", "Subject: x\r\nContent-Type: text/plain; charset=iso-8859-2 format=flowed\r\n\r\nZab\xb3ocki\r\n",
			func(m *Message) bool { return m.Text == "Zabłocki" && len(m.Warnings) == 1 }},
		{"undeclared 8-bit body", "Subject: x\r\n\r\nGr\xfc\xdfe \x93quoted\x94 and UTF-8 \xc3\xa9\r\n",
			func(m *Message) bool { return m.Text == "Grüße “quoted” and UTF-8 é" }},
		{"unknown body charset", "Subject: x\r\nContent-Type: text/plain; charset=x-foo\r\n\r\nplain ascii\r\n",
			func(m *Message) bool { return m.Text == "plain ascii" && len(m.Warnings) == 1 }},
		{"unknown transfer encoding", "Subject: x\r\nContent-Transfer-Encoding: x-uue\r\n\r\nbody\r\n",
			func(m *Message) bool { return m.Text == "body" && len(m.Warnings) == 1 }},
		{"raw utf-8 subject", "Subject: Grüße  aus\r\n  Köln\r\n\r\n",
			func(m *Message) bool { return m.Subject == "Grüße aus Köln" }},
		{"raw latin1 subject and name", "Subject: Gr\xfc\xdfe\r\nFrom: J\xf6rg <j@example.de>\r\n\r\n",
			func(m *Message) bool { return m.Subject == "Grüße" && m.From == Address{"Jörg", "j@example.de"} }},
		{"bad date", "Subject: x\r\nDate: yesterday at noon\r\n\r\n",
			func(m *Message) bool { return m.Date.IsZero() && len(m.Warnings) == 1 }},
		{"asctime date", "Subject: x\r\nDate: Tue Mar  5 10:15:00 2024\r\n\r\n",
			func(m *Message) bool { return m.Date.Format("2006-01-02 15:04") == "2024-03-05 10:15" }},
		{"no message-id", "Subject: x\r\n\r\n",
			func(m *Message) bool { return m.MessageID == "" && m.InReplyTo == nil && len(m.Warnings) == 0 }},
		{"message-id without brackets", "Message-ID: abc@Example.COM\r\n\r\n",
			func(m *Message) bool { return m.MessageID == "abc@example.com" }},
		{"sender fallback", "Sender: list@example.com\r\n\r\n",
			func(m *Message) bool { return m.From == Address{"", "list@example.com"} }},
		{"forwarded message", "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nsee below\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=orig.eml\r\n\r\nSubject: orig\r\n\r\ninner body\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "see below" && len(m.Attachments) == 1 && m.Attachments[0] == Attachment{"orig.eml", "message/rfc822", 27, false}
			}},
		{"digest default type", "Subject: d\r\nContent-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\nSubject: one\r\n\r\n1\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "" && len(m.Attachments) == 1 && m.Attachments[0].ContentType == "message/rfc822"
			}},
		{"text attachment", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes\r\n--b\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "body" && len(m.Attachments) == 2 && m.Attachments[0] == Attachment{"notes.txt", "text/plain", 5, true} &&
					m.Attachments[1].ContentType == "text/calendar"
			}},
		{"mixed text parts joined", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\n\r\nPNG\r\n--b\r\n\r\nsecond\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "first\n\nsecond" && len(m.Attachments) == 1 && m.Attachments[0].Inline
			}},
		{"flowed delsp", "Subject: x\r\nContent-Type: text/plain; format=flowed; delsp=yes\r\n\r\nlong wo \r\nrd and  \r\n next\r\n",
			func(m *Message) bool { return m.Text == "long word and next" }},
		{"bad base64", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC!!!!\r\n--b--\r\n",
			func(m *Message) bool { return len(m.Attachments) == 1 && len(m.Warnings) == 1 }},
		{"deep nesting", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + nested(20) + "--b0--\r\n",
			func(m *Message) bool { return m.Text == "" && len(m.Attachments) == 1 && len(m.Warnings) == 1 }},
	} {
		m, err := Parse(strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(m) {
			t.Errorf("%s: unexpected result:\n%s", tc.name, marshal(t, m))
		}
	}
}

// nested returns n levels of multipart/mixed parts inside boundary b0.
func nested(n int) string {
	var s strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&s, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&s, "--b%d\r\n\r\ninnermost\r\n", n)
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&s, "--b%d--\r\n", i)
	}
	return s.String()
}

func TestParseTruncated(t *testing.T) {
	line := strings.Repeat("äbc ", 20) + "\r\n" // 100 bytes, multi-byte runes
	body := strings.Repeat(line, (MaxText/len(line))*3)
	m, err := Parse(strings.NewReader("Subject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated || len(m.Text) > MaxText || len(m.Text) < MaxText-100 || !utf8.ValidString(m.Text) {
		t.Errorf("Truncated=%v len=%d valid=%v", m.Truncated, len(m.Text), utf8.ValidString(m.Text))
	}
	m, err = Parse(strings.NewReader("Subject: small\r\n\r\n" + strings.Repeat(line, 10) + strings.Repeat(" \r\n", 1000)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Truncated {
		t.Error("small mail reported as truncated")
	}
}

func TestParseAlternativeChoice(t *testing.T) {
	const head = "Subject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
	part := func(ct, body string) string { return "--b\r\nContent-Type: " + ct + "\r\n\r\n" + body + "\r\n" }
	for _, tc := range []struct {
		name, body, want string
		htmlOnly         bool
	}{
		{"html first", part("text/html", "<p>from <b>html</b></p>") + part("text/plain", "from plain") + "--b--\r\n", "from plain", false},
		{"empty plain", part("text/plain", "  \r\n") + part("text/html", "<p>from html</p>") + "--b--\r\n", "from html", true},
		{"related html", part("text/plain", "") + "--b\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n<div>rel</div>\r\n--r\r\nContent-Type: image/gif\r\nContent-ID: <x@y>\r\n\r\nGIF\r\n--r--\r\n\r\n--b--\r\n", "rel", true},
	} {
		m, err := Parse(strings.NewReader(head + tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != tc.want || m.HTMLOnly != tc.htmlOnly {
			t.Errorf("%s: Text=%q HTMLOnly=%v, want %q %v (warnings %q)", tc.name, m.Text, m.HTMLOnly, tc.want, tc.htmlOnly, m.Warnings)
		}
	}
}

func TestIsAutomated(t *testing.T) {
	for _, tc := range []struct {
		hdr  map[string]string
		want bool
	}{
		{map[string]string{"From": "a@example.com"}, false},
		{map[string]string{"Auto-Submitted": "no"}, false},
		{map[string]string{"Auto-Submitted": "No (manual)"}, false},
		{map[string]string{"Auto-Submitted": "auto-generated"}, true},
		{map[string]string{"Return-Path": " <> "}, true},
		{map[string]string{"Return-Path": "<a@example.com>"}, false},
		{map[string]string{"From": "Mail Delivery Subsystem <Mailer-Daemon@example.com>"}, true},
		{map[string]string{"From": "MAILER-DAEMON (Mail Delivery System)"}, true},
		{map[string]string{"From": "postmaster@example.com"}, true},
		{map[string]string{"From": "postmaster-team@example.com"}, false},
		{map[string]string{"Content-Type": "multipart/report; report-type=delivery-status; boundary=x"}, true},
		{map[string]string{"Content-Type": "multipart/mixed; boundary=x"}, false},
		{map[string]string{"Precedence": "bulk"}, true},
		{map[string]string{"Precedence": "List"}, true},
		{map[string]string{"Precedence": "junk"}, true},
		{map[string]string{"Precedence": "first-class"}, false},
		{map[string]string{"X-Autoreply": "yes"}, true},
		{map[string]string{"X-Autorespond": "Out of office"}, true},
	} {
		h := textproto.MIMEHeader{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		if got := IsAutomated(h); got != tc.want {
			t.Errorf("IsAutomated(%v) = %v, want %v", tc.hdr, got, tc.want)
		}
	}
}

func TestLenientAddresses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Address
	}{
		{`Doe, John <john@example.com>`, []Address{{"Doe, John", "john@example.com"}}},
		{`Doe, John <john@example.com>, Roe, Jane <jane@example.com>`, []Address{{"Doe, John", "john@example.com"}, {"Roe, Jane", "jane@example.com"}}},
		{`"A" <a@example.com>, Broken Name b@example.com`, []Address{{"A", "a@example.com"}, {"", "Broken Name b@example.com"}}},
		{`Team: a@example.com, b@example.com;`, []Address{{"", "a@example.com"}, {"", "b@example.com"}}},
		{`J\xf6rg <joerg@example.de>`, []Address{{"Jörg", "joerg@example.de"}}},
		{`=?utf-8?q?Doe,_Jane?= <jane@example.com>, x@example.com`, []Address{{"Doe, Jane", "jane@example.com"}, {"", "x@example.com"}}},
		{`<unterminated@example.com`, []Address{{"", "unterminated@example.com"}}},
	} {
		in := strings.ReplaceAll(tc.in, `\xf6`, "\xf6")
		got, _ := parseAddressList(in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAddressList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLenientMsgIDs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"<a@X.com> <b c@x.com> <d@y.COM>", []string{"a@x.com", "d@y.com"}},
		{"a@X.com, b@y.com", []string{"a@x.com", "b@y.com"}},
		{"<a@x.com> (comment) <b@x.com", []string{"a@x.com", "b@x.com"}},
		{"Your message of Mon <a@x.com>", []string{"a@x.com"}},
	} {
		got, _ := lenientMsgIDs(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("lenientMsgIDs(%q) = %q, want %q", tc.in, got, tc.want)
		}
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
	if len(m.Attachments) != 1 || m.Attachments[0].Size != want || m.Attachments[0].Filename != "big.zip" {
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

// typicalMail builds a ~20 KB multipart/alternative mail like a human-written
// reply: quoted-printable text and HTML versions with some quoted history.
func typicalMail() []byte {
	var plain, htm strings.Builder
	plain.WriteString("Hello,\r\n\r\nthanks for the quick answer. I tried it again this morning – same result.\r\n\r\n")
	htm.WriteString("<html><head><style>.q{color:#555}</style></head><body><p>Hello,</p><p>thanks for the quick answer. I tried it again this morning – same result.</p>\r\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&plain, "> Line %d of the quoted conversation, with some words to make it realistic.\r\n", i)
		fmt.Fprintf(&htm, "<div class=\"q\" style=\"margin:0 0 0 .8ex;border-left:1px #ccc solid\">Line %d of the quoted <b>conversation</b>, with some words to make it &quot;realistic&quot; and a <a href=\"https://example.com/l/%d\">link</a>.</div>\r\n", i, i)
	}
	for htm.Len() < 14<<10 {
		htm.WriteString("<p>Padding paragraph of the HTML alternative, as mail clients produce it.</p>\r\n")
	}
	htm.WriteString("</body></html>\r\n")
	qp := func(s string) string {
		var b strings.Builder
		w := quotedprintable.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return b.String()
	}
	return []byte("Return-Path: <sender@example.com>\r\nReceived: from mx.example.com by mx.inboxbot.test; Tue, 5 Mar 2024 10:15:02 +0100\r\n" +
		"Message-ID: <bench@example.com>\r\nIn-Reply-To: <prev@inboxbot.test>\r\nReferences: <a@inboxbot.test> <prev@inboxbot.test>\r\n" +
		"Date: Tue, 5 Mar 2024 10:15:00 +0100\r\nFrom: Sender Name <sender@example.com>\r\nTo: Support <support@inboxbot.test>\r\n" +
		"Cc: \"Other, Person\" <other@example.com>\r\nSubject: =?UTF-8?Q?Re:_Benchmark_=E2=80=93_typical_mail?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"000000000000bench\"\r\n\r\n" +
		"--000000000000bench\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		qp(plain.String()) +
		"\r\n--000000000000bench\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		qp(htm.String()) +
		"\r\n--000000000000bench--\r\n")
}

func BenchmarkParse20KB(b *testing.B) {
	msg := typicalMail()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(bytes.NewReader(msg))
		if err != nil || m.Text == "" {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, path := range fixtures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(typicalMail())
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
