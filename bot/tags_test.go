package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// shownJSON is blocks as Slack receives them, with the JSON escapes of <>& undone.
func shownJSON(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	data, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(data))
}

func TestListArgs(t *testing.T) {
	for _, tc := range []struct {
		args               []string
		filter, tag, wrong string
	}{
		{nil, "open", "", ""},
		{[]string{"closed"}, "closed", "", ""},
		{[]string{"tag:Billing"}, "open", "billing", ""},
		{[]string{"TAG:bug", "Mine"}, "mine", "bug", ""},
		{[]string{"tag:<#C123|vip>"}, "open", "vip", ""},
		{[]string{"mine", "waiting"}, "", "", "Unknown list"},
		{[]string{"tag:no*good"}, "", "", "not a tag"},
		{[]string{"later"}, "", "", "Unknown list"},
	} {
		f, tag, bad := listArgs(tc.args)
		if f != tc.filter || tag != tc.tag || (tc.wrong == "") != (bad == "") || !strings.Contains(bad, tc.wrong) {
			t.Errorf("listArgs(%q) = %q %q %q", tc.args, f, tag, bad)
		}
	}
	if got := listTitle("closed", "billing"); got != "Closed · tag billing" {
		t.Errorf("title %q", got)
	}
}

func TestCardTagsMergesAndHistory(t *testing.T) {
	c := &store.Conversation{Num: 7, Subject: "Invoice", Customer: store.Address{Addr: "carl@example.com"}, Status: store.StatusOpen,
		Tags: []string{"billing", "vip"}, MergedFrom: []uint64{5},
		ConvText: store.ConvText{Earlier: &store.Earlier{Count: 6, Recent: []store.EarlierConv{
			{Num: 4, Status: store.StatusClosed}, {Num: 3, Status: store.StatusWaiting}, {Num: 2, Status: store.StatusClosed, MergedInto: 4},
		}}}}
	link := func(n uint64) string {
		if n == 3 {
			return "" // not posted yet
		}
		return "https://acme.slack.com/archives/C1/p" + convValue(n)
	}
	got := shownJSON(t, cardBlocks(c, link, ""))
	for _, want := range []string{
		"🏷 billing · vip",
		"Merged into this one: <https://acme.slack.com/archives/C1/p5|#5>",
		"6 earlier conversations with carl@example.com",
		"<https://acme.slack.com/archives/C1/p4|#4> closed · #3 waiting · <https://acme.slack.com/archives/C1/p2|#2> merged into #4 · …",
		"/inbox history carl@example.com",
		`"action_id":"close"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("card lacks %q:\n%s", want, got)
		}
	}
	// Without links (the pure rendering) the numbers are plain.
	if plain := shownJSON(t, cardBlocks(c, nil, "")); strings.Contains(plain, "https://") || !strings.Contains(plain, "#4 closed") {
		t.Errorf("card without links:\n%s", plain)
	}
	// A merged conversation points to the other and has no buttons.
	m := &store.Conversation{Num: 5, Subject: "Dup", Status: store.StatusClosed, MergedInto: 7}
	got = shownJSON(t, cardBlocks(m, link, ""))
	if !strings.Contains(got, "Merged into <https://acme.slack.com/archives/C1/p7|#7>") || strings.Contains(got, `"type":"actions"`) {
		t.Errorf("merged card:\n%s", got)
	}
	// One earlier conversation, or more than were counted.
	c.Earlier = &store.Earlier{Count: 1, Recent: []store.EarlierConv{{Num: 4, Status: store.StatusOpen}}}
	if got := shownJSON(t, cardBlocks(c, nil, "")); !strings.Contains(got, "1 earlier conversation with") || strings.Contains(got, "…") {
		t.Errorf("one earlier:\n%s", got)
	}
	c.Earlier = &store.Earlier{Count: 100, More: true, Recent: []store.EarlierConv{{Num: 4, Status: store.StatusOpen}}}
	if got := shownJSON(t, cardBlocks(c, nil, "")); !strings.Contains(got, "100+ earlier conversations") {
		t.Errorf("capped count:\n%s", got)
	}
}

func TestBlockedMailFlagged(t *testing.T) {
	c := &store.Conversation{Num: 3, Customer: store.Address{Addr: "carl@example.com"}}
	j := &store.SlackJob{Kind: store.JobMail, Conv: 3, Blocked: true, Mail: &store.InboundMail{From: store.Address{Addr: "carl@example.com"}, Text: "again"}}
	posts := mailPosts(c, j, nil, 0)
	if got := shownJSON(t, posts[0].blocks); !strings.Contains(got, "carl@example.com is blocked") {
		t.Errorf("blocked sender's mail not flagged:\n%s", got)
	}
}

func TestBlockArg(t *testing.T) {
	for in, want := range map[string]string{
		"<mailto:Spam@Example.com|Spam@Example.com>": "spam@example.com",
		"<http://pills.example|pills.example>":       "pills.example",
		"@pills.example":                             "pills.example",
	} {
		if got, err := blockArg(in); err != nil || got != want {
			t.Errorf("blockArg(%q) = %q, %v", in, got, err)
		}
	}
	if got, err := blockArg("nonsense"); err == nil {
		t.Errorf("blockArg(nonsense) = %q", got)
	}
}
