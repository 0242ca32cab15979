package message

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	htmlcharset "golang.org/x/net/html/charset"
)

// maxHTMLToken bounds the tokenizer's buffer: one token (a tag with a huge
// data: URI, a giant text run) larger than this stops the conversion.
const maxHTMLToken = 4 << 20

// HTMLToText converts the HTML read from r (UTF-8) into readable plain text,
// streaming with the x/net/html tokenizer: script, style, head, title and
// similar elements and elements hidden with display:none are dropped; block
// elements (p, div, br, li, tr, h1-h6, blockquote, ...) become line breaks;
// li is prefixed "• " (indented when nested); table cells on one line are
// separated by " | "; links become "text (url)" when the url differs from
// the text; entities are decoded; runs of whitespace collapse to one space
// (except in pre) and there is never more than one blank line.
//
// Output stops after limit bytes (limit <= 0: no limit), with truncated set;
// r is then not read to its end. Invalid UTF-8 in the input is read as
// Windows-1252. The error is nil at a normal end of input.
func HTMLToText(r io.Reader, limit int) (text string, truncated bool, err error) {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxHTMLToken)
	c := &htmlConv{w: textWriter{limit: limit}}
	for !c.w.full {
		switch z.Next() {
		case html.ErrorToken:
			err = z.Err()
			if err == io.EOF {
				err = nil
			} else if errors.Is(err, html.ErrBufferExceeded) {
				err = fmt.Errorf("an HTML token exceeds %d bytes, conversion stopped", maxHTMLToken)
				truncated = true
			}
			text, _ = finishText(collapseBlankLines(string(c.w.buf)))
			return text, truncated, err
		case html.TextToken:
			c.text(z.Text())
		case html.StartTagToken:
			c.start(z, false)
		case html.SelfClosingTagToken:
			c.start(z, true)
		case html.EndTagToken:
			name, _ := z.TagName()
			c.end(atom.Lookup(name), string(name))
		}
	}
	text, _ = finishText(collapseBlankLines(string(c.w.buf)))
	return text, true, nil
}

// sniffHTMLCharset returns the charset of a <meta> tag (or BOM) found in
// the first 1024 bytes of an HTML part whose Content-Type has no charset,
// "" if there is none. Windows-1252 and UTF-8 give "": bytes that are not
// UTF-8 are read as Windows-1252 anyway, which is also x/net's guess when
// nothing is declared.
func sniffHTMLCharset(b []byte) string {
	_, name, _ := htmlcharset.DetermineEncoding(b[:min(len(b), 1024)], "text/html")
	if name == "utf-8" || name == "windows-1252" {
		return ""
	}
	return name
}

type htmlConv struct {
	w textWriter

	skip    [len(skipTags)]int // open elements whose content is dropped, by skipTags index
	skipped int                // sum of skip
	pre     int                // open <pre> elements
	lists   int                // open <ul>/<ol> elements
	inLink  bool
	link    linkState
	hidden  string // tag name of the outermost display:none element, "" if none
	hdepth  int    // nesting of that tag name inside it
	hmark   writerState
	hlinked bool // a link was open when the hidden element started
}

type linkState struct {
	href   string
	alt    string      // alt text of an image inside the link
	before writerState // writer state before the link
	start  int         // output offset where the link text starts
}

// skipTags are elements whose content is never shown.
var skipTags = [...]atom.Atom{atom.Script, atom.Style, atom.Head, atom.Title, atom.Template,
	atom.Noscript, atom.Iframe, atom.Noembed, atom.Noframes, atom.Object, atom.Svg}

func skipIndex(a atom.Atom) int {
	for i, t := range skipTags {
		if t == a {
			return i
		}
	}
	return -1
}

func (c *htmlConv) skipping() bool { return c.skipped > 0 }

func (c *htmlConv) text(b []byte) {
	if c.skipping() || len(b) == 0 {
		return
	}
	s := validUTF8(string(b))
	if c.pre > 0 {
		c.w.preText(s)
		return
	}
	c.w.inlineText(s)
}

// attrs returns the attributes the converter uses.
func tagAttrs(z *html.Tokenizer, hasAttr bool) (href, alt, style string, hidden bool) {
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		switch string(k) {
		case "href":
			href = strings.TrimSpace(validUTF8(string(v)))
		case "alt":
			alt = validUTF8(string(v))
		case "style":
			style = string(v)
		case "hidden":
			hidden = true
		}
	}
	return
}

func (c *htmlConv) start(z *html.Tokenizer, selfClosing bool) {
	name, hasAttr := z.TagName()
	a := atom.Lookup(name)
	tag := string(name)
	if i := skipIndex(a); i >= 0 {
		// The tokenizer reads script, style, title... content as raw text
		// up to the end tag even for "<script/>", so count those too.
		if !selfClosing || a == atom.Script || a == atom.Style || a == atom.Title ||
			a == atom.Noscript || a == atom.Iframe || a == atom.Noembed || a == atom.Noframes {
			c.skip[i]++
			c.skipped++
		}
		return
	}
	if a == atom.Body {
		// An unclosed <head> ends here.
		h := skipIndex(atom.Head)
		c.skipped -= c.skip[h]
		c.skip[h] = 0
	}
	if c.skipping() {
		return
	}
	href, alt, style, hidden := tagAttrs(z, hasAttr)

	if c.hidden != "" {
		if tag == c.hidden && !selfClosing && !voidElement(a) {
			c.hdepth++
		}
	} else if !selfClosing && !voidElement(a) && (hidden || isDisplayNone(style)) {
		c.hidden, c.hdepth = tag, 1
		c.hmark = c.w.state()
		c.hlinked = c.inLink
	}

	switch a {
	case atom.Br:
		c.w.hardBreak()
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Blockquote, atom.Hr, atom.Dl, atom.Figure:
		c.w.blockBreak(2)
	case atom.Pre:
		c.w.blockBreak(2)
		if !selfClosing {
			c.pre++
		}
	case atom.Ul, atom.Ol:
		c.w.blockBreak(listBreak(c.lists))
		if !selfClosing {
			c.lists++
		}
	case atom.Li:
		c.w.blockBreak(1)
		indent := 0
		if c.lists > 1 {
			indent = c.lists - 1
		}
		c.w.prefix = strings.Repeat("  ", indent) + "• "
	case atom.Td, atom.Th:
		c.w.cellBreak()
	case atom.Img:
		if c.inLink && c.link.alt == "" {
			c.link.alt = collapseSpace(alt)
		}
	case atom.A:
		if c.inLink {
			c.closeLink()
		}
		if !selfClosing {
			c.inLink = true
			c.link = linkState{href: href, before: c.w.state()}
			c.link.start = c.w.mark()
		}
	default:
		if isBlock(a) {
			c.w.blockBreak(1)
		}
	}
}

func (c *htmlConv) end(a atom.Atom, tag string) {
	if i := skipIndex(a); i >= 0 {
		if c.skip[i] > 0 {
			c.skip[i]--
			c.skipped--
		}
		return
	}
	if c.skipping() {
		return
	}
	switch a {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Blockquote, atom.Dl, atom.Figure:
		c.w.blockBreak(2)
	case atom.Pre:
		c.w.blockBreak(2)
		if c.pre > 0 {
			c.pre--
		}
	case atom.Ul, atom.Ol:
		if c.lists > 0 {
			c.lists--
		}
		c.w.blockBreak(listBreak(c.lists))
	case atom.Br:
		c.w.hardBreak() // "</br>" is treated as <br> by browsers
	case atom.A:
		if c.inLink {
			c.closeLink()
		}
	case atom.Li:
		c.w.blockBreak(1)
	default:
		if isBlock(a) {
			c.w.blockBreak(1)
		}
	}
	if c.hidden != "" && tag == c.hidden {
		c.hdepth--
		if c.hdepth == 0 {
			// Drop everything written since the hidden element started.
			if c.inLink && !c.hlinked {
				c.inLink = false
			}
			c.w.restore(c.hmark)
			if c.inLink && c.link.start > len(c.w.buf) {
				c.link.start = len(c.w.buf)
			}
			c.hidden = ""
		}
	}
}

// closeLink appends " (url)" after the link text when the url adds something.
func (c *htmlConv) closeLink() {
	c.inLink = false
	l := c.link
	linkText := ""
	if l.start <= len(c.w.buf) {
		linkText = strings.TrimSpace(string(c.w.buf[l.start:]))
	}
	if linkText == "" && l.alt == "" {
		// An image link without alt text: the url alone is noise. Undo
		// the separator written when the link started.
		if l.before.n <= len(c.w.buf) {
			c.w.restore(l.before)
		}
		return
	}
	if linkText == "" {
		c.w.inlineText(l.alt)
		linkText = l.alt
	}
	href := l.href
	if href == "" || strings.HasPrefix(href, "#") || hasSchemePrefix(href, "javascript:", "cid:", "data:", "about:") {
		return
	}
	if hasSchemePrefix(href, "mailto:") {
		href = href[len("mailto:"):]
	}
	if sameURL(linkText, href) {
		return
	}
	c.w.appendToWord(" (" + href + ")")
}

func hasSchemePrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	return false
}

// sameURL reports whether the link text is just the url, ignoring scheme,
// "www.", a trailing slash and case.
func sameURL(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"https://", "http://", "mailto:"} {
			s = strings.TrimPrefix(s, p)
		}
		s = strings.TrimPrefix(s, "www.")
		return strings.TrimSuffix(s, "/")
	}
	return norm(text) == norm(href)
}

func listBreak(depth int) int {
	if depth > 0 {
		return 1
	}
	return 2
}

func isDisplayNone(style string) bool {
	if style == "" {
		return false
	}
	s := strings.ToLower(strings.Join(strings.Fields(style), ""))
	return strings.Contains(s, "display:none") || strings.Contains(s, "mso-hide:all")
}

func voidElement(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input,
		atom.Link, atom.Meta, atom.Source, atom.Track, atom.Wbr:
		return true
	}
	return false
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.Div, atom.Tr, atom.Table, atom.Thead, atom.Tbody, atom.Tfoot, atom.Caption,
		atom.Dt, atom.Dd, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Nav,
		atom.Aside, atom.Main, atom.Center, atom.Form, atom.Fieldset, atom.Legend,
		atom.Address, atom.Details, atom.Summary, atom.Figcaption, atom.Html, atom.Body:
		return true
	}
	return false
}

// textWriter accumulates converted text, emitting spaces, separators and
// line breaks lazily so that they never pile up at line ends.
type textWriter struct {
	buf   []byte
	limit int
	full  bool

	writerState
}

// writerState is the part of textWriter restored when a hidden element ends.
type writerState struct {
	n           int  // len(buf)
	newlines    int  // line breaks due before the next text (0-2)
	space       bool // a space is due before the next text
	sep         bool // a table cell separator is due before the next text
	lineHasText bool // the current line has text
	hasText     bool // anything has been written
	prefix      string
}

func (w *textWriter) state() writerState {
	s := w.writerState
	s.n = len(w.buf)
	return s
}

func (w *textWriter) restore(s writerState) {
	if s.n <= len(w.buf) {
		w.buf = w.buf[:s.n]
	}
	w.writerState = s
	w.full = w.limit > 0 && len(w.buf) >= w.limit
}

// mark returns the offset at which the next text will start (after any due
// spaces or breaks).
func (w *textWriter) mark() int {
	w.flush()
	return len(w.buf)
}

func (w *textWriter) write(s string) {
	if w.full {
		return
	}
	if w.limit > 0 && len(w.buf)+len(s) >= w.limit {
		s = cutUTF8(s, w.limit-len(w.buf))
		w.full = true
	}
	w.buf = append(w.buf, s...)
}

// flush writes the due breaks/separators before new text.
func (w *textWriter) flush() {
	if w.hasText {
		switch {
		case w.newlines > 0:
			w.write(strings.Repeat("\n", w.newlines))
			w.lineHasText = false
		case w.sep && w.lineHasText:
			w.write(" | ")
		case w.space && w.lineHasText:
			w.write(" ")
		}
	}
	w.newlines, w.space, w.sep = 0, false, false
	if w.prefix != "" {
		w.write(w.prefix)
		w.prefix = ""
		w.hasText = true
	}
}

// word writes a piece of text without whitespace.
func (w *textWriter) word(s string) {
	w.flush()
	w.write(s)
	w.lineHasText, w.hasText = true, true
}

// appendToWord writes s directly after the last text (used for " (url)").
func (w *textWriter) appendToWord(s string) {
	w.newlines, w.sep = 0, false
	space := w.space
	w.space = false
	w.write(s)
	w.lineHasText, w.hasText = true, true
	w.space = space
}

// inlineText writes text with whitespace runs collapsed.
func (w *textWriter) inlineText(s string) {
	for len(s) > 0 {
		i := strings.IndexFunc(s, isHTMLSpace)
		if i < 0 {
			w.wordClean(s)
			return
		}
		if i > 0 {
			w.wordClean(s[:i])
		}
		w.space = true
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return !isHTMLSpace(r) })
		if j < 0 {
			return
		}
		s = s[j:]
	}
}

// wordClean writes a word after removing invisible characters.
func (w *textWriter) wordClean(s string) {
	if strings.IndexFunc(s, invisible) >= 0 {
		s = strings.Map(func(r rune) rune {
			if invisible(r) {
				return -1
			}
			return r
		}, s)
		if s == "" {
			return
		}
	}
	w.word(s)
}

// preText writes preformatted text as is.
func (w *textWriter) preText(s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	w.flush()
	w.write(s)
	w.hasText = true
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		w.lineHasText = strings.TrimSpace(s[i+1:]) != ""
	} else if strings.TrimSpace(s) != "" {
		w.lineHasText = true
	}
}

// blockBreak asks for n line breaks (1: new line, 2: blank line) before the
// next text.
func (w *textWriter) blockBreak(n int) {
	if !w.hasText {
		return
	}
	if !w.lineHasText && w.newlines == 0 && n == 1 {
		return // already at the start of a line
	}
	if w.newlines < n {
		w.newlines = n
	}
	w.space, w.sep = false, false
}

// hardBreak is <br>: one more line break, up to a blank line.
func (w *textWriter) hardBreak() {
	if !w.hasText {
		return
	}
	if w.newlines < 2 {
		w.newlines++
	}
	w.space, w.sep = false, false
}

// cellBreak separates table cells on the same line.
func (w *textWriter) cellBreak() {
	if w.lineHasText && w.newlines == 0 {
		w.sep = true
	}
}

func isHTMLSpace(r rune) bool {
	return unicode.IsSpace(r) // includes U+00A0 (&nbsp;)
}

// invisible reports zero-width characters that email HTML uses as padding.
func invisible(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\ufeff', '\u00ad', '\u034f', '\u2060':
		return true
	}
	return false
}

// collapseBlankLines replaces runs of blank (whitespace-only) lines with a
// single blank line.
func collapseBlankLines(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	for len(s) > 0 {
		line, rest, nl := strings.Cut(s, "\n")
		s = rest
		if strings.TrimSpace(line) == "" {
			blank++
			if blank > 1 && nl {
				continue
			}
			line = ""
		} else {
			blank = 0
		}
		b.WriteString(line)
		if nl {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
