package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Files on their way between mail and Slack. Their bytes wait in the spool
// (package store/spool) under names the queued jobs hold: an inbound
// mail's attachments (Attachment.Ref) until the bot has uploaded them into
// the conversation's thread, an outgoing mail's files (MailFile.Ref) from
// the bot's download until the sender has sent them.
//
// An upload is a part of its mail's Slack job, recorded before and after
// like a post; in between, the Slack file's ID is recorded as soon as Slack
// gives it (SlackFileStarted), so that after a crash the bot asks Slack
// what became of that file before uploading anything again.

// SlackFileStarted records the Slack file that part `part` of job seq (an
// upload, begun with BeginSlackPart) is uploading.
func (s *Store) SlackFileStarted(seq uint64, part int, fileID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return updateSlackJob(tx, seq, func(j *SlackJob) error {
			if j.Done != part || !j.Attempting {
				return fmt.Errorf("slack job %d: part %d is not being attempted", seq, part)
			}
			j.FileID = fileID
			return nil
		})
	})
}

// SlackFileDone records that part `part` of job seq, an upload, is in the
// thread as file fileID (a repeat is ignored). ref is the spool name of the
// attachment it uploaded ("" for another file): when that attachment is one
// of the conversation's latest customer mail, a forward can send it on.
func (s *Store) SlackFileDone(seq uint64, part int, fileID, ref string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		j, err := slackPartDone(tx, seq, part, "", "")
		if err != nil || j == nil || ref == "" || fileID == "" {
			return err
		}
		_, err = updateConv(tx, j.Conv, func(c *Conversation) error {
			if c.Latest == nil || !latestHas(c.Latest, ref) {
				return errUnchanged // not the latest mail's: nothing forwards it
			}
			if c.LatestFiles == nil {
				c.LatestFiles = map[string]string{}
			}
			c.LatestFiles[ref] = fileID
			return nil
		})
		return err
	})
}

func latestHas(m *InboundMail, ref string) bool {
	for _, a := range m.Attachments {
		if a.Ref == ref {
			return true
		}
	}
	return false
}

// SlackFileFailed records that part `part` of job seq, an upload, cannot
// be done (why): the part becomes a line in the thread saying so, posted
// afresh.
func (s *Store) SlackFileFailed(seq uint64, part int, why string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return updateSlackJob(tx, seq, func(j *SlackJob) error {
			if j.Done != part {
				return nil
			}
			if j.FileErrors == nil {
				j.FileErrors = map[int]string{}
			}
			j.FileErrors[part] = why
			j.Attempting, j.FileID, j.Attempts, j.NextAttempt = false, "", 0, time.Time{}
			return tx.Bucket(bRoots).Delete(u64(seq))
		})
	})
}

// SpoolRefs returns the spool names the queued jobs hold: every other file
// of the spool is left over (see spool.Sweep).
func (s *Store) SpoolRefs() (map[string]bool, error) {
	refs := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bToSlack).ForEach(func(_, v []byte) error {
			var j SlackJob
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode queued job: %w", err)
			}
			if j.Mail != nil {
				for _, a := range j.Mail.Attachments {
					if a.Ref != "" {
						refs[a.Ref] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bToMail).ForEach(func(_, v []byte) error {
			var j MailJob
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode queued job: %w", err)
			}
			for _, f := range j.Files {
				if f.Ref != "" {
					refs[f.Ref] = true
				}
			}
			return nil
		})
	})
	return refs, err
}

// FilesFetched records that every file of outbox job seq is in the spool
// (files: the job's files with their Ref): the sender may send it now. It
// fails with ErrNotFound when the job is gone (cancelled meanwhile).
func (s *Store) FilesFetched(seq uint64, files []MailFile) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return updateMailJob(tx, seq, func(j *MailJob) error {
			if len(files) != len(j.Files) {
				return fmt.Errorf("mail job %d has %d files, not %d", seq, len(j.Files), len(files))
			}
			j.Files, j.FilesReady = files, true
			j.FileAttempts, j.NextFileAttempt = 0, time.Time{}
			return nil
		})
	})
	if err == nil {
		kick(s.mailKick)
	}
	return err
}

// FileRetry records a failed download of job seq's files, to try again at
// next.
func (s *Store) FileRetry(seq uint64, next time.Time, why string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return updateMailJob(tx, seq, func(j *MailJob) error {
			j.FileAttempts++
			j.NextFileAttempt = next
			j.LastError = why
			return nil
		})
	})
}

// FilesLost records that job seq's files are not in the spool after all
// (removed by hand): they are downloaded again before it is sent.
func (s *Store) FilesLost(seq uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return updateMailJob(tx, seq, func(j *MailJob) error { j.FilesReady = false; return nil })
	})
	if err == nil {
		kick(s.mailKick)
	}
	return err
}
