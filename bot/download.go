package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// The files of replies (and forwards) go out as attachments. They are part
// of the durable outbox job: the job lists them (Slack file IDs), and this
// driver downloads them with the bot token into the spool once the reply
// is released, then records them as ready; only then does the sender take
// the job. A restart re-downloads what was not recorded, under the same
// names, so a mail never leaves without its files. A file Slack will not
// give (deleted, not readable with the token) fails the reply, with a line
// in its thread, rather than sending it without the file.

// Retries of downloads that failed without an answer (Slack's file host
// down, a full disk): 5 s doubling to half an hour, at most fileAttempts.
const (
	fileRetryBase = 5 * time.Second
	fileAttempts  = 10
)

// fileQueue downloads the files of released replies until ctx is done.
func (b *Bot) fileQueue(ctx context.Context) {
	store.Drive(ctx, b.st.MailKick(), b.log, b.drainFiles)
}

func (b *Bot) drainFiles(ctx context.Context) (time.Time, error) {
	var next store.Soonest
	var failed error
	err := b.st.MailJobsEach(func(j *store.MailJob) bool {
		if failed = ctx.Err(); failed != nil {
			return false
		}
		if j.Held || !j.FilesPending() {
			return true
		}
		if j.NextFileAttempt.After(time.Now()) {
			next.At(j.NextFileAttempt)
			return true
		}
		err := b.fetchFiles(ctx, j)
		var ny *notYet
		switch {
		case err == nil:
		case ctx.Err() != nil:
			failed = ctx.Err()
		case errors.As(err, &ny):
			next.At(ny.until)
		default:
			if failed = b.filesFailed(j, err); failed == nil && !j.NextFileAttempt.IsZero() {
				next.At(j.NextFileAttempt)
			}
		}
		return failed == nil
	})
	if err = cmp.Or(err, failed); err != nil {
		return time.Time{}, err
	}
	return next.Time(), nil
}

// fileError is a download that no retry can fix.
type fileError struct {
	name string
	err  error
}

func (e *fileError) Error() string {
	return fmt.Sprintf("the file %s could not be taken from Slack: %v", e.name, e.err)
}
func (e *fileError) Unwrap() error { return e.err }

// filesFailed records a failed download: a permanent failure (or too many
// temporary ones) fails the reply, which its thread then says.
func (b *Bot) filesFailed(j *store.MailJob, err error) error {
	log := b.log.With("conv", j.Conv, "seq", j.Seq)
	var fe *fileError
	if !errors.As(err, &fe) && j.FileAttempts+1 < fileAttempts {
		wait := fileRetryBase << min(j.FileAttempts, 9)
		wait = min(wait, 30*time.Minute)
		log.Warn("the files of a reply could not be downloaded from Slack; will retry", "err", err, "in", wait)
		j.NextFileAttempt = time.Now().Add(wait)
		return b.st.FileRetry(j.Seq, j.NextFileAttempt, err.Error())
	}
	log.Error("the files of a reply could not be downloaded from Slack: the reply is not sent", "err", err)
	j.NextFileAttempt = time.Time{}
	err = b.st.MailDone(j.Seq, err.Error())
	b.dropOutFiles(j)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// outName is the spool name of file i of outbox job seq.
func outName(seq uint64, i int) string { return fmt.Sprintf("out-%d-%d", seq, i) }

// fetchFiles downloads every file of job j into the spool and records them.
func (b *Bot) fetchFiles(ctx context.Context, j *store.MailJob) error {
	if b.cfg.Spool == nil {
		return &fileError{name: j.Files[0].Name, err: errors.New("inboxbot has no spool to keep files in")}
	}
	files := slices.Clone(j.Files)
	for i := range files {
		f := &files[i]
		if f.URL == "" || f.Name == "" {
			if err := b.fileInfo(ctx, f); err != nil {
				return err
			}
		}
		name := outName(j.Seq, i)
		w, err := b.cfg.Spool.Create(name)
		if err != nil {
			return fmt.Errorf("the file %s: %w", f.Name, err)
		}
		if err := b.api.GetFileContext(ctx, f.URL, w); err != nil {
			w.Abort()
			if downloadRefused(err) {
				return &fileError{name: f.Name, err: err}
			}
			return fmt.Errorf("downloading %s: %w", f.Name, err)
		}
		n, err := w.Commit()
		if err != nil {
			return fmt.Errorf("the file %s: %w", f.Name, err)
		}
		f.Ref, f.Size = name, n
	}
	err := b.st.FilesFetched(j.Seq, files)
	if errors.Is(err, store.ErrNotFound) {
		b.dropOutFiles(j) // cancelled meanwhile
		return nil
	}
	if err == nil {
		b.log.Info("files of a reply downloaded", "conv", j.Conv, "seq", j.Seq, "files", len(files))
	}
	return err
}

// fileInfo fills in a file's download URL (and name) from files.info: a
// forward knows only the IDs of the files it sends on.
func (b *Bot) fileInfo(ctx context.Context, f *store.MailFile) error {
	var info *slack.File
	err := b.pace.do(readKey, func() (err error) {
		info, _, _, err = b.api.GetFileInfoContext(ctx, f.SlackID, 0, 0)
		return err
	})
	name := cmp.Or(f.Name, f.SlackID)
	switch {
	case slackError(err, "file_not_found", "file_deleted"):
		return &fileError{name: name, err: errors.New("it is not in Slack any more")}
	case err != nil:
		return err
	case info.URLPrivateDownload == "":
		return &fileError{name: name, err: errors.New("Slack does not host it (an external file)")}
	}
	f.URL = info.URLPrivateDownload
	f.Name = cmp.Or(f.Name, info.Name)
	if f.Type == "" {
		f.Type = info.Mimetype
	}
	return nil
}

// downloadRefused reports whether Slack refused a download for good: the
// file is gone, or the bot token may not read it (Slack sends it to the
// sign-in page; files:read missing, or a channel the bot is not in).
func downloadRefused(err error) bool {
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return sc.Code == http.StatusNotFound || sc.Code == http.StatusForbidden || sc.Code == http.StatusGone ||
			sc.Code == http.StatusUnauthorized
	}
	// slack-go's own words: the sign-in redirect, and a URL that is not
	// Slack's (it never sends the token elsewhere).
	return strings.Contains(err.Error(), "sign-in page") || strings.Contains(err.Error(), "refusing to send the token")
}

// dropOutFiles removes the spool files of an outbox job.
func (b *Bot) dropOutFiles(j *store.MailJob) {
	for i := range j.Files {
		b.dropSpool(outName(j.Seq, i))
	}
}
