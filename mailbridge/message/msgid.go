package message

import (
	"strings"
	"unicode"

	"github.com/emersion/go-message/mail"
)

// CanonMsgID turns a Message-ID as found in a header ("<Abc@Example.COM> ")
// into the form used as a bbolt key ("Abc@example.com"). Only the domain is
// case-folded: the local part is case-sensitive by RFC 5322, and clients that
// change its case are rare, whereas domains are rewritten often.
func CanonMsgID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[:i+1] + strings.ToLower(s[i+1:])
	}
	return s
}

func (p *parser) messageID(h *mail.Header) string {
	raw := h.Get("Message-Id")
	if raw == "" {
		return ""
	}
	id, err := h.MessageID()
	if err == nil && id != "" {
		return CanonMsgID(id)
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
			out = append(out, CanonMsgID(id))
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
			ids = append(ids, CanonMsgID(id))
		}
		return ids, skipped
	}
	for _, tok := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if strings.Contains(tok, "@") {
			ids = append(ids, CanonMsgID(tok))
		} else {
			skipped++
		}
	}
	return ids, skipped
}
