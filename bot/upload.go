package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Uploads into a thread, exactly once. Slack's external upload flow has
// three steps: files.getUploadURLExternal gives a file ID and a URL, the
// bytes are POSTed there, files.completeUploadExternal shares the file in
// the thread. The part is recorded as attempted before the first step
// (store.BeginSlackPart) and the file ID as soon as Slack gives it
// (store.SlackFileStarted), before the bytes go. An attempt whose outcome
// is unknown (a crash, a lost answer) is resolved by that ID before
// anything is uploaded again: a file Slack has shared (or completed, its
// share following a moment later) is done; a file uploaded but not
// completed is completed now; otherwise the upload starts over. Uploads
// carry no metadata, so the ID is the only way back to them.

// uploadAttempts is how many answered refusals (a Slack error, a 4xx) an
// upload gets before it is given up, so that one file Slack will not take
// does not hold up its conversation for ever. Failures without an answer
// (Slack down, the network) are retried like posts.
const uploadAttempts = 3

// unresolvedUpload is a failed attempt after the file ID was recorded: its
// outcome is looked up by that ID at the next attempt.
type unresolvedUpload struct{ err error }

func (e *unresolvedUpload) Error() string { return e.err.Error() }
func (e *unresolvedUpload) Unwrap() error { return e.err }

// givenUp is an upload that will not be tried again: its part becomes a
// line saying why.
type givenUp struct{ why string }

func (e *givenUp) Error() string { return "upload given up: " + e.why }

// uploadPart uploads part j.Done of a job, a file, into thread and returns
// its Slack file ID.
func (b *Bot) uploadPart(ctx context.Context, j *store.SlackJob, channel, thread string, u *upload) (string, error) {
	if j.Attempting && j.FileID != "" {
		done, err := b.resumeUpload(ctx, j, channel, thread, u)
		if err != nil {
			return "", err
		}
		if done {
			b.log.Info("found the upload of an interrupted attempt", "job", j.Seq, "part", j.Done, "file", j.FileID)
			return j.FileID, nil
		}
	}
	r, size, closeFn, err := b.openUpload(u)
	if err != nil {
		return "", &givenUp{why: err.Error()}
	}
	defer closeFn()
	if until := b.pace.take(uploadKey); !until.IsZero() {
		return "", &notYet{key: uploadKey, until: until}
	}
	if err := b.st.BeginSlackPart(j.Seq, j.Done, channel, false); err != nil {
		return "", err
	}
	j.Attempting, j.FileID = true, ""
	res, err := b.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: u.name, FileSize: int(size)})
	if err != nil {
		return "", b.uploadFailed(j, fmt.Errorf("files.getUploadURLExternal: %w", err))
	}
	if err := b.st.SlackFileStarted(j.Seq, j.Done, res.FileID); err != nil {
		return "", err
	}
	j.FileID = res.FileID
	err = b.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: res.UploadURL, Reader: r, Filename: u.name})
	if err != nil {
		return "", b.uploadFailed(j, &unresolvedUpload{fmt.Errorf("upload of %s: %w", u.name, err)})
	}
	if err := b.complete(ctx, j, channel, thread, u); err != nil {
		return "", b.uploadFailed(j, &unresolvedUpload{err})
	}
	return res.FileID, nil
}

// complete shares the uploaded file j.FileID in the thread.
func (b *Bot) complete(ctx context.Context, j *store.SlackJob, channel, thread string, u *upload) error {
	_, err := b.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: j.FileID, Title: u.title}}, Channel: channel, ThreadTimestamp: thread,
	})
	if err != nil {
		return fmt.Errorf("files.completeUploadExternal: %w", err)
	}
	return nil
}

// uploadFailed turns a failed step into the error runJob reports: a rate
// limit pauses uploads (the attempt stays as it is); a refusal Slack
// answered counts towards giving the file up.
func (b *Bot) uploadFailed(j *store.SlackJob, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		until := b.pace.limitedUntil(uploadKey, rl.RetryAfter)
		unknown := j.FileID != ""
		if rerr := b.st.RetrySlackJob(j.Seq, until, err.Error(), unknown, false); rerr != nil {
			return rerr
		}
		return &notYet{key: uploadKey, until: until, err: err}
	}
	if answered(err) && j.Attempts+1 >= uploadAttempts {
		return &givenUp{why: err.Error()}
	}
	return err
}

// answered reports whether Slack (or its file host) answered a call with a
// refusal, rather than not answering.
func answered(err error) bool {
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	switch {
	case errors.As(err, &se):
		return true
	case errors.As(err, &sc):
		return sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusRequestTimeout && sc.Code != http.StatusTooManyRequests
	}
	return false
}

// resumeUpload finds out what became of the attempt that recorded
// j.FileID; done means the file is in the thread (or will be: Slack
// completed it and posts its share a moment later).
func (b *Bot) resumeUpload(ctx context.Context, j *store.SlackJob, channel, thread string, u *upload) (done bool, err error) {
	var info *slack.File
	err = b.pace.do(readKey, func() (err error) {
		info, _, _, err = b.api.GetFileInfoContext(ctx, j.FileID, 0, 0)
		return err
	})
	var ny *notYet
	switch {
	case errors.As(err, &ny):
		return false, err
	case err == nil && sharedIn(info, channel, thread):
		return true, nil
	case err != nil && !slackError(err, "file_not_found", "file_deleted"):
		return false, &lookupError{err}
	}
	found := err == nil
	err = b.pace.do(uploadKey, func() error { return b.complete(ctx, j, channel, thread, u) })
	var se slack.SlackErrorResponse
	switch {
	case err == nil:
		return true, nil // uploaded, not completed: completed now
	case errors.As(err, &ny):
		return false, err
	case errors.As(err, &se):
		// Not completed now: either done before (Slack knows the file;
		// its share is on its way) or never uploaded (start over).
		return found, nil
	}
	return false, &lookupError{err}
}

// sharedIn reports whether file f is shared in channel's thread (or at its
// top level, for thread "").
func sharedIn(f *slack.File, channel, thread string) bool {
	if f == nil {
		return false
	}
	for _, shares := range []map[string][]slack.ShareFileInfo{f.Shares.Public, f.Shares.Private} {
		for _, sh := range shares[channel] {
			if sh.ThreadTs == thread || (thread == "" && sh.ThreadTs == "") {
				return true
			}
		}
	}
	return false
}

func slackError(err error, codes ...string) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Err == c {
			return true
		}
	}
	return false
}

// openUpload opens what u uploads and tells its size.
func (b *Bot) openUpload(u *upload) (io.Reader, int64, func(), error) {
	if u.ref == "" {
		return strings.NewReader(u.content), int64(len(u.content)), func() {}, nil
	}
	if b.cfg.Spool == nil {
		return nil, 0, nil, errors.New("inboxbot has no spool")
	}
	f, err := b.cfg.Spool.Open(u.ref)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("the file is gone from inboxbot's spool: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if info.Size() == 0 {
		f.Close()
		return nil, 0, nil, errors.New("it is empty")
	}
	return f, info.Size(), func() { f.Close() }, nil
}

// filePart carries out part j.Done of a job, an upload, and records it.
// again is true when the upload was given up: the part is recorded as a
// line saying why, to be rendered and posted instead.
func (b *Bot) filePart(ctx context.Context, j *store.SlackJob, channel, thread string, u *upload) (again bool, err error) {
	fileID, err := b.uploadPart(ctx, j, channel, thread, u)
	var gu *givenUp
	if errors.As(err, &gu) {
		b.log.Warn("file not uploaded to Slack; its thread says why", "conv", j.Conv, "job", j.Seq, "part", j.Done,
			"file", u.name, "why", gu.why)
		if err := b.st.SlackFileFailed(j.Seq, j.Done, gu.why); err != nil {
			return false, err
		}
		if j.FileErrors == nil {
			j.FileErrors = map[int]string{}
		}
		j.FileErrors[j.Done] = gu.why
		j.Attempting, j.FileID, j.Attempts = false, "", 0
		b.dropSpool(u.ref)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if err := b.st.SlackFileDone(j.Seq, j.Done, fileID, u.ref); err != nil {
		return false, err
	}
	b.log.Info("file uploaded", "conv", j.Conv, "job", j.Seq, "part", j.Done, "file", fileID, "size", u.size)
	j.Done++
	j.Attempting, j.FileID = false, ""
	b.dropSpool(u.ref)
	return false, nil
}

// dropSpool removes a file from the spool once it is uploaded or given up.
func (b *Bot) dropSpool(ref string) {
	if ref == "" || b.cfg.Spool == nil {
		return
	}
	if err := b.cfg.Spool.Remove(ref); err != nil {
		b.log.Warn("removing a file from the spool", "err", err)
	}
}

// dropMailFiles removes the spool files of a mail whose job is done (those
// never uploaded included).
func (b *Bot) dropMailFiles(m *store.InboundMail) {
	if m == nil {
		return
	}
	for _, a := range m.Attachments {
		b.dropSpool(a.Ref)
	}
}
