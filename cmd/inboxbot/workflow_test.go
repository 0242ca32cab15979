package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// conversation opens conversation n (1-based) with a mail and returns its root.
func (h *harness) conversation(subject string) slackfake.Message {
	h.t.Helper()
	before := len(h.roots())
	h.deliver(customerMail{Subject: subject, MessageID: fmt.Sprintf("%s@example.com", strings.ReplaceAll(subject, " ", "-")), Body: "Body of " + subject}.raw())
	return h.waitRoots(before + 1)[before]
}

// conv reads a conversation from the running bot's store.
func (h *harness) conv(num uint64) *store.Conversation {
	h.t.Helper()
	c, err := h.m.st.Conv(num)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// waitCard waits until the root message shows all of want.
func (h *harness) waitCard(root string, want ...string) {
	h.t.Helper()
	err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		m, ok := s.Message(inboxChannel, root)
		if !ok {
			return false
		}
		for _, w := range want {
			if !strings.Contains(text(m), w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		m, _ := h.slack.Message(inboxChannel, root)
		h.t.Fatalf("card never showed %q:\n%s", want, text(m))
	}
}

// waitLine waits for an activity line in the thread.
func (h *harness) waitLine(root, want string) {
	h.t.Helper()
	h.waitThread(root, func(m slackfake.Message) bool { return m.BotID != "" && strings.Contains(m.Text, want) })
}

// slash runs /inbox and returns the ephemeral answer (the ack payload).
func (h *harness) slash(user, text string) string {
	h.t.Helper()
	return h.slashIn(user, inboxChannel, text)
}

// slashIn runs /inbox typed in channel.
func (h *harness) slashIn(user, channel, text string) string {
	h.t.Helper()
	p := h.ack(h.slack.SlashCommand(user, channel, text))
	var ans struct {
		Text         string `json:"text"`
		ResponseType string `json:"response_type"`
	}
	if err := json.Unmarshal(p, &ans); err != nil {
		h.t.Fatalf("slash answer %s: %v", p, err)
	}
	if ans.ResponseType != "ephemeral" {
		h.t.Errorf("/inbox %s answered %q, not ephemerally", text, ans.ResponseType)
	}
	return ans.Text
}

// ephemeralsFor is what the bot told user privately: ephemerals, and direct
// messages for those who cannot see ephemerals in the channel.
func (h *harness) ephemeralsFor(user string) []string {
	var out []string
	for _, m := range h.slack.Ephemerals() {
		if m.User == user {
			out = append(out, m.Text)
		}
	}
	for _, m := range h.slack.Messages("D" + user) {
		out = append(out, m.Text)
	}
	return out
}

func (h *harness) waitEphemeral(user, want string) {
	h.t.Helper()
	err := h.slack.WaitFor(h.ctx(), func(*slackfake.Server) bool {
		for _, e := range h.ephemeralsFor(user) {
			if strings.Contains(e, want) {
				return true
			}
		}
		return false
	})
	if err != nil {
		h.t.Fatalf("no ephemeral %q for %s; got %q", want, user, h.ephemeralsFor(user))
	}
}

func TestReactionsOnRoot(t *testing.T) { eachTransport(t, testReactionsOnRoot) }

func testReactionsOnRoot(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Reactions")
	h.waitCard(root.TS, "Open", "Unassigned", `"claim"`)

	h.ack(h.slack.AddReaction(inboxChannel, root.TS, alice, "eyes"))
	h.waitCard(root.TS, "Assigned to <@UALICE>", `"unclaim"`)
	h.waitLine(root.TS, "<@UALICE> claimed #1")

	h.ack(h.slack.AddReaction(inboxChannel, root.TS, bob, "white_check_mark"))
	h.waitCard(root.TS, "Closed", `"reopen"`)
	h.waitLine(root.TS, "<@UBOB> closed #1")
	if c := h.conv(1); c.Status != store.StatusClosed || c.Assignee != alice {
		t.Fatalf("after close: %+v", c)
	}
	h.ack(h.slack.RemoveReaction(inboxChannel, root.TS, bob, "white_check_mark"))
	h.waitCard(root.TS, "Open", `"close"`)
	h.waitLine(root.TS, "<@UBOB> reopened #1")

	// Reactions elsewhere change nothing: on a thread reply, other emoji,
	// and from someone outside the channel (who is told why).
	reply, e := h.slack.UserPost(inboxChannel, bob, root.TS, "note: looking")
	h.ack(e)
	h.ack(h.slack.AddReaction(inboxChannel, reply, bob, "white_check_mark"))
	h.ack(h.slack.AddReaction(inboxChannel, root.TS, bob, "tada"))
	h.ack(h.slack.AddReaction(inboxChannel, root.TS, mallory, "white_check_mark"))
	h.waitEphemeral(mallory, "Only members")
	if c := h.conv(1); c.Status != store.StatusOpen || len(c.History) != 3 {
		t.Errorf("ignored reactions changed state: %s, %d history entries", c.Status, len(c.History))
	}
}

func TestCardButtons(t *testing.T) { eachTransport(t, testCardButtons) }

func testCardButtons(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Buttons")
	click := func(user, action, selected string) {
		t.Helper()
		value := ""
		if action != "assign" {
			value = "1"
		}
		h.ack(h.slack.BlockAction(user, inboxChannel, root.TS, "", action, value, selected))
	}
	click(alice, "claim", "")
	h.waitCard(root.TS, "Assigned to <@UALICE>")
	click(bob, "unclaim", "") // not Bob's to unclaim
	h.waitEphemeral(bob, "only they can unclaim")
	click(alice, "assign", bob)
	h.waitCard(root.TS, "Assigned to <@UBOB>")
	h.waitLine(root.TS, "<@UALICE> assigned #1 to <@UBOB>")
	click(bob, "hold", "")
	h.waitCard(root.TS, "On hold")
	click(bob, "close", "")
	h.waitCard(root.TS, "Closed", `"reopen"`)
	click(alice, "reopen", "")
	h.waitCard(root.TS, "Open")
	click(bob, "unclaim", "")
	h.waitCard(root.TS, "Unassigned")
	click(mallory, "claim", "")
	h.waitEphemeral(mallory, "Only members")
	click(alice, "assign", mallory) // not in the channel
	h.waitEphemeral(alice, "is not in")

	c := h.conv(1)
	var got []string
	for _, ch := range c.History {
		got = append(got, ch.Action+":"+ch.By)
	}
	want := "claimed:UALICE assigned:UALICE hold:UBOB closed:UBOB reopened:UALICE unclaimed:UBOB"
	if strings.Join(got, " ") != want {
		t.Errorf("history %q, want %q", strings.Join(got, " "), want)
	}
	if c.Assignee != "" || c.Status != store.StatusOpen {
		t.Errorf("final state %s/%q", c.Status, c.Assignee)
	}
}

func TestSlashCommands(t *testing.T) { eachTransport(t, testSlashCommands) }

func testSlashCommands(t *testing.T, h *harness) {
	h.start()
	root1 := h.conversation("First")
	h.conversation("Second")
	h.conversation("Third")

	for _, tc := range []struct{ cmd, want string }{
		{"", "Usage"},
		{"help", "/inbox assign N @user"},
		{"frobnicate 1", "I don't know `frobnicate`"},
		{"claim", "Usage: `/inbox claim N`"},
		{"claim x", "`x` is not a conversation number"},
		{"claim 1 2", "Usage: `/inbox claim N`"},
		{"claim 99", "There is no conversation #99 (`/inbox list` shows them). Usage: `/inbox claim N`"},
		{"assign 99 <@UBOB>", "There is no conversation #99 (`/inbox list` shows them). Usage: `/inbox assign N @user`"},
		{"assign 1", "Usage: `/inbox assign N @user`"},
		{"assign 1 bob", "is not a user"},
		{"assign 1 <@UNOBODY|ghost>", "I don't know the user"},
		{"assign 1 <@UMAL|mallory>", "is not in"},
		{"list bogus", "Usage: `/inbox list"},
		{"reopen 1", "Nothing to do"},
	} {
		if got := h.slash(alice, tc.cmd); !strings.Contains(got, tc.want) {
			t.Errorf("/inbox %s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
	if c := h.conv(1); len(c.History) != 0 || c.Assignee != "" {
		t.Fatalf("malformed commands changed #1: %+v", c.History)
	}

	if got := h.slash(alice, "claim 1"); !strings.Contains(got, "claimed #1") {
		t.Errorf("claim: %q", got)
	}
	h.waitCard(root1.TS, "Assigned to <@UALICE>")
	h.waitLine(root1.TS, "<@UALICE> claimed #1")
	if got := h.slash(alice, "assign 2 <@UBOB|bob>"); !strings.Contains(got, "assigned #2 to <@UBOB>") {
		t.Errorf("assign: %q", got)
	}
	if got := h.slash(bob, "hold #3"); !strings.Contains(got, "on hold") {
		t.Errorf("hold: %q", got)
	}
	if got := h.slash(bob, "close 2"); !strings.Contains(got, "closed #2") {
		t.Errorf("close: %q", got)
	}
	if got := h.slash(bob, "unassign 1"); !strings.Contains(got, "unassigned #1") {
		t.Errorf("unassign: %q", got)
	}
	h.slash(alice, "claim 1")

	status := h.slash(bob, "status")
	for _, want := range []string{"*1 open*", "(0 unassigned)", "0 waiting", "1 on hold", "1 closed today", "<@UALICE> 1"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q: %q", want, status)
		}
	}
	lists := map[string][]string{
		"list":            {"#1"},
		"list open":       {"#1"},
		"list mine":       {"#1"},
		"list unassigned": nil,
		"list waiting":    nil,
		"list hold":       {"#3"},
		"list closed":     {"#2"},
	}
	for cmd, nums := range lists {
		got := h.slash(alice, cmd)
		if len(nums) == 0 && !strings.Contains(got, "none") {
			t.Errorf("/inbox %s = %q, want none", cmd, got)
		}
		for _, n := range nums {
			if !strings.Contains(got, "*"+n+"*") || !strings.Contains(got, "/archives/"+inboxChannel+"/p") {
				t.Errorf("/inbox %s = %q, want %s with a thread link", cmd, got, n)
			}
		}
		for _, other := range []string{"#1", "#2", "#3"} {
			if !contains(nums, other) && strings.Contains(got, "*"+other+"*") {
				t.Errorf("/inbox %s lists %s: %q", cmd, other, got)
			}
		}
	}
	for _, cmd := range []string{"close 1", "status", "list", "list closed"} {
		if got := h.slash(mallory, cmd); !strings.Contains(got, "Only members") || strings.Contains(got, "#1") {
			t.Errorf("non-member /inbox %s: %q", cmd, got)
		}
	}
	if c := h.conv(1); c.Status != store.StatusOpen {
		t.Errorf("non-member closed #1")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Replies move a conversation to Waiting and make the replier its owner; a
// customer's answer reopens it, an auto-reply does not.
func TestStatusFollowsMail(t *testing.T) { eachTransport(t, testStatusFollowsMail) }

func testStatusFollowsMail(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Lifecycle")
	_, e := h.slack.UserPost(inboxChannel, bob, root.TS, "We'll look into it.")
	h.ack(e)
	h.waitMails(1)
	h.waitCard(root.TS, "Waiting on customer", "Assigned to <@UBOB>")
	h.waitLine(root.TS, "<@UBOB> replied and now owns #1")

	h.slash(bob, "close 1")
	h.waitCard(root.TS, "Closed")
	auto := customerMail{From: "Carl Customer <carl@example.com>", Subject: "Automatic reply: Lifecycle", MessageID: "ooo@example.com",
		InReplyTo: "Lifecycle@example.com", Body: "I am out of office.", Extra: map[string]string{"Auto-Submitted": "auto-replied"}}
	h.deliver(auto.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "out of office") })
	bounce := customerMail{From: "Mail Delivery System <MAILER-DAEMON@example.com>", Subject: "Undelivered", MessageID: "bounce@example.com",
		InReplyTo: "Lifecycle@example.com", Body: "Delivery failed."}
	h.deliver(bounce.raw())
	h.waitThread(root.TS, func(m slackfake.Message) bool { return strings.Contains(text(m), "Delivery failed") })
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	if c := h.conv(1); c.Status != store.StatusClosed {
		t.Fatalf("automated mail reopened #1: %s", c.Status)
	}

	h.deliver(customerMail{Subject: "Re: Lifecycle", MessageID: "back@example.com", InReplyTo: "Lifecycle@example.com", Body: "Still broken!"}.raw())
	back := h.waitThread(root.TS, func(m slackfake.Message) bool {
		return m.BotID != "" && strings.Contains(m.Text, "The customer replied: #1 is open again")
	})
	if !back.Broadcast {
		t.Error("the reopen line was not also sent to the channel: a customer's answer in an old thread goes unnoticed")
	}
	h.waitCard(root.TS, "Open", "Assigned to <@UBOB>")
	// The next reply goes to the human, not to the robots.
	_, e = h.slack.UserPost(inboxChannel, bob, root.TS, "Trying again.")
	h.ack(e)
	got := h.waitMails(2)
	if got[1].To[0] != "carl@example.com" {
		t.Errorf("reply went to %v", got[1].To)
	}
}

// Many quick changes on one conversation: the card ends showing the final state.
func TestConcurrentChangesKeepCardCurrent(t *testing.T) {
	eachTransport(t, testConcurrentChangesKeepCardCurrent)
}

func testConcurrentChangesKeepCardCurrent(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Busy")
	actions := []string{"claim", "close", "reopen", "hold", "close", "reopen", "claim", "hold"}
	var wg sync.WaitGroup
	for i, a := range actions {
		user := alice
		if i%2 == 1 {
			user = bob
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ack(h.slack.BlockAction(user, inboxChannel, root.TS, "", a, "1", ""))
		}()
	}
	wg.Wait()
	h.poll("queue drained", func() bool { j, _ := h.m.st.SlackJobs(); return len(j) == 0 })
	c := h.conv(1)
	label := map[store.Status]string{store.StatusOpen: "*Open*", store.StatusHold: "*On hold*", store.StatusClosed: "*Closed*"}[c.Status]
	owner := "Unassigned"
	if c.Assignee != "" {
		owner = "Assigned to <@" + c.Assignee + ">"
	}
	h.waitCard(root.TS, label, owner)
	// Every change has its line in the thread.
	lines := 0
	for _, m := range h.thread(root.TS) {
		if m.BotID != "" && strings.Contains(m.Text, "#1") {
			lines++
		}
	}
	if lines != len(c.History) {
		t.Errorf("%d activity lines for %d changes", lines, len(c.History))
	}
}

func TestAppHome(t *testing.T) { eachTransport(t, testAppHome) }

func testAppHome(t *testing.T, h *harness) {
	h.start()
	h.conversation("Mine one")
	h.conversation("Nobody's")
	root3 := h.conversation("Waiting one")
	h.slash(alice, "claim 1")
	_, e := h.slack.UserPost(inboxChannel, alice, root3.TS, "Answer")
	h.ack(e)
	h.waitMails(1)
	h.waitCard(root3.TS, "Waiting on customer")

	h.ack(h.slack.AppHomeOpened(alice))
	var view string
	if err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		v, ok := s.HomeViews()[alice]
		view = string(v)
		return ok
	}); err != nil {
		t.Fatalf("no home view: %v", err)
	}
	sections := map[string][]string{"*Mine* (2)": {"#1", "#3"}, "*Unassigned* (1)": {"#2"}, "*Waiting on customer* (1)": {"#3"}}
	for title, nums := range sections {
		i := strings.Index(view, title)
		if i < 0 {
			t.Errorf("home lacks %q: %s", title, view)
			continue
		}
		for _, n := range nums {
			if !strings.Contains(view[i:], "*"+n+"*") {
				t.Errorf("home section %q lacks %s", title, n)
			}
		}
	}
	if !strings.Contains(view, "*2 open* (1 unassigned) · 1 waiting on customer") {
		t.Errorf("home lacks the counts: %s", view)
	}
	// Someone outside the channel sees no conversations.
	h.ack(h.slack.AppHomeOpened(mallory))
	if err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool { _, ok := s.HomeViews()[mallory]; return ok }); err != nil {
		t.Fatal(err)
	}
	if v := string(h.slack.HomeViews()[mallory]); !strings.Contains(v, "Only members") || strings.Contains(v, "Mine one") {
		t.Errorf("non-member home: %s", v)
	}
}

func TestWorkflowSurvivesRestart(t *testing.T) { eachTransport(t, testWorkflowSurvivesRestart) }

func testWorkflowSurvivesRestart(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Durable")
	h.slash(alice, "assign 1 <@UBOB>")
	h.slash(bob, "hold 1")
	h.waitCard(root.TS, "On hold", "Assigned to <@UBOB>")
	h.restart()
	if c := h.conv(1); c.Status != store.StatusHold || c.Assignee != bob || len(c.History) != 2 {
		t.Fatalf("after restart: %+v", c)
	}
	if got := h.slash(alice, "status"); !strings.Contains(got, "1 on hold") {
		t.Errorf("status after restart: %q", got)
	}
	h.ack(h.slack.AddReaction(inboxChannel, root.TS, alice, "white_check_mark"))
	h.waitCard(root.TS, "Closed")
	// The next conversation continues the numbering.
	h.conversation("After restart")
	if c := h.conv(2); c.Subject != "After restart" {
		t.Errorf("numbering after restart: %+v", c)
	}
}
