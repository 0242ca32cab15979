package main

import (
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// A slash command whose work is slow (here: Slack answers the membership
// check late) is acknowledged within the budget, empty, and its answer
// follows through response_url.
func TestSlowCommandAckedFirst(t *testing.T) { eachTransport(t, testSlowCommandAckedFirst) }

func testSlowCommandAckedFirst(t *testing.T, h *harness) {
	h.slackTune.AckBudget = 100 * time.Millisecond
	h.start()
	h.conversation("Slow")
	h.slack.DelayNext("conversations.members", time.Second)
	p := h.ack(h.slack.SlashCommand(alice, inboxChannel, "status"))
	if len(p) != 0 && string(p) != "null" {
		t.Errorf("the slow answer rode on the ack: %s", p)
	}
	err := h.slack.WaitFor(h.ctx(), func(s *slackfake.Server) bool {
		for _, e := range s.Ephemerals() {
			if e.User == alice && e.Via == "response_url" && strings.Contains(e.Text, "1 open") {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no answer through response_url: %v; ephemerals %q", err, h.ephemeralsFor(alice))
	}
}

// Card refreshes that queue up while Slack refuses updates are coalesced:
// one update per card brings it to the latest state.
func TestCardRefreshesCoalesce(t *testing.T) { eachTransport(t, testCardRefreshesCoalesce) }

func testCardRefreshesCoalesce(t *testing.T, h *harness) {
	h.start()
	root := h.conversation("Coalesce")
	h.slack.BlockMethod("chat.update", 1)
	for _, cmd := range []string{"claim 1", "hold 1", "reopen 1", "close 1", "reopen 1"} {
		if ans := h.slash(alice, cmd); !strings.Contains(ans, "Done") {
			t.Fatalf("/inbox %s: %q", cmd, ans)
		}
	}
	h.waitLine(root.TS, "<@UALICE> reopened #1")
	before := h.slack.Calls("chat.update")
	h.slack.UnblockMethod("chat.update")
	h.waitCard(root.TS, "Open", "Assigned to <@UALICE>")
	h.poll("card mark cleared", func() bool { c, _ := h.m.st.CardsAfter(0, 10); return len(c) == 0 })
	if n := h.slack.Calls("chat.update") - before; n > 2 {
		t.Errorf("%d card updates after Slack took them again, want 1 (or 2 if a click's own refresh raced the queue)", n)
	}
}
