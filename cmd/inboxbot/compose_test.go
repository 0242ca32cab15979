package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// The reply composer and saved replies (issue 10).

// composer waits until user has the composer open (and match, if given,
// holds for it) and returns it.
func (h *harness) composer(user string, match func(v slackfake.View) bool) slackfake.View {
	h.t.Helper()
	var found slackfake.View
	err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		for _, v := range s.OpenViews(user) {
			if v.CallbackID == "compose_reply" && (match == nil || match(v)) {
				found = v
				return true
			}
		}
		return false
	})
	if err != nil {
		h.t.Fatalf("no composer for %s: %v; open: %+v", user, err, h.slack.OpenViews(user))
	}
	return found
}

// openComposer clicks the Reply button of conversation num's card as user
// and returns the composer.
func (h *harness) openComposer(user string, root slackfake.Message, num string) slackfake.View {
	h.t.Helper()
	h.ack(h.slack.BlockAction(user, inboxChannel, root.TS, "", "reply_compose", num, ""))
	return h.composer(user, nil)
}

// submit presses Send in the composer v as user, with the editor's text
// (nil values: as it is) and returns the bot's answer.
func (h *harness) submit(user string, v slackfake.View, values map[string]string) (slackfake.ViewAck, string) {
	h.t.Helper()
	env, err := h.slack.SubmitView(user, v.ID, values)
	if err != nil {
		h.t.Fatal(err)
	}
	a, err := h.slack.WaitViewAck(h.ctx(), env)
	if err != nil {
		h.t.Fatal(err)
	}
	return a, env
}

// setMembers changes the inbox channel's members (the harness's bot
// caches no membership answer: MemberTTL is negative).
func (h *harness) setMembers(members ...string) {
	h.slack.AddChannel(inboxChannel, members...)
}

// editor is the composer's editor: its block_id and text.
func editor(t *testing.T, v slackfake.View) (blockID, text string) {
	t.Helper()
	var blocks []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
		Element struct {
			ActionID     string `json:"action_id"`
			InitialValue string `json:"initial_value"`
			Multiline    bool   `json:"multiline"`
		} `json:"element"`
	}
	if err := json.Unmarshal(v.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if b.Type == "input" && b.Element.ActionID == "compose_text" {
			if !b.Element.Multiline {
				t.Error("the editor is not multi-line: Enter would send")
			}
			return b.BlockID, b.Element.InitialValue
		}
	}
	t.Fatalf("no editor in %s", v.Blocks)
	return "", ""
}

// composedPosts are the replies the bot posted for the composer in root's thread.
func (h *harness) composedPosts(root string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.thread(root) {
		if m.BotID != "" && strings.Contains(string(m.Blocks), `"composed"`) {
			out = append(out, m)
		}
	}
	return out
}

// sentOnce checks that the only mail is want, and that the thread of root
// has one composed post, once everything has settled.
func (h *harness) sentOnce(t *testing.T, root slackfake.Message, want string) {
	t.Helper()
	got := h.waitMails(1)
	if b := body(t, got[0]); b != want {
		t.Errorf("mail %q, want %q", b, want)
	}
	h.outboxEmpty()
	h.flushed()
	if n, posts := len(h.smtp.Messages()), len(h.composedPosts(root.TS)); n != 1 || posts != 1 {
		t.Errorf("%d mails and %d posts, want 1 each", n, posts)
	}
}

// A saved reply picked in the composer fills the editor with its
// placeholders replaced; Send posts it in the thread in the agent's name,
// and it goes the typed reply's way: held, previewed, sent once, marked.
func TestComposerReply(t *testing.T) { eachTransport(t, testComposerReply) }

func testComposerReply(t *testing.T, h *harness) {
	const delay = 1500 * time.Millisecond
	h.inbox().SendDelay = delay
	h.inbox().Signature = "Best,\n{agent}"
	h.start()
	root := h.conversation("Composer")
	if ans := h.slash(alice, "replies add thanks Hi {customer_first},\n\nthanks for writing about #{number}.\n{agent}"); !strings.Contains(ans, "Saved") {
		t.Fatalf("replies add: %q", ans)
	}
	h.waitCard(root.TS, `"reply_compose"`)
	v := h.openComposer(alice, root, "1")
	blocks := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(v.Blocks))
	for _, want := range []string{"To: Carl Customer <carl@example.com>", "#1 · Composer", `"compose_saved"`, `"thanks"`} {
		if !strings.Contains(blocks, want) {
			t.Errorf("composer lacks %q: %s", want, v.Blocks)
		}
	}
	if !strings.Contains(string(v.JSON), `"Send"`) {
		t.Errorf("no Send: %s", v.JSON)
	}
	env, err := h.slack.ViewAction(alice, v.ID, "compose_saved", "thanks")
	if err != nil {
		t.Fatal(err)
	}
	h.ack(env)
	v = h.composer(alice, func(v slackfake.View) bool { return v.Updates > 0 })
	const want = "Hi Carl,\n\nthanks for writing about #1.\nAlice Agent"
	if _, text := editor(t, v); text != want {
		t.Fatalf("editor after picking a saved reply: %q", text)
	}
	if a, _ := h.submit(alice, v, nil); a.ResponseAction != "" {
		t.Fatalf("submission answered %+v", a)
	}
	if open := h.slack.OpenViews(alice); len(open) != 0 {
		t.Errorf("composer still open after Send: %+v", open)
	}
	post := h.waitThread(root.TS, func(m slackfake.Message) bool { return m.Username == "Alice Agent via inboxbot" })
	if post.BotID == "" || !strings.Contains(text(post), "thanks for writing about #1.") {
		t.Errorf("post %+v", post)
	}
	h.waitMark(post.TS, "hourglass_flowing_sand", "")
	p := h.privateFor(alice, "Click Cancel to stop it")
	if !strings.Contains(text(p), "To: Carl Customer") || p.ThreadTS != root.TS {
		t.Errorf("preview %+v", p)
	}
	got := h.waitMails(1)
	if b := body(t, got[0]); b != want+"\n\n-- \nBest,\nAlice Agent" {
		t.Errorf("mail %q", b)
	}
	if due := store.TSTime(post.TS).Add(delay); got[0].At.Before(due) {
		t.Errorf("sent at %v, before the window from the post (%v) ended", got[0].At, due)
	}
	h.waitMark(post.TS, "email", "hourglass_flowing_sand")
	h.outboxEmpty()
	h.flushed()
	if n := len(h.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	if n := len(h.composedPosts(root.TS)); n != 1 {
		t.Errorf("%d composed posts, want 1", n)
	}
	if c := h.conv(1); c.Assignee != alice || c.Status != store.StatusWaiting {
		t.Errorf("after the reply: assignee %q, status %q", c.Assignee, c.Status)
	}
}

// The composer refuses what cannot be sent, keeping the modal open and
// saying why; only channel members may open it or send from it; a
// submission delivered twice is sent once.
func TestComposerRefusals(t *testing.T) { eachTransport(t, testComposerRefusals) }

func testComposerRefusals(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Refusals")

	h.ack(h.slack.BlockAction(mallory, inboxChannel, root.TS, "", "reply_compose", "1", ""))
	h.waitEphemeral(mallory, "Only members of <#CINBOX>")
	if open := h.slack.OpenViews(mallory); len(open) != 0 {
		t.Errorf("a non-member got the composer: %+v", open)
	}

	v := h.openComposer(alice, root, "1")
	blockID, _ := editor(t, v)
	for _, c := range []struct{ text, want string }{
		{"  \n  ", "empty"},
		{"note: for us only", "note"},
		{"to: not an address\nHi", "not an email address"},
		{"cc: dan@example.com", "no text besides"},
	} {
		a, _ := h.submit(alice, v, map[string]string{"compose_text": c.text})
		if a.ResponseAction != "errors" || !strings.Contains(a.Errors[blockID], c.want) {
			t.Errorf("%q: answered %+v, want an error on %s saying %q", c.text, a, blockID, c.want)
		}
		if cur, _ := h.slack.View(v.ID); !cur.Open || len(cur.Errors) == 0 {
			t.Errorf("%q: the composer closed or shows no error: %+v", c.text, cur)
		}
	}

	// Taken out of the channel while writing: refused.
	h.setMembers(bob, slackfake.BotUserID)
	a, _ := h.submit(alice, v, map[string]string{"compose_text": "Hi Carl"})
	if a.ResponseAction != "errors" || !strings.Contains(a.Errors[blockID], "Only members") {
		t.Errorf("a non-member's submission: %+v", a)
	}
	h.setMembers(alice, bob, slackfake.BotUserID)

	a, env := h.submit(alice, v, map[string]string{"compose_text": "Hi Carl, fixed."})
	if a.ResponseAction != "" {
		t.Fatalf("valid submission: %+v", a)
	}
	// Slack showed an error (the ack was late) and the agent pressed Send
	// again: the same view comes once more.
	again, err := h.slack.Resend(env, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a := h.ack(again); len(a) > 0 && string(a) != "null" {
		t.Errorf("second delivery answered %s", a)
	}
	h.sentOnce(t, root, "Hi Carl, fixed.")
}

// Saved replies: list, add, edit, remove; members only; in an inbox
// channel they are that inbox's.
func TestSavedRepliesCommands(t *testing.T) { eachTransport(t, testSavedRepliesCommands) }

func testSavedRepliesCommands(t *testing.T, h *harness) {
	h.start()
	if ans := h.slash(alice, "replies"); !strings.Contains(ans, "no saved replies") {
		t.Errorf("empty list: %q", ans)
	}
	if ans := h.slash(alice, "replies add refund We refunded you.\nIt takes 3 days & more."); !strings.Contains(ans, "Saved the reply `refund`") {
		t.Fatalf("add: %q", ans)
	}
	r, err := h.m.st.SavedReply(h.inboxID(), "refund")
	if err != nil || r.Text != "We refunded you.\nIt takes 3 days & more." || r.By != alice {
		t.Errorf("stored %+v %v", r, err)
	}
	for _, c := range []struct{ cmd, want string }{
		{"replies add Refund again", "already"},
		{"replies edit nope x", "no saved reply `nope`"},
		{"replies add two words", "Saved"},
		{"replies add bad/name x", "cannot be a name"},
		{"replies add onlyname", "Usage"},
		{"replies remove", "Usage"},
		{"replies frobnicate x", "Usage"},
		{"replies edit refund Refunded.", "Changed the reply `refund`"},
		{"replies add hours We work 9-5.", "Saved"},
		{"replies remove hours", "Removed"},
		{"replies remove hours ", "no saved reply"},
	} {
		if ans := h.slash(alice, c.cmd); !strings.Contains(ans, c.want) {
			t.Errorf("/inbox %s: %q, want %q", c.cmd, ans, c.want)
		}
	}
	if ans := h.slash(alice, "replies"); !strings.Contains(ans, "`refund`: Refunded.") || !strings.Contains(ans, "`two`: words") || strings.Contains(ans, "hours") {
		t.Errorf("list: %q", ans)
	}
	// Elsewhere, the only inbox of its member.
	if ans := h.slashIn(bob, "CELSEWHERE", "replies"); !strings.Contains(ans, "`refund`") {
		t.Errorf("list elsewhere: %q", ans)
	}
	// Non-members: nothing to see, nothing to change.
	for _, cmd := range []string{"replies", "replies add x y", "replies edit refund mine now", "replies remove refund"} {
		if ans := h.slash(mallory, cmd); !strings.Contains(ans, "Only members") {
			t.Errorf("/inbox %s by a non-member: %q", cmd, ans)
		}
		if ans := h.slashIn(mallory, "CELSEWHERE", cmd); !strings.Contains(ans, "Only members") {
			t.Errorf("/inbox %s by a non-member elsewhere: %q", cmd, ans)
		}
	}
	if r, _ := h.m.st.SavedReply(h.inboxID(), "refund"); r == nil || r.Text != "Refunded." {
		t.Errorf("after the non-member: %+v", r)
	}
	if ans := h.slash(alice, "help"); !strings.Contains(ans, "/inbox replies") {
		t.Errorf("help lacks replies: %q", ans)
	}
}

// With two inboxes, each has its own saved replies; outside their
// channels, changing one asks which.
func TestSavedRepliesPerInbox(t *testing.T) {
	h, _ := newTwoInboxHarness(t)
	h.start()
	if ans := h.slashIn(alice, billingChannel, "replies add invoice Your invoice is attached."); !strings.Contains(ans, "Acme Billing") {
		t.Fatalf("add in billing: %q", ans)
	}
	if ans := h.slash(alice, "replies"); strings.Contains(ans, "invoice") {
		t.Errorf("support's list shows billing's reply: %q", ans)
	}
	if ans := h.slashIn(alice, "CELSEWHERE", "replies add x y"); !strings.Contains(ans, "Which inbox?") {
		t.Errorf("add elsewhere with two inboxes: %q", ans)
	}
	if ans := h.slashIn(alice, "CELSEWHERE", "replies"); !strings.Contains(ans, "invoice") || !strings.Contains(ans, "Acme Support") {
		t.Errorf("list elsewhere: %q", ans)
	}
	// Bob is not in billing's channel.
	if ans := h.slashIn(bob, billingChannel, "replies remove invoice"); !strings.Contains(ans, "Only members") {
		t.Errorf("bob in billing: %q", ans)
	}
}

// A submission is recorded before it is acked: stopped before its post
// (Slack holding posts back) or after the post but before its outcome was
// recorded (the answer lost), inboxbot posts it once and sends it once.
func TestComposerCrash(t *testing.T) {
	for _, lost := range []bool{false, true} {
		name := map[bool]string{false: "before the post", true: "post outcome lost"}[lost]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.start()
			root := h.conversation("Crash")
			h.flushed()
			v := h.openComposer(alice, root, "1")
			if lost {
				h.slack.DropAfterNext("chat.postMessage")
				// The lookup of the interrupted post waits for the restart.
				h.slack.BlockMethod("conversations.replies", 60)
			} else {
				// A short Retry-After: the refused attempt's next try is
				// recorded in the store and must come soon after the restart.
				h.slack.BlockMethod("chat.postMessage", 1)
			}
			if a, _ := h.submit(alice, v, map[string]string{"compose_text": "Survives the crash"}); a.ResponseAction != "" {
				t.Fatalf("answered %+v", a)
			}
			h.poll("the post attempted", func() bool {
				jobs, _ := h.m.st.SlackJobs()
				for _, j := range jobs {
					if j.Kind == store.JobComposed && (j.Attempts > 0 || !lost && h.slack.Refused("chat.postMessage") > 0) {
						return true
					}
				}
				return false
			})
			h.stop()
			if lost && len(h.composedPosts(root.TS)) != 1 {
				t.Fatal("the post is not in Slack: nothing was interrupted")
			}
			h.slack.UnblockMethod("chat.postMessage")
			h.slack.UnblockMethod("conversations.replies")
			h.start()
			h.sentOnce(t, root, "Survives the crash")
			if lost && !strings.Contains(h.logs.String(), "found post of an interrupted attempt") {
				t.Error("the interrupted post was not looked up")
			}
		})
	}
}
