package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

func TestIDPairs(t *testing.T) {
	for _, n := range []uint64{1, 12, 1 << 40} {
		if got, err := parseConvValue(convValue(n)); err != nil || got != n {
			t.Errorf("conv value %d: %d %v", n, got, err)
		}
		if got, err := parseActionBlockID(actionBlockID(n)); err != nil || got != n {
			t.Errorf("block id %d: %d %v", n, got, err)
		}
		id := newMessageID(n, "acme.test")
		if got, ok := parseMessageID(id); !ok || got != n {
			t.Errorf("message id %q: %d %v", id, got, ok)
		}
		for part := range 3 {
			// Through JSON, as the metadata comes back from Slack.
			data, _ := json.Marshal(postMeta(n, part))
			var md slack.SlackMetadata
			json.Unmarshal(data, &md)
			if s, p, ok := parsePostMeta(md); !ok || s != n || p != part {
				t.Errorf("post meta %d/%d: %d/%d %v", n, part, s, p, ok)
			}
		}
	}
	for _, bad := range []string{"", "0", "x", "-1", "#"} {
		if _, err := parseConvValue(bad); err == nil {
			t.Errorf("parseConvValue(%q) accepted", bad)
		}
	}
	if got, err := parseConvValue("#7"); err != nil || got != 7 {
		t.Errorf("#7: %d %v", got, err)
	}
	for _, bad := range []string{"card:", "x:1", "card:x"} {
		if _, err := parseActionBlockID(bad); err == nil {
			t.Errorf("parseActionBlockID(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"abc@x", "inboxbot.1.short@x", "inboxbot.x.0123456789abcdef0123456789abcdef@x", "inboxbot.1.0123456789abcdef0123456789abcdef"} {
		if _, ok := parseMessageID(bad); ok {
			t.Errorf("parseMessageID(%q) accepted", bad)
		}
	}
	if _, _, ok := parsePostMeta(slack.SlackMetadata{EventType: "other"}); ok {
		t.Error("foreign metadata accepted")
	}
	if d := domainOf("Support@Acme.TEST"); d != "acme.test" {
		t.Errorf("domainOf: %q", d)
	}
}

func TestEscape(t *testing.T) {
	in := "<!channel> & <@U123> <https://evil|click>"
	want := "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil|click&gt;"
	if got := escape(in); got != want {
		t.Errorf("escape: %q", got)
	}
}

func TestIsNote(t *testing.T) {
	for text, want := range map[string]bool{
		"note: internal":     true,
		"NOTE: shout":        true,
		"  Note:spaced":      true,
		"// aside":           true,
		"*note:* bold":       true,
		"Notes are welcome":  false,
		"Hello, note: this":  false,
		"http://example.com": false,
		"/ not a comment":    false,
	} {
		if got := isNote(text); got != want {
			t.Errorf("isNote(%q) = %v", text, got)
		}
	}
}

func TestSlackToPlain(t *testing.T) {
	names := map[string]string{"U1": "Alice Agent"}
	name := func(id string) string { return names[id] }
	for in, want := range map[string]string{
		"Hi &lt;there&gt; &amp; welcome":              "Hi <there> & welcome",
		"ask <@U1> or <@U2|bob>":                      "ask @Alice Agent or @bob",
		"see <https://acme.test/x?a=1&amp;b=2>":       "see https://acme.test/x?a=1&b=2",
		"see <https://acme.test|the docs>":            "see the docs (https://acme.test)",
		"<https://acme.test|acme.test>":               "https://acme.test",
		"mail <mailto:a@b.c|a@b.c>":                   "mail a@b.c",
		"in <#C1|general> <!here> <!subteam^S1|@ops>": "in #general @here @ops",
		"  trailing  ":                                "trailing",
	} {
		if got := slackToPlain(in, name); got != want {
			t.Errorf("slackToPlain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChunks(t *testing.T) {
	long := strings.Repeat("word ", 2000) + "\n" + strings.Repeat("ü", 5000)
	parts := chunks(long, 2900)
	joined := 0
	for _, p := range parts {
		if n := utf8.RuneCountInString(p); n > 2900 || n == 0 {
			t.Errorf("chunk of %d characters", n)
		}
		joined += utf8.RuneCountInString(strings.NewReplacer(" ", "", "\n", "").Replace(p))
	}
	if want := utf8.RuneCountInString(strings.ReplaceAll(strings.ReplaceAll(long, " ", ""), "\n", "")); joined != want {
		t.Errorf("chunks lost text: %d of %d non-space characters", joined, want)
	}
	if got := chunks("short", 10); len(got) != 1 || got[0] != "short" {
		t.Errorf("short: %q", got)
	}
}

// blocksJSON renders blocks as Slack receives them.
func blocksJSON(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	data, err := json.Marshal(slack.Blocks{BlockSet: blocks})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestMailPostsRespectSlackLimits(t *testing.T) {
	c := &store.Conversation{Num: 3, Subject: strings.Repeat("S", 400), Customer: store.Address{Name: "<!channel>", Addr: "c@x"},
		Status: store.StatusOpen}
	text := strings.Repeat("line of text\n", 30000) // ~390 KB
	c.Preview = text[:2800] + "…"
	j := &store.SlackJob{Kind: store.JobMail, NewConv: true, Mail: &store.InboundMail{Text: text, From: c.Customer,
		Attachments: []store.Attachment{{Name: "a.pdf", Type: "application/pdf", Size: 3 << 20}}}}
	c.First = &store.InboundMail{Attachments: j.Mail.Attachments}
	posts := mailPosts(c, j, cardBlocks(c, nil, ""), 0)
	// The card, the text in the thread as far as Slack shows it, a line
	// about the attachment (not in the spool), the whole mail as a file.
	if !posts[0].root || len(posts) != 1+maxTextMsgs+2 {
		t.Fatalf("%d posts, first root=%v", len(posts), posts[0].root)
	}
	for i, p := range posts[:1+maxTextMsgs] {
		if len(p.blocks) > 50 {
			t.Errorf("post %d: %d blocks", i, len(p.blocks))
		}
		total := 0
		for _, b := range p.blocks {
			switch b := b.(type) {
			case *slack.SectionBlock:
				if n := utf8.RuneCountInString(b.Text.Text); n > 3000 {
					t.Errorf("post %d: section of %d characters", i, n)
				}
				total += utf8.RuneCountInString(b.Text.Text)
			case *slack.RichTextBlock:
				n := richChars(b)
				if n > 3000 {
					t.Errorf("post %d: rich text of %d characters", i, n)
				}
				total += n
			case *slack.HeaderBlock:
				if n := utf8.RuneCountInString(b.Text.Text); n > 150 {
					t.Errorf("post %d: header of %d characters", i, n)
				}
			}
		}
		if total > 12000 {
			t.Errorf("post %d: %d characters of text blocks", i, total)
		}
		if strings.Contains(p.text, "<!channel>") {
			t.Errorf("post %d: unescaped mention in %q", i, p.text)
		}
	}
	last := blocksJSON(t, posts[maxTextMsgs].blocks)
	if !strings.Contains(last, "more characters not shown") {
		t.Error("cut text not announced")
	}
	if p := posts[len(posts)-2]; p.file != nil || !strings.Contains(p.text, "a.pdf (3.0 MB): inboxbot did not keep it") {
		t.Errorf("line about the attachment: %+v", p)
	}
	if f := posts[len(posts)-1].file; f == nil || f.name != fullMailName || !strings.Contains(f.content, text) {
		t.Errorf("the whole mail is not uploaded: %+v", posts[len(posts)-1])
	}
	if !strings.Contains(blocksJSON(t, posts[0].blocks), "a.pdf") {
		t.Error("attachment not listed on the card")
	}
}

func TestMailPostsShortAndReply(t *testing.T) {
	c := &store.Conversation{Num: 1, Subject: "Hi", Customer: store.Address{Addr: "c@x"}, RootTS: "1.1"}
	c.Preview = "short"
	j := &store.SlackJob{Kind: store.JobMail, NewConv: true, Mail: &store.InboundMail{Text: "short", From: c.Customer}}
	if posts := mailPosts(c, j, cardBlocks(c, nil, ""), 0); len(posts) != 1 {
		t.Errorf("short new mail: %d posts", len(posts))
	}
	j.NewConv = false
	j.Mail.Auto = true
	posts := mailPosts(c, j, cardBlocks(c, nil, ""), 0)
	if len(posts) != 1 || posts[0].root {
		t.Fatalf("reply mail: %+v", posts)
	}
	if got := blocksJSON(t, posts[0].blocks); !strings.Contains(got, "Automated mail") || !strings.Contains(got, "c@x") {
		t.Errorf("reply rendering: %s", got)
	}
}

func TestCardButtonsFollowState(t *testing.T) {
	c := &store.Conversation{Num: 9, Status: store.StatusOpen}
	open := blocksJSON(t, []slack.Block{cardActions(c)})
	for _, want := range []string{`"claim"`, `"close"`, `"hold"`, `"assign"`, `"card:9"`} {
		if !strings.Contains(open, want) {
			t.Errorf("open card lacks %s: %s", want, open)
		}
	}
	c.Status, c.Assignee = store.StatusClosed, "U1"
	closed := blocksJSON(t, []slack.Block{cardActions(c)})
	for _, want := range []string{`"unclaim"`, `"reopen"`, `"initial_user":"U1"`} {
		if !strings.Contains(closed, want) {
			t.Errorf("closed card lacks %s: %s", want, closed)
		}
	}
	if strings.Contains(closed, `"hold"`) || strings.Contains(closed, `"close"`) {
		t.Errorf("closed card offers close/hold: %s", closed)
	}
}

func TestParseUserMention(t *testing.T) {
	for in, want := range map[string]string{
		"<@U123>": "U123", "<@U123|bob>": "U123", "<@W9|ent>": "W9",
		"@bob": "", "<#C1|x>": "", "<@>": "", "<@U1": "", "U123": "",
	} {
		got, ok := parseUserMention(in)
		if got != want || ok != (want != "") {
			t.Errorf("parseUserMention(%q) = %q %v", in, got, ok)
		}
	}
}

func TestCountsText(t *testing.T) {
	n := store.Counts{Open: 3, Unassigned: 1, Waiting: 1, Hold: 1, ClosedSince: 1, OpenPerAssignee: map[string]int{"UA": 2}}
	if s := countsText(n); !strings.Contains(s, "*3 open* (1 unassigned) · 1 waiting on customer · 1 on hold · 1 closed today") || !strings.Contains(s, "<@UA> 2") {
		t.Errorf("status line %q", s)
	}
}

// richChars counts the characters of a rich_text block's text and links.
func richChars(b *slack.RichTextBlock) int {
	n := 0
	var section func(els []slack.RichTextSectionElement)
	section = func(els []slack.RichTextSectionElement) {
		for _, e := range els {
			switch e := e.(type) {
			case *slack.RichTextSectionTextElement:
				n += utf8.RuneCountInString(e.Text)
			case *slack.RichTextSectionLinkElement:
				n += utf8.RuneCountInString(e.Text)
			}
		}
	}
	for _, el := range b.Elements {
		switch el := el.(type) {
		case *slack.RichTextSection:
			section(el.Elements)
		case *slack.RichTextQuote:
			section(el.Elements)
		case *slack.RichTextList:
			for _, it := range el.Elements {
				if s, ok := it.(*slack.RichTextSection); ok {
					section(s.Elements)
				}
			}
		}
	}
	return n
}
