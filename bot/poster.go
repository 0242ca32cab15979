package bot

import (
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
// later jobs of its own conversation, so one broken mail does not stall the
// inbox, and a conversation's mails never overtake each other.
func (b *Bot) postQueue(ctx context.Context) {
	store.Drive(ctx, b.st.SlackKick(), b.log, b.drainSlack)
}

func (b *Bot) drainSlack(ctx context.Context) (time.Time, error) {
	jobs, err := b.st.SlackJobs()
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	blocked := map[uint64]bool{}
	for i := range jobs {
		j := &jobs[i]
		if blocked[j.Conv] {
			continue
		}
		if j.NextAttempt.After(time.Now()) {
			blocked[j.Conv] = true
			later(j.NextAttempt)
			continue
		}
		if err := b.runJob(ctx, j); err != nil {
			if ctx.Err() != nil {
				return time.Time{}, ctx.Err()
			}
			blocked[j.Conv] = true
			wait := retryDelay(err, j.Attempts+1)
			b.log.Warn("slack post failed, will retry", "conv", j.Conv, "job", j.Seq, "part", j.Done, "err", err, "in", wait)
			if err := b.st.RetrySlackJob(j.Seq, time.Now().Add(wait), err.Error(), outcomeUnknown(err)); err != nil {
				return time.Time{}, err
			}
			later(time.Now().Add(wait))
		}
	}
	return next, nil
}

// retryDelay honours Slack's Retry-After; otherwise 1 s doubling to 5 min.
func retryDelay(err error, attempt int) time.Duration {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		return rl.RetryAfter
	}
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
// what follows them (marks on the agent's message, the card).
func (b *Bot) runJob(ctx context.Context, j *store.SlackJob) error {
	if j.Kind == store.JobNotice {
		return b.runNotice(ctx, j) // not in a conversation
	}
	conv, err := b.st.Conv(j.Conv)
	if err != nil {
		return err
	}
	posts := jobPosts(conv, j)
	for j.Done < len(posts) {
		p := posts[j.Done]
		thread := conv.RootTS
		if p.root {
			thread = ""
		} else if thread == "" {
			// Jobs of a conversation run in order, so its root comes first.
			return fmt.Errorf("conversation %d has no root message yet", conv.Num)
		}
		if err := b.postAndRecord(ctx, j, conv, thread, p); err != nil {
			return err
		}
		j.Done++
		j.Attempting = false
	}
	switch j.Kind {
	case store.JobSent:
		if err := b.react(ctx, j.ReplyTS, "email"); err != nil {
			return err
		}
		// The conversation now waits on the customer.
		err = b.refreshCard(ctx, conv.Num)
	case store.JobFailed:
		err = b.react(ctx, j.ReplyTS, "x")
	case store.JobActivity:
		err = b.refreshCard(ctx, conv.Num)
	}
	if err != nil {
		return err
	}
	if j.Kind == store.JobMail {
		b.mailPosted(j) // metrics and the log line
	}
	return b.st.FinishSlackJob(j.Seq)
}

// jobPosts renders the messages a job posts. It depends only on the job
// and the conversation, so part n is the same message on every attempt.
func jobPosts(conv *store.Conversation, j *store.SlackJob) []post {
	switch j.Kind {
	case store.JobMail:
		return mailPosts(conv, j)
	case store.JobActivity:
		if j.Change != nil {
			return []post{{text: activityText(conv, j.Change)}}
		}
	case store.JobFailed:
		return []post{{text: escape(fmt.Sprintf("⚠️ This reply was NOT sent to %s: %s", j.To, j.Error))}}
	case store.JobStillTrying:
		return []post{{text: stillTryingText(j)}}
	case store.JobNotice:
		return []post{{text: noticeText(j.Notice)}}
	}
	return nil
}

// postAndRecord posts one part and records it. While a root is being posted,
// rootMu is held: a reply in its thread that arrives before the mapping is
// recorded waits for it instead of being taken for a stranger's thread.
func (b *Bot) postAndRecord(ctx context.Context, j *store.SlackJob, conv *store.Conversation, thread string, p post) error {
	if p.root {
		b.rootMu.Lock()
		defer b.rootMu.Unlock()
	}
	ts, err := b.postPart(ctx, j, thread, p)
	if err != nil {
		return err
	}
	root := ""
	if p.root {
		root, conv.RootTS = ts, ts
	}
	return b.st.SlackPartDone(j.Seq, root)
}

// react adds a reaction to a thread message; one already there is fine.
func (b *Bot) react(ctx context.Context, ts, name string) error {
	if ts == "" {
		return nil
	}
	err := b.api.AddReactionContext(ctx, name, slack.NewRefToMessage(b.cfg.Channel, ts))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "already_reacted" || se.Err == "message_not_found") {
		return nil
	}
	return err
}

// postPart posts part j.Done of a job exactly once: the attempt is recorded
// before the call, and an attempt left unfinished by a crash is looked up in
// Slack (by its metadata) before anything is posted again.
func (b *Bot) postPart(ctx context.Context, j *store.SlackJob, thread string, p post) (string, error) {
	if j.Attempting {
		ts, err := b.findPost(ctx, j.Seq, j.Done, thread)
		if err != nil {
			return "", fmt.Errorf("looking for an earlier attempt: %w", err)
		}
		if ts != "" {
			b.log.Info("found post of an interrupted attempt", "job", j.Seq, "part", j.Done, "ts", ts)
			return ts, nil
		}
	}
	if err := b.st.BeginSlackPart(j.Seq); err != nil {
		return "", err
	}
	j.Attempting = true
	opts := []slack.MsgOption{
		slack.MsgOptionText(p.text, false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionMetadata(postMeta(j.Seq, j.Done)),
	}
	if len(p.blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(p.blocks...))
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := b.api.PostMessageContext(ctx, b.cfg.Channel, opts...)
	if err != nil && refused(err) && len(p.blocks) > 0 {
		// Slack will not take the rendering: fall back to text that
		// says so rather than never showing the mail.
		b.log.Warn("slack refused blocks, posting as text", "job", j.Seq, "err", err)
		fallback := cut(p.text, 3000) + "\n⚠️ Slack refused the full rendering of this message (" + err.Error() + ")."
		opts = append(opts[:0], slack.MsgOptionText(fallback, false), slack.MsgOptionDisableLinkUnfurl(),
			slack.MsgOptionDisableMediaUnfurl(), slack.MsgOptionMetadata(postMeta(j.Seq, j.Done)))
		if thread != "" {
			opts = append(opts, slack.MsgOptionTS(thread))
		}
		_, ts, err = b.api.PostMessageContext(ctx, b.cfg.Channel, opts...)
	}
	return ts, err
}

// findPost looks for a message carrying the metadata of (seq, part): among
// the channel's latest top-level messages (newest first: an interrupted post
// is recent), or among the thread's replies.
func (b *Bot) findPost(ctx context.Context, seq uint64, part int, thread string) (string, error) {
	match := func(msgs []slack.Message) string {
		for _, m := range msgs {
			if s, p, ok := parsePostMeta(m.Metadata); ok && s == seq && p == part {
				return m.Timestamp
			}
		}
		return ""
	}
	cursor := ""
	for page := 0; page < 10; page++ {
		var msgs []slack.Message
		var more bool
		var err error
		if thread == "" {
			var r *slack.GetConversationHistoryResponse
			r, err = b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: b.cfg.Channel, Cursor: cursor, Limit: 200, IncludeAllMetadata: true,
			})
			if r != nil {
				msgs, more, cursor = r.Messages, r.HasMore, r.ResponseMetaData.NextCursor
			}
		} else {
			msgs, more, cursor, err = b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: b.cfg.Channel, Timestamp: thread, Cursor: cursor, Limit: 200, IncludeAllMetadata: true,
			})
		}
		if err != nil {
			return "", err
		}
		if ts := match(msgs); ts != "" {
			return ts, nil
		}
		if !more || cursor == "" {
			return "", nil
		}
	}
	return "", nil
}
