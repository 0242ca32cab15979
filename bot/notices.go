package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/inboxbot/inboxbot/store"
)

// runNotice posts a notice at the top of the channel, exactly once, like
// any other job part (recorded before and after, looked up after a crash).
func (b *Bot) runNotice(ctx context.Context, j *store.SlackJob) error {
	channel := ""
	if in := b.byID[j.Notice.Inbox]; in != nil {
		channel = in.Channel
	} else if len(b.cfg.Inboxes) > 0 {
		channel = b.cfg.Inboxes[0].Channel
	}
	if channel == "" {
		b.log.Warn("notice dropped: no inbox channel", "part", j.Notice.Part)
		return b.st.FinishSlackJob(j.Seq)
	}
	if err := b.postTop(ctx, j, channel); err != nil {
		return err
	}
	b.log.Info("notice posted", "part", j.Notice.Part, "resolved", j.Notice.Resolved)
	if err := b.st.FinishSlackJob(j.Seq); err != nil {
		return err
	}
	b.noticePosted(j.Notice)
	return nil
}

// postTop posts the parts of a job that is in no conversation at the top
// of channel, each exactly once.
func (b *Bot) postTop(ctx context.Context, j *store.SlackJob, channel string) error {
	posts := b.jobPosts(nil, j)
	for j.Done < len(posts) {
		if _, err := b.postPart(ctx, j, channel, "", posts[j.Done]); err != nil {
			return err
		}
		if err := b.st.SlackPartDone(j.Seq, j.Done, channel, ""); err != nil {
			return err
		}
		j.Done++
		j.Attempting = false
	}
	return nil
}

// slackDate shows t in each reader's own time zone, with fallback text for
// clients that cannot.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// noticeText says what stopped working since when, and what to change; or
// that it works again. Error texts come from servers: escaped.
func noticeText(n *store.Notice) string {
	if n == nil {
		return "inboxbot notice"
	}
	if n.Resolved {
		return fmt.Sprintf(":white_check_mark: %s works again (it failed from %s).", escape(n.Part), slackDate(n.Since))
	}
	text := fmt.Sprintf(":rotating_light: %s since %s: %s", escape(n.Problem), slackDate(n.Since), escape(n.Error))
	if n.Fix != "" {
		text += "\nTo fix: " + escape(n.Fix)
	}
	return text + "\ninboxbot keeps retrying and says so here once it works again."
}

// stillTryingText tells a thread its reply is late, and why.
func stillTryingText(j *store.SlackJob) string {
	return escape(fmt.Sprintf("⏳ This reply is not sent to %s yet: %s. inboxbot keeps trying; this thread hears when it is sent or given up.", j.To, j.Error))
}
