package message

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

// plainText turns the raw bytes of a text/plain part (more: the part went
// on beyond them) into a text candidate. cte is the part's transfer
// encoding, for warnings.
func (p *parser) plainText(buf []byte, more bool, params map[string]string, cte string) textPart {
	if more {
		buf = trimPartialRune(buf) // cut in the middle of a character
	}
	cs := p.charset("text/plain", params["charset"], buf, !more)
	s := cs.decode(buf)
	if looksBinary(s) {
		p.notText("text/plain", cte)
		return textPart{att: -1}
	}
	flowed := strings.EqualFold(params["format"], "flowed")
	delsp := strings.EqualFold(params["delsp"], "yes")
	text, truncated := cleanPlain(s, flowed, delsp)
	return textPart{text: text, truncated: truncated || more, att: -1}
}

func (p *parser) notText(mt, cte string) {
	if cte != "" {
		p.warnf("%s part (%s) does not decode to text: not shown", mt, strings.ToLower(cte))
	} else {
		p.warnf("%s part does not decode to text: not shown", mt)
	}
}

// looksBinary reports text with more control characters than text has
// (one in twenty bytes): the decoding of binary data, not something to
// show. C1 controls (U+0080-U+009F) count too.
func looksBinary(s string) bool {
	bad := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x20 && c < 0x7f || c > 0xc2: // the usual bytes first
		case c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		case c < 0x20 || c == 0x7f:
			bad++
		case c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0:
			bad++ // UTF-8 of U+0080-U+009F
		}
	}
	return bad >= 3 && bad*20 > len(s)
}

// textCapture keeps the first limit bytes written to it (until stopped);
// more reports whether anything but whitespace came after them.
type textCapture struct {
	buf     []byte
	limit   int
	more    bool
	stopped bool
}

func (c *textCapture) stop() { c.stopped, c.buf = true, nil }

func (c *textCapture) Write(b []byte) (int, error) {
	if c.stopped {
		return len(b), nil
	}
	room := c.limit - len(c.buf)
	if room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	if len(b) > room && !c.more && len(bytes.TrimSpace(b[max(room, 0):])) > 0 {
		c.more = true
	}
	return len(b), nil
}

// readLimited reads at most limit bytes of r, then drains the rest; more
// reports whether the rest contained anything but whitespace.
func (p *parser) readLimited(r io.Reader, limit int, mt string) (buf []byte, more bool) {
	var b bytes.Buffer // its ReadFrom reads in place, without a copy buffer
	_, err := b.ReadFrom(io.LimitReader(r, int64(limit)))
	p.readErr(err, mt)
	if b.Len() < limit {
		return b.Bytes(), false
	}
	rest := &textCapture{}
	_, err = io.Copy(rest, r)
	p.readErr(err, mt)
	return b.Bytes(), rest.more
}

func (p *parser) readHTML(r io.Reader, params map[string]string, cte string) textPart {
	// The charset is chosen on a sample: HTML is converted as it streams.
	var sample bytes.Buffer
	_, err := io.Copy(&sample, io.LimitReader(r, htmlSample))
	p.readErr(err, "text/html")
	label, declared := params["charset"]
	if !declared {
		label = sniffHTMLCharset(sample.Bytes())
	}
	cs := p.charset("text/html", label, sample.Bytes(), sample.Len() < htmlSample)
	r = cs.reader(io.MultiReader(&sample, r))
	text, truncated, err := HTMLToText(r, MaxText+1)
	if err != nil {
		p.warnf("text/html part: %s (text converted up to the error is used)", readError(err))
	}
	p.drain(r, "text/html")
	if looksBinary(text) {
		p.notText("text/html", cte)
		return textPart{att: -1}
	}
	return textPart{text: text, html: true, truncated: truncated, att: -1}
}

// htmlSample is how much of an HTML part its charset is chosen on.
const htmlSample = 64 << 10

// charset chooses the decoder of a text part, saying so when the declared
// charset is unknown or contradicted by the bytes.
func (p *parser) charset(mt, label string, sample []byte, complete bool) textCharset {
	cs, note, err := chooseCharset(label, sample, complete)
	switch {
	case err != nil:
		p.warnf("%s part: unknown charset %q, shown undecoded", mt, label)
	case note != "":
		p.warnf("%s part: %s", mt, note)
	}
	return cs
}

// cleanPlain turns decoded text/plain into Message.Text form: \n newlines, format=flowed
// paragraphs joined, trailing whitespace removed from each line, leading
// blank lines and trailing whitespace trimmed, at most MaxText bytes.
func cleanPlain(s string, flowed, delsp bool) (string, bool) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if flowed {
		s = unflow(s, delsp)
	}
	return finishText(s)
}

// finishText strips trailing whitespace from each line, trims, and caps at
// MaxText. s must use \n newlines.
func finishText(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		line, rest, nl := strings.Cut(s, "\n")
		b.WriteString(strings.TrimRight(line, " \t\f\v"))
		if nl {
			b.WriteByte('\n')
		}
		s = rest
	}
	out := strings.TrimRight(strings.TrimLeft(b.String(), "\n"), " \t\n\f\v")
	if len(out) <= MaxText {
		return out, false
	}
	return strings.TrimRight(cutUTF8(out, MaxText), " \t\n\f\v"), true
}

// unflow joins the soft line breaks of RFC 3676 format=flowed text. Quote
// depth is preserved (re-emitted as ">" marks followed by a space); lines of
// different quote depth are never joined.
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	var (
		b       strings.Builder
		para    strings.Builder
		paraQ   = -1
		pending bool // para holds a flowed (unfinished) paragraph
	)
	emit := func(q int, text string) {
		if q > 0 {
			b.WriteString(strings.Repeat(">", q))
			if text != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(text)
		b.WriteByte('\n')
	}
	for _, l := range lines {
		q := 0
		for q < len(l) && l[q] == '>' {
			q++
		}
		l = l[q:]
		l = strings.TrimPrefix(l, " ") // space-stuffing
		soft := strings.HasSuffix(l, " ") && l != "-- "
		if pending && q != paraQ {
			emit(paraQ, para.String())
			para.Reset()
			pending = false
		}
		if soft && delsp {
			l = l[:len(l)-1]
		}
		para.WriteString(l)
		paraQ = q
		if soft {
			pending = true
			continue
		}
		emit(q, para.String())
		para.Reset()
		pending = false
	}
	if pending {
		emit(paraQ, para.String())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// setText assembles Message.Text from the chosen text parts.
func (p *parser) setText(parts []textPart) {
	var (
		texts       []string
		plain, html bool
		truncated   bool
		strong      bool // text that is not weak
	)
	for _, t := range parts {
		if !t.weak && (t.text != "" || t.truncated) {
			strong = true
		}
	}
	for _, t := range parts {
		if t.weak && strong {
			continue
		}
		truncated = truncated || t.truncated
		if t.text == "" {
			continue
		}
		texts = append(texts, t.text)
		if t.att >= 0 {
			p.msg.Attachments[t.att].Shown = true
		}
		if t.html {
			html = true
		} else {
			plain = true
		}
	}
	text := strings.Join(texts, "\n\n")
	if len(text) > MaxText {
		text = strings.TrimRight(cutUTF8(text, MaxText), " \t\n\f\v")
		truncated = true
	}
	p.msg.Text = text
	p.msg.Truncated = truncated
	p.msg.HTMLOnly = html && !plain
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutUTF8(s, n) + "..."
}
