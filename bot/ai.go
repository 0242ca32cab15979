package bot

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Summaries and draft replies from a model the team runs: off unless
// Config.AI names an endpoint and a model. The endpoint is an
// OpenAI-compatible chat-completions URL (Ollama, llama.cpp's server, vLLM,
// LocalAI, or a hosted service): one POST of JSON, answered with JSON, so
// no SDK is needed.
//
// What leaves is the thread's mail text (threadText): the subject, the
// customer's name and address, the text of the mails posted in the thread
// and of the agents' replies, with their authors' names. Internal notes,
// workflow lines, and anything outside the thread are not sent. Nothing a
// model writes reaches a customer by itself: a summary is shown only to
// whoever asked for it, and a draft fills the composer, which sends only
// when a person presses Send.

const (
	actCardAI   = "card_ai" // the card's AI menu; option values "summarize:N", "draft:N"
	aiSummarize = "summarize"
	aiDraft     = "draft"
	// maxTranscript bounds the thread text sent to the model (a small
	// local model's context is a few thousand tokens).
	maxTranscript = 24000
	// maxAIAnswer bounds what is read of the endpoint's answer.
	maxAIAnswer = 1 << 20
)

const summaryPrompt = `You summarize a customer support conversation for the support team.
Write at most five short lines of plain text: what the customer wants, what the team answered,
and what is still open or promised. Do not invent anything that is not in the conversation.`

func draftPrompt(team, agent string) string {
	return fmt.Sprintf(`You draft the next email reply of a customer support team (%s), to be sent by %s.
Write only the body of the email, in the customer's language: a greeting, the answer, a closing line.
No subject line and no signature (one is added). Be brief and polite. Do not invent facts, prices,
dates or promises: where something is not known from the conversation, write a placeholder in
square brackets, like [order number].`, team, agent)
}

// aiOn reports whether summaries and drafts are configured.
func (b *Bot) aiOn() bool { return b.cfg.AI.URL != "" && b.cfg.AI.Model != "" }

// cardExtras are the card's elements after its buttons: the AI menu, when on.
func (b *Bot) cardExtras(c *store.Conversation) []slack.BlockElement {
	if !b.aiOn() {
		return nil
	}
	v := convValue(c.Num)
	return []slack.BlockElement{slack.NewOverflowBlockElement(actCardAI,
		slack.NewOptionBlockObject(aiSummarize+":"+v, plain("✨ Summarize the thread"), nil),
		slack.NewOptionBlockObject(aiDraft+":"+v, plain("✨ Draft a reply"), nil),
	)}
}

// aiClick handles the card's AI menu.
func (b *Bot) aiClick(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) (string, error) {
	value := cmp.Or(a.SelectedOption.Value, a.Value) // a menu option, or a button
	what, arg, _ := strings.Cut(value, ":")
	num, err := parseConvValue(arg)
	if err != nil || (what != aiSummarize && what != aiDraft) {
		b.log.Warn("unknown AI menu option", "value", value)
		return "", nil
	}
	if !b.aiOn() {
		return "Summaries and drafts are off: AI_URL and AI_MODEL are not set.", nil
	}
	c, answer, err := b.clickConv(ctx, cb.User.ID, num)
	if c == nil {
		return answer, err
	}
	if what == aiDraft {
		return b.draft(ctx, cb, c)
	}
	return b.summarize(ctx, cb, c)
}

// summarize shows the clicker a summary of c's thread, privately.
func (b *Bot) summarize(ctx context.Context, cb slack.InteractionCallback, c *store.Conversation) (string, error) {
	model := b.cfg.AI.Model
	b.respond(ctx, cb.ResponseURL, cb.User.ID, fmt.Sprintf("✨ Summarizing #%d with %s…", c.Num, escape(model)))
	transcript, err := b.threadText(ctx, c)
	if err != nil {
		return fmt.Sprintf(":warning: No summary of #%d: its thread could not be read (%v).", c.Num, err), nil
	}
	summary, err := b.aiChat(ctx, summaryPrompt, transcript)
	if err != nil {
		b.log.Warn("summary failed", "conv", c.Num, "err", err)
		return fmt.Sprintf(":warning: No summary of #%d: %s.", c.Num, escape(err.Error())), nil
	}
	b.log.Info("thread summarized", "conv", c.Num, "by", cb.User.ID)
	head := fmt.Sprintf("✨ *Summary of #%d* by %s, made from the thread's text: check the thread before relying on it.", c.Num, escape(model))
	blocks := []slack.Block{
		slack.NewContextBlock("", mrkdwn(head)),
		slack.NewSectionBlock(plain(cut(summary, sectionMax)), nil, nil),
	}
	b.private(ctx, cb, c, head+"\n"+escape(cut(summary, sectionMax)), blocks)
	return "", nil
}

// private shows the clicker blocks through the click's response_url, or
// else as an ephemeral in c's channel.
func (b *Bot) private(ctx context.Context, cb slack.InteractionCallback, c *store.Conversation, text string, blocks []slack.Block) {
	if cb.ResponseURL != "" {
		_, _, err := b.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		if err == nil {
			return
		}
		b.log.Warn("response_url answer failed", "err", err)
	}
	b.tell(ctx, b.channelOf(c), "", cb.User.ID, text, blocks)
}

// draft opens the composer at once (the click's trigger is good for 3
// seconds), then fills it with the model's draft.
func (b *Bot) draft(ctx context.Context, cb slack.InteractionCallback, c *store.Conversation) (string, error) {
	model := b.cfg.AI.Model
	cm, err := b.newComposer(c)
	if err != nil {
		return "", err
	}
	cm.note = fmt.Sprintf("✨ %s is drafting a reply from the thread's text…", model)
	v, err := b.api.OpenViewContext(ctx, cb.TriggerID, cm.view())
	if err != nil {
		return openFailed(err), nil
	}
	agent := b.userName(ctx, cb.User.ID)
	transcript, err := b.threadText(ctx, c)
	var text string
	if err == nil {
		text, err = b.aiChat(ctx, draftPrompt(cmp.Or(cm.in.Name, cm.in.Address), cmp.Or(agent, "an agent")), transcript)
	}
	if err != nil {
		b.log.Warn("draft failed", "conv", c.Num, "err", err)
		// The editor keeps its block: whatever was typed meanwhile stays.
		cm.note = fmt.Sprintf("⚠️ No draft: %v. Write the reply yourself.", err)
	} else {
		cm.text, cm.meta.Fill = text, cm.meta.Fill+1
		cm.note = fmt.Sprintf("✨ Drafted by %s from the thread's text: read and correct it. Nothing is sent until you press Send.", model)
		b.log.Info("reply drafted", "conv", c.Num, "by", cb.User.ID)
	}
	if _, err := b.api.UpdateViewContext(ctx, cm.view(), "", v.Hash, v.ID); err != nil {
		// Closed, sent, or changed (a saved reply picked) meanwhile.
		b.log.Info("draft not shown: the composer was closed or changed", "conv", c.Num, "err", err)
	}
	return "", nil
}

// ---- the endpoint ----------------------------------------------------------

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
	Stream      bool          `json:"stream"`
}

type chatResponse struct {
	Choices []struct {
		Message chatMessage `json:"message"`
	} `json:"choices"`
}

// aiChat asks the model, with the system prompt, about prompt, and returns
// its answer. Errors say what went wrong in words for the user (never the
// key).
func (b *Bot) aiChat(parent context.Context, system, prompt string) (string, error) {
	timeout := cmp.Or(b.cfg.AI.Timeout, 2*time.Minute)
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	body, err := json.Marshal(chatRequest{
		Model:    b.cfg.AI.Model,
		Messages: []chatMessage{{Role: "system", Content: system}, {Role: "user", Content: prompt}},
		// Summaries and drafts should stick to the thread.
		Temperature: 0.2,
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.AI.URL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("AI_URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if b.cfg.AI.Key != "" {
		req.Header.Set("Authorization", "Bearer "+b.cfg.AI.Key)
	}
	failed := func(what string, err error) error {
		switch {
		case parent.Err() != nil:
			return parent.Err()
		case ctx.Err() != nil:
			return fmt.Errorf("the model did not answer within %s", timeout)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return "", failed("the AI endpoint cannot be reached", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAIAnswer))
	if err != nil {
		return "", failed("reading the AI endpoint's answer", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("the AI endpoint answered %s: %s", resp.Status, endpointError(data))
	}
	var out chatResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("the AI endpoint's answer is not a chat completion (%v)", err)
	}
	var text string
	if len(out.Choices) > 0 {
		text = cleanModelText(out.Choices[0].Message.Content)
	}
	if text == "" {
		return "", errors.New("the model answered nothing")
	}
	return text, nil
}

// endpointError is what an error answer says.
func endpointError(data []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && len(e.Error) > 0 {
		var msg struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(e.Error, &msg) == nil && msg.Message != "":
			return cut(msg.Message, 300)
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return cut(s, 300)
		}
	}
	return cut(strings.TrimSpace(string(data)), 300)
}

// thinking is the reasoning some models put before their answer.
var thinking = regexp.MustCompile(`(?s)^\s*<think>.*?</think>`)

func cleanModelText(s string) string {
	return strings.TrimSpace(thinking.ReplaceAllString(s, ""))
}

// ---- what is sent ------------------------------------------------------------

// threadText is what the model is given of conversation c: its subject and
// customer, then, oldest first, the mails and the agents' replies in its
// thread, without notes and workflow lines. A long thread keeps its first
// entry and as many of the latest as fit in maxTranscript.
func (b *Bot) threadText(ctx context.Context, c *store.Conversation) (string, error) {
	if c.RootTS == "" {
		return "", errors.New("it is not posted yet")
	}
	head := fmt.Sprintf("Subject: %s\nCustomer: %s", c.Subject, c.Customer.String())
	var entries []string
	cursor := ""
	for page := 0; page < 10; page++ {
		var msgs []slack.Message
		var more bool
		err := b.paced(ctx, readKey, func() (err error) {
			msgs, more, cursor, err = b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: b.channelOf(c), Timestamp: c.RootTS, Cursor: cursor, Limit: 200,
			})
			return err
		})
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if e := b.threadEntry(ctx, c, m); e != "" {
				entries = append(entries, e)
			}
		}
		if !more || cursor == "" {
			break
		}
	}
	return capTranscript(head, entries, maxTranscript), nil
}

// threadEntry is one message of c's thread as the model sees it ("" for
// what is not mail: notes, workflow lines, marks).
func (b *Bot) threadEntry(ctx context.Context, c *store.Conversation, m slack.Message) string {
	names := func(id string) string { return b.userName(ctx, id) }
	switch {
	case m.Timestamp == c.RootTS:
		// The card: its preview is the whole first mail unless cut, and
		// then the thread has it all.
		if strings.TrimSpace(c.Preview) == "" || previewCut(c) {
			return ""
		}
		return "Mail from " + c.Customer.String() + ":\n" + c.Preview
	case m.BotID != "":
		text := strings.TrimSpace(blocksText(m.Blocks))
		if text == "" {
			return "" // a line about the workflow or a reply's fate
		}
		if hasBlock(m.Blocks, composedBlockID) {
			return "Reply by " + strings.TrimSuffix(m.Username, " via inboxbot") + ":\n" + text
		}
		return "Mail:\n" + text
	case m.User == "" || (m.SubType != "" && m.SubType != "thread_broadcast") || isNote(m.Text):
		return ""
	}
	return "Reply by " + cmp.Or(names(m.User), "an agent") + ":\n" + slackToPlain(m.Text, names)
}

// capTranscript joins head and entries, leaving out entries after the
// first, oldest first, until it fits in max bytes (the latest entry is
// always kept; if even that is too long, the end is kept).
func capTranscript(head string, entries []string, max int) string {
	parts := []string{head}
	if len(entries) > 0 {
		first := cut(entries[0], max/2)
		budget := max - len(head) - len(first) - 4 - 48 // separators, the line saying what is left out
		keep, used := len(entries), 0
		for keep > 1 {
			n := len(entries[keep-1]) + 2
			if used+n > budget && keep < len(entries) {
				break
			}
			used += n
			keep--
		}
		parts = append(parts, first)
		if skipped := keep - 1; skipped > 0 {
			parts = append(parts, fmt.Sprintf("[%d earlier messages left out]", skipped))
		}
		parts = append(parts, entries[keep:]...)
	}
	out := strings.Join(parts, "\n\n")
	if len(out) > max {
		i := len(out) - max
		for i < len(out) && !utf8.RuneStart(out[i]) {
			i++
		}
		out = out[i:]
	}
	return out
}

// hasBlock reports whether blocks has one with block_id id.
func hasBlock(bs slack.Blocks, id string) bool {
	for _, blk := range bs.BlockSet {
		if blk.ID() == id {
			return true
		}
	}
	return false
}

// blocksText is the text a message's blocks show, whatever their kind
// (sections, context, rich text), without buttons and the line under a
// composed reply.
func blocksText(bs slack.Blocks) string {
	var parts []string
	for _, blk := range bs.BlockSet {
		if blk.ID() == composedBlockID {
			continue
		}
		raw, err := json.Marshal(blk)
		if err != nil {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if t := nodeText(v); strings.TrimSpace(t) != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n")
}

// nodeText is the text of a block, element or text object in JSON form.
func nodeText(v any) string {
	join := func(items any, sep string) string {
		var parts []string
		list, _ := items.([]any)
		for _, e := range list {
			if t := nodeText(e); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, sep)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	typ, _ := m["type"].(string)
	text, _ := m["text"].(string)
	switch typ {
	case "plain_text", "text":
		return text
	case "mrkdwn":
		return slackToPlain(text, func(string) string { return "" })
	case "link":
		url, _ := m["url"].(string)
		return cmp.Or(text, url)
	case "rich_text_section", "rich_text_preformatted", "rich_text_quote":
		return join(m["elements"], "")
	case "actions", "input", "image", "divider", "button", "overflow", "file":
		return ""
	}
	var parts []string
	if t := nodeText(m["text"]); t != "" {
		parts = append(parts, t)
	}
	for _, k := range []string{"fields", "elements"} {
		if t := join(m[k], "\n"); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n")
}
