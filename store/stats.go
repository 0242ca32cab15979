package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// QueueStats describes one queue for health checks and metrics.
type QueueStats struct {
	Depth int
	// Oldest is when the oldest job was queued (zero when empty).
	Oldest time.Time
	// OldestDue is since when the longest-waiting due job has been due:
	// queued, or last retried, whichever is later (zero when none is due).
	// A job waiting out a retry delay is not due, nor a held reply; a due
	// job that stays unhandled means the queue is stuck.
	OldestDue time.Time
}

// Stats reads both queues: "toslack" (mail → Slack) and "tomail" (the
// outbox). Only the timestamps of each job are decoded.
func (s *Store) Stats(now time.Time) (toSlack, toMail QueueStats, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		if toSlack, err = queueStats(tx.Bucket(bToSlack), now); err != nil {
			return err
		}
		toMail, err = queueStats(tx.Bucket(bToMail), now)
		return err
	})
	return toSlack, toMail, err
}

// jobTimes is the part of a SlackJob or MailJob that Stats reads.
type jobTimes struct {
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt"`
	Held        bool      `json:"held"` // a held reply waits for the bot, not the sender
}

func queueStats(b *bolt.Bucket, now time.Time) (QueueStats, error) {
	var q QueueStats
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var t jobTimes
		if err := json.Unmarshal(v, &t); err != nil {
			return q, err
		}
		q.Depth++
		if q.Oldest.IsZero() || t.Created.Before(q.Oldest) {
			q.Oldest = t.Created
		}
		if t.NextAttempt.After(now) || t.Held {
			continue
		}
		due := t.Created
		if t.NextAttempt.After(due) {
			due = t.NextAttempt
		}
		if q.OldestDue.IsZero() || due.Before(q.OldestDue) {
			q.OldestDue = due
		}
	}
	return q, nil
}

// ConvCounts counts the conversations per status, from the status index's
// keys (<inbox>\0<status>\0…): every scrape of the metrics reads it, and
// the conversations themselves are never decoded.
func (s *Store) ConvCounts() (map[Status]int, error) {
	counts := map[Status]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bIdxStatus).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			_, rest, _ := bytes.Cut(k, []byte{0})
			st, _, ok := bytes.Cut(rest, []byte{0})
			if !ok {
				return fmt.Errorf("status index key %q: malformed", k)
			}
			counts[Status(st)]++
		}
		return nil
	})
	return counts, err
}
