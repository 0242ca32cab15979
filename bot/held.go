package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// The hold window, Slack side. A reply is queued held (intake.go); this
// file drives held replies on their durable timer (the job's HoldUntil, in
// the store): when one falls due, its Slack message is read again — an edit
// or a deletion may have been missed while inboxbot was down, and Slack's
// redeliveries stop after a few minutes — and only then is it released to
// the sender, or cancelled, or its author asked about a collision. A
// restart anywhere in between just means the look is taken again.
//
// Its author sees, privately, whom it will go to, with Send now and Cancel;
// when the collision guard holds it back, they are asked to Send anyway or
// Cancel. The buttons carry "conv:seq" and act for the author only.

// Action IDs of the buttons on replies' private messages.
const (
	actSendNow    = "reply_send_now"
	actSendAnyway = "reply_send_anyway"
	actCancel     = "reply_cancel"
)

// holdQueue drives held replies until ctx is done, on the bot's clock: hold
// windows and questions' expiry are business time, and the store stamps
// questions with the same clock.
func (b *Bot) holdQueue(ctx context.Context) {
	store.DriveOn(ctx, b.cfg.Now, b.st.HeldKick(), b.log, b.drainHeld)
}

// drainHeld handles every held reply that is due and returns when the next
// one falls due. The outbox is read a slice at a time, like the sender's.
func (b *Bot) drainHeld(ctx context.Context) (time.Time, error) {
	var next store.Soonest
	var failed error
	err := b.st.MailJobsEach(func(j *store.MailJob) bool {
		if j.Held {
			failed = b.driveHeld(ctx, j, &next)
		}
		return failed == nil
	})
	if err = cmp.Or(err, failed); err != nil {
		return time.Time{}, err
	}
	return next.Time(), nil
}

// driveHeld does what is due of held reply j, and offers next the time to
// look at it again. An error stops the drain (the store, or ctx).
func (b *Bot) driveHeld(ctx context.Context, j *store.MailJob, next *store.Soonest) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := b.cfg.Now()
	if q := j.Question; q != nil {
		if !q.Notified && !b.ask(ctx, j) {
			next.At(now.Add(5 * time.Second))
		}
		if now.Before(q.Expires) {
			next.At(q.Expires)
			return nil
		}
		done, err := b.st.ExpireQuestion(j.Seq)
		switch {
		case err != nil:
			return err
		case !done:
			next.At(now.Add(time.Second)) // answered meanwhile, or not expired yet by the store's look
		default:
			b.log.Info("held reply's question unanswered: cancelled", "conv", j.Conv, "seq", j.Seq)
		}
		return nil
	}
	if j.HoldUntil.After(now) {
		next.At(j.HoldUntil)
		return nil
	}
	err := b.release(ctx, j)
	var ny *notYet
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &ny):
		next.At(ny.until)
	default:
		b.log.Warn("held reply not released yet: cannot read its Slack message", "conv", j.Conv, "seq", j.Seq, "err", err)
		next.At(now.Add(5 * time.Second))
	}
	return nil
}

// release takes the fresh look at a held reply's Slack message and
// releases, cancels or holds it back with a question.
func (b *Bot) release(ctx context.Context, j *store.MailJob) error {
	conv, err := b.st.Conv(j.Conv)
	if err != nil {
		return err
	}
	msg, found, err := b.readMessage(ctx, j.Channel, conv.RootTS, j.SlackTS)
	if err != nil {
		return err
	}
	log := b.log.With("conv", j.Conv, "seq", j.Seq)
	var cancel, why string
	var look store.Look
	switch {
	case !found:
		cancel = store.EventDeleted
	case j.Composed:
		// The bot's own post: nobody can edit it, and its text is what
		// the composer recorded.
		look = store.Look{Text: j.Text, Recipients: j.Recipients, EditedTS: j.EditedTS, QuestionTTL: b.cfg.QuestionTTL}
	case isNote(msg.Text):
		cancel = store.EventNote
	default:
		files := mailFiles(msg.Files)
		var bad string
		look, bad = readReply(b.inboxOf(conv), b.plainText(ctx, msg.Text), j.AgentName, len(files) > 0)
		if bad != "" {
			cancel, why = store.EventInvalid, bad
		}
		look.Files = files
		if msg.Edited != nil {
			look.EditedTS = msg.Edited.Timestamp
		}
		look.QuestionTTL = b.cfg.QuestionTTL
	}
	if cancel != "" {
		err := b.st.CancelHeld(j.Seq, cancel, why)
		if errors.Is(err, store.ErrNotHeld) {
			return nil
		}
		if err == nil {
			log.Info("held reply cancelled", "why", cancel)
		}
		return err
	}
	job, q, err := b.st.ReleaseReply(j.Seq, look)
	switch {
	case errors.Is(err, store.ErrNotHeld):
		return nil // cancelled or asked meanwhile
	case errors.Is(err, store.ErrBlocked):
		log.Info("held reply cancelled: its recipient was blocked meanwhile", "why", err)
		return nil
	case err != nil:
		return err
	case q != nil:
		log.Info("held reply not sent: its author is asked (collision)", "clashes", len(q.Why))
		b.ask(ctx, job)
		return nil
	}
	log.Info("held reply released", "edited", look.EditedTS != "")
	return nil
}

// readReply turns a reply's plain text (plainText) into the mail's text
// (signed) and its recipient changes; bad says why it cannot be sent. A
// reply with files may have no text.
func readReply(in *Inbox, plainText, agent string, files bool) (store.Look, string) {
	body, rcpt, bad := parseRecipients(plainText)
	if bad == "" && body == "" && !files {
		bad = "there is no text besides the recipient lines"
	}
	return store.Look{Text: signed(in, body, agent), Recipients: rcpt}, bad
}

// readMessage reads one reply of a thread as Slack has it now; found is
// false when it is gone.
func (b *Bot) readMessage(ctx context.Context, channel, root, ts string) (slack.Message, bool, error) {
	var msgs []slack.Message
	err := b.pace.do(readKey, func() (err error) {
		msgs, _, _, err = b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: root, Oldest: ts, Latest: ts, Inclusive: true, Limit: 10,
		})
		return err
	})
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "thread_not_found" {
		return slack.Message{}, false, nil
	}
	if err != nil {
		return slack.Message{}, false, err
	}
	for _, m := range msgs {
		if m.Timestamp == ts && m.SubType != "tombstone" {
			return m, true, nil
		}
	}
	return slack.Message{}, false, nil
}

// ---- what the author sees ---------------------------------------------------

func replyValue(conv, seq uint64) string { return fmt.Sprintf("%d:%d", conv, seq) }

func parseReplyValue(v string) (conv, seq uint64, err error) {
	c, s, ok := strings.Cut(v, ":")
	if ok {
		if conv, err = strconv.ParseUint(c, 10, 64); err == nil {
			seq, err = strconv.ParseUint(s, 10, 64)
		}
	}
	if !ok || err != nil || conv == 0 || seq == 0 {
		return 0, 0, fmt.Errorf("not a reply button value: %q", v)
	}
	return conv, seq, nil
}

// slackTime shows t in each reader's own time zone.
func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{time_secs}|%s>", t.Unix(), t.UTC().Format("15:04:05 UTC"))
}

// ago says how long before now t was, roughly.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
}

func replyButtons(conv, seq uint64, sendID, sendLabel string) slack.Block {
	v := replyValue(conv, seq)
	send := slack.NewButtonBlockElement(sendID, v, plain(sendLabel))
	send.Style = slack.StylePrimary
	cancel := slack.NewButtonBlockElement(actCancel, v, plain("Cancel"))
	cancel.Style = slack.StyleDanger
	return slack.NewActionBlock(fmt.Sprintf("reply:%d", seq), send, cancel)
}

// preview tells a held reply's author, privately, whom it will go to and
// when, with Send now and Cancel.
func (b *Bot) preview(ctx context.Context, conv *store.Conversation, j *store.MailJob, in *Inbox) {
	undo := "Edit your message to change it, delete it or click Cancel to stop it."
	if j.Composed {
		undo = "Click Cancel to stop it."
	}
	head := fmt.Sprintf(":hourglass_flowing_sand: Your reply in #%d goes out at %s (in %s). %s",
		conv.Num, slackTime(j.HoldUntil), j.HoldUntil.Sub(b.cfg.Now()).Round(time.Second), undo)
	if conv.Assignee != "" && conv.Assignee != j.AgentID {
		head += fmt.Sprintf("\n:warning: #%d belongs to <@%s>.", conv.Num, conv.Assignee)
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(head), nil, nil),
		slack.NewContextBlock("", plain(cut(recipientsLine(j.To, j.Cc), sectionMax))),
	}
	if in != nil && strings.TrimSpace(in.Signature) != "" {
		blocks = append(blocks, slack.NewContextBlock("", plain(cut("Signature:\n"+strings.ReplaceAll(in.Signature, "{agent}", j.AgentName), sectionMax))))
	}
	blocks = append(blocks, replyButtons(conv.Num, j.Seq, actSendNow, "Send now"))
	b.tell(ctx, j.Channel, conv.RootTS, j.AgentID, head, blocks) // the hourglass says it all the same
}

// ask shows a held reply's author what happened while it was held, with
// Send anyway and Cancel, and records that they were shown it; it reports
// whether they were. Until then the driver asks again, and a crash before
// the record shows it again: twice is better than never (unanswered, the
// reply is cancelled).
func (b *Bot) ask(ctx context.Context, j *store.MailJob) bool {
	conv, err := b.st.Conv(j.Conv)
	if err != nil || j.Question == nil {
		return false
	}
	now := b.cfg.Now()
	var why []string
	for _, c := range j.Question.Why {
		switch {
		case c.Customer:
			why = append(why, fmt.Sprintf("%s wrote again %s", escape(c.Who), ago(c.At, now)))
		case c.State == store.ReplyHeld:
			why = append(why, fmt.Sprintf("<@%s> is replying too (written %s)", c.Who, ago(c.At, now)))
		default:
			why = append(why, fmt.Sprintf("<@%s> replied %s", c.Who, ago(c.At, now)))
		}
	}
	text := fmt.Sprintf(":raised_hand: Your reply in #%d was NOT sent: %s. Send it anyway, or cancel it? Unanswered, it is cancelled at %s.",
		conv.Num, strings.Join(why, "; "), slackTime(j.Question.Expires))
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewContextBlock("", plain(cut(recipientsLine(j.To, j.Cc), sectionMax))),
		replyButtons(conv.Num, j.Seq, actSendAnyway, "Send anyway"),
	}
	if err := b.tell(ctx, j.Channel, conv.RootTS, j.AgentID, text, blocks); err != nil {
		return false
	}
	if err := b.st.QuestionShown(j.Seq); err != nil && !errors.Is(err, store.ErrNotHeld) {
		b.log.Warn("recording a question as shown", "seq", j.Seq, "err", err)
	}
	return true
}

// tell shows user an ephemeral message in a thread (a direct message when
// they are not in the channel).
func (b *Bot) tell(ctx context.Context, channel, thread, user, text string, blocks []slack.Block) error {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, err := b.api.PostEphemeralContext(ctx, channel, user, opts...)
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "user_not_in_channel" {
		_, _, err = b.api.PostMessageContext(ctx, user, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	}
	if err != nil {
		b.log.Warn("private message to a reply's author failed", "user", user, "err", err)
	}
	return err
}

// replyButton handles Send now, Send anyway and Cancel. Only the reply's
// author may use them; a click on a reply that is no longer held says what
// became of it. The answer replaces the private message clicked.
func (b *Bot) replyButton(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	answer := b.replyButtonAnswer(ctx, cb.User.ID, a)
	if answer == "" {
		return
	}
	if cb.ResponseURL != "" {
		// Replace the private message clicked; a click on anything else
		// (there is nothing else with these buttons) gets a private answer.
		opt := slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral)
		if cb.Container.IsEphemeral {
			opt = slack.MsgOptionReplaceOriginal(cb.ResponseURL)
		}
		_, _, err := b.api.PostMessageContext(ctx, "", opt, slack.MsgOptionText(answer, false))
		if err == nil {
			return
		}
		b.log.Warn("response_url answer failed", "err", err)
	}
	b.ephemeral(ctx, cb.Channel.ID, cb.User.ID, answer)
}

func (b *Bot) replyButtonAnswer(ctx context.Context, user string, a *slack.BlockAction) string {
	num, seq, err := parseReplyValue(a.Value)
	if err != nil {
		b.log.Warn("unknown reply button", "action", a.ActionID, "err", err)
		return ""
	}
	var j *store.MailJob
	if a.ActionID == actCancel {
		j, err = b.st.CancelReply(seq, user)
	} else {
		j, err = b.st.SendNow(seq, user)
	}
	switch {
	case errors.Is(err, store.ErrNotAuthor):
		author := ""
		if cur, _ := b.st.MailJob(seq); cur != nil {
			author = cur.AgentID
		}
		return fmt.Sprintf("Only <@%s>, who wrote this reply, can send or cancel it.", author)
	case errors.Is(err, store.ErrNotHeld):
		return b.fate(num, seq)
	case err != nil:
		return fmt.Sprintf("Sorry, that did not work: %v. Please try again.", err)
	case a.ActionID == actCancel:
		b.log.Info("held reply cancelled by its author", "conv", j.Conv, "seq", seq)
		return fmt.Sprintf(":no_entry_sign: Cancelled: your reply in #%d will not be sent.", num)
	}
	b.log.Info("held reply sent now by its author", "conv", j.Conv, "seq", seq, "anyway", a.ActionID == actSendAnyway)
	return fmt.Sprintf(":outbox_tray: Sending your reply in #%d now.", num)
}

// fate says what became of a reply that is no longer held.
func (b *Bot) fate(num, seq uint64) string {
	c, err := b.st.Conv(num)
	if err != nil {
		return "This reply is not waiting any more."
	}
	for _, r := range c.Replies {
		if r.Seq != seq {
			continue
		}
		switch r.State {
		case store.ReplyQueued:
			return fmt.Sprintf("This reply is already on its way (since %s).", slackTime(r.At))
		case store.ReplySent:
			return fmt.Sprintf("This reply was already sent at %s.", slackTime(r.At))
		case store.ReplyBounced:
			return fmt.Sprintf("This reply was sent, then bounced: %s", escape(r.Why))
		case store.ReplyFailed:
			return fmt.Sprintf("This reply could not be sent: %s", escape(r.Why))
		case store.ReplyCancelled:
			return "This reply was cancelled: it was not sent."
		}
	}
	return "This reply is not waiting any more."
}
