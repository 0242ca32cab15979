package store

import "strings"

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
