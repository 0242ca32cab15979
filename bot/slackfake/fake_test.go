package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

func newFake(t *testing.T) *slackfake.Server {
	t.Helper()
	f := slackfake.New()
	t.Cleanup(f.Close)
	f.AddChannel("C1", "U1", "U2", slackfake.BotUserID)
	f.AddUser("U1", "alice", "Alice Liddell")
	f.AddUser("U2", "bob", "Bob Builder")
	return f
}

func newAPI(f *slackfake.Server, opts ...slack.Option) *slack.Client {
	return slack.New(slackfake.BotToken, append([]slack.Option{
		slack.OptionAPIURL(f.URL()),
		slack.OptionAppLevelToken(slackfake.AppToken),
	}, opts...)...)
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	if err == nil {
		return ""
	}
	return "not a slack error: " + err.Error()
}

func TestAuth(t *testing.T) {
	f := newFake(t)
	res, err := newAPI(f).AuthTest()
	if err != nil {
		t.Fatal(err)
	}
	if res.UserID != slackfake.BotUserID || res.BotID != slackfake.BotID || res.TeamID != slackfake.TeamID || res.User != "inboxbot" {
		t.Errorf("auth.test = %+v", res)
	}
	_, err = slack.New("xoxb-wrong", slack.OptionAPIURL(f.URL())).AuthTest()
	if got := slackErr(err); got != "invalid_auth" {
		t.Errorf("wrong token: %q", got)
	}
	// The bot token is not good for apps.connections.open.
	_, _, err = slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()), slack.OptionAppLevelToken(slackfake.BotToken)).StartSocketModeContext(ctxT(t))
	if err == nil {
		t.Error("apps.connections.open with bot token succeeded")
	}
	// Unknown method.
	_, err = newAPI(f).GetTeamInfo()
	if got := slackErr(err); got != "unknown_method" || f.Calls("team.info") != 1 {
		t.Errorf("unknown method: %q, calls %d", got, f.Calls("team.info"))
	}
}

func TestPostUpdateHistoryReplies(t *testing.T) {
	f := newFake(t)
	api := newAPI(f)
	ctx := ctxT(t)

	meta := slack.SlackMetadata{EventType: "inbox_thread", EventPayload: map[string]any{"msgid": "abc@example.com", "n": 3}}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Subject", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*body*", false, false), nil, nil, slack.SectionBlockOptionBlockID("body")),
	}
	ch, parentTS, err := api.PostMessageContext(ctx, "C1",
		slack.MsgOptionText("New mail: Subject", false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionMetadata(meta),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	)
	if err != nil || ch != "C1" || parentTS == "" {
		t.Fatalf("post: %q %q %v", ch, parentTS, err)
	}
	userTS, _ := f.UserPost("C1", "U1", parentTS, "a reply")
	_, botReplyTS, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("bot reply <@U1>", false),
		slack.MsgOptionTS(parentTS), slack.MsgOptionLinkNames(true))
	if err != nil {
		t.Fatal(err)
	}
	if !(parentTS < userTS && userTS < botReplyTS) {
		t.Errorf("timestamps not increasing: %s %s %s", parentTS, userTS, botReplyTS)
	}
	topTS, _ := f.UserPost("C1", "U2", "", "top-level")

	_, _, _, err = api.UpdateMessageContext(ctx, "C1", parentTS, slack.MsgOptionText("Updated", false))
	if err != nil {
		t.Fatal(err)
	}

	msgs := f.Messages("C1")
	if len(msgs) != 4 {
		t.Fatalf("messages: %+v", msgs)
	}
	p := msgs[0]
	if p.TS != parentTS || p.Text != "Updated" || p.Updates != 1 || p.User != slackfake.BotUserID || p.BotID != slackfake.BotID {
		t.Errorf("parent: %+v", p)
	}
	if p.Unfurl || p.LinkNames {
		t.Errorf("parent unfurl/linknames: %+v", p)
	}
	if p.Metadata == nil || p.Metadata.EventType != "inbox_thread" || p.Metadata.EventPayload["msgid"] != "abc@example.com" {
		t.Errorf("parent metadata: %+v", p.Metadata)
	}
	if !strings.Contains(string(p.Blocks), `"block_id":"body"`) {
		t.Errorf("blocks kept on update without blocks: %s", p.Blocks)
	}
	if msgs[1].ThreadTS != parentTS || msgs[1].User != "U1" || msgs[2].ThreadTS != parentTS || !msgs[2].LinkNames || !msgs[2].Unfurl {
		t.Errorf("replies: %+v / %+v", msgs[1], msgs[2])
	}

	// history: top-level only, newest first, metadata only on request.
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Timestamp != topTS || h.Messages[1].Timestamp != parentTS {
		t.Fatalf("history: %+v", h.Messages)
	}
	hp := h.Messages[1]
	if hp.Metadata.EventType != "inbox_thread" || hp.Metadata.EventPayload["n"] != float64(3) {
		t.Errorf("history metadata: %+v", hp.Metadata)
	}
	if hp.ReplyCount != 2 || hp.ThreadTimestamp != parentTS || hp.BotID != slackfake.BotID || hp.Edited == nil {
		t.Errorf("history parent: %+v", hp.Msg)
	}
	if len(hp.Blocks.BlockSet) != 2 {
		t.Errorf("history blocks: %+v", hp.Blocks)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if err != nil || h.Messages[1].Metadata.EventType != "" {
		t.Errorf("metadata without include_all_metadata: %+v %v", h.Messages[1].Metadata, err)
	}

	// pagination
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 1})
	if err != nil || len(h.Messages) != 1 || !h.HasMore || h.ResponseMetaData.NextCursor == "" {
		t.Fatalf("page 1: %+v %v", h, err)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 1, Cursor: h.ResponseMetaData.NextCursor})
	if err != nil || len(h.Messages) != 1 || h.HasMore || h.Messages[0].Timestamp != parentTS {
		t.Fatalf("page 2: %+v %v", h, err)
	}

	// replies: parent then replies oldest first.
	rs, hasMore, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parentTS, IncludeAllMetadata: true})
	if err != nil || hasMore || len(rs) != 3 {
		t.Fatalf("replies: %+v %v", rs, err)
	}
	if rs[0].Timestamp != parentTS || rs[1].Timestamp != userTS || rs[2].Timestamp != botReplyTS || rs[0].Metadata.EventType != "inbox_thread" {
		t.Errorf("replies order/metadata: %s %s %s %+v", rs[0].Timestamp, rs[1].Timestamp, rs[2].Timestamp, rs[0].Metadata)
	}
	if rs[1].ThreadTimestamp != parentTS || rs[1].ParentUserId != slackfake.BotUserID {
		t.Errorf("reply fields: %+v", rs[1].Msg)
	}
	// a reply's ts gives the whole thread.
	rs, _, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: userTS})
	if err != nil || len(rs) != 3 {
		t.Errorf("replies by reply ts: %d %v", len(rs), err)
	}
	_, _, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1.000000"})
	if got := slackErr(err); got != "thread_not_found" {
		t.Errorf("unknown thread: %q", got)
	}
	// replies pagination
	rs, hasMore, cur, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parentTS, Limit: 2})
	if err != nil || !hasMore || len(rs) != 2 {
		t.Fatalf("replies page 1: %d %v %v", len(rs), hasMore, err)
	}
	rs, hasMore, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parentTS, Limit: 2, Cursor: cur})
	if err != nil || hasMore || len(rs) != 1 || rs[0].Timestamp != botReplyTS {
		t.Fatalf("replies page 2: %+v %v %v", rs, hasMore, err)
	}

	// update with empty blocks clears them; metadata can be replaced.
	_, _, _, err = api.UpdateMessageContext(ctx, "C1", parentTS, slack.MsgOptionText("Again", false), slack.MsgOptionBlocks(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "inbox_thread", EventPayload: map[string]any{"msgid": "x"}}))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", parentTS); m.Blocks != nil || m.Updates != 2 || m.Metadata.EventPayload["msgid"] != "x" {
		t.Errorf("after 2nd update: %+v", m)
	}
	// message returned by copy
	msgs = f.Messages("C1")
	msgs[0].Metadata.EventPayload["msgid"] = "mutated"
	if m, _ := f.Message("C1", parentTS); m.Metadata.EventPayload["msgid"] != "x" {
		t.Error("Messages does not copy metadata")
	}
}

func TestValidation(t *testing.T) {
	f := newFake(t)
	api := newAPI(f)
	ctx := ctxT(t)
	section := func(n int) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", n), false, false), nil, nil)
	}
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}
	cases := []struct {
		name    string
		channel string
		opts    []slack.MsgOption
		want    string
	}{
		{"unknown channel", "C404", []slack.MsgOption{slack.MsgOptionText("x", false)}, "channel_not_found"},
		{"no text", "C1", nil, "no_text"},
		{"empty blocks no text", "C1", []slack.MsgOption{slack.MsgOptionBlocks()}, "no_text"},
		{"section 3001", "C1", []slack.MsgOption{slack.MsgOptionBlocks(section(3001))}, "invalid_blocks"},
		{"section 3000 ok", "C1", []slack.MsgOption{slack.MsgOptionBlocks(section(3000))}, ""},
		{"empty section", "C1", []slack.MsgOption{slack.MsgOptionText("x", false), slack.MsgOptionBlocks(section(0))}, "invalid_blocks"},
		{"header 151", "C1", []slack.MsgOption{slack.MsgOptionBlocks(slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("h", 151), false, false)))}, "invalid_blocks"},
		{"51 blocks", "C1", []slack.MsgOption{slack.MsgOptionBlocks(many...)}, "invalid_blocks"},
		{"text 40001", "C1", []slack.MsgOption{slack.MsgOptionText(strings.Repeat("t", 40001), false)}, "msg_too_long"},
		{"unknown thread accepted", "C1", []slack.MsgOption{slack.MsgOptionText("x", false), slack.MsgOptionTS("1600000000.000001")}, ""},
	}
	for _, c := range cases {
		_, _, err := api.PostMessageContext(ctx, c.channel, c.opts...)
		if got := slackErr(err); got != c.want {
			t.Errorf("%s: got %q want %q", c.name, got, c.want)
		}
	}
	_, _, _, err := api.UpdateMessageContext(ctx, "C1", "1600000000.000001", slack.MsgOptionText("x", false))
	if got := slackErr(err); got != "message_not_found" {
		t.Errorf("update unknown ts: %q", got)
	}
	ts, _ := f.UserPost("C1", "U1", "", "human")
	_, _, _, err = api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("x", false))
	if got := slackErr(err); got != "cant_update_message" {
		t.Errorf("update human message: %q", got)
	}
	// errors detail
	_, _, err = api.PostMessageContext(ctx, "C1", slack.MsgOptionBlocks(section(3001)))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || len(se.ResponseMetadata.Messages) != 1 || !strings.Contains(se.ResponseMetadata.Messages[0], "/blocks/0/text/text") {
		t.Errorf("invalid_blocks details: %+v", se)
	}
}

func TestFaults(t *testing.T) {
	f := newFake(t)
	api := newAPI(f)
	ctx := ctxT(t)

	f.FailNext("chat.postMessage", "channel_is_archived")
	f.RateLimitNext("chat.postMessage", 7)
	f.HTTPErrorNext("chat.postMessage", 500)
	f.DropAfterNext("chat.postMessage")

	post := func(text string) error {
		_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(text, false))
		return err
	}
	if got := slackErr(post("1")); got != "channel_is_archived" {
		t.Errorf("FailNext: %q", got)
	}
	var rl *slack.RateLimitedError
	if err := post("2"); !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Errorf("RateLimitNext: %v", err)
	}
	var sc slack.StatusCodeError
	if err := post("3"); !errors.As(err, &sc) || sc.Code != 500 {
		t.Errorf("HTTPErrorNext: %v", err)
	}
	if err := post("4"); err == nil {
		t.Error("DropAfterNext: no error")
	}
	if err := post("5"); err != nil {
		t.Errorf("after faults: %v", err)
	}
	msgs := f.Messages("C1")
	if len(msgs) != 2 || msgs[0].Text != "4" || msgs[1].Text != "5" {
		t.Errorf("recorded: %+v", msgs)
	}
	if n := f.Calls("chat.postMessage"); n != 5 {
		t.Errorf("calls: %d", n)
	}
	// faults are per method
	f.FailNext("users.info", "fatal_error")
	if _, err := api.GetUserInfoContext(ctx, "U1"); slackErr(err) != "fatal_error" {
		t.Errorf("users.info fault: %v", err)
	}
	if u, err := api.GetUserInfoContext(ctx, "U1"); err != nil || u.Name != "alice" || u.RealName != "Alice Liddell" || u.Profile.RealName != "Alice Liddell" {
		t.Errorf("users.info: %+v %v", u, err)
	}
	if _, err := api.GetUserInfoContext(ctx, "U9"); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
}

// client runs a real socketmode client against the fake.
type client struct {
	t  *testing.T
	sm *socketmode.Client
}

func startClient(t *testing.T, f *slackfake.Server) *client {
	t.Helper()
	sm := socketmode.New(newAPI(f))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sm.RunContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &client{t: t, sm: sm}
}

// next returns the next event of type typ, skipping connection life-cycle events.
func (c *client) next(typ socketmode.EventType) socketmode.Event {
	c.t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev := <-c.sm.Events:
			switch ev.Type {
			case typ:
				return ev
			case socketmode.EventTypeConnecting, socketmode.EventTypeConnected, socketmode.EventTypeHello,
				socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError:
				continue
			default:
				c.t.Fatalf("want %s, got %s: %+v", typ, ev.Type, ev.Data)
			}
		case <-timeout.C:
			c.t.Fatalf("timeout waiting for %s", typ)
		}
	}
}

func (c *client) nextEventsAPI() (slackevents.EventsAPIEvent, *socketmode.Request) {
	c.t.Helper()
	ev := c.next(socketmode.EventTypeEventsAPI)
	return ev.Data.(slackevents.EventsAPIEvent), ev.Request
}

func TestSocketMessageEventAndAck(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	// Sent before any client connects: queued.
	ts, envID := f.UserPost("C1", "U1", "", "hello bot")
	if f.Pending() != 1 {
		t.Errorf("pending: %d", f.Pending())
	}
	c := startClient(t, f)
	if err := f.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	ev, req := c.nextEventsAPI()
	if req.EnvelopeID != envID || req.RetryAttempt != 0 {
		t.Errorf("envelope: %+v", req)
	}
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner: %T", ev.InnerEvent.Data)
	}
	if msg.Channel != "C1" || msg.User != "U1" || msg.Text != "hello bot" || msg.TimeStamp != ts || msg.ChannelType != "channel" || msg.SubType != "" || msg.ThreadTimeStamp != "" || msg.BotID != "" {
		t.Errorf("message event: %+v", msg)
	}
	cb := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if cb.EventID == "" || cb.TeamID != slackfake.TeamID || f.EventID(envID) != cb.EventID {
		t.Errorf("callback: %+v", cb)
	}
	if f.Acked(envID) {
		t.Error("acked before ack")
	}
	c.sm.Ack(*req)
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}

	// The bot's own posts come back as events with bot_id.
	_, botTS, err := newAPI(f).PostMessageContext(ctx, "C1", slack.MsgOptionText("from bot", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	ev, req = c.nextEventsAPI()
	msg = ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if msg.BotID != slackfake.BotID || msg.User != slackfake.BotUserID || msg.TimeStamp != botTS || msg.ThreadTimeStamp != ts {
		t.Errorf("echo: %+v", msg)
	}
	c.sm.Ack(*req)

	// Redelivery of the same event.
	env2, err := f.SendEvent(map[string]any{"type": "message", "channel": "C1", "user": "U2", "text": "x", "ts": "1700000001.000000"}, "EvSAME", 0)
	if err != nil {
		t.Fatal(err)
	}
	env3, err := f.SendEvent(json.RawMessage(`{"type":"message","channel":"C1","user":"U2","text":"x","ts":"1700000001.000000"}`), "EvSAME", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{env2, env3} {
		ev, req := c.nextEventsAPI()
		if req.EnvelopeID != want || req.RetryAttempt != i || ev.Data.(*slackevents.EventsAPICallbackEvent).EventID != "EvSAME" {
			t.Errorf("redelivery %d: %+v", i, req)
		}
		c.sm.Ack(*req, map[string]any{"n": i})
	}
	if p, err := f.WaitAck(ctx, env3); err != nil || string(p) != `{"n":1}` {
		t.Errorf("ack payload: %s %v", p, err)
	}
	if _, err := f.SendEvent(map[string]any{"no": "type"}, "", 0); err == nil {
		t.Error("SendEvent without type accepted")
	}
	// Reactions.
	envR := f.AddReaction("C1", ts, "U2", "eyes")
	ev, req = c.nextEventsAPI()
	ra, ok := ev.InnerEvent.Data.(*slackevents.ReactionAddedEvent)
	if !ok || ra.Reaction != "eyes" || ra.User != "U2" || ra.Item.Channel != "C1" || ra.Item.Timestamp != ts || ra.ItemUser != "U1" || req.EnvelopeID != envR {
		t.Errorf("reaction_added: %+v", ev.InnerEvent.Data)
	}
	c.sm.Ack(*req)
	if m, _ := f.Message("C1", ts); len(m.Reactions["eyes"]) != 1 {
		t.Errorf("reaction not recorded: %+v", m)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.WaitFor(waitCtx, func(s *slackfake.Server) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor timeout: %v", err)
	}
}

func TestReactionsAPI(t *testing.T) {
	f := newFake(t)
	f.EchoBotMessages = false
	api := newAPI(f)
	ts, _ := f.UserPost("C1", "U1", "", "mail")
	ref := slack.NewRefToMessage("C1", ts)
	if err := api.AddReaction("eyes", ref); err != nil {
		t.Fatal(err)
	}
	if got := slackErr(api.AddReaction("eyes", ref)); got != "already_reacted" {
		t.Errorf("twice: %q", got)
	}
	if m, _ := f.Message("C1", ts); len(m.Reactions["eyes"]) != 1 || m.Reactions["eyes"][0] != slackfake.BotUserID {
		t.Errorf("reactions: %+v", m.Reactions)
	}
	if err := api.RemoveReaction("eyes", ref); err != nil {
		t.Fatal(err)
	}
	if got := slackErr(api.RemoveReaction("eyes", ref)); got != "no_reaction" {
		t.Errorf("remove twice: %q", got)
	}
	if got := slackErr(api.AddReaction("eyes", slack.NewRefToMessage("C1", "1.000001"))); got != "message_not_found" {
		t.Errorf("unknown message: %q", got)
	}
	if f.Pending() != 1 { // only the UserPost event
		t.Errorf("EchoBotMessages=false still queued events: %d", f.Pending())
	}
	members, _, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: "C1"})
	if err != nil || strings.Join(members, ",") != "U1,U2,UBOT" {
		t.Errorf("members: %v %v", members, err)
	}
	f.AddChannel("C1", "U1")
	members, _, _ = api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: "C1"})
	if strings.Join(members, ",") != "U1" {
		t.Errorf("members after change: %v", members)
	}
	if _, err := api.PostEphemeral("C1", "U2", slack.MsgOptionText("psst", false)); slackErr(err) != "user_not_in_channel" {
		t.Errorf("ephemeral to non-member: %v", err)
	}
	if _, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("psst", false)); err != nil {
		t.Fatal(err)
	}
	if e := f.Ephemerals(); len(e) != 1 || e[0].User != "U1" || e[0].Text != "psst" || e[0].Via != "chat.postEphemeral" {
		t.Errorf("ephemerals: %+v", e)
	}
	if len(f.Messages("C1")) != 1 {
		t.Error("ephemeral recorded as message")
	}
}

func TestSlashCommandAndBlockAction(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)

	envID := f.SlashCommand("U1", "C1", "status  now")
	ev := c.next(socketmode.EventTypeSlashCommand)
	cmd := ev.Data.(slack.SlashCommand)
	if cmd.Command != "/inbox" || cmd.Text != "status  now" || cmd.UserID != "U1" || cmd.UserName != "alice" || cmd.ChannelID != "C1" || cmd.ResponseURL == "" || cmd.TriggerID == "" {
		t.Errorf("slash command: %+v", cmd)
	}
	c.sm.Ack(*ev.Request, map[string]any{"text": "working on it"})
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}
	// response_url posts (slack-go posts JSON there).
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("done", false)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel), slack.MsgOptionText("for all", false)); err != nil {
		t.Fatal(err)
	}
	eph := f.Ephemerals()
	if len(eph) != 2 || eph[0].Via != "ack" || eph[0].Text != "working on it" || eph[1].Via != "response_url" || eph[1].Text != "done" || eph[1].User != "U1" || eph[1].Channel != "C1" {
		t.Errorf("ephemerals: %+v", eph)
	}
	// in_channel response is a bot message (and echoed as an event).
	if ms := f.Messages("C1"); len(ms) != 1 || ms[0].Text != "for all" || ms[0].BotID != slackfake.BotID {
		t.Errorf("in_channel: %+v", ms)
	}
	_, req := c.nextEventsAPI()
	c.sm.Ack(*req)

	// A bot message with a button and a users_select in a thread.
	parentTS, _ := f.UserPost("C1", "U2", "", "mail")
	_, req = c.nextEventsAPI()
	c.sm.Ack(*req)
	_, msgTS, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionTS(parentTS), slack.MsgOptionText("actions", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("acts",
			slack.NewButtonBlockElement("claim", "mail-42", slack.NewTextBlockObject(slack.PlainTextType, "Claim", false, false)),
			slack.NewOptionsSelectBlockElement(slack.OptTypeUser, slack.NewTextBlockObject(slack.PlainTextType, "Assign", false, false), "assign"),
		)))
	if err != nil {
		t.Fatal(err)
	}
	_, req = c.nextEventsAPI() // echo
	c.sm.Ack(*req)

	envB := f.BlockAction("U1", "C1", msgTS, "", "claim", "mail-42", "")
	ev = c.next(socketmode.EventTypeInteractive)
	cb := ev.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("callback: %+v", cb)
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "claim" || a.BlockID != "acts" || a.Value != "mail-42" || a.Type != "button" {
		t.Errorf("action: %+v", a)
	}
	if cb.Container.ThreadTs != parentTS || cb.Container.MessageTs != msgTS || cb.Container.ChannelID != "C1" || cb.Channel.ID != "C1" || cb.User.ID != "U1" {
		t.Errorf("container: %+v channel %+v user %+v", cb.Container, cb.Channel, cb.User)
	}
	if cb.Message.Timestamp != msgTS || cb.ResponseURL == "" || cb.TriggerID == "" {
		t.Errorf("message/response_url: %+v", cb.Message.Msg)
	}
	c.sm.Ack(*ev.Request)
	if _, err := f.WaitAck(ctx, envB); err != nil {
		t.Fatal(err)
	}
	// replace_original through response_url updates the message.
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("claimed by alice", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", msgTS); m.Text != "claimed by alice" || m.Updates != 1 || m.Blocks != nil {
		t.Errorf("replaced: %+v", m)
	}
	_, req = c.nextEventsAPI() // message_changed echo
	c.sm.Ack(*req)

	f.BlockAction("U1", "C1", msgTS, parentTS, "assign", "", "U2")
	ev = c.next(socketmode.EventTypeInteractive)
	cb = ev.Data.(slack.InteractionCallback)
	a = cb.ActionCallback.BlockActions[0]
	if a.ActionID != "assign" || a.SelectedUser != "U2" || a.Type != "users_select" || cb.Container.ThreadTs != parentTS {
		t.Errorf("users_select: %+v", a)
	}
	c.sm.Ack(*ev.Request)

	// App Home.
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Your inbox", false, false), nil, nil),
	}}}
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home}); err != nil {
		t.Fatal(err)
	}
	if v := f.HomeViews()["U1"]; !strings.Contains(string(v), "Your inbox") {
		t.Errorf("home view: %s", v)
	}
	envH := f.AppHomeOpened("U1")
	evA, req := c.nextEventsAPI()
	ho, ok := evA.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	if !ok || ho.User != "U1" || ho.Tab != "home" || ho.View == nil || ho.View.Type != slack.VTHomeTab {
		t.Errorf("app_home_opened: %+v", evA.InnerEvent.Data)
	}
	c.sm.Ack(*req)
	if _, err := f.WaitAck(ctx, envH); err != nil {
		t.Fatal(err)
	}
	if bad := f.BadFrames(); len(bad) != 0 {
		t.Errorf("bad frames: %v", bad)
	}
}

func TestReconnect(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	c := startClient(t, f)
	if err := f.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	f.DropSocket() // slack-go reconnects at once, so Connected() may already be true again
	_, envID := f.UserPost("C1", "U1", "", "after drop")
	err := f.WaitFor(ctx, func(s *slackfake.Server) bool { return s.Connects() == 2 && s.Connected() })
	if err != nil {
		t.Fatal(err)
	}
	_, req := c.nextEventsAPI()
	if req.EnvelopeID != envID {
		t.Errorf("envelope after reconnect: %s", req.EnvelopeID)
	}
	c.sm.Ack(*req)
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("apps.connections.open"); n != 2 {
		t.Errorf("apps.connections.open calls: %d", n)
	}
	// Slack-requested disconnect also reconnects.
	f.SendDisconnect("refresh_requested")
	if err := f.WaitFor(ctx, func(s *slackfake.Server) bool { return s.Connects() == 3 && s.Connected() }); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f.Close()
}

func TestExtras(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)
	ack := func() *slackevents.MessageEvent {
		t.Helper()
		ev, req := c.nextEventsAPI()
		c.sm.Ack(*req)
		m, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
		if !ok {
			t.Fatalf("not a message event: %T", ev.InnerEvent.Data)
		}
		return m
	}

	parent, _ := f.UserPost("C1", "U1", "", "parent")
	ack()
	_, bc, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("broadcast", false), slack.MsgOptionTS(parent), slack.MsgOptionBroadcast())
	if err != nil {
		t.Fatal(err)
	}
	if m := ack(); m.SubType != "thread_broadcast" || m.ThreadTimeStamp != parent {
		t.Errorf("broadcast echo: %+v", m)
	}
	h, _ := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if len(h.Messages) != 2 || h.Messages[0].Timestamp != bc || h.Messages[0].SubType != "thread_broadcast" {
		t.Errorf("history with broadcast: %+v", h.Messages)
	}

	// bot edits -> message_changed echo
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", bc, slack.MsgOptionText("edited", false)); err != nil {
		t.Fatal(err)
	}
	if m := ack(); m.SubType != "message_changed" || m.Message == nil || m.Message.Text != "edited" || m.Message.BotID != slackfake.BotID ||
		m.PreviousMessage == nil || m.PreviousMessage.Text != "broadcast" {
		t.Errorf("message_changed: %+v", m)
	}
	// human edits / deletes
	f.UserEdit("C1", parent, "parent v2")
	if m := ack(); m.SubType != "message_changed" || m.Message.Text != "parent v2" || m.Message.Timestamp != parent {
		t.Errorf("user edit: %+v", m)
	}
	if _, _, err := api.DeleteMessageContext(ctx, "C1", bc); err != nil {
		t.Fatal(err)
	}
	if m := ack(); m.SubType != "message_deleted" || m.DeletedTimeStamp != bc {
		t.Errorf("message_deleted: %+v", m)
	}
	if _, _, err := api.DeleteMessageContext(ctx, "C1", parent); slackErr(err) != "cant_delete_message" {
		t.Errorf("delete human message: %v", err)
	}

	// file_share
	ts, _ := f.SendMessageEvent(slackfake.MessageEvent{Channel: "C1", User: "U2", Text: "see file", SubType: "file_share", Record: true,
		Extra: map[string]any{"files": []map[string]any{{"id": "F1", "name": "a.pdf"}}}})
	if m := ack(); m.SubType != "file_share" || m.TimeStamp != ts || len(m.Message.Files) != 1 || m.Message.Files[0].ID != "F1" {
		t.Errorf("file_share: %+v", m)
	}
	if m, ok := f.Message("C1", ts); !ok || m.Subtype != "file_share" {
		t.Errorf("file_share not recorded: %+v", m)
	}

	// DMs, lookup, info, permalink
	f.SetUserEmail("U1", "Alice@Example.com")
	u, err := api.GetUserByEmailContext(ctx, "alice@example.com")
	if err != nil || u.ID != "U1" {
		t.Errorf("lookupByEmail: %+v %v", u, err)
	}
	dm, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U2"}})
	if err != nil || dm.ID != "DU2" {
		t.Fatalf("conversations.open: %+v %v", dm, err)
	}
	if _, _, err := api.PostMessageContext(ctx, dm.ID, slack.MsgOptionText("hi", false)); err != nil {
		t.Fatal(err)
	}
	if m := ack(); m.ChannelType != "im" {
		t.Errorf("dm echo: %+v", m)
	}
	f.SetChannelName("C1", "inbox")
	info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C1"})
	if err != nil || info.Name != "inbox" || !info.IsMember || info.NumMembers != 3 {
		t.Errorf("conversations.info: %+v %v", info, err)
	}
	link, err := api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C1", Ts: parent})
	if err != nil || !strings.HasSuffix(link, "/archives/C1/p"+strings.ReplaceAll(parent, ".", "")) {
		t.Errorf("permalink: %q %v", link, err)
	}

	// views.publish hash
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}
	v, err := api.PublishView("U1", home, "")
	if err != nil || v.Hash == "" || v.ID == "" {
		t.Fatalf("publish: %+v %v", v, err)
	}
	if _, err := api.PublishView("U1", home, "stale"); slackErr(err) != "hash_conflict" {
		t.Errorf("hash conflict: %v", err)
	}
	if _, err := api.PublishView("U1", home, v.Hash); err != nil {
		t.Errorf("publish with hash: %v", err)
	}

	// delete_original via a block action's response_url
	_, btn, _ := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("btn", false))
	ack()
	f.BlockAction("U1", "C1", btn, "", "x", "v", "")
	ev := c.next(socketmode.EventTypeInteractive)
	c.sm.Ack(*ev.Request)
	cb := ev.Data.(slack.InteractionCallback)
	if cb.ActionCallback.BlockActions[0].BlockID == "" {
		t.Error("no block_id for unknown element")
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionDeleteOriginal(cb.ResponseURL)); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Message("C1", btn); ok {
		t.Error("delete_original did not delete")
	}
	if m := ack(); m.SubType != "message_deleted" {
		t.Errorf("delete_original echo: %+v", m)
	}
}
