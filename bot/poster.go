package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// postQueue drains the store's mail → Slack queue until ctx is done. Jobs
// are handled in order; a job that cannot be posted now holds back only the
// later jobs of its own conversation (and pacing, those of its channel), so
// one broken mail does not stall the inbox, and a conversation's mails never
// overtake each other. After the jobs, parked events are looked at again
// and marked cards refreshed.
func (b *Bot) postQueue(ctx context.Context) {
	store.Drive(ctx, b.st.SlackKick(), b.log, b.drainSlack)
}

const pageSize = 64 // jobs read per transaction

func (b *Bot) drainSlack(ctx context.Context) (time.Time, error) {
	var next store.Soonest
	blocked := map[uint64]bool{}
	var seq uint64
	for {
		jobs, err := b.st.SlackJobsAfter(seq, pageSize)
		if err != nil {
			return time.Time{}, err
		}
		if len(jobs) == 0 {
			break
		}
		for i := range jobs {
			j := &jobs[i]
			seq = j.Seq
			if blocked[j.Conv] {
				continue
			}
			if j.NextAttempt.After(time.Now()) {
				blocked[j.Conv] = true
				next.At(j.NextAttempt)
				continue
			}
			err := b.runJob(ctx, j)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return time.Time{}, ctx.Err()
			}
			blocked[j.Conv] = true
			var ny *notYet
			if errors.As(err, &ny) {
				next.At(ny.until) // paced or rate limited: not the job's fault
				continue
			}
			wait := retryDelay(j.Attempts + 1)
			b.log.Warn("slack post failed, will retry", "conv", j.Conv, "job", j.Seq, "part", j.Done, "err", err, "in", wait)
			var lookup *lookupError
			var pending *unresolvedUpload
			unknown := errors.As(err, &lookup) || errors.As(err, &pending) || outcomeUnknown(err)
			if err := b.st.RetrySlackJob(j.Seq, time.Now().Add(wait), err.Error(), unknown, true); err != nil {
				return time.Time{}, err
			}
			next.At(time.Now().Add(wait))
		}
	}
	if err := b.replayParked(ctx); err != nil {
		b.log.Warn("parked events", "err", err)
	}
	select {
	case b.resolved <- struct{}{}:
	default:
	}
	next.At(b.refreshCards(ctx))
	return next.Time(), nil
}

// pointerText tells an inbox's channel that a mail it received is a
// conversation of the inbox that received it first.
func (b *Bot) pointerText(conv *store.Conversation, j *store.SlackJob) string {
	what := "A mail"
	if m := j.Mail; m != nil {
		what = escape(fmt.Sprintf("A mail from %s (“%s”)", cut(m.From.String(), 200), cut(m.Subject, 100)))
	}
	to := escape(conv.Inbox)
	if in := b.inboxOf(conv); in != nil {
		to = escape(in.Address)
	}
	where := fmt.Sprintf("#%d", conv.Num)
	if link := b.permalink(conv.Channel, conv.RootTS); link != "" {
		where = fmt.Sprintf("<%s|#%d>", link, conv.Num)
	}
	return fmt.Sprintf(":link: %s reached %s too: it is conversation %s in <#%s>, replies go out from %s.",
		what, to, where, b.channelOf(conv), to)
}

// retryDelay is the wait after a failed attempt: 1 s doubling to 5 min.
func retryDelay(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// outcomeUnknown reports whether a failed call may have been carried out
// by Slack all the same (the answer was lost). A Slack error answer or a
// rate limit means it was not.
func outcomeUnknown(err error) bool {
	var se slack.SlackErrorResponse
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	switch {
	case errors.As(err, &se), errors.As(err, &rl):
		return false
	case errors.As(err, &sc):
		return sc.Code >= 500 || sc.Code == http.StatusRequestTimeout
	}
	return true
}

// refused reports whether Slack answered that it will not take this
// message as it is (so retrying the same content is pointless).
func refused(err error) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_arguments",
		"too_many_attachments", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large":
		return true
	}
	return false
}

// runJob carries out the remaining parts of a job, recording each, then
// what follows them (marks on the agent's message).
func (b *Bot) runJob(ctx context.Context, j *store.SlackJob) error {
	switch j.Kind { // not in a conversation
	case store.JobNotice:
		return b.runNotice(ctx, j)
	case store.JobDigest:
		return b.runDigest(ctx, j)
	case store.JobDM:
		return b.runDM(ctx, j) // not in the channel
	}
	conv, err := b.st.Conv(j.Conv)
	if err != nil {
		return err
	}
	channel := b.channelOf(conv)
	if j.Inbox != "" {
		channel = ""
		if in := b.byID[j.Inbox]; in != nil {
			channel = in.Channel
		}
	}
	if channel == "" {
		return fmt.Errorf("conversation %d belongs to inbox %q, which is not configured", conv.Num, cmp.Or(j.Inbox, conv.Inbox))
	}
	posts := b.jobPosts(conv, j)
	for j.Done < len(posts) {
		p := posts[j.Done]
		thread := conv.RootTS
		if p.root || p.top {
			thread = ""
		} else if thread == "" {
			// Jobs of a conversation run in order, so its root comes first.
			return fmt.Errorf("conversation %d has no root message yet", conv.Num)
		}
		if p.file != nil {
			again, err := b.filePart(ctx, j, channel, thread, p.file)
			if err != nil {
				return err
			}
			if again {
				posts = b.jobPosts(conv, j) // the part is a line now
			}
			continue
		}
		ts, err := b.postPart(ctx, j, channel, thread, p)
		if err != nil {
			return err
		}
		root := ""
		if p.root {
			root, conv.RootTS, conv.Channel = ts, ts, channel
		}
		if j.Kind == store.JobComposed {
			err = b.composedPosted(ctx, conv, j, channel, ts)
		} else {
			err = b.st.SlackPartDone(j.Seq, j.Done, channel, root)
		}
		if err != nil {
			return err
		}
		j.Done++
		j.Attempting = false
	}
	if err := b.mark(ctx, channel, j); err != nil {
		return err
	}
	if j.Kind == store.JobMail {
		b.mailPosted(j) // metrics and the log line
	}
	if err := b.st.FinishSlackJob(j.Seq); err != nil {
		return err
	}
	b.dropMailFiles(j.Mail)
	return nil
}

// jobPosts renders the messages a job posts. It depends only on the job
// and the conversation, so part n is the same message on every attempt.
func (b *Bot) jobPosts(conv *store.Conversation, j *store.SlackJob) []post {
	switch j.Kind {
	case store.JobPointer:
		return []post{{top: true, text: b.pointerText(conv, j)}}
	case store.JobMail:
		var card []slack.Block
		if j.NewConv {
			card = b.card(conv)
		}
		return mailPosts(conv, j, card, b.attachMax(conv))
	case store.JobReminder:
		return []post{{text: b.reminderText(conv, j)}}
	case store.JobComposed:
		return composedPosts(j)
	case store.JobActivity:
		if j.Change != nil {
			// A customer's answer to a conversation the team had left
			// (closed, waiting, on hold) is easy to miss in its thread:
			// the line saying it is open again shows in the channel too.
			back := j.Change.Action == store.ActReopen && j.Change.By == ""
			return []post{{text: activityText(conv, j.Change), broadcast: back}}
		}
	case store.JobFailed:
		if j.Forward {
			return []post{{text: escape(fmt.Sprintf("⚠️ The forward to %s was NOT sent: %s", j.To, j.Error))}}
		}
		return []post{{text: escape(fmt.Sprintf("⚠️ This reply was NOT sent to %s: %s", j.To, j.Error))}}
	case store.JobSent:
		if j.Forward {
			return []post{{text: fmt.Sprintf(":arrow_right_hook: <@%s> forwarded the latest mail of #%d to %s", j.By, conv.Num, escape(j.To))}}
		}
	case store.JobCancelled, store.JobReplyLine, store.JobBounced:
		return []post{{text: replyLine(j)}}
	case store.JobCompose:
		return []post{
			{root: true, text: rootFallback(conv), blocks: b.card(conv)},
			{text: fmt.Sprintf(":writing_hand: <@%s> started this conversation with %s. The first reply in this thread is the first email "+
				"(`note:` and `//` stay internal, as everywhere); the answer lands here.", j.By, escape(conv.Customer.String()))},
		}
	case store.JobStillTrying:
		return []post{{text: stillTryingText(j)}}
	case store.JobNotice:
		return []post{{text: noticeText(j.Notice)}}
	case store.JobDigest:
		return []post{{top: true, text: j.Text}}
	}
	return nil
}

// Marks on an agent's reply: its fate, visible on the reply itself.
const (
	markHeld      = "hourglass_flowing_sand"
	markSent      = "email"
	markFailed    = "x"
	markCancelled = "no_entry_sign"
)

// mark puts a reply's fate on it: each step is idempotent, so a job
// interrupted between two is simply done again.
func (b *Bot) mark(ctx context.Context, channel string, j *store.SlackJob) error {
	var off, on string
	switch j.Kind {
	case store.JobHeld:
		on = markHeld
	case store.JobSent:
		off, on = markHeld, markSent
	case store.JobFailed:
		off, on = markHeld, markFailed
	case store.JobCancelled:
		off, on = markHeld, markCancelled
	case store.JobBounced:
		if j.Event == "" {
			off, on = markSent, markFailed
		}
	}
	if off != "" {
		if err := b.unreact(ctx, channel, j.ReplyTS, off); err != nil {
			return err
		}
	}
	if on != "" {
		return b.react(ctx, channel, j.ReplyTS, on)
	}
	return nil
}

// unreact takes the bot's reaction off a message; one not there (or a
// message gone) is fine.
func (b *Bot) unreact(ctx context.Context, channel, ts, name string) error {
	if ts == "" {
		return nil
	}
	return b.pace.do(reactKey, func() error {
		err := b.api.RemoveReactionContext(ctx, name, slack.NewRefToMessage(channel, ts))
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "no_reaction" || se.Err == "message_not_found") {
			return nil
		}
		return err
	})
}

// react adds a reaction to a message; one already there is fine.
func (b *Bot) react(ctx context.Context, channel, ts, name string) error {
	if ts == "" {
		return nil
	}
	return b.pace.do(reactKey, func() error {
		err := b.api.AddReactionContext(ctx, name, slack.NewRefToMessage(channel, ts))
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "already_reacted" || se.Err == "message_not_found") {
			return nil
		}
		return err
	})
}

// lookupError is a failed search for the outcome of an earlier attempt: the
// attempt stays unresolved.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return "looking for an earlier attempt: " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// postPart posts part j.Done of a job exactly once: the attempt is recorded
// before the call, and an attempt left unfinished by a crash (or a lost
// answer) is looked up in Slack (by its metadata) before anything is posted
// again.
func (b *Bot) postPart(ctx context.Context, j *store.SlackJob, channel, thread string, p post) (string, error) {
	if j.Attempting {
		ts, err := b.findPost(ctx, j.Seq, j.Done, channel, thread)
		var ny *notYet
		if errors.As(err, &ny) {
			return "", err
		}
		if err != nil {
			return "", &lookupError{err}
		}
		if ts != "" {
			b.log.Info("found post of an interrupted attempt", "job", j.Seq, "part", j.Done, "ts", ts)
			return ts, nil
		}
	}
	key := postKey(channel)
	if until := b.pace.take(key); !until.IsZero() {
		return "", &notYet{key: key, until: until}
	}
	if err := b.st.BeginSlackPart(j.Seq, j.Done, channel, p.root); err != nil {
		return "", err
	}
	j.Attempting = true
	opts := func(text string, blocks []slack.Block) []slack.MsgOption {
		o := []slack.MsgOption{
			slack.MsgOptionText(text, false),
			slack.MsgOptionDisableLinkUnfurl(),
			slack.MsgOptionDisableMediaUnfurl(),
			slack.MsgOptionMetadata(postMeta(j.Seq, j.Done)),
		}
		if len(blocks) > 0 {
			o = append(o, slack.MsgOptionBlocks(blocks...))
		}
		if thread != "" {
			o = append(o, slack.MsgOptionTS(thread))
			if p.broadcast {
				o = append(o, slack.MsgOptionBroadcast())
			}
		}
		if p.username != "" {
			o = append(o, slack.MsgOptionUsername(p.username))
		}
		if p.icon != "" {
			o = append(o, slack.MsgOptionIconURL(p.icon))
		}
		return o
	}
	_, ts, err := b.api.PostMessageContext(ctx, channel, opts(p.text, p.blocks)...)
	if err != nil && refused(err) && len(p.blocks) > 0 {
		// Slack will not take the rendering: fall back to text that
		// says so rather than never showing the mail.
		b.log.Warn("slack refused blocks, posting as text", "job", j.Seq, "err", err)
		fallback := cut(p.text, 3000) + "\n⚠️ Slack refused the full rendering of this message (" + err.Error() + ")."
		_, ts, err = b.api.PostMessageContext(ctx, channel, opts(fallback, nil)...)
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		// Slack took nothing: the attempt is over, and the channel waits.
		until := b.pace.limitedUntil(key, rl.RetryAfter)
		if rerr := b.st.RetrySlackJob(j.Seq, until, err.Error(), false, false); rerr != nil {
			return "", rerr
		}
		return "", &notYet{key: key, until: until, err: err}
	}
	return ts, err
}

// findPost looks for a message carrying the metadata of (seq, part): among
// the channel's latest top-level messages (newest first: an interrupted post
// is recent), or among the thread's replies.
func (b *Bot) findPost(ctx context.Context, seq uint64, part int, channel, thread string) (string, error) {
	cursor := ""
	for page := 0; page < 10; page++ {
		var msgs []slack.Message
		var more bool
		err := b.pace.do(readKey, func() error {
			var err error
			if thread == "" {
				var r *slack.GetConversationHistoryResponse
				r, err = b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
					ChannelID: channel, Cursor: cursor, Limit: 200, IncludeAllMetadata: true,
				})
				if r != nil {
					msgs, more, cursor = r.Messages, r.HasMore, r.ResponseMetaData.NextCursor
				}
			} else {
				msgs, more, cursor, err = b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
					ChannelID: channel, Timestamp: thread, Cursor: cursor, Limit: 200, IncludeAllMetadata: true,
				})
			}
			return err
		})
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if s, p, ok := parsePostMeta(m.Metadata); ok && s == seq && p == part {
				return m.Timestamp, nil
			}
		}
		if !more || cursor == "" {
			return "", nil
		}
	}
	return "", nil
}
