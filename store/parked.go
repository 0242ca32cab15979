package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Slack events that name a thread (a reply, a reaction on a root) can come
// before the bot knows the thread is one of its own: the root was posted,
// but the process died before recording it, and the answer must first be
// found again in Slack. Acknowledging such an event as "not ours" would lose
// it for good (Slack stops redelivering after minutes), so it is parked until
// the channel's unresolved roots are resolved.

// Park decides, in one transaction, what an event about thread ts of
// channel is: the conversation of a known thread (nothing parked); or
// parked (event is kept for the bot to look at again) when the thread is
// unknown while a root post of that channel is unresolved, or when events
// about the thread are parked already (a later event, such as the edit of
// a parked reply, must not overtake them); or neither (conv nil, parked
// false): not a thread of ours. Deciding in one transaction means no root
// can be recorded, nor a parked event replayed, between the lookups.
func (s *Store) Park(channel, ts string, event json.RawMessage) (conv *Conversation, parked bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if num := threadConv(tx, channel, ts); num != 0 {
			behind, err := parkedFor(tx, channel, ts)
			if err != nil {
				return err
			}
			if !behind {
				conv, err = getConv(tx, num)
				return err
			}
		} else if unresolved(tx, channel) == 0 {
			return nil
		}
		parked = true
		return enqueue(tx.Bucket(bParked), &Parked{Channel: channel, ThreadTS: ts, Event: event, At: s.now()})
	})
	if parked {
		kick(s.slackKick)
	}
	return conv, parked, err
}

// parkedFor reports whether events about thread ts of channel are parked.
func parkedFor(tx *bolt.Tx, channel, ts string) (bool, error) {
	c := tx.Bucket(bParked).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var p Parked
		if err := json.Unmarshal(v, &p); err != nil {
			return false, fmt.Errorf("parked event %d: %w", getU64(k), err)
		}
		if p.Channel == channel && p.ThreadTS == ts {
			return true, nil
		}
	}
	return false, nil
}

// AnyParked reports whether any event is parked: while none is, an event
// about a known thread needs no look at the parked ones.
func (s *Store) AnyParked() (any bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bParked).Cursor().First()
		any = k != nil
		return nil
	})
	return any, err
}

// ParkedAfter returns up to n parked events after seq, oldest first.
func (s *Store) ParkedAfter(seq uint64, n int) (ps []Parked, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ps, err = after[Parked](tx.Bucket(bParked), seq, n)
		return err
	})
	return ps, err
}

// Unpark forgets a parked event, once it was handled or found not ours.
func (s *Store) Unpark(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bParked).Get(u64(seq)) == nil {
			return fmt.Errorf("parked event %d: %w", seq, ErrNotFound)
		}
		return tx.Bucket(bParked).Delete(u64(seq))
	})
}
