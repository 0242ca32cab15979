package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Weekly digests: the bot renders one per inbox and week, and queues it
// here with the week's mark in one transaction, so that each week's digest
// is posted once whatever happens to the process (the poster posts a job
// exactly once).

func digestKey(inbox string) []byte { return []byte("digest:" + inbox) }

// LastDigest is the time of the latest digest queued (or skipped) for
// inbox; zero before the first.
func (s *Store) LastDigest(inbox string) (time.Time, error) {
	var t time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := getU64(tx.Bucket(bMeta).Get(digestKey(inbox))); v != 0 {
			t = time.Unix(int64(v), 0)
		}
		return nil
	})
	return t, err
}

// QueueDigest queues text, the digest due at slot, for the top of inbox's
// channel (a JobDigest), unless a digest for slot or a later one was
// queued: it reports whether it queued this one. With text "" it only
// records slot as done (a week with no digest to post).
func (s *Store) QueueDigest(inbox string, slot time.Time, text string) (bool, error) {
	queued := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if int64(getU64(meta.Get(digestKey(inbox)))) >= slot.Unix() {
			return nil
		}
		if err := meta.Put(digestKey(inbox), u64(uint64(slot.Unix()))); err != nil {
			return err
		}
		if text == "" {
			return nil
		}
		queued = true
		return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobDigest, Inbox: inbox, Text: text, Created: s.now()})
	})
	if queued && err == nil {
		kick(s.slackKick)
	}
	return queued && err == nil, err
}
