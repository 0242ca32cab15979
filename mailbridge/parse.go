// This file turns inbound RFC 5322 mail into the data a Slack thread needs:
// threading identifiers, addresses, a readable text body and a list of
// attachments.

package mailbridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers non-UTF-8 charsets with go-message
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/charmap"

	"github.com/inboxbot/inboxbot/store"
)

// Address is one mailbox from an address header. Name is decoded (RFC 2047)
// UTF-8; Addr is the address as written, trimmed (case is not changed).
type Address struct{ Name, Addr string }

// Attachment describes a non-body MIME part. Its content is never kept: Size
// is the number of decoded bytes that were read. ContentType is the lower-case
// media type without parameters. Inline is true for parts that are meant to be
// shown inside the message (Content-Disposition: inline, or a part of a
// multipart/related without a disposition), e.g. images referenced by the HTML.
type Attachment struct {
	Filename, ContentType string
	Size                  int64
	Inline                bool
}

// Message is the parsed form of one inbound mail.
type Message struct {
	MessageID  string   // canonical via store.CanonMsgID, "" if absent
	InReplyTo  []string // canonical
	References []string // canonical, in header order (oldest first)
	From       Address  // first From mailbox (Sender if there is no From)
	ReplyTo    []Address
	To, Cc     []Address
	Subject    string    // decoded, whitespace-collapsed, "" if absent
	Date       time.Time // zero if absent/unparseable

	// Text is the readable body: UTF-8, \n newlines, trailing whitespace
	// trimmed; from the text/plain parts, else from the text/html parts
	// converted to readable text. Text parts of a multipart/mixed are joined
	// with a blank line; of a multipart/alternative only one is used.
	Text      string
	Truncated bool // Text was cut at MaxText bytes (on a UTF-8 boundary)
	HTMLOnly  bool // Text came from HTML (no text/plain part contributed to it)

	Attachments []Attachment
	Auto        bool     // automated mail, see IsAutomated
	Warnings    []string // non-fatal problems, human-readable
	// Report is what a bounce says about the mail it returns (dsn.go).
	Report *store.DeliveryReport `json:",omitempty"`
}

// MaxText is the maximum length of Message.Text in bytes.
const MaxText = 256 << 10

// ErrNoHeader is returned by Parse when the input has no usable header field.
var ErrNoHeader = errors.New("mailbridge: no message header found")

const (
	maxHeaderBytes = 1 << 20 // like go-message's default limit
	maxDepth       = 16      // multipart nesting deeper than this is counted as an attachment
	maxAttachments = 1000    // attachments listed; the rest are only counted in a warning
	maxWarnings    = 50
	textBudget     = 4 * MaxText // text held while choosing between parts
	rawTextLimit   = 2 * MaxText // raw bytes of one text/plain part that are read
	preambleLimit  = 64 << 10    // bytes kept to recover a multipart without parts
)

// Parse reads one RFC 5322 message from r, streaming: attachment bodies are
// counted (io.Copy to io.Discard) never held in memory, so a 20 MB attachment
// costs no more than a small buffer. Parse reads r to its end.
//
// It returns an error only when nothing usable could be read (no header
// field at all, ErrNoHeader, or a read error before any header field);
// otherwise it returns the best message it could, with Warnings describing
// what was wrong or skipped.
func Parse(r io.Reader) (*Message, error) {
	br := bufio.NewReaderSize(r, 16<<10)
	p := &parser{msg: &Message{}, budget: textBudget}

	th, nfields, err := p.readHeader(br)
	if nfields == 0 {
		if err != nil {
			return nil, fmt.Errorf("mailbridge: reading header: %w", err)
		}
		return nil, ErrNoHeader
	}
	if err != nil {
		p.warnf("reading header: %v", err)
	}
	h := mail.Header{Header: message.Header{Header: th}}
	p.headers(&h)
	var params map[string]string
	p.rep.top, params = lenientMediaType(h.Get("Content-Type"))
	p.rep.reportTy = strings.ToLower(params["report-type"])

	parts := p.entity(h.Header, br, 0, "", true)
	p.setText(parts)

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
	budget int         // bytes of text that may still be held
	rep    reportParts // what a bounce says (dsn.go)

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

// ---------------------------------------------------------------------------
// Header block

// readHeader reads the top-level header block leniently: an mbox "From " first
// line is skipped, lines that are not "Key: value" fields are dropped with a
// warning (go-message would reject the whole message), and fields beyond
// maxHeaderBytes are dropped. The sanitized block is then parsed by
// go-message's textproto so that field semantics stay the library's.
// br is left at the start of the body.
func (p *parser) readHeader(br *bufio.Reader) (textproto.Header, int, error) {
	var (
		block    bytes.Buffer // sanitized fields, CRLF-terminated
		field    []byte       // field being assembled (first line + continuations)
		line     []byte       // line buffer, reused
		nfields  int
		dropped  int
		example  string
		overflow bool
		readErr  error
		first    = true
	)
	drop := func(l []byte) {
		if dropped == 0 {
			example = string(l)
			if len(example) > 60 {
				example = example[:60] + "..."
			}
		}
		dropped++
	}
	flush := func() {
		if field == nil {
			return
		}
		if block.Len()+len(field)+2 > maxHeaderBytes {
			overflow = true
		} else {
			block.Write(field)
			block.WriteString("\r\n")
			nfields++
		}
		field = nil
	}
	for {
		var err error
		line, err = readLine(br, line[:0])
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		switch {
		case first && bytes.HasPrefix(line, []byte("From ")):
			// mbox separator line
		case len(line) == 0:
			if nfields == 0 && field == nil && dropped == 0 {
				break // leading blank lines
			}
			err = errEndOfHeader
		case line[0] == ' ' || line[0] == '\t':
			if field != nil {
				field = append(field, '\r', '\n')
				field = append(field, line...)
			} else {
				drop(line)
			}
		default:
			flush()
			if validFieldLine(line) {
				field = append([]byte(nil), line...)
			} else {
				drop(line)
			}
		}
		first = false
		if err != nil {
			if err != io.EOF && err != errEndOfHeader {
				readErr = err
			}
			break
		}
	}
	flush()
	if dropped > 0 {
		p.warnf("header: dropped %d malformed line(s), first: %q", dropped, example)
	}
	if overflow {
		p.warnf("header: larger than %d bytes, fields beyond that dropped", maxHeaderBytes)
	}
	if nfields == 0 {
		return textproto.Header{}, 0, readErr
	}
	block.WriteString("\r\n")
	h, err := textproto.ReadHeader(bufio.NewReader(&block))
	if err != nil {
		// Cannot happen for a sanitized block, but keep what was parsed.
		p.warnf("header: %v", err)
	}
	return h, nfields, readErr
}

var errEndOfHeader = errors.New("end of header")

// readLine reads one line from br into buf without its line ending. Lines
// longer than maxHeaderBytes are cut (the rest is discarded). It returns
// io.EOF (possibly with a final unterminated line) at the end of input.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxHeaderBytes - len(buf); room > 0 {
			if len(chunk) > room {
				chunk = chunk[:room]
			}
			buf = append(buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, err
	}
}

// validFieldLine reports whether line starts a header field: a non-empty
// name of printable ASCII characters followed by a colon (spaces before the
// colon are tolerated, as go-message does).
func validFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	key := bytes.TrimRight(line[:i], " \t")
	if len(key) == 0 {
		return false
	}
	for _, c := range key {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// headers fills the header-derived fields of p.msg.
func (p *parser) headers(h *mail.Header) {
	m := p.msg

	m.MessageID = p.messageID(h)
	m.InReplyTo = p.msgIDList(h, "In-Reply-To")
	m.References = p.msgIDList(h, "References")

	from := p.addressList(h, "From")
	if len(from) == 0 {
		from = p.addressList(h, "Sender")
	}
	if len(from) > 0 {
		m.From = from[0]
	}
	m.ReplyTo = p.addressList(h, "Reply-To")
	m.To = p.addressList(h, "To")
	m.Cc = p.addressList(h, "Cc")

	if raw := h.Get("Subject"); raw != "" {
		s, err := h.Subject()
		if err != nil {
			if message.IsUnknownCharset(err) {
				p.warnf("Subject: encoded word in an unknown charset, kept undecoded")
			} else {
				p.warnf("Subject: %v; kept undecoded", err)
			}
			s = raw
		}
		m.Subject = collapseSpace(validUTF8(s))
	}

	if raw := h.Get("Date"); raw != "" {
		t, ok := parseDate(raw)
		if !ok {
			p.warnf("Date: cannot parse %q", clip(raw, 80))
		}
		m.Date = t
	}

	m.Auto = IsAutomated(h)
}

func (p *parser) messageID(h *mail.Header) string {
	raw := h.Get("Message-Id")
	if raw == "" {
		return ""
	}
	id, err := h.MessageID()
	if err == nil && id != "" {
		return store.CanonMsgID(id)
	}
	ids, _ := lenientMsgIDs(raw)
	if len(ids) == 0 {
		p.warnf("Message-ID: unusable value %q", clip(raw, 80))
		return ""
	}
	p.warnf("Message-ID: malformed, parsed leniently")
	return ids[0]
}

func (p *parser) msgIDList(h *mail.Header, key string) []string {
	raw := h.Get(key)
	if raw == "" {
		return nil
	}
	l, err := h.MsgIDList(key)
	if err == nil {
		out := make([]string, 0, len(l))
		for _, id := range l {
			out = append(out, store.CanonMsgID(id))
		}
		return out
	}
	ids, skipped := lenientMsgIDs(raw)
	if skipped > 0 {
		p.warnf("%s: malformed message ID list, parsed leniently (%d unusable entries skipped)", key, skipped)
	} else {
		p.warnf("%s: malformed message ID list, parsed leniently", key)
	}
	return ids
}

// lenientMsgIDs extracts message IDs from a header value that MsgIDList
// rejected. Every <...> group counts, even one without '@' (it is still a
// usable key for threading); groups that are empty or contain whitespace are
// skipped. Without any angle brackets, whitespace- or comma-separated tokens
// containing '@' are taken. The IDs are canonical.
func lenientMsgIDs(v string) (ids []string, skipped int) {
	v = validUTF8(v)
	if strings.Contains(v, "<") {
		for {
			i := strings.IndexByte(v, '<')
			if i < 0 {
				break
			}
			v = v[i+1:]
			j := strings.IndexAny(v, "<>")
			var id string
			if j < 0 {
				id, v = v, ""
			} else {
				id = v[:j]
				if v[j] == '>' {
					j++
				}
				v = v[j:]
			}
			id = strings.TrimSpace(id)
			if id == "" || strings.IndexFunc(id, unicode.IsSpace) >= 0 {
				skipped++
				continue
			}
			ids = append(ids, store.CanonMsgID(id))
		}
		return ids, skipped
	}
	for _, tok := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if strings.Contains(tok, "@") {
			ids = append(ids, store.CanonMsgID(tok))
		} else {
			skipped++
		}
	}
	return ids, skipped
}

// addressList parses all fields named key. Lists that the strict parser
// rejects (e.g. `Doe, John <john@example.com>`) are parsed leniently rather
// than dropped.
func (p *parser) addressList(h *mail.Header, key string) []Address {
	vals := h.Values(key)
	if len(vals) == 0 {
		return nil
	}
	raw := strings.Join(vals, ", ")
	l, lenient := parseAddressList(raw)
	if lenient {
		p.warnf("%s: malformed address list, parsed leniently", key)
	}
	return l
}

// parseAddressList parses an address header value, strictly (net/mail via
// go-message, with charset support) if possible, else leniently.
func parseAddressList(v string) (out []Address, lenient bool) {
	if strings.TrimSpace(v) == "" {
		return nil, false
	}
	if l, err := mail.ParseAddressList(v); err == nil {
		for _, a := range l {
			out = append(out, Address{Name: cleanName(a.Name), Addr: validUTF8(strings.TrimSpace(a.Address))})
		}
		return out, false
	}
	pieces := splitAddressList(v)
	// A piece without '@' or '<' followed by one with '<' is part of an
	// unquoted display name containing a comma: "Doe, John <john@x>".
	var merged []string
	for i := 0; i < len(pieces); i++ {
		s := pieces[i]
		for i+1 < len(pieces) && !strings.ContainsAny(s, "@<") && strings.Contains(pieces[i+1], "<") {
			i++
			s += "," + pieces[i]
		}
		merged = append(merged, s)
	}
	for _, s := range merged {
		if a, ok := parseAddressLenient(s); ok {
			out = append(out, a)
		}
	}
	return out, true
}

// splitAddressList splits v at commas that are outside quoted strings,
// angle brackets, comments and RFC 2047 encoded words.
func splitAddressList(v string) []string {
	var (
		out          []string
		start        int
		quote        bool
		angle, paren int
	)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote:
			if c == '\\' {
				i++
			} else if c == '"' {
				quote = false
			}
		case c == '"':
			quote = true
		case c == '\\':
			i++
		case c == '(':
			paren++
		case c == ')' && paren > 0:
			paren--
		case c == '<' && paren == 0:
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == '=' && i+1 < len(v) && v[i+1] == '?':
			if end := encodedWordEnd(v[i:]); end > 0 {
				i += end - 1
			}
		case c == ',' && paren == 0 && angle == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// encodedWordEnd returns the length of the RFC 2047 encoded word at the start
// of s ("=?charset?X?text?="), or 0 if there is none.
func encodedWordEnd(s string) int {
	if !strings.HasPrefix(s, "=?") {
		return 0
	}
	q := 2
	for n := 0; n < 2; n++ { // skip charset and encoding
		i := strings.IndexByte(s[q:], '?')
		if i < 0 {
			return 0
		}
		q += i + 1
	}
	i := strings.Index(s[q:], "?=")
	if i < 0 {
		return 0
	}
	return q + i + 2
}

// parseAddressLenient parses one mailbox: `Name <addr>`, `addr (Name)` or
// `addr`, accepting unquoted specials in the name.
func parseAddressLenient(s string) (Address, bool) {
	s = strings.TrimSpace(s)
	// group syntax: "Team: a@b" ... "c@d;"
	if i := strings.IndexByte(s, ':'); i >= 0 && !strings.ContainsAny(s[:i], "\"<@") {
		s = strings.TrimSpace(s[i+1:])
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	if s == "" {
		return Address{}, false
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return Address{Name: cleanName(a.Name), Addr: validUTF8(strings.TrimSpace(a.Address))}, true
	}
	var name, addr string
	if lt := lastUnquoted(s, '<'); lt >= 0 {
		rest := s[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			addr = rest[:gt]
			name = s[:lt] + " " + rest[gt+1:]
		} else {
			addr = rest
			name = s[:lt]
		}
	} else {
		addr = s
		if i := strings.IndexByte(s, '('); i >= 0 {
			addr = s[:i]
			name = strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ")")
		}
	}
	name = strings.TrimSpace(name)
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = unquote(name[1 : len(name)-1])
	}
	addr = strings.TrimSpace(addr)
	if addr == "" && name == "" {
		return Address{}, false
	}
	return Address{Name: cleanName(name), Addr: validUTF8(addr)}, true
}

func lastUnquoted(s string, c byte) int {
	last, quote := -1, false
	for i := 0; i < len(s); i++ {
		switch {
		case quote && s[i] == '\\':
			i++
		case s[i] == '"':
			quote = !quote
		case !quote && s[i] == c:
			last = i
		}
	}
	return last
}

func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// wordDecoder decodes RFC 2047 encoded words with go-message's charsets.
var wordDecoder = mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	if message.CharsetReader == nil {
		return nil, fmt.Errorf("unhandled charset %q", cs)
	}
	return message.CharsetReader(strings.ToLower(cs), r)
}}

// cleanName decodes encoded words that net/mail leaves alone (inside quotes,
// or after a lenient parse), falls back to the raw text for unknown charsets,
// and returns valid, whitespace-collapsed UTF-8.
func cleanName(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return collapseSpace(validUTF8(s))
}

func parseDate(v string) (time.Time, bool) {
	if t, err := netmail.ParseDate(v); err == nil {
		return t, true
	}
	s := v
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	s = collapseSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04:05",
	"Monday, 2 Jan 2006 15:04:05 -0700",
	"Monday, January 2, 2006 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	time.RFC3339,
}

// IsAutomated reports whether a header marks the mail as automated:
// Auto-Submitted present and not "no"; Return-Path "<>"; From local part
// mailer-daemon or postmaster; Content-Type multipart/report; Precedence bulk,
// junk or list; X-Autoreply or X-Autorespond present. It accepts any header
// type with a canonical-key Get (go-message's headers, net/mail.Header,
// net/textproto.MIMEHeader, http.Header).
func IsAutomated(h interface{ Get(key string) string }) bool {
	if v := h.Get("Auto-Submitted"); v != "" && headerToken(v) != "no" {
		return true
	}
	if rp := h.Get("Return-Path"); rp != "" && strings.Join(strings.Fields(rp), "") == "<>" {
		return true
	}
	if from := h.Get("From"); from != "" {
		l, _ := parseAddressList(from)
		for _, a := range l {
			local := a.Addr
			if i := strings.LastIndexByte(local, '@'); i >= 0 {
				local = local[:i]
			}
			local = strings.ToLower(strings.Trim(local, `"`))
			if local == "mailer-daemon" || local == "postmaster" {
				return true
			}
		}
	}
	if ct := h.Get("Content-Type"); ct != "" && mediaType(ct) == "multipart/report" {
		return true
	}
	switch headerToken(h.Get("Precedence")) {
	case "bulk", "junk", "list":
		return true
	}
	return h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != ""
}

// headerToken returns the lower-case first token of a structured value,
// without parameters or comments.
func headerToken(v string) string {
	if i := strings.IndexAny(v, ";("); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// ---------------------------------------------------------------------------
// MIME structure

// textPart is a body text candidate produced by a part.
type textPart struct {
	text      string
	html      bool
	truncated bool
}

// entity handles one MIME entity with header h and raw (not yet transfer-
// decoded) body. parent is the media type of the enclosing multipart ("" at
// the top). If wantText is false, text parts are skipped (an alternative was
// already chosen). It returns the body text the entity contributes.
func (p *parser) entity(h message.Header, body io.Reader, depth int, parent string, wantText bool) []textPart {
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
			p.attachment(h, body, mt, params, parent)
			return nil
		default:
			return p.multipart(mt, boundary, body, depth, wantText)
		}
	}

	disp := dispositionType(&h)
	// Same rule as go-message's mail.Reader for InlineHeader vs AttachmentHeader.
	inline := disp == "inline" || (disp != "attachment" && strings.HasPrefix(mt, "text/"))
	isText := mt == "text/plain" || mt == "text/html"
	isBody := isText && inline && (depth == 0 || filename(&h) == "")
	if isBody && (!wantText || p.budget <= 0) {
		// Not needed: skip without decoding.
		p.drain(body, mt)
		if wantText {
			return []textPart{{html: mt == "text/html", truncated: true}}
		}
		return nil
	}

	e, err := message.New(h, body)
	if err != nil {
		if message.IsUnknownCharset(err) {
			p.warnf("%s part: unknown charset %q, shown undecoded", mt, params["charset"])
		} else if message.IsUnknownEncoding(err) {
			p.warnf("%s part: unknown transfer encoding %q, shown undecoded", mt, h.Get("Content-Transfer-Encoding"))
		} else {
			p.warnf("%s part: %v", mt, err)
		}
	}
	if !isBody {
		p.attachment(h, e.Body, mt, params, parent)
		return nil
	}
	var tp textPart
	if mt == "text/html" {
		tp = p.readHTML(e.Body, params)
	} else {
		tp = p.readPlain(e.Body, params)
	}
	p.budget -= len(tp.text)
	return []textPart{tp}
}

// contentType returns the lower-case media type and parameters of h,
// repairing h's Content-Type when go-message cannot parse it (go-message then
// ignores all parameters, including charset and boundary).
func (p *parser) contentType(h *message.Header, parent string) (string, map[string]string) {
	raw := h.Get("Content-Type")
	if raw == "" && parent == "multipart/digest" {
		return "message/rfc822", map[string]string{} // RFC 2046 5.1.5 default
	}
	mt, params, err := h.ContentType()
	if err == nil {
		if params == nil {
			params = map[string]string{}
		}
		return strings.ToLower(mt), params
	}
	mt, params = lenientMediaType(raw)
	p.warnf("Content-Type %q: %v; parsed leniently", clip(raw, 80), err)
	if mt == "" || !strings.Contains(mt, "/") {
		mt, params = "application/octet-stream", map[string]string{}
	}
	h.SetContentType(mt, params)
	return mt, params
}

// lenientMediaType parses "type/subtype; k=v; k="v"" ignoring duplicate and
// malformed parameters.
func lenientMediaType(v string) (string, map[string]string) {
	params := map[string]string{}
	parts := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(parts[0]))
	for _, kv := range parts[1:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = unquote(val[1 : len(val)-1])
		} else if f := strings.Fields(val); len(f) > 1 && (k == "charset" || k == "boundary") {
			val = f[0] // "charset=utf-8 format=flowed": a missing ';'
		}
		if _, dup := params[k]; k != "" && !dup {
			params[k] = val
		}
	}
	return mt, params
}

func mediaType(v string) string {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil && mt == "" {
		mt, _ = lenientMediaType(v)
	}
	return strings.ToLower(mt)
}

func dispositionType(h *message.Header) string {
	raw := h.Get("Content-Disposition")
	if raw == "" {
		return ""
	}
	d, _, err := h.ContentDisposition()
	if err != nil {
		d, _ = lenientMediaType(raw)
	}
	return strings.ToLower(d)
}

// filename returns the decoded filename of a part (Content-Disposition
// filename, else Content-Type name), "" if none.
func filename(h *message.Header) string {
	ah := mail.AttachmentHeader{Header: *h}
	name, err := ah.Filename()
	if name == "" && err != nil {
		_, dp := lenientMediaType(h.Get("Content-Disposition"))
		_, cp := lenientMediaType(h.Get("Content-Type"))
		if name = dp["filename"]; name == "" {
			name = cp["name"]
		}
		name = cleanName(name)
	}
	return strings.TrimSpace(validUTF8(name))
}

func (p *parser) multipart(mt, boundary string, body io.Reader, depth int, wantText bool) []textPart {
	pre := &capture{limit: preambleLimit}
	mr := textproto.NewMultipartReader(io.TeeReader(body, pre), boundary)
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
				if wantText {
					text, truncated := cleanPlain(pre.buf, false, false)
					out = append(out, textPart{text: text, truncated: truncated || pre.full})
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
		parts := p.entity(message.Header{Header: tp.Header}, tp, depth+1, mt, childWant)
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

// capture keeps the first limit bytes written to it until stopped.
type capture struct {
	buf     []byte
	limit   int
	full    bool
	stopped bool
}

func (c *capture) Write(b []byte) (int, error) {
	if c.stopped {
		return len(b), nil
	}
	if room := c.limit - len(c.buf); len(b) > room {
		c.buf = append(c.buf, b[:room]...)
		c.full = true
	} else {
		c.buf = append(c.buf, b...)
	}
	return len(b), nil
}

func (c *capture) stop() { c.stopped, c.buf = true, nil }

func (p *parser) attachment(h message.Header, body io.Reader, mt string, params map[string]string, parent string) {
	disp := dispositionType(&h)
	a := Attachment{
		Filename:    filename(&h),
		ContentType: mt,
		Inline:      disp == "inline" || (disp == "" && parent == "multipart/related"),
	}
	a.Size = p.drain(p.rep.capture(mt, body), mt)
	if len(p.msg.Attachments) >= maxAttachments {
		p.droppedAttachments++
		return
	}
	p.msg.Attachments = append(p.msg.Attachments, a)
}

// drain reads body to its end without keeping it and returns the byte count.
func (p *parser) drain(body io.Reader, mt string) int64 {
	n, err := io.Copy(io.Discard, body)
	p.readErr(err, mt)
	return n
}

func (p *parser) readErr(err error, mt string) {
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF):
		p.unexpectedEOF = true
	default:
		p.warnf("%s part: %v (content read up to the error is used)", mt, err)
	}
}

// ---------------------------------------------------------------------------
// Text

func (p *parser) readPlain(r io.Reader, params map[string]string) textPart {
	buf, more := p.readLimited(r, rawTextLimit, "text/plain")
	flowed := strings.EqualFold(params["format"], "flowed")
	delsp := strings.EqualFold(params["delsp"], "yes")
	text, truncated := cleanPlain(buf, flowed, delsp)
	return textPart{text: text, truncated: truncated || more}
}

// readLimited reads at most limit bytes of r, then drains the rest; more
// reports whether the rest contained anything but whitespace.
func (p *parser) readLimited(r io.Reader, limit int, mt string) (buf []byte, more bool) {
	var b bytes.Buffer
	_, err := io.Copy(&b, io.LimitReader(r, int64(limit)))
	p.readErr(err, mt)
	if b.Len() < limit {
		return b.Bytes(), false
	}
	w := &nonSpaceWriter{}
	_, err = io.Copy(w, r)
	p.readErr(err, mt)
	buf = b.Bytes()
	if w.seen {
		buf = trimPartialRune(buf)
	}
	return buf, w.seen
}

type nonSpaceWriter struct{ seen bool }

func (w *nonSpaceWriter) Write(b []byte) (int, error) {
	if !w.seen && len(bytes.TrimSpace(b)) > 0 {
		w.seen = true
	}
	return len(b), nil
}

func (p *parser) readHTML(r io.Reader, params map[string]string) textPart {
	if _, ok := params["charset"]; !ok {
		r = sniffHTMLCharset(r)
	}
	text, truncated, err := htmlToText(r, MaxText+1)
	if err != nil {
		p.warnf("text/html part: %v (text converted up to the error is used)", err)
	}
	p.drain(r, "text/html")
	return textPart{text: text, html: true, truncated: truncated}
}

// cleanPlain turns raw text/plain bytes into Message.Text form: valid UTF-8
// (invalid bytes read as Windows-1252), \n newlines, format=flowed
// paragraphs joined, trailing whitespace removed from each line, leading
// blank lines and trailing whitespace trimmed, at most MaxText bytes.
func cleanPlain(b []byte, flowed, delsp bool) (string, bool) {
	s := validUTF8(string(b))
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
	)
	for _, t := range parts {
		truncated = truncated || t.truncated
		if t.text == "" {
			continue
		}
		texts = append(texts, t.text)
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

func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutUTF8(s, n) + "..."
}
