package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// richJSON renders text as Slack receives its rich_text elements.
func richJSON(t *testing.T, text string) string {
	t.Helper()
	data, err := json.Marshal(richBlock(text).Elements)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRichTextShapes(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Hello\n\nthere", `[{"type":"rich_text_section","elements":[{"type":"text","text":"Hello\n\nthere"}]}]`},
		{"empty", "  \n", `[{"type":"rich_text_section","elements":[{"type":"text","text":"(empty)"}]}]`},
		{"link", "See https://acme.test/a?b=1&c=2. Thanks",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"See "},{"type":"link","url":"https://acme.test/a?b=1\u0026c=2","text":"https://acme.test/a?b=1\u0026c=2"},{"type":"text","text":". Thanks"}]}]`},
		{"link in brackets", "(docs: https://acme.test/wiki/A_(b))",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"(docs: "},{"type":"link","url":"https://acme.test/wiki/A_(b)","text":"https://acme.test/wiki/A_(b)"},{"type":"text","text":")"}]}]`},
		{"mailto", "write mailto:a@b.test",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"write "},{"type":"link","url":"mailto:a@b.test","text":"mailto:a@b.test"}]}]`},
		{"not links", "javascript:alert(1) http:// https://",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"javascript:alert(1) http:// https://"}]}]`},
		{"quote", "Yes.\n> you wrote\n>> before\n\nBye",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"Yes."}]},{"type":"rich_text_quote","elements":[{"type":"text","text":"you wrote\nbefore"}]},{"type":"rich_text_section","elements":[{"type":"text","text":"Bye"}]}]`},
		{"bullets", "Items:\n- one\n* two\n• three",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"Items:"}]},{"type":"rich_text_list","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"one"}]},{"type":"rich_text_section","elements":[{"type":"text","text":"two"}]},{"type":"rich_text_section","elements":[{"type":"text","text":"three"}]}],"style":"bullet","indent":0,"border":0,"offset":0}]`},
		{"nested", "• a\n  • b",
			`[{"type":"rich_text_list","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"a"}]}],"style":"bullet","indent":0,"border":0,"offset":0},{"type":"rich_text_list","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"b"}]}],"style":"bullet","indent":1,"border":0,"offset":0}]`},
		{"ordered from 3", "3. c\n4. d",
			`[{"type":"rich_text_list","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"c"}]},{"type":"rich_text_section","elements":[{"type":"text","text":"d"}]}],"style":"ordered","indent":0,"border":0,"offset":2}]`},
		{"numbers that skip stay text", "1. a\n3. b",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"1. a\n3. b"}]}]`},
		{"one item stays text", "- just a dash line\nand more",
			`[{"type":"rich_text_section","elements":[{"type":"text","text":"- just a dash line\nand more"}]}]`},
	} {
		if got := richJSON(t, tc.in); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// Mention markup in mail is shown as text: rich_text has no markup, and a
// mail never produces a mention element.
func TestRichTextPingsNobody(t *testing.T) {
	in := "Hi <!channel> and <!here> <!everyone>, ask <@U123> or <!subteam^S1|@ops>.\n" +
		"> <@U999> said\n- <!channel>\n- <#C1|general> @here :rotating_light: *bold* <https://evil.test|click>"
	got := richJSON(t, in)
	for _, banned := range []string{`"type":"user"`, `"type":"usergroup"`, `"type":"broadcast"`, `"type":"channel"`, `"type":"emoji"`} {
		if strings.Contains(got, banned) {
			t.Errorf("mention element %s in %s", banned, got)
		}
	}
	for _, lit := range []string{"\\u003c!channel\\u003e", "\\u003c@U123\\u003e", "\\u003c!subteam^S1|@ops\\u003e", "\\u003c@U999\\u003e"} {
		if !strings.Contains(got, lit) {
			t.Errorf("%s not shown literally in %s", lit, got)
		}
	}
	// A Slack-style link in a mail is text, not a hidden link: its URL is
	// linked as written, without the label.
	if strings.Contains(got, `"text":"click"`) {
		t.Errorf("a mail made a labelled link: %s", got)
	}
}

func TestRichBlocksStayWithinLimits(t *testing.T) {
	text := strings.Repeat("> quoted line https://acme.test/"+strings.Repeat("p", 50)+"\n", 500)
	j := &store.SlackJob{Kind: store.JobMail, Mail: &store.InboundMail{Text: text}}
	var blocks []*slack.RichTextBlock
	for _, p := range mailTextPosts(&store.Conversation{Num: 1}, j) {
		for _, b := range p.blocks {
			if rb, ok := b.(*slack.RichTextBlock); ok {
				blocks = append(blocks, rb)
			}
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	total := 0
	for _, b := range blocks {
		n := richChars(b)
		if n > sectionMax {
			t.Errorf("block of %d characters", n)
		}
		total += n
	}
	if total < len(text)*9/10 {
		t.Errorf("text lost: %d of %d characters", total, len(text))
	}
}
