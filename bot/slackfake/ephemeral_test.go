package slackfake_test

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

func TestEphemeralButtons(t *testing.T) {
	f := newFake(t)
	f.EchoBotMessages = false
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)
	parent, _ := f.UserPost("C1", "U2", "", "mail")
	_, req := c.nextEventsAPI()
	c.sm.Ack(*req)

	button := func(text string) slack.MsgOption {
		return slack.MsgOptionBlocks(
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, text, false, false), nil, nil),
			slack.NewActionBlock("acts", slack.NewButtonBlockElement("confirm", "yes", slack.NewTextBlockObject(slack.PlainTextType, "Send", false, false))),
		)
	}
	_, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("x", false), slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("x", 3001), false, false), nil, nil)))
	if slackErr(err) != "invalid_blocks" {
		t.Errorf("ephemeral with invalid blocks: %v", err)
	}
	ts, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("Send the reply?", false), button("Send the reply?"), slack.MsgOptionTS(parent))
	if err != nil || ts == "" {
		t.Fatalf("post ephemeral: %q %v", ts, err)
	}
	e, ok := f.Ephemeral(ts)
	if !ok || e.User != "U1" || e.ThreadTS != parent || !strings.Contains(string(e.Blocks), `"action_id":"confirm"`) {
		t.Fatalf("ephemeral: %+v", e)
	}

	if id := f.EphemeralAction("U2", "C1", ts, "confirm", "yes"); id != "" {
		t.Error("someone else clicked an ephemeral they cannot see")
	}
	envID := f.EphemeralAction("U1", "C1", ts, "confirm", "yes")
	ev := c.next(socketmode.EventTypeInteractive)
	cb := ev.Data.(slack.InteractionCallback)
	if ev.Request.EnvelopeID != envID || cb.Type != slack.InteractionTypeBlockActions {
		t.Fatalf("callback: %+v", cb)
	}
	if !cb.Container.IsEphemeral || cb.Container.MessageTs != ts || cb.Container.ChannelID != "C1" || cb.Container.ThreadTs != parent ||
		cb.Channel.ID != "C1" || cb.User.ID != "U1" || cb.Message.Timestamp != "" || cb.ResponseURL == "" || cb.TriggerID == "" {
		t.Errorf("ephemeral click: container %+v channel %+v message %+v", cb.Container, cb.Channel.ID, cb.Message.Msg)
	}
	if a := cb.ActionCallback.BlockActions[0]; a.ActionID != "confirm" || a.BlockID != "acts" || a.Value != "yes" || a.Text.Text != "Send" {
		t.Errorf("action: %+v", a)
	}
	c.sm.Ack(*ev.Request)
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}

	// replace_original replaces the ephemeral, not a channel message.
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("Sent.", false)); err != nil {
		t.Fatal(err)
	}
	if e, _ := f.Ephemeral(ts); e.Text != "Sent." || e.Blocks != nil || e.Updates != 1 || e.User != "U1" {
		t.Errorf("replaced ephemeral: %+v", e)
	}
	if ms := f.Messages("C1"); len(ms) != 1 || ms[0].Updates != 0 {
		t.Errorf("channel changed: %+v", ms)
	}
	// A plain response_url post adds an ephemeral.
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("also", false)); err != nil {
		t.Fatal(err)
	}
	if eph := f.Ephemerals(); len(eph) != 2 || eph[1].Text != "also" || eph[1].Via != "response_url" {
		t.Errorf("ephemerals: %+v", eph)
	}
	// delete_original deletes it.
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionDeleteOriginal(cb.ResponseURL)); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Ephemeral(ts); ok {
		t.Error("ephemeral not deleted")
	}
	if id := f.EphemeralAction("U1", "C1", ts, "confirm", "yes"); id != "" {
		t.Error("clicked a deleted ephemeral")
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("again", false)); slackErr(err) != "message_not_found" {
		t.Errorf("replace deleted ephemeral: %v", err)
	}
}
