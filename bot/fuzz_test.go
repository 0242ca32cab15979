package bot

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// slackTextSeeds are Slack message texts as agents write them (the cases
// of TestSlackToPlain and more): the fuzz targets start from them.
var slackTextSeeds = []string{
	"Hi &lt;there&gt; &amp; welcome",
	"ask <@U1> or <@U2|bob>",
	"see <https://acme.test/x?a=1&amp;b=2>",
	"see <https://acme.test|the docs>",
	"<https://acme.test|acme.test>",
	"mail <mailto:a@b.c|a@b.c>",
	"in <#C1|general> <!here> <!subteam^S1|@ops>",
	"  trailing  ",
	"to: Pat <pat@example.com>\ncc: -old@example.com\nHi Pat,\n\n*bold* _it_ ~strike~ `code`\n```\nblock\n```\n&gt; quoted",
	"<!date^1700000000^{date_short}|Nov 14>",
	"unclosed <https://acme.test and &amp",
	"<<>>|<|>&&amp;amp;",
	"émoji :tada: \u00a0 <@U1|Zoë>",
}

// FuzzSlackToPlain: whatever an agent's message holds, its mail text is
// produced without a panic, is valid UTF-8 when the message is, has no
// surrounding white space, and (names aside) is never longer than the
// message: a token becomes its label or target, an escape its character.
func FuzzSlackToPlain(f *testing.F) {
	for _, s := range slackTextSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := slackToPlain(in, func(string) string { return "" })
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Errorf("invalid UTF-8 out of valid input %q: %q", in, out)
		}
		if out != strings.TrimSpace(out) {
			t.Errorf("surrounding white space: %q", out)
		}
		if len(out) > len(in) {
			t.Errorf("output %q longer than input %q", out, in)
		}
		if !strings.ContainsAny(in, "<&") && out != strings.TrimSpace(in) {
			t.Errorf("plain text %q changed into %q", in, out)
		}
		named := slackToPlain(in, func(id string) string { return "Name" })
		if !strings.Contains(in, "<@") && named != out {
			t.Errorf("a name changed text without user mentions: %q vs %q", named, out)
		}
	})
}

// FuzzRichText: whatever a mail's text holds, its rich_text rendering is
// valid for Slack (no empty text element, links with http(s) or mailto
// URLs), holds no mention element, and loses no word of the text.
func FuzzRichText(f *testing.F) {
	for _, s := range slackTextSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		"Yes.\n> you wrote\n>> before\n\nBye",
		"Items:\n- one\n* two\n• three\n  • nested\n1. a\n2. b\n\n3) c\n4) d",
		"See https://acme.test/wiki/A_(b)). and mailto:x@y.test, http://[::1]:80/x?y=<z>",
		"<!channel> <@U123> <!subteam^S1|@ops>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return // mail text is valid UTF-8 (the parser sees to it)
		}
		b := richBlock(in)
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{`"type":"user"`, `"type":"usergroup"`, `"type":"broadcast"`, `"type":"channel"`} {
			if strings.Contains(string(data), banned) {
				t.Fatalf("mention element %s from %q", banned, in)
			}
		}
		var words strings.Builder
		var check func(els []slack.RichTextSectionElement)
		check = func(els []slack.RichTextSectionElement) {
			if len(els) == 0 {
				t.Fatalf("empty section from %q", in)
			}
			for _, e := range els {
				switch e := e.(type) {
				case *slack.RichTextSectionTextElement:
					if e.Text == "" {
						t.Fatalf("empty text element from %q", in)
					}
					words.WriteString(e.Text)
				case *slack.RichTextSectionLinkElement:
					u, err := url.Parse(e.URL)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") || e.Text != e.URL {
						t.Fatalf("bad link %+v from %q", e, in)
					}
					words.WriteString(e.Text)
				default:
					t.Fatalf("unexpected element %T from %q", e, in)
				}
			}
		}
		for _, el := range b.Elements {
			switch el := el.(type) {
			case *slack.RichTextSection:
				check(el.Elements)
			case *slack.RichTextQuote:
				check(el.Elements)
			case *slack.RichTextList:
				if len(el.Elements) == 0 || el.Indent < 0 || el.Indent > 8 {
					t.Fatalf("bad list %+v from %q", el, in)
				}
				for _, it := range el.Elements {
					check(it.(*slack.RichTextSection).Elements)
				}
			default:
				t.Fatalf("unexpected element %T from %q", el, in)
			}
		}
		// No character of the text is lost: what is left of each line
		// once its quote and list markers are taken away is shown, in
		// order (white space aside).
		var want strings.Builder
		for _, line := range strings.Split(in, "\n") {
			line = strings.TrimLeft(line, " \t>")
			if m := reListMarker.FindStringIndex(line); m != nil {
				line = line[m[1]:]
			}
			want.WriteString(line)
		}
		if !subsequence(noSpace(want.String()), noSpace(words.String())) {
			t.Fatalf("text of %q lost: shown %q", in, words.String())
		}
	})
}

var reListMarker = regexp.MustCompile(`^([-*•◦▪+]|\d{1,3}[.)])[ \t]+`)

func noSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// subsequence reports whether the runes of a appear in b in order.
func subsequence(a, b string) bool {
	for _, r := range a {
		i := strings.IndexRune(b, r)
		if i < 0 {
			return false
		}
		b = b[i+utf8.RuneLen(r):]
	}
	return true
}
