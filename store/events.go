package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Slack events acted on, remembered so that a redelivery does nothing, and
// how long each channel's events were being received.

// seen reports whether any of keys was recorded, and records them all.
func seen(tx *bolt.Tx, now time.Time, keys ...string) (bool, error) {
	b := tx.Bucket(bEvents)
	for _, k := range keys {
		if k != "" && b.Get([]byte(k)) != nil {
			return true, nil
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := b.Put([]byte(k), u64(uint64(now.Unix()))); err != nil {
			return false, err
		}
	}
	return false, nil
}

// once records a Slack event's ID ("" none) in tx, and fails with
// ErrDuplicate when it was recorded already: a redelivery does nothing.
func once(tx *bolt.Tx, now time.Time, eventID string) error {
	if eventID == "" {
		return nil
	}
	dup, err := seen(tx, now, "ev:"+eventID)
	if err == nil && dup {
		err = ErrDuplicate
	}
	return err
}

// MarkEvent records a Slack event that needs no outbox entry; it returns
// true when the event was already recorded.
func (s *Store) MarkEvent(eventID string) (dup bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		dup, err = seen(tx, s.now(), "ev:"+eventID)
		return err
	})
	return dup, err
}

// MarkMessage records a Slack message that was looked at as a reply and
// refused (it named a recipient that is no address): a redelivery, or the
// catch-up, does not answer its author again. It returns true when it was
// recorded already.
func (s *Store) MarkMessage(eventID, channel, ts string) (dup bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		dup, err = seen(tx, s.now(), "ev:"+eventID, MessageKey(channel, ts))
		return err
	})
	return dup, err
}

// Handled reports whether a Slack message was turned into mail already.
func (s *Store) Handled(channel, ts string) (ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bEvents).Get([]byte(MessageKey(channel, ts))) != nil
		return nil
	})
	return ok, err
}

// PruneEvents forgets Slack events handled before cutoff, and the loop
// guard's counts of hours that are over.
func (s *Store) PruneEvents(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if int64(getU64(v)) < cutoff.Unix() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return pruneFlood(tx, s.now())
	})
	return n, err
}

func aliveKey(channel string) []byte { return []byte("alive:" + channel) }

// SetAlive records that channel's events were being received up to t.
func (s *Store) SetAlive(channel string, t time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put(aliveKey(channel), u64(uint64(t.Unix())))
	})
}

// Alive returns the time up to which channel's events were being received
// (zero before the first record).
func (s *Store) Alive(channel string) (time.Time, error) {
	var t time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := getU64(tx.Bucket(bMeta).Get(aliveKey(channel))); v != 0 {
			t = time.Unix(int64(v), 0)
		}
		return nil
	})
	return t, err
}
