package message

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers non-UTF-8 charsets with go-message
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Parse reads one RFC 5322 message from r, streaming: attachment bodies are
// counted (or handed to ParseOptions.Attachment), never held in memory, so a
// 20 MB attachment costs no more than a small buffer. Parse reads r to its
// end.
//
// It returns an error only when nothing usable could be read (no header
// field at all, ErrNoHeader, or a read error before any header field);
// otherwise it returns the best message it could, with Warnings describing
// what was wrong or skipped.
func Parse(r io.Reader) (*Message, error) {
	return ParseOptions{}.Parse(r)
}

// ParseOptions are the options of a parse; the zero value is Parse's.
type ParseOptions struct {
	// Attachment, if set, is called for each attachment and inline part
	// (each part listed in Message.Attachments, text attachments that
	// are shown included) while the mail is parsed, with the part's
	// decoded content as a stream: a caller can write it to disk without
	// the mail ever being held in memory. a is the attachment as it will
	// be listed; its Size is set after the call, and the callback may set
	// Ref. It need not read r to its end. An error marks the attachment
	// (Attachment.Error) and the parse goes on: the other attachments and
	// the text are still produced.
	Attachment func(a *Attachment, r io.Reader) error
}

// Parse is the package's Parse with these options.
func (o ParseOptions) Parse(r io.Reader) (*Message, error) {
	br := bufio.NewReaderSize(r, 16<<10)
	p := &parser{msg: &Message{}, budget: textBudget, opts: o}

	th, nfields, err := p.readHeader(br)
	if nfields == 0 {
		if err != nil {
			return nil, fmt.Errorf("message: reading header: %w", err)
		}
		return nil, ErrNoHeader
	}
	if err != nil {
		p.warnf("reading header: %v", err)
	}
	h := mail.Header{Header: gomessage.Header{Header: th}}
	p.headers(&h)
	var params map[string]string
	p.rep.top, params = lenientMediaType(h.Get("Content-Type"))
	p.rep.reportTy = strings.ToLower(params["report-type"])

	parts := p.entity(h.Header, br, position{}, true)
	p.setText(parts)
	p.markReferenced()
	if n := FoldQuote(p.msg.Text); n < len(p.msg.Text) {
		p.msg.QuoteAt = n
	}

	if _, err := io.Copy(io.Discard, br); err != nil {
		p.warnf("reading message: %v", err)
	}
	if p.unexpectedEOF && !p.eofReported {
		p.warnf("message ended in the middle of a MIME part (truncated?)")
	}
	if p.droppedAttachments > 0 {
		p.warnf("%d more attachments not listed", p.droppedAttachments)
	}
	p.msg.Report = p.rep.report(p.msg)
	return p.msg, nil
}

type parser struct {
	msg    *Message
	opts   ParseOptions
	budget int             // bytes of text that may still be held
	cids   map[string]bool // Content-IDs the HTML refers to (cid: URLs), canonical
	rep    reportParts     // what a bounce says (dsn.go)

	unexpectedEOF      bool // a part ended at EOF instead of at its boundary
	eofReported        bool
	droppedAttachments int
	suppressedWarnings bool
}

func (p *parser) warnf(format string, args ...any) {
	w := strings.ToValidUTF8(fmt.Sprintf(format, args...), "\uFFFD")
	for _, old := range p.msg.Warnings {
		if old == w {
			return
		}
	}
	if len(p.msg.Warnings) >= maxWarnings {
		if !p.suppressedWarnings {
			p.suppressedWarnings = true
			p.msg.Warnings = append(p.msg.Warnings, "further warnings suppressed")
		}
		return
	}
	p.msg.Warnings = append(p.msg.Warnings, w)
}

// textPart is a body text candidate produced by a part.
type textPart struct {
	text      string
	html      bool
	truncated bool
	// weak text is used only when the mail has no other text: a named
	// text/plain part without disposition.
	weak bool
	att  int // index of the attachment the text comes from, -1 if none
}

// position is where an entity is in the MIME tree.
type position struct {
	depth   int
	parent  string // media type of the enclosing multipart, "" at the top
	related bool   // inside a multipart/related
}

// entity handles one MIME entity with header h and raw (not yet transfer-
// decoded) body. If wantText is false, text parts are skipped (an
// alternative was already chosen). It returns the body text the entity
// contributes.
func (p *parser) entity(h gomessage.Header, body io.Reader, pos position, wantText bool) []textPart {
	depth, parent := pos.depth, pos.parent
	mt, params := p.contentType(&h, parent)

	if strings.HasPrefix(mt, "multipart/") {
		boundary := params["boundary"]
		switch {
		case boundary == "":
			p.warnf("%s without boundary: shown as text", mt)
			mt = "text/plain"
			h.Set("Content-Type", "text/plain")
			h.Del("Content-Transfer-Encoding")
		case depth >= maxDepth:
			p.warnf("MIME nesting deeper than %d levels: inner parts counted as one attachment", maxDepth)
			p.attachment(h, body, mt, parent, nil)
			return nil
		default:
			return p.multipart(mt, boundary, body, pos, wantText)
		}
	}

	disp := dispositionType(&h)
	// Text is inline unless it says otherwise (go-message's mail.Reader
	// has the same rule for InlineHeader vs AttachmentHeader).
	inline := disp != "attachment" && strings.HasPrefix(mt, "text/")
	isText := mt == "text/plain" || mt == "text/html"
	named := depth > 0 && filename(&h) != ""
	if isText && inline && !named {
		return p.bodyPart(h, body, mt, params, pos, wantText)
	}
	decoded := p.transferDecoder(&h, body, mt)
	if mt != "text/plain" || !inline || !wantText || p.budget <= 0 {
		p.attachment(h, decoded, mt, parent, nil)
		return nil
	}
	// A named text/plain part: an attachment whose text is shown when
	// it is inline, and when the mail has no other text (clients that
	// name their body part).
	capt := &textCapture{limit: rawTextLimit}
	idx := p.attachment(h, decoded, mt, parent, capt)
	tp := p.plainText(capt.buf, capt.more, params, h.Get("Content-Transfer-Encoding"))
	tp.weak, tp.att = disp != "inline", idx
	p.budget -= len(tp.text)
	return []textPart{tp}
}

// bodyPart reads a text/plain or text/html body part.
func (p *parser) bodyPart(h gomessage.Header, body io.Reader, mt string, params map[string]string, pos position, wantText bool) []textPart {
	if !wantText || p.budget <= 0 {
		// Not needed: skip without decoding, except HTML that may
		// refer to the images of its multipart/related (cid: URLs).
		// Decoding HTML costs as much as the rest of a typical parse,
		// so HTML elsewhere is not looked at.
		if mt == "text/html" && pos.related {
			body = p.cidScanner(p.transferDecoder(&h, body, mt))
		}
		p.drain(body, mt)
		if wantText {
			return []textPart{{html: mt == "text/html", truncated: true, att: -1}}
		}
		return nil
	}
	decoded := p.transferDecoder(&h, body, mt)
	cte := h.Get("Content-Transfer-Encoding")
	var tp textPart
	if mt == "text/html" {
		tp = p.readHTML(p.cidScanner(decoded), params, cte)
	} else {
		buf, more := p.readLimited(decoded, rawTextLimit, mt)
		tp = p.plainText(buf, more, params, cte)
	}
	p.budget -= len(tp.text)
	return []textPart{tp}
}

// transferDecoder returns body with its Content-Transfer-Encoding undone
// (not its charset: text is decoded with the repairs of chooseCharset,
// attachments are kept as sent). An unknown encoding is passed through.
func (p *parser) transferDecoder(h *gomessage.Header, body io.Reader, mt string) io.Reader {
	cte := h.Get("Content-Transfer-Encoding")
	if cte == "" {
		return body
	}
	var th gomessage.Header
	th.Set("Content-Transfer-Encoding", cte)
	isBase64 := strings.EqualFold(strings.TrimSpace(cte), "base64")
	if isBase64 {
		body = fullReader{body}
	}
	e, err := gomessage.New(th, body)
	if err != nil {
		p.warnf("%s part: unknown transfer encoding %q, shown undecoded", mt, cte)
		return body
	}
	if isBase64 {
		// What Go's streaming base64 decoder makes of corrupt data
		// depends on the sizes of the reads on both its sides; fixed
		// sizes make a mail decode the same however it arrives and
		// whoever reads it.
		return &chunkReader{r: e.Body}
	}
	return e.Body
}

// fullReader fills each read as far as its source allows.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.r.Read(b[n:])
		n += m
		if err != nil || m == 0 {
			return n, err
		}
	}
	return n, nil
}

// chunkReader reads its source in chunks of a fixed size, whatever the
// sizes its own reader asks for.
type chunkReader struct {
	r    io.Reader
	buf  []byte
	data []byte // read, not yet returned
	err  error
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.buf == nil {
			c.buf = make([]byte, 4<<10)
		}
		var n int
		n, c.err = fullReader{c.r}.Read(c.buf)
		c.data = c.buf[:n]
		if n == 0 {
			return 0, c.err
		}
	}
	n := copy(b, c.data)
	c.data = c.data[n:]
	return n, nil
}

func (p *parser) multipart(mt, boundary string, body io.Reader, pos position, wantText bool) []textPart {
	// The filter's output is the body itself up to the first delimiter:
	// pre keeps it for a multipart without parts.
	pre := &textCapture{limit: preambleLimit}
	filtered := io.TeeReader(newPartFilter(p, body, boundary), pre)
	mr := textproto.NewMultipartReader(filtered, boundary)
	alternative := mt == "multipart/alternative"
	var (
		out  []textPart
		alts [][]textPart
		n    int
	)
	for {
		tp, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				p.warnf("%s: no part found (boundary %q never seen); raw body shown as text", mt, boundary)
				// What was captured depends on how far the readers
				// read ahead: capture the rest too (up to the limit).
				p.drain(filtered, mt)
				if wantText {
					text, truncated := cleanPlain(validUTF8(string(pre.buf)), false, false)
					out = append(out, textPart{text: text, truncated: truncated || pre.more, att: -1})
				}
			} else if strings.HasSuffix(err.Error(), "EOF") {
				p.warnf("%s: closing boundary missing; the %d part(s) read are kept", mt, n)
				p.eofReported = true
			} else {
				p.warnf("%s: %v; the %d part(s) read are kept, the rest is skipped", mt, err, n)
			}
			break
		}
		if n == 0 {
			pre.stop()
		}
		n++
		childWant := wantText
		if alternative && hasText(alts, true) {
			childWant = false
		}
		child := position{depth: pos.depth + 1, parent: mt, related: pos.related || mt == "multipart/related"}
		parts := p.entity(gomessage.Header{Header: tp.Header}, tp, child, childWant)
		if alternative {
			alts = append(alts, parts)
		} else {
			out = append(out, parts...)
		}
	}
	if alternative {
		out = chooseAlternative(alts)
	}
	return out
}

// hasText reports whether any candidate has non-empty text (plain text only,
// if plainOnly).
func hasText(cands [][]textPart, plainOnly bool) bool {
	for _, c := range cands {
		if candidateHas(c, plainOnly) {
			return true
		}
	}
	return false
}

func candidateHas(c []textPart, plainOnly bool) bool {
	for _, t := range c {
		if (t.text != "" || t.truncated) && (!plainOnly || !t.html) {
			return true
		}
	}
	return false
}

// chooseAlternative picks the first alternative with plain text, else the
// first with any text.
func chooseAlternative(alts [][]textPart) []textPart {
	for _, c := range alts {
		if candidateHas(c, true) {
			return c
		}
	}
	for _, c := range alts {
		if candidateHas(c, false) {
			return c
		}
	}
	return nil
}

func (p *parser) readErr(err error, mt string) {
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF):
		p.unexpectedEOF = true
	default:
		p.warnf("%s part: %s (content read up to the error is used)", mt, readError(err))
	}
}

// readError describes an error reading a part.
func readError(err error) string {
	var b64 base64.CorruptInputError
	if errors.As(err, &b64) {
		// Its offset counts from the start of the Read that failed, so
		// it depends on how the mail arrived: say it without.
		return "invalid base64 data"
	}
	return err.Error()
}
