package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// Declared charsets are repaired, not trusted: a label the bytes contradict
// is replaced by what the bytes are. The rules (chooseCharset):
//   - bytes that are valid UTF-8 with non-ASCII sequences are UTF-8 when
//     the label is a single-byte charset (Latin-1 and the like) or a 7-bit
//     one (ISO-2022-JP, UTF-7): for those, valid UTF-8 by chance is
//     practically impossible in real text;
//   - ISO-2022-JP with 8-bit bytes is EUC-JP or Shift_JIS, whichever
//     decodes without errors (clients label both that way);
//   - a multi-byte label whose decoding has errors, on bytes that are valid
//     UTF-8, gives UTF-8.
// Labels follow the WHATWG table (x/text's htmlindex, which browsers use:
// iso-8859-1 is read as Windows-1252, gb2312 as GBK), then the IANA one.

// errUnknownCharset is returned for a label no decoder is known for.
var errUnknownCharset = errors.New("unknown charset")

// textCharset decodes text to UTF-8.
type textCharset struct {
	name string            // as declared (lower case), for warnings
	enc  encoding.Encoding // nil: UTF-8 (utf7 false) or UTF-7 (utf7 true)
	utf7 bool
}

// utf8Charset is UTF-8 in which bytes that are not UTF-8 are read as
// Windows-1252 (the usual charset of undeclared 8-bit text).
var utf8Charset = textCharset{name: "utf-8"}

func (c textCharset) isUTF8() bool { return c.enc == nil && !c.utf7 }

// sevenBit reports charsets whose text never has bytes above 0x7F.
func (c textCharset) sevenBit() bool {
	return c.utf7 || c.enc == japanese.ISO2022JP
}

func (c textCharset) singleByte() bool {
	_, ok := c.enc.(*charmap.Charmap)
	return ok
}

// transformer returns the decoder, nil for UTF-8.
func (c textCharset) transformer() transform.Transformer {
	switch {
	case c.utf7:
		return new(utf7Decoder)
	case c.enc != nil:
		return c.enc.NewDecoder()
	}
	return nil
}

// decode returns b as valid UTF-8.
func (c textCharset) decode(b []byte) string {
	t := c.transformer()
	if t == nil {
		return validUTF8(string(b))
	}
	out, _, err := transform.Bytes(t, b)
	if err != nil {
		// Decoders of x/text replace what they cannot read; an error
		// here is exceptional. Keep the bytes rather than nothing.
		return validUTF8(string(b))
	}
	return validUTF8(string(out))
}

// reader returns r decoded to UTF-8 (for UTF-8, r itself: its users
// check validity themselves).
func (c textCharset) reader(r io.Reader) io.Reader {
	if t := c.transformer(); t != nil {
		return transform.NewReader(r, t)
	}
	return r
}

// lookupCharset finds the decoder for a declared label.
func lookupCharset(label string) (textCharset, error) {
	name := strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	switch name {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "x-utf_8j", "unicode-1-1-utf-8":
		// us-ascii: 8-bit bytes in "ASCII" text are UTF-8 if valid,
		// else Windows-1252, like undeclared text.
		return textCharset{name: name}, nil
	case "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-unicode-2-0-utf-7":
		return textCharset{name: name, utf7: true}, nil
	case "ansi_x3.110-1983": // go-message's quirk: mostly a superset of Latin-1
		return textCharset{name: name, enc: charmap.Windows1252}, nil
	}
	var enc encoding.Encoding
	if strings.HasPrefix(name, "utf-16") || strings.HasPrefix(name, "utf-32") {
		// MIME's utf-16 is big-endian with an optional BOM (RFC 2781);
		// WHATWG's is little-endian.
		enc, _ = ianaindex.MIME.Encoding(name)
	}
	if enc == nil {
		enc, _ = htmlindex.Get(name)
	}
	if enc == nil {
		enc, _ = ianaindex.MIME.Encoding(name)
	}
	if enc == nil {
		enc, _ = ianaindex.MIME.Encoding("cs" + name)
	}
	// WHATWG maps ISO-2022-KR, HZ and the like to "replacement", which
	// turns a whole text into one U+FFFD: showing it undecoded is better.
	if enc == nil || enc == encoding.Replacement {
		return utf8Charset, fmt.Errorf("%w %q", errUnknownCharset, label)
	}
	return textCharset{name: name, enc: enc}, nil
}

// chooseCharset decides how to decode text declared as label from a
// sample of its bytes (the whole text when complete). note describes a
// repair ("" if the label was kept); err reports an unknown label (the
// text is then read as UTF-8/Windows-1252).
func chooseCharset(label string, sample []byte, complete bool) (cs textCharset, note string, err error) {
	cs, err = lookupCharset(label)
	if err != nil || cs.isUTF8() || !hasHighBytes(sample) {
		return cs, "", err
	}
	if !complete {
		sample = trimPartialRune(sample)
	}
	isUTF8 := utf8.Valid(sample)
	if isUTF8 && (cs.singleByte() || cs.sevenBit()) {
		return utf8Charset, fmt.Sprintf("declared %s but is UTF-8; read as UTF-8", cs.name), nil
	}
	if cs.enc == japanese.ISO2022JP {
		best, bestErrs := textCharset{}, -1
		for _, c := range []textCharset{{name: "euc-jp", enc: japanese.EUCJP}, {name: "shift_jis", enc: japanese.ShiftJIS}} {
			n := decodeErrors(c, sample, complete)
			if bestErrs < 0 || n < bestErrs || (n == bestErrs && halfwidthKana(c, sample) < halfwidthKana(best, sample)) {
				best, bestErrs = c, n
			}
		}
		return best, fmt.Sprintf("declared %s but has 8-bit bytes; read as %s", cs.name, best.name), nil
	}
	if isUTF8 && decodeErrors(cs, sample, complete) > 0 {
		return utf8Charset, fmt.Sprintf("declared %s but is UTF-8; read as UTF-8", cs.name), nil
	}
	return cs, "", nil
}

func hasHighBytes(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// decodeErrors counts the characters c cannot decode in b (x/text's
// decoders turn them into U+FFFD). An incomplete sample may end in the
// middle of a character: its last line is not counted.
func decodeErrors(c textCharset, b []byte, complete bool) int {
	if !complete {
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			b = b[:i]
		}
	}
	out, _, err := transform.Bytes(c.transformer(), b)
	if err != nil {
		return len(b)
	}
	return bytes.Count(out, []byte(string(utf8.RuneError)))
}

// halfwidthKana counts half-width katakana in b decoded as c: EUC-JP text
// read as Shift_JIS often decodes without errors, but into rows of
// half-width katakana, which real text rarely has.
func halfwidthKana(c textCharset, b []byte) int {
	if c.enc == nil {
		return 1 << 30
	}
	out, _, _ := transform.Bytes(c.transformer(), b)
	n := 0
	for _, r := range string(out) {
		if r >= 0xFF61 && r <= 0xFF9F {
			n++
		}
	}
	return n
}

// validUTF8 returns s as valid UTF-8: valid sequences are kept, every other
// byte is read as Windows-1252 (the usual charset of undeclared 8-bit text).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = charmap.Windows1252.DecodeByte(s[i])
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// wordDecoder decodes RFC 2047 encoded words with the same charset rules
// as bodies (repairs included). Use decodeWords, or relabelWords first:
// mime.WordDecoder decodes some charsets itself.
var wordDecoder = mime.WordDecoder{CharsetReader: func(label string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	cs, _, err := chooseCharset(label, b, true)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(cs.decode(b)), nil
}}

// decodeWords decodes the RFC 2047 encoded words of a header value.
func decodeWords(s string) (string, error) {
	return wordDecoder.DecodeHeader(relabelWords(s))
}

// relabelWords renames, in encoded words, the charsets mime.WordDecoder
// decodes itself without its CharsetReader (and so without the repairs:
// UTF-8 labelled Latin-1 is common) to aliases it does not know.
func relabelWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "=?")
		if i < 0 {
			break
		}
		b.WriteString(s[:i+2])
		s = s[i+2:]
		for _, l := range [...]struct{ from, to string }{{"iso-8859-1?", "latin1?"}, {"us-ascii?", "ascii?"}} {
			if len(s) >= len(l.from) && strings.EqualFold(s[:len(l.from)], l.from) {
				b.WriteString(l.to)
				s = s[len(l.from):]
				break
			}
		}
	}
	b.WriteString(s)
	return b.String()
}
