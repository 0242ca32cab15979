package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The mail → Slack queue: jobs in order, each posted in parts; the root
// posts whose outcome is not known yet; the status cards to refresh.

// SlackJobsAfter returns up to n queued Slack jobs after sequence number
// seq (0: from the oldest), oldest first.
func (s *Store) SlackJobsAfter(seq uint64, n int) (jobs []SlackJob, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		jobs, err = after[SlackJob](tx.Bucket(bToSlack), seq, n)
		return err
	})
	return jobs, err
}

// SlackJobs returns the whole queue, oldest first (for tests and tools;
// the poster reads it in slices with SlackJobsAfter).
func (s *Store) SlackJobs() ([]SlackJob, error) { return s.SlackJobsAfter(0, 1<<30) }

func updateSlackJob(tx *bolt.Tx, seq uint64, f func(j *SlackJob) error) error {
	return update(tx.Bucket(bToSlack), u64(seq), "slack job", f)
}

// BeginSlackPart records that part `part` of job seq is about to be sent to
// channel. If the process dies before SlackPartDone, the next run finds
// Attempting set and must find out whether Slack has the post before
// sending it again. A root post is also listed as unresolved until its
// outcome is known: until then an event about an unknown thread of that
// channel may be about it (see Park).
func (s *Store) BeginSlackPart(seq uint64, part int, channel string, root bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		err := updateSlackJob(tx, seq, func(j *SlackJob) error {
			if j.Done != part {
				return fmt.Errorf("slack job %d: part %d is done already", seq, part)
			}
			j.Attempting = true
			j.FileID = "" // a fresh attempt: an earlier upload was given up
			return nil
		})
		if err != nil || !root {
			return err
		}
		return tx.Bucket(bRoots).Put(u64(seq), []byte(channel))
	})
}

// SlackPartDone records that part `part` of job seq is in Slack (a repeat
// for a part already recorded is ignored). With a rootTS, the part was the
// conversation's root message in channel: the thread mapping is recorded
// in the same transaction, and the root is resolved.
func (s *Store) SlackPartDone(seq uint64, part int, channel, rootTS string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := slackPartDone(tx, seq, part, channel, rootTS)
		return err
	})
}

// slackPartDone is SlackPartDone in tx; it returns the job as it was
// before, or nil for a repeat.
func slackPartDone(tx *bolt.Tx, seq uint64, part int, channel, rootTS string) (*SlackJob, error) {
	var was *SlackJob
	err := updateSlackJob(tx, seq, func(j *SlackJob) error {
		if j.Done != part {
			return nil
		}
		cp := *j
		was = &cp
		j.Done++
		j.Attempting, j.Attempts, j.NextAttempt, j.LastError, j.FileID = false, 0, time.Time{}, "", ""
		return nil
	})
	if err != nil || was == nil {
		return nil, err
	}
	if err := tx.Bucket(bRoots).Delete(u64(seq)); err != nil {
		return nil, err
	}
	if rootTS == "" {
		return was, nil
	}
	_, err = updateConv(tx, was.Conv, func(c *Conversation) error {
		c.Channel, c.RootTS = channel, rootTS
		return tx.Bucket(bThreads).Put(key([]byte(channel), []byte(rootTS)), u64(was.Conv))
	})
	return was, err
}

// RetrySlackJob records a failed attempt of the current part, to retry at
// next. unknown says Slack may have carried it out all the same (the
// answer was lost, or the lookup of an earlier attempt failed): the
// attempt then stays marked, to be looked up before a repost. count is
// false for failures that are not the job's fault (a rate limit): they do
// not lengthen its backoff.
func (s *Store) RetrySlackJob(seq uint64, next time.Time, why string, unknown, count bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		attempting := false
		err := updateSlackJob(tx, seq, func(j *SlackJob) error {
			j.Attempting = j.Attempting && unknown
			attempting = j.Attempting
			if !attempting {
				j.FileID = ""
			}
			if count {
				j.Attempts++
			}
			j.NextAttempt = next
			j.LastError = why
			return nil
		})
		if err != nil || attempting {
			return err
		}
		return tx.Bucket(bRoots).Delete(u64(seq))
	})
}

// FinishSlackJob removes a fully posted job.
func (s *Store) FinishSlackJob(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bRoots).Delete(u64(seq)); err != nil {
			return err
		}
		return tx.Bucket(bToSlack).Delete(u64(seq))
	})
}

// UnresolvedRoots counts the root posts of channel ("" : of every channel)
// whose outcome is not known yet.
func (s *Store) UnresolvedRoots(channel string) (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n = unresolved(tx, channel)
		return nil
	})
	return n, err
}

func unresolved(tx *bolt.Tx, channel string) int {
	n := 0
	c := tx.Bucket(bRoots).Cursor()
	for k, ch := c.First(); k != nil; k, ch = c.Next() {
		if channel == "" || string(ch) == channel {
			n++
		}
	}
	return n
}

// enqueueActivity queues the thread line of a change and marks its card.
func enqueueActivity(tx *bolt.Tx, conv uint64, ch Change, now time.Time) error {
	if err := markCard(tx, conv); err != nil {
		return err
	}
	return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobActivity, Conv: conv, Change: &ch, Created: now})
}

// recordChange records a change in c's history (as its latest update)
// and queues its line in the thread.
func recordChange(tx *bolt.Tx, c *Conversation, ch Change) error {
	c.History = append(c.History, ch)
	c.Updated = ch.At
	return enqueueActivity(tx, c.Num, ch, ch.At)
}

// ---- status cards ----------------------------------------------------------

// Card is a status card to refresh: Version tells CardDone whether a change
// came after the refresh began.
type Card struct {
	Conv    uint64
	Version uint64
}

// CardsAfter returns up to n cards to refresh after conversation num.
func (s *Store) CardsAfter(num uint64, n int) (cards []Card, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bCards).Cursor()
		for k, v := c.Seek(u64(num + 1)); k != nil && len(cards) < n; k, v = c.Next() {
			cards = append(cards, Card{Conv: getU64(k), Version: getU64(v)})
		}
		return nil
	})
	return cards, err
}

// CardVersion is the current mark of a conversation's card (0: up to date).
func (s *Store) CardVersion(num uint64) (v uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v = getU64(tx.Bucket(bCards).Get(u64(num)))
		return nil
	})
	return v, err
}

// CardDone records that the card was refreshed from the state of version
// v; a change made meanwhile keeps it marked.
func (s *Store) CardDone(c Card) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCards)
		if getU64(b.Get(u64(c.Conv))) != c.Version {
			return nil
		}
		return b.Delete(u64(c.Conv))
	})
}

// MarkCard marks a conversation's card for a refresh.
func (s *Store) MarkCard(num uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return markCard(tx, num) })
	if err == nil {
		kick(s.slackKick)
	}
	return err
}
