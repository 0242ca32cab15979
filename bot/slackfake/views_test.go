package slackfake_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func replyModal(title string) slack.ModalViewRequest {
	note := slack.NewPlainTextInputBlockElement(plain("Your reply"), "note")
	note.MinLength = 2
	who := slack.NewInputBlock("who_b", plain("Assign to"), nil, slack.NewOptionsSelectBlockElement(slack.OptTypeUser, nil, "who"))
	who.Optional = true
	prio := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, "prio",
		slack.NewOptionBlockObject("low", plain("Low"), nil), slack.NewOptionBlockObject("high", plain("High"), nil))
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain(title),
		Submit:          plain("Send"),
		Close:           plain("Cancel"),
		CallbackID:      "reply",
		PrivateMetadata: "conv-42",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("note_b", plain("Reply"), nil, note),
			who,
			slack.NewInputBlock("prio_b", plain("Priority"), nil, prio),
			slack.NewActionBlock("acts", slack.NewButtonBlockElement("more", "x", plain("More"))),
		}},
	}
}

// trigger runs /inbox for user and returns the command's trigger_id.
func trigger(t *testing.T, f *slackfake.Server, c *client, user string) string {
	t.Helper()
	f.SlashCommand(user, "C1", "reply 42")
	ev := c.next(socketmode.EventTypeSlashCommand)
	c.sm.Ack(*ev.Request)
	return ev.Data.(slack.SlashCommand).TriggerID
}

func TestViewsOpenUpdateTriggers(t *testing.T) {
	f := newFake(t)
	var clock atomic.Int64 // the fake's wall time, in ns; it stands still unless moved
	clock.Store(time.Now().UnixNano())
	f.Clock = func() time.Time { return time.Unix(0, clock.Load()) }
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)

	tr := trigger(t, f, c, "U1")
	bad := replyModal(strings.Repeat("t", 25))
	if _, err := api.OpenViewContext(ctx, tr, bad); slackErr(err) != "invalid_arguments" {
		t.Errorf("long title: %v", err)
	} else if se := err.(slack.SlackErrorResponse); len(se.ResponseMetadata.Messages) != 1 || !strings.Contains(se.ResponseMetadata.Messages[0], "/view/title/text") {
		t.Errorf("long title details: %+v", se.ResponseMetadata)
	}
	noSubmit := replyModal("Reply")
	noSubmit.Submit = nil
	if _, err := api.OpenViewContext(ctx, tr, noSubmit); slackErr(err) != "invalid_arguments" {
		t.Errorf("input without submit: %v", err)
	}
	m := replyModal("Reply")
	m.ExternalID = "conv-42-reply"
	resp, err := api.OpenViewContext(ctx, tr, m) // refused calls did not use the trigger up
	if err != nil {
		t.Fatal(err)
	}
	v := resp.View
	if v.ID == "" || v.Hash == "" || v.Type != slack.VTModal || v.CallbackID != "reply" || v.PrivateMetadata != "conv-42" ||
		v.RootViewID != v.ID || v.ExternalID != "conv-42-reply" || v.Title.Text != "Reply" || len(v.Blocks.BlockSet) != 4 {
		t.Errorf("opened view: %+v", v)
	}
	if open := f.OpenViews("U1"); len(open) != 1 || open[0].ID != v.ID || !open[0].Open || open[0].CallbackID != "reply" || open[0].User != "U1" {
		t.Errorf("open views: %+v", open)
	}
	if _, err := api.OpenViewContext(ctx, tr, replyModal("Again")); slackErr(err) != "exchanged_trigger_id" {
		t.Errorf("trigger used twice: %v", err)
	}
	if _, err := api.OpenViewContext(ctx, "12345.98765.abcd", replyModal("Again")); slackErr(err) != "invalid_trigger_id" {
		t.Errorf("unknown trigger: %v", err)
	}
	tr2 := trigger(t, f, c, "U2")
	f.ExpireTriggers()
	if _, err := api.OpenViewContext(ctx, tr2, replyModal("Again")); slackErr(err) != "expired_trigger_id" {
		t.Errorf("expired trigger: %v", err)
	}
	// The same by the clock: 3 s are fine, more are not.
	tr3, tr4 := trigger(t, f, c, "U2"), trigger(t, f, c, "U2")
	clock.Add(int64(3 * time.Second))
	if _, err := api.OpenViewContext(ctx, tr3, replyModal("Other")); err != nil {
		t.Errorf("trigger at 3 s: %v", err)
	}
	clock.Add(int64(time.Millisecond))
	if _, err := api.OpenViewContext(ctx, tr4, replyModal("Other")); slackErr(err) != "expired_trigger_id" {
		t.Errorf("trigger after 3 s: %v", err)
	}

	// views.update: hash check, by view_id or external_id.
	upd := replyModal("Reply v2")
	upd.ExternalID = "conv-42-reply"
	if _, err := api.UpdateViewContext(ctx, upd, "", "stale", v.ID); slackErr(err) != "hash_conflict" {
		t.Errorf("stale hash: %v", err)
	}
	r2, err := api.UpdateViewContext(ctx, upd, "", v.Hash, v.ID)
	if err != nil || r2.View.ID != v.ID || r2.View.Hash == v.Hash || r2.View.Title.Text != "Reply v2" {
		t.Fatalf("update: %+v %v", r2, err)
	}
	upd.Title = plain("Reply v3")
	if _, err := api.UpdateViewContext(ctx, upd, "conv-42-reply", "", ""); err != nil {
		t.Errorf("update by external_id: %v", err)
	}
	if got, _ := f.View(v.ID); got.Title != "Reply v3" || got.Updates != 2 {
		t.Errorf("after updates: %+v", got)
	}
	if _, err := api.UpdateViewContext(ctx, upd, "", "", "V404"); slackErr(err) != "not_found" {
		t.Errorf("update unknown: %v", err)
	}
	// Another user's open modal cannot take the same external_id.
	if _, err := api.OpenViewContext(ctx, trigger(t, f, c, "U2"), upd); slackErr(err) != "duplicate_external_id" {
		t.Errorf("duplicate external_id: %v", err)
	}
	// views.push needs an open modal.
	if _, err := api.PushViewContext(ctx, trigger(t, f, c, "U1"), replyModal("Pushed")); err != nil {
		t.Errorf("push: %v", err)
	}
	f.ExpireTriggers()
	if _, err := api.PushViewContext(ctx, trigger(t, f, c, "U1"), replyModal("Pushed")); err != nil {
		t.Errorf("push with a fresh trigger: %v", err)
	}
	if _, err := api.PushViewContext(ctx, trigger(t, f, c, "U1"), replyModal("Pushed")); slackErr(err) != "push_limit_reached" {
		t.Errorf("4th view: %v", err)
	}
	f.SetUserTimeZone("U3", "", "", 0) // U3 exists but has no modal
	if _, err := api.PushViewContext(ctx, trigger(t, f, c, "U3"), replyModal("Pushed")); slackErr(err) != "not_found" {
		t.Errorf("push without modal: %v", err)
	}
}

func TestViewSubmission(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)

	resp, err := api.OpenViewContext(ctx, trigger(t, f, c, "U1"), replyModal("Reply"))
	if err != nil {
		t.Fatal(err)
	}
	id := resp.View.ID

	// What Slack's client would not let the user do.
	for _, values := range []map[string]string{
		{"prio": "low"},                  // required note empty
		{"note": "x", "prio": "low"},     // shorter than min_length
		{"note": "ok", "prio": "urgent"}, // no such option
		{"note": "ok", "prio": "low", "nope": "1"},
	} {
		if _, err := f.SubmitView("U1", id, values); err == nil {
			t.Errorf("submitted %v", values)
		}
	}
	if _, err := f.SubmitView("U2", id, map[string]string{"note": "ok"}); err == nil {
		t.Error("submitted another user's view")
	}

	submit := func(values map[string]string, ack any) (slack.InteractionCallback, slackfake.ViewAck) {
		t.Helper()
		envID, err := f.SubmitView("U1", id, values)
		if err != nil {
			t.Fatal(err)
		}
		ev := c.next(socketmode.EventTypeInteractive)
		if !ev.Request.AcceptsResponsePayload || ev.Request.EnvelopeID != envID {
			t.Errorf("envelope: %+v", ev.Request)
		}
		if ack == nil {
			c.sm.Ack(*ev.Request)
		} else {
			c.sm.Ack(*ev.Request, ack)
		}
		a, err := f.WaitViewAck(ctx, envID)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Data.(slack.InteractionCallback), a
	}

	cb, a := submit(map[string]string{"note": "Thanks!", "who_b": "U2", "prio": "high"},
		slack.NewErrorsViewSubmissionResponse(map[string]string{"note_b": "Say more"}))
	if cb.Type != slack.InteractionTypeViewSubmission || cb.View.ID != id || cb.View.CallbackID != "reply" || cb.View.PrivateMetadata != "conv-42" ||
		cb.User.ID != "U1" || cb.TriggerID == "" || cb.View.Hash == "" {
		t.Errorf("view_submission: %+v", cb)
	}
	st := cb.View.State.Values
	if st["note_b"]["note"].Value != "Thanks!" || st["who_b"]["who"].SelectedUser != "U2" || st["prio_b"]["prio"].SelectedOption.Value != "high" ||
		st["prio_b"]["prio"].SelectedOption.Text.Text != "High" {
		t.Errorf("state: %+v", st)
	}
	if a.ResponseAction != "errors" || a.Errors["note_b"] != "Say more" {
		t.Errorf("ack: %+v", a)
	}
	if v, _ := f.View(id); !v.Open || v.Errors["note_b"] != "Say more" {
		t.Errorf("view after errors: %+v", v)
	}

	// The optional input may stay empty; update replaces the view.
	upd := replyModal("Confirm")
	cb, _ = submit(map[string]string{"note": "Thanks a lot", "prio": "low"}, slack.NewUpdateViewSubmissionResponse(&upd))
	if v := cb.View.State.Values["who_b"]["who"]; v.SelectedUser != "" {
		t.Errorf("empty optional input: %+v", v)
	}
	if v, _ := f.View(id); !v.Open || v.Title != "Confirm" || v.Updates != 1 || v.Errors != nil {
		t.Errorf("view after update: %+v", v)
	}
	// An invalid view in the answer is refused, as Slack shows the user.
	badUpd := replyModal(strings.Repeat("t", 30))
	submit(map[string]string{"note": "ok", "prio": "low"}, slack.NewUpdateViewSubmissionResponse(&badUpd))
	if v, _ := f.View(id); v.AckError == "" || v.Title != "Confirm" {
		t.Errorf("invalid update accepted: %+v", v)
	}

	// A button in the modal gives a trigger to push with.
	envB, err := f.ViewAction("U1", id, "more", "x")
	if err != nil {
		t.Fatal(err)
	}
	ev := c.next(socketmode.EventTypeInteractive)
	cbB := ev.Data.(slack.InteractionCallback)
	if ev.Request.EnvelopeID != envB || cbB.Type != slack.InteractionTypeBlockActions || cbB.Container.Type != "view" ||
		cbB.Container.ViewID != id || cbB.View.ID != id || cbB.ActionCallback.BlockActions[0].ActionID != "more" {
		t.Errorf("click in modal: %+v", cbB)
	}
	c.sm.Ack(*ev.Request)
	pushed, err := api.PushViewContext(ctx, cbB.TriggerID, replyModal("Details"))
	if err != nil {
		t.Fatal(err)
	}
	if pv := pushed.View; pv.RootViewID != id || pv.PreviousViewID != id {
		t.Errorf("pushed: %+v", pv)
	}
	if open := f.OpenViews("U1"); len(open) != 2 || open[1].ID != pushed.View.ID {
		t.Errorf("stack: %+v", open)
	}
	if _, err := f.SubmitView("U1", id, map[string]string{"note": "ok", "prio": "low"}); err == nil {
		t.Error("submitted a view under the top one")
	}
	// An empty ack closes the submitted (pushed) view only.
	id, idRoot := pushed.View.ID, id
	submit(map[string]string{"note": "ok", "prio": "low"}, nil)
	if open := f.OpenViews("U1"); len(open) != 1 || open[0].ID != idRoot {
		t.Errorf("after empty ack: %+v", open)
	}
	if v, _ := f.View(id); v.Open {
		t.Error("submitted view still open")
	}
	// clear closes the whole modal.
	id = idRoot
	submit(map[string]string{"note": "ok", "prio": "low"}, slack.NewClearViewSubmissionResponse())
	if open := f.OpenViews("U1"); len(open) != 0 {
		t.Errorf("after clear: %+v", open)
	}
}

func TestViewClosed(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)
	m := replyModal("Reply")
	m.NotifyOnClose = true
	resp, err := api.OpenViewContext(ctx, trigger(t, f, c, "U1"), m)
	if err != nil {
		t.Fatal(err)
	}
	quiet := replyModal("Quiet")
	r2, err := api.PushViewContext(ctx, trigger(t, f, c, "U1"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if env, err := f.CloseView("U1", r2.View.ID); err != nil || env != "" {
		t.Errorf("close without notify_on_close: %q %v", env, err)
	}
	envID, err := f.CloseView("U1", resp.View.ID)
	if err != nil || envID == "" {
		t.Fatalf("close: %q %v", envID, err)
	}
	ev := c.next(socketmode.EventTypeInteractive)
	cb := ev.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeViewClosed || cb.View.ID != resp.View.ID || cb.IsCleared || cb.User.ID != "U1" {
		t.Errorf("view_closed: %+v", cb)
	}
	c.sm.Ack(*ev.Request)
	if len(f.OpenViews("U1")) != 0 {
		t.Errorf("open after close: %+v", f.OpenViews("U1"))
	}
	if _, err := f.CloseView("U1", resp.View.ID); err == nil {
		t.Error("closed a closed view")
	}
}

func TestModalLimits(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)
	tr := trigger(t, f, c, "U1")
	many := slack.ModalViewRequest{Type: slack.VTModal, Title: plain("Many")}
	for range 101 {
		many.Blocks.BlockSet = append(many.Blocks.BlockSet, slack.NewDividerBlock())
	}
	long := slack.ModalViewRequest{Type: slack.VTModal, Title: plain("Long"), PrivateMetadata: strings.Repeat("m", 3001)}
	input := slack.NewPlainTextInputBlockElement(nil, "t")
	input.MaxLength = 3001
	badInput := slack.ModalViewRequest{Type: slack.VTModal, Title: plain("In"), Submit: plain("Go"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewInputBlock("b", plain("L"), nil, input)}}}
	for name, v := range map[string]slack.ModalViewRequest{"101 blocks": many, "private_metadata": long, "max_length": badInput} {
		if _, err := api.OpenViewContext(ctx, tr, v); slackErr(err) != "invalid_arguments" {
			t.Errorf("%s: %v", name, err)
		}
	}
	huge := slack.ModalViewRequest{Type: slack.VTModal, Title: plain("Huge")}
	for i := range 100 {
		huge.Blocks.BlockSet = append(huge.Blocks.BlockSet, slack.NewSectionBlock(plain(fmt.Sprint(i, strings.Repeat("h", 2990))), nil, nil))
	}
	if _, err := api.OpenViewContext(ctx, tr, huge); slackErr(err) != "view_too_large" {
		t.Errorf("huge view: %v", err)
	}
}
