package slackfake_test

import (
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// TestThreadReplyEditDelete checks the events of users editing and
// deleting thread replies and parents against what Slack sends.
func TestThreadReplyEditDelete(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)
	next := func(wantEnv string) *slackevents.MessageEvent {
		t.Helper()
		ev, req := c.nextEventsAPI()
		c.sm.Ack(*req)
		if wantEnv != "" && req.EnvelopeID != wantEnv {
			t.Errorf("envelope %s, want %s", req.EnvelopeID, wantEnv)
		}
		m, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
		if !ok {
			t.Fatalf("not a message event: %T", ev.InnerEvent.Data)
		}
		return m
	}
	parent, _ := f.UserPost("C1", "U2", "", "mail")
	next("")
	reply, _ := f.UserPost("C1", "U1", parent, "draft")
	next("")

	env := f.UserEdit("C1", reply, "final")
	m := next(env)
	if m.SubType != "message_changed" || m.Channel != "C1" || m.ThreadTimeStamp != "" || m.TimeStamp == reply {
		t.Errorf("message_changed outer: %+v", m)
	}
	if in := m.Message; in == nil || in.Text != "final" || in.Timestamp != reply || in.ThreadTimestamp != parent ||
		in.ParentUserId != "U2" || in.User != "U1" || in.Edited == nil || in.Edited.User != "U1" {
		t.Errorf("message_changed message: %+v", m.Message)
	}
	if prev := m.PreviousMessage; prev == nil || prev.Text != "draft" || prev.ThreadTimestamp != parent || prev.Timestamp != reply || prev.Edited != nil {
		t.Errorf("message_changed previous_message: %+v", m.PreviousMessage)
	}

	second, _ := f.UserPost("C1", "U1", parent, "second")
	next("")
	env = f.UserDelete("C1", second)
	m = next(env)
	if m.SubType != "message_deleted" || m.DeletedTimeStamp != second || m.ThreadTimeStamp != "" {
		t.Errorf("message_deleted: %+v", m)
	}
	if prev := m.PreviousMessage; prev == nil || prev.Text != "second" || prev.ThreadTimestamp != parent || prev.ParentUserId != "U2" || prev.Timestamp != second {
		t.Errorf("message_deleted previous_message: %+v", m.PreviousMessage)
	}

	// Deleting a parent with replies leaves a tombstone.
	env = f.UserDelete("C1", parent)
	m = next(env)
	if m.SubType != "message_changed" || m.Message == nil || m.Message.SubType != "tombstone" || m.Message.Text != slackfake.TombstoneText ||
		m.Message.User != slackfake.TombstoneUser || m.Message.Timestamp != parent || m.Message.ReplyCount != 1 || !m.Message.Hidden {
		t.Errorf("tombstone: %+v", m.Message)
	}
	if m.PreviousMessage == nil || m.PreviousMessage.Text != "mail" || m.PreviousMessage.User != "U2" {
		t.Errorf("tombstone previous_message: %+v", m.PreviousMessage)
	}
	if tomb, ok := f.Message("C1", parent); !ok || tomb.Subtype != "tombstone" {
		t.Errorf("tombstone not recorded: %+v", tomb)
	}
	rs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent})
	if err != nil || len(rs) != 2 || rs[0].SubType != "tombstone" || rs[1].Text != "final" {
		t.Errorf("thread under tombstone: %+v %v", rs, err)
	}

	// Deleting its last reply removes the tombstone too.
	env = f.UserDelete("C1", reply)
	if m = next(env); m.SubType != "message_deleted" || m.DeletedTimeStamp != reply {
		t.Errorf("last reply deleted: %+v", m)
	}
	if m = next(""); m.SubType != "message_deleted" || m.DeletedTimeStamp != parent || m.PreviousMessage == nil || m.PreviousMessage.SubType != "tombstone" {
		t.Errorf("tombstone deleted: %+v", m)
	}
	if ms := f.Messages("C1"); len(ms) != 0 {
		t.Errorf("left over: %+v", ms)
	}

	// The bot deleting its own parent with replies: a tombstone as well.
	_, botParent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("bot parent", false))
	if err != nil {
		t.Fatal(err)
	}
	next("")
	f.UserPost("C1", "U1", botParent, "reply")
	next("")
	if _, _, err := api.DeleteMessageContext(ctx, "C1", botParent); err != nil {
		t.Fatal(err)
	}
	if m = next(""); m.SubType != "message_changed" || m.Message.SubType != "tombstone" || m.PreviousMessage.BotID != slackfake.BotID {
		t.Errorf("bot's parent deleted: %+v", m)
	}
}

// TestPostAsCustomName checks username and icon_url: taken with
// chat:write.customize, shown in history, ignored without the scope.
func TestPostAsCustomName(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false),
		slack.MsgOptionUsername("Alice via inboxbot"), slack.MsgOptionIconURL("https://example.com/a.png"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", ts); m.Username != "Alice via inboxbot" || m.IconURL != "https://example.com/a.png" || m.BotID != slackfake.BotID {
		t.Errorf("posted %+v", m)
	}
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Username != "Alice via inboxbot" {
		t.Errorf("history %+v %v", h, err)
	}

	var scopes []string
	for _, s := range slackfake.DefaultScopes {
		if s != "chat:write.customize" {
			scopes = append(scopes, s)
		}
	}
	f.SetScopes(scopes...)
	_, ts, err = api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false), slack.MsgOptionUsername("Bob via inboxbot"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", ts); m.Username != "" {
		t.Errorf("name taken without chat:write.customize: %+v", m)
	}
}
