package store

import (
	bolt "go.etcd.io/bbolt"
)

// EnqueueNotice queues a notice for the inbox channel (a JobNotice).
func (s *Store) EnqueueNotice(n Notice) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobNotice, Notice: &n, Created: s.now()})
	})
	if err == nil {
		kick(s.slackKick)
	}
	return err
}

// MailStillTrying records that the reply of outbox job seq is late, and
// queues the line that says so in its thread, in one transaction: the
// thread hears it once per reply, whatever happens to the process.
// It returns false when the thread was told already.
func (s *Store) MailStillTrying(seq uint64, why string) (bool, error) {
	queued := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		var j MailJob
		err := updateMailJob(tx, seq, func(mj *MailJob) error {
			queued = !mj.StillTrying
			mj.StillTrying = true
			j = *mj
			return nil
		})
		if err != nil || !queued {
			return err
		}
		return enqueue(tx.Bucket(bToSlack), &SlackJob{
			Kind: JobStillTrying, Conv: j.Conv, ReplyTS: j.SlackTS, To: j.To.String(), Error: why, Created: s.now(),
		})
	})
	if queued && err == nil {
		kick(s.slackKick)
	}
	return queued && err == nil, err
}
