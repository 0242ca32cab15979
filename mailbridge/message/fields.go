package message

import (
	"errors"
	"mime"
	"slices"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

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
	if len(from) > 1 {
		addrs := make([]string, len(from))
		for i, a := range from {
			addrs[i] = a.Addr
		}
		p.warnf("From has %d addresses (%s): replies go to the first", len(from), clip(strings.Join(addrs, ", "), 200))
	}
	if rt := withAddr(p.addressList(h, "Reply-To")); len(rt) > 0 {
		m.ReplyTo = &rt[0]
		if len(rt) > 1 {
			m.ReplyToAll = rt
		}
	}
	m.To = withAddr(p.addressList(h, "To"))
	m.Cc = withAddr(p.addressList(h, "Cc"))

	if raw := h.Get("Subject"); raw != "" {
		s, err := decodeWords(raw)
		if err != nil {
			if errors.Is(err, errUnknownCharset) {
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

// withAddr drops null addresses ("<>") from a list of recipients.
func withAddr(l []Address) []Address {
	return slices.DeleteFunc(l, func(a Address) bool { return a.Addr == "" })
}

// contentType returns the lower-case media type and parameters of h,
// repairing h's Content-Type when go-message cannot parse it (go-message then
// ignores all parameters, including charset and boundary).
func (p *parser) contentType(h *gomessage.Header, parent string) (string, map[string]string) {
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

func dispositionType(h *gomessage.Header) string {
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
func filename(h *gomessage.Header) string {
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
