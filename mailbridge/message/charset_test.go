package message

import (
	"errors"
	"strings"
	"testing"
)

func TestChooseCharset(t *testing.T) {
	for _, tc := range []struct {
		name, label, raw, want string
		repaired               bool
	}{
		{"real Latin-1 stays", "iso-8859-1", "Gr\xfc\xdfe, J\xf6rg", "Grüße, Jörg", false},
		{"Latin-1 label is Windows-1252", "iso-8859-1", "\x93quoted\x94 \x80 5", "“quoted” € 5", false},
		{"UTF-8 labelled Latin-1", "ISO-8859-1", "Gr\xc3\xbc\xc3\x9fe, J\xc3\xb6rg \xe2\x80\x93 5 \xe2\x82\xac", "Grüße, Jörg – 5 €", true},
		{"UTF-8 labelled Windows-1252", "windows-1252", "na\xc3\xafve caf\xc3\xa9", "naïve café", true},
		{"UTF-8 labelled KOI8-R", "koi8-r", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "Привет", true},
		{"real KOI8-R stays", "koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет", false},
		{"ASCII under any label", "iso-8859-2", "plain text", "plain text", false},
		{"real ISO-2022-JP", "iso-2022-jp", "\x1b$BF|K\x5c8l$N%F%-%9%H\x1b(B", "日本語のテキスト", false},
		{"UTF-8 labelled ISO-2022-JP", "iso-2022-jp", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88", "日本語のテキスト", true},
		{"EUC-JP labelled ISO-2022-JP", "iso-2022-jp", "\xa4\xaa\xc0\xa4\xcf\xc3\xa4\xcb\xa4\xca\xa4\xc3\xa4\xc6\xa4\xaa\xa4\xea\xa4\xde\xa4\xb9\xa1\xa3", "お世話になっております。", true},
		{"Shift_JIS labelled ISO-2022-JP", "iso-2022-jp", "\x82\xa8\x90\xa2\x98b\x82\xc9\x82\xc8\x82\xc1\x82\xc4\x82\xa8\x82\xe8\x82\xdc\x82\xb7\x81B", "お世話になっております。", true},
		{"short EUC-JP labelled ISO-2022-JP", "iso-2022-jp", "\xa4\xcf\xa4\xa4", "はい", true},
		{"short Shift_JIS labelled ISO-2022-JP", "iso-2022-jp", "\x82\xcd\x82\xa2", "はい", true},
		{"real Shift_JIS stays", "shift_jis", "\x8c\xa9\x90\xcf\x8f\x91", "見積書", false},
		{"UTF-8 labelled Shift_JIS", "shift_jis", "\xe8\xa6\x8b\xe7\xa9\x8d\xe6\x9b\xb8\xe3\x82\x92\xe9\x80\x81\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x99", "見積書を送ります", true},
		{"UTF-8 labelled EUC-KR", "euc-kr", "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94 \xea\xb0\x90\xec\x82\xac\xed\x95\xa9\xeb\x8b\x88\xeb\x8b\xa4", "안녕하세요 감사합니다", true},
		{"real EUC-KR stays", "ks_c_5601-1987", "\xbe\xc8\xb3\xe7\xc7\xcf\xbc\xbc\xbf\xe4", "안녕하세요", false},
		{"GB2312 is read as GBK", "gb2312", "\xc4\xe3\xba\xc3\xa3\xac\xd0\xbb\xd0\xbb", "你好，谢谢", false},
		{"UTF-7", "utf-7", "5 +IKw for Zo+AOs-", "5 € for Zoë", false},
		{"UTF-8 labelled UTF-7", "UTF-7", "5 \xe2\x82\xac for Zo\xc3\xab", "5 € for Zoë", true},
		{"UTF-16 with BOM", "utf-16", "\xff\xfeh\x00\xe9\x00l\x00l\x00o\x00", "héllo", false},
		{"UTF-16 without BOM is big-endian", "utf-16", "\x00h\x00\xe9\x00l\x00l\x00o", "héllo", false},
		{"quoted label", "\x22UTF-8\x22", "\xc3\xa9", "é", false},
		{"us-ascii with 8-bit bytes", "us-ascii", "caf\xc3\xa9 and caf\xe9", "café and café", false},
	} {
		cs, note, err := chooseCharset(tc.label, []byte(tc.raw), true)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := cs.decode([]byte(tc.raw)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if (note != "") != tc.repaired {
			t.Errorf("%s: note %q, want a repair: %v", tc.name, note, tc.repaired)
		}
	}
}

func TestChooseCharsetUnknown(t *testing.T) {
	// ISO-2022-KR is "replacement" in WHATWG's table: one U+FFFD for
	// the whole text. Undecoded is better.
	for _, label := range []string{"x-foo", "iso-2022-kr", "hz-gb-2312"} {
		cs, _, err := chooseCharset(label, []byte("plain \x1b$)C ascii"), true)
		if !errors.Is(err, errUnknownCharset) || !cs.isUTF8() {
			t.Errorf("%s: %v, %+v", label, err, cs)
		}
	}
}

// An incomplete sample (the start of a streamed HTML part) may end in the
// middle of a character: that must not count against the right charset.
func TestChooseCharsetSample(t *testing.T) {
	sample := []byte(strings.Repeat("Grüße aus Köln\n", 10) + "Gr\xc3")
	cs, note, _ := chooseCharset("iso-8859-1", sample, false)
	if !cs.isUTF8() || note == "" {
		t.Errorf("UTF-8 sample cut in a rune: %+v %q", cs, note)
	}
	jp := []byte("お世話になっております。\n")
	euc := []byte(strings.Repeat(string(eucJP(t, jp)), 3))
	cs, _, _ = chooseCharset("iso-2022-jp", euc[:len(euc)-1], false)
	if cs.name != "euc-jp" {
		t.Errorf("EUC-JP sample cut in a character: %+v", cs)
	}
}

func eucJP(t *testing.T, utf8Text []byte) []byte {
	t.Helper()
	cs, err := lookupCharset("euc-jp")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cs.enc.NewEncoder().Bytes(utf8Text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// mime.WordDecoder decodes these labels itself; the repair
		// must still apply.
		{"=?iso-8859-1?Q?Besch=C3=A4digt?=", "Beschädigt"},
		{"=?ISO-8859-1?Q?Besch=E4digt?=", "Beschädigt"},
		{"=?us-ascii?Q?caf=C3=A9?=", "café"},
		{"=?utf-8?q?caf=C3=A9?= =?UTF-8?B?4oKs?=", "café€"},
		{"=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?=", "日本語"},
		{"=?iso-2022-jp?B?xvzL3Ljs?=", "日本語"}, // EUC-JP bytes
		{"=?utf-7?Q?+IKw-?=", "€"},
		{"no words", "no words"},
	} {
		got, err := decodeWords(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("decodeWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := decodeWords("=?x-unknown?Q?caf=E9?="); !errors.Is(err, errUnknownCharset) {
		t.Errorf("unknown charset: err = %v", err)
	}
}

// HTML parts are converted as they stream: the charset is chosen on a
// sample, from the Content-Type or a <meta> tag.
func TestParseHTMLCharsetRepair(t *testing.T) {
	for _, tc := range []struct{ name, ctype, body, want string }{
		{"UTF-8 labelled Latin-1", "text/html; charset=iso-8859-1", "<p>Grüße aus Köln</p>", "Grüße aus Köln"},
		{"meta Latin-1 but UTF-8", "text/html", `<meta charset="iso-8859-1"><p>Grüße aus Köln</p>`, "Grüße aus Köln"},
		{"real Latin-1", "text/html; charset=iso-8859-1", "<p>Gr\xfc\xdfe aus K\xf6ln</p>", "Grüße aus Köln"},
		{"Shift_JIS labelled ISO-2022-JP", "text/html; charset=iso-2022-jp", "<p>\x82\xa8\x90\xa2\x98b\x82\xc9\x82\xc8\x82\xc1\x82\xc4\x82\xa8\x82\xe8\x82\xdc\x82\xb7\x81B</p>", "お世話になっております。"},
		{"UTF-7", "text/html; charset=utf-7", "<p>5 +IKw for Zo+AOs-</p>", "5 € for Zoë"},
	} {
		m, err := Parse(strings.NewReader("Subject: x\r\nContent-Type: " + tc.ctype + "\r\n\r\n" + tc.body + "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != tc.want {
			t.Errorf("%s: Text %q, want %q (warnings %q)", tc.name, m.Text, tc.want, m.Warnings)
		}
	}
}
