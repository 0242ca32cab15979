package message

import (
	"errors"
	"strings"
	"time"
)

// Address is one mailbox from an address header. Name is decoded (RFC 2047)
// UTF-8; Addr is the address as written, trimmed (case is not changed).
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr"`
}

// String renders "Name <addr>" or just the address.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return a.Name + " <" + a.Addr + ">"
}

// Attachment describes a non-body MIME part. Its content is never kept: Size
// is the number of decoded bytes that were read. Type is the lower-case
// media type without parameters.
//
// The JSON form is stored by inboxbot's store: name, type and size keep the
// shape they had before the other fields existed, and every later field is
// omitted when empty so that old records decode unchanged.
type Attachment struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
	// ContentID is the part's Content-ID in canonical form (CanonMsgID:
	// no angle brackets), what cid: URLs refer to.
	ContentID string `json:"content_id,omitempty"`
	// Inline is true for parts meant to be shown inside the message
	// (Content-Disposition: inline, or a part of a multipart/related
	// without a disposition), e.g. images referenced by the HTML.
	Inline bool `json:"inline,omitempty"`
	// Referenced is true when the mail's HTML refers to the part (a cid:
	// URL): an image of the HTML, not a file the sender attached. The
	// HTML looked at is the one shown, and any HTML of a
	// multipart/related (where such images belong).
	Referenced bool `json:"referenced,omitempty"`
	// Shown is true for a text attachment whose text is part of
	// Message.Text (an inline text/plain attachment, or a named one
	// that is the mail's only text).
	Shown bool `json:"shown,omitempty"`
	// Ref is free for the ParseOptions.Attachment callback, e.g. where it
	// stored the content.
	Ref string `json:"ref,omitempty"`
	// Error says why the ParseOptions.Attachment callback failed on the
	// part (its content was then not stored).
	Error string `json:"error,omitempty"`
}

// Message is the parsed form of one inbound mail. Its JSON form is what
// inboxbot's store keeps (as store.InboundMail): field names and shapes
// must stay compatible with records already written.
type Message struct {
	MessageID  string   `json:"message_id,omitempty"`  // canonical (CanonMsgID), "" if absent
	InReplyTo  []string `json:"in_reply_to,omitempty"` // canonical
	References []string `json:"references,omitempty"`  // canonical, in header order (oldest first)
	From       Address  `json:"from"`                  // first From mailbox (Sender if there is no From)
	// ReplyTo is the first Reply-To mailbox, nil without Reply-To.
	ReplyTo *Address `json:"reply_to,omitempty"`
	// ReplyToAll lists every Reply-To mailbox when there are several.
	ReplyToAll []Address `json:"reply_to_all,omitempty"`
	To         []Address `json:"to,omitempty"`
	Cc         []Address `json:"cc,omitempty"`
	Subject    string    `json:"subject"`       // decoded, whitespace-collapsed, "" if absent
	Date       time.Time `json:"date,omitzero"` // zero if absent/unparseable

	// Text is the readable body: UTF-8, \n newlines, trailing whitespace
	// trimmed; from the text/plain parts, else from the text/html parts
	// converted to readable text. Text parts of a multipart/mixed are joined
	// with a blank line; of a multipart/alternative only one is used.
	Text string `json:"text"`
	// QuoteAt, when > 0, is where the history starts in Text (see
	// FoldQuote): Text[:QuoteAt] is what the sender wrote, Text[QuoteAt:]
	// quoted mail, forwarded headers or a signature, to fold away.
	QuoteAt   int  `json:"quote_at,omitempty"`
	Truncated bool `json:"truncated,omitempty"` // Text was cut at MaxText bytes (on a UTF-8 boundary)
	HTMLOnly  bool `json:"html_only,omitempty"` // Text came from HTML (no text/plain part contributed to it)

	Attachments []Attachment `json:"attachments,omitempty"`
	Auto        bool         `json:"auto,omitempty"`     // automated mail, see IsAutomated
	Warnings    []string     `json:"warnings,omitempty"` // non-fatal problems, human-readable
	// ParseError is set when the mail could not be parsed; Text then holds
	// the beginning of the raw message so that nothing is lost from sight.
	ParseError string `json:"parse_error,omitempty"`
	// Report is what a bounce says about the mail it returns (dsn.go).
	Report *DeliveryReport `json:"report,omitempty"`
}

// NewText returns what the sender wrote: Text without the history
// FoldQuote found (all of Text when there is none).
func (m *Message) NewText() string {
	if m.QuoteAt > 0 && m.QuoteAt < len(m.Text) {
		return m.Text[:m.QuoteAt]
	}
	return m.Text
}

// Quoted returns the history folded away from NewText, without the blank
// lines before it ("" when there is none).
func (m *Message) Quoted() string {
	if m.QuoteAt > 0 && m.QuoteAt < len(m.Text) {
		return strings.TrimLeft(m.Text[m.QuoteAt:], "\n")
	}
	return ""
}

// MaxText is the maximum length of Message.Text in bytes.
const MaxText = 256 << 10

// ErrNoHeader is returned by Parse when the input has no usable header field.
var ErrNoHeader = errors.New("message: no header field found")

const (
	maxHeaderBytes = 1 << 20 // like go-message's default limit
	maxDepth       = 16      // multipart nesting deeper than this is counted as an attachment
	maxAttachments = 1000    // attachments listed; the rest are only counted in a warning
	maxWarnings    = 50
	textBudget     = 4 * MaxText // text held while choosing between parts
	rawTextLimit   = 2 * MaxText // raw bytes of one text/plain part that are read
	preambleLimit  = 64 << 10    // bytes kept to recover a multipart without parts
)
