package slackfake_test

import (
	"slices"
	"testing"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

func TestRichTextValidation(t *testing.T) {
	f := newFake(t)
	api := newAPI(f)
	ctx := ctxT(t)
	text := func(s string) slack.RichTextSectionElement { return slack.NewRichTextSectionTextElement(s, nil) }
	section := slack.NewRichTextSection(text("hi "), slack.NewRichTextSectionLinkElement("https://acme.test", "https://acme.test", nil))
	list := slack.NewRichTextList(slack.RTEListOrdered, 1, slack.NewRichTextSection(text("one")))
	quote := &slack.RichTextQuote{Type: slack.RTEQuote, Elements: []slack.RichTextSectionElement{text("q")}}
	for _, c := range []struct {
		name   string
		blocks []slack.RichTextElement
		want   string
	}{
		{"section, list, quote", []slack.RichTextElement{section, list, quote}, ""},
		{"no elements", nil, "invalid_blocks"},
		{"empty text", []slack.RichTextElement{slack.NewRichTextSection(text(""))}, "invalid_blocks"},
		{"link without url", []slack.RichTextElement{slack.NewRichTextSection(slack.NewRichTextSectionLinkElement("", "x", nil))}, "invalid_blocks"},
		{"list of lists", []slack.RichTextElement{slack.NewRichTextList(slack.RTEListBullet, 0, list)}, "invalid_blocks"},
		{"bad style", []slack.RichTextElement{slack.NewRichTextList("dashes", 0, slack.NewRichTextSection(text("x")))}, "invalid_blocks"},
		{"indent 9", []slack.RichTextElement{slack.NewRichTextList(slack.RTEListBullet, 9, slack.NewRichTextSection(text("x")))}, "invalid_blocks"},
	} {
		_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false),
			slack.MsgOptionBlocks(slack.NewRichTextBlock("", c.blocks...)))
		if got := slackErr(err); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPings(t *testing.T) {
	f := newFake(t)
	api := newAPI(f)
	ctx := ctxT(t)
	post := func(opts ...slack.MsgOption) []string {
		t.Helper()
		_, ts, err := api.PostMessageContext(ctx, "C1", opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range f.Messages("C1") {
			if m.TS == ts {
				return slackfake.Pings(m)
			}
		}
		t.Fatal("message not recorded")
		return nil
	}
	markup := "<!channel> <@U1|alice> <!subteam^S1|@ops> <!here> <!date^1^{time}|x>"
	want := []string{"!channel", "!here", "!subteam^S1", "@U1"}
	if got := post(slack.MsgOptionText(markup, false)); !slices.Equal(got, want) {
		t.Errorf("text: %q, want %q", got, want)
	}
	if got := post(slack.MsgOptionText(markup, true)); len(got) != 0 {
		t.Errorf("escaped text pings %q", got)
	}
	if got := post(slack.MsgOptionText("hi @bob", false), slack.MsgOptionLinkNames(true)); !slices.Equal(got, []string{"@bob"}) {
		t.Errorf("link_names: %q", got)
	}
	mrkdwn := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "<@U2>", false, false), nil, nil)
	plain := slack.NewContextBlock("", slack.NewTextBlockObject(slack.PlainTextType, "<!channel>", false, false))
	rich := slack.NewRichTextBlock("", slack.NewRichTextSection(
		slack.NewRichTextSectionTextElement("<!everyone> <@U1>", nil),
		slack.NewRichTextSectionUserElement("U9", nil),
		slack.NewRichTextSectionBroadcastElement("here"),
		slack.NewRichTextSectionUserGroupElement("S2")))
	if got := post(slack.MsgOptionText("x", false), slack.MsgOptionBlocks(mrkdwn, plain, rich)); !slices.Equal(got, []string{"!here", "!subteam^S2", "@U2", "@U9"}) {
		t.Errorf("blocks: %q", got)
	}
}
