package message

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"

	gomessage "github.com/emersion/go-message"
)

// attachment lists a non-body part and reads its (transfer-decoded) body
// to the end, through the ParseOptions.Attachment callback if there is
// one; capt, if not nil, keeps the beginning of it. It returns the
// attachment's index in Message.Attachments, -1 if not listed.
func (p *parser) attachment(h gomessage.Header, body io.Reader, mt, parent string, capt *textCapture) int {
	disp := dispositionType(&h)
	a := Attachment{
		Name:      filename(&h),
		Type:      mt,
		ContentID: contentID(&h),
		Inline:    disp == "inline" || (disp == "" && parent == "multipart/related"),
	}
	if capt != nil {
		body = io.TeeReader(body, capt)
	}
	body = p.rep.capture(mt, body)
	listed := len(p.msg.Attachments) < maxAttachments
	cr := &countingReader{r: body}
	if listed && p.opts.Attachment != nil {
		err := p.opts.Attachment(&a, cr)
		// An error of reading the part itself (bad base64) is reported
		// below like any other; the callback's own (disk full) marks
		// the attachment.
		if err != nil && (cr.err == nil || !errors.Is(err, cr.err)) {
			a.Error = err.Error()
		}
	}
	if cr.err == nil {
		_, cr.err = io.Copy(io.Discard, cr)
	}
	if cr.err != io.EOF {
		p.readErr(cr.err, mt)
	}
	a.Size = cr.n
	if !listed {
		p.droppedAttachments++
		return -1
	}
	p.msg.Attachments = append(p.msg.Attachments, a)
	return len(p.msg.Attachments) - 1
}

// drain reads body to its end without keeping it and returns the byte count.
func (p *parser) drain(body io.Reader, mt string) int64 {
	n, err := io.Copy(io.Discard, body)
	p.readErr(err, mt)
	return n
}

// countingReader counts the bytes read and keeps the first error (io.EOF
// included), after which it reads nothing more.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.err = err
	return n, err
}

// contentID returns the canonical Content-ID of a part ("" if none).
func contentID(h *gomessage.Header) string {
	v := h.Get("Content-Id")
	if v == "" {
		return ""
	}
	return CanonMsgID(validUTF8(v))
}

// markReferenced sets Attachment.Referenced for the parts the HTML refers
// to; the HTML may come before or after them. Case is ignored: a client
// refers to its own Content-IDs, and some change case on the way.
func (p *parser) markReferenced() {
	for i := range p.msg.Attachments {
		a := &p.msg.Attachments[i]
		a.Referenced = a.ContentID != "" && p.cids[strings.ToLower(a.ContentID)]
	}
}

// cidScanner returns r, noting the cid: URLs (RFC 2392) in what is read
// through it. It looks at the bytes, not at the HTML: cheap enough to run
// on HTML that is not converted.
func (p *parser) cidScanner(r io.Reader) io.Reader {
	if p.cids == nil {
		p.cids = map[string]bool{}
	}
	return io.TeeReader(r, &cidWriter{cids: p.cids})
}

// maxCID bounds a cid: URL; a longer one is not a Content-ID of ours.
const maxCID = 256

type cidWriter struct {
	cids map[string]bool
	tail []byte // the end of the last write: a "cid:" URL may go on
}

func (w *cidWriter) Write(b []byte) (int, error) {
	data := b
	if len(w.tail) > 0 {
		data = append(w.tail, b...)
		w.tail = w.tail[:0]
	}
	i := 0
	for {
		j := bytes.IndexByte(data[i:], ':')
		if j < 0 {
			break
		}
		colon := i + j
		i = colon + 1
		if colon < 3 || !bytes.EqualFold(data[colon-3:colon], []byte("cid")) || colon > 3 && isAlnum(data[colon-4]) {
			continue
		}
		end := bytes.IndexAny(data[i:], "\"'()<> \t\r\n\\")
		if end < 0 {
			if len(data)-i <= maxCID {
				// The URL may go on in the next write.
				w.tail = append(w.tail[:0], data[colon-3:]...)
				return len(b), nil
			}
			break
		}
		w.add(data[i : i+end])
		i += end
	}
	// Keep what may be the start of "cid:", and the byte before it.
	w.tail = append(w.tail[:0], data[max(len(data)-4, i):]...)
	return len(b), nil
}

func (w *cidWriter) add(v []byte) {
	if len(v) == 0 || len(v) > maxCID {
		return
	}
	s := string(v)
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	w.cids[strings.ToLower(CanonMsgID(s))] = true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
