package mailbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/wneessen/go-mail"

	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// spooler streams the attachments of one mail into the spool while it is
// parsed, under names that depend only on the mail (inbox, mailbox,
// UIDVALIDITY, UID, part): a mail fetched again after a crash replaces its
// files instead of adding a second copy. A nil spooler stores nothing.
type spooler struct {
	sp     *spool.Spool
	max    int64
	log    *slog.Logger
	prefix string // the names up to the UID
	uid    uint32 // 0: not known yet when the body came (named by sequence number, renamed after)
	seq    uint32
	n      int // attachments seen
}

// spooler returns the spooler of the mail with uid (0 if the server has
// not said it yet) or sequence number seq, nil without a spool.
func (w *Watcher) spooler(uidValidity, uid, seq uint32) *spooler {
	if w.cfg.Spool == nil {
		return nil
	}
	key := sha256.Sum256([]byte(w.cfg.Inbox + "\x00" + w.cfg.Mailbox))
	return &spooler{sp: w.cfg.Spool, max: w.cfg.AttachMax, log: w.log,
		prefix: fmt.Sprintf("in-%s-%d-", hex.EncodeToString(key[:6]), uidValidity), uid: uid, seq: seq}
}

func (s *spooler) options() message.ParseOptions {
	if s == nil {
		return message.ParseOptions{}
	}
	return message.ParseOptions{Attachment: s.attachment}
}

func (s *spooler) name(uid uint32, seqName bool, part int) string {
	if seqName {
		return fmt.Sprintf("%sseq%d-%d", s.prefix, s.seq, part)
	}
	return fmt.Sprintf("%s%d-%d", s.prefix, uid, part)
}

// attachment stores one attachment (ParseOptions.Attachment). One larger
// than AttachMax is not stored (no Ref): it will not be uploaded. A failure
// to store it (a full disk) marks the attachment, and the mail goes on.
func (s *spooler) attachment(a *message.Attachment, r io.Reader) error {
	name := s.name(s.uid, s.uid == 0, s.n)
	s.n++
	f, err := s.sp.Create(name)
	if err != nil {
		return err
	}
	if s.max > 0 {
		r = io.LimitReader(r, s.max+1)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Abort()
		return err
	}
	if s.max > 0 && f.Written() > s.max {
		f.Abort()
		return nil
	}
	if _, err := f.Commit(); err != nil {
		return err
	}
	a.Ref = name
	return nil
}

// done finishes the mail's files once the mail is read: files named by
// sequence number get their UID name, and failures are logged.
func (s *spooler) done(m *message.Message, uid uint32) {
	if s == nil || m == nil {
		return
	}
	for i := range m.Attachments {
		a := &m.Attachments[i]
		if a.Error != "" {
			s.log.Error("an attachment could not be stored in the spool: the mail is posted without it",
				"uid", uid, "attachment", a.Name, "size", a.Size, "dir", s.sp.Dir(), "err", a.Error)
		}
		if a.Ref == "" || s.uid != 0 {
			continue
		}
		name := s.name(uid, false, i)
		if err := s.sp.Rename(a.Ref, name); err != nil {
			a.Error, a.Ref = err.Error(), ""
			s.log.Error("an attachment could not be stored in the spool: the mail is posted without it",
				"uid", uid, "attachment", a.Name, "err", err)
			continue
		}
		a.Ref = name
	}
}

// removeFiles removes the spool files of a mail nothing will upload (or
// that is not recorded).
func (w *Watcher) removeFiles(m *message.Message) {
	if w.cfg.Spool == nil {
		return
	}
	for _, a := range m.Attachments {
		if a.Ref == "" {
			continue
		}
		if err := w.cfg.Spool.Remove(a.Ref); err != nil {
			w.log.Warn("removing an attachment from the spool", "err", err)
		}
	}
}

// ---- files of outgoing mail -------------------------------------------------

// errFilesLost is a job whose files are not in the spool although the bot
// recorded them as downloaded (removed by hand): they are downloaded again.
var errFilesLost = errors.New("files missing from the spool")

// attach adds the files of job j, from the spool, to m. They are read from
// disk each time the message is written, never held in memory.
func (s *Sender) attach(m *mail.Msg, j store.MailJob) error {
	for _, f := range j.Files {
		if s.cfg.Spool == nil || f.Ref == "" {
			return errFilesLost
		}
		p := s.cfg.Spool.Path(f.Ref)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w: %s: %v", errFilesLost, f.Name, err)
		}
		opts := []mail.FileOption{mail.WithFileName(attachmentName(f))}
		if f.Type != "" {
			opts = append(opts, mail.WithFileContentType(mail.ContentType(f.Type)))
		}
		m.AttachFile(p, opts...)
	}
	return nil
}

// attachmentName is a file's name in the mail ("file" if Slack had none).
func attachmentName(f store.MailFile) string {
	if strings.TrimSpace(f.Name) == "" {
		return "file"
	}
	return f.Name
}

// dropFiles removes the spool files of a job that is done.
func (s *Sender) dropFiles(j store.MailJob) {
	if s.cfg.Spool == nil {
		return
	}
	for _, f := range j.Files {
		if f.Ref == "" {
			continue
		}
		if err := s.cfg.Spool.Remove(f.Ref); err != nil {
			s.log.Warn("removing a sent file from the spool", "err", err)
		}
	}
}

// msgSize is the size of m as it would be sent.
func msgSize(m *mail.Msg) (int64, error) {
	var c countWriter
	if _, err := m.WriteTo(&c); err != nil {
		return 0, fmt.Errorf("measuring the mail: %w", err)
	}
	return int64(c), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
