package message

import "strings"

// ReplySubject gives the subject of a reply: one "Re: " before the original
// subject stripped of the reply prefixes clients add ("Re:", "RE[2]:",
// "AW:", "SV:"), so it never becomes "Re: Re:".
func ReplySubject(subject string) string {
	s := strings.TrimSpace(subject)
	for {
		t := stripReplyPrefix(s)
		if t == s {
			break
		}
		s = t
	}
	if s == "" {
		return "Re: (no subject)"
	}
	return "Re: " + s
}

func stripReplyPrefix(s string) string {
	lower := strings.ToLower(s)
	for _, p := range []string{"re", "aw", "sv", "antw", "vs"} {
		if !strings.HasPrefix(lower, p) {
			continue
		}
		rest := s[len(p):]
		if strings.HasPrefix(rest, "[") { // Re[2]:
			if i := strings.IndexByte(rest, ']'); i > 0 {
				rest = rest[i+1:]
			}
		}
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, ":") {
			return strings.TrimSpace(rest[1:])
		}
	}
	return s
}
