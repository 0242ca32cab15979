package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
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
// go test ./mailbridge/message -run TestParseGolden -update
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
		{Name: "invoice-2024-03.pdf", Type: "application/pdf", Size: 2266},
		{Name: "lögo.png", Type: "image/png", Size: 69, ContentID: "logo@billing.example.com", Inline: true},
	})
	check("attachment", "Text", at.Text, "Please find the invoice for March attached.\n\nOur logo is inline below.")

	r := m("reply")
	check("reply", "InReplyTo", r.InReplyTo, []string{"thread-2@inboxbot.test"})
	check("reply", "References", r.References, []string{"thread-0@inboxbot.test", "thread-1@mail.customer.example", "thread-2@inboxbot.test"})
	check("reply", "ReplyTo", r.ReplyTo, &Address{"Erin", "erin.work@customer.example"})
	check("reply", "ReplyToAll", r.ReplyToAll, []Address{{"Erin", "erin.work@customer.example"}, {"", "tickets@customer.example"}})
	check("reply", "Cc", r.Cc, []Address{{"Ops, Frank", "frank@customer.example"}, {"Grace Hopper", "grace@customer.example"}})
	if !strings.Contains(r.Text, "> Could you try the export again?\n>\n> > Export fails") {
		t.Errorf("reply: quoted history not kept:\n%s", r.Text)
	}

	check("autoreply", "Auto", m("autoreply").Auto, true)

	b := m("bounce")
	check("bounce", "Auto", b.Auto, true)
	check("bounce", "From", b.From, Address{"Mail Delivery System", "MAILER-DAEMON@mx.example.net"})
	check("bounce", "attachment types", []string{b.Attachments[0].Type, b.Attachments[1].Type}, []string{"message/delivery-status", "message/rfc822"})

	br := m("broken")
	check("broken", "From", br.From, Address{"Doe, John", "john@example.com"})
	check("broken", "References", br.References, []string{"good-1@example.com", "no-at-sign", "good-2@example.com"})
	check("broken", "InReplyTo", br.InReplyTo, []string{"good-2@example.com"})
	check("broken", "Subject", br.Subject, "=?x-unknown?Q?caf=E9?= broken mail")
	check("broken", "To", br.To, []Address{{"", "support@inboxbot.test"}, {"=?x-klingon?Q?Worf?=", "worf@example.com"}})
	check("broken", "Text", br.Text, "The closing boundary of this mail is missing.")
	check("broken", "Attachments", br.Attachments, []Attachment{{Name: "data.bin", Type: "application/octet-stream", Size: 10}})
	if len(br.Warnings) == 0 {
		t.Error("broken: no warnings")
	}

	f := m("flowed")
	check("flowed", "Text", f.Text, "This paragraph was written as one long line and wrapped by the mail client for transport.\n"+
		"Second line stays separate.\n\nFrom a space-stuffed line.\n\nOn Fri, Ivy wrote:\n"+
		"> Quoted text that was also wrapped by the client.\n>> Deeper quote continues here.\n\n--\nIvy")

	n := m("nested-broken")
	check("nested-broken", "Text", n.Text, "Plain body of a mail whose alternative part is never closed.")
	check("nested-broken", "Attachments", n.Attachments, []Attachment{{Name: "report.csv", Type: "text/csv", Size: 8}})

	nb := m("no-boundary")
	check("no-boundary", "Text", nb.Text, "This body claims to be multipart but has no boundary lines.\nIt should still be shown.")

	cl := m("charset-utf8-as-latin1")
	check("charset-utf8-as-latin1", "Subject", cl.Subject, "Beschädigte Lieferung")
	check("charset-utf8-as-latin1", "From", cl.From, Address{"Zoë Müller", "zoe@example.de"})
	if !strings.Contains(cl.Text, "Grüße aus Köln – Zoë Müller") {
		t.Errorf("charset-utf8-as-latin1: Text %q", cl.Text)
	}
	check("charset-utf8-as-iso2022jp", "Text", m("charset-utf8-as-iso2022jp").Text, "お問い合わせありがとうございます。\n請求書の金額について確認いたします。\n明日までにご連絡します。")
	j8 := m("charset-8bit-as-iso2022jp")
	check("charset-8bit-as-iso2022jp", "Subject", j8.Subject, "配送状況")
	check("charset-8bit-as-iso2022jp", "Text", j8.Text, "先日の注文について、配送状況を教えてください。\n注文番号は１２３４５です。\nよろしくお願いいたします。")
	check("charset-sjis-as-iso2022jp", "Text", m("charset-sjis-as-iso2022jp").Text, "見積書を添付します。\nご確認のほど、よろしくお願いいたします。")
	u7 := m("charset-utf7")
	check("charset-utf7", "Subject", u7.Subject, "Price €")
	check("charset-utf7", "Text", u7.Text, "Hello, the price is 12 € + tax.\nPlease reply to Zoë – thanks!")

	o := m("bounce-o365-unindented")
	check("bounce-o365-unindented", "attachments", o.Attachments, []Attachment{
		{Name: "details.txt", Type: "message/delivery-status", Size: 342},
		{Name: "trace.bin", Type: "application/octet-stream", Size: 512},
		{Type: "message/rfc822", Size: 284},
	})
	check("bounce-o365-unindented", "Auto", o.Auto, true)

	nb2 := m("text-named-body")
	check("text-named-body", "attachments", nb2.Attachments, []Attachment{{Name: "message.txt", Type: "text/plain", Size: 119, Shown: true}, {Name: "scan-0001.pdf", Type: "application/pdf", Size: 609}})
	if !strings.HasPrefix(nb2.Text, "Dear support,") {
		t.Errorf("text-named-body: Text %q", nb2.Text)
	}
	ti := m("text-inline-attachment")
	check("text-inline-attachment", "Text", ti.Text, "Hi, the sync fails every night. Here is the log:\n\n"+
		"2024-03-26 08:01:12 ERROR sync: connection reset by peer\n2024-03-26 08:01:13 INFO sync: retrying in 30s\n\nAny idea? Thanks, Dana")
	bb := m("base64-binary-text")
	check("base64-binary-text", "HTMLOnly", bb.HTMLOnly, true)
	if !strings.HasPrefix(bb.Text, "You used 42 of 50 seats") || len(bb.Warnings) != 1 {
		t.Errorf("base64-binary-text: Text %q Warnings %q", bb.Text, bb.Warnings)
	}

	ns := m("bounce-null-sender")
	check("bounce-null-sender", "From", ns.From, Address{"MAILER-DAEMON", ""})
	check("bounce-null-sender", "Auto", ns.Auto, true)
	check("bounce-null-sender", "Warnings", len(ns.Warnings), 0)
	fs := m("from-several")
	check("from-several", "From", fs.From, Address{"Alex Buyer", "alex@customer.example"})
	check("from-several", "Cc", fs.Cc, []Address{{"Finance", "finance@customer.example"}})
	check("from-several", "Warnings", len(fs.Warnings), 1)

	check("reply", "NewText", r.NewText(), "It still fails with the same error, see below.")
	if q := r.Quoted(); !strings.HasPrefix(q, "On Tue, 12 Mar 2024 at 09:00, Support") {
		t.Errorf("reply: Quoted %q", q)
	}
	check("plain", "NewText", strings.HasSuffix(p.NewText(), "Thanks,\nAlice"), true)
	check("outlook-html-reply", "NewText", m("outlook-html-reply").NewText(), "Hi Support,\n\nthe export works again, thank you!\n\nBest regards\nFrank Ops\nCustomer Inc.")
	fo := m("forward-only")
	if !strings.HasSuffix(fo.NewText(), "after every login.") || !strings.HasPrefix(fo.NewText(), "---------- Forwarded message") {
		t.Errorf("forward-only: NewText %q", fo.NewText())
	}
	check("html-only", "QuoteAt", h.QuoteAt, 0)

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
	// The malformed line is dropped, the part and the rest are kept.
	if m.Text != "first\n\nsecond" || len(m.Warnings) != 1 || !utf8.ValidString(m.Warnings[0]) {
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
				return m.Text == "see below" && len(m.Attachments) == 1 && m.Attachments[0] == Attachment{Name: "orig.eml", Type: "message/rfc822", Size: 27}
			}},
		{"digest default type", "Subject: d\r\nContent-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\nSubject: one\r\n\r\n1\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "" && len(m.Attachments) == 1 && m.Attachments[0].Type == "message/rfc822"
			}},
		{"text attachment", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes\r\n--b\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n",
			func(m *Message) bool {
				// An inline text attachment is shown (and listed).
				return m.Text == "body\n\nnotes" && len(m.Attachments) == 2 &&
					m.Attachments[0] == Attachment{Name: "notes.txt", Type: "text/plain", Size: 5, Inline: true, Shown: true} &&
					m.Attachments[1].Type == "text/calendar"
			}},
		{"named text part is the body when alone", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=msg.txt\r\n\r\nthe body\r\n--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "the body" && len(m.Attachments) == 2 && m.Attachments[0] == Attachment{Name: "msg.txt", Type: "text/plain", Size: 8, Shown: true}
			}},
		{"named text part with other text", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=notes.txt\r\n\r\nnotes\r\n--b\r\n\r\nthe body\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "the body" && len(m.Attachments) == 1 && m.Attachments[0] == Attachment{Name: "notes.txt", Type: "text/plain", Size: 5}
			}},
		{"text attachment not shown", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nfile\r\n--b--\r\n",
			func(m *Message) bool {
				return m.Text == "" && len(m.Attachments) == 1 && !m.Attachments[0].Shown
			}},
		{"base64 binary text alone", "Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
			func(m *Message) bool {
				return m.Text == "" && len(m.Warnings) == 1 && strings.Contains(m.Warnings[0], "base64")
			}},
		{"binary html", "Subject: x\r\nContent-Type: text/html\r\n\r\n<p>\x01\x02\x03\x04\x05</p>\r\n",
			func(m *Message) bool { return m.Text == "" && len(m.Warnings) == 1 }},
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
