package message

import (
	netmail "net/mail"
	"slices"
	"strings"

	"github.com/emersion/go-message/mail"
)

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
	if hasNullAddr(v) {
		if pieces := splitAddressList(v); slices.ContainsFunc(pieces, isNullMailbox) {
			// net/mail rejects the null address "<>" and the whole
			// list with it: take the pieces one by one.
			for _, s := range pieces {
				if isNullMailbox(s) {
					out = append(out, nullMailbox(s))
					continue
				}
				l, len := parseAddressList(s)
				out = append(out, l...)
				lenient = lenient || len
			}
			return out, lenient
		}
	}
	if l, err := addressParser.ParseList(relabelWords(v)); err == nil {
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

// hasNullAddr reports whether v may have a null address: "<" and ">" with
// only spaces between them (a cheap test before splitting the list).
func hasNullAddr(v string) bool {
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return false
		}
		v = strings.TrimLeft(v[i+1:], " \t")
		if strings.HasPrefix(v, ">") {
			return true
		}
	}
}

// isNullMailbox reports the null address of bounces, "<>" (RFC 5321's
// null reverse-path), possibly with a name: "MAILER-DAEMON <>". It is not
// a malformed address.
func isNullMailbox(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, ">") {
		return false
	}
	lt := lastUnquoted(s, '<')
	return lt >= 0 && strings.TrimSpace(s[lt+1:len(s)-1]) == ""
}

// nullMailbox returns the null address s (see isNullMailbox): its name and
// no address.
func nullMailbox(s string) Address {
	s = strings.TrimSpace(s)
	name := strings.TrimSpace(s[:lastUnquoted(s, '<')])
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = unquote(name[1 : len(name)-1])
	}
	return Address{Name: cleanName(name)}
}

// addressParser is net/mail's strict parser with this package's charsets.
var addressParser = netmail.AddressParser{WordDecoder: &wordDecoder}

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
	if a, err := addressParser.Parse(relabelWords(s)); err == nil {
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

// cleanName decodes encoded words that net/mail leaves alone (inside quotes,
// or after a lenient parse), falls back to the raw text for unknown charsets,
// and returns valid, whitespace-collapsed UTF-8.
func cleanName(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := decodeWords(s); err == nil {
			s = d
		}
	}
	return collapseSpace(validUTF8(s))
}
