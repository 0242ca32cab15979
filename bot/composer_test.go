package bot

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

func TestFillSaved(t *testing.T) {
	const text = "Hi {customer_first} ({customer}), about #{number}: {agent}. {unknown}"
	for _, c := range []struct {
		conv store.Conversation
		want string
	}{
		{store.Conversation{Num: 7, Customer: store.Address{Name: "Carl Customer", Addr: "carl@example.com"}},
			"Hi Carl (Carl Customer), about #7: Alice. {unknown}"},
		{store.Conversation{Num: 7, Customer: store.Address{Name: "Doe, Jane", Addr: "jd@example.com"}},
			"Hi Jane (Jane Doe), about #7: Alice. {unknown}"},
		{store.Conversation{Num: 8, Customer: store.Address{Addr: "x@example.com"}, ReplyTo: store.Address{Name: "Pat Jones", Addr: "pat@example.com"}},
			"Hi Pat (Pat Jones), about #8: Alice. {unknown}"},
		{store.Conversation{Num: 9, Customer: store.Address{Addr: "anon@example.com"}},
			"Hi anon@example.com (anon@example.com), about #9: Alice. {unknown}"},
	} {
		if got := fillSaved(text, &c.conv, "Alice"); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.conv.Customer, got, c.want)
		}
	}
}

func TestRestAfter(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"replies add x Hello there", 3, "Hello there"},
		{"replies  add\tx\nLine one\n\nLine two  ", 3, "Line one\n\nLine two"},
		{"replies add x", 3, ""},
		{"  a b", 1, "b"},
	} {
		if got := restAfter(c.in, c.n); got != c.want {
			t.Errorf("restAfter(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestComposeText(t *testing.T) {
	in := &Inbox{Signature: "Cheers,\n{agent}"}
	look, bad := composeText(in, "cc: dan@example.com, -old@example.com\r\nHi <Carl> & co,\n*not bold*\n", "Alice")
	if bad != "" || look.Text != "Hi <Carl> & co,\n*not bold*\n\n-- \nCheers,\nAlice" ||
		len(look.Recipients.Cc) != 1 || look.Recipients.NoCc[0] != "old@example.com" {
		t.Errorf("look %+v, bad %q", look, bad)
	}
	for text, want := range map[string]string{
		" \n\t":                "empty",
		"// internal":          "note",
		"*Note:* x":            "note",
		"bcc: x@y.z\nHi":       "bcc",
		"to: a@b.c":            "no text besides",
		"to: a@b.c, d@e.f\nHi": "one address",
	} {
		if _, bad := composeText(in, text, "Alice"); !strings.Contains(bad, want) || strings.Contains(bad, "`") {
			t.Errorf("composeText(%q): %q, want %q (and no mrkdwn)", text, bad, want)
		}
	}
}

func TestComposerView(t *testing.T) {
	c := &store.Conversation{Num: 12, Subject: "Order <b>late</b>"}
	cm := &composer{conv: c, in: &Inbox{}, to: store.Address{Name: "Carl", Addr: "carl@example.com"},
		saved: []store.SavedReply{{Name: "refund"}, {Name: strings.Repeat("x", 30)}},
		text:  strings.Repeat("é", composeMax+10), meta: composerMeta{Conv: 12, Fill: 3}}
	v := cm.view()
	data, _ := json.Marshal(v)
	s := string(data)
	for _, want := range []string{`"callback_id":"compose_reply"`, `"block_id":"compose_text_3"`, `"multiline":true`,
		`"max_length":3000`, `"compose_saved"`, `"value":"refund"`, `Order \u003cb\u003elate\u003c/b\u003e`} {
		if !strings.Contains(s, want) {
			t.Errorf("view lacks %s: %s", want, s)
		}
	}
	var meta composerMeta
	if json.Unmarshal([]byte(v.PrivateMetadata), &meta) != nil || meta != cm.meta {
		t.Errorf("metadata %q", v.PrivateMetadata)
	}
	editor := v.Blocks.BlockSet[len(v.Blocks.BlockSet)-1].(*slack.InputBlock).Element.(*slack.PlainTextInputBlockElement)
	if n := utf8.RuneCountInString(editor.InitialValue); n > composeMax {
		t.Errorf("the editor's text has %d characters, more than Slack takes", n)
	}
	cm.saved = nil
	if s, _ := json.Marshal(cm.view()); strings.Contains(string(s), "compose_saved") || !strings.Contains(string(s), "No saved replies yet") {
		t.Errorf("no saved replies: %s", s)
	}
}

func TestComposedPosts(t *testing.T) {
	j := &store.SlackJob{Kind: store.JobComposed, Composed: &store.ComposedReply{
		AgentName: "Alice Agent", IconURL: "https://x/a.png", Shown: "Hi <!channel> & <@U1>", Text: "ignored"}}
	ps := composedPosts(j)
	if len(ps) != 1 || ps[0].username != "Alice Agent via inboxbot" || ps[0].icon != "https://x/a.png" {
		t.Fatalf("posts %+v", ps)
	}
	if ps[0].text != "Hi &lt;!channel&gt; &amp; &lt;@U1&gt;" {
		t.Errorf("text not escaped: %q", ps[0].text)
	}
	got := blocksJSON(t, ps[0].blocks)
	if !strings.Contains(got, `"plain_text","text":"Hi \u003c!channel\u003e \u0026 \u003c@U1\u003e"`) || !strings.Contains(got, `"block_id":"composed"`) {
		t.Errorf("blocks %s", got)
	}
	if composedPosts(&store.SlackJob{Kind: store.JobComposed}) != nil {
		t.Error("a job without its reply renders")
	}
}

func TestCardReplyAndAIMenu(t *testing.T) {
	c := &store.Conversation{Num: 5, Status: store.StatusOpen}
	plainCard := blocksJSON(t, []slack.Block{cardActions(c)})
	if !strings.Contains(plainCard, `"reply_compose"`) || strings.Contains(plainCard, "card_ai") {
		t.Errorf("card without AI: %s", plainCard)
	}
	b := &Bot{}
	if b.cardExtras(c) != nil {
		t.Error("AI menu without AI configured")
	}
	b.cfg.AI.URL, b.cfg.AI.Model = "http://localhost:11434/v1/chat/completions", "llama3"
	withAI := blocksJSON(t, []slack.Block{cardActions(c, b.cardExtras(c)...)})
	for _, want := range []string{`"overflow"`, `"card_ai"`, `"summarize:5"`, `"draft:5"`} {
		if !strings.Contains(withAI, want) {
			t.Errorf("card with AI lacks %s: %s", want, withAI)
		}
	}
}

// A composed reply is recorded with its author's name and picture from one
// users.info, even when Slack does not answer it (then under no name).
func TestComposerAsksUsersInfoOnce(t *testing.T) {
	for _, fail := range []bool{false, true} {
		st := backlog(t, 1, inboxA)
		f := pacedSlack(t, "CA")
		f.AddUser("UBOB", "bob", "Bob Builder")
		f.AddChannel("CA", slackfake.BotUserID, "UBOB")
		api := slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()))
		b := New(Config{Inboxes: []Inbox{inboxA}}, api, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx := context.Background()
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if fail {
			f.FailNext("users.info", "fatal_error")
		}
		meta, _ := json.Marshal(composerMeta{Conv: 1})
		cb := slack.InteractionCallback{Type: slack.InteractionTypeViewSubmission, User: slack.User{ID: "UBOB"},
			View: slack.View{ID: "V1", CallbackID: composeCallback, PrivateMetadata: string(meta),
				State: &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
					editorBlockID(0): {actComposeText: {Value: "Hello Carl"}}}}}}
		ack, err := b.Handle(ctx, Event{Interaction: &cb})
		if err != nil || ack != nil {
			t.Fatalf("fail=%v: ack %+v, %v", fail, ack, err)
		}
		jobs, _ := st.SlackJobs()
		var name string
		for _, j := range jobs {
			if j.Kind == store.JobComposed {
				name = j.Composed.AgentName
			}
		}
		if want := map[bool]string{false: "Bob Builder", true: ""}[fail]; name != want {
			t.Errorf("fail=%v: composed by %q, want %q", fail, name, want)
		}
		if n := f.Calls("users.info"); n != 1 {
			t.Errorf("fail=%v: %d users.info calls, want 1", fail, n)
		}
	}
}
