package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// With SLACK_MODE=http, a request not signed by Slack (wrong secret,
// stamped more than 5 minutes ago, unsigned) acts never, whatever it
// carries; a captured request sent again verbatim acts at most once.
func TestHTTPForgedAndReplayedRequests(t *testing.T) {
	h := newHarness(t)
	h.useHTTP()
	h.slack.EchoBotMessages = false // every delivery is one the test made
	h.start()
	root := h.conversation("Signed")

	refused := func(what, envID string) {
		t.Helper()
		d, err := h.slack.WaitDelivery(h.ctx(), envID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != http.StatusUnauthorized || d.Acked {
			t.Errorf("forged %s answered %d (acked %v), want 401", what, d.Status, d.Acked)
		}
	}
	h.slack.TamperNext(slackfake.TamperSignature)
	refused("command", h.slack.SlashCommand(alice, inboxChannel, "close 1"))
	h.slack.TamperNext(slackfake.TamperStale)
	refused("click", h.slack.BlockAction(alice, inboxChannel, root.TS, "", "claim", "1", ""))
	h.slack.TamperNext(slackfake.TamperUnsigned)
	closing := h.slack.AddReaction(inboxChannel, root.TS, bob, "white_check_mark")
	refused("reaction", closing)
	h.slack.TamperNext(slackfake.TamperSignature)
	_, reply := h.slack.UserPost(inboxChannel, alice, root.TS, "First answer.")
	refused("reply", reply)
	h.slack.TamperNext(slackfake.TamperSignature)
	if err := h.slack.VerifyURL(h.ctx()); err == nil {
		t.Error("url_verification answered with a wrong signature")
	}
	if c := h.conv(1); c.Status != store.StatusOpen || c.Assignee != "" || len(c.History) != 0 {
		t.Fatalf("forged requests acted: %s, %q, %+v", c.Status, c.Assignee, c.History)
	}
	if jobs, _ := h.m.st.MailJobs(); len(jobs) != 0 || len(h.smtp.Messages()) != 0 || len(h.ephemeralsFor(alice)) != 0 {
		t.Fatalf("forged requests acted: %d mails queued, %d sent, answers %q", len(jobs), len(h.smtp.Messages()), h.ephemeralsFor(alice))
	}

	// Refused events were not acked: Slack's own retries, signed, act once.
	if n := h.slack.RetryFailed(); n != 2 {
		t.Fatalf("%d events to retry, want the reaction and the reply", n)
	}
	h.ack(reply)
	h.ack(closing)
	h.waitMails(1)
	h.waitCard(root.TS, "Closed")
	closes := 0
	for _, ch := range h.conv(1).History {
		if ch.Action == "closed" {
			closes++
		}
	}
	if closes != 1 {
		t.Errorf("closed %d times by the reaction's retry, want once", closes)
	}

	// Originals, each of which would change something if it acted again.
	h.slash(bob, "reopen 1")
	h.slash(bob, "unassign 1") // whether the reply made Alice the owner depends on the order of the retries
	_, reply2 := h.slack.UserPost(inboxChannel, alice, root.TS, "Second answer.")
	h.ack(reply2)
	h.waitMails(2)
	h.waitCard(root.TS, "Waiting on customer", "Assigned to <@UALICE>")
	h.slash(bob, "unassign 1")
	claim := h.slack.AddReaction(inboxChannel, root.TS, bob, "eyes")
	h.ack(claim)
	hold := h.slack.BlockAction(alice, inboxChannel, root.TS, "", "hold", "1", "")
	h.ack(hold)
	closeCmd := h.slack.SlashCommand(alice, inboxChannel, "close 1")
	h.ack(closeCmd)
	h.waitCard(root.TS, "Closed", "Assigned to <@UBOB>")
	h.slash(bob, "reopen 1")
	h.slash(bob, "unassign 1")
	before := h.conv(1)
	if before.Status != store.StatusOpen || before.Assignee != "" {
		t.Fatalf("before the replays: %s, %q", before.Status, before.Assignee)
	}

	for _, env := range []string{claim, hold, closeCmd, reply2} {
		status, _, err := h.slack.Replay(h.ctx(), env)
		if err != nil || status != http.StatusOK {
			t.Errorf("replay of %s: %d %v (a replay of something done is answered OK)", env, status, err)
		}
	}
	// The forged requests replayed are refused again.
	for _, env := range []string{closing, reply} {
		if status, _, _ := h.slack.Replay(h.ctx(), env); status != http.StatusUnauthorized {
			t.Errorf("replay of a forged request: %d", status)
		}
	}
	after := h.conv(1)
	if after.Status != store.StatusOpen || after.Assignee != "" || len(after.History) != len(before.History) {
		t.Errorf("replays acted: %s, %q, %d changes (was %d)", after.Status, after.Assignee, len(after.History), len(before.History))
	}
	// Flush the outbox with a new reply: the replayed one was not sent again.
	_, e := h.slack.UserPost(inboxChannel, bob, root.TS, "Third answer.")
	h.ack(e)
	got := h.waitMails(3)
	if n := len(h.smtp.Messages()); n != 3 || !strings.Contains(string(got[2].Data), "Third answer.") {
		t.Errorf("%d mails, want 3", n)
	}
	if !strings.Contains(h.logs.String(), "ignored a replayed request") {
		t.Error("replayed command or click not logged")
	}
}

// A connection on which no request started (HTTP clients keep spare ones)
// does not hold up the server's shutdown, which would wait 5 seconds for
// it; a request under way still finishes.
func TestShutdownSkipsUnusedConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fresh := &freshConns{conns: map[net.Conn]struct{}{}}
	inside, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{ConnState: fresh.track, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inside)
		<-release
	})}
	go srv.Serve(ln)
	spare, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	answered := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	<-inside
	// The spare connection is known to the server once a later one is.
	for {
		fresh.mu.Lock()
		n := len(fresh.conns)
		fresh.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	fresh.closeAll()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown waited for the unused connection: %v", err)
	}
	if err := <-answered; err != nil {
		t.Errorf("the request under way: %v", err)
	}
}
