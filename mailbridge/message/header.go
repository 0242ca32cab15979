package message

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/emersion/go-message/textproto"
)

// Header blocks are read leniently, the top-level one and those of MIME
// parts alike, and handed to go-message's textproto as a sanitized block:
// go-message rejects a whole message (or a whole multipart, for a part
// header) on one malformed line, which real mail has. A line that is
// neither a field nor an indented continuation is
//   - joined to the field before it when it continues that field: the
//     field ends with ';' or ',' or the line is a MIME parameter
//     ("name=..."): clients that forget to indent, Office 365 among them;
//   - otherwise dropped, with a warning.
// In a part, lines that no field and no blank line follow before the part
// ends are its body: the blank line ending the header was missing.

// headerBlock assembles a sanitized header block.
type headerBlock struct {
	block    bytes.Buffer // sanitized fields, CRLF-terminated
	field    []byte       // field being assembled (first line + continuations)
	nfields  int
	dropped  int
	joined   int
	dropEx   string // first dropped line
	joinEx   string // first joined line
	overflow bool   // fields dropped or cut beyond maxHeaderBytes
}

// add takes one line (without its line ending) of a header block. It
// reports false for a line that is neither a field nor a continuation;
// the caller decides what that line is (drop or body).
func (hb *headerBlock) add(line []byte) bool {
	switch {
	case len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
		if hb.field == nil {
			return false
		}
		hb.extend(line)
	case validFieldLine(line):
		hb.flush()
		hb.field = append([]byte(nil), line...)
	case hb.field != nil && continues(hb.field, line):
		if hb.joined == 0 {
			hb.joinEx = clip(string(line), 60)
		}
		hb.joined++
		hb.extend(append([]byte(" "), line...))
	default:
		return false
	}
	return true
}

// extend adds a continuation line to the field; a field that would not
// fit in the block anyway stops growing.
func (hb *headerBlock) extend(line []byte) {
	if len(hb.field)+len(line) > maxHeaderBytes {
		hb.overflow = true
		return
	}
	hb.field = append(hb.field, '\r', '\n')
	hb.field = append(hb.field, line...)
}

func (hb *headerBlock) drop(line []byte) {
	if hb.dropped == 0 {
		hb.dropEx = clip(string(line), 60)
	}
	hb.dropped++
}

func (hb *headerBlock) flush() {
	if hb.field == nil {
		return
	}
	if hb.block.Len()+len(hb.field)+2 > maxHeaderBytes {
		hb.overflow = true
	} else {
		hb.block.Write(hb.field)
		hb.block.WriteString("\r\n")
		hb.nfields++
	}
	hb.field = nil
}

// bytes ends the block: the fields and the blank line after them.
func (hb *headerBlock) bytes() []byte {
	hb.flush()
	hb.block.WriteString("\r\n")
	return hb.block.Bytes()
}

func (hb *headerBlock) warn(p *parser, what string) {
	if hb.joined > 0 {
		p.warnf("%s: joined %d unindented continuation line(s) to the field before them, first: %q", what, hb.joined, hb.joinEx)
	}
	if hb.dropped > 0 {
		p.warnf("%s: dropped %d malformed line(s), first: %q", what, hb.dropped, hb.dropEx)
	}
	if hb.overflow {
		p.warnf("%s: larger than %d bytes, fields beyond that dropped", what, maxHeaderBytes)
	}
}

// continues reports whether an unindented line that is not a field is the
// continuation of field.
func continues(field, line []byte) bool {
	if t := bytes.TrimRight(field, " \t"); len(t) > 0 && (t[len(t)-1] == ';' || t[len(t)-1] == ',') {
		return true
	}
	// A MIME parameter: token "=" (RFC 2231 names may end in "*" or "*0*").
	eq := bytes.IndexByte(line, '=')
	if eq <= 0 {
		return false
	}
	for _, c := range line[:eq] {
		if !(c == '-' || c == '_' || c == '*' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// readHeader reads the top-level header block: an mbox "From " first line
// is skipped, leading blank lines too, malformed lines are joined or
// dropped (see headerBlock), fields beyond maxHeaderBytes are dropped. The
// sanitized block is then parsed by go-message's textproto so that field
// semantics stay the library's. br is left at the start of the body.
func (p *parser) readHeader(br *bufio.Reader) (textproto.Header, int, error) {
	var (
		hb      headerBlock
		line    []byte // line buffer, reused
		readErr error
		first   = true
	)
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
			if hb.nfields == 0 && hb.field == nil && hb.dropped == 0 {
				break // leading blank lines
			}
			err = errEndOfHeader
		default:
			if !hb.add(line) {
				hb.drop(line)
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
	block := hb.bytes()
	hb.warn(p, "header")
	if hb.nfields == 0 {
		return textproto.Header{}, 0, readErr
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(block)))
	if err != nil {
		// Cannot happen for a sanitized block, but keep what was parsed.
		p.warnf("header: %v", err)
	}
	return h, hb.nfields, readErr
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

// looksLikeField reports a malformed field line: a name without spaces
// (but with characters a field name cannot have) and a colon.
func looksLikeField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	return i > 0 && i <= 76 && bytes.IndexAny(line[:i], " \t") < 0
}

// partFilter is the multipart body as go-message's MultipartReader reads
// it: the body passes through, and the header block after each delimiter
// line is replaced by its sanitized form, so that go-message's strict part
// header reader never fails (and abandons the rest of the multipart).
type partFilter struct {
	p       *parser
	br      *bufio.Reader
	dash    []byte // "--" + boundary
	nlDash  []byte // "\n--" + boundary
	out     []byte // output not yet read
	outBuf  []byte // holds out when it is not br's buffer
	atStart bool   // the next byte of br starts a line
	parts   bool   // a delimiter was seen
	closed  bool   // the closing delimiter was seen after one: the rest passes through
	err     error
}

func newPartFilter(p *parser, r io.Reader, boundary string) *partFilter {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 4<<10 {
		br = bufio.NewReaderSize(r, 4<<10)
	}
	return &partFilter{
		p: p, br: br,
		dash: []byte("--" + boundary), nlDash: []byte("\n--" + boundary),
		atStart: true,
	}
}

func (f *partFilter) Read(b []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.fill()
	}
	n := copy(b, f.out)
	f.out = f.out[n:]
	return n, nil
}

// fill sets out to the next piece of output: body bytes up to the next
// possible delimiter line, or a delimiter line with its sanitized header.
func (f *partFilter) fill() {
	buf, err := f.br.Peek(max(f.br.Buffered(), 1))
	if len(buf) == 0 {
		f.err = err
		return
	}
	if f.atStart && !f.closed && (bytes.HasPrefix(buf, f.dash) || bytes.HasPrefix(f.dash, buf)) {
		// A delimiter line may start here: look at the whole line.
		line, err := f.br.Peek(min(f.br.Size(), len(f.dash)+80))
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		} else if err == nil {
			line = nil // a longer line: not a delimiter
		}
		if line != nil && bytes.HasPrefix(line, f.dash) {
			switch rest := bytes.TrimLeft(line[len(f.dash):], " \t"); {
			case bytes.HasPrefix(rest, []byte("--")):
				// Before any part, go-message may read past it
				// (when its line end differs): keep filtering.
				f.closed = f.parts
			case len(rest) == 0 || string(rest) == "\n" || string(rest) == "\r\n":
				f.delimiter(len(line))
				return
			}
		}
		buf, _ = f.br.Peek(f.br.Buffered())
	}
	// Pass through up to the next "\n--boundary" (the newline included),
	// keeping back a last line that may be the start of one.
	n := len(buf)
	if !f.closed {
		if i := bytes.Index(buf, f.nlDash); i >= 0 {
			n = i + 1
		} else if j := bytes.LastIndexByte(buf, '\n'); j >= 0 && bytes.HasPrefix(f.dash, buf[j+1:]) {
			n = j + 1
		}
	}
	f.atStart = buf[n-1] == '\n'
	f.out = buf[:n]
	// Discard only moves br's read index: out stays valid until br is
	// read again, which happens once out is consumed.
	f.br.Discard(n)
}

// delimiter outputs the delimiter line of n bytes at the start of br and
// the sanitized header block after it.
func (f *partFilter) delimiter(n int) {
	f.parts = true
	line, _ := f.br.Peek(n)
	out := append(f.outBuf[:0], line...)
	f.br.Discard(n)
	f.atStart = true

	var (
		hb       headerBlock
		buf      []byte
		suspects [][]byte // lines neither field nor continuation, pending a decision
		header   bool     // a line that is or looks like a field was seen
		size     int
		tail     []byte // body lines that follow the header
	)
	body := func() {
		// No field and no blank line came after the suspects: they are
		// the start of the body.
		for _, s := range suspects {
			tail = append(tail, s...)
			tail = append(tail, '\r', '\n')
		}
		if len(suspects) > 0 {
			f.p.warnf("part header: no blank line after it; %d line(s) taken as the body", len(suspects))
		}
		suspects = nil
	}
	for {
		if next, _ := f.br.Peek(len(f.dash)); bytes.Equal(next, f.dash) {
			// The part ends without a blank line; the delimiter is
			// left for fill.
			body()
			break
		}
		l, err := readLine(f.br, buf[:0])
		buf = l
		if len(l) == 0 && err != nil { // end of input
			body()
			f.err = err
			break
		}
		if len(l) == 0 { // the blank line ending the header
			if !header && len(suspects) > 0 {
				// Only text lines: a part without header whose body
				// has a blank line.
				body()
				tail = append(tail, '\r', '\n')
			}
			for _, s := range suspects {
				hb.drop(s)
			}
			break
		}
		switch {
		case validFieldLine(l) || looksLikeField(l):
			// The suspects were malformed header lines after all.
			for _, s := range suspects {
				hb.drop(s)
			}
			suspects, size, header = nil, 0, true
			if !hb.add(l) {
				hb.drop(l)
			}
		case len(suspects) == 0 && hb.add(l):
		default:
			suspects = append(suspects, append([]byte(nil), l...))
			size += len(l)
		}
		if size > maxHeaderBytes {
			body()
			break
		}
		if err != nil {
			body()
			f.err = err
			break
		}
	}
	out = append(out, hb.bytes()...)
	out = append(out, tail...)
	hb.warn(f.p, "part header")
	f.out, f.outBuf = out, out
}
