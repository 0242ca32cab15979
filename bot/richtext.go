package bot

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Mail text in Slack is a rich_text block: Slack shows the text of its
// "text" elements literally (no mrkdwn, no mention markup, no :emoji:
// codes), so "<!channel>" or "<@U123>" in a mail pings nobody, while links
// are clickable ("link" elements, showing the URL itself, so that no link
// hides where it goes), ">" quotes are shown as quotes and simple lists as
// lists. A mail can never produce a user, usergroup or broadcast element:
// those are the only mentions rich_text has.

// richBlock renders text as one rich_text block; empty text shows "(empty)".
func richBlock(text string) *slack.RichTextBlock {
	els := richElements(text)
	if len(els) == 0 {
		els = []slack.RichTextElement{slack.NewRichTextSection(slack.NewRichTextSectionTextElement("(empty)", nil))}
	}
	return slack.NewRichTextBlock("", els...)
}

type lineKind int

const (
	lineText lineKind = iota
	lineQuote
	lineBullet
	lineNumber
)

type richLine struct {
	kind   lineKind
	text   string // without the quote or list marker
	indent int    // list nesting
	num    int    // number of an ordered item
}

var (
	reBullet = regexp.MustCompile(`^([ \t]*)[-*•◦▪+][ \t]+(\S.*)$`)
	reNumber = regexp.MustCompile(`^([ \t]*)(\d{1,3})[.)][ \t]+(\S.*)$`)
)

func classifyLine(s string) richLine {
	if t := strings.TrimLeft(s, " "); strings.HasPrefix(t, ">") && len(s)-len(t) <= 3 {
		// One level of quoting is shown; deeper levels are flattened
		// into it.
		for strings.HasPrefix(t, ">") {
			t = strings.TrimPrefix(strings.TrimPrefix(t, ">"), " ")
		}
		return richLine{kind: lineQuote, text: t}
	}
	if len(s) > 400 {
		return richLine{kind: lineText, text: s} // no list item is that long a line to look at
	}
	if m := reBullet.FindStringSubmatch(s); m != nil {
		return richLine{kind: lineBullet, text: m[2], indent: indentOf(m[1])}
	}
	if m := reNumber.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[2])
		return richLine{kind: lineNumber, text: m[3], indent: indentOf(m[1]), num: n}
	}
	return richLine{kind: lineText, text: s}
}

func indentOf(ws string) int {
	n := 0
	for _, r := range ws {
		if r == '\t' {
			n += 4
		} else {
			n++
		}
	}
	return min(n/2, 6)
}

// richElements lays text out as rich_text elements: runs of quoted lines
// become quotes, runs of two or more list items lists, the rest sections.
func richElements(text string) []slack.RichTextElement {
	lines := strings.Split(text, "\n")
	ls := make([]richLine, len(lines))
	for i, l := range lines {
		ls[i] = classifyLine(l)
	}
	var out []slack.RichTextElement
	var plain []string
	flush := func() {
		s := strings.Trim(strings.Join(plain, "\n"), "\n")
		plain = plain[:0]
		if strings.TrimSpace(s) != "" {
			out = append(out, slack.NewRichTextSection(inline(s)...))
		}
	}
	for i := 0; i < len(ls); {
		j := i + 1
		switch ls[i].kind {
		case lineQuote:
			for j < len(ls) && ls[j].kind == lineQuote {
				j++
			}
			var q []string
			for _, l := range ls[i:j] {
				q = append(q, l.text)
			}
			if s := strings.Trim(strings.Join(q, "\n"), "\n"); strings.TrimSpace(s) != "" {
				flush()
				out = append(out, &slack.RichTextQuote{Type: slack.RTEQuote, Elements: inline(s)})
			}
		case lineBullet, lineNumber:
			for j < len(ls) && (ls[j].kind == lineBullet || ls[j].kind == lineNumber) {
				j++
			}
			if lists := richLists(ls[i:j]); lists != nil {
				flush()
				out = append(out, lists...)
			} else {
				for _, l := range lines[i:j] {
					plain = append(plain, l)
				}
			}
		default:
			plain = append(plain, lines[i])
		}
		i = j
	}
	flush()
	return out
}

// richLists renders a run of list items as lists (one per change of kind
// or nesting), or returns nil when it is better left as text: a single
// item, or numbers that do not count up by one (Slack numbers the items
// itself, and would show other numbers than the mail).
func richLists(items []richLine) []slack.RichTextElement {
	if len(items) < 2 {
		return nil
	}
	var out []slack.RichTextElement
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].kind == items[i].kind && items[j].indent == items[i].indent {
			if items[i].kind == lineNumber && items[j].num != items[j-1].num+1 {
				return nil
			}
			j++
		}
		style := slack.RTEListBullet
		if items[i].kind == lineNumber {
			style = slack.RTEListOrdered
		}
		l := slack.NewRichTextList(style, items[i].indent)
		if items[i].kind == lineNumber {
			l.Offset = items[i].num - 1
		}
		for _, it := range items[i:j] {
			l.Elements = append(l.Elements, slack.NewRichTextSection(inline(it.text)...))
		}
		out = append(out, l)
		i = j
	}
	return out
}

// reURL finds links in mail text: http(s) and mailto URLs.
var reURL = regexp.MustCompile(`(?i)\b(?:https?://|mailto:)[^\s<>"\x{00A0}]+`)

// inline splits text into text and link elements.
func inline(s string) []slack.RichTextSectionElement {
	var out []slack.RichTextSectionElement
	text := func(t string) {
		if t != "" {
			out = append(out, slack.NewRichTextSectionTextElement(t, nil))
		}
	}
	for {
		loc := reURL.FindStringIndex(s)
		if loc == nil {
			break
		}
		u := trimURL(s[loc[0]:loc[1]])
		end := loc[0] + len(u)
		if !linkable(u) {
			text(s[:end])
			s = s[end:]
			continue
		}
		text(s[:loc[0]])
		out = append(out, slack.NewRichTextSectionLinkElement(u, u, nil))
		s = s[end:]
	}
	text(s)
	if len(out) == 0 {
		text(" ")
	}
	return out
}

// trimURL drops what follows a URL in prose: final punctuation, and a
// closing bracket that has no opening one in the URL.
func trimURL(u string) string {
	// Brackets still open in u, by kind (counted once: a URL may be long).
	open := map[rune]int{}
	pair := map[rune]rune{')': '(', ']': '[', '}': '{'}
	for _, r := range u {
		switch r {
		case '(', '[', '{':
			open[r]++
		case ')', ']', '}':
			open[pair[r]]--
		}
	}
	for u != "" {
		r, size := utf8.DecodeLastRuneInString(u)
		switch {
		case strings.ContainsRune(".,;:!?'*_~", r):
		case pair[r] != 0 && open[pair[r]] < 0:
			open[pair[r]]++
		default:
			return u
		}
		u = u[:len(u)-size]
	}
	return u
}

// linkable reports whether u is a URL worth a link: http(s) with a host, or
// mailto with an address, of a sane length.
func linkable(u string) bool {
	if len(u) > 2000 {
		return false
	}
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		return p.Host != ""
	case "mailto":
		return strings.Contains(p.Opaque, "@")
	}
	return false
}
