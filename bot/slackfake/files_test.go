package slackfake_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

const rawMail = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"

// quietFake is a fake that does not echo the bot's own actions as events.
func quietFake(t *testing.T) (*slackfake.Server, *slack.Client, context.Context) {
	f := newFake(t)
	f.EchoBotMessages = false
	return f, newAPI(f), ctxT(t)
}

func upload(api *slack.Client, t *testing.T, p slack.UploadFileParameters) (*slack.FileSummary, error) {
	t.Helper()
	if p.Reader == nil {
		p.Reader = strings.NewReader(rawMail)
		p.FileSize = len(rawMail)
	}
	return api.UploadFileContext(ctxT(t), p)
}

func TestUploadFileIntoThread(t *testing.T) {
	f, api, ctx := quietFake(t)
	parent, _ := f.UserPost("C1", "U1", "", "mail")

	sum, err := upload(api, t, slack.UploadFileParameters{Filename: "original.eml", Title: "Original mail",
		Channel: "C1", ThreadTimestamp: parent, InitialComment: "the original"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ID == "" || sum.Title != "Original mail" {
		t.Errorf("summary: %+v", sum)
	}
	file, ok := f.File(sum.ID)
	if !ok || string(file.Bytes) != rawMail || file.Size != len(rawMail) || file.Mimetype != "message/rfc822" ||
		file.Name != "original.eml" || file.Title != "Original mail" || file.User != slackfake.BotUserID ||
		!file.Uploaded || !file.Completed || file.InitialComment != "the original" {
		t.Fatalf("file: %+v", file)
	}
	if len(file.Shares) != 1 || file.Shares[0].Channel != "C1" || file.Shares[0].ThreadTS != parent {
		t.Fatalf("shares: %+v", file.Shares)
	}
	shareTS := file.Shares[0].TS
	m, ok := f.Message("C1", shareTS)
	if !ok || m.Text != "the original" || m.ThreadTS != parent || m.Subtype != "" || len(m.Files) != 1 || m.Files[0] != sum.ID || m.BotID != slackfake.BotID {
		t.Errorf("share message: %+v", m)
	}
	if got := f.Files(); len(got) != 1 || got[0].ID != sum.ID {
		t.Errorf("Files: %+v", got)
	}

	// The thread shows the share with its file, no subtype, not an upload.
	rs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent})
	if err != nil || len(rs) != 2 {
		t.Fatalf("replies: %d %v", len(rs), err)
	}
	if r := rs[1]; r.Timestamp != shareTS || r.SubType != "" || r.Upload || len(r.Files) != 1 || r.Files[0].ID != sum.ID ||
		r.Files[0].Name != "original.eml" || r.Files[0].Size != len(rawMail) {
		t.Errorf("reply with file: %+v", r.Msg)
	}

	// files.info
	info, _, _, err := api.GetFileInfoContext(ctx, sum.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "original.eml" || info.Title != "Original mail" || info.Mimetype != "message/rfc822" || info.Filetype != "email" ||
		info.Size != len(rawMail) || info.User != slackfake.BotUserID || info.URLPrivateDownload == "" || len(info.Channels) != 1 {
		t.Errorf("files.info: %+v", info)
	}
	if sh := info.Shares.Public["C1"]; len(sh) != 1 || sh[0].Ts != shareTS || sh[0].ThreadTs != parent {
		t.Errorf("files.info shares: %+v", info.Shares)
	}
	if _, _, _, err := api.GetFileInfoContext(ctx, "F404", 0, 0); slackErr(err) != "file_not_found" {
		t.Errorf("unknown file: %v", err)
	}

	// Download with the bot token; without it, Slack's sign-in redirect.
	var buf bytes.Buffer
	if err := api.GetFileContext(ctx, info.URLPrivateDownload, &buf); err != nil || buf.String() != rawMail {
		t.Errorf("download: %q %v", buf.String(), err)
	}
	buf.Reset()
	err = slack.New("xoxb-someone-else", slack.OptionAPIURL(f.URL())).GetFileContext(ctx, info.URLPrivateDownload, &buf)
	if err == nil || !strings.Contains(err.Error(), "sign-in") || buf.Len() != 0 {
		t.Errorf("download with another token: %v, %q", err, buf.String())
	}
	if n := f.Calls(slackfake.FileDownloadMethod); n != 2 {
		t.Errorf("download calls: %d", n)
	}
}

func TestUploadFileBlocksPrivateAndErrors(t *testing.T) {
	f, api, ctx := quietFake(t)

	// Blocks instead of an initial comment; at top level.
	blocks := slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, "see file", false, false), nil, nil)}}
	sum, err := upload(api, t, slack.UploadFileParameters{Filename: "notes.txt", Channel: "C1", Blocks: blocks})
	if err != nil {
		t.Fatal(err)
	}
	file, _ := f.File(sum.ID)
	if file.Title != "notes.txt" || file.Mimetype != "text/plain" || len(file.Shares) != 1 || file.Shares[0].ThreadTS != "" {
		t.Errorf("file: %+v", file)
	}
	if m, _ := f.Message("C1", file.Shares[0].TS); !strings.Contains(string(m.Blocks), "see file") || m.Text != "" {
		t.Errorf("message blocks: %+v", m)
	}
	bad := slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("x", 3001), false, false), nil, nil)}}
	if _, err := upload(api, t, slack.UploadFileParameters{Filename: "a.txt", Channel: "C1", Blocks: bad}); slackErr(err) != "invalid_blocks" {
		t.Errorf("invalid blocks: %v", err)
	}

	// No channel: completed but private.
	sum, err = upload(api, t, slack.UploadFileParameters{Filename: "private.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if file, _ := f.File(sum.ID); !file.Completed || len(file.Shares) != 0 {
		t.Errorf("private file: %+v", file)
	}
	if info, _, _, err := api.GetFileInfoContext(ctx, sum.ID, 0, 0); err != nil || len(info.Channels) != 0 {
		t.Errorf("files.info private: %+v %v", info, err)
	}

	// Channels the bot cannot post to.
	f.AddChannel("C2", "U1")
	if _, err := upload(api, t, slack.UploadFileParameters{Filename: "a.txt", Channel: "C2"}); slackErr(err) != "not_in_channel" {
		t.Errorf("not in channel: %v", err)
	}
	if _, err := upload(api, t, slack.UploadFileParameters{Filename: "a.txt", Channel: "C404"}); slackErr(err) != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}

	// Completing an unknown, a not uploaded, or an already completed file.
	complete := func(id string) error {
		_, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: id}}, Channel: "C1"})
		return err
	}
	if got := slackErr(complete("F404")); got != "file_not_found" {
		t.Errorf("unknown file: %q", got)
	}
	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "x.txt", FileSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := slackErr(complete(u.FileID)); got != "file_not_found" {
		t.Errorf("not uploaded: %q", got)
	}
	// The wrong number of bytes is refused and leaves the file not uploaded.
	err = api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Filename: "x.txt", Reader: strings.NewReader("short")})
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 400 {
		t.Errorf("length mismatch: %v", err)
	}
	if file, _ := f.File(u.FileID); file.Uploaded || file.Length != 10 {
		t.Errorf("after mismatch: %+v", file)
	}
	if err := api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Filename: "x.txt", Reader: strings.NewReader("0123456789")}); err != nil {
		t.Fatal(err)
	}
	if err := complete(u.FileID); err != nil {
		t.Fatal(err)
	}
	if got := slackErr(complete(u.FileID)); got != "file_not_found" {
		t.Errorf("completed twice: %q", got)
	}
	if _, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "x.png", FileSize: 3, AltTxt: strings.Repeat("a", 1001)}); slackErr(err) != "alt_txt_too_large" {
		t.Errorf("alt_txt: %v", err)
	}
}

func TestUploadFaults(t *testing.T) {
	f, api, ctx := quietFake(t)

	f.RateLimitNext("files.getUploadURLExternal", 3)
	var rl *slack.RateLimitedError
	if _, err := upload(api, t, slack.UploadFileParameters{Filename: "a.txt", Channel: "C1"}); !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("rate limited: %v", err)
	}
	f.HTTPErrorNext(slackfake.UploadURLMethod, 500)
	var sc slack.StatusCodeError
	if _, err := upload(api, t, slack.UploadFileParameters{Filename: "a.txt", Channel: "C1"}); !errors.As(err, &sc) || sc.Code != 500 {
		t.Errorf("upload 500: %v", err)
	}
	f.FailNext("files.completeUploadExternal", "fatal_error")
	if _, err := upload(api, t, slack.UploadFileParameters{Filename: "a.txt", Channel: "C1"}); slackErr(err) != "fatal_error" {
		t.Errorf("complete failed: %v", err)
	}
	if len(f.Messages("C1")) != 0 {
		t.Errorf("faulted uploads shared something: %+v", f.Messages("C1"))
	}

	// The bytes arrive but the answer is lost: the upload can be completed.
	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "b.txt", FileSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	f.DropAfterNext(slackfake.UploadURLMethod)
	if err := api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Filename: "b.txt", Reader: strings.NewReader("abc")}); err == nil {
		t.Error("dropped upload: no error")
	}
	if file, _ := f.File(u.FileID); !file.Uploaded || string(file.Bytes) != "abc" {
		t.Errorf("dropped upload not stored: %+v", file)
	}
	// Completion happens but its answer is lost: completing again fails,
	// files.info finds the share.
	f.DropAfterNext("files.completeUploadExternal")
	_, err = api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID, Title: "B"}}, Channel: "C1"})
	if err == nil {
		t.Error("dropped complete: no error")
	}
	_, err = api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID, Title: "B"}}, Channel: "C1"})
	if slackErr(err) != "file_not_found" {
		t.Errorf("complete after lost answer: %v", err)
	}
	info, _, _, err := api.GetFileInfoContext(ctx, u.FileID, 0, 0)
	if err != nil || len(info.Shares.Public["C1"]) != 1 || len(f.Messages("C1")) != 1 {
		t.Errorf("after lost answer: %+v %v", info.Shares, err)
	}
	if n := f.Calls(slackfake.UploadURLMethod); n != 3 {
		t.Errorf("upload calls: %d", n)
	}
	f.HTTPErrorNext(slackfake.FileDownloadMethod, 503)
	if err := api.GetFileContext(ctx, info.URLPrivateDownload, &bytes.Buffer{}); !errors.As(err, &sc) || sc.Code != 503 {
		t.Errorf("download 503: %v", err)
	}
}

func TestDeferredFileShare(t *testing.T) {
	f, api, ctx := quietFake(t)
	parent, _ := f.UserPost("C1", "U1", "", "mail")
	f.DeferFileShares(true)
	sum, err := upload(api, t, slack.UploadFileParameters{Filename: "a.eml", Channel: "C1", ThreadTimestamp: parent})
	if err != nil {
		t.Fatal(err)
	}
	if file, _ := f.File(sum.ID); !file.Completed || len(file.Shares) != 0 || len(f.Thread("C1", parent)) != 1 {
		t.Errorf("share not deferred: %+v", file)
	}
	if info, _, _, err := api.GetFileInfoContext(ctx, sum.ID, 0, 0); err != nil || len(info.Channels) != 0 {
		t.Errorf("files.info before share: %+v %v", info.Channels, err)
	}
	if n := f.ShareDeferredFiles(); n != 1 {
		t.Errorf("ShareDeferredFiles: %d", n)
	}
	if th := f.Thread("C1", parent); len(th) != 2 || len(th[1].Files) != 1 {
		t.Errorf("thread after share: %+v", th)
	}
}

func TestUserShareFiles(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)
	c := startClient(t, f)
	parent, _ := f.UserPost("C1", "U2", "", "mail")
	_, req := c.nextEventsAPI()
	c.sm.Ack(*req)

	pdf := []byte("%PDF-1.4 fake")
	ts, envID, ids := f.UserShareFiles("C1", "U1", parent, "", slackfake.UserFile{Name: "report.pdf", Bytes: pdf},
		slackfake.UserFile{Name: "notes", Title: "My notes", Bytes: []byte("n")})
	if len(ids) != 2 {
		t.Fatalf("ids: %v", ids)
	}
	ev, req := c.nextEventsAPI()
	if req.EnvelopeID != envID {
		t.Errorf("envelope %s, want %s", req.EnvelopeID, envID)
	}
	m, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || m.SubType != "file_share" || m.TimeStamp != ts || m.ThreadTimeStamp != parent || m.User != "U1" || m.Text != "" {
		t.Fatalf("event: %+v", ev.InnerEvent.Data)
	}
	if !m.Message.Upload || len(m.Message.Files) != 2 {
		t.Fatalf("files in event: %+v", m.Message)
	}
	f0, f1 := m.Message.Files[0], m.Message.Files[1]
	if f0.ID != ids[0] || f0.Name != "report.pdf" || f0.Title != "report.pdf" || f0.Mimetype != "application/pdf" || f0.Filetype != "pdf" ||
		f0.Size != len(pdf) || f0.User != "U1" || f0.URLPrivate == "" || f0.URLPrivateDownload == "" {
		t.Errorf("file 0: %+v", f0)
	}
	if f1.Title != "My notes" || f1.Mimetype != "application/octet-stream" || f1.Filetype != "binary" {
		t.Errorf("file 1: %+v", f1)
	}
	c.sm.Ack(*req)

	var buf bytes.Buffer
	if err := api.GetFileContext(ctx, f0.URLPrivateDownload, &buf); err != nil || !bytes.Equal(buf.Bytes(), pdf) {
		t.Errorf("download: %q %v", buf.Bytes(), err)
	}
	if info, _, _, err := api.GetFileInfoContext(ctx, f0.ID, 0, 0); err != nil || info.User != "U1" || len(info.Shares.Public["C1"]) != 1 {
		t.Errorf("files.info: %+v %v", info, err)
	}
	if rec, _ := f.Message("C1", ts); rec.Subtype != "file_share" || len(rec.Files) != 2 {
		t.Errorf("recorded: %+v", rec)
	}

	// The bot's own upload comes back as a message event with the file
	// and no subtype.
	sum, err := upload(api, t, slack.UploadFileParameters{Filename: "reply.eml", Channel: "C1", ThreadTimestamp: parent})
	if err != nil {
		t.Fatal(err)
	}
	ev, req = c.nextEventsAPI()
	if m, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent); !ok || m.SubType != "" || m.BotID != slackfake.BotID ||
		m.ThreadTimeStamp != parent || len(m.Message.Files) != 1 || m.Message.Files[0].ID != sum.ID || m.Message.Upload {
		t.Errorf("echo of upload: %+v", ev.InnerEvent.Data)
	}
	c.sm.Ack(*req)

	// A file in a channel the bot is not in stays out of its reach.
	f.AddChannel("C9", "U1")
	_, _, hidden := f.UserShareFiles("C9", "U1", "", "secret", slackfake.UserFile{Name: "s.txt", Bytes: []byte("s")})
	if _, _, _, err := api.GetFileInfoContext(ctx, hidden[0], 0, 0); slackErr(err) != "file_not_found" {
		t.Errorf("files.info of hidden file: %v", err)
	}
	file, _ := f.File(hidden[0])
	if err := api.GetFileContext(ctx, file.URLPrivateDownload, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "sign-in") {
		t.Errorf("download of hidden file: %v", err)
	}
}
