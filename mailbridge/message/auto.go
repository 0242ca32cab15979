package message

import (
	"strings"
)

// IsAutomated reports whether a header marks the mail as automated:
// Auto-Submitted present and not "no"; Return-Path "<>"; From local part
// mailer-daemon or postmaster, or From the null address "<>"; Content-Type multipart/report; Precedence bulk,
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
			if a.Addr == "" {
				return true // the null sender of bounces
			}
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
