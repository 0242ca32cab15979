package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// The reply composer. The card's Reply button opens a modal: whom the
// reply goes to, the inbox's saved replies (picking one fills the editor,
// placeholders replaced), a multi-line editor (Enter makes a new line
// there, so an accidental Enter sends nothing) and Send.
//
// Slack does not deliver a view submission again, and the modal closing
// tells the agent it is done: the reply is recorded (store.ComposeReply)
// before the submission is acked. The poster then posts it in the thread in
// the agent's name ("Alice via inboxbot", which needs chat:write.customize),
// exactly once like every post, and, in the transaction that records that
// post, queues it as if the agent had typed it (store.ComposedPosted). From
// there it is a typed reply: held from the post's time, marked, previewed
// with Send now and Cancel, checked for collisions. The intake ignores the
// bot's own posts, so it is not taken a second time.

// Action IDs and callback ID of the composer.
const (
	actReplyCompose = "reply_compose" // the card's Reply button; value: the conversation
	actComposeSaved = "compose_saved" // the composer's saved-reply menu
	actComposeText  = "compose_text"  // the composer's editor
	composeCallback = "compose_reply" // callback_id of the composer
	// composedBlockID marks the line under a composed reply's post.
	composedBlockID = "composed"
	// composeMax is what the editor takes: Slack's cap for a
	// plain_text_input (and what one section block shows).
	composeMax = 3000
)

// composerMeta is the composer's private_metadata.
type composerMeta struct {
	Conv uint64 `json:"conv"`
	// Fill counts the times the bot replaced the editor's text: the
	// editor's block_id changes with it, because Slack keeps what the
	// user typed in an input whose block_id stays the same.
	Fill int `json:"fill,omitempty"`
}

func editorBlockID(fill int) string { return fmt.Sprintf("compose_text_%d", fill) }

// composer is what the modal shows.
type composer struct {
	conv  *store.Conversation
	in    *Inbox
	to    store.Address
	cc    []store.Address
	saved []store.SavedReply
	text  string // in the editor
	note  string // a line above the editor
	meta  composerMeta
}

// newComposer gathers what the composer of conversation c shows.
func (b *Bot) newComposer(c *store.Conversation) (*composer, error) {
	in := b.inboxOf(c)
	if in == nil {
		return nil, fmt.Errorf("#%d belongs to an inbox that is not configured any more", c.Num)
	}
	to, cc, err := b.st.ReplyRecipients(c.Num, store.Recipients{})
	if err != nil {
		return nil, err
	}
	saved, err := b.st.SavedReplies(in.ID)
	if err != nil {
		return nil, err
	}
	return &composer{conv: c, in: in, to: to, cc: cc, saved: saved, meta: composerMeta{Conv: c.Num}}, nil
}

func (cm *composer) view() slack.ModalViewRequest {
	c := cm.conv
	blocks := []slack.Block{
		slack.NewContextBlock("", plain(cut(fmt.Sprintf("#%d · %s", c.Num, cmp.Or(c.Subject, "(no subject)")), sectionMax))),
		slack.NewContextBlock("", plain(cut(recipientsLine(cm.to, cm.cc), sectionMax)),
			plain("A first line \"to: ADDRESS\" or \"cc: ADDRESS, -ADDRESS\" changes them for this reply.")),
	}
	if len(cm.saved) > 0 {
		var opts []*slack.OptionBlockObject
		for _, r := range cm.saved {
			opts = append(opts, slack.NewOptionBlockObject(r.Name, plain(cut(r.Name, 75)), nil))
		}
		pick := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose one"), actComposeSaved, opts...)
		blocks = append(blocks, slack.NewSectionBlock(plain("Insert a saved reply"), nil, slack.NewAccessory(pick), slack.SectionBlockOptionBlockID("saved")))
	} else {
		blocks = append(blocks, slack.NewContextBlock("", plain("No saved replies yet: /inbox replies add NAME TEXT saves one.")))
	}
	if cm.note != "" {
		blocks = append(blocks, slack.NewContextBlock("", plain(cut(cm.note, sectionMax))))
	}
	editor := slack.NewPlainTextInputBlockElement(plain("Write the email to the customer. Enter starts a new line; only Send sends it."), actComposeText)
	editor.Multiline, editor.MaxLength, editor.FocusOnLoad = true, composeMax, true
	editor.InitialValue = cut(cm.text, composeMax)
	hint := "Posted in this conversation's thread in your name, then emailed like a reply typed there"
	if d := cm.in.SendDelay; d > 0 {
		hint += fmt.Sprintf(" (held %s: Send now and Cancel until then)", d)
	}
	if strings.TrimSpace(cm.in.Signature) != "" {
		hint += ", with the inbox's signature"
	}
	blocks = append(blocks, slack.NewInputBlock(editorBlockID(cm.meta.Fill), plain("Reply"), plain(hint+"."), editor))
	meta, _ := json.Marshal(cm.meta)
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: composeCallback, PrivateMetadata: string(meta),
		Title: plain(cut(fmt.Sprintf("Reply to #%d", c.Num), 24)), Submit: plain("Send"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// clickConv is the conversation a click names, if user may work on it;
// otherwise nil and the answer to give.
func (b *Bot) clickConv(ctx context.Context, user string, num uint64) (*store.Conversation, string, error) {
	c, err := b.st.Conv(num)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Sprintf("There is no conversation #%d.", num), nil
	} else if err != nil {
		return nil, "", err
	}
	ok, err := b.mayWork(ctx, user, c)
	if err != nil || !ok {
		return nil, refusal(b.channelOf(c)), err
	}
	return c, "", nil
}

// composeClick opens the composer of the conversation whose Reply button
// user clicked.
func (b *Bot) composeClick(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) (string, error) {
	num, err := parseConvValue(a.Value)
	if err != nil {
		b.log.Warn("unknown Reply button", "err", err)
		return "", nil
	}
	c, answer, err := b.clickConv(ctx, cb.User.ID, num)
	if c == nil {
		return answer, err
	}
	cm, err := b.newComposer(c)
	if err != nil {
		return "", err
	}
	if _, err := b.api.OpenViewContext(ctx, cb.TriggerID, cm.view()); err != nil {
		return openFailed(err), nil
	}
	return "", nil
}

// openFailed is the answer when views.open failed.
func openFailed(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "expired_trigger_id" || se.Err == "exchanged_trigger_id") {
		return "Slack took too long to open the composer: click Reply again."
	}
	return fmt.Sprintf("The composer could not be opened: %v. Click Reply again, or reply in the thread.", err)
}

// editorText is the editor's text in a view as Slack sent it, and its
// block_id ("" when the view has no editor).
func editorText(v slack.View) (text, blockID string) {
	if v.State == nil {
		return "", ""
	}
	for bid, actions := range v.State.Values {
		if a, ok := actions[actComposeText]; ok {
			return a.Value, bid
		}
	}
	return "", ""
}

// insertSaved puts the saved reply picked in the composer into its editor,
// placeholders replaced, after what is there already.
func (b *Bot) insertSaved(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	var meta composerMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil {
		return fmt.Errorf("composer metadata: %w", err)
	}
	user := cb.User.ID
	c, answer, err := b.clickConv(ctx, user, meta.Conv)
	if c == nil {
		if answer != "" {
			b.ephemeral(ctx, b.channelOfNum(meta.Conv), user, answer)
		}
		return err
	}
	cm, err := b.newComposer(c)
	if err != nil {
		return err
	}
	cm.meta = meta
	cm.text, _ = editorText(cb.View)
	name := a.SelectedOption.Value
	r, err := b.st.SavedReply(cm.in.ID, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cm.note = fmt.Sprintf("The saved reply %q was removed meanwhile.", name)
	case err != nil:
		return err
	default:
		filled := fillSaved(r.Text, c, b.userName(ctx, user))
		if strings.TrimSpace(cm.text) != "" {
			filled = strings.TrimRight(cm.text, "\n") + "\n\n" + filled
		}
		cm.text = filled
		cm.meta.Fill++
	}
	_, err = b.api.UpdateViewContext(ctx, cm.view(), "", cb.View.Hash, cb.View.ID)
	return err
}

// channelOfNum is the channel of conversation num ("" unknown).
func (b *Bot) channelOfNum(num uint64) string {
	if c, err := b.st.Conv(num); err == nil {
		return b.channelOf(c)
	}
	return ""
}

// composeText reads the composer's text like a typed reply: recipient
// lines, then the body, signed. bad says why it cannot be sent.
func composeText(in *Inbox, text, agent string) (store.Look, string) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	switch {
	case text == "":
		return store.Look{}, "The reply is empty: write something to send."
	case isNote(text):
		return store.Look{}, "This starts like a note (note: or //), which is never emailed: take that out, or post the note in the thread."
	}
	body, rcpt, bad := parseRecipients(text)
	switch {
	case bad != "":
		return store.Look{}, "Not sent: " + strings.ReplaceAll(bad, "`", "\"") + "."
	case body == "":
		return store.Look{}, "There is no text besides the recipient lines."
	}
	return store.Look{Text: signed(in, body, agent), Recipients: rcpt}, ""
}

// viewSubmission handles Send in the composer and returns the ack: nil
// closes the modal (the reply is recorded), errors keep it open saying
// what is wrong. Nothing is acked as done that is not committed.
func (b *Bot) viewSubmission(ctx context.Context, cb slack.InteractionCallback) (any, error) {
	if cb.View.CallbackID != composeCallback {
		return nil, nil
	}
	user := cb.User.ID
	text, blockID := editorText(cb.View)
	if blockID == "" {
		b.log.Warn("composer submitted without its editor", "view", cb.View.ID)
		return nil, nil
	}
	refuse := func(msg string) (any, error) {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockID: msg}), nil
	}
	var meta composerMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Conv == 0 {
		return refuse("This composer is not one inboxbot knows: nothing was sent. Close it and click Reply again.")
	}
	c, err := b.st.Conv(meta.Conv)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(fmt.Sprintf("There is no conversation #%d any more: nothing was sent.", meta.Conv))
	} else if err != nil {
		return refuse(fmt.Sprintf("Not sent: %v. Try again.", err))
	}
	ok, err := b.mayWork(ctx, user, c)
	switch {
	case err != nil:
		return refuse(fmt.Sprintf("Not sent: could not check that you are in the inbox's channel (%v). Try again.", err))
	case !ok:
		b.log.Info("composed reply refused: not a member", "conv", c.Num, "user", user)
		return refuse("Only members of the inbox's channel can reply to its conversations: nothing was sent.")
	}
	in := b.inboxOf(c)
	if in == nil {
		return refuse(fmt.Sprintf("#%d belongs to an inbox that is not configured any more: nothing was sent.", c.Num))
	}
	p, err := b.user(ctx, user)
	if err != nil {
		b.log.Warn("users.info", "user", user, "err", err) // posted under the bot's name
	}
	look, bad := composeText(in, text, p.name)
	if bad != "" {
		return refuse(bad)
	}
	job, err := b.st.ComposeReply(store.ComposedReply{
		ViewID: cb.View.ID, Conv: c.Num, AgentID: user, AgentName: p.name, IconURL: p.icon,
		Shown: strings.TrimSpace(text), Text: look.Text, Recipients: look.Recipients,
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		b.log.Info("composer submitted again: already recorded", "conv", c.Num, "view", cb.View.ID)
		return nil, nil
	case err != nil:
		b.log.Error("composed reply not recorded", "conv", c.Num, "err", err)
		return refuse(fmt.Sprintf("Not sent: it could not be saved (%v). Try again.", err))
	}
	b.log.Info("composed reply recorded", "conv", c.Num, "job", job.Seq, "agent", user)
	return nil, nil
}

// composedPosts renders a composed reply's post: the text as the agent
// wrote it, shown literally, under their name.
func composedPosts(j *store.SlackJob) []post {
	cr := j.Composed
	if cr == nil {
		return nil
	}
	var blocks []slack.Block
	for _, p := range chunks(cr.Shown, sectionMax) {
		blocks = append(blocks, slack.NewSectionBlock(plain(p), nil, nil))
	}
	who := cmp.Or(cr.AgentName, "An agent")
	blocks = append(blocks, slack.NewContextBlock(composedBlockID,
		plain(fmt.Sprintf("✍️ Written by %s in the reply composer: emailed like a reply typed here.", who))))
	username := ""
	if cr.AgentName != "" {
		username = cut(cr.AgentName+" via inboxbot", 80)
	}
	return []post{{text: escape(cut(cr.Shown, 4000)), blocks: blocks, username: username, icon: cr.IconURL}}
}

// composedPosted records a composed reply's post, which queues it as a
// reply, held from the post's time; its author is shown the preview.
func (b *Bot) composedPosted(ctx context.Context, conv *store.Conversation, j *store.SlackJob, channel, ts string) error {
	in := b.inboxOf(conv)
	var hold time.Time
	domain := domainOf(conv.Inbox)
	if in != nil {
		domain = domainOf(in.Address)
		if in.SendDelay > 0 {
			hold = store.TSTime(ts).Add(in.SendDelay)
		}
	}
	job, err := b.st.ComposedPosted(j.Seq, j.Done, channel, ts, hold, newMessageID(conv.Num, domain))
	if err != nil || job == nil {
		return err
	}
	b.log.Info("composed reply queued", "conv", conv.Num, "seq", job.Seq, "agent", job.AgentID, "message_id", job.MessageID, "held", job.Held)
	if job.Held && job.HoldUntil.Sub(b.cfg.Now()) > time.Second {
		b.goRun(ctx, func(ctx context.Context) { b.preview(ctx, conv, job, in) })
	}
	return nil
}
